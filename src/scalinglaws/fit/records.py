"""What a `FitResult` can carry besides its point estimate, as plain records: the bootstrap
replicates (`Bootstrap`) and, for ``law="auto"``, why the law was chosen (`Selection`).

The procedures that make them (resampling and refitting, nested backtests) sit above the engine,
in `scalinglaws.uncertainty` and `scalinglaws.select`; these records only hold and summarise
their outcome, so a fit document can be read back without them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from ..errors import FitError, InputError


def _sd(v: np.ndarray) -> float:
    """The sample standard deviation, computed on ``v`` scaled to at most 1: replicates far out
    (an exponent's 1e227 in a fit the data barely determine) would overflow its squares."""
    scale = float(np.max(np.abs(v))) if np.size(v) else 0.0
    if not (scale > 0 and math.isfinite(scale)):
        return float(np.std(v, ddof=1))
    return float(np.std(np.asarray(v) / scale, ddof=1) * scale)


@dataclass(frozen=True)
class Bootstrap:
    """Replicate parameter values and the summaries derived from them.

    Only converged replicates are kept in ``params``; ``n_failed`` counts the others. A record
    with too few converged replicates (`too_few_converged`) is never made, so ``se`` and ``ci``
    are always defined.
    """

    scheme: str
    level: float
    params: dict[str, tuple[float, ...]]  # per parameter, one value per converged replicate
    n_replicates: int
    n_failed: int
    n_guarded: int = 0  # replicates also refitted from independent starts
    n_guard_better: int = 0  # of those, how many an independent start beat (then all were multi-started)
    residuals: tuple[float, ...] = ()  # residuals of the full-data fit in the law's space (run-to-run noise)

    def __post_init__(self):
        problem = too_few_converged(len(next(iter(self.params.values()), ())), self.n_replicates)
        if problem:
            raise FitError(f"bootstrap: {problem}")

    def values(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v) for k, v in self.params.items()}

    @property
    def se(self) -> dict[str, float]:
        return {k: _sd(v) for k, v in self.values().items()}

    @property
    def ci(self) -> dict[str, tuple[float, float]]:
        return {k: self.interval(lambda p, k=k: p[k]) for k in self.params}

    def interval(self, fn: Callable[[Mapping[str, np.ndarray]], np.ndarray], level: float | None = None):
        """Percentile interval of any derived quantity ``fn(params)`` (vectorised over replicates)."""
        level = self.level if level is None else level
        check_level("level", level)
        q = np.asarray(fn(self.values()), dtype=np.float64)
        tail = (1.0 - level) / 2.0
        lo, hi = np.quantile(q, [tail, 1.0 - tail])
        return float(lo), float(hi)

    def prediction_interval(self, law, x: Mapping[str, np.ndarray], level: float):
        """``(lo, hi)`` for a new run at ``x``: parameter uncertainty and run-to-run noise together.

        For replicate ``b`` the forecast is ``log f(theta_b, x) + r_b``, with ``r_b`` drawn from the
        full-data fit's log residuals (a fixed seed, so the interval is reproducible); the interval
        is the percentile range of those forecasts. For a law fitted in linear space, ``f + r_b``,
        and the interval is cut at the law's ``y_range`` (an accuracy interval ends at 0 and 1).
        """
        check_level("--interval", level)
        values = self.values()
        n_rep = len(next(iter(values.values())))
        # laws are elementwise: replicates along axis 0, points along axis 1, in one evaluation
        with np.errstate(all="ignore"):
            t_f = law.to_space(law.predict({k: v[:, None] for k, v in values.items()},
                                           {k: np.asarray(v)[None, :] for k, v in x.items()}))
        noise = np.random.default_rng(0).choice(np.asarray(self.residuals or (0.0,)), size=(n_rep, 1))
        tail = (1.0 - level) / 2.0
        lo, hi = np.quantile(t_f + noise, [tail, 1.0 - tail], axis=0)
        return law.from_space(lo), law.from_space(hi)

    def to_dict(self) -> dict:
        return {"scheme": self.scheme, "level": self.level, "n_replicates": self.n_replicates,
                "n_failed": self.n_failed, "n_guarded": self.n_guarded, "n_guard_better": self.n_guard_better,
                "params": {k: list(v) for k, v in self.params.items()}, "residuals": list(self.residuals)}

    @classmethod
    def from_dict(cls, d: Mapping) -> "Bootstrap":
        return cls(scheme=str(d["scheme"]), level=float(d["level"]), n_replicates=int(d["n_replicates"]),
                   n_failed=int(d["n_failed"]), n_guarded=int(d.get("n_guarded", 0)),
                   n_guard_better=int(d.get("n_guard_better", 0)),
                   residuals=_finite_tuple("bootstrap residuals", d.get("residuals", ())),
                   params={str(k): _finite_tuple(f"bootstrap replicates of {k}", v) for k, v in d["params"].items()})


