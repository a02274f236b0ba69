"""Fitting methods. A method solves one problem under one or several weightings of its points
(``weights``, one row each: the full fit and nested folds) and returns one `Solved` per row: every
start's parameters, objective and status.

* ``varpro`` (default): variable projection screen over a grid of the nonlinear parameters,
  then the robust Newton polisher on the best candidates (all parameters free).
* ``hoffmann2022``: the published Approach-3 procedure (see ``_hoffmann.py``).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from ..errors import InputError
from ._newton import polish
from .._progress import lanes_finished
from .backend import map_tasks, remote, split, task_count
from ._problem import Data, Spec, free_values, inputs_per_lane, take_lanes, unconstrain
from ._varpro import compiled_screen, nonlinear_grid


class Solved(NamedTuple):
    theta: np.ndarray  # (B, len(spec.free)) parameter values
    objective: np.ndarray  # (B,)
    status: np.ndarray  # (B,) codes of _newton.STATUS_NAMES
    iterations: np.ndarray  # (B,)
    n_screened: int  # candidates looked at before the solver ran
    candidates: np.ndarray  # (K, p) other good starting points (parameter values), best first


def solve_varpro_each(spec: Spec, data: Data, weights: np.ndarray, *, starts: int = 256, polish_starts: int = 16,
                      rng=None, max_iter=300) -> list[Solved]:
    """The default method, for each row of ``weights``. Each row is screened on its own; then every
    row's starts are polished in one batched call (per-lane weights), which costs about what one
    fit's polish does while the batch has room (see `_driver.WINDOW`).

    ``data`` holds the inputs and targets every row shares, or one row of them per row of
    ``weights`` (`_problem.stack_rows`: the groups of a table, solved together)."""
    phi = nonlinear_grid(spec, starts, rng)
    weights = np.asarray(weights, dtype=np.float64)
    large = _runs_of(weights) > COARSE_RUNS
    if large.any() and not large.all():  # large rows take the subset, the others not: each as if alone
        kept = np.flatnonzero(large), np.flatnonzero(~large)
        solved = [s for k, coarse in zip(kept, (True, False))
                  for s in _solve_rows(spec, take_lanes(data, k) if inputs_per_lane(data) else data, weights[k], phi,
                                       polish_starts, max_iter, coarse)]
        return [solved[i] for i in np.argsort(np.concatenate(kept), kind="stable")]
    return _solve_rows(spec, data, weights, phi, polish_starts, max_iter, bool(large.all()))


def _solve_rows(spec: Spec, data: Data, weights: np.ndarray, phi: np.ndarray, polish_starts: int,
                max_iter: int, large: bool) -> list[Solved]:
    """`solve_varpro_each` on the grid ``phi``, for rows that are all ``large`` (more than
    `COARSE_RUNS` runs: the subset first) or all not."""
    cells = grid_cells(len(phi), len(spec.free_nonlinear))
    if inputs_per_lane(data):
        rows = data._replace(w=weights)
    else:
        shape = (len(weights), np.size(data.t_y))
        rows = data._replace(t_y=np.broadcast_to(data.t_y, shape), y=np.broadcast_to(data.y, shape), w=weights)
    coarse = _coarse(rows) if large else None
    picked = []
    for theta0, f0 in _screen_rows(spec, phi, rows if coarse is None else coarse):
        usable = np.isfinite(f0) & np.isfinite(theta0).all(axis=1)
        picked.append(theta0[distinct_candidates(cells, np.where(usable, f0, np.inf), max(1, polish_starts))])
    th = np.concatenate(picked)
    lanes = np.repeat(np.arange(len(weights)), [len(p) for p in picked])
    u0 = unconstrain(spec, {n: th[:, i] for i, n in enumerate(spec.free)})
    if coarse is not None:
        # every start is first polished on the subset; starts of one row that reach the same point
        # there (`SAME_POINT`) go on as one start: the polish on every run, and the count of starts
        # that agree at the best, take each such point once
        u1, f1, _, _ = polish(spec, u0, take_lanes(coarse, lanes), max_iter=max_iter)
        u0 = np.where((np.isfinite(f1) & np.isfinite(u1).all(axis=1))[:, None], u1, u0)
        first = _distinct_points(u0, lanes)
        u0, lanes = u0[first], lanes[first]
    u, f, status, it = polish(spec, u0, take_lanes(rows, lanes), max_iter=max_iter)
    theta = free_values(spec, u, data)
    return [Solved(theta[k], np.asarray(f)[k], np.asarray(status)[k], np.asarray(it)[k], len(phi), p)
            for k, p in ((lanes == i, p) for i, p in enumerate(picked))]


#: rows of per-row data screened in one call (the groups of a table)
SCREEN_ROWS = 64
#: runs beyond which the screen, and a first polish of every start, use an evenly spaced subset of
#: this many of them (a large table); the final polish, its status and objective use every run
COARSE_RUNS = 4096


#: two starts whose points on the subset differ by less than this (relative, in the unconstrained
#: parameters) have met there
SAME_POINT = 1e-6


def _distinct_points(u: np.ndarray, lanes: np.ndarray) -> np.ndarray:
    """Indices of the first of each set of lanes of one row whose points ``u`` agree to `SAME_POINT`."""
    keep = []
    for i in range(len(u)):
        if not any(lanes[j] == lanes[i] and np.all(np.abs(u[i] - u[j]) <= SAME_POINT * (1.0 + np.abs(u[j])))
                   for j in keep):
            keep.append(i)
    return np.array(keep, dtype=int)


def _runs_of(weights: np.ndarray) -> np.ndarray:
    """Per row of weights: one past its last run of positive weight (0 for a row without any)."""
    positive = np.asarray(weights) > 0
    return np.where(positive.any(axis=1), positive.shape[1] - np.argmax(positive[:, ::-1], axis=1), 0)


def _coarse(rows: Data) -> Data:
    """Per row, an evenly spaced subset (in table order) of `COARSE_RUNS` of its runs, up to its last
    one of positive weight (every row has more than that): each start of a large table is screened
    and polished there first, where an iteration costs a fraction of one on every run. Each row's
    subset depends on that row alone."""
    w = np.asarray(rows.w)
    n = _runs_of(w)
    keep = np.round(np.linspace(0.0, 1.0, COARSE_RUNS)[None, :] * (n[:, None] - 1)).astype(int)  # (rows, K)

    def take(v):
        return np.take_along_axis(np.broadcast_to(v, w.shape), keep, axis=1)

    return rows._replace(x={k: take(v) for k, v in rows.x.items()}, t_y=take(rows.t_y), y=take(rows.y),
                         w=take(rows.w))


def _screen_rows(spec: Spec, phi: np.ndarray, rows: Data):
    """Each row's screen on the grid ``phi``: ``(theta (G, p), objective (G,))`` per row, in order."""
    n = len(rows.w)
    if not inputs_per_lane(rows):  # shared inputs and targets: the rows differ in their weights only
        screen = compiled_screen(spec)
        for w in rows.w:
            yield tuple(np.asarray(v) for v in screen(phi, rows._replace(t_y=rows.t_y[0], y=rows.y[0], w=w)))
        return
    screen = compiled_screen(spec, True)
    width = min(SCREEN_ROWS, 1 << max(0, n - 1).bit_length())  # few shapes: few compiled programs
    for start in range(0, n, width):
        idx = np.minimum(np.arange(start, start + width), n - 1)  # the last chunk repeats the last row
        theta0, f0 = (np.asarray(v) for v in screen(phi, take_lanes(rows, idx)))
        yield from zip(theta0[: n - start], f0[: n - start])


