"""Losses on log residuals ``r = log y - log f(x)``, as pure functions of the residual vector.

Every function takes per-point weights ``w`` (ones for a plain fit; resampling counts for a
bootstrap replicate), so a weighted sum over points is the one code path. Each loss gives the
objective the fit reports, its derivative in each residual, and two curvature weights per point
that the Newton-type polisher uses (see ``_newton.py``):

* ``majorizer``: ``rho'(r) / r``, the weights of iteratively reweighted least squares, whose
  quadratic model lies above the loss (a sure descent direction for robust losses);
* ``curvature``: ``rho''(r)``, the exact second derivative (a Newton step that finishes the job
  once the points inside the quadratic zone are known).

``huber-mle`` is Epoch's Huber likelihood (Besiroglu et al. 2024): residuals with density
``exp(-Huber_delta(r / sigma)) / (sigma Z(delta))``; its scale ``sigma`` is profiled out exactly for
each candidate, so the objective is the negative log-likelihood at the best ``sigma``.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from ..errors import InputError

_TINY = 1e-300


def huber(r, delta):
    """Huber_delta(r) = r^2/2 if |r| <= delta else delta (|r| - delta/2)."""
    a = jnp.abs(r)
    return jnp.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))


def huber_log_normaliser(delta: float) -> float:
    """log Z(delta), Z = sqrt(2 pi) (2 Phi(delta) - 1) + (2 / delta) exp(-delta^2 / 2)."""
    # 2 Phi(delta) - 1 = erf(delta / sqrt 2)
    return math.log(math.sqrt(2 * math.pi) * math.erf(delta / math.sqrt(2.0)) + (2.0 / delta) * math.exp(-0.5 * delta**2))


def huber_sigma(r, w, delta, iterations: int = 30):
    """The sigma maximising the (weighted) Huber likelihood of residuals ``r``.

    Stationarity gives ``sigma = sum w psi_delta(r / sigma) r / sum w`` with ``psi`` the clipped
    identity; started from the all-linear-zone solution ``delta mean|r|`` the fixed point converges fast.
    """
    n = jnp.sum(w)
    s0 = delta * jnp.sum(w * jnp.abs(r)) / n + _TINY

    def step(s, _):
        return jnp.sum(w * jnp.clip(r / s, -delta, delta) * r) / n + _TINY, None

    s, _ = jax.lax.scan(step, s0, None, length=iterations)
    return s


class Loss(NamedTuple):
    name: str
    objective: Callable  # (r, w, delta, log_z) -> scalar
    scale: Callable  # (r, w, delta) -> the loss's fitted scale (sigma; 1 when it has none)
    gradient: Callable  # (r, w, delta, scale) -> d objective / d r, per point
    majorizer: Callable  # (r, w, delta, scale) -> per-point weights
    curvature: Callable  # (r, w, delta, scale) -> per-point weights
    extras: Callable  # (r, w, delta) -> dict of fitted loss parameters


def _huber_objective(r, w, delta, log_z):
    return jnp.sum(w * huber(r, delta))


def _no_scale(r, w, delta):
    return jnp.ones((), r.dtype)


def _huber_gradient(r, w, delta, s=1.0):
    return w * jnp.clip(r, -delta, delta)


def _huber_majorizer(r, w, delta, s=1.0):
    return w * jnp.minimum(1.0, delta / jnp.maximum(jnp.abs(r), _TINY))


def _huber_curvature(r, w, delta, s=1.0):
    return w * (jnp.abs(r) <= delta)


def _mle_objective(r, w, delta, log_z):
    s = jax.lax.stop_gradient(huber_sigma(r, w, delta))  # envelope theorem: d/dsigma = 0 at sigma*
    return jnp.sum(w * huber(r / s, delta)) + jnp.sum(w) * (jnp.log(s) + log_z)


def _mle_gradient(r, w, delta, s):
    return _huber_gradient(r / s, w, delta) / s


def _mle_majorizer(r, w, delta, s):
    return _huber_majorizer(r / s, w, delta) / s**2


def _mle_curvature(r, w, delta, s):
    return _huber_curvature(r / s, w, delta) / s**2


def _mse_objective(r, w, delta, log_z):
    return jnp.sum(w * r * r) / jnp.sum(w)


def _mse_gradient(r, w, delta, s=1.0):
    return 2.0 * w * r / jnp.sum(w)


def _mse_weights(r, w, delta, s=1.0):
    return 2.0 * w / jnp.sum(w)


LOSSES: dict[str, Loss] = {
    "huber": Loss("huber", _huber_objective, _no_scale, _huber_gradient, _huber_majorizer, _huber_curvature,
                  lambda r, w, d: {}),
    "huber-mle": Loss("huber-mle", _mle_objective, huber_sigma, _mle_gradient, _mle_majorizer, _mle_curvature,
                      lambda r, w, d: {"sigma": huber_sigma(r, w, d)}),
    "mse": Loss("mse", _mse_objective, _no_scale, _mse_gradient, _mse_weights, _mse_weights, lambda r, w, d: {}),
}


def get_loss(name: str) -> Loss:
    try:
        return LOSSES[name]
    except KeyError:
        raise InputError(f"--loss must be one of {', '.join(LOSSES)}; got `{name}`") from None
