"""What a careful analyst checks before trusting a fit: warnings that travel with every `FitResult`.

* an input with few distinct values for the parameters acting on it (`FEW_VALUES`);
* a term switched off by a bound: parameters that cannot matter once the parameters at a bound sit
  on it (an amplitude at 0 leaves its exponent without effect); and a fit constant over the runs;
* an asymptote beyond the observations: a law that levels off (as every input grows) above the
  lowest observed value of a decreasing target, or below the highest of an increasing one, by more
  than three times the residual noise (the lowest of a few noisy runs lies about twice below);
* residuals that trend or bend with scale (a quadratic in log scale, slope or curvature with
  ``|t| > TREND_T``): the law misses the curvature of the runs, and forecasts beyond them carry
  that error.

`at_bound` decides whether a parameter sits on a bound: within ``rtol`` of its span for a
two-sided bound, and for a one-sided bound (``(0, inf)``), only when setting it to the bound changes
no fitted prediction by more than `SAME` (a small amplitude that the data need is not at a bound),
or, where the law is undefined on the bound itself, within ``rtol`` of it.
"""

from __future__ import annotations

import math

import numpy as np

from ..laws._transforms import near_bound
from ._problem import Spec

FEW_VALUES = 3  # an input with at most this many distinct values gets a warning
SAME = 1e-6  # relative change of a prediction below which two fits predict the same
ROUNDING = 1e-9  # residuals this small (RMS) are an exact fit's rounding
TREND_T = 4.0  # |t| of the residuals' slope or curvature in log scale above which they trend
FAR = 1e12  # how far past the largest run (a factor on every input) the asymptote is read
CONSTANT = "the fitted law is constant over the runs"  # the openings of the warnings law selection acts on
SWITCHED_OFF = "a term is switched off by a bound"


def at_bound(law, params: dict, name: str, x: dict, fitted: np.ndarray | None = None) -> bool:
    """Whether parameter ``name`` of the fit ``params`` sits on a bound (``fitted``: the law's values
    at ``x`` under ``params``, when already at hand)."""
    lo, hi = law.param(name).bounds
    if math.isfinite(lo) and math.isfinite(hi):
        return near_bound(params[name], (lo, hi))
    bound = lo if math.isfinite(lo) else hi
    if not math.isfinite(bound):
        return False
    if params[name] == bound:
        return True
    with np.errstate(all="ignore"):
        fitted = law.predict(params, x) if fitted is None else fitted
        change = law.to_space(law.predict({**params, name: bound}, x)) - law.to_space(fitted)
    if np.any(np.isnan(change)):  # the law is undefined on the bound (a break of width 0): by distance
        return near_bound(params[name], (lo, hi))
    return bool(np.all(np.abs(change) <= SAME))


def diagnose(spec: Spec, dm, used: np.ndarray, params: dict, at: tuple[str, ...],
             fitted: np.ndarray | None = None) -> tuple[str, ...]:
    """Warnings (plain sentences) about the fit ``params`` of ``spec`` to the design rows ``used``
    (``fitted``: the law's values there, when already at hand)."""
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
        t_f = law.to_space(law.predict(params, x) if fitted is None else fitted)
    if not np.all(np.isfinite(t_f)):
        return tuple(warnings)
    t_y = law.to_space(y)
    off = _switched_off(law, params, at, x, spec.free)
    if np.ptp(t_f) <= SAME and np.ptp(t_y) > SAME:
        warnings.append(f"{CONSTANT} (it explains none of their variation)")
    elif off:
        warnings.append(f"{SWITCHED_OFF} ({', '.join(at)} at a bound): parameters {', '.join(off)} have no "
                        "effect on the fitted runs whatever their value, so the data do not determine them")
    residuals = t_y - t_f
    sigma = float(np.sqrt(np.mean(residuals**2)))
    warnings += _asymptote(law, params, x, y, sigma, dm.y_column)
    warnings += _trend(residuals, x, law.log_inputs)
    return tuple(warnings)


def _switched_off(law, params: dict, at: tuple[str, ...], x: dict, free: tuple[str, ...]) -> list[str]:
    """Free parameters whose value cannot matter once the parameters ``at`` a bound sit exactly on
    it: moved anywhere in their start range, they change no prediction on the runs (an amplitude
    at 0 leaves its exponent without effect). A parameter on a bound that still acts (a floor of
    0, an offset of 0) is not among them: it is just on its bound."""
    if not at:
        return []
    on = dict(params)
    for name in at:
        lo, hi = law.param(name).bounds
        on[name] = lo if abs(params[name] - lo) <= abs(params[name] - hi) else hi
    with np.errstate(all="ignore"):
        base = law.to_space(law.predict(on, x))
        off = []
        for name in free:
            moved = [law.to_space(law.predict({**on, name: v}, x)) for v in law.param(name).start]
            if all(np.all(np.abs(m - base) <= SAME) for m in moved):
                off.append(name)
    return off


def _asymptote(law, params, x, y, sigma, y_column) -> list[str]:
    with np.errstate(all="ignore"):  # an input near the largest float: no asymptote can be read past it
        f_far, f_end = (float(v) for v in law.predict(params, {k: np.max(v) * np.array([FAR, 1.0])
                                                                for k, v in x.items()}))
    if not (math.isfinite(f_far) and (f_far > 0 or law.space != "log")):
        return []
    gap = 3.0 * sigma  # in the law's residual space, like sigma: beyond the lowest of a few noisy runs
    t_far, t_min, t_max = (float(law.to_space(np.float64(v))) for v in (f_far, np.min(y), np.max(y)))
    if f_far < f_end and t_far > t_min + gap:
        return [f"the fitted law levels off at {f_far:.4g} as scale grows, above the lowest observed `{y_column}` "
                f"({float(np.min(y)):.4g}): its floor is too high, and forecasts at larger scale will be too high"]
    if f_far > f_end and t_far < t_max - gap:
        return [f"the fitted law levels off at {f_far:.4g} as scale grows, below the highest observed `{y_column}` "
                f"({float(np.max(y)):.4g}): its ceiling is too low"]
    return []


def _trend(residuals, x, log_inputs) -> list[str]:
    """A trend or a bend of the residuals along the scale: the residuals regressed on a quadratic in
    log scale, warned when its slope or curvature has ``|t| > TREND_T``."""
    n = residuals.size
    if n < 8:
        return []
    scale = np.sum([np.log(v) for k, v in x.items() if k in log_inputs] or [np.zeros(n)], axis=0)
    if np.ptp(scale) == 0 or np.sqrt(np.mean(residuals**2)) <= ROUNDING:  # an exact fit: its rounding has no trend
        return []
    s = (scale - scale.mean()) / scale.std()
    X = np.stack([np.ones(n), s, s**2 - np.mean(s**2)], axis=1)
    coef, *_ = np.linalg.lstsq(X, residuals, rcond=None)
    dof = n - 3
    sigma2 = float(np.sum((residuals - X @ coef) ** 2)) / dof
    cov = sigma2 * np.linalg.pinv(X.T @ X)
    t = coef[1:] / np.sqrt(np.maximum(np.diag(cov)[1:], 1e-300))
    if not np.all(np.isfinite(t)) or np.max(np.abs(t)) <= TREND_T:
        return []
    end = "above" if X[np.argmax(s)] @ coef > 0 else "below"
    shape = "bend" if abs(t[1]) > abs(t[0]) else "trend"
    return [f"the residuals {shape} with scale (t = {t[np.argmax(np.abs(t))]:.1f} over {n} runs): the largest runs "
            f"lie {end} the fitted law, which misses the curvature of the runs; forecasts beyond them carry that error"]
