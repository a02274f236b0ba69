"""The engine's entry points: `prepare` a problem from runs and a law, `solve` it, or both in
`fit_law`. A problem in, a `FitResult` out: no bootstrap, no law selection (those sit above)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Mapping

import numpy as np
import pandas as pd

from .._jax import float64, release_programs_if_crowded
from ..data import Runs, design
from ..data.runs import Design
from ..errors import FitError, InputError
from ..laws import Law, get_law
from ._diagnose import at_bound, diagnose
from ._identify import check_identifiable
from ._newton import CONVERGED, MAX_ITERATIONS, STATUS_NAMES, STOPPED
from ._problem import Data, Spec, compiled_fitted, make_data, stack_rows, unconstrain
from .losses import get_loss
from .methods import get_method
from .result import FitResult, Starts

DEFAULT_METHOD = "varpro"
#: the Huber threshold by residual space: 0.1% relative error on log values (the Chinchilla
#: objective); one point of a bounded metric (about the sampling noise of a benchmark of a few
#: thousand items) in linear space
DEFAULT_DELTA = {"log": 1e-3, "linear": 1e-2}
BEST_RTOL = 1e-6
#: starts whose result may be reported: not failed, not pruned, inside the bounds
ELIGIBLE = (CONVERGED, MAX_ITERATIONS, STOPPED)


@dataclass(frozen=True)
class Problem:
    """A validated fitting problem: the law's spec, the traced data and the rows they came from."""

    spec: Spec
    data: Data
    design: Design
    weights: np.ndarray  # per selected row; 0 leaves a row out but keeps the problem's shape
    fixed: dict[str, float]
    delta: float
    mapped: tuple[str, ...] = ()  # the columns found by their common names, not named by the user


@float64
def prepare(law: str | Law, runs, *, x: Mapping[str, str] | None = None, y: str | None = None,
            where: str | None = None, include_excluded: bool = False, fix: Mapping[str, float] | None = None,
            loss: str = "huber", delta: float | None = None, weights: str | None = None,
            dropna: bool = False) -> Problem:
    """Validate everything the fit depends on, once; raises `InputError` naming what is wrong."""
    release_programs_if_crowded()  # each fit may compile for new sizes: make room first if the process is crowded
    spec, fixed, delta = problem_spec(law, loss, delta, fix)
    runs = Runs.coerce(runs)
    dm = design(runs, spec.law, x=x, y=y, where=where, include_excluded=include_excluded, n_free=len(spec.free),
                dropna=dropna)
    w = _weights(runs, dm, weights, len(spec.free))
    return problem_of(spec, dm, w, fixed, delta, mapped_columns(dm, x, y))


def problem_spec(law: str | Law, loss: str, delta: float | None, fix: Mapping[str, float] | None
                 ) -> tuple[Spec, dict[str, float], float]:
    """The static part of a problem (checked): its spec, the fixed values and the loss scale."""
    law = get_law(law)
    loss_spec = get_loss(loss)
    delta = DEFAULT_DELTA[law.space] if delta is None else delta
    if not (isinstance(delta, (int, float)) and math.isfinite(delta) and delta > 0):
        raise InputError(f"--delta must be a positive number; got {delta!r}")
    fixed = _check_fix(law, fix or {})
    spec = Spec(law, tuple(n for n in law.param_names if n not in fixed), tuple(fixed), loss_spec.name)
    if not spec.free:
        raise InputError(f"--fix holds every parameter of law {law.name}; leave at least one free")
    return spec, fixed, float(delta)


def problem_of(spec: Spec, dm: Design, w: np.ndarray, fixed: dict[str, float], delta: float,
               mapped: tuple[str, ...]) -> Problem:
    """The problem of the design rows ``dm`` weighted ``w``; refused when the law cannot be identified on them."""
    data = make_data(spec, dm.x, dm.y, fixed, delta, w)
    check_identifiable(spec, data, dm, w)
    return Problem(spec, data, dm, w, fixed, delta, mapped)


def mapped_columns(dm: Design, x: Mapping[str, str] | None, y: str | None) -> tuple[str, ...]:
    """The columns found by their common names, not named by the user (said in the fit's notes)."""
    mapped = tuple(f"{name} <- `{col}`" for name, col in dm.columns.items() if name not in (x or {}) and col != name)
    return mapped + ((f"y <- `{dm.y_column}`",) if y is None and dm.y_column != "y" else ())


