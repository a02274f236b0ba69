"""Run a batched iterative solver through a fixed-width window of lanes, refilled as starts finish.

Under ``vmap`` a ``while_loop`` runs until its slowest lane stops, so one slow start would make
every start pay. The driver therefore advances a window of at most ``WINDOW`` lanes a few
iterations at a time; each lane that finishes hands its slot to the next waiting start. A
thousand bootstrap replicates then cost about the sum of their own iterations, not a thousand
times the slowest one, and every batch has one of a few shapes (``WINDOW`` or, for fewer starts, a
power of two), so few programs are compiled (each costs tracing and compilation on a cold start)
and the same ones serve fits of any number of starts.

Optionally the driver prunes: at given evaluation counts it keeps only the starts whose objective
ranks among the best ``keep`` and marks the rest ``discarded`` (successive halving, as in
hyperparameter search: starts that are far behind after a few steps are the hopeless ones). Up to
a pruning point every start runs the same few evaluations, so nothing is gained by refilling and
the batches are wider (up to ``LOCKSTEP_WINDOW`` lanes: fewer, larger calls).

A solver is a pair of jitted, vmapped functions over a state dict with leading batch axis and the
keys ``u``, ``f``, ``it``, ``done`` (and optionally ``converged``, for a solver that can stop short
of convergence): ``init(u0, data)`` and ``advance(state, data, until)``, which iterates lane ``i``
while ``not done and it < until[i]``.
"""

from __future__ import annotations

import jax
import numpy as np

from .._progress import lanes_finished
from ._newton import CONVERGED, DISCARDED, FAILED, MAX_ITERATIONS
from ._problem import take_lanes

WINDOW = 64  # lanes per batch: per lane-iteration the fastest width on a CPU core (16-128 tried), few idle lanes
LOCKSTEP_WINDOW = 1024  # lanes per batch up to a pruning point
DEVICE_WINDOW = 1 << 16  # lanes per batch on an accelerator (GPU, TPU), which only wide batches keep busy


def window_size(n: int, cap: int | None = None) -> int:
    """The batch width for ``n`` lanes: ``cap`` (default `WINDOW`, or `DEVICE_WINDOW` on an
    accelerator), or the power of two that holds fewer."""
    if jax.default_backend() != "cpu":
        cap = DEVICE_WINDOW  # the widest batches, lock-step or refilled
    elif cap is None:
        cap = WINDOW
    return min(cap, 1 << max(0, int(n) - 1).bit_length())


def run_batched(init, advance, u0, data, *, max_iter: int, chunk: int = 25, prune: tuple = (), per_lane=False,
                width: int | None = None):
    """Returns ``(u, f, status, iterations)`` as NumPy arrays, one row per start.

    ``width``: the batch width (default `window_size` of the number of starts).
    ``chunk``: iterations a lane runs before the driver looks at it again.
    ``prune``: ``((evaluations, keep), ...)``: after that many evaluations keep the ``keep`` best.
    ``per_lane``: ``data`` carries one row of targets and weights per start (see `take_lanes`).
    """
    u0 = np.asarray(u0, dtype=np.float64)
    n = len(u0)
    width = window_size(n) if width is None else width

    def batch(lanes, live):
        idx = np.where(live, lanes, lanes[live][0])  # empty slots repeat a live lane
        return idx, (take_lanes(data, idx) if per_lane else data)

    state = None
    first = window_size(n, LOCKSTEP_WINDOW) if prune else width
    for start in range(0, n, first):  # initialise in windows too: the shape of the first advance
        lanes = np.arange(start, start + first)
        live = lanes < n
        idx, sub_data = batch(lanes, live)
        sub = jax.device_get(init(u0[idx], sub_data))
        if state is None:
            state = {k: np.zeros((n,) + np.shape(v)[1:], dtype=np.asarray(v).dtype) for k, v in sub.items()}
        for k in state:
            state[k][lanes[live]] = sub[k][live]

    def run(active, final, width=width):
        """Advance ``active`` lanes through a window, refilling slots, until each stops or reaches ``final``."""
        queue = list(active[::-1])
        slots = np.full(width, -1)
        while True:
            for s in np.flatnonzero(slots < 0):
                if not queue:
                    break
                slots[s] = queue.pop()
            live = slots >= 0
            if not live.any():
                return
            idx, sub_data = batch(slots, live)
            sub = {k: v[idx] for k, v in state.items()}
            sub["done"] = sub["done"] | ~live
            until = np.minimum(sub["it"] + chunk, final)
            sub = jax.device_get(advance(sub, sub_data, until))
            for k in state:
                state[k][slots[live]] = sub[k][live]
            lanes_finished(int(np.sum(live & (sub["done"] | (sub["it"] >= max_iter)))))
            slots[live & (sub["done"] | (sub["it"] >= final))] = -1

    discarded = np.zeros(n, dtype=bool)
    active = np.flatnonzero(~state["done"])
    lanes_finished(n - active.size)
    for evaluations, keep in sorted(prune):
        if evaluations >= max_iter or not active.size:
            break
        # every active lane up to this many evaluations (or its own stop)
        run(active, evaluations, window_size(active.size, LOCKSTEP_WINDOW))
        active = active[~state["done"][active]]
        f_all = np.where(np.isfinite(state["f"]), state["f"], np.inf)
        rank = np.argsort(np.argsort(f_all, kind="stable"), kind="stable")
        discarded[active[rank[active] >= keep]] = True
        active = active[rank[active] < keep]
    run(active, max_iter)
    f = state["f"]
    converged = state["done"] & state.get("converged", True)  # a solver may stop without converging (stalled)
    status = np.where(~np.isfinite(f), FAILED, np.where(converged, CONVERGED, MAX_ITERATIONS))
    status = np.where(discarded, DISCARDED, status)
    return state["u"], f, status, state["it"]
