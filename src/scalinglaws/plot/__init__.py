"""Figures (matplotlib, the ``plot`` extra). Each takes ``ax=None`` (``fig=None`` for figures of
several panes) and returns what it drew on; `save` writes PNG, SVG or PDF.

>>> import scalinglaws as sl
>>> runs = sl.load_dataset("chinchilla")
>>> fit = sl.fit("chinchilla", runs)
>>> ax = sl.plot.fit_curve(fit, runs, along="N", to={"N": 7e10, "D": 1.4e12})
>>> ax.get_xlabel()
'N (column `N`)'
"""

from ._common import FORMATS, save, svg
from .fits import bootstrap_pairs, candidates, fit_curve, residuals
from .scale import backtest_errors, coverage, frontier, plan

__all__ = ["FORMATS", "backtest_errors", "bootstrap_pairs", "candidates", "coverage", "fit_curve", "frontier", "plan",
           "residuals", "save", "svg"]
