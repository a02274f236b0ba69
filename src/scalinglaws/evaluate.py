"""Backtests: fit on the runs available earlier (the small scales), score on the rest.

The question a backtest answers: had this law, fitted this way, been used on the runs available
earlier, how far off would its forecasts of the later, larger runs have been, and how often would
its interval have held the truth? Three ways to split:

* ``train_where="C < 1e21"``: one condition on columns; the other runs are scored;
* ``train_where=["C < 1e20", "C < 1e21"]``: a series of growing cut-offs, one backtest each;
* ``along="step", by="run"``: along training curves: within each run (group), fit on the first
  ``train_fraction`` of its checkpoints (by ``along``) and forecast the rest, up to the end.

``law="auto"`` is scored like any law: its selection runs inside the training runs only.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .data import Runs, design
from .data.runs import numeric_column, select_rows, with_areas_for
from .errors import FitError, InputError, ScalingLawsError
from ._progress import stage
from .api import fit
from .chain import fit_chain
from .laws import get_law
from .laws.formula import is_formula

INTERVAL_REPLICATES = 200  # bootstrap replicates behind a backtest's intervals
CHAIN = " -> "  # "A -> B": law A on the `via` column, then law B from it to the target (`scalinglaws.chain`)


@dataclass(frozen=True)
class LawScore:
    """Errors of one law's forecasts on the held-out runs (log = natural log). The relative and log
    errors are None where a held-out value is not positive (an accuracy of 0): ``rmse`` then says it."""

    law: str
    status: str
    are: float | None  # mean |y_hat / y - 1|
    max_are: float | None
    rmse_log: float | None  # sqrt(mean (log y_hat - log y)^2)
    bias_log: float | None  # mean (log y_hat - log y): > 0 forecasts too high
    wins: int  # held-out runs where this law's forecast was the closest (all of them, on a tie)
    coverage: float | None = None  # share of held-out runs inside the prediction interval
    chosen: str | None = None  # for law "auto": the law(s) it chose
    rmse: float | None = None  # sqrt(mean (y_hat - y)^2), in the target's units
    width: float | None = None  # median interval width: hi / lo (hi - lo where a bound is not positive)
    interval_score: float | None = None  # mean interval score (Gneiting and Raftery 2007), in log y where positive
    interval_note: str | None = None  # why some fits gave no interval (then coverage is None)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Backtest:
    train_where: str  # the split: a condition, or a description of the along-the-curve split
    n_train: int
    n_test: int
    scores: tuple[LawScore, ...]
    interval: float | None = None  # the nominal level of the intervals scored by ``coverage``
    skipped: tuple[str, ...] = ()  # groups (``by``) or laws not scored, each with the reason

    def _repr_html_(self) -> str:
        from .report.notebook import backtest_html  # Jupyter's display hook: drawn by the layer that draws

        return backtest_html(self)

    def to_dict(self) -> dict:
        return {"train_where": self.train_where, "n_train": self.n_train, "n_test": self.n_test,
                "interval": self.interval, "laws": [s.to_dict() for s in self.scores], "skipped": list(self.skipped)}


class _Forecasts:
    """Per law: log errors, interval hits, statuses and choices, pooled over fits."""

    def __init__(self, names):
        self.names = names
        self.errors = {n: [] for n in names}  # (y_hat, y) pairs
        self.hits = {n: [] for n in names}
        self.bands = {n: [] for n in names}  # (lo, hi, y)
        self.status = {n: set() for n in names}
        self.no_interval = {n: [] for n in names}
        self.chosen = {n: [] for n in names}

    def add(self, name, result, test_x, test_y, interval):
        self.errors[name].append(np.stack([result.predict(test_x), np.asarray(test_y, dtype=np.float64)]))
        lo = hi = None
        if interval is not None and result.bootstrap is not None:
            try:
                lo, hi = result.predict_interval(test_x, level=interval)
            except FitError as exc:  # no calibrated interval this far out: said, never replaced by a narrow one
                self.no_interval[name].append(str(exc))
        elif interval is not None:  # its bootstrap failed: no coverage can be claimed for this law
            self.no_interval[name].append("too few bootstrap replicates converged")
        if interval is not None and lo is None:
            self.hits[name].append(np.full(np.size(test_y), np.nan))
        elif interval is not None:
            self.hits[name].append((lo <= test_y) & (test_y <= hi))
            self.bands[name].append(np.stack([lo, hi, np.asarray(test_y, dtype=np.float64)]))
        self.status[name].add(result.status)
        if result.selection is not None:
            rivals = [r.law for r in result.selection.rivals]
            self.chosen[name].append(result.law.name + (f" (averaged with {', '.join(rivals)})" if rivals else ""))

    def scores(self, level=None) -> tuple[LawScore, ...]:
        pairs = {n: np.concatenate(self.errors[n], axis=1) for n in self.names}
        y = next(iter(pairs.values()))[1]
        positive = bool(np.all(y > 0) and all(np.all(p[0] > 0) for p in pairs.values()))
        with np.errstate(all="ignore"):
            errors = {n: (np.log(p[0]) - np.log(p[1])) if positive else p[0] - p[1] for n, p in pairs.items()}
        if len({e.size for e in errors.values()}) != 1:
            raise InputError("the laws compared must be scored on the same held-out runs (same inputs present)")
        log_bands = all(np.all(b[:2] > 0) and np.all(b[2] > 0) for n in self.names for b in self.bands[n])
        stacked = np.abs(np.stack([errors[n] for n in self.names]))
        stacked = np.where(np.isfinite(stacked), stacked, np.inf)
        closest = stacked.min(axis=0)
        winners = stacked <= closest + 1e-12 * closest  # every law as close as the closest wins (auto and its choice)
        out = []
        for i, n in enumerate(self.names):
            e = errors[n]
            chosen = sorted(set(self.chosen[n]), key=self.chosen[n].index)
            log = (lambda v: float(v)) if positive else (lambda v: None)  # noqa: E731
            out.append(LawScore(
                law=n, status="/".join(sorted(self.status[n])), are=log(np.mean(np.abs(np.expm1(e)))),
                max_are=log(np.max(np.abs(np.expm1(e)))), rmse_log=log(np.sqrt(np.mean(e**2))),
                bias_log=log(np.mean(e)), wins=int(np.sum(winners[i])),
                coverage=_coverage(self.hits[n]), chosen=", ".join(chosen) if chosen else None,
                rmse=float(np.sqrt(np.mean((pairs[n][0] - pairs[n][1]) ** 2))),
                interval_note=_no_interval_note(self.no_interval[n], len(self.hits[n])),
                **_sharpness(self.bands[n], level, len(self.hits[n]) and _coverage(self.hits[n]) is not None,
                             log_bands)))
        return tuple(out)


def _no_interval_note(reasons: list[str], n_fits: int) -> str | None:
    if not reasons:
        return None
    return f"{len(reasons)} of {n_fits} fit(s) gave no interval; the first: {reasons[0]}"


def _sharpness(bands: list[np.ndarray], level, complete: bool, log: bool) -> dict:
    """Median width and mean interval score of the intervals (log space where every value of every
    law compared is positive, so one table has one unit; ``2 / (1 - level)`` times the distance by
    which the truth falls outside, plus the width)."""
    if not complete or not bands:
        return {}
    lo, hi, y = np.concatenate(bands, axis=1)
    if log:
        lo, hi, y = np.log(lo), np.log(hi), np.log(y)
        width = float(np.exp(np.median(hi - lo)))
    else:
        width = float(np.median(hi - lo))
    miss = np.maximum(lo - y, 0.0) + np.maximum(y - hi, 0.0)
    return {"width": width, "interval_score": float(np.mean(hi - lo + 2.0 / (1.0 - level) * miss))}


def _coverage(hits: list[np.ndarray]) -> float | None:
    """Share of held-out runs inside their intervals; None when any fit had no interval."""
    hits = np.concatenate(hits) if hits else np.array([np.nan])
    return None if np.isnan(hits).any() else float(np.mean(hits))


def _names(laws) -> list[str]:
    items = [laws] if isinstance(laws, str) else list(laws)
    # a formula holds commas of its own: it is one law; any other text is a comma-separated list
    names = [n.strip() if isinstance(n, str) else n for item in items
             for n in ([item] if not isinstance(item, str) or is_formula(item) else item.split(","))]
    if not names or not all(names):
        raise InputError(f"--law must name at least one law; got {laws!r}")
    for n in names:
        if n != "auto":
            get_law(n)
    twice = next((n for n in names if names.count(n) > 1), None)
    if twice is not None:
        raise InputError(f"--law must name each law once; `{twice}` is named {names.count(twice)} times in {laws!r}")
    return names


def _check_interval(interval):
    if interval is not None and not (isinstance(interval, float) and 0.0 < interval < 1.0):
        raise InputError(f"--interval must lie strictly between 0 and 1; got {interval!r}")


def _fit_and_test(name, runs, train_where, interval, fit_options):
    """The fit on ``train_where`` and the held-out design (inputs and targets of the other runs).
    A name ``"A -> B"`` is a chain (`scalinglaws.chain`): A fitted on the ``via`` option's column,
    B from it to the target."""
    options = dict(fit_options)
    first, _, then = name.partition(CHAIN) if isinstance(name, str) else (name, "", "")
    fitter = fit if not then else functools.partial(fit_chain, then=then)
    if interval is not None:
        options.setdefault("bootstrap", INTERVAL_REPLICATES)
    try:
        result = fitter(first, runs, where=train_where, **options)
    except FitError:
        if not options.get("bootstrap"):
            raise
        # the point fit may stand where too few bootstrap replicates converged: scored, without an interval
        result = fitter(first, runs, where=train_where, **{**options, "bootstrap": 0})
    # a chain's held-out runs: the first law's inputs and the link's target (a bounded metric, read as it is)
    law = result.law if not then else result.law.in_space("linear")
    test = design(runs, law, x=fit_options.get("x"), y=fit_options.get("y"), where=train_where, outside=True,
                  dropna=fit_options.get("dropna", False),
                  include_excluded=fit_options.get("include_excluded", False), n_free=0)
    return result, test


def backtest(laws: str | Sequence[str], runs, *, train_where: str | Sequence[str] | None = None,
             along: str | None = None, by: str | None = None, train_fraction: float = 0.5,
             interval: float | None = None, where: str | None = None, **fit_options):
    """Fit each law on the earlier runs and score its forecasts of the later ones.

    Args:
        laws: a law name (``"auto"`` included), a comma-separated list, a formula (one law, see
            `scalinglaws.laws.formula`), or a sequence of these.
        runs: a `Runs`, DataFrame or mapping of columns.
        train_where: the condition that selects the training runs (``"C < 1e21"``); every other
            (non-excluded) run is held out and never seen by the fit. A sequence of conditions
            (growing cut-offs) gives one `Backtest` each.
        along: backtest along training curves instead: within each group of ``by``, train on the
            checkpoints with ``along <= train_fraction * max(along)`` and score the rest.
        by: a column naming groups (curves, datasets) backtested separately, with either split;
            their forecasts are pooled into one score per law.
        interval: also score the coverage of prediction intervals at this level (each fit gets a
            bootstrap of ``INTERVAL_REPLICATES`` replicates).
        where: only these runs take part at all (train and test): a condition on columns. Row
            numbers in later messages count within this selection (and within each ``by`` group).
        **fit_options: passed to `scalinglaws.fit` (``x``, ``y``, ``loss``, ``method``, ...).

    Returns:
        A `Backtest`, or a tuple of them for a sequence of conditions.

    Example:
        >>> import scalinglaws as sl
        >>> bt = sl.backtest("chinchilla", sl.load_dataset("chinchilla"), train_where="C < 1e21")
        >>> bt.n_train, bt.n_test
        (217, 23)
    """
    names = laws_given = _names(laws)  # names: the labels scored ("A -> B" for a chain)
    then = fit_options.pop("then", None)
    if then is not None:  # every law named is the first stage of a chain ending in `then`
        if not fit_options.get("via"):
            raise InputError("--then needs --via COLUMN: the intermediate quantity (the loss) the first law forecasts")
        get_law(then)
        if not all(isinstance(n, str) for n in names):
            raise InputError("--then chains laws named by text (a registered name or a formula)")
        names = [f"{n}{CHAIN}{then}" for n in names]
    elif fit_options.get("via") is not None:
        raise InputError("--via names the intermediate column of a chain; add --then LAW")
    _check_interval(interval)
    runs = Runs.coerce(runs)
    runs = with_areas_for(runs, [None if n == "auto" else get_law(n).inputs for n in laws_given], fit_options.get("x"))
    if where is not None:
        rows = select_rows(runs, where, True, option="--where")[0]
        if not rows.size:
            raise InputError(f"--where `{where}` selects no runs")
        runs = _subset(runs, runs.table.iloc[rows])
    if by is not None and by not in runs.columns:
        raise InputError(f"--by column `{by}` not found; columns are {', '.join(runs.columns)}")
    if by is not None and runs.table[by].isna().any():
        raise InputError(f"--by column `{by}` must name a group on every row; row "
                         f"{int(runs.table[by].isna().to_numpy().argmax()) + 1} is empty")
    if along is not None:
        if train_where is not None:
            raise InputError("give either --train-where or --along, not both")
        return _along_curves(names, runs, along, by, train_fraction, interval, fit_options)
    if train_where is None:
        raise InputError("backtest needs --train-where (a condition on columns) or --along COLUMN")
    if not isinstance(train_where, str):
        options = fit_options if then is None else {**fit_options, "then": then}  # each cut makes its chains
        return tuple(_one_cut(laws_given, runs, w, by, interval, options) for w in train_where)
    if not train_where.strip():
        raise InputError("--train-where must be a condition on columns, e.g. \"C < 1e21\"")
    select_rows(runs, train_where, True, option="--train-where")  # a condition that cannot be evaluated: named as given
    include = fit_options.get("include_excluded", False)
    if not select_rows(runs, train_where, include, outside=True)[0].size:
        raise InputError(f"--train-where `{train_where}` leaves no runs to test on")
    if by is None and not select_rows(runs, train_where, include)[0].size:
        raise InputError(f"--train-where `{train_where}` leaves no runs to train on")
    if by is None:
        fitted, failed = [], []
        with stage(f"backtest: fitting {len(names)} law(s) on `{train_where}`", total=len(names)) as advance:
            for name in names:
                try:
                    fitted.append((name, *_fit_and_test(name, runs, train_where, interval, fit_options)))
                except ScalingLawsError as exc:  # one law that cannot be fitted does not stop the others
                    if len(names) == 1:
                        raise
                    failed.append((name, exc))
                advance()
        if not fitted:
            raise type(failed[0][1])("no law could be fitted: " + "; ".join(f"{n}: {e}" for n, e in failed))
        forecasts = _Forecasts([name for name, _, _ in fitted])
        for name, result, test in fitted:
            forecasts.add(name, result, test.x, test.y, interval)
        n_train, n_test = fitted[0][1].n_points, int(fitted[0][2].y.size)
        return Backtest(train_where=train_where, n_train=n_train, n_test=n_test, scores=forecasts.scores(interval),
                        interval=interval, skipped=tuple(f"law {n}: {e}" for n, e in failed))
    groups = [(f"`{by}` = {key!r}", _subset(runs, t), train_where) for key, t in runs.table.groupby(by, sort=True)]
    return _pooled(names, groups, interval, fit_options, f"{train_where} in each `{by}` group",
                   f"--by {by}: no group has runs outside `{train_where}`", f"on `{train_where}`")


def _one_cut(names, runs, train_where, by, interval, fit_options) -> Backtest:
    """One of several --train-where cut-offs; its error names it."""
    try:
        return backtest(names, runs, train_where=train_where, by=by, interval=interval, **fit_options)
    except InputError as exc:
        if f"`{train_where}`" in str(exc):
            raise
        raise InputError(f"--train-where `{train_where}`: {exc}") from None


def _subset(runs: Runs, table) -> Runs:
    return runs.with_table(table.reset_index(drop=True))


def _along_curves(names, runs: Runs, along: str, by: str | None, fraction: float, interval, fit_options) -> Backtest:
    if along not in runs.columns:
        raise InputError(f"--along column `{along}` not found; columns are {', '.join(runs.columns)}")
    if not (isinstance(fraction, float) and 0.0 < fraction < 1.0):
        raise InputError(f"--train-fraction must lie strictly between 0 and 1; got {fraction!r}")
    # every checkpoint used must have a finite position along the curve (named by row otherwise)
    numeric_column(runs.table, along, select_rows(runs, None, fit_options.get("include_excluded", False))[0])
    groups = []
    label = (lambda key: f"`{by}` = {key!r}") if by else (lambda key: "the runs")  # noqa: E731
    for key, table in [(None, runs.table)] if by is None else list(runs.table.groupby(by, sort=True)):
        sub = _subset(runs, table)
        cut = fraction * float(np.nanmax(sub.table[along].to_numpy(dtype=np.float64)))
        groups.append((label(key), sub, f"`{along}` <= {cut!r}"))
    split = f"first {fraction:g} of `{along}` in each " + (f"`{by}` group" if by else "run")
    return _pooled(names, groups, interval, fit_options, split,
                   f"--along {along}: no group has checkpoints beyond {fraction:g} of its last `{along}`",
                   f"on their first {fraction:g} of `{along}`")


def _pooled(names, groups, interval, fit_options, split: str, nothing_held_out: str, trained_on: str) -> Backtest:
    """Backtest each ``(runs, train_where)`` group and pool the forecasts into one score per law;
    groups with nothing held out, or that no law could fit, are skipped and counted."""
    forecasts, n_train, n_test, skipped = _Forecasts(names), 0, 0, []
    not_fitted = []  # why groups with held-out runs could not be fitted
    with stage(f"backtest: {len(groups)} groups", total=len(groups)) as advance:
        for label, sub, train_where in groups:
            held = select_rows(sub, train_where, fit_options.get("include_excluded", False), outside=True)[0]
            if not held.size:
                skipped.append(f"{label}: nothing held out")
                advance()
                continue
            try:
                fitted = [_fit_and_test(name, sub, train_where, interval, fit_options) for name in names]
            except ScalingLawsError as exc:  # too few runs before the cut, or no law could fit this group
                skipped.append(f"{label}: {exc}")
                not_fitted.append(str(exc))
                advance()
                continue
            for name, (result, test) in zip(names, fitted):
                forecasts.add(name, result, test.x, test.y, interval)
            n_train, n_test = n_train + fitted[0][0].n_points, n_test + int(fitted[0][1].y.size)
            advance()
    if not n_test:
        if not not_fitted:
            raise InputError(nothing_held_out)
        rest = len(groups) - len(not_fitted)
        raise InputError(f"{nothing_held_out.split(':')[0]}: no group could be backtested: {len(not_fitted)} of "
                         f"{len(groups)} could not be fitted {trained_on} (the first: {not_fitted[0]})"
                         + (f"; {rest} have nothing held out" if rest else ""))
    return Backtest(train_where=f"{split} ({len(groups) - len(skipped)} of {len(groups)} groups scored)",
                    n_train=n_train, n_test=n_test, scores=forecasts.scores(interval), interval=interval,
                    skipped=tuple(skipped))