@dataclass(frozen=True)
class Calibration:
    """How far off the law's own forecasts were inside the training runs, by distance extrapolated.

    Made by `scalinglaws.calibrate` from nested cut-offs: each forecast of a run beyond a fold's
    cut-off gives a log error ``e_i`` at ``d_i`` decades beyond that fold's training range. The
    error's spread is modelled as ``s(d) = sigma + slope d``: ``sigma`` the full fit's in-sample
    noise (RMS log residual), ``slope`` its growth per decade, fitted by maximum likelihood to all
    the pairs (``e ~ N(0, s(d)^2)``). The interval half-width at distance ``d`` is ``q s(d)``,
    where ``q`` is the split-conformal quantile of the normalised errors ``|e_i| / s(d_i)`` at the
    level asked for, over the folds from ``late_from`` on (those trained on most of the runs look
    most like the forecast asked for), or over all the folds when those hold too few forecasts.
    With no forecasts (too few training scales), ``problem`` says why.
    """

    errors: tuple[float, ...]  # log y_hat - log y of each held-out forecast inside the training runs
    distances: tuple[float, ...]  # decades beyond its fold's training range
    fold: tuple[int, ...]  # which fold (0: the earliest cut-off) each forecast came from
    sigma: float
    slope: float
    n_folds: int
    scale_range: tuple[float, float]  # log10 of the smallest and largest training scale (product of inputs)
    late_from: int = 0  # the first fold whose forecasts set the multiplier
    problem: str | None = None

    def half_width(self, decades: np.ndarray, level: float) -> np.ndarray:
        """Half-widths (natural log) of the calibrated interval at ``decades`` beyond the training range."""
        check_level("--interval", level)
        if self.problem is not None:
            raise FitError(f"no calibrated interval beyond the training range: {self.problem}")
        scores = np.abs(np.asarray(self.errors)) / self.spread(np.asarray(self.distances))
        late = scores[np.asarray(self.fold, dtype=int) >= self.late_from]
        rank = math.ceil((late.size + 1) * level)
        if rank > late.size:  # too few late forecasts for this level: every fold's
            late, rank = scores, math.ceil((scores.size + 1) * level)
        n = scores.size
        if n < MIN_FORECASTS:
            raise FitError(f"no calibrated interval beyond the training range: only {n} forecast(s) inside the training "
                           f"runs (at least {MIN_FORECASTS} are needed to say how the law's errors grow)")
        if rank > n:
            raise FitError(f"no calibrated {level:.1%} interval beyond the training range: {n} forecasts inside the "
                           f"training runs calibrate intervals up to {n / (n + 1):.1%} (a {level:.1%} interval needs "
                           f"{math.ceil(level / (1 - level) - 1e-9)}); fit more scales or ask a lower --interval")
        return np.sort(late)[rank - 1] * self.spread(np.asarray(decades, dtype=np.float64))

    def spread(self, decades: np.ndarray) -> np.ndarray:
        return self.sigma + self.slope * decades

    def to_dict(self) -> dict:
        return {"errors": list(self.errors), "distances": list(self.distances), "fold": list(self.fold),
                "sigma": self.sigma, "slope": self.slope, "n_folds": self.n_folds,
                "scale_range": list(self.scale_range), "late_from": self.late_from, "problem": self.problem}

    @classmethod
    def from_dict(cls, d: Mapping) -> "Calibration":
        errors, distances = _finite_tuple("calibration errors", d["errors"]), _finite_tuple("calibration distances",
                                                                                             d["distances"])
        if not all(isinstance(d[k], (int, float)) and not isinstance(d[k], bool) for k in ("sigma", "slope")):
            raise InputError("fit document calibration: sigma and slope must be numbers")
        sigma, slope = float(d["sigma"]), float(d["slope"])
        scale_range = _finite_tuple("calibration scale_range", d["scale_range"])
        if len(errors) != len(distances) or min(distances, default=0.0) < 0 or len(scale_range) != 2 or not (
                math.isfinite(sigma) and sigma > 0 and math.isfinite(slope) and slope >= 0):
            raise InputError("fit document calibration must pair each error with a distance >= 0, with sigma > 0, "
                             "slope >= 0 and a [lo, hi] scale range")
        problem = d.get("problem")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (*d["fold"], d["n_folds"],
                                                                              d.get("late_from", 0))):
            raise InputError("fit document calibration: fold, n_folds and late_from must be integers")
        fold, n_folds, late_from = tuple(d["fold"]), d["n_folds"], d.get("late_from", 0)
        if len(fold) != len(errors) or any(not 0 <= f < n_folds for f in fold) or not 0 <= late_from <= n_folds:
            raise InputError("fit document calibration must name a fold in [0, n_folds) for each error, and "
                             "0 <= late_from <= n_folds")
        if not scale_range[0] <= scale_range[1] or (errors and problem is not None):
            raise InputError("fit document calibration must have a [lo, hi] scale range with lo <= hi, and either "
                             "forecasts or a problem")
        return cls(errors=errors, distances=distances, fold=fold, sigma=sigma, slope=slope, n_folds=n_folds,
                   scale_range=(scale_range[0], scale_range[1]), late_from=late_from,
                   problem=None if problem is None else str(problem))


