"""The one place that configures JAX: float64 everywhere, a persistent compilation cache."""

from __future__ import annotations

import os

import jax

jax.config.update("jax_enable_x64", True)

_cache = os.environ.get("SCALINGLAWS_JAX_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "scalinglaws", "jax"))
if _cache and _cache != "0":
    try:
        os.makedirs(_cache, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", _cache)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    except OSError:  # a read-only home: compile in memory only
        pass


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
    """``jax.jit(fn)`` whose traced program is stored on disk between processes (`jax.export`).

    A cold process otherwise spends most of its time tracing the solvers in Python (the persistent
    compilation cache only skips the XLA compile that follows). Here the first process to call
    ``fn`` with given argument shapes exports the traced program to the cache folder; later
    processes load it and only compile it (a cache hit). ``key`` names ``fn`` uniquely within this
    package's source (law, free parameters, loss, ...); the file name also carries a digest of the
    source and the JAX version, so an edited package never runs a stale program. Laws defined outside
    the package are not stored (their code is not covered by the digest).
    """

    _digest: str | None = None

    def __init__(self, fn, key: str, store: bool = True, folder: str | None = None):
        self._jit = jax.jit(fn)
        self._key = key
        self._folder = os.path.join(_cache, "programs") if folder is None and _cache and _cache != "0" else folder
        self._store = store and self._folder is not None
        self._loaded: dict = {}

    def __call__(self, *args):
        if not self._store:
            return self._jit(*args)
        leaves, tree = jax.tree_util.tree_flatten(args)
        signature = (str(tree), tuple((jax.numpy.shape(v), str(jax.numpy.result_type(v)), _weak(v)) for v in leaves))
        call = self._loaded.get(signature)
        if call is None:
            call = self._loaded[signature] = self._load(signature, args)
        # on the device first, in one transfer (NumPy arguments would otherwise be staged one by one)
        return call(*jax.tree_util.tree_unflatten(tree, jax.device_put(leaves)))

    def _cache_size(self) -> int:
        """Compiled programs held in memory (as ``jax.jit``'s own, for tests of recompilation)."""
        return self._jit._cache_size() + sum(f._cache_size() for f in self._loaded.values())

    def _load(self, signature, args):
        import hashlib

        from jax import export

        if StoredJit._digest is None:
            StoredJit._digest = _source_digest()
        name = hashlib.sha256(repr((self._key, signature, jax.default_backend())).encode()).hexdigest()[:32]
        path = os.path.join(self._folder, f"{StoredJit._digest}-{name}.jaxexport")
        try:
            with open(path, "rb") as f:
                exported = export.deserialize(bytearray(f.read()))
        except (OSError, ValueError, ImportError):
            exported = export.export(self._jit)(*args)
            tmp = f"{path}.{os.getpid()}.tmp"
            try:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(tmp, "wb") as f:
                    f.write(exported.serialize())
                os.replace(tmp, path)
            except (OSError, ImportError):  # not writable, or no flatbuffers: run it, store nothing
                if os.path.exists(tmp):
                    os.remove(tmp)
        return jax.jit(exported.call)


def _weak(v) -> bool:
    return bool(getattr(v, "weak_type", False)) or isinstance(v, (int, float, bool))


__all__ = ["StoredJit", "jax"]
