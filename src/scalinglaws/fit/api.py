"""`fit`: the one entry point that turns runs and a law into a `FitResult`."""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import pandas as pd

from dataclasses import replace

from ..data import Runs, design
from ..errors import FitError, InputError
from ..laws import Law, get_law
from ..laws._transforms import near_bound
from ..uncertainty import Bootstrap, check_options, resample
from ._newton import CONVERGED, STATUS_NAMES
from ._problem import Spec, compiled_fitted, make_data, unconstrain
from .losses import get_loss
from .methods import get_method, solve_replicates
from .result import FitResult, Starts

DEFAULT_METHOD = "varpro"
BEST_RTOL = 1e-6


def fit(
    law: str | Law,
    runs,
    *,
    x: Mapping[str, str] | None = None,
    y: str | None = None,
    where: str | None = None,
    include_excluded: bool = False,
    fix: Mapping[str, float] | None = None,
    loss: str = "huber",
    delta: float = 1e-3,
    method: str = DEFAULT_METHOD,
    starts: int | None = None,
    rng: int | np.random.Generator | None = None,
    bootstrap: int = 0,
    resample: str = "rows",
    cluster: str | None = None,
    level: float = 0.95,
    weights: str | None = None,
) -> FitResult:
    """Fit ``law`` to ``runs``.

    Args:
        law: a registered name or a `Law`.
        runs: a `Runs`, a DataFrame or a mapping of columns.
        x: law input -> column (common names such as ``N``, ``params``, ``tokens`` need none).
        y: target column (default: the table's declared target, else ``loss``/``y``/...).
        where: a pandas expression selecting the rows to fit (``"C < 1e21"``).
        include_excluded: also fit rows the ``excluded`` column marks.
        fix: parameters held at given values.
        loss: ``huber`` (default, summed over points, on log residuals), ``mse`` or ``huber-mle``.
        delta: the Huber threshold (1e-3, the Chinchilla objective).
        method: ``varpro`` (default) or ``hoffmann2022``.
        starts: grid size for the default method's screen (default 256).
        rng: seed or generator: jitters the start grid and draws the bootstrap replicates
            (``None``: the fixed grid, and replicates from seed 0).
        bootstrap: number of bootstrap replicates (0: none); see `scalinglaws.uncertainty`.
        resample: ``rows``, ``clusters`` (with ``cluster=COLUMN``) or ``residuals`` (wild).
        level: the level of the percentile intervals in ``result.bootstrap.ci``.
        weights: a column of non-negative per-run weights (a run with weight 0 is left out of the
            fit but keeps the problem's shape, so folds of one table share a compiled solver).

    Returns:
        A `FitResult`. Raises `InputError` for bad input and `FitError` if every start failed.

    Example:
        >>> import scalinglaws as sl
        >>> r = sl.fit("chinchilla", sl.load_dataset("chinchilla"))
        >>> round(r.params["alpha"], 3), r.status
        (0.347, 'converged')
    """
    if isinstance(law, str) and law == "auto":
        from ..select import fit_auto

        return fit_auto(runs, x=x, y=y, where=where, include_excluded=include_excluded, fix=fix, loss=loss,
                        delta=delta, method=method, starts=starts, rng=rng, bootstrap=bootstrap, resample=resample,
                        cluster=cluster, level=level, weights=weights)
    law = get_law(law)
    loss_spec = get_loss(loss)
    check_options(bootstrap, resample, cluster, level)
    runs = Runs.coerce(runs)
    if cluster is not None and cluster not in runs.columns:
        raise InputError(f"--cluster column `{cluster}` not found; columns are {', '.join(runs.columns)}")
    if not (isinstance(delta, (int, float)) and math.isfinite(delta) and delta > 0):
        raise InputError(f"--delta must be a positive number; got {delta!r}")
    solver = get_method(method)
    fixed = _check_fix(law, fix or {})
    spec = Spec(law, tuple(n for n in law.param_names if n not in fixed), tuple(fixed), loss_spec.name)
    if not spec.free:
        raise InputError(f"--fix holds every parameter of law {law.name}; leave at least one free")
    dm = design(runs, law, x=x, y=y, where=where, include_excluded=include_excluded, n_free=len(spec.free))
    w = _weights(runs, dm, weights, len(spec.free))
    data = make_data(spec, dm.x, dm.y, fixed, float(delta), w)
    options = {}
    if method == "varpro":
        if starts is not None:
            if not (isinstance(starts, (int, np.integer)) and starts >= 1):
                raise InputError(f"--starts must be a positive integer; got {starts!r}")
            options["starts"] = int(starts)
        options["rng"] = None if rng is None else np.random.default_rng(rng)
    solved = solver(spec, data, **options)
    result = _result(spec, data, dm, w, solved, fixed, float(delta), method)
    if bootstrap:
        gen = np.random.default_rng(0 if rng is None else rng)
        clusters = runs.table[cluster].to_numpy()[dm.rows] if cluster else None
        result = replace(result, bootstrap=_bootstrap(spec, data, dm, w, result, solved, bootstrap, resample, clusters,
                                                      level, gen))
    return result


