"""The one place that configures JAX: float64 everywhere, and compiled programs kept on disk."""

from __future__ import annotations

import functools
import os

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)

_cache = os.environ.get("SCALINGLAWS_JAX_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "scalinglaws", "jax"))


def program_folder() -> str | None:
    """Where `StoredJit` keeps compiled programs: ``$SCALINGLAWS_JAX_CACHE/programs`` (default
    ``~/.cache/scalinglaws/jax``; ``0`` or empty: nowhere, every process compiles)."""
    return os.path.join(_cache, "programs") if _cache and _cache != "0" else None

_jax_cache_hits = [0]  # compilations JAX served from its own persistent cache (when a user has enabled it)


def _count_cache_hit(event: str, **_) -> None:
    if event == "/jax/compilation_cache/cache_hits":
        _jax_cache_hits[0] += 1


jax.monitoring.register_event_listener(_count_cache_hit)


def _source_digest() -> str:
    """A digest of the package's source: stored programs are reused only by the code that made them."""
    import hashlib
    from pathlib import Path

    h = hashlib.sha256(jax.__version__.encode())
    root = Path(__file__).parent
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:24]


class StoredJit:
    """``jax.jit(fn)`` whose compiled program is stored on disk between processes.

    A cold process otherwise spends most of its time tracing the solvers in Python and lowering
    them to XLA (JAX's persistent compilation cache skips only the XLA compile that follows, and
    needs the lowered program to compute its key). Here the first process to call ``fn`` with given
    argument shapes compiles it and stores the executable; later processes load it and call it
    directly. ``key`` names ``fn`` uniquely within this package's source (law, free parameters,
    loss, ...); the file name also carries a digest of the source, the JAX version and the machine
    (backend, device and CPU features), so an edited package or another machine never runs a stale
    program. Laws defined outside the package are not stored (their code is not covered by the
    digest). Programs are stored on a CPU only (see `_can_store`). A program that cannot be stored,
    loaded or run from its file is compiled as by ``jax.jit``; one that JAX itself served from its own persistent cache (if the user enabled it)
    is not stored, as it would be stored without its object code.
    """

    _digest: str | None = None

    def __init__(self, fn, key: str, store: bool = True, folder: str | None = None):
        self._jit = jax.jit(fn)
        self._key = key
        self._folder = program_folder() if folder is None else folder
        self._store = store and self._folder is not None
        self._loaded: dict = {}

    def __call__(self, *args):
        if not (self._store and _can_store()):
            return self._jit(*args)
        leaves, tree = jax.tree_util.tree_flatten(args)
        signature = (tree, tuple((np.shape(v), np.result_type(v).str, _weak(v)) for v in leaves))
        call = self._loaded.get(signature)
        if call is not None:
            return call(*args)
        path = self._path(signature)
        call = _read(path)
        if call is not None:
            try:
                out = call(*args)
            except Exception:  # a stored program that does not run here: compile it anew (a real error recurs there)
                call = None
            else:
                self._loaded[signature] = call
                return out
        call = self._loaded[signature] = self._compile(path, args)
        return call(*args)

    def _cache_size(self) -> int:
        """Compiled programs held in memory (for tests of recompilation)."""
        return self._jit._cache_size() + len(self._loaded)

    def _path(self, signature) -> str:
        import hashlib

        if StoredJit._digest is None:
            StoredJit._digest = _source_digest()
        name = hashlib.sha256(repr((self._key, signature, _machine())).encode()).hexdigest()[:32]
        return os.path.join(self._folder, f"{StoredJit._digest}-{name}.xla")

    def _compile(self, path: str, args):
        """Compile for ``args`` and store the executable at ``path`` (when it can be)."""
        import pickle

        from jax.experimental import serialize_executable

        hits = _jax_cache_hits[0]
        compiled = self._jit.lower(*args).compile()
        if _jax_cache_hits[0] != hits:  # served by JAX's persistent cache: it would serialise without its object code
            return compiled
        tmp = f"{path}.{os.getpid()}.tmp"
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(tmp, "wb") as f:
                # LAPACK setup costs a SciPy import (~0.1 s): done only for programs that need it
                pickle.dump(("lapack_" in compiled.as_text(), serialize_executable.serialize(compiled)), f)
            os.replace(tmp, path)
        except Exception:  # not writable, or not serialisable on this backend: run it, store nothing
            if os.path.exists(tmp):
                os.remove(tmp)
        return compiled


@functools.lru_cache(maxsize=None)
def _can_store() -> bool:
    """Programs are stored on a CPU; other backends compile in memory."""
    return jax.default_backend() == "cpu"


@functools.lru_cache(maxsize=None)
def _lapack_ready() -> bool:
    """Set up JAX's LAPACK kernels. JAX does that when it first lowers a linear-algebra call, so a
    process that only loads a stored program calling them must do it first (or crash)."""
    try:
        from jax._src.lib import lapack

        lapack._lapack.initialize()
    except Exception:
        return False
    return True


def _read(path: str):
    """The stored executable at ``path``, or None when it is missing, unreadable or can't be run here."""
    import pickle

    from jax.experimental import serialize_executable

    try:
        with open(path, "rb") as f:
            calls_lapack, payload = pickle.load(f)
        if calls_lapack and not _lapack_ready():
            return None
        return serialize_executable.deserialize_and_load(*payload)
    except Exception:
        return None


def _machine() -> tuple:
    """What a stored executable was compiled for: backend, device and (on a CPU) the instruction set."""
    device = jax.devices()[0]
    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith(("flags", "Features"))), "")
    except OSError:
        pass
    return (jax.__version__, device.platform, device.device_kind, device.client.platform_version, flags,
            os.environ.get("XLA_FLAGS", ""))


def _weak(v) -> bool:
    return bool(getattr(v, "weak_type", False)) or isinstance(v, (int, float, bool))


__all__ = ["StoredJit", "jax"]