def grid_cells(n: int, k: int) -> np.ndarray:
    """``(n, k)`` cell indices of the points of a ``k``-dimensional product grid of ``n`` points."""
    if k == 0:
        return np.zeros((n, 0), dtype=int)
    per_axis = round(n ** (1.0 / k))
    return np.stack(np.unravel_index(np.arange(n), (per_axis,) * k), axis=-1)


def distinct_candidates(cells: np.ndarray, f: np.ndarray, k: int) -> np.ndarray:
    """Up to ``k`` grid points to polish, best first, from separate neighbourhoods of the screen.

    A point is taken when no point already taken lies in a neighbouring cell (its index within 1
    along every axis; on a grid of fewer than 5 points per axis, in the same cell), so the
    polished starts are independent and `FitResult.n_at_best` measures how many of them agree.
    Places left over go to the next best points (unusable ones, with an infinite ``f``, last).
    """
    order = np.argsort(f, kind="stable")
    radius = 1 if cells.size and cells.max() >= 4 else 0
    near = np.zeros(len(f), dtype=bool)  # within the radius of a point taken
    taken: list[int] = []
    for i in order.tolist():
        if len(taken) == k:
            break
        if not near[i]:
            taken.append(i)
            near |= np.max(np.abs(cells - cells[i]), axis=-1, initial=0) <= radius
    chosen = set(taken)
    rest = [i for i in order.tolist() if i not in chosen]
    return np.array(taken + rest[: k - len(taken)], dtype=int)


