"""Run a batched iterative solver in chunks, dropping finished starts between chunks.

Under ``vmap`` a ``while_loop`` runs until its slowest lane stops, so one slow start would make
every start pay. The driver advances all lanes a few iterations at a time and keeps only the
unfinished ones for the next chunk, padded to the full batch or a power of two of at least 64, so
few shapes are compiled (each costs tracing and compilation on a cold start).

Optionally the driver prunes: at given evaluation counts it keeps only the starts whose objective
ranks among the best ``keep`` and marks the rest ``discarded`` (successive halving, as in
hyperparameter search: starts that are far behind after a few steps are the hopeless ones).

A solver is a pair of jitted, vmapped functions over a state dict with leading batch axis and the
keys ``u``, ``f``, ``it``, ``done`` (and optionally ``converged``, for a solver that can stop short
of convergence): ``init(u0, data)`` and ``advance(state, data, until)``, which iterates each lane
while ``not done and it < until``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ._newton import CONVERGED, DISCARDED, FAILED, MAX_ITERATIONS
from ._problem import take_lanes

MIN_BUCKET = 64


def _bucket(n: int, full: int) -> int:
    """The batch size that holds ``n`` of ``full`` lanes."""
    size = max(MIN_BUCKET, 1 << (n - 1).bit_length())
    return full if size * 2 > full else size


def run_batched(init, advance, u0, data, *, max_iter: int, chunk: int = 25, prune: tuple = (), per_lane=False):
    """Returns ``(u, f, status, iterations)`` as NumPy arrays, one row per start.

    ``prune``: ``((evaluations, keep), ...)``: after that many evaluations keep the ``keep`` best.
    ``per_lane``: ``data`` carries one row of targets and weights per start (see `take_lanes`).
    """
    state = {k: np.array(v) for k, v in init(jnp.asarray(u0, dtype=jnp.float64), data).items()}
    full = len(state["u"])
    discarded = np.zeros(full, dtype=bool)
    active = np.flatnonzero(~state["done"])
    cuts = dict(prune)
    stops = sorted(set(range(chunk, max_iter, chunk)) | {max_iter} | {k for k in cuts if k < max_iter})
    for until in stops:
        if not active.size:
            break
        size = _bucket(active.size, full)
        idx = np.concatenate([active, np.full(size - active.size, active[0])])
        sub_data = take_lanes(data, idx) if per_lane else data
        sub = advance({k: v[idx] for k, v in state.items()}, sub_data, jnp.asarray(until))
        sub = jax.device_get(sub)
        for k in state:
            state[k][active] = sub[k][: active.size]
        active = active[~state["done"][active]]
        if until in cuts and active.size:
            f_all = np.where(np.isfinite(state["f"]), state["f"], np.inf)
            rank = np.argsort(np.argsort(f_all, kind="stable"), kind="stable")
            drop = active[rank[active] >= cuts[until]]
            discarded[drop] = True
            active = active[rank[active] < cuts[until]]
    f = state["f"]
    converged = state["done"] & state.get("converged", True)  # a solver may stop without converging (stalled)
    status = np.where(~np.isfinite(f), FAILED, np.where(converged, CONVERGED, MAX_ITERATIONS))
    status = np.where(discarded, DISCARDED, status)
    return state["u"], f, status, state["it"]
