"""``--law auto``: choose a law by backtesting it inside the training data only (nested selection).

The training runs are ordered by scale (the input itself for a single-input curve; the product of
the inputs, e.g. ``N D``, for a multi-input table). For each of a few growing cut-offs, every
applicable law is fitted on the runs up to the cut-off and scored on the larger ones it did not see
(RMSE of log values). The law with the lowest mean score wins (laws whose scores agree to
``TOLERANCE`` are the same fit, e.g. ``m2`` and ``power_law_offset``: the one with the fewest
parameters is taken, and the tie is reported). A law is never chosen when its fit on all the
training runs (the fit that would be delivered) did not converge, left a parameter without effect
(a term switched off at a bound) or is constant: it stays in the table with the reason. The folds'
forecasts are scored as they are, also where a fold's optimiser stopped at its iteration limit.
Folds that would train on the same runs are one fold. Runs outside the training selection
(``where``) are never read. Trusted candidates that score within `RIVAL_FACTOR` of the chosen law
are its rivals (`Rival`): the runs do not rule them out, and prediction intervals reach their
forecasts too.

Each candidate is fitted on all the training runs and on the folds of `nested.CUTS` (50-90% of the
distinct training scales) in one batched solve (`nested.backtests`); the chosen law's folds then
calibrate its intervals without another fit. Selection scores the folds from 70% on: late cut-offs
look most like the forecast that is asked for (extrapolating from all the runs), and on the Pythia
learning curves (benchmarks/bench_auto.py) they chose better than earlier or more cut-offs, medians
or ranks.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ._progress import stage
from .data import Runs, design
from .data.runs import resolve_columns, with_derived_inputs
from .errors import InputError, ScalingLawsError
from .fit._diagnose import CONSTANT, SWITCHED_OFF
from .fit.records import RIVAL_FACTOR, TOLERANCE, CandidateScore, Rival, Selection, same_kind, same_score
from .laws import Law, list_laws
from .nested import CUTS, Backtests, backtests, folds, held_out_errors, scale_of

SCORED_FROM = 0.7  # folds whose cut-off lies at this fraction of the training scales or later are scored


def applicable_laws(runs: Runs, *, x=None, y=None, where=None, include_excluded=False, dropna=False) -> list[Law]:
    """Registered laws offered to ``--law auto`` (`Law.auto`) whose inputs the table has (the ones
    using the most inputs) and that accept its target (laws fitted on log values need it positive; bounded-metric laws need it in range)."""
    return _candidates(runs, x=x, y=y, where=where, include_excluded=include_excluded, dropna=dropna)[0]


def laws_of_columns(runs: Runs, *, x=None) -> list[Law]:
    """Registered laws whose inputs are all columns of ``runs`` (found by name or mapped by ``x``)."""
    found = []
    for law in list_laws():
        try:
            resolve_columns(with_derived_inputs(runs, law.inputs, x), law.inputs, x, law.name)
        except InputError:
            continue
        found.append(law)
    return found


def _candidates(runs: Runs, *, x, y, where, include_excluded, dropna) -> tuple[list[Law], list[tuple[Law, str]]]:
    """`applicable_laws`, and the laws of the same inputs that do not accept the runs, with why."""
    found, causes, refused = [], [], []
    for law in (law for law in laws_of_columns(runs, x=x) if law.auto):
        try:
            design(runs, law, x=x, y=y, where=where, include_excluded=include_excluded, n_free=0, dropna=dropna)
        except InputError as exc:
            causes.append((len(law.inputs), f"{law.name}: {exc}"))
            refused.append((law, str(exc)))
            continue
        found.append(law)
    if not found and causes:  # laws of these inputs exist, but the target or the rows do not suit any
        raise InputError("--law auto found no law that accepts these runs; " + "; ".join(
            c for _, c in sorted(causes, key=lambda c: -c[0])[:3]))
    if not found:
        raise InputError("--law auto found no registered law whose inputs are all columns of the table; "
                         "map the scale column with --x x=COLUMN (curves) or --x N=...,D=... (tables)")
    most = max(len(law.inputs) for law in found)
    widest = next(law.inputs for law in found if len(law.inputs) == most)
    fewer = [(law, f"it uses {', '.join(law.inputs)} only; the laws of {', '.join(widest)} are compared")
             for law in found if len(law.inputs) < most]
    return [law for law in found if len(law.inputs) == most], [(law, why) for law, why in refused
                                                                if len(law.inputs) == most] + fewer


def select_law(runs, *, candidates=None, x=None, y=None, where=None, include_excluded=False, weights=None,
               dropna=False, **fit_options) -> Selection:
    """Score every candidate by nested backtests on the training runs; returns the `Selection`.

    A candidate is chosen only if it is trustworthy on all the training runs: its fit there
    converged, no parameter is without effect (a term switched off at a bound) and it is not
    constant. The best-scoring such candidate wins; ties (scores within `TOLERANCE`) go to the
    fewest parameters and are reported.
    """
    return choose_law(runs, candidates=candidates, x=x, y=y, where=where, include_excluded=include_excluded,
                      weights=weights, dropna=dropna, **fit_options)[0]


def choose_law(runs, *, candidates=None, x=None, y=None, where=None, include_excluded=False, weights=None,
               dropna=False, **fit_options) -> tuple[Selection, Backtests]:
    """`select_law`, and the chosen law's `Backtests` (its fit on all the training runs and its
    nested folds, which calibrate its intervals without being fitted again)."""
    runs = Runs.coerce(runs)
    laws, refused = _candidates(runs, x=x, y=y, where=where, include_excluded=include_excluded, dropna=dropna) \
        if candidates is None else (list(candidates), [])
    options = dict(x=x, y=y, where=where, include_excluded=include_excluded, weights=weights, dropna=dropna,
                   **fit_options)
    _check_scales(runs, laws[0], options)
    fitted, scores, failures = {}, [], []
    with stage("--law auto: backtesting the candidate laws", total=len(laws)) as advance:
        for law in laws:
            try:
                bt = backtests(law, runs, CUTS, **options)
            except ScalingLawsError as exc:
                scores.append(CandidateScore(law.name, len(law.params), math.inf, (), f"not scored: {exc}"))
                failures.append(exc)
                continue
            finally:
                advance()
            fitted[law.name] = bt
            scores.append(None)
    if not fitted:
        if len({str(exc) for exc in failures}) == 1:  # an option or a column wrong for every law: said once
            raise failures[0]
        raise InputError("--law auto could not fit any candidate law: " + "; ".join(
            f"{s.law}: {s.status}" for s in scores))
    first = next(iter(fitted.values()))
    # one space for every candidate, so scores compare: log y wherever it exists (relative errors, whatever
    # the units), y itself only when some target is 0
    space = "log" if np.all(first.problem.design.y[first.used] > 0) else "linear"
    scores = [s if s is not None else _score(fitted[law.name], space) for law, s in zip(laws, scores)]
    chosen, tied = _choose(scores)
    best = chosen.score
    scored = [f for f, _ in _scored(first)]
    reason = f"lowest mean held-out RMSE of {'log y' if space == 'log' else 'y'} ({best:.4g}) over " \
        f"{len(scored)} growing cut-offs"
    if tied:
        reason += f"; tied with {', '.join(tied)} (the same forecasts): the fewest parameters taken"
    better = [s.law for s in scores if s.score < best * (1.0 - TOLERANCE)]
    if better:
        reason += f"; {', '.join(better)} scored lower but could not be trusted (see status)"
    dm = first.problem.design
    names = " x ".join(dm.x) if len(dm.x) > 1 else next(iter(dm.x))
    record = tuple({"cut": f.cut, "n_train": int((f.train & first.used).sum()),
                    "n_test": int((~f.train & first.used).sum())} for f in scored)
    scores += [CandidateScore(law.name, len(law.params), math.inf, (), f"not a candidate: {why}") for law, why in refused]
    rivals, merged = _distinct([s for s in scores if s.status == "scored" and s.law != chosen.law and s.law not in tied
                                and s.score <= RIVAL_FACTOR * best
                                and same_kind(fitted[s.law].full.law, fitted[chosen.law].full.law)])
    for kept, same in merged.items():
        reason += f"; {', '.join(same)} {'scores' if len(same) == 1 else 'score'} as {kept} (the same fit): one rival"
    rivals = tuple(Rival(s.law, s.score, dict(fitted[s.law].full.params)) for s in rivals)
    selection = Selection(law=chosen.law, reason=reason, scale=names, folds=record, candidates=tuple(scores),
                          ties=tuple(tied), space=space, rivals=rivals)
    return selection, fitted[chosen.law]


def _check_scales(runs: Runs, law: Law, options: dict) -> None:
    """Refuse, before any fit, training runs that hold no larger run to backtest on."""
    dm = design(runs, law, x=options["x"], y=options["y"], where=options["where"], n_free=0,
                include_excluded=options["include_excluded"], dropna=options["dropna"])
    weights = options["weights"]
    used = np.ones(dm.y.size, dtype=bool) if weights is None or weights not in runs.columns else \
        np.nan_to_num(pd.to_numeric(runs.table[weights].iloc[dm.rows], errors="coerce").to_numpy(dtype=float)) > 0
    if not used.any():
        return  # no run with a positive weight: each candidate's problem says what is wrong with the weights
    scale = scale_of(dm.x, law)
    if not any((~f.train & used).any() for f in folds(np.where(used, scale, np.inf), CUTS)
               if f.fraction >= SCORED_FROM):
        raise InputError(f"--law auto needs runs at several scales to backtest inside the training data; "
                         f"the {int(used.sum())} training runs have {np.unique(scale[used]).size} distinct scale(s)")


def _score(bt: Backtests, space: str) -> CandidateScore:
    """One candidate's held-out RMSE (of log y in log ``space``) per fold; its status says why it
    cannot be chosen. A fold's forecast is scored as it is, whether or not its optimiser met its
    tolerance (it is the law's forecast from fewer runs all the same); what must be trusted is the
    fit that would be delivered: the one on all the training runs."""
    law = bt.full.law
    errors = []
    for fold, result in _scored(bt):
        if isinstance(result, ScalingLawsError):
            return CandidateScore(law.name, len(law.params), math.inf, tuple(errors), f"not scored: {result}")
        e = held_out_errors(result, bt, fold, space)
        errors.append(float(np.sqrt(np.mean(e**2))))
    score = float(np.mean(errors))
    if not math.isfinite(score):
        return CandidateScore(law.name, len(law.params), math.inf, tuple(errors),
                              "not scored: a nested fit's forecast is not finite at a held-out run")
    problems = _untrusted(bt.full)
    status = "scored" if not problems else f"not chosen (its fit on all the training runs): {problems[0]}"
    return CandidateScore(law.name, len(law.params), score, tuple(errors), status)


def _scored(bt: Backtests) -> list:
    """``(fold, fit)`` of the folds selection scores: the late ones, from `SCORED_FROM` (see the
    module docstring)."""
    return [(f, r) for f, r in zip(bt.plan, bt.fits) if f.fraction >= SCORED_FROM]


def _untrusted(result) -> list[str]:
    """Why a fit cannot be trusted to forecast (empty when it can)."""
    problems = [] if result.converged else [f"did not converge ({result.status})"]
    return problems + [w for w in result.warnings if w.startswith((CONSTANT, SWITCHED_OFF))]


def _distinct(rivals):
    """The rivals that are distinct fits, in their order, and ``{kept: [laws]}`` for those whose
    scores agree with a simpler rival's to `TOLERANCE` (the same fit, as for ties: ``m2``, ``m4``
    and ``saturating_power`` reduced to ``power_law_offset``), which would otherwise weigh one
    forecast several times in the average."""
    kept, merged = [], {}
    for s in sorted(rivals, key=lambda s: (s.n_params, s.score)):
        twin = next((k for k in kept if same_score(s.score, k.score)), None)
        if twin is None:
            kept.append(s)
        else:
            merged.setdefault(twin.law, []).append(s.law)
    return [s for s in rivals if any(s is k for k in kept)], merged


def _choose(scores):
    """The best trustworthy candidate and the candidates tied with it (the fewest parameters taken)."""
    order = sorted((s for s in scores if math.isfinite(s.score)), key=lambda s: (s.score, s.n_params))
    if not order:
        raise InputError("--law auto could not score any candidate law: " + "; ".join(
            f"{s.law}: {s.status}" for s in scores))
    trusted = [s for s in order if s.status == "scored"]
    if not trusted:
        raise InputError("--law auto found no candidate it can trust: " + "; ".join(
            f"{s.law}: {s.status}" for s in scores))
    best = trusted[0]
    group = sorted([t for t in trusted if same_score(t.score, best.score)],
                   key=lambda t: (t.n_params, t.score))
    return group[0], [t.law for t in group[1:]]