@float64
def solve(problem: Problem, *, method: str = DEFAULT_METHOD, starts: int | None = None, rng=None,
          prune: bool | None = None) -> tuple[FitResult, np.ndarray]:
    """Run ``method`` on ``problem``: the `FitResult` and independent starting points (parameter
    values, one row each) that refits of the same problem (bootstrap replicates) can start from.

    Options a method does not use are an error: ``starts`` and ``rng`` are the default method's
    (its screening grid and its jitter), ``prune`` is ``hoffmann2022``'s.
    """
    out = solve_each([problem], method=method, starts=starts, rng=rng, prune=prune)[0]
    if isinstance(out, FitError):
        raise out
    return out


@float64
def solve_each(problems: list[Problem], *, method: str = DEFAULT_METHOD, starts: int | None = None, rng=None,
               prune: bool | None = None) -> list[tuple[FitResult, np.ndarray] | FitError]:
    """`solve` for problems of one spec in one batched solve with the default method: problems that
    differ in their weights only (`reweighted` copies of one problem: nested folds), or in their runs
    too (the groups of a table, `fit.groups.prepare_groups`). A problem without a usable fit gives
    its `FitError` in place of the result."""
    options = _method_options(method, starts, rng, prune)
    spec, solver = problems[0].spec, get_method(method)
    if all(p.data.x is problems[0].data.x and p.data.t_y is problems[0].data.t_y for p in problems):
        solved = solver(spec, problems[0].data, np.stack([p.data.w for p in problems]), **options)
    elif method == DEFAULT_METHOD:  # the groups of a table: one row of inputs and targets each
        rows = stack_rows([p.data for p in problems])
        solved = solver(spec, rows, rows.w, **options)
    else:
        solved = [solver(spec, p.data, p.data.w[None], **options)[0] for p in problems]
    out = []
    for p, s in zip(problems, solved):
        try:
            out.append((_result(p, s, method), s.candidates))
        except FitError as exc:
            out.append(exc)
    return out


def reweighted(problem: Problem, w: np.ndarray) -> Problem:
    """``problem`` with the weights ``w`` per selected row (0 leaves a run out but keeps the
    problem's shape, so the copies solve together in `solve_each`); refused like `prepare` when the
    runs left are too few for the free parameters."""
    n_free = len(problem.spec.free)
    if np.count_nonzero(w) <= n_free:
        raise InputError(f"the {np.count_nonzero(w)} runs left are too few for the {n_free} free parameters of "
                         f"law {problem.spec.law.name}")
    data = problem.data._replace(w=np.concatenate([w, np.zeros(np.size(problem.data.w) - w.size)]))
    check_identifiable(problem.spec, data, problem.design, w)
    return replace(problem, data=data, weights=np.asarray(w, dtype=np.float64))


def _method_options(method: str, starts, rng, prune) -> dict:
    get_method(method)
    options = {}
    if method == "varpro":
        if prune is not None:
            raise InputError("--prune/--no-prune applies to --method hoffmann2022 only; the default method "
                             "does not prune its starts")
        if starts is not None:
            if not (isinstance(starts, (int, np.integer)) and not isinstance(starts, bool) and starts >= 1):
                raise InputError(f"--starts must be a positive integer; got {starts!r}")
            options["starts"] = int(starts)
        options["rng"] = None if rng is None else np.random.default_rng(rng)
    else:
        for name, value in (("--starts", starts), ("--seed", rng)):
            if value is not None:
                raise InputError(f"{name} is not used by --method {method} (it runs the published grid of starts); "
                                 f"got {value!r}")
        if prune is not None:
            options["prune"] = bool(prune)
    return options


def fit_law(law: str | Law, runs, *, method: str = DEFAULT_METHOD, starts: int | None = None, rng=None,
            prune: bool | None = None, **problem) -> FitResult:
    """`prepare` and `solve` in one call (the point fit only)."""
    return solve(prepare(law, runs, **problem), method=method, starts=starts, rng=rng, prune=prune)[0]


@float64
def fitted_at(problem: Problem, params: Mapping[str, float]) -> tuple[np.ndarray, dict[str, float], float]:
    """At ``params``: log residuals of the problem's data (padding included), the loss's fitted
    parameters and the objective's rounding level (see `_problem.fitted`)."""
    spec = problem.spec
    r, extras, rounding = compiled_fitted(spec)(unconstrain(spec, {n: np.asarray(params[n]) for n in spec.free}),
                                                problem.data)
    return np.asarray(r), {k: float(v) for k, v in extras.items()}, float(rounding)


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
    check_positive_weights(column, w, n_free)
    return w


