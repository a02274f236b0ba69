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
    identity; started from the all-linear-zone solution ``delta mean|r|`` the fixed point converges
    fast (for a small ``delta`` in one or two steps), so it stops once a step leaves sigma unchanged
    to rounding, after at most ``iterations`` steps.
    """
    n = jnp.sum(w)
    s0 = delta * jnp.sum(w * jnp.abs(r)) / n + _TINY

    def step(s):
        return jnp.sum(w * jnp.clip(r / s, -delta, delta) * r) / n + _TINY

    def cond(state):
        s, previous, i = state
        return (i < iterations) & (jnp.abs(s - previous) > 4 * jnp.finfo(s.dtype).eps * s)

    def body(state):
        s, _, i = state
        return step(s), s, i + 1

    s, _, _ = jax.lax.while_loop(cond, body, (step(s0), s0, jnp.ones((), jnp.int32)))
    return s


def huber_line_min(r, a, w, c, kappa=0.0, iterations: int = 12):
    """The ``t >= 0`` minimising ``phi(t) = sum w rho_c(r + t a) + kappa t^2 / 2`` (``kappa`` clipped at 0).

    ``rho_c`` is the Huber function of width ``c``; ``kappa`` is curvature the residuals' own
    nonlinearity adds along the line. ``phi`` is convex and piecewise quadratic: its derivative is
    nondecreasing and piecewise linear, with kinks where a point enters or leaves its quadratic
    zone, ``t = (-r +- c) / a``. The root is bracketed between ``0`` (``phi'(0) < 0`` along a
    descent direction) and the last kink, and the bracket is cut at kinks: alternately the one
    nearest the regula falsi point and the one nearest the bracket's geometric midpoint (kinks
    span many decades), so once no kink is left inside, linear interpolation gives the root
    exactly. For a near-L1 loss (``c`` far below the residuals) the root is the weighted median of
    ``-r / a`` that reweighted least squares only approaches geometrically. Sorting the kinks
    would give the same root but is several times slower on a CPU. Returns 0 when ``a`` is not a
    descent direction.
    """
    kappa = jnp.maximum(kappa, 0.0)
    live = (w > 0) & (a != 0)
    wa = jnp.where(live, w * a, 0.0)
    sa = jnp.where(live, a, 1.0)

    def dphi(t):
        return jnp.sum(wa * jnp.clip(r + t * a, -c, c)) + kappa * t

    kinks = jnp.concatenate([(-c - r) / sa, (c - r) / sa])
    kinks = jnp.where(jnp.concatenate([live, live]) & (kinks > 0), kinks, jnp.inf)  # only t > 0 matters
    k_min = jnp.min(kinks)
    k_max = jnp.max(jnp.where(jnp.isfinite(kinks), kinks, 0.0))
    d0 = dphi(jnp.zeros((), r.dtype))
    # past the last kink every point is saturated: phi' = c sum w |a| + kappa t > 0; with no kink ahead
    # phi' = d0 + kappa t
    hi = jnp.where(jnp.isfinite(k_min), k_max, -d0 / jnp.where(kappa > 0, kappa, 1.0))

    def cut(i, bracket):
        lo, f_lo, hi, f_hi = bracket
        falsi = lo - f_lo * (hi - lo) / jnp.where(f_hi > f_lo, f_hi - f_lo, 1.0)
        target = jnp.where(i % 2 == 0, falsi, jnp.sqrt(jnp.maximum(lo, k_min) * hi))
        dist = jnp.where((kinks > lo) & (kinks < hi), jnp.abs(kinks - target), jnp.inf)
        j = jnp.argmin(dist)
        pivot = jnp.where(jnp.isfinite(dist[j]), kinks[j], falsi)  # no kink inside: phi' is linear
        f_pivot = dphi(pivot)
        below = f_pivot < 0
        return (jnp.where(below, pivot, lo), jnp.where(below, f_pivot, f_lo),
                jnp.where(below, hi, pivot), jnp.where(below, f_hi, f_pivot))

    lo, f_lo, hi, f_hi = jax.lax.fori_loop(0, iterations, cut, (jnp.zeros_like(d0), d0, hi, dphi(hi)))
    t = lo - f_lo * (hi - lo) / jnp.where(f_hi > f_lo, f_hi - f_lo, 1.0)
    return jnp.where((d0 < 0) & jnp.isfinite(t), jnp.maximum(t, 0.0), 0.0)


class Loss(NamedTuple):
    name: str
    objective: Callable  # (r, w, delta, log_z) -> scalar
    scale: Callable  # (r, w, delta) -> the loss's fitted scale (sigma; 1 when it has none)
    gradient: Callable  # (r, w, delta, scale) -> d objective / d r, per point
    majorizer: Callable  # (r, w, delta, scale) -> per-point weights
    curvature: Callable  # (r, w, delta, scale) -> per-point weights
    extras: Callable  # (r, w, delta) -> dict of fitted loss parameters
    line_min: Callable  # (r, a, w, delta, scale, kappa) -> t minimising loss(r + t a) + kappa t^2 / 2 at this scale


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


def _huber_line_min(r, a, w, delta, s=1.0, kappa=0.0):
    return huber_line_min(r, a, w, delta, kappa)


def _mle_objective(r, w, delta, log_z):
    s = jax.lax.stop_gradient(huber_sigma(r, w, delta))  # envelope theorem: d/dsigma = 0 at sigma*
    return jnp.sum(w * huber(r / s, delta)) + jnp.sum(w) * (jnp.log(s) + log_z)


def _mle_gradient(r, w, delta, s):
    return _huber_gradient(r / s, w, delta) / s


def _mle_majorizer(r, w, delta, s):
    return _huber_majorizer(r / s, w, delta) / s**2


def _mle_curvature(r, w, delta, s):
    return _huber_curvature(r / s, w, delta) / s**2


def _mle_line_min(r, a, w, delta, s, kappa=0.0):
    # sum w Huber_delta((r + t a) / s) = sum w rho_{delta s}(r + t a) / s^2
    return huber_line_min(r, a, w, delta * s, kappa * s * s)


def _mse_objective(r, w, delta, log_z):
    return jnp.sum(w * r * r) / jnp.sum(w)


def _mse_gradient(r, w, delta, s=1.0):
    return 2.0 * w * r / jnp.sum(w)


def _mse_weights(r, w, delta, s=1.0):
    return 2.0 * w / jnp.sum(w)


def _mse_line_min(r, a, w, delta, s=1.0, kappa=0.0):
    aa = 2.0 * jnp.sum(w * a * a) / jnp.sum(w) + jnp.maximum(kappa, 0.0)
    return jnp.where(aa > 0, -2.0 * jnp.sum(w * r * a) / jnp.sum(w) / jnp.where(aa > 0, aa, 1.0), 0.0)


LOSSES: dict[str, Loss] = {
    "huber": Loss("huber", _huber_objective, _no_scale, _huber_gradient, _huber_majorizer, _huber_curvature,
                  lambda r, w, d: {}, _huber_line_min),
    "huber-mle": Loss("huber-mle", _mle_objective, huber_sigma, _mle_gradient, _mle_majorizer, _mle_curvature,
                      lambda r, w, d: {"sigma": huber_sigma(r, w, d)}, _mle_line_min),
    "mse": Loss("mse", _mse_objective, _no_scale, _mse_gradient, _mse_weights, _mse_weights, lambda r, w, d: {},
                _mse_line_min),
}


def get_loss(name: str) -> Loss:
    try:
        return LOSSES[name]
    except KeyError:
        raise InputError(f"--loss must be one of {', '.join(LOSSES)}; got `{name}`") from None