COLD_STARTS = 4  # a guard replicate's multi-start: the best candidates of the full-data screen


def _bootstrap(spec, data, dm, w0, result, solved, replicates, scheme, clusters, level, rng) -> Bootstrap:
    """Replicates refitted from the full-data optimum, with a guard.

    The guard refits a random 5% of the replicates (at least 10) from a cold multi-start (the best
    candidates of the full-data screen). If any finds a better optimum than its warm start, every
    replicate is refitted from the warm start and the cold starts together.
    """
    best = np.array([[result.params[n] for n in spec.free]])
    cold = solved.candidates[:COLD_STARTS]
    log_y = np.log(dm.y)
    log_fit = log_y - _fitted_at(spec, data, result.params)[0][: log_y.size]
    w, log_y_star = resample(scheme, replicates, log_y.size, rng, clusters=clusters, log_y=log_y, log_fit=log_fit)
    pad = np.asarray(data.log_y)[log_y.size:]  # zero-weight padding points (see make_data)
    w = np.concatenate([w * w0, np.zeros((replicates, pad.size))], axis=1)
    log_y_star = np.concatenate([log_y_star, np.broadcast_to(pad, (replicates, pad.size))], axis=1)
    guarded = rng.choice(replicates, size=min(replicates, max(10, replicates // 20)), replace=False)
    # one batch: every replicate from the warm start, the guarded ones also from each cold start
    lanes_w = np.concatenate([w, np.repeat(w[guarded], len(cold), axis=0)])
    lanes_y = np.concatenate([log_y_star, np.repeat(log_y_star[guarded], len(cold), axis=0)])
    starts = np.concatenate([np.repeat(best, replicates, axis=0), np.tile(cold, (len(guarded), 1))])
    theta_all, f_all, status_all = solve_replicates(spec, data, starts, lanes_w, lanes_y)
    theta_r, f_r, status = theta_all[:replicates], f_all[:replicates], status_all[:replicates]
    f_cold = f_all[replicates:].reshape(len(guarded), len(cold)).min(axis=1)
    beaten = int(np.sum(f_cold < f_r[guarded] - 1e-9 * np.abs(f_r[guarded])))
    if beaten:
        # every replicate from the warm start and each cold start, the best kept; the warm lanes and the
        # guarded replicates' cold lanes are done already, so only the rest's cold lanes are new
        rest = np.setdiff1d(np.arange(replicates), guarded)
        lane_theta = np.repeat(theta_r[:, None, :], 1 + len(cold), axis=1)
        lane_f = np.repeat(f_r[:, None], 1 + len(cold), axis=1)
        lane_status = np.repeat(status[:, None], 1 + len(cold), axis=1)
        k = len(spec.free)
        lane_theta[guarded, 1:] = theta_all[replicates:].reshape(len(guarded), len(cold), k)
        lane_f[guarded, 1:] = f_all[replicates:].reshape(len(guarded), len(cold))
        lane_status[guarded, 1:] = status_all[replicates:].reshape(len(guarded), len(cold))
        if rest.size:
            th, fc, sc = solve_replicates(spec, data, np.tile(cold, (rest.size, 1)), np.repeat(w[rest], len(cold), axis=0),
                                          np.repeat(log_y_star[rest], len(cold), axis=0))
            lane_theta[rest, 1:] = th.reshape(rest.size, len(cold), k)
            lane_f[rest, 1:] = fc.reshape(rest.size, len(cold))
            lane_status[rest, 1:] = sc.reshape(rest.size, len(cold))
        pick = np.argmin(np.where(np.isfinite(lane_f), lane_f, np.inf), axis=1)
        rows = np.arange(replicates)
        theta_r, f_r, status = lane_theta[rows, pick], lane_f[rows, pick], lane_status[rows, pick]
    ok = status == CONVERGED
    params = {n: tuple(float(v) for v in theta_r[ok, i]) for i, n in enumerate(spec.free)}
    params.update({n: (v,) * int(ok.sum()) for n, v in result.params.items() if n in spec.fixed})
    params = {n: params[n] for n in spec.law.param_names}
    return Bootstrap(scheme=scheme, level=float(level), params=params, n_replicates=int(replicates),
                     n_failed=int((~ok).sum()), n_guarded=int(guarded.size), n_guard_better=beaten,
                     residuals=tuple(float(v) for v in (log_y - log_fit)[w0 > 0]))


def _check_fix(law: Law, fix: Mapping[str, float]) -> dict[str, float]:
    out = {}
    for name, value in fix.items():
        prm = law.param(name)
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise InputError(f"--fix {name} must be a number; got {value!r}") from None
        lo, hi = prm.bounds
        if not (math.isfinite(v) and lo <= v <= hi):
            raise InputError(f"--fix {name} must be finite and within its bounds [{lo}, {hi}]; got {v!r}")
        out[name] = v
    return out


def _weights(runs: Runs, dm, column: str | None, n_free: int) -> np.ndarray:
    if column is None:
        return np.ones(dm.y.size)
    if column not in runs.columns:
        raise InputError(f"--weights column `{column}` not found; columns are {', '.join(runs.columns)}")
    w = pd.to_numeric(runs.table[column].iloc[dm.rows], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~(np.isfinite(w) & (w >= 0)))
    if bad.size:
        raise InputError(f"column `{column}` (weights) must be finite and non-negative; row {dm.rows[bad[0]] + 1} "
                         f"has {runs.table[column].iloc[dm.rows[bad[0]]]!r}")
    if np.count_nonzero(w) <= n_free:
        raise InputError(f"column `{column}` (weights) leaves {np.count_nonzero(w)} runs with positive weight; "
                         f"the law has {n_free} free parameters and needs at least {n_free + 1}")
    return w


def _fitted_at(spec, data, params) -> tuple[np.ndarray, dict[str, float]]:
    """Log residuals of ``data`` (padding included) and the loss's fitted parameters at ``params``."""
    r, extras = compiled_fitted(spec)(unconstrain(spec, {n: np.asarray(params[n]) for n in spec.free}), data)
    return np.asarray(r), {k: float(v) for k, v in extras.items()}


def _result(spec, data, dm, w, solved, fixed, delta, method) -> FitResult:
    f = np.where(np.isfinite(solved.objective), solved.objective, np.inf)
    ok = solved.status == CONVERGED
    if not np.isfinite(f).any():
        raise FitError(f"every start of law {spec.law.name} failed (non-finite objective); check the data and bounds")
    # the lowest objective, unless a converged start is within BEST_RTOL of it: an unconverged start that
    # is clearly lower shows the converged ones stopped in worse minima, and its status says it is uncertified
    best = int(np.argmin(f))
    tol = BEST_RTOL * max(abs(float(f[best])), 1e-300)
    near = np.flatnonzero(ok & (f <= f[best] + tol))
    if not ok[best] and near.size:
        best = int(near[np.argmin(f[near])])
    f_best = float(f[best])
    n_at_best = int(np.sum(f <= f_best + BEST_RTOL * max(abs(f_best), 1e-300)))
    params = {n: float(solved.theta[best, i]) for i, n in enumerate(spec.free)}
    params.update(fixed)
    params = {n: params[n] for n in spec.law.param_names}
    at_bound = tuple(n for n in spec.free if near_bound(params[n], spec.law.param(n).bounds))
    extras = _fitted_at(spec, data, params)[1]
    starts = Starts(
        params={n: tuple(float(v) for v in solved.theta[:, i]) for i, n in enumerate(spec.free)},
        objective=tuple(float(v) for v in solved.objective),
        status=tuple(STATUS_NAMES[int(s)] for s in solved.status),
        iterations=tuple(int(i) for i in solved.iterations),
    )
    notes = dm.notes + ((f"{dm.n_excluded} rows marked excluded were left out",) if dm.n_excluded else ())
    return FitResult(
        law=spec.law,
        params=params,
        objective=f_best,
        status=STATUS_NAMES[int(solved.status[best])],
        loss=spec.loss_name,
        delta=delta,
        method=method,
        n_points=int(np.count_nonzero(w)),
        n_starts=int(len(f)),
        n_at_best=n_at_best,
        n_screened=int(solved.n_screened),
        fixed=tuple(fixed),
        at_bound=at_bound,
        loss_params=extras,
        columns=dict(dm.columns),
        y_column=dm.y_column,
        x_range={k: (float(v[w > 0].min()), float(v[w > 0].max())) for k, v in dm.x.items()},
        n_excluded=dm.n_excluded,
        notes=notes,
        starts=starts,
    )
