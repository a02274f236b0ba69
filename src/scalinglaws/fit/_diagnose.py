"""What a careful analyst checks before trusting a fit: warnings that travel with every `FitResult`.

* an input with few distinct values for the parameters acting on it (`FEW_VALUES`);
* parameters with no effect on the fitted runs: a term switched off (an amplitude at 0 leaves its
  exponent free; an exponent at 0 makes its term a constant beside the offset), found as dead or
  dependent columns of the Jacobian of the log predictions in the unconstrained parameters at the
  fitted values; and a fit that is constant over the runs;
* an asymptote beyond the observations: a law that levels off (as every input grows) above the
  lowest observed value of a decreasing target, or below the highest of an increasing one, by more
  than twice the residual noise;
* residuals that trend with scale (rank correlation with ``|t| > TREND_T``): the law misses the
  curvature of the runs, and forecasts beyond them carry that error.

`at_bound` decides whether a parameter sits on a bound: within ``rtol`` of its span for a
two-sided bound, and for a one-sided bound (``(0, inf)``), only when setting it to the bound changes
no fitted prediction by more than `SAME` (a small amplitude that the data need is not at a bound).
"""

from __future__ import annotations

import math

import jax
import numpy as np

from .._jax import program_cache
from ..laws._transforms import near_bound
from ._identify import NULL_TOL, RANK_RTOL
from ._problem import Spec, residuals_at

FEW_VALUES = 3  # an input with at most this many distinct values gets a warning
SAME = 1e-6  # relative change of a prediction below which two fits predict the same
TREND_T = 4.0  # |t| of the residuals' rank correlation with scale above which they trend
FAR = 1e12  # how far past the largest run (a factor on every input) the asymptote is read
CONSTANT = "the fitted law is constant over the runs"  # the openings of the warnings law selection acts on
SWITCHED_OFF = "a term is switched off by a bound"


def at_bound(law, params: dict, name: str, x: dict) -> bool:
    lo, hi = law.param(name).bounds
    if math.isfinite(lo) and math.isfinite(hi):
        return near_bound(params[name], (lo, hi))
    bound = lo if math.isfinite(lo) else hi
    if not math.isfinite(bound):
        return False
    if params[name] == bound:
        return True
    with np.errstate(all="ignore"):
        change = law.to_space(law.predict({**params, name: bound}, x)) - law.to_space(law.predict(params, x))
    return bool(np.all(np.abs(change) <= SAME))


def diagnose(spec: Spec, data, dm, used: np.ndarray, params: dict, at: tuple[str, ...]) -> tuple[str, ...]:
    """Warnings (plain sentences) about the fit ``params`` of ``spec`` to the design rows ``used``."""
    law = spec.law
    x = {k: v[used] for k, v in dm.x.items()}
    y = dm.y[used]
    warnings = []
    for name, v in x.items():
        n = np.unique(v).size
        if n <= FEW_VALUES and len(x) > 0:
            warnings.append(f"input {name} (column `{dm.columns[name]}`) takes only {n} distinct value(s): the "
                            f"parameters acting on {name} rest on {n} point(s) of its scale")
    with np.errstate(all="ignore"):
        t_f = law.to_space(law.predict(params, x))
    if not np.all(np.isfinite(t_f)):
        return tuple(warnings)
    inert = _inert(spec, data, params)
    t_y = law.to_space(y)
    if np.ptp(t_f) <= SAME and np.ptp(t_y) > SAME:
        warnings.append(f"{CONSTANT} (it explains none of their variation)")
    elif inert and at:
        warnings.append(f"{SWITCHED_OFF} ({', '.join(at)} at a bound): parameters {', '.join(inert)} have no "
                        "effect on the fitted runs, and their values are not determined by the data")
    elif inert:
        warnings.append(f"parameters {', '.join(inert)} have no effect on the fitted runs (e.g. a break beyond "
                        "them): their values are not determined by the data")
    residuals = t_y - t_f
    sigma = float(np.sqrt(np.mean(residuals**2)))
    warnings += _asymptote(law, params, x, y, sigma, dm.y_column)
    warnings += _trend(residuals, x, law.log_inputs)
    return tuple(warnings)


