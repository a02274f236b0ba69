"""Families side by side (Nezhurina et al. 2025; Xiao 2024's crossover): one law fitted per family
(architecture, dataset, optimiser), which family is best at a target scale and with what
probability, and where two families' curves cross.

* **Forecast and probability of being best.** Each family's forecast at the target has the
  prediction interval of `FitResult.predict_interval` (bootstrap, widened for extrapolation). The
  probability that a family is best is the share of joint draws, one bootstrap replicate per
  family, in which its curve is the lowest (or highest, ``higher_is_better``) at the target: the
  families' fits are independent, so their replicates are paired at random. It counts parameter
  uncertainty only; the extrapolation widening of the intervals is not in it, so read it beside them.
* **Crossovers.** Along one input (``along``, the other inputs held at the target's values) the
  difference of two curves is searched for sign changes on a log grid from the smallest fitted
  value of either family to ten times the larger of the target and the largest fitted value, and
  each root refined by Brent's method. Every replicate pair is searched the same way; a crossover's
  interval is the percentile interval of the replicates' crossings nearest it, and
  ``no_crossing_share`` the share of replicate pairs with none in the range. Where two curves cross
  more than once, each crossing owns the stretch between the geometric midpoints to its neighbours. ``where`` says whether
  it lies inside the fitted runs of both families, or beyond.
"""

from __future__ import annotations

import itertools
import math
from typing import Mapping

import numpy as np

from .errors import FitError, InputError

SEARCH_POINTS = 400  # grid points of the crossover search
BEYOND = 10.0  # the search reaches this factor past the target (or the largest fitted value)


def compare(fits: Mapping, at: Mapping[str, float], *, along: str | None = None, level: float = 0.9,
            higher_is_better: bool = False, rng=0) -> dict:
    """Compare families' fits of one law (``{family: FitResult}``, each with bootstrap replicates).

    Returns ``{"target": at, "along": ..., "families": [{"family", "forecast", "interval",
    "p_best", "decades_beyond", "status"}], "crossovers": [{"between": [A, B], "at": {along: x},
    "interval": {along: [lo, hi]}, "where", "no_crossing_share"}], "ranking_changes": bool}``; see the
    module docstring. ``ranking_changes``: the order at the largest fitted scale differs from the
    order at the target."""
    from .fit.records import check_level

    check_level("--level", level)
    if len(fits) < 2:
        raise InputError(f"comparing needs at least 2 families; got {len(fits)}")
    laws = {r.law.name for r in fits.values()}
    if len(laws) != 1:
        raise InputError(f"families must be fitted with one law to be compared; got {', '.join(sorted(laws))}")
    law = next(iter(fits.values())).law
    missing = [k for k in law.inputs if k not in at]
    if missing:
        raise InputError(f"--at must give every input of law {law.name} ({', '.join(law.inputs)}); it lacks {missing[0]}")
    extra = [k for k in at if k not in law.inputs]
    if extra:
        raise InputError(f"--at names `{extra[0]}`, which is not an input of law {law.name} ({', '.join(law.inputs)})")
    for k, v in at.items():
        if not (math.isfinite(v) and (v > 0 or k not in law.log_inputs)):
            raise InputError(f"--at {k} must be finite{' and positive' if k in law.log_inputs else ''}; got {v!r}")
    along = along or next(iter(at))
    if along not in law.inputs:
        raise InputError(f"the crossover is searched along an input of law {law.name}; got {along!r}")
    no_boot = [str(g) for g, r in fits.items() if r.bootstrap is None]
    if no_boot:
        raise InputError(f"comparing needs bootstrap replicates for each family (--bootstrap B); {no_boot[0]} has none")
    sign = -1.0 if higher_is_better else 1.0
    x = {k: np.array([float(v)]) for k, v in at.items()}
    gen = np.random.default_rng(rng)
    names = list(fits)
    draws = _paired_replicates(fits, gen)
    at_target = np.stack([_curve(fits[g], draws[g], x) for g in names])  # families x replicates
    best = np.argmin(sign * at_target, axis=0)
    families = []
    for i, g in enumerate(names):
        r = fits[g]
        try:
            lo, hi = (float(v[0]) for v in r.predict_interval(x, level))
            interval = [lo, hi]
        except FitError as exc:
            interval, note = None, str(exc)
        else:
            note = None
        families.append({"family": g, "forecast": float(r.predict(x)[0]), "interval": interval,
                         "p_best": float(np.mean(best == i)), "decades_beyond": float(r.decades_beyond(x)[0]),
                         "status": r.status, **({"interval_note": note} if note else {})})
    crossovers = []
    lo_x = min(r.x_range[along][0] for r in fits.values())
    top_fitted = max(r.x_range[along][1] for r in fits.values())
    grid = np.geomspace(lo_x, max(top_fitted, float(at[along])) * BEYOND, SEARCH_POINTS)
    for a, b in itertools.combinations(names, 2):
        point = _crossings(lambda z: fits[a].predict(z) - fits[b].predict(z), grid, along, at)
        rep_a, rep_b = draws[a], draws[b]
        diff = (_curve(fits[a], rep_a, _along(grid, along, at)) - _curve(fits[b], rep_b, _along(grid, along, at)))
        # each crossing owns the stretch between the geometric midpoints to its neighbours
        cuts = [grid[0]] + [math.sqrt(u * v) for u, v in zip(point, point[1:])] + [grid[-1]]
        for j, c in enumerate(point):
            nearest = _nearest_roots(diff, grid, c, cuts[j], cuts[j + 1])
            found = np.isfinite(nearest)
            tail = (1.0 - level) / 2.0
            iv = (np.quantile(nearest[found], [tail, 1.0 - tail]).tolist() if found.sum() >= 2 else [None, None])
            both = max(fits[a].x_range[along][0], fits[b].x_range[along][0]) <= c <= min(
                fits[a].x_range[along][1], fits[b].x_range[along][1])
            crossovers.append({"between": [a, b], "at": {along: c}, "interval": {along: iv},
                               "where": "inside the runs" if both else "beyond the runs",
                               "no_crossing_share": float(np.mean(~found))})
    top = {**{k: np.array([float(v)]) for k, v in at.items()}, along: np.array([top_fitted])}
    order_top = np.argsort([sign * fits[g].predict(top)[0] for g in names])
    order_target = np.argsort([sign * f["forecast"] for f in families])
    return {"target": dict(at), "along": along, "level": level, "higher_is_better": higher_is_better,
            "families": families, "crossovers": crossovers,
            "ranking_changes": bool(np.any(order_top != order_target)),
            "searched": [float(grid[0]), float(grid[-1])]}