def solve_replicates(spec: Spec, data: Data, starts: np.ndarray, w: np.ndarray, t_y: np.ndarray, *,
                     per_replicate: int = 1, max_iter: int = 300):
    """Polish lane ``i`` from ``starts[i]`` (parameter values) on targets ``t_y[i]`` (in the law's residual space) with weights ``w[i]``.

    Lanes come in consecutive groups of ``per_replicate`` (one replicate, several starts); returns
    ``(theta (R, p), objective (R,), status (R,))`` of each group's best lane. On a Ray backend
    (`backend.use_backend`) the replicates are solved in chunks as Ray tasks, with the same results.
    """
    n = len(starts) // per_replicate
    pieces = [slice(r.start * per_replicate, r.stop * per_replicate)
              for r in split(n, task_count(n, REPLICATES_PER_TASK))]
    solve = functools.partial(_solve_replicates, spec, data, per_replicate=per_replicate, max_iter=max_iter)
    parts = []
    for p, part in zip(pieces, map_tasks(solve, [(starts[p], np.asarray(w)[p], np.asarray(t_y)[p]) for p in pieces])):
        parts.append(part)
        if len(pieces) > 1 and remote():  # lanes finished in a Ray worker: counted here
            lanes_finished(p.stop - p.start)
    return tuple(np.concatenate(values) for values in zip(*parts))


#: bootstrap replicates a Ray task solves at least
REPLICATES_PER_TASK = 256


def _solve_replicates(spec: Spec, data: Data, lanes, *, per_replicate: int, max_iter: int):
    starts, w, t_y = lanes
    u0 = unconstrain(spec, {n: starts[:, i] for i, n in enumerate(spec.free)})
    t_y = np.asarray(t_y, dtype=np.float64)
    lanes = data._replace(t_y=t_y, y=spec.law.from_space(t_y), w=np.asarray(w, dtype=np.float64))
    u, f, status, _ = polish(spec, u0, lanes, max_iter=max_iter)
    f = np.where(np.isfinite(f), f, np.inf).reshape(-1, per_replicate)
    pick = np.arange(f.shape[0]) * per_replicate + np.argmin(f, axis=1)
    return free_values(spec, u[pick], data), f.reshape(-1)[pick], status[pick]


def solve_hoffmann2022_each(spec: Spec, data: Data, weights: np.ndarray, **options) -> list[Solved]:
    """The published procedure (``_hoffmann.py``), once per row of ``weights``."""
    from ._hoffmann import solve_hoffmann2022 as solve

    return [solve(spec, data._replace(w=w), **options) for w in weights]


#: name -> solver ``(spec, data, weights, **options) -> [Solved per row of weights]``
METHODS = {"varpro": solve_varpro_each, "hoffmann2022": solve_hoffmann2022_each}


def get_method(name: str):
    try:
        return METHODS[name]
    except KeyError:
        raise InputError(f"--method must be one of {', '.join(METHODS)}; got `{name}`") from None


__all__ = ["METHODS", "Solved", "get_method"]
