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
from ..errors import InputError, MissingExtraError, ScalingLawsError

BACKENDS = ("local", "ray")
#: tasks per CPU of the cluster a list of work is split into (a few each, so a slow one does not idle the rest)
TASKS_PER_CPU = 2

_ray: ContextVar = ContextVar("scalinglaws_ray", default=None)


class BackendError(ScalingLawsError, RuntimeError):
    """Work handed to Ray did not come back (a worker died, a node was lost)."""


def _import_ray():
    try:
        import ray
    except ImportError:
        raise MissingExtraError("--backend ray needs Ray: pip install 'scalinglaws[ray]'") from None
    return ray


class _Cluster:
    """A Ray backend in use: started (or joined) when the first work is handed to it."""

    def __init__(self, address: str | None, num_cpus: int | None):
        self.address, self.num_cpus, self.ray, self.started = address, num_cpus, None, False

    def ready(self):
        if self.ray is not None:
            return self.ray
        ray = _import_ray()
        if not ray.is_initialized():
            try:
                with warnings.catch_warnings():  # Ray forks its processes and warns in its client; JAX is untouched
                    warnings.simplefilter("ignore")
                    ray.init(address=self.address, num_cpus=None if self.address else self.num_cpus,
                             include_dashboard=False, log_to_driver=False, configure_logging=False)
            except Exception as exc:  # Ray raises many kinds (connection, value, runtime, timeout)
                where = f"reach {self.address!r}" if self.address else "start a local Ray"
                raise InputError(f"--backend ray could not {where}: {' '.join(str(exc).split())}") from None
            self.started = True
        self.ray = ray
        return ray


@contextlib.contextmanager
def use_backend(name: str = "local", *, address: str | None = None, num_cpus: int | None = None):
    """Run the grouped work inside this block on backend ``name``. With ``ray``: connect to the
    cluster at ``address`` (``"auto"``: the one this machine belongs to; a ``ray://host:10001``
    client address), or, without one, start a local Ray of ``num_cpus`` CPUs (default: all; or
    join the cluster in ``RAY_ADDRESS``, as Ray does) when the first work is handed to it, and stop
    it after the block. A Ray already started in this process is used as it is. Tasks and their
    results travel to and from the cluster serialised by Ray (pickles): use a cluster you trust."""
    if name not in BACKENDS:
        raise InputError(f"--backend must be one of {', '.join(BACKENDS)}; got {name!r}")
    if name == "local":
        if address is not None or num_cpus is not None:
            raise InputError("--ray-address and --ray-cpus go with --backend ray")
        yield
        return
    if num_cpus is not None and not (isinstance(num_cpus, int) and not isinstance(num_cpus, bool) and num_cpus >= 1):
        raise InputError(f"--ray-cpus must be a positive integer; got {num_cpus!r}")
    if num_cpus is not None and address is not None:
        raise InputError("--ray-cpus sizes a local Ray; a cluster (--ray-address) uses its own CPUs")
    _import_ray()
    cluster = _Cluster(address, num_cpus)
    token = _ray.set(cluster)
    try:
        yield
    finally:
        _ray.reset(token)
        if cluster.started:
            cluster.ray.shutdown()


def remote() -> bool:
    """Whether a Ray backend is in use."""
    return _ray.get() is not None


def task_count(n: int, smallest: int = 1) -> int:
    """How many tasks ``n`` items are split into: one here; on Ray a few per CPU of the cluster,
    each of at least ``smallest`` items."""
    cluster = _ray.get()
    if cluster is None or n <= smallest:
        return 1
    cpus = int(cluster.ready().cluster_resources().get("CPU", 1))
    return max(1, min(TASKS_PER_CPU * cpus, n // smallest))


def split(n: int, parts: int) -> list[range]:
    """``range(n)`` cut into ``parts`` contiguous pieces of nearly equal size."""
    size = max(1, math.ceil(n / parts))
    return [range(a, min(a + size, n)) for a in range(0, n, size)]


def map_tasks(fn: Callable, items: Sequence) -> Iterator:
    """``fn(item)`` for each item, in order, here or as Ray tasks (all submitted at once, results
    yielded in order as they arrive). ``fn`` and the items travel to the workers by Ray's
    serialisation; a task's error is raised here as the original exception."""
    cluster = _ray.get()
    if cluster is None or (len(items) <= 1 and cluster.address is None):  # one task: here, unless a cluster was named
        for item in items:
            yield fn(item)
        return
    ray = cluster.ready()
    task = ray.remote(max_retries=0)(_in_worker)
    cache = jax.config.jax_compilation_cache_dir
    refs = [task.remote(fn, item, cache) for item in items]
    for ref in refs:
        try:
            yield ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, Exception):
                raise cause from None
            raise BackendError(f"a Ray task failed: {' '.join(str(exc).split())[:500]}") from None
        except ray.exceptions.RayError as exc:  # a worker that died, a lost node, an object lost
            raise BackendError(f"a Ray task failed ({type(exc).__name__}): "
                               f"{' '.join(str(exc).split())[:500]}") from None


def _in_worker(fn: Callable, item, cache: str | None):
    if cache and not jax.config.jax_compilation_cache_dir:
        jax.config.update("jax_compilation_cache_dir", cache)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    return float64(fn)(item)


__all__ = ["BACKENDS", "map_tasks", "remote", "split", "task_count", "use_backend"]
