"""The one place that configures JAX: float64 where the package computes, JAX's own persistent
compilation cache, and how many compiled programs a process keeps.

Float64 is scoped: the engine's entry points run under `float64` (``jax.enable_x64`` as a context),
so importing the package leaves the process's own JAX setting (float32 by default) as it is.

Compiled solvers are kept between processes by JAX's persistent compilation cache, whose key is a
digest of the lowered computation itself (with the jaxlib version, the backend and its version,
the XLA flags and the compile options), so a program is reused only by exactly the same
computation: a law with other bounds, another loss or another parameter set never meets a stale
program. Its entries are compiled XLA executables, read back by XLA (nothing is unpickled), and
an entry that cannot be read is compiled anew.

Importing the package leaves JAX's cache options alone; the command line turns the cache on
(`enable_compilation_cache`), and so may a program that uses the package. The folder
(``$SCALINGLAWS_JAX_CACHE``, default ``~/.cache/scalinglaws/jax``; ``0`` or empty turns the cache
off) is made private to the user (mode 0700) and used only when this user owns it and nobody else
can replace it; a folder of ours found open is emptied. It has one subfolder per processor (the
CPU's instruction-set flags), which JAX's key leaves out, and holds at most `CACHE_BYTES`. A cache
folder the user has configured for JAX already is left as it is.

Compiled programs kept in memory are bounded twice: each kind by its own least-recently-used cache
(`program_cache`), and all of them together by the process's memory maps. XLA's CPU backend maps
the code of each kernel separately (a fit's four programs take ~600 maps, a Huber likelihood fit's
~1,700); Linux allows a process ``vm.max_map_count`` of them (65,530 by default) and past that XLA
crashes the process (a segfault in compilation, an abort in serialisation). So before a new program
is built, when the process holds more than half its allowance, every cached program is let go (they
are compiled again when next needed).
"""

from __future__ import annotations

import functools
import gc
import hashlib
import os
import platform
import shutil
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


def trusted_ancestors(path: str) -> bool:
    """True when nobody but this user (and root) can replace ``path``: every folder above it is
    owned by this user or root and writable by no one else, unless sticky (as /tmp is)."""
    folder = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    while True:
        info = os.stat(folder)
        if info.st_uid not in (0, os.getuid()):
            return False
        if info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX:
            return False
        parent = os.path.dirname(folder)
        if parent == folder:
            return True
        folder = parent


def _empty(folder: str) -> None:
    for entry in os.scandir(folder):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)
        else:
            os.unlink(entry.path)


def private_folder(path: str) -> bool:
    """Make ``path`` (and any parent it creates) a folder only this user can enter; True when it is
    one: a real folder (not a link), owned by this user, with no access for group or others, in
    folders nobody else can write to (`trusted_ancestors`). A folder of ours that is more open is
    closed to mode 0700 and emptied: what others could have written there is not trusted. False
    means: do not use it."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        if not trusted_ancestors(path):
            return False
        info = os.lstat(path)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            return False
        if stat.S_IMODE(info.st_mode) & 0o077:
            os.chmod(path, 0o700)
            _empty(path)
        return stat.S_IMODE(os.lstat(path).st_mode) & 0o077 == 0
    except OSError:
        return False


#: the most the cache folder holds; the least recently used programs go first
CACHE_BYTES = 1 << 30


def enable_compilation_cache() -> str | None:
    """Keep compiled programs between processes: point JAX's persistent compilation cache at our
    private folder (``$SCALINGLAWS_JAX_CACHE``); the folder in use, or None (turned off, or the
    folder is not private). The command line does this at start. A program using the package may
    call it too; it sets JAX's cache options for the whole process (a cache folder already
    configured for JAX is left as it is, and used)."""
    configured = jax.config.jax_compilation_cache_dir
    if configured:
        return configured
    root = cache_root()
    if root is None or not private_folder(root):
        return None
    folder = os.path.join(root, machine_tag())
    if not private_folder(folder):
        return None
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)  # every solver, however quick to compile
    jax.config.update("jax_compilation_cache_max_size", CACHE_BYTES)
    return folder


#: programs kept in memory per kind (each spec has a few; the least recently used go first)
PROGRAMS_IN_MEMORY = 64

#: the fraction of the process's memory-map allowance past which cached programs are let go
MAPS_SHARE = 0.5

_PROGRAM_CACHES: list = []


def padded_size(n: int) -> int:
    """The size ``n`` values are padded to before a compiled call: 16, then four sizes per octave
    (..., 128, 160, 192, 224, 256, ...), so that calls of nearby sizes (backtest folds, groups of a
    table, prediction points) share one program and a process holds few of them."""
    if n <= 16:
        return 16
    octave = 1 << (int(n - 1).bit_length() - 1)
    step = octave // 4
    return octave + -(-(n - octave) // step) * step


@functools.lru_cache(maxsize=None)
def max_map_count() -> int | None:
    """Linux's per-process allowance of memory maps; None where there is none to read."""
    try:
        with open("/proc/sys/vm/max_map_count") as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def map_count() -> int | None:
    """How many memory maps this process holds (Linux), or None."""
    try:
        with open("/proc/self/maps", "rb") as f:
            return f.read().count(b"\n")
    except OSError:
        return None


def release_programs() -> None:
    """Let go of every compiled program the package keeps in memory."""
    for cache in _PROGRAM_CACHES:
        cache.cache_clear()
    gc.collect()  # a jitted function in a reference cycle holds its executables until collected


def release_programs_if_crowded() -> bool:
    """`release_programs` when the process holds more than `MAPS_SHARE` of its memory-map
    allowance; True when it did."""
    allowance, held = max_map_count(), map_count()
    if allowance is None or held is None or held <= MAPS_SHARE * allowance:
        return False
    release_programs()
    return True


def program_cache(build):
    """Keep what ``build(...)`` returns (jitted functions) for the `PROGRAMS_IN_MEMORY` most
    recently used arguments; before building a new one, make room if the process is crowded."""

    @functools.lru_cache(maxsize=PROGRAMS_IN_MEMORY)
    @functools.wraps(build)
    def cached(*args, **kwargs):
        release_programs_if_crowded()
        return build(*args, **kwargs)

    _PROGRAM_CACHES.append(cached)
    return cached

__all__ = ["PROGRAMS_IN_MEMORY", "cache_root", "enable_compilation_cache", "float64", "jax", "machine_tag",
           "map_count", "padded_size", "private_folder", "program_cache", "release_programs", "release_programs_if_crowded"]