def decades_outside(x: Mapping[str, np.ndarray], x_range: Mapping[str, tuple[float, float]],
                    scale_range: tuple[float, float] | None, log_inputs) -> np.ndarray:
    """Per point, how many decades (log10) it lies outside the fitted runs: the farthest any positive
    input lies outside its observed range, or the product of the inputs outside the observed
    products (a run with both N and D in range may still be larger than any fitted run)."""
    names = [n for n in x if n in log_inputs]
    shape = np.broadcast_shapes(*(np.shape(v) for v in x.values()))
    out = np.zeros(shape)
    with np.errstate(all="ignore"):  # differences of logs: no ratio overflows at extreme points
        logs = {n: np.broadcast_to(np.log10(np.asarray(x[n], dtype=np.float64)), shape) for n in names}
        for n in names:
            lo, hi = x_range.get(n, (0.0, np.inf))
            out = np.maximum(out, np.maximum(logs[n] - np.log10(hi), np.log10(lo) - logs[n]))
        if scale_range is not None and len(names) > 1:
            s = np.sum([logs[n] for n in names], axis=0)
            out = np.maximum(out, np.maximum(s - scale_range[1], scale_range[0] - s))
    return np.maximum(np.nan_to_num(out, nan=0.0), 0.0)


MIN_FORECASTS = 5  # forecasts inside the training runs below which no extrapolation width is claimed
MIN_CONVERGED = 10  # converged replicates needed before a bootstrap reports anything
CONVERGED_SHARE = 0.8  # and the share of its replicates that must have converged


def too_few_converged(converged: int, replicates: int) -> str | None:
    """Why ``converged`` of ``replicates`` cannot support a standard error or an interval, or None.
    The replicates left out are not a random part of the distribution (a resample that fails is an
    unusual one), so with many of them missing its tails are unknown."""
    if converged >= max(MIN_CONVERGED, CONVERGED_SHARE * replicates):
        return None
    return (f"only {converged} of {replicates} replicates converged ({replicates - converged} did not); too few to "
            f"support a standard error or an interval (at least {CONVERGED_SHARE:.0%}, and {MIN_CONVERGED}, must "
            "converge)")


