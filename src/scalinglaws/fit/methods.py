"""Fitting methods. Each returns a `Solved`: every start's parameters, objective and status.

* ``varpro`` (default): variable projection screen over a grid of the nonlinear parameters,
  then the robust Newton polisher on the best candidates (all parameters free).
* ``hoffmann2022``: the published Approach-3 procedure (Hoffmann et al. 2022, as replicated by
  Besiroglu et al. 2024): the log-sum-exp parameterisation
  ``log L = LSE(a - alpha log N, b - beta log D, e)``, L-BFGS from each of 4,500 grid points,
  the best converged start wins.
"""

from __future__ import annotations

import functools
import itertools
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

from ..errors import InputError
from ._driver import run_batched
from ._lbfgs import compiled_lbfgs
from ._newton import compiled_polisher
from ._problem import Data, Spec, theta, unconstrain
from .losses import get_loss
from ._varpro import compiled_screen, nonlinear_grid


class Solved(NamedTuple):
    theta: np.ndarray  # (B, len(spec.free)) parameter values
    objective: np.ndarray  # (B,)
    status: np.ndarray  # (B,) codes of _newton.STATUS_NAMES
    iterations: np.ndarray  # (B,)
    n_screened: int  # candidates looked at before the solver ran


def solve_varpro(spec: Spec, data: Data, *, starts: int = 256, polish_starts: int = 16, rng=None, max_iter=300):
    phi = nonlinear_grid(spec, starts, rng)
    theta0, f0 = compiled_screen(spec)(jnp.asarray(phi), data)
    order = np.argsort(np.asarray(f0), kind="stable")[: max(1, min(polish_starts, len(phi)))]
    th = np.asarray(theta0)[order]
    u0 = unconstrain(spec, {n: th[:, i] for i, n in enumerate(spec.free)})
    u, f, status, it = run_batched(*compiled_polisher(spec), u0, data, max_iter=max_iter)
    values = theta(spec, u, data.fixed)
    theta_out = np.stack([np.asarray(values[n]) for n in spec.free], axis=-1)
    return Solved(theta_out, np.asarray(f), np.asarray(status), np.asarray(it), len(phi))


# --- Hoffmann et al. 2022, Approach 3 -------------------------------------------------------------

HOFFMANN_GRID = {
    "alpha": (0.0, 0.5, 1.0, 1.5, 2.0),
    "beta": (0.0, 0.5, 1.0, 1.5, 2.0),
    "e": (-1.0, -0.5, 0.0, 0.5, 1.0),
    "a": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
    "b": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
}
_LSE_ORDER = ("a", "b", "e", "alpha", "beta")


def hoffmann_grid() -> np.ndarray:
    """The 4,500 published starting points, columns (a, b, e, alpha, beta)."""
    return np.array(list(itertools.product(*(HOFFMANN_GRID[k] for k in _LSE_ORDER))), dtype=np.float64)


def _lse_objective(loss_name: str, v, data: Data):
    a, b, e, alpha, beta = v[0], v[1], v[2], v[3], v[4]
    log_n, log_d = jnp.log(data.x["N"]), jnp.log(data.x["D"])
    log_pred = logsumexp(jnp.stack([a - alpha * log_n, b - beta * log_d, jnp.broadcast_to(e, log_n.shape)]), axis=0)
    return get_loss(loss_name).objective(data.log_y - log_pred, data.delta, data.log_z)


@functools.lru_cache(maxsize=None)
def _compiled_hoffmann(loss_name: str):
    return compiled_lbfgs(functools.partial(_lse_objective, loss_name))


def solve_hoffmann2022(spec: Spec, data: Data, *, max_iter: int = 1500):
    if spec.law.name != "chinchilla" or spec.fixed:
        raise InputError(
            "--method hoffmann2022 is the published procedure for law `chinchilla` with all five parameters free; "
            f"got law `{spec.law.name}`" + (f" with fixed {', '.join(spec.fixed)}" if spec.fixed else "")
        )
    v, f, status, it = run_batched(*_compiled_hoffmann(spec.loss_name), hoffmann_grid(), data, max_iter=max_iter)
    values = {"A": np.exp(v[:, 0]), "B": np.exp(v[:, 1]), "E": np.exp(v[:, 2]), "alpha": v[:, 3], "beta": v[:, 4]}
    theta_out = np.stack([values[n] for n in spec.free], axis=-1)
    return Solved(theta_out, np.asarray(f), np.asarray(status), np.asarray(it), len(v))


METHODS = {"varpro": solve_varpro, "hoffmann2022": solve_hoffmann2022}


def get_method(name: str):
    try:
        return METHODS[name]
    except KeyError:
        raise InputError(f"--method must be one of {', '.join(METHODS)}; got `{name}`") from None


__all__ = ["METHODS", "Solved", "get_method", "hoffmann_grid"]