def check_positive_weights(column: str, w: np.ndarray, n_free: int) -> None:
    """Refuse weights (column ``column``) that leave no more runs than the law has free parameters."""
    if np.count_nonzero(w) <= n_free:
        raise InputError(f"column `{column}` (weights) leaves {np.count_nonzero(w)} runs with positive weight; "
                         f"the law has {n_free} free parameters and needs at least {n_free + 1}")


def _result(problem: Problem, solved, method: str) -> FitResult:
    spec, dm, w = problem.spec, problem.design, problem.weights
    eligible = np.isin(solved.status, ELIGIBLE) & np.isfinite(solved.objective)
    if not eligible.any():
        counts = _status_counts(solved.status)
        raise FitError(f"no start of law {spec.law.name} ended with a usable fit ({_describe(counts)}); "
                       "check the data, the bounds and the law")
    f = np.where(eligible, solved.objective, np.inf)
    ok = solved.status == CONVERGED
    # the lowest objective, unless a converged start is as low (within BEST_RTOL, or the objective's
    # rounding level): an unconverged start that is clearly lower shows the converged ones stopped in
    # worse minima, and its status says it is uncertified
    best = int(np.argmin(f))
    _, extras, rounding = fitted_at(problem, _params(problem, solved.theta[best]))
    tol = BEST_RTOL * abs(float(f[best])) + rounding
    near = np.flatnonzero(ok & (f <= f[best] + tol))
    if not ok[best] and near.size:
        best = int(near[np.argmin(f[near])])
        extras = fitted_at(problem, _params(problem, solved.theta[best]))[1]
    f_best = float(f[best])
    n_at_best = int(np.sum(ok & (f <= f_best + tol)))  # independent converged starts that reached the best
    params = _params(problem, solved.theta[best])
    used = w > 0
    x_used = {k: v[used] for k, v in dm.x.items()}
    fitted = spec.law.predict(params, x_used)  # the fit at the runs: read by both checks below
    at = tuple(n for n in spec.free if at_bound(spec.law, params, n, x_used, fitted))
    starts = Starts(
        params={n: tuple(float(v) for v in solved.theta[:, i]) for i, n in enumerate(spec.free)},
        objective=tuple(float(v) for v in solved.objective),
        status=tuple(STATUS_NAMES[int(s)] for s in solved.status),
        iterations=tuple(int(i) for i in solved.iterations),
    )
    notes = dm.notes + ((f"{dm.n_excluded} rows marked excluded were left out",) if dm.n_excluded else ())
    notes += (f"columns found by their common names: {', '.join(problem.mapped)}",) if problem.mapped else ()
    return FitResult(
        law=spec.law,
        params=params,
        objective=f_best,
        status=STATUS_NAMES[int(solved.status[best])],
        loss=spec.loss_name,
        delta=problem.delta,
        method=method,
        n_points=int(np.count_nonzero(w)),
        n_starts=int(len(f)),
        n_at_best=n_at_best,
        n_screened=int(solved.n_screened),
        status_counts=_status_counts(solved.status),
        fixed=tuple(problem.fixed),
        at_bound=at,
        warnings=diagnose(spec, dm, used, params, at, fitted),
        loss_params=extras,
        columns=dict(dm.columns),
        y_column=dm.y_column,
        x_range={k: (float(v[w > 0].min()), float(v[w > 0].max())) for k, v in dm.x.items()},
        n_excluded=dm.n_excluded,
        notes=notes,
        starts=starts,
    )


def _params(problem: Problem, theta: np.ndarray) -> dict[str, float]:
    """All of the law's parameters, in its order, from the free values ``theta`` and the fixed ones."""
    params = {n: float(theta[i]) for i, n in enumerate(problem.spec.free)} | problem.fixed
    return {n: params[n] for n in problem.spec.law.param_names}


def _status_counts(status: np.ndarray) -> dict[str, int]:
    codes, counts = np.unique(np.asarray(status), return_counts=True)
    return {STATUS_NAMES[int(c)]: int(n) for c, n in zip(codes, counts)}


def _describe(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {name}" for name, n in counts.items())


__all__ = ["DEFAULT_METHOD", "Problem", "fit_law", "fitted_at", "prepare", "reweighted", "solve", "solve_each"]
