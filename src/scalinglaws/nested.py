"""Nested cut-offs by scale inside the training runs: the backtests that law selection (`select`)
and interval calibration (`calibrate`) run without ever reading a held-out run.

The training runs are ordered by scale: the input itself for a single-input curve, the sum of the
log inputs (``log N + log D``) for a table. A fold trains on the runs up to a cut-off placed at a
fraction of the distinct scales and forecasts the larger ones. Folds that would train on the same
runs are one fold. A fold is the law's problem on all the runs with weight 0 past the cut-off, so
`backtests` solves the full fit and every fold of a law together, in one batched solve
(`fit.api.solve_each`): about the cost of one fit while the batch has room.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import InputError, ScalingLawsError
from .fit import FitResult, prepare
from .fit.api import DEFAULT_METHOD, Problem, reweighted, solve_each
from .laws import get_law, to_space

CUTS = (0.5, 0.6, 0.7, 0.8, 0.9)  # fractions of the distinct training scales the folds train on


@dataclass(frozen=True)
class Fold:
    cut: float  # the largest training scale (the product of the inputs for a table)
    train: np.ndarray  # boolean, per design row
    fraction: float  # of the distinct scales the cut-off was placed at


@dataclass(frozen=True)
class Backtests:
    """A law fitted on all the training runs and on each fold of ``plan`` (a fold's entry is the
    error that stopped it when it could not be fitted)."""

    problem: Problem
    full: FitResult
    starts: np.ndarray  # the full fit's independent starting points (for bootstrap replicates)
    plan: tuple[Fold, ...]
    fits: tuple[FitResult | ScalingLawsError, ...]

    @property
    def used(self) -> np.ndarray:
        """Per design row: positive weight (a training run)."""
        return self.problem.weights > 0

    @property
    def scale(self) -> np.ndarray:
        """Per design row (see `scale_of`)."""
        return scale_of(self.problem.design.x, self.full.law)


def backtests(law, runs, cuts, *, method=DEFAULT_METHOD, starts=None, rng=None, prune=None, **problem_options) -> Backtests:
    """``law`` fitted on ``runs`` and on the folds at ``cuts`` (fractions of the distinct training
    scales; folds that hold out no training run are dropped). Raises as `fit_law` when the full fit
    fails; a fold that fails keeps its error in ``fits``."""
    law = get_law(law)
    problem = prepare(law, runs, **problem_options)
    used = problem.weights > 0
    scale = scale_of(problem.design.x, law)
    plan = tuple(f for f in folds(np.where(used, scale, np.inf), cuts) if (~f.train & used).any())
    problems, fits = [problem], []
    for fold in plan:
        try:
            problems.append(reweighted(problem, np.where(fold.train, problem.weights, 0.0)))
            fits.append(len(problems) - 1)
        except InputError as exc:  # said in the user's terms
            fits.append(InputError(f"the runs up to the cut-off (scale {fold.cut:.4g}): {exc}"))
    solved = solve_each(problems, method=method, starts=starts, rng=rng, prune=prune)
    if isinstance(solved[0], ScalingLawsError):
        raise solved[0]
    full, start_points = solved[0]
    fits = tuple(f if isinstance(f, ScalingLawsError) else
                 (solved[f] if isinstance(solved[f], ScalingLawsError) else solved[f][0]) for f in fits)
    return Backtests(problem, full, start_points, plan, fits)


def scale_of(x: dict[str, np.ndarray], law) -> np.ndarray:
    """The scale the cut-offs order runs by: log10 of the product of a design's positive inputs,
    each of the law's `falling_inputs` (a loss) taken inverted; for a law that takes no powers of
    its inputs (a loss, capability measures that may be negative), its first input's value, negated
    when it falls with scale."""
    names = [n for n in x if n in law.log_inputs]
    sign = {n: -1.0 if n in law.falling_inputs else 1.0 for n in x}
    if not names:
        first = next(iter(x))
        return sign[first] * np.asarray(x[first], dtype=np.float64)
    return np.sum([sign[n] * np.log10(np.asarray(x[n], dtype=np.float64)) for n in names], axis=0)


def folds(scale: np.ndarray, cuts) -> list[Fold]:
    """One fold per cut fraction (ascending) of the distinct (finite) scales; distinct training sets
    only: a fraction that gives the same runs as the one before it takes over that fold (its
    ``fraction`` is the latest that gives it, so a fold is late when any late cut-off gives it)."""
    levels = np.unique(scale[np.isfinite(scale)])
    out: list[Fold] = []
    for fraction in sorted(cuts):
        if not levels.size:
            break
        cut = levels[max(0, math.ceil(fraction * levels.size) - 1)]
        train = scale <= cut
        if train.all() or not train.any():
            continue
        if out and int(out[-1].train.sum()) == int(train.sum()):
            out.pop()
        out.append(Fold(float(10.0 ** cut), train, fraction))
    return out


def held_out_errors(result: FitResult, bt: Backtests, fold: Fold, space: str) -> np.ndarray:
    """``y_hat - y`` in ``space`` (``log y_hat - log y`` for ``"log"``) at the fold's held-out
    training runs (inf where the law is not finite there)."""
    test = ~fold.train & bt.used
    dm = bt.problem.design
    with np.errstate(all="ignore"):
        y_hat = result.law.predict(result.params, {k: v[test] for k, v in dm.x.items()})
        e = to_space(space, y_hat) - to_space(space, dm.y[test])
    return np.where(np.isfinite(e), e, np.inf)


def errors_by_cut(law, runs, *, cuts=CUTS, **options):
    """Each fold's forecasts of the runs beyond its cut-off, one row per (fold, held-out run):
    ``fraction`` and ``cut`` (the fold's largest training scale: the product of the inputs, or for a
    law that takes no logs the input's value), ``row`` (1-based, in the table), ``decades`` (how far
    beyond the fold's training runs, `FitResult.decades_beyond`; 0 for inputs the law takes no logs
    of), ``beyond`` (how far past the cut-off along the scale: decades of the product, or the input's
    own units), ``error`` (``log y_hat - log y``, or ``y_hat - y`` for a law fitted on y itself; inf
    where the law is not finite) and ``status`` of the fold's fit. ``attrs``: ``space``,
    ``beyond_unit``, ``distance`` (the column that says how far out, and its label: ``decades`` for a
    law that takes logs, else ``beyond``), and ``failed``: the folds whose fit failed (``fraction, cut, reason``), which
    have no rows. ``options`` go to `backtests`."""
    import pandas as pd

    bt = backtests(law, runs, cuts, **options)
    law = bt.full.law
    space = law.space
    dm = bt.problem.design
    logs = any(n in law.log_inputs for n in dm.x)
    sign = -1.0 if not logs and next(iter(dm.x)) in law.falling_inputs else 1.0
    scale = bt.scale
    frames, failed = [], []
    for fold, result in zip(bt.plan, bt.fits):
        level = math.log10(fold.cut)  # `folds` keeps 10 ** (the scale at the cut-off)
        cut = fold.cut if logs else sign * level
        if isinstance(result, ScalingLawsError):
            failed.append({"fraction": fold.fraction, "cut": cut, "reason": str(result)})
            continue
        test = ~fold.train & bt.used
        frames.append(pd.DataFrame({
            "fraction": fold.fraction, "cut": cut, "row": dm.rows[test] + 1,
            "decades": result.decades_beyond({k: v[test] for k, v in dm.x.items()}),
            "beyond": scale[test] - level,
            "error": held_out_errors(result, bt, fold, space), "status": result.status}))
    columns = ["fraction", "cut", "row", "decades", "beyond", "error", "status"]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    names = [n for n in dm.x if n in law.log_inputs]
    table.attrs.update(space=space, failed=failed, beyond_unit=(
        f"decades of {' x '.join(names)}" if logs else f"{next(iter(dm.x))} (its own units)"),
        distance=("decades", "decades beyond the fold's training runs") if logs else
        ("beyond", f"past the fold's cut-off, in {next(iter(dm.x))}'s own units"))
    return table


__all__ = ["CUTS", "Backtests", "Fold", "backtests", "errors_by_cut", "folds", "held_out_errors", "scale_of"]
