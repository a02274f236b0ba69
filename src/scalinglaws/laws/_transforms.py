"""Map bounded parameters to unconstrained space and back.

One registry of transforms, chosen by which bounds are finite. The engine optimises the
unconstrained value ``u``; the law sees ``theta = forward(u)``. Nothing is clipped: a parameter
that approaches a bound shows up as a large ``|u|`` and is reported by the fit.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import jax.numpy as jnp
import numpy as np


class Transform(NamedTuple):
    forward: Callable  # (u, lo, hi, xp) -> theta
    inverse: Callable  # (theta, lo, hi, xp) -> u


def _sigmoid(u, xp):
    return 0.5 * (xp.tanh(0.5 * u) + 1.0)


# ``xp`` is the array namespace: ``jax.numpy`` inside the solvers, ``numpy`` for plain values
TRANSFORMS: dict[str, Transform] = {
    "real": Transform(lambda u, lo, hi, xp: u, lambda t, lo, hi, xp: t),
    "lower": Transform(lambda u, lo, hi, xp: lo + xp.exp(u), lambda t, lo, hi, xp: xp.log(t - lo)),
    "upper": Transform(lambda u, lo, hi, xp: hi - xp.exp(u), lambda t, lo, hi, xp: xp.log(hi - t)),
    "interval": Transform(
        lambda u, lo, hi, xp: lo + (hi - lo) * _sigmoid(u, xp),
        lambda t, lo, hi, xp: xp.log(t - lo) - xp.log(hi - t),
    ),
}


def transform_kind(bounds: tuple[float, float]) -> str:
    """The registry key for a pair of bounds."""
    lo, hi = bounds
    return {(False, False): "real", (True, False): "lower", (False, True): "upper", (True, True): "interval"}[
        (math.isfinite(lo), math.isfinite(hi))
    ]


def to_unconstrained(theta, bounds: tuple[float, float], xp=jnp):
    return TRANSFORMS[transform_kind(bounds)].inverse(theta, *bounds, xp)


def from_unconstrained(u, bounds: tuple[float, float], xp=jnp):
    return TRANSFORMS[transform_kind(bounds)].forward(u, *bounds, xp)


def near_bound(value: float, bounds: tuple[float, float], rtol: float = 1e-6) -> bool:
    """True when ``value`` sits on (within ``rtol`` of) one of its finite bounds."""
    lo, hi = bounds
    span = hi - lo if math.isfinite(hi - lo) else max(1.0, abs(value))
    return any(math.isfinite(b) and abs(value - b) <= rtol * max(span, abs(b), 1e-300) for b in (lo, hi)) or not bool(
        np.isfinite(value)
    )
