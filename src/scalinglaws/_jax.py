"""The one place that configures JAX: float64 everywhere, and compiled programs kept on disk."""

from __future__ import annotations

import functools
import os
import sys

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
    loaded or run from its file is compiled as by ``jax.jit``; one that JAX itself served from its
    own persistent cache (if the user enabled it) is not stored, as it would be stored without its
    object code.
    """

    _digest: str | None = None

    def __init__(self, fn, key: str, store: bool = True, folder: str | None = None):
        self._fn = fn
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
        program = self._loaded.get(signature)
        if program is not None:
            return _run(program, leaves)
        path = self._path(signature)
        program = _read(path)
        if program is not None:
            try:
                out = _run(program, leaves)
            except Exception:  # a stored program that does not run here: compile it anew (a real error recurs there)
                program = None
            else:
                self._loaded[signature] = program
                return out
        program = self._loaded[signature] = self._compile(path, tree, leaves)
        return _run(program, leaves)

    def _cache_size(self) -> int:
        """Compiled programs held in memory (for tests of recompilation)."""
        return self._jit._cache_size() + len(self._loaded)

    def _path(self, signature) -> str:
        import hashlib

        if StoredJit._digest is None:
            StoredJit._digest = _source_digest()
        name = hashlib.sha256(repr((self._key, signature, _machine())).encode()).hexdigest()[:32]
        return os.path.join(self._folder, f"{StoredJit._digest}-{name}.xla")

    def _compile(self, path: str, tree, leaves):
        """Compile for the arguments ``tree`` of ``leaves`` and store the program at ``path`` (when it can be).

        The program takes and returns flat lists of arrays (its output tree is kept beside it), so a
        stored program names no class of this package: reading it ahead needs no import.
        """
        import pickle

        from jax.experimental import serialize_executable

        out_tree = []

        def flat(*leaves):
            out, treedef = jax.tree_util.tree_flatten(self._fn(*jax.tree_util.tree_unflatten(tree, leaves)))
            out_tree.append(treedef)
            return out

        hits = _jax_cache_hits[0]
        compiled = jax.jit(flat).lower(*leaves).compile()
        program = (compiled, out_tree[0])
        if _jax_cache_hits[0] != hits:  # served by JAX's persistent cache: it would serialise without its object code
            return program
        try:
            # LAPACK setup costs a SciPy import (~0.1 s): done only for programs that need it
            stored = pickle.dumps(("lapack_" in compiled.as_text(), serialize_executable.serialize(compiled), out_tree[0]))
        except Exception:  # not serialisable on this backend: run it, store nothing
            return program
        if _write(path, stored):
            _prune(self._folder)
        return program


def _run(program, leaves):
    """Call a program (compiled, output tree) on flat arguments; its output as the tree."""
    call, out_tree = program
    return jax.tree_util.tree_unflatten(out_tree, call(*leaves))


def _write(path: str, content: bytes) -> bool:
    """Write ``content`` to ``path`` whole or not at all (concurrent processes may write it too)."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(content)
        os.replace(tmp, path)
        return True
    except OSError:  # not writable
        if os.path.exists(tmp):
            os.remove(tmp)
        return False


STALE_DAYS = 7  # stored programs of other source versions are removed once this old


@functools.lru_cache(maxsize=None)  # once per folder and process: when it first stores a program
def _prune(folder: str) -> None:
    """Remove the programs other versions of the package stored in ``folder`` more than `STALE_DAYS`
    ago (another installed version may still use younger ones)."""
    import re
    import time

    ours = re.compile(r"[0-9a-f]{24}-[0-9a-f]{32}\.(xla|jaxexport)")
    cutoff = time.time() - STALE_DAYS * 86400
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        try:
            if (ours.fullmatch(entry.name) and not entry.name.startswith(StoredJit._digest or "-")
                    and entry.stat().st_mtime < cutoff):
                os.remove(entry.path)
        except OSError:
            pass


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


_used: list[str] = []  # stored programs this process has read, in order
_prefetched: dict = {}  # path -> Future of `_load`, for programs a background thread reads ahead


def _read(path: str):
    """The stored executable at ``path`` (read ahead if `prefetch` did), or None when it is missing,
    unreadable or can't be run here."""
    _used.append(path)
    ahead = _prefetched.pop(path, None)
    return ahead.result() if ahead is not None else _load(path)


def _load(path: str):
    import pickle

    from jax.experimental import serialize_executable

    try:
        with open(path, "rb") as f:
            calls_lapack, payload, out_tree = pickle.load(f)
        if calls_lapack and not _lapack_ready():
            return None
        return serialize_executable.deserialize_and_load(*payload), out_tree
    except Exception:
        return None


def _recent_list(context: str) -> str | None:
    """The file that lists the programs the last process in ``context`` read."""
    import hashlib

    folder = program_folder()
    return None if folder is None else os.path.join(folder, "recent", hashlib.sha256(context.encode()).hexdigest()[:24])


def console_command() -> str | None:
    """The command line when this process is the ``scalinglaws`` console script, else None."""
    return " ".join(sys.argv[1:]) if os.path.basename(sys.argv[0]) == "scalinglaws" else None


def prefetch(context: str) -> None:
    """Read ahead, in a background thread, the stored programs that the last process in ``context``
    (a command line) read, in the order it read them: XLA loads them with the GIL released, so a
    cold command's imports and first steps overlap its ~0.1-0.4 s of program loading. A program
    no longer stored, or not needed this time, costs only the background thread's time."""
    if not _can_store():
        return
    try:
        with open(_recent_list(context) or "") as f:
            paths = f.read().split()
    except OSError:
        return
    from concurrent.futures import ThreadPoolExecutor

    from jax.experimental import serialize_executable  # noqa: F401  (imported here: the reader would wait on the import lock)

    reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scalinglaws-prefetch")
    _prefetched.update({path: reader.submit(_load, path) for path in paths})
    reader.shutdown(wait=False)


def remember(context: str | None) -> None:
    """Record the stored programs this process read, for `prefetch` in the next one in ``context``
    (None: nothing to record)."""
    path = None if context is None else _recent_list(context)
    if path is None or not _used:
        return
    text = ("\n".join(dict.fromkeys(_used)) + "\n").encode()
    try:
        with open(path, "rb") as f:
            if f.read() == text:
                return
    except OSError:
        pass
    _write(path, text)


@functools.lru_cache(maxsize=None)
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
