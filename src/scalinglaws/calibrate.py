"""Extrapolation-aware calibration: how far off a law's forecasts get with the distance extrapolated.

The bootstrap spreads the parameters and adds the in-sample noise; it knows nothing of the error of
extrapolating a law that is only approximately right, and that error grows with the distance. So the
law is backtested inside the training runs (nested cut-offs by scale, `scalinglaws.nested`): each
fold is fitted on the runs up to its cut-off and forecasts the larger ones, giving pairs (error
``e_i`` in the law's residual space: log for losses, decades ``d_i`` beyond the fold's training range). From them (`Calibration`):

* the spread ``s(d) = sigma + slope d``: ``sigma`` the full fit's in-sample noise, ``slope`` the
  growth of the error per decade by maximum likelihood over every fold (a wrong exponent makes the
  log error grow linearly with the log distance, so a linear growth is the natural first model;
  the early folds reach farthest and carry most of the information on it);
* the multiplier ``q``: the split-conformal quantile of ``|e_i| / s(d_i)`` at the level asked for,
  over the late folds (cut-offs at `LATE` of the scales and beyond): they train on most of the
  runs, so they look most like the forecast asked for. The width's shape comes from the model and
  its size from the law's own held-out errors.

Measured on real extrapolations (benchmarks/bench_real_intervals.py), this choice (an additive
spread, the late folds' multiplier) held nominal 90% best among the variants tried: the errors'
quadrature sum, every fold's quantile, the worst fold's, the last fold's alone.

A prediction's interval is the bootstrap interval united with ``log y_hat +- q s(d)``. Where the
training runs are too few for any fold, or for the level asked, the record says so and predictions
beyond the training range get no interval rather than a narrow one.

Why not only conformal on raw errors: the forecast asked for usually lies farther out than any fold
reached, and raw errors carry no notion of distance. Why not only the fitted model: its Gaussian
tails are a guess; the conformal multiplier corrects them with the observed errors.
"""

from __future__ import annotations

import numpy as np

from .errors import ScalingLawsError
from .fit.records import Calibration, decades_outside
from .nested import Backtests, held_out_errors

LATE = 0.7  # folds from this cut fraction on set the multiplier
_SLOPES = np.concatenate([[0.0], np.geomspace(1e-5, 10.0, 301)])  # candidate growths per decade (log units)
SIGMA_FLOOR = 1e-9


def calibrate(bt: Backtests) -> Calibration:
    """Summarise the held-out errors of the law's nested backtests ``bt`` (folds at `CUTS`) by
    distance (see the module docstring); ``bt.full`` is the fit the intervals are for."""
    law, dm, used, scale = bt.full.law, bt.problem.design, bt.used, bt.scale
    scale_range = (float(scale[used].min()), float(scale[used].max()))
    residuals = law.to_space(bt.full.predict(dm.x)) - law.to_space(dm.y)
    sigma = max(float(np.sqrt(np.mean(residuals[used] ** 2))), SIGMA_FLOOR)
    errors, distances, fold_of, n_folds, problems = [], [], [], 0, []
    late_from = None
    for fold, fitted in zip(bt.plan, bt.fits):
        if isinstance(fitted, ScalingLawsError):  # too few runs below this cut-off for the law: a later fold may do
            problems.append(str(fitted))
            continue
        train, test = fold.train & used, ~fold.train & used
        e = held_out_errors(fitted, bt, fold, law.space)
        x_range = {k: (float(v[train].min()), float(v[train].max())) for k, v in dm.x.items()}
        d = decades_outside({k: v[test] for k, v in dm.x.items()}, x_range,
                            (float(scale[train].min()), float(scale[train].max())), law.log_inputs)
        errors.append(e), distances.append(d), fold_of.append(np.full(e.size, n_folds))
        late_from = n_folds if late_from is None and fold.fraction >= LATE else late_from
        n_folds += 1
    if not n_folds:
        why = problems[0] if problems else "the training runs have too few distinct scales"
        return Calibration((), (), (), sigma, 0.0, 0, scale_range, problem=f"no nested backtest could be fitted ({why})")
    e, d = np.concatenate(errors), np.concatenate(distances)
    if not np.all(np.isfinite(e)):  # a fold's law is not finite at a held-out run: no width is honest
        return Calibration((), (), (), sigma, 0.0, n_folds, scale_range,
                           problem="a nested backtest forecast a non-finite value")
    return Calibration(tuple(map(float, e)), tuple(map(float, d)), tuple(map(int, np.concatenate(fold_of))), sigma,
                       _slope(e, d, sigma), n_folds, scale_range, late_from=n_folds if late_from is None else late_from)


def _slope(e: np.ndarray, d: np.ndarray, sigma: float) -> float:
    """Maximum-likelihood growth per decade of ``e ~ N(0, (sigma + slope d)^2)`` (on a fine grid)."""
    spread = sigma + _SLOPES[:, None] * d[None, :]
    nll = np.sum(2.0 * np.log(spread) + (e[None, :] / spread) ** 2, axis=1)
    return float(_SLOPES[int(np.argmin(nll))])


__all__ = ["calibrate"]
