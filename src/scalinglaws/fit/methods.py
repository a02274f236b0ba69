"""Fitting methods. A method solves one problem under one or several weightings of its points
(``weights``, one row each: the full fit and nested folds) and returns one `Solved` per row: every
start's parameters, objective and status.

* ``varpro`` (default): variable projection screen over a grid of the nonlinear parameters,
  then the robust Newton polisher on the best candidates (all parameters free).
* ``hoffmann2022``: the published Approach-3 procedure (see ``_hoffmann.py``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import InputError
from ._newton import polish
from ._problem import Data, Spec, free_values, unconstrain
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
    fit's polish does while the batch has room (see `_driver.WINDOW`)."""
    phi = nonlinear_grid(spec, starts, rng)
    screen = compiled_screen(spec)
    cells = grid_cells(len(phi), len(spec.free_nonlinear))
    picked = []
    for w in weights:
        theta0, f0 = (np.asarray(v) for v in screen(phi, data._replace(w=w)))
        usable = np.isfinite(f0) & np.isfinite(theta0).all(axis=1)
        picked.append(theta0[distinct_candidates(cells, np.where(usable, f0, np.inf), max(1, polish_starts))])
    th = np.concatenate(picked)
    lanes = np.repeat(np.arange(len(weights)), [len(p) for p in picked])
    u0 = unconstrain(spec, {n: th[:, i] for i, n in enumerate(spec.free)})
    per_lane = data._replace(t_y=np.broadcast_to(data.t_y, (th.shape[0], np.size(data.t_y))),
                             y=np.broadcast_to(data.y, (th.shape[0], np.size(data.y))),
                             w=np.asarray(weights, dtype=np.float64)[lanes])
    u, f, status, it = polish(spec, u0, per_lane, max_iter=max_iter)
    theta = free_values(spec, u, data)
    return [Solved(theta[k], np.asarray(f)[k], np.asarray(status)[k], np.asarray(it)[k], len(phi), p)
            for k, p in ((lanes == i, p) for i, p in enumerate(picked))]


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
    taken: list[int] = []
    for i in order:
        if len(taken) == k:
            break
        if not taken or np.all(np.max(np.abs(cells[taken] - cells[i]), axis=-1) > radius):
            taken.append(int(i))
    rest = [int(i) for i in order if i not in set(taken)]
    return np.array(taken + rest[: k - len(taken)], dtype=int)


def solve_replicates(spec: Spec, data: Data, starts: np.ndarray, w: np.ndarray, t_y: np.ndarray, *,
                     per_replicate: int = 1, max_iter: int = 300):
    """Polish lane ``i`` from ``starts[i]`` (parameter values) on targets ``t_y[i]`` (in the law's residual space) with weights ``w[i]``.

    Lanes come in consecutive groups of ``per_replicate`` (one replicate, several starts); returns
    ``(theta (R, p), objective (R,), status (R,))`` of each group's best lane.
    """
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