def _inert(spec: Spec, data, params: dict) -> list[str]:
    """Free parameters with dead or linearly dependent Jacobian columns at ``params``. The Jacobian
    is in the parameters themselves (each column scaled by its value), not in the solver's
    unconstrained ones: a parameter on its own bound keeps its effect (a floor of 0 is a floor),
    while an exponent whose amplitude is 0 has none."""
    th = np.array([params[n] for n in spec.free])
    J = np.asarray(_natural_jacobian(spec)(th, data))[np.asarray(data.w) > 0] * np.where(th != 0, np.abs(th), 1.0)
    if not np.all(np.isfinite(J)):
        return []
    norms = np.linalg.norm(J, axis=0)
    dead = norms <= SAME * max(float(norms.max()), 1e-300)
    if J.shape[1] == 1:
        return [n for n, d in zip(spec.free, dead) if d]
    _, s, vt = np.linalg.svd(J / np.where(dead, 1.0, norms), full_matrices=False)
    null = vt[s <= RANK_RTOL * s[0]]
    involved = dead | (np.linalg.norm(null, axis=0) > NULL_TOL)
    return [n for n, i in zip(spec.free, involved) if i]


@program_cache
def _natural_jacobian(spec: Spec):
    """``(theta (p,), data) -> (n, p)``: the Jacobian of the residuals in the free parameters' values."""
    return jax.jit(jax.jacfwd(lambda th, data: residuals_at(spec, th, data)))


def _asymptote(law, params, x, y, sigma, y_column) -> list[str]:
    far = {k: np.array([np.max(v) * FAR]) for k, v in x.items()}
    end = {k: np.array([np.max(v)]) for k, v in x.items()}
    with np.errstate(all="ignore"):
        f_far, f_end = float(law.predict(params, far)[0]), float(law.predict(params, end)[0])
    if not (math.isfinite(f_far) and (f_far > 0 or law.space != "log")):
        return []
    gap = 2.0 * sigma  # in the law's residual space, like sigma
    t_far, t_min, t_max = (float(law.to_space(np.float64(v))) for v in (f_far, np.min(y), np.max(y)))
    if f_far < f_end and t_far > t_min + gap:
        return [f"the fitted law levels off at {f_far:.4g} as scale grows, above the lowest observed `{y_column}` "
                f"({float(np.min(y)):.4g}): its floor is too high, and forecasts at larger scale will be too high"]
    if f_far > f_end and t_far < t_max - gap:
        return [f"the fitted law levels off at {f_far:.4g} as scale grows, below the highest observed `{y_column}` "
                f"({float(np.max(y)):.4g}): its ceiling is too low"]
    return []


def _trend(residuals, x, log_inputs) -> list[str]:
    n = residuals.size
    if n < 8:
        return []
    scale = np.sum([np.log(v) for k, v in x.items() if k in log_inputs] or [np.zeros(n)], axis=0)
    if np.ptp(scale) == 0 or np.ptp(residuals) == 0:
        return []
    r = float(np.corrcoef(_ranks(scale), _ranks(residuals))[0, 1])
    t = r * math.sqrt((n - 2) / max(1.0 - r * r, 1e-12))
    if abs(t) <= TREND_T:
        return []
    side = "above" if r > 0 else "below"
    return [f"the residuals trend with scale (rank correlation {r:+.2f} over {n} runs, t = {t:.1f}): the largest "
            f"runs lie {side} the fitted law, which misses their curvature; forecasts beyond them carry that error"]


def _ranks(v: np.ndarray) -> np.ndarray:
    order = np.argsort(v, kind="stable")
    ranks = np.empty(v.size)
    ranks[order] = np.arange(v.size)
    return ranks
