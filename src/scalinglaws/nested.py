"""Nested cut-offs by scale inside the training runs: the backtests that law selection (`select`)
and interval calibration (`calibrate`) run without ever reading a held-out run.

The training runs are ordered by scale: the input itself for a single-input curve, the sum of the
log inputs (``log N + log D``) for a table. A fold trains on the runs up to a cut-off placed at a
fraction of the distinct scales and forecasts the larger ones. Folds that would train on the same
runs are one fold. Each fold's fit sees the whole table with zero weight on the runs past the
cut-off, so every fold of one table shares the compiled solver of one problem size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .data import Runs
from .data.runs import Design
from .errors import InputError
from .fit import FitResult, fit_law
from .laws import get_law, to_space

FOLD_WEIGHT = "__scalinglaws_fold_weight__"


@dataclass(frozen=True)
class Fold:
    cut: float  # the largest training scale (the product of the inputs for a table)
    train: np.ndarray  # boolean, per design row
    fraction: float  # of the distinct scales the cut-off was placed at


def scale_of(x: dict[str, np.ndarray], log_inputs) -> np.ndarray:
    """log10 of the product of a design's positive inputs (the scale the cut-offs order runs by)."""
    names = [n for n in x if n in log_inputs] or list(x)
    return np.sum([np.log10(np.asarray(x[n], dtype=np.float64)) for n in names], axis=0)


def folds(scale: np.ndarray, cuts) -> list[Fold]:
    """One fold per cut fraction of the distinct (finite) scales; distinct training sets only."""
    levels = np.unique(scale[np.isfinite(scale)])
    out, seen = [], set()
    for fraction in cuts:
        cut = levels[max(0, math.ceil(fraction * levels.size) - 1)]
        train = scale <= cut
        if train.all() or not train.any() or int(train.sum()) in seen:
            continue
        seen.add(int(train.sum()))
        out.append(Fold(float(10.0 ** cut), train, fraction))
    return out


def fit_fold(law, runs: Runs, dm: Design, fold: Fold, base_weights: np.ndarray, **fit_options) -> FitResult:
    """``law`` fitted on the fold's training runs only (the others keep the shape, at weight 0)."""
    w = np.zeros(len(runs.table))
    w[dm.rows[fold.train]] = base_weights[dm.rows[fold.train]]
    law = get_law(law)
    n_free = len(law.params) - len(fit_options.get("fix") or {})
    if np.count_nonzero(w) <= n_free:  # said here, in the user's terms (the weights column is ours)
        raise InputError(f"the {np.count_nonzero(w)} runs up to the cut-off (scale {fold.cut:.4g}) are too few for "
                         f"the {n_free} free parameters of law {law.name}")
    table = runs.table.assign(**{FOLD_WEIGHT: w})
    fold_runs = Runs(table, source=runs.source, excluded=runs.excluded, y=runs.y)
    return fit_law(law, fold_runs, weights=FOLD_WEIGHT, **fit_options)


def held_out_errors(result: FitResult, dm: Design, fold: Fold, space: str) -> np.ndarray:
    """``y_hat - y`` in ``space`` (``log y_hat - log y`` for ``"log"``) at the fold's held-out runs
    (inf where the law is not finite there)."""
    test = ~fold.train
    with np.errstate(all="ignore"):
        y_hat = result.law.predict(result.params, {k: v[test] for k, v in dm.x.items()})
        e = to_space(space, y_hat) - to_space(space, dm.y[test])
    return np.where(np.isfinite(e), e, np.inf)


def base_weights(runs: Runs, weights: str | None) -> np.ndarray:
    return np.ones(len(runs.table)) if weights is None else runs.table[weights].to_numpy(dtype=np.float64)


__all__ = ["FOLD_WEIGHT", "Fold", "base_weights", "fit_fold", "folds", "held_out_errors", "scale_of"]
