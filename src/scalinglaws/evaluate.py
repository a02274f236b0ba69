"""Backtests: fit on the runs a condition selects (the small scales), score on the rest.

The question a backtest answers: had this law, fitted this way, been used on the runs available
earlier, how far off would its forecasts of the later, larger runs have been?
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .data import Runs, design
from .data.runs import select_rows
from .errors import InputError
from .fit import fit
from .laws import get_law


@dataclass(frozen=True)
class LawScore:
    """Errors of one law's forecasts on the held-out runs (log = natural log)."""

    law: str
    status: str
    are: float  # mean |y_hat / y - 1|
    max_are: float
    rmse_log: float  # sqrt(mean (log y_hat - log y)^2)
    bias_log: float  # mean (log y_hat - log y): > 0 forecasts too high
    wins: int  # held-out runs where this law's forecast was the closest

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Backtest:
    train_where: str
    n_train: int
    n_test: int
    scores: tuple[LawScore, ...]

    def to_dict(self) -> dict:
        return {"train_where": self.train_where, "n_train": self.n_train, "n_test": self.n_test,
                "laws": [s.to_dict() for s in self.scores]}


def backtest(laws: str | Sequence[str], runs, *, train_where: str, **fit_options) -> Backtest:
    """Fit each law on the rows ``train_where`` selects and score its forecasts on the other rows.

    Args:
        laws: a law name, a comma-separated list, or a sequence of names.
        runs: a `Runs`, DataFrame or mapping of columns.
        train_where: the condition that selects the training runs (``"C < 1e21"``); every other
            (non-excluded) run is held out and never seen by the fit.
        **fit_options: passed to `scalinglaws.fit` (``x``, ``y``, ``loss``, ``method``, ...).

    Example:
        >>> import scalinglaws as sl
        >>> bt = sl.backtest("chinchilla", sl.load_dataset("chinchilla"), train_where="C < 1e21")
        >>> bt.n_train, bt.n_test
        (217, 23)
    """
    names = [n.strip() for n in laws.split(",")] if isinstance(laws, str) else list(laws)
    if not names or not all(names):
        raise InputError(f"--law must name at least one law; got {laws!r}")
    if not train_where or not train_where.strip():
        raise InputError("--train-where must be a condition on columns, e.g. \"C < 1e21\"")
    if "where" in fit_options:
        raise InputError("backtest selects rows with --train-where; --where is not used here")
    runs = Runs.coerce(runs)
    held_out = f"~({train_where})"
    x_map, y = fit_options.get("x"), fit_options.get("y")
    include = fit_options.get("include_excluded", False)
    if not select_rows(runs, held_out, include)[0].size:
        raise InputError(f"--train-where `{train_where}` leaves no runs to test on")
    errors, statuses, n_train, n_test = {}, {}, 0, 0
    for name in names:
        law = get_law(name)
        result = fit(law, runs, where=train_where, **fit_options)
        test = design(runs, law, x=x_map, y=y, where=held_out, include_excluded=include, n_free=0)
        errors[name] = np.log(result.predict(test.x)) - np.log(test.y)
        statuses[name] = result.status
        n_train, n_test = result.n_points, int(test.y.size)
    if len({e.size for e in errors.values()}) != 1:
        raise InputError("the laws compared must be scored on the same held-out runs (same inputs present)")
    stacked = np.abs(np.stack([errors[n] for n in names]))
    winners = np.argmin(stacked, axis=0)
    scores = tuple(
        LawScore(law=n, status=statuses[n], are=float(np.mean(np.abs(np.expm1(e)))),
                 max_are=float(np.max(np.abs(np.expm1(e)))), rmse_log=float(np.sqrt(np.mean(e**2))),
                 bias_log=float(np.mean(e)), wins=int(np.sum(winners == i)))
        for i, (n, e) in enumerate(errors.items())
    )
    return Backtest(train_where=train_where, n_train=n_train, n_test=n_test, scores=scores)