def check_level(option: str, level) -> None:
    if not (isinstance(level, (int, float)) and 0.0 < level < 1.0):
        raise InputError(f"{option} must lie strictly between 0 and 1; got {level!r}")


def _finite_tuple(what: str, values) -> tuple[float, ...]:
    out = tuple(float(v) for v in values)
    if not all(math.isfinite(v) for v in out):
        raise InputError(f"{what} must be finite numbers")
    return out


@dataclass(frozen=True)
class CandidateScore:
    """One candidate law's held-out errors over the selection folds."""

    law: str
    n_params: int
    score: float  # mean over folds of the held-out RMSE of log y (inf: could not be scored)
    folds: tuple[float, ...]  # RMSE of log y on each fold's held-out runs
    status: str  # "scored", or why the law could not be scored

    def to_dict(self) -> dict:
        return {"law": self.law, "n_params": self.n_params, "score": _json(self.score),
                "folds": [_json(v) for v in self.folds], "status": self.status}


@dataclass(frozen=True)
class Selection:
    """Why ``--law auto`` chose its law: every candidate's nested backtest score."""

    law: str
    reason: str
    scale: str  # what the cut-offs order the runs by
    folds: tuple[dict, ...]  # per fold: {"cut": scale value, "n_train", "n_test"}
    candidates: tuple[CandidateScore, ...]
    ties: tuple[str, ...] = ()  # candidates that scored the same as the chosen law (it has the fewest parameters)
    space: str = "log"  # where the held-out errors were measured (log y, or y when a candidate fits y itself)
    rivals: tuple[Rival, ...] = ()  # trusted candidates that forecast about as well (see `Rival`)

    def weights(self) -> dict[str, float]:
        """The chosen law's and each rival's weight in the forecast (``1 / score^2``, normalised;
        the chosen law alone when it has no rival or a score of 0)."""
        best = next((c.score for c in self.candidates if c.law == self.law), math.nan)
        if not self.rivals or not best > 0:
            return {self.law: 1.0}
        raw = {self.law: 1.0, **{r.law: (best / r.score) ** 2 for r in self.rivals}}  # 1 / score^2, scaled by best^2
        total = sum(raw.values())
        return {k: v / total for k, v in raw.items()}

    def to_dict(self) -> dict:
        return {"law": self.law, "reason": self.reason,
                "criterion": f"mean held-out RMSE of {'log y' if self.space == 'log' else 'y'}", "space": self.space,
                "scale": self.scale, "folds": [dict(f) for f in self.folds],
                "candidates": [c.to_dict() for c in self.candidates], "ties": list(self.ties),
                "rivals": [r.to_dict() for r in self.rivals], "weights": self.weights()}

    @classmethod
    def from_dict(cls, d: Mapping) -> "Selection":
        return cls(law=str(d["law"]), reason=str(d["reason"]), scale=str(d["scale"]),
                   folds=tuple(dict(f) for f in d["folds"]),
                   candidates=tuple(CandidateScore(law=str(c["law"]), n_params=int(c["n_params"]),
                                                   score=float(c["score"]), folds=tuple(float(v) for v in c["folds"]),
                                                   status=str(c["status"])) for c in d["candidates"]),
                   ties=tuple(str(t) for t in d.get("ties", ())), space=str(d.get("space", "log")),
                   rivals=_rivals(d))


