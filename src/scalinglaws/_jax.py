"""The one place that configures JAX: float64 where the package computes, and JAX's own
persistent compilation cache.

Float64 is scoped: the engine's entry points run under `float64` (``jax.enable_x64`` as a context),
so importing the package leaves the process's own JAX setting (float32 by default) as it is.

Compiled solvers are kept between processes by JAX's persistent compilation cache, whose key is a
digest of the lowered computation itself (with the jaxlib version, the backend and its version,
the XLA flags and the compile options), so a program is reused only by exactly the same
computation: a law with other bounds, another loss or another parameter set never meets a stale
program. Its entries are compiled XLA executables, read back by XLA (nothing is unpickled), and
an entry that cannot be read is compiled anew.

The folder (``$SCALINGLAWS_JAX_CACHE``, default ``~/.cache/scalinglaws/jax``; ``0`` or empty turns
the cache off) is made private to the user (mode 0700) and used only when this user owns it; it
has one subfolder per processor (the CPU's instruction-set flags), which JAX's key leaves out. A
cache folder the user has configured for JAX already is left as it is.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import stat

import jax



def float64(fn):
    """Run ``fn`` with JAX in float64 (the caller's setting is restored after)."""

    @functools.wraps(fn)
    def scoped(*args, **kwargs):
        with jax.enable_x64(True):
            return fn(*args, **kwargs)

    return scoped


DEFAULT_FOLDER = os.path.join(os.path.expanduser("~"), ".cache", "scalinglaws", "jax")


def cache_root() -> str | None:
    """``$SCALINGLAWS_JAX_CACHE`` (default `DEFAULT_FOLDER`); None when set to ``0`` or empty."""
    folder = os.environ.get("SCALINGLAWS_JAX_CACHE", DEFAULT_FOLDER)
    return None if folder in ("", "0") else folder


@functools.lru_cache(maxsize=None)
def machine_tag() -> str:
    """What JAX's cache key leaves out of a CPU executable: the processor's instruction set."""
    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith(("flags", "Features"))), "")
    except OSError:
        pass
    return hashlib.sha256(repr((platform.system(), platform.machine(), flags)).encode()
                          ).hexdigest()[:16]


def private_folder(path: str) -> bool:
    """Make ``path`` (and any parent it creates) a folder only this user can enter; True when it is
    one: a real folder (not a link), owned by this user, with no access for group or others (a
    folder of ours that is more open is closed to mode 0700). False means: do not use it."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.lstat(path)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            return False
        if stat.S_IMODE(info.st_mode) & 0o077:
            os.chmod(path, 0o700)
        return stat.S_IMODE(os.lstat(path).st_mode) & 0o077 == 0
    except OSError:
        return False


def enable_compilation_cache() -> str | None:
    """Point JAX's persistent compilation cache at our private folder; the folder in use, or None."""
    configured = jax.config.jax_compilation_cache_dir
    if configured:  # the user's own choice stands
        return configured
    root = cache_root()
    if root is None or not private_folder(root):
        return None
    folder = os.path.join(root, machine_tag())
    if not private_folder(folder):
        return None
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)  # every solver, however quick to compile
    return folder


CACHE_FOLDER = enable_compilation_cache()

__all__ = ["CACHE_FOLDER", "cache_root", "enable_compilation_cache", "float64", "jax", "machine_tag", "private_folder"]
