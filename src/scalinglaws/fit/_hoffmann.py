"""Hoffmann et al. 2022, Approach 3, as replicated by Besiroglu et al. 2024 (Epoch).

``log L = LSE(a - alpha log N, b - beta log D, e)`` with ``A = e^a, B = e^b, E = e^e``; L-BFGS
from every point of the published 4,500-point grid; the best results are then certified by the
Newton polisher (see `solve_hoffmann2022`).

The objective and its gradient are written out by hand so the three exponentials are computed
once per point and reused (``LSE`` is evaluated as ``log(E + T1 + T2)``, the same function).
"""

from __future__ import annotations

import functools
import itertools

import jax.numpy as jnp
import numpy as np

from ..errors import InputError
from ._driver import run_batched
from ._lbfgs import compiled_lbfgs
from ._newton import CONVERGED, DISCARDED, FAILED, OUT_OF_BOUNDS, STOPPED, polish
from .._jax import program_cache
from ._problem import Data, Spec, free_values, unconstrain
from .losses import get_loss

GRID = {
    "a": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
    "b": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
    "e": (-1.0, -0.5, 0.0, 0.5, 1.0),
    "alpha": (0.0, 0.5, 1.0, 1.5, 2.0),
    "beta": (0.0, 0.5, 1.0, 1.5, 2.0),
}
ORDER = ("a", "b", "e", "alpha", "beta")


def hoffmann_grid() -> np.ndarray:
    """The 4,500 published starting points, columns (a, b, e, alpha, beta)."""
    return np.array(list(itertools.product(*(GRID[k] for k in ORDER))), dtype=np.float64)


def lse_value_and_grad(loss_name: str, v, data: Data):
    """Objective of the log-sum-exp form and its gradient in (a, b, e, alpha, beta)."""
    loss = get_loss(loss_name)
    a, b, e, alpha, beta = v[0], v[1], v[2], v[3], v[4]
    log_n, log_d = jnp.log(data.x["N"]), jnp.log(data.x["D"])
    T1 = jnp.exp(a - alpha * log_n)  # A / N^alpha
    T2 = jnp.exp(b - beta * log_d)  # B / D^beta
    E = jnp.exp(e)
    pred = E + T1 + T2
    r = data.t_y - jnp.log(pred)  # the chinchilla law: log space
    w = -loss.gradient(r, data.w, data.delta, loss.scale(r, data.w, data.delta)) / pred  # d objective / d pred
    grad = jnp.stack([w @ T1, w @ T2, jnp.sum(w) * E, -(w * log_n) @ T1, -(w * log_d) @ T2])
    return loss.objective(r, data.w, data.delta, data.log_z), grad


@program_cache  # one per loss
def _compiled(loss_name: str):
    return compiled_lbfgs(functools.partial(lse_value_and_grad, loss_name))


#: successive halving of the starts: after 5 evaluations keep the best 1/16 (at least 64), after 60
#: the best 64. On the Chinchilla runs the lanes kept include ~140 that reach the best basin.
PRUNE = ((5, 1 / 16), (60, 64))
CERTIFIED = 16  # the best L-BFGS results that the Newton polisher certifies (or improves)
INSIDE = 1e-3  # a certified start outside the bounds begins this fraction of the bound's span inside


def solve_hoffmann2022(spec: Spec, data: Data, *, max_iter: int = 1500, prune: bool = True):
    """L-BFGS from the 4,500 grid points in the published parameterisation, then certification.

    ``log L = LSE(a - alpha log N, b - beta log D, e)`` leaves alpha and beta unconstrained, so a
    start may end outside the law's bounds (``out_of_bounds``), and L-BFGS's own stopping rules
    (relative decrease, a failed line search) certify nothing (``stopped``). The best
    `CERTIFIED` results are therefore polished by the robust Newton method of the default method
    in the law's bounded parameters (one outside the bounds starts just inside them); only its
    Newton-decrement test makes a start ``converged``. ``prune=False`` runs every start to its own
    stop (slower; the same optimum).
    """
    from .methods import Solved

    if spec.law.name != "chinchilla" or spec.fixed:
        raise InputError(
            "--method hoffmann2022 is the published procedure for law `chinchilla` with all five parameters free; "
            f"got law `{spec.law.name}`" + (f" with fixed {', '.join(spec.fixed)}" if spec.fixed else "")
        )
    grid = hoffmann_grid()
    cuts = tuple((k, max(64, int(keep * len(grid))) if keep < 1 else int(keep)) for k, keep in PRUNE) if prune else ()
    v, f, status, it = run_batched(*_compiled(spec.loss_name), grid, data, max_iter=max_iter, prune=cuts)
    theta = _law_values(spec, v)
    status = np.where(status == CONVERGED, STOPPED, status)
    inside = np.all([(theta[:, i] > lo) & (theta[:, i] < hi) for i, (lo, hi) in enumerate(_bounds(spec))], axis=0)
    status = np.where((status != FAILED) & (status != DISCARDED) & ~inside, OUT_OF_BOUNDS, status)
    f = np.where(np.isfinite(f), f, np.inf)
    finished = np.flatnonzero(np.isfinite(f) & (status != DISCARDED) & (status != FAILED))
    best = finished[np.argsort(f[finished], kind="stable")[:CERTIFIED]]
    start = theta[best]
    start[~inside[best]] = _inside(spec, start[~inside[best]])
    u0 = unconstrain(spec, {n: start[:, i] for i, n in enumerate(spec.free)})
    u, f_p, status_p, it_p = polish(spec, u0, data, max_iter=300)
    theta, f, status, it = theta.copy(), f.copy(), status.copy(), it.copy()
    theta[best], f[best], status[best], it[best] = free_values(spec, u, data), f_p, status_p, it[best] + it_p
    starts = _law_values(spec, grid[best])  # the certified lanes' grid points: independent starts elsewhere
    return Solved(theta, f, status, it, len(grid), _inside(spec, starts))


def _law_values(spec: Spec, v: np.ndarray) -> np.ndarray:
    """Columns of ``spec.free`` from rows of (a, b, e, alpha, beta) (a diverged start: inf, then out of bounds)."""
    with np.errstate(over="ignore"):
        return _law_columns(spec, v)


def _law_columns(spec: Spec, v: np.ndarray) -> np.ndarray:
    values = {"A": np.exp(v[:, 0]), "B": np.exp(v[:, 1]), "E": np.exp(v[:, 2]), "alpha": v[:, 3], "beta": v[:, 4]}
    return np.stack([values[n] for n in spec.free], axis=-1)


def _bounds(spec: Spec) -> list[tuple[float, float]]:
    return [spec.law.param(n).bounds for n in spec.free]


def _inside(spec: Spec, theta: np.ndarray) -> np.ndarray:
    """Rows of ``theta`` moved strictly inside the bounds (by `INSIDE` of a finite span, or of the value's size)."""
    out = theta.copy()
    for i, (lo, hi) in enumerate(_bounds(spec)):
        span = hi - lo if np.isfinite(hi - lo) else np.maximum(np.abs(theta[:, i]), 1.0)
        out[:, i] = np.clip(theta[:, i], lo + INSIDE * span, hi - INSIDE * span)
    return out