def _paired_replicates(fits, gen) -> dict:
    """Each family's replicate parameters, drawn to a common count (with replacement where a family
    has fewer), in an independent random order: families are fitted independently."""
    n = max(len(next(iter(r.bootstrap.values().values()))) for r in fits.values())
    out = {}
    for g, r in fits.items():
        reps = r.bootstrap.values()
        m = len(next(iter(reps.values())))
        pick = gen.permutation(m) if m == n else gen.integers(0, m, size=n)
        out[g] = {k: v[pick] for k, v in reps.items()}
    return out


def _curve(fit, reps, x) -> np.ndarray:
    """The law at ``x`` (points) for every replicate: replicates x points (or replicates for one point)."""
    with np.errstate(all="ignore"):
        v = fit.law.predict({k: np.asarray(p)[:, None] for k, p in reps.items()},
                            {k: np.asarray(a)[None, :] for k, a in x.items()})
    return v[:, 0] if v.shape[1] == 1 else v


def _along(grid, along, at) -> dict:
    return {k: (grid if k == along else np.full(grid.shape, float(v))) for k, v in at.items()}


def _crossings(diff, grid, along, at) -> list[float]:
    """Roots of ``diff`` (a function of points) along ``grid``, refined by Brent's method."""
    from scipy.optimize import brentq

    values = diff(_along(grid, along, at))
    roots = []
    for i in np.flatnonzero(np.sign(values[:-1]) * np.sign(values[1:]) < 0):
        f = lambda lg: float(diff(_along(np.array([math.exp(lg)]), along, at))[0])  # noqa: E731
        roots.append(math.exp(brentq(f, math.log(grid[i]), math.log(grid[i + 1]), xtol=1e-12)))
    return roots


def _nearest_roots(diff: np.ndarray, grid: np.ndarray, c: float, lo: float, hi: float) -> np.ndarray:
    """Per replicate (rows of ``diff`` on ``grid``), the sign change nearest ``c`` in log within
    ``[lo, hi]``, located by linear interpolation in log x; NaN where a row has none there."""
    s = np.sign(diff)
    change = (s[:, :-1] * s[:, 1:]) < 0
    lg = np.log(grid)
    with np.errstate(all="ignore"):
        t = diff[:, :-1] / (diff[:, :-1] - diff[:, 1:])
        where = lg[:-1] + t * (lg[1:] - lg[:-1])
    inside = (where >= math.log(lo)) & (where <= math.log(hi))
    dist = np.where(change & inside, np.abs(where - math.log(c)), np.inf)
    j = np.argmin(dist, axis=1)
    found = np.isfinite(dist[np.arange(len(j)), j])
    return np.where(found, np.exp(where[np.arange(len(j)), j]), np.nan)
