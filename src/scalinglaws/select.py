"""``--law auto``: choose a law by backtesting it inside the training data only (nested selection).

The training runs are ordered by scale (the input itself for a single-input curve; the product of
the inputs, e.g. ``N D``, for a multi-input table). For each of a few growing cut-offs, every
applicable law is fitted on the runs up to the cut-off and scored on the larger ones it did not see
(RMSE of log values). The law with the lowest mean score wins (laws whose scores agree to
``TOLERANCE`` are the same fit, e.g. ``m2`` and ``power_law_offset``: the one with the fewest
parameters is taken). It is then refitted on all the training runs. Runs outside the training
selection (``where``) are never read.

The cut-offs train on 70, 80 and 90% of the distinct training scales: late cut-offs look most like
the forecast that is asked for (extrapolating from all the runs), and on the Pythia learning curves
(benchmarks/bench_auto.py) they chose better than earlier or more cut-offs, medians or ranks.
"""

from __future__ import annotations

import math

import numpy as np

from .data import Runs, design
from .errors import InputError, ScalingLawsError
from .fit import fit_law
from .fit.records import CandidateScore, Selection
from .laws import Law, list_laws

CUTS = (0.7, 0.8, 0.9)  # fractions of the distinct training scales each fold trains on
TOLERANCE = 1e-6  # relative: scores this close are ties (the same fit); the simplest law is taken
_FOLD_WEIGHT = "__scalinglaws_fold_weight__"


def applicable_laws(runs: Runs, *, x=None, y=None, where=None, include_excluded=False) -> list[Law]:
    """Registered laws whose inputs the table has (the ones using the most inputs), with a target
    inside the law's range (bounded-metric laws only for targets in it)."""
    found = []
    for law in list_laws():
        try:
            dm = design(runs, law, x=x, y=y, where=where, include_excluded=include_excluded, n_free=0)
        except InputError:
            continue
        if law.y_range is not None and not np.all((dm.y >= law.y_range[0]) & (dm.y <= law.y_range[1])):
            continue
        found.append(law)
    if not found:
        raise InputError("--law auto found no registered law whose inputs are all columns of the table; "
                         "map the scale column with --x x=COLUMN (curves) or --x N=...,D=... (tables)")
    most = max(len(law.inputs) for law in found)
    return [law for law in found if len(law.inputs) == most]


def select_law(runs, *, candidates=None, x=None, y=None, where=None, include_excluded=False, weights=None,
               **fit_options) -> Selection:
    """Score every candidate by nested backtests on the training runs; returns the `Selection`."""
    runs = Runs.coerce(runs)
    laws = applicable_laws(runs, x=x, y=y, where=where, include_excluded=include_excluded) if candidates is None \
        else list(candidates)
    dm = design(runs, laws[0], x=x, y=y, where=where, include_excluded=include_excluded, n_free=0)
    scale = np.sum([np.log(v) for v in dm.x.values()], axis=0)
    base = np.ones(len(runs.table)) if weights is None else runs.table[weights].to_numpy(dtype=np.float64)
    levels = np.unique(scale)
    folds, masks = [], []
    for cut_fraction in CUTS:
        cut = levels[max(0, math.ceil(cut_fraction * levels.size) - 1)]
        train = scale <= cut
        if train.all() or not train.any():
            continue
        folds.append({"cut": float(math.exp(cut)), "n_train": int(train.sum()), "n_test": int((~train).sum())})
        masks.append(train)
    if not folds:
        raise InputError(f"--law auto needs runs at several scales to backtest inside the training data; "
                         f"the {dm.y.size} training runs have {levels.size} distinct scale(s)")
    scores = []
    for law in laws:
        errors, status = [], "scored"
        for train in masks:
            w = np.zeros(len(runs.table))
            w[dm.rows[train]] = base[dm.rows[train]]
            table = runs.table.assign(**{_FOLD_WEIGHT: w})
            fold_runs = Runs(table, source=runs.source, excluded=runs.excluded, y=runs.y)
            try:
                result = fit_law(law, fold_runs, x=x, y=y, where=where, include_excluded=include_excluded,
                             weights=_FOLD_WEIGHT, **fit_options)
            except ScalingLawsError as exc:
                status = f"not scored: {exc}"
                break
            with np.errstate(all="ignore"):
                e = np.log(result.predict({k: v[~train] for k, v in dm.x.items()})) - np.log(dm.y[~train])
            errors.append(float(np.sqrt(np.mean(e**2))) if np.all(np.isfinite(e)) else math.inf)
        score = float(np.mean(errors)) if status == "scored" else math.inf
        scores.append(CandidateScore(law.name, len(law.params), score, tuple(errors), status))
    best = min(s.score for s in scores)
    if not math.isfinite(best):
        raise InputError("--law auto could not score any candidate law: " + "; ".join(
            f"{s.law}: {s.status}" for s in scores))
    tied = [s for s in scores if s.score <= best * (1.0 + TOLERANCE)]
    chosen = min(tied, key=lambda s: (s.n_params, s.score))
    reason = (f"lowest mean held-out RMSE of log y ({chosen.score:.4g}) over {len(folds)} growing cut-offs"
              if chosen.score == best else
              f"fewest parameters ({chosen.n_params}) among the laws tied at the lowest mean held-out RMSE of log y "
              f"({best:.4g}) over {len(folds)} growing cut-offs")
    names = " x ".join(dm.x) if len(dm.x) > 1 else next(iter(dm.x))
    return Selection(law=chosen.law, reason=reason, scale=names, folds=tuple(folds), candidates=tuple(scores))