def _rivals(d: Mapping) -> tuple[Rival, ...]:
    """The rivals of a selection record, each checked (`Rival.from_dict`) and held to the rule that
    made it one: the inputs of the chosen law, a score within `RIVAL_FACTOR` of the chosen law's."""
    from ..laws import get_law

    rivals = tuple(Rival.from_dict(r) for r in d.get("rivals", ()))
    chosen = get_law(str(d["law"]), files=False)
    scored = {str(c["law"]): float(c["score"]) for c in d["candidates"] if c["status"] == "scored"}
    best = scored.get(chosen.name, math.nan)
    if rivals and not (math.isfinite(best) and best > 0):
        raise InputError(f"fit document selection: the chosen law {chosen.name} needs a finite score > 0 among the "
                         "scored candidates to have rivals")
    if len({r.law for r in rivals} | {chosen.name}) != len(rivals) + 1:
        raise InputError("fit document selection rivals must be distinct laws other than the chosen one")
    for r in rivals:
        law = get_law(r.law, files=False)
        if law.inputs != chosen.inputs or not same_kind(law, chosen):
            raise InputError(f"fit document selection rival {r.law} is not a law of the chosen law's inputs "
                             f"({', '.join(chosen.inputs)}), residual space and range")
        if scored.get(r.law) != r.score:
            raise InputError(f"fit document selection rival {r.law}: its score must be its scored candidate's")
        if r.score < best:
            raise InputError(f"fit document selection rival {r.law}: its score {r.score!r} is below the chosen law's "
                             f"({best!r}); the chosen law scores best")
        if not r.score <= RIVAL_FACTOR * best * (1.0 + 1e-9):
            raise InputError(f"fit document selection rival {r.law}: its score {r.score!r} is not within "
                             f"x{RIVAL_FACTOR:g} of the chosen law's ({best!r})")
        if r.law in d.get("ties", ()):
            raise InputError(f"fit document selection rival {r.law} is tied with the chosen law (the same fit): "
                             "it cannot be its rival")
    twins = next(((a, b) for i, a in enumerate(rivals) for b in rivals[i + 1:]
                  if same_score(a.score, b.score)), None)
    if twins:  # written before rivals of one fit were counted once: its average weighed that fit twice
        raise InputError(f"fit document selection rivals {twins[0].law} and {twins[1].law} score alike (one fit, "
                         "weighed twice in the average); fit again")
    return rivals


@dataclass(frozen=True)
class Rival:
    """A candidate of ``--law auto`` that was not chosen but can be trusted (its fits converged, no
    term switched off, not constant) and whose held-out score lies within `RIVAL_FACTOR` of the
    chosen law's: the runs do not rule it out, so where their forecasts differ, the prediction
    interval reaches this law's forecast too (the uncertainty of the law's choice), at any level."""

    law: str
    score: float
    params: dict[str, float]  # fitted on all the training runs

    def to_dict(self) -> dict:
        return {"law": self.law, "score": self.score, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, d: Mapping) -> "Rival":
        from ..laws import get_law

        law = get_law(str(d["law"]), files=False)
        params = law.checked_params(d["params"], f"fit document selection rival {law.name}: params")
        score = d["score"]
        if not (isinstance(score, (int, float)) and not isinstance(score, bool) and math.isfinite(score) and score >= 0):
            raise InputError(f"fit document selection rival {law.name}: score must be a finite number >= 0")
        return cls(law.name, float(score), params)


def same_kind(a, b) -> bool:
    """Laws whose forecasts can be averaged and compared: the same residual space and range (an
    accuracy law's forecasts stay in [0, 1]; an unbounded law's need not)."""
    return a.space == b.space and a.y_range == b.y_range


#: a trusted candidate whose held-out score is within this factor of the chosen law's is a `Rival`
#: (on the real tables of benchmarks/bench_real_intervals.py, 1.5 added no rival, 3 and 10 the same ones)
RIVAL_FACTOR = 3.0
#: relative: scores this close are the same fit (ties with the chosen law; rivals counted once)
TOLERANCE = 1e-6


def same_score(a: float, b: float) -> bool:
    """Whether two held-out scores agree to `TOLERANCE`: the same fit (a tie, or rivals counted once)."""
    return abs(a - b) <= TOLERANCE * min(a, b)


def _json(v: float):
    return v if math.isfinite(v) else "inf"


__all__ = ["CONVERGED_SHARE", "MIN_CONVERGED", "Bootstrap", "Calibration", "decades_outside", "too_few_converged", "CandidateScore", "RIVAL_FACTOR", "Rival", "Selection"]
