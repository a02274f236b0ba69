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
off) is made private to the user (mode 0700) and used only when this user owns it, nobody else can
write to it and nobody else can replace it; JAX is given its real path. It has one subfolder per processor (the
CPU's instruction-set flags), which JAX's key leaves out. It is not pruned (JAX's size bound keeps
an access-time file per entry and fails every later write, with a warning, once one is missing):
about 50 MB holds every program of every registered law; delete it at any time. A cache folder the
user has configured for JAX already is left as it is.

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


def trusted_ancestors(real: str) -> bool:
    """True when nobody but this user (and root) can replace ``real`` (an absolute path without
    links): every folder above it is owned by this user or root and writable by no one else,
    unless sticky (as /tmp is)."""
    folder = os.path.dirname(real)
    while True:
        info = os.lstat(folder)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid not in (0, os.getuid()):
            return False
        if info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX:
            return False
        parent = os.path.dirname(folder)
        if parent == folder:
            return True
        folder = parent


def private_folder(path: str) -> str | None:
    """``path`` as a folder only this user can enter: its real absolute path (links and ``..``
    resolved as the kernel would), or None: do not use it.

    Missing folders are created with mode 0700. The folder is used only when it is a real folder
    (not a link) owned by this user, with no write access for group or others, in folders nobody
    else can write to (`trusted_ancestors`); one that others could write to is not used (and
    nothing in it is touched); one they can only read is closed to 0700."""
    try:
        real = os.path.realpath(os.path.expanduser(path))
        missing = []
        folder = real
        while not os.path.lexists(folder):
            missing.append(folder)
            folder = os.path.dirname(folder)
        for folder in reversed(missing):
            os.mkdir(folder, 0o700)
        if os.path.realpath(real) != real or not trusted_ancestors(real):
            return None
        info = os.lstat(real)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
            return None
        if stat.S_IMODE(info.st_mode) & 0o077:
            os.chmod(real, 0o700)
        return real
    except OSError:
        return None


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
    root = None if root is None else private_folder(root)
    folder = None if root is None else private_folder(os.path.join(root, machine_tag()))
    if folder is None:
        return None
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)  # every solver, however quick to compile
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


#: after a release, the next waits until the process holds this much more of its allowance (so
#: maps held elsewhere in the process, which a release cannot free, never make it release at every build)
RELEASE_GAIN = 0.25

compiled_since_look = 0  # programs XLA compiled since `release_programs_if_crowded` last looked
_floor = 0  # maps held just after the last release


def _count_compiles(event: str, duration: float, **kwargs) -> None:
    global compiled_since_look
    if event == "/jax/core/compile/backend_compile_duration":
        compiled_since_look += 1


jax.monitoring.register_event_duration_secs_listener(_count_compiles)


def release_programs_if_crowded() -> bool:
    """`release_programs` when the process holds more than `MAPS_SHARE` of its memory-map allowance
    (and `RELEASE_GAIN` of it more than just after the last release); True when it did. It looks
    (reads /proc/self/maps) only when XLA has compiled something since it last looked, so it is
    cheap to call before every fit."""
    global compiled_since_look, _floor
    if not compiled_since_look:
        return False
    compiled_since_look = 0
    allowance, held = max_map_count(), map_count()
    if allowance is None or held is None:
        return False
    if held <= min(max(MAPS_SHARE * allowance, _floor + RELEASE_GAIN * allowance), 0.9 * allowance):
        return False
    release_programs()
    _floor = map_count() or 0
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
