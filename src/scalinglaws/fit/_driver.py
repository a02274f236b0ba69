"""Run a batched iterative solver in chunks, dropping finished starts between chunks.

Under ``vmap`` a ``while_loop`` runs until its slowest lane stops, so one slow start would make
every start pay. The driver advances all lanes a few iterations at a time and keeps only the
unfinished ones for the next chunk, padded to a small set of batch sizes (powers of two) so the
number of compiled shapes stays bounded.

A solver is a pair of jitted, vmapped functions over a state dict with leading batch axis and the
keys ``u``, ``f``, ``it``, ``done``: ``init(u0, data)`` and ``advance(state, data, until)``, which
iterates each lane while ``not done and it < until``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ._newton import CONVERGED, FAILED, MAX_ITERATIONS

MIN_BUCKET = 8


def _bucket(n: int, full: int) -> int:
    if n > full // 2:
        return full
    return max(MIN_BUCKET, 1 << (n - 1).bit_length())


def run_batched(init, advance, u0, data, *, max_iter: int, chunk: int = 25):
    """Returns ``(u, f, status, iterations)`` as NumPy arrays, one row per start."""
    state = {k: np.array(v) for k, v in init(jnp.asarray(u0, dtype=jnp.float64), data).items()}
    full = len(state["u"])
    active = np.flatnonzero(~state["done"])
    until = 0
    while active.size and until < max_iter:
        until = min(until + chunk, max_iter)
        size = _bucket(active.size, full)
        idx = np.concatenate([active, np.full(size - active.size, active[0])])
        sub = advance({k: v[idx] for k, v in state.items()}, data, jnp.asarray(until))
        sub = jax.device_get(sub)
        for k in state:
            state[k][active] = sub[k][: active.size]
        active = active[~state["done"][active]]
    f = state["f"]
    status = np.where(~np.isfinite(f), FAILED, np.where(state["done"], CONVERGED, MAX_ITERATIONS))
    return state["u"], f, status, state["it"]
