"""Chains: a law for an intermediate quantity (the loss) followed by a law from it to the target.

Downstream metrics are often forecast in two steps: a scaling law gives the loss at a new scale,
and a link maps the loss to the task metric (Gadre et al. 2024: ``Err(L) = epsilon - k exp(-gamma
L)``; the model-ladder approach: compute -> task loss -> accuracy through a sigmoid). A chain is
the two fits; its forecast is the second law at the first law's forecast,

    y_hat(x) = g(f(x)),   f: inputs -> via (fitted on the `via` column),   g: via -> y.

Its prediction interval carries the first stage's uncertainty into the second: each stage's own
interval (bootstrap, calibrated beyond its fitted range, see `FitResult.predict_interval`) is taken
at level ``(1 + level) / 2``, and the chain's interval is the union of the second stage's intervals
over every value of ``via`` inside the first stage's interval. If the first interval holds the new
run's ``via`` and the second holds its ``y`` at that ``via``, the union holds ``y``: by the union
bound the chain's interval holds the truth with probability at least ``level`` whatever the
dependence between the stages (conservative where they are independent) -- provided the second
stage's interval holds at its level there. Where the forecast ``via`` lies beyond the runs the link
was fitted on (a loss below theirs: the usual case), the link is extrapolated and its interval is
not widened by a distance (its calibration measures none in ``via``; its nested cut-offs do fit the
high losses and forecast the low ones): `link_extrapolated` marks those points, and the guarantee
does not hold there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from .data import Runs
from .errors import FitError, InputError
from .fit import FitResult
from .fit.records import check_level
from .laws import get_law

GRID = 33  # values of `via` at which the second stage's interval is taken, per forecast point


@dataclass(frozen=True)
class ChainResult:
    """Two fits in a row: ``first`` forecasts the ``via`` column from the inputs, ``second``
    forecasts the target from ``via`` (its one input)."""

    first: FitResult
    second: FitResult

    def __post_init__(self):
        if len(self.second.law.inputs) != 1:
            raise InputError(f"the second law of a chain takes one input (the first law's forecast); "
                             f"{self.second.law.name} takes {', '.join(self.second.law.inputs)}")

    @property
    def via(self) -> str:
        """The column the first law forecasts and the second reads."""
        return self.first.y_column

    @property
    def name(self) -> str:
        return f"{self.first.law.name} -> {self.second.law.name}"

    @property
    def status(self) -> str:
        return self.first.status if self.first.status != "converged" else self.second.status

    @property
    def bootstrap(self):
        """Both stages' bootstraps, or None when either has none."""
        if self.first.bootstrap is None or self.second.bootstrap is None:
            return None
        return self.first.bootstrap, self.second.bootstrap

    @property
    def selection(self):
        return self.first.selection

    @property
    def law(self):
        return self.first.law

    @property
    def n_points(self) -> int:
        return self.first.n_points

    def _link(self, values) -> dict[str, np.ndarray]:
        return {self.second.law.inputs[0]: np.asarray(values, dtype=np.float64)}

    def predict(self, x) -> np.ndarray:
        """The second law at the first law's forecast at ``x`` (the first law's inputs)."""
        return self.second.predict(self._link(self.first.predict(x)))

    def predict_interval(self, x, level: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
        """``(lo, hi)``: an interval for a new run's target at ``x`` that holds it with probability
        at least ``level`` (see the module docstring). Needs both stages fitted with a bootstrap."""
        check_level("--interval", level)
        if self.bootstrap is None:
            raise InputError("a chain's prediction interval needs both stages fitted with bootstrap replicates")
        stage = (1.0 + level) / 2.0
        try:
            lo1, hi1 = self.first.predict_interval(x, level=stage)
            center = self.first.predict(x)
            t = np.linspace(0.0, 1.0, GRID)
            grid = np.concatenate([lo1[..., None] + t * (hi1 - lo1)[..., None], center[..., None]], axis=-1)
            lo2, hi2 = self.second.predict_interval(self._link(grid.ravel()), level=stage)
        except FitError as exc:
            raise FitError(f"a chain's {level:.1%} interval takes each stage's at {stage:.1%}: {exc}") from None
        return lo2.reshape(grid.shape).min(axis=-1), hi2.reshape(grid.shape).max(axis=-1)

    def link_extrapolated(self, x) -> np.ndarray:
        """Per point: whether the first stage's forecast of ``via`` lies outside the range of ``via``
        the second law was fitted on (its interval there carries no extrapolation width)."""
        lo, hi = self.second.x_range[self.second.law.inputs[0]]
        v = self.first.predict(x)
        return (v < lo) | (v > hi)

    def decades_beyond(self, x) -> np.ndarray:
        return self.first.decades_beyond(x)

    def extrapolation(self, x):
        return self.first.extrapolation(x)

    def to_dict(self) -> dict:
        return {"chain": [self.first.to_dict(), self.second.to_dict()], "via": self.via}

    def summary(self) -> dict:
        return {"chain": [self.first.summary(), self.second.summary()], "via": self.via}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ChainResult":
        stages = d.get("chain")
        if not isinstance(stages, list) or len(stages) != 2 or not all(isinstance(s, Mapping) for s in stages):
            raise InputError("not a chain document: `chain` must hold the two stages' fit documents")
        first, second = (FitResult.from_dict(s) for s in stages)
        chain = cls(first, second)
        if second.columns.get(second.law.inputs[0], second.law.inputs[0]) != first.y_column:
            raise InputError(f"not a chain document: the second stage reads `{second.columns.get(second.law.inputs[0])}`"
                             f" where the first forecasts `{first.y_column}`")
        return chain


def fit_chain(first, runs, *, then, via: str, y: str, x: Mapping[str, str] | None = None,
              where: str | None = None, bootstrap: int = 0, space: str | None = None, **options) -> ChainResult:
    """Fit ``first`` (a law name, a `Law` or ``"auto"``) on the ``via`` column, and ``then`` (a law
    of one input) from ``via`` to ``y``, on the same runs (``where``). ``space`` sets the first
    stage's residuals; every other option goes to both `scalinglaws.fit` calls (``loss``,
    ``method``, ``level``, ``resample`` ...), ``x`` to the first.

    Example:
        >>> import scalinglaws as sl
        >>> chain = sl.fit_chain("chinchilla", runs, then="err_from_loss_exp", via="loss", y="err")  # doctest: +SKIP
        >>> chain.predict({"N": [7e10], "D": [1.4e12]})  # doctest: +SKIP
    """
    from .api import fit

    if not isinstance(via, str) or not via:
        raise InputError(f"--via must name the column of the intermediate quantity (the loss); got {via!r}")
    if not isinstance(y, str) or not y:
        raise InputError(f"--y must name the column the chain forecasts (the task metric); got {y!r}")
    if y == via:
        raise InputError(f"--y and --via name the same column `{via}`; the chain forecasts --y from --via")
    columns = Runs.coerce(runs).columns
    for option, col in (("--via", via), ("--y", y)):
        if col not in columns:
            raise InputError(f"{option} column `{col}` not found; columns are {', '.join(map(str, columns))}")
    second = get_law(then)
    if len(second.inputs) != 1:
        raise InputError(f"--then takes a law of one input (the first law's forecast); {second.name} takes "
                         f"{', '.join(second.inputs)}")
    if options.get("fix"):
        raise InputError("--fix names parameters of one law; a chain has two (fit each stage with fit, or drop --fix)")
    candidates = options.pop("candidates", None)  # --law auto's candidates: for the first stage
    stage_one = fit(first, runs, x=x, y=via, where=where, bootstrap=bootstrap, space=space, candidates=candidates,
                    **options)
    stage_two = fit(second, runs, x={second.inputs[0]: via}, y=y, where=where, bootstrap=bootstrap, **options)
    return ChainResult(stage_one, stage_two)


__all__ = ["ChainResult", "fit_chain"]
