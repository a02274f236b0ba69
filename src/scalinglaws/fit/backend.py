"""Where grouped work runs: in this process (``local``, the default) or as Ray tasks (``ray``).

Grouped work is a list of independent tasks: the groups of ``fit --by`` (chunks of groups for the
batched solve, one group each when every group needs its own bootstrap or law selection) and the
chunks of a bootstrap's replicate refits. `map_tasks` runs them in order here, or with a Ray
backend in use (`use_backend`) as Ray tasks on a cluster (``address``) or on a local Ray started
for the block and stopped after it. Each task computes exactly what it would here (its lanes are
independent of the lanes beside them), so the results are the same; Ray only moves the work.

Tasks run with JAX in float64 and, when this process keeps compiled programs in JAX's persistent
cache (the command line does), with the same cache folder: a worker compiles a program once per
machine, not once per task. Ray is the optional extra ``ray``.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from contextvars import ContextVar
from typing import Callable, Iterator, Sequence

import jax

from .._jax import float64
from ..errors import InputError, MissingExtraError

BACKENDS = ("local", "ray")
#: tasks per CPU of the cluster a list of work is split into (a few each, so a slow one does not idle the rest)
TASKS_PER_CPU = 2

_ray: ContextVar = ContextVar("scalinglaws_ray", default=None)


def _import_ray():
    try:
        import ray
    except ImportError:
        raise MissingExtraError("--backend ray needs Ray: pip install 'scalinglaws[ray]'") from None
    return ray


@contextlib.contextmanager
def use_backend(name: str = "local", *, address: str | None = None, num_cpus: int | None = None):
    """Run the grouped work inside this block on backend ``name``. With ``ray``: connect to the
    cluster at ``address`` (``"auto"``: the one this machine belongs to; a ``ray://host:10001``
    client address), or, without one, start a local Ray of ``num_cpus`` CPUs (default: all) for
    the block and stop it after. A Ray already started in this process is used as it is."""
    if name not in BACKENDS:
        raise InputError(f"--backend must be one of {', '.join(BACKENDS)}; got {name!r}")
    if name == "local":
        if address is not None or num_cpus is not None:
            raise InputError("--ray-address and --ray-cpus go with --backend ray")
        yield
        return
    if num_cpus is not None and not (isinstance(num_cpus, int) and num_cpus >= 1):
        raise InputError(f"--ray-cpus must be a positive integer; got {num_cpus!r}")
    ray = _import_ray()
    started = not ray.is_initialized()
    if started:
        try:
            with warnings.catch_warnings():  # Ray starts its processes by fork; it does not touch JAX in this one
                warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)
                ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False,
                         log_to_driver=False, configure_logging=False)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise InputError(f"--backend ray could not {'reach ' + repr(address) if address else 'start Ray'}: "
                             f"{' '.join(str(exc).split())}") from None
    token = _ray.set(ray)
    try:
        yield
    finally:
        _ray.reset(token)
        if started:
            ray.shutdown()


def remote() -> bool:
    """Whether a Ray backend is in use."""
    return _ray.get() is not None


def task_count(n: int, smallest: int = 1) -> int:
    """How many tasks ``n`` items are split into: one here; on Ray a few per CPU of the cluster,
    each of at least ``smallest`` items."""
    ray = _ray.get()
    if ray is None or n <= smallest:
        return 1
    cpus = int(ray.cluster_resources().get("CPU", 1))
    return max(1, min(TASKS_PER_CPU * cpus, n // smallest))


def split(n: int, parts: int) -> list[range]:
    """``range(n)`` cut into ``parts`` contiguous pieces of nearly equal size."""
    size = math.ceil(n / parts)
    return [range(a, min(a + size, n)) for a in range(0, n, size)]


def map_tasks(fn: Callable, items: Sequence) -> Iterator:
    """``fn(item)`` for each item, in order, here or as Ray tasks (all submitted at once, results
    yielded in order as they arrive). ``fn`` and the items travel to the workers by Ray's
    serialisation; a task's error is raised here as the original exception."""
    ray = _ray.get()
    if ray is None:
        for item in items:
            yield fn(item)
        return
    task = ray.remote(_in_worker)
    cache = jax.config.jax_compilation_cache_dir
    refs = [task.remote(fn, item, cache) for item in items]
    for ref in refs:
        try:
            yield ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause if getattr(exc, "cause", None) is not None else exc
            raise cause from None


def _in_worker(fn: Callable, item, cache: str | None):
    if cache and not jax.config.jax_compilation_cache_dir:
        jax.config.update("jax_compilation_cache_dir", cache)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    return float64(fn)(item)


__all__ = ["BACKENDS", "map_tasks", "remote", "split", "task_count", "use_backend"]
