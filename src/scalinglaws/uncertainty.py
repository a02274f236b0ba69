"""Bootstrap uncertainty: resampling schemes, replicate refits, standard errors and intervals.

Schemes (each replicate is a reweighting or a re-draw of the same runs, refitted by the batched
engine, all replicates in one computation):

* ``rows``: resample runs with replacement (multinomial counts as weights);
* ``clusters``: resample whole groups (e.g. every checkpoint of one model) with replacement, so
  repeated measurements of one configuration are not treated as independent;
* ``residuals``: a wild bootstrap for designed grids: keep the inputs, redraw each target as
  ``fit * exp(v_i r_i)`` with Rademacher signs ``v_i`` on the log residuals ``r_i`` (``fit + v_i r_i``
  for a law fitted in linear space).

Every replicate is refitted from a guarded warm start: the full-data optimum. A random sample of
the replicates (5%, at least 10) is also refitted from independent starts (the method's own
distinct candidates: screened grid points from separate neighbourhoods, or the published grid
points of ``hoffmann2022``); if any of them finds a better optimum than the warm start, every
replicate is refitted from those starts too and keeps its best. ``n_failed`` counts replicates
whose best start did not converge: they are left out, and when too few converged (fewer than
80%, or than 10: `too_few_converged`) the bootstrap refuses to report anything.
"""

from __future__ import annotations

import numpy as np

from ._jax import float64
from ._progress import stage
from .errors import InputError
from .fit.api import Problem, fitted_at
from .fit.methods import solve_replicates
from .fit.records import Bootstrap  # refuses too few converged replicates (`too_few_converged`)
from .fit.result import FitResult
from .fit._newton import CONVERGED

SCHEMES = ("rows", "clusters", "residuals")
GUARD_STARTS = 4  # independent starts per guarded replicate
SAME_OPTIMUM = 1e-9  # objectives closer than this (relative) are one optimum


