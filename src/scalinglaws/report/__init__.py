"""One self-contained HTML report of a table of runs: the data and its hygiene warnings, each law
fitted with intervals and figures, the forecast at the user's target, the backtests (errors by
cut-off and by decades extrapolated) and the compute-optimal plan. Figures are inline SVG; the
page fetches nothing.

>>> import scalinglaws as sl
>>> report = sl.report.build(sl.load_dataset("chinchilla"), laws=["chinchilla"], bootstrap=0)
>>> report.html.startswith("<!DOCTYPE html>") and "data-figure='fit-chinchilla'" in report.html
True
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from ..data import Runs
from ..errors import ScalingLawsError
from . import html as h
from .sections import backtest_section, data_section, fit_section, plan_section

__all__ = ["Report", "build"]


@dataclass(frozen=True)
class Report:
    """The page (one HTML document) and the laws that could not be fitted (name -> why)."""

    html: str
    not_fitted: dict = field(default_factory=dict)

    def _repr_html_(self) -> str:
        return self.html


def build(runs, *, laws: Sequence[str] = ("auto",), x: Mapping[str, str] | None = None, y: str | None = None,
          where: str | None = None, at: Mapping[str, float] | None = None, compute: Sequence[float] | None = None,
          bootstrap: int = 200, level: float = 0.9, seed: int = 0, title: str | None = None,
          dropna: bool = False, progress=None) -> Report:
    """The report: one HTML document, and the laws that could not be fitted.

    Args:
        runs: a `Runs`, DataFrame or mapping of columns.
        laws: laws to fit (names, ``"auto"`` or formulas), each with ``bootstrap`` replicates.
        x, y, where, dropna: as `scalinglaws.fit`.
        at: the target run (law inputs -> values): forecast with its interval, and the end of each
            figure's extrapolation.
        compute: budgets (FLOP) to plan for, with laws of ``N`` and ``D``.
        level: of the prediction intervals.
        progress: called with a stage's name before it starts (the CLI shows it).

    A law that cannot be fitted gets its error in the report, not an exception; the report fails
    only when no law could be fitted.
    """
    from ..api import fit

    runs = Runs.coerce(runs)
    step = progress or (lambda stage: None)
    fits, failures = {}, {}
    for name in laws:
        step(f"fitting {name}" + (f" with {bootstrap} bootstrap replicates" if bootstrap else ""))
        try:
            fits[name] = fit(name, runs, x=x, y=y, where=where, bootstrap=bootstrap, rng=seed, dropna=dropna)
        except ScalingLawsError as exc:
            failures[name] = exc
    if not fits:
        raise type(next(iter(failures.values())))(
            "no law could be fitted: " + "; ".join(f"{k}: {v}" for k, v in failures.items()))
    body = [data_section(runs, fits, where)]
    for name in laws:
        if name in failures:
            body.append(f"<h2>Law {h.esc(name)}</h2><p class='error'>not fitted: {h.esc(failures[name])}</p>")
        else:
            step(f"drawing {name}")
            body.append(fit_section(name, fits[name], runs, where=where, at=at, level=level))
    step("backtesting")
    body.append(backtest_section(fits, runs, x=x, y=y, where=where))
    if compute:
        step("planning")
        body.append(plan_section(fits, runs, compute, level=level, where=where))
    from .. import __version__

    meta = (f"{runs.source}: {len(runs.table)} rows; scalinglaws {__version__}; "
            f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; seed {seed}")
    return Report(h.page(title or f"Scaling-law report: {runs.source}", meta, "".join(body)),
                  {name: str(exc) for name, exc in failures.items()})

