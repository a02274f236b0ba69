"""Fitting methods. Each returns a `Solved`: every start's parameters, objective and status.

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


def solve_varpro(spec: Spec, data: Data, *, starts: int = 256, polish_starts: int = 16, rng=None, max_iter=300):
    phi = nonlinear_grid(spec, starts, rng)
    theta0, f0 = compiled_screen(spec)(phi, data)
    theta0, f0 = np.asarray(theta0), np.asarray(f0)
    usable = np.isfinite(f0) & np.isfinite(theta0).all(axis=1)
    order = distinct_candidates(grid_cells(len(phi), len(spec.free_nonlinear)), np.where(usable, f0, np.inf),
                                max(1, polish_starts))
    th = theta0[order]
    u0 = unconstrain(spec, {n: th[:, i] for i, n in enumerate(spec.free)})
    u, f, status, it = polish(spec, u0, data, max_iter=max_iter)
    return Solved(free_values(spec, u, data), np.asarray(f), np.asarray(status), np.asarray(it), len(phi), th)


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


def solve_hoffmann2022(spec: Spec, data: Data, **options):
    from ._hoffmann import solve_hoffmann2022 as solve

    return solve(spec, data, **options)


METHODS = {"varpro": solve_varpro, "hoffmann2022": solve_hoffmann2022}


def get_method(name: str):
    try:
        return METHODS[name]
    except KeyError:
        raise InputError(f"--method must be one of {', '.join(METHODS)}; got `{name}`") from None


__all__ = ["METHODS", "Solved", "get_method"]