@float64
def bootstrap(problem: Problem, result: FitResult, starts: np.ndarray, replicates: int, scheme: str,
              clusters, level: float, rng: np.random.Generator) -> Bootstrap:
    """Refit ``replicates`` resamples of ``problem`` (see the module docstring); ``starts`` are the
    method's independent starting points (parameter values, one row each)."""
    spec, data, dm, w0 = problem.spec, problem.data, problem.design, problem.weights
    best = np.array([[result.params[n] for n in spec.free]])
    cold = starts[:GUARD_STARTS]
    t_y = spec.law.to_space(dm.y)  # targets in the law's residual space (log y for losses)
    t_fit = t_y - fitted_at(problem, result.params)[0][: t_y.size]
    w, t_y_star = resample(scheme, replicates, t_y.size, rng, clusters=clusters, t_y=t_y, t_fit=t_fit)
    pad = np.asarray(data.t_y)[t_y.size:]  # zero-weight padding points (see make_data)
    w = np.concatenate([w * w0, np.zeros((replicates, pad.size))], axis=1)
    t_y_star = np.concatenate([t_y_star, np.broadcast_to(pad, (replicates, pad.size))], axis=1)
    guarded = rng.choice(replicates, size=min(replicates, max(10, replicates // 20)), replace=False)
    # one batch: every replicate from the warm start, the guarded ones also from each independent start
    lanes_w = np.concatenate([w, np.repeat(w[guarded], len(cold), axis=0)])
    lanes_y = np.concatenate([t_y_star, np.repeat(t_y_star[guarded], len(cold), axis=0)])
    lanes_start = np.concatenate([np.repeat(best, replicates, axis=0), np.tile(cold, (len(guarded), 1))])
    with stage(f"bootstrap: refitting {replicates} resamples ({len(lanes_start)} fits with the guard starts)",
               total=len(lanes_start), lanes=True):
        theta_all, f_all, status_all = solve_replicates(spec, data, lanes_start, lanes_w, lanes_y)
    theta_r, f_r, status = theta_all[:replicates], f_all[:replicates], status_all[:replicates]
    f_cold = f_all[replicates:].reshape(len(guarded), len(cold)).min(axis=1)
    beaten = int(np.sum(f_cold < f_r[guarded] - SAME_OPTIMUM * np.abs(f_r[guarded])))
    if beaten:
        theta_r, f_r, status = _multistart_all(problem, cold, w, t_y_star, guarded, (theta_r, f_r, status),
                                               (theta_all, f_all, status_all))
    else:  # a guarded replicate whose independent start converged to the same optimum is not a failure
        lanes = [np.concatenate([x[guarded][:, None], x[replicates:].reshape(len(guarded), len(cold), *x.shape[1:])],
                                axis=1) for x in (theta_all, f_all, status_all)]
        theta_r, f_r, status = theta_r.copy(), f_r.copy(), status.copy()
        theta_r[guarded], f_r[guarded], status[guarded] = _keep_best(*lanes)
    ok = status == CONVERGED
    n_ok = int(ok.sum())
    params = {n: tuple(float(v) for v in theta_r[ok, i]) for i, n in enumerate(spec.free)}
    params.update({n: (v,) * n_ok for n, v in result.params.items() if n in spec.fixed})
    params = {n: params[n] for n in spec.law.param_names}
    return Bootstrap(scheme=scheme, level=float(level), params=params, n_replicates=int(replicates),
                     n_failed=replicates - n_ok, n_guarded=int(guarded.size), n_guard_better=beaten,
                     residuals=tuple(float(v) for v in (t_y - t_fit)[w0 > 0]))


def _multistart_all(problem, cold, w, t_y_star, guarded, warm, first):
    """Every replicate from the warm start and each independent start, its best kept. The warm lanes
    and the guarded replicates' independent lanes are done already (``warm``, ``first``), so only
    the other replicates' independent lanes are new."""
    spec = problem.spec
    theta_r, f_r, status = warm
    theta_all, f_all, status_all = first
    replicates, k, m = len(f_r), len(spec.free), 1 + len(cold)
    rest = np.setdiff1d(np.arange(replicates), guarded)
    lane_theta = np.repeat(theta_r[:, None, :], m, axis=1)
    lane_f = np.repeat(f_r[:, None], m, axis=1)
    lane_status = np.repeat(status[:, None], m, axis=1)
    lane_theta[guarded, 1:] = theta_all[replicates:].reshape(len(guarded), len(cold), k)
    lane_f[guarded, 1:] = f_all[replicates:].reshape(len(guarded), len(cold))
    lane_status[guarded, 1:] = status_all[replicates:].reshape(len(guarded), len(cold))
    if rest.size:
        with stage("bootstrap: refitting every resample from independent starts", total=rest.size * len(cold),
                   lanes=True):
            th, fc, sc = solve_replicates(spec, problem.data, np.tile(cold, (rest.size, 1)),
                                          np.repeat(w[rest], len(cold), axis=0),
                                          np.repeat(t_y_star[rest], len(cold), axis=0))
        lane_theta[rest, 1:] = th.reshape(rest.size, len(cold), k)
        lane_f[rest, 1:] = fc.reshape(rest.size, len(cold))
        lane_status[rest, 1:] = sc.reshape(rest.size, len(cold))
    return _keep_best(lane_theta, lane_f, lane_status)


def _keep_best(lane_theta, lane_f, lane_status):
    """Per replicate (row), its best lane; a converged lane as good as the best (within
    `SAME_OPTIMUM`) is preferred to an unconverged one."""
    rows = np.arange(lane_f.shape[0])
    finite_f = np.where(np.isfinite(lane_f), lane_f, np.inf)
    pick = np.argmin(finite_f, axis=1)
    converged_f = np.where(lane_status == CONVERGED, finite_f, np.inf)
    pick_converged = np.argmin(converged_f, axis=1)
    best = finite_f[rows, pick]
    as_good = converged_f[rows, pick_converged] <= best + SAME_OPTIMUM * np.abs(best)
    pick = np.where(as_good, pick_converged, pick)
    return lane_theta[rows, pick], lane_f[rows, pick], lane_status[rows, pick]


def check_options(replicates, scheme: str, cluster, level: float) -> None:
    if not (isinstance(replicates, (int, np.integer)) and not isinstance(replicates, bool) and replicates >= 0):
        raise InputError(f"--bootstrap must be a non-negative integer; got {replicates!r}")
    if 0 < replicates < 10:
        raise InputError(f"--bootstrap needs at least 10 replicates for an interval; got {replicates}")
    if scheme not in SCHEMES:
        raise InputError(f"--resample must be one of {', '.join(SCHEMES)}; got `{scheme}`")
    if scheme == "clusters" and not cluster:
        raise InputError("--resample clusters needs --cluster COLUMN (the column that names each configuration)")
    if not (0.0 < level < 1.0):
        raise InputError(f"--level must lie strictly between 0 and 1; got {level!r}")


def resample(scheme: str, replicates: int, n: int, rng: np.random.Generator, *, clusters=None,
             t_y=None, t_fit=None) -> tuple[np.ndarray, np.ndarray]:
    """Per-replicate ``(weights, t_y)``, each ``(replicates, n)``."""
    if scheme == "rows":
        w = rng.multinomial(n, np.full(n, 1.0 / n), size=replicates).astype(np.float64)
        return w, np.broadcast_to(t_y, (replicates, n))
    if scheme == "clusters":
        labels, index = np.unique(np.asarray(clusters), return_inverse=True)
        counts = rng.multinomial(len(labels), np.full(len(labels), 1.0 / len(labels)), size=replicates)
        return counts[:, index].astype(np.float64), np.broadcast_to(t_y, (replicates, n))
    signs = rng.choice(np.array([-1.0, 1.0]), size=(replicates, n))
    return np.ones((replicates, n)), t_fit + signs * (t_y - t_fit)
