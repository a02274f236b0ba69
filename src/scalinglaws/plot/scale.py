"""Figures across scale: loss against compute with the compute-optimal frontier, a plan's N* and D*
against budget, backtest errors by cut-off and by decades extrapolated, and coverage against
samples for inference laws."""

from __future__ import annotations

import numpy as np

from ..data import Runs
from ..data.runs import find_column, numeric_column, resolve_target, select_rows
from ..errors import InputError
from ._common import BAND, axes, log_axis

BUDGET_DECIMALS = 1  # runs whose log10 compute agrees to this many decimals share a budget


def _column(runs: Runs, given: str | None, name: str, candidates: tuple[str, ...]) -> str | None:
    if given is not None:
        if given not in runs.columns:
            raise InputError(f"--{name.lower()} must name a column ({', '.join(runs.columns)}); got {given!r}")
        return given
    return find_column(runs.columns, name, candidates)


def frontier(runs, *, fit=None, N: str | None = None, D: str | None = None, C: str | None = None,
             y: str | None = None, where: str | None = None, budgets=None, flops_per_token: str = "6*N",
             level: float = 0.9, out_to: float | None = None, ax=None):
    """Loss against compute, each run coloured by model size; the lowest run of each budget (runs
    whose compute agrees to a tenth of a decade) where a budget has three runs or more; and, with a
    ``fit`` of ``N`` and ``D``, the compute-optimal frontier (`scalinglaws.compute_optimal`) over the
    runs' budgets (``out_to``: on to that budget) or ``budgets``, with its loss interval for a
    bootstrapped fit. Compute is the
    ``C`` column, else ``6 N D``. Returns the Axes."""
    from ..plan import compute_optimal, is_averaged

    runs = Runs.coerce(runs)
    n_col = _column(runs, N, "N", ("N", "params", "n_params", "N_params"))
    d_col = _column(runs, D, "D", ("D", "tokens", "D_tokens"))
    c_col = _column(runs, C, "C", ("C", "flops", "compute", "C_flops_6ND"))
    if n_col is None or (c_col is None and d_col is None):
        raise InputError("the frontier needs a model-size column (N) and a compute (C) or tokens (D) column; "
                         f"the table has {', '.join(runs.columns)}")
    y_col = resolve_target(runs, y)
    rows, _ = select_rows(runs, where, False)
    n = numeric_column(runs.table, n_col, rows, positive="model sizes are drawn on a log scale")
    loss = numeric_column(runs.table, y_col, rows)
    c = (numeric_column(runs.table, c_col, rows, positive="compute is drawn on a log scale") if c_col else
         6.0 * n * numeric_column(runs.table, d_col, rows, positive="tokens are positive"))
    ax = axes(ax)
    points = ax.scatter(c, loss, c=np.log10(n), cmap="viridis", s=16, zorder=3)
    ax.figure.colorbar(points, ax=ax, label=f"log10 {n_col}")
    budget = np.round(np.log10(c), BUDGET_DECIMALS)
    minima = [np.flatnonzero(budget == b)[np.argmin(loss[budget == b])] for b in np.unique(budget)
              if np.sum(budget == b) >= 3]
    if minima:
        ax.scatter(c[minima], loss[minima], marker="D", s=40, facecolor="none", edgecolor="C3", linewidth=1.4,
                   zorder=4, label="lowest run of each budget")
    if fit is not None:
        top = c.max() if out_to is None else max(c.max(), float(out_to))
        grid = np.geomspace(c.min(), top, 40) if budgets is None else np.sort(np.atleast_1d(budgets))
        plans = compute_optimal(fit, grid, flops_per_token=flops_per_token, level=level)
        ax.plot(grid, [p["loss"] for p in plans], color="C3", linewidth=1.6, label=f"compute-optimal ({fit.law.name}"
                f"{' averaged with its rivals' if is_averaged(fit) else ''})")
        bands = [p.get("interval", {}).get("loss") for p in plans]
        if all(b is not None for b in bands):
            ax.fill_between(grid, [b[0] for b in bands], [b[1] for b in bands], color="C3",
                            label=f"{level:.0%} prediction interval", **BAND)
    ax.set_xscale("log")
    log_axis(ax, "y", loss)
    ax.set_xlabel(f"compute, FLOP ({'column `' + c_col + '`' if c_col else '6 N D'})")
    ax.set_ylabel(y_col)
    ax.set_title(f"{len(loss)} runs against compute", fontsize=10)
    if minima or fit is not None:
        ax.legend(fontsize=7)
    return ax


def plan(plans, *, ax=None):
    """A plan's ``N*`` and ``D*`` against budget (`scalinglaws.compute_optimal`'s list), with their
    intervals where the plan has them. Returns the Axes."""
    plans = list(plans)
    if not plans:
        raise InputError("no plans to draw")
    ax = axes(ax)
    C = np.array([p["C"] for p in plans])
    for name, colour in (("N", "C0"), ("D", "C1")):
        ax.plot(C, [p[name] for p in plans], marker="o", markersize=3, color=colour,
                label=f"{name}* (tokens)" if name == "D" else f"{name}* (parameters)")
        bands = [p.get("interval", {}).get(name) for p in plans]
        if all(b is not None for b in bands) and len(plans) > 1:
            ax.fill_between(C, [b[0] for b in bands], [b[1] for b in bands], color=colour, **BAND)
        elif all(b is not None for b in bands):  # one budget: its interval as an error bar
            v = plans[0][name]
            ax.errorbar(C, [v], yerr=[[v - bands[0][0]], [bands[0][1] - v]], color=colour, capsize=4)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("compute budget, FLOP")
    ax.set_ylabel("compute-optimal value")
    shaded = any("interval" in p for p in plans)
    ax.set_title("compute-optimal allocation" + (" (shaded: parameter uncertainty)" if shaded else ""), fontsize=10)
    ax.legend(fontsize=7)
    return ax


def backtest_errors(errors, *, ax=None):
    """Held-out forecast errors (`scalinglaws.nested.errors_by_cut`'s table) against decades beyond
    each fold's training runs, coloured by cut-off, with the median |error| of each fold. Returns
    the Axes."""
    ax = axes(ax)
    space = errors.attrs.get("space", "log")
    if not len(errors):
        raise InputError("no backtest errors to draw: every fold's fit failed or held out no run")
    e = np.abs(errors["error"].to_numpy(dtype=np.float64))
    folds = sorted(errors["fraction"].unique())
    colours = [__import__("matplotlib").colormaps["plasma"](v) for v in np.linspace(0.0, 0.85, len(folds))]
    for colour, fraction in zip(colours, folds):
        rows = (errors["fraction"] == fraction).to_numpy()
        cut = float(errors["cut"][rows].iloc[0])
        ax.scatter(errors["decades"][rows], e[rows], s=12, color=colour, alpha=0.8,
                   label=f"cut {cut:.3g}: median {np.median(e[rows]):.3g}")
    ax.set_yscale("log")
    ax.set_xlabel("decades beyond the fold's training runs")
    ax.set_ylabel("|log y_hat - log y|" if space == "log" else "|y_hat - y|")
    ax.set_title(f"backtest: {len(folds)} cut-offs, {len(errors)} held-out forecasts", fontsize=10)
    ax.legend(fontsize=7, title="fold", title_fontsize=7)
    return ax


def coverage(curve, *, forecast: dict | None = None, ax=None):
    """Coverage (pass@k) against samples ``k``: the observed curve (`scalinglaws.passk.coverage_curve`'s
    table, columns ``k`` and ``coverage``) and a `fit_coverage` document's forecast with its interval
    and the pass@k observed at the forecast k where the problems had samples enough. Returns the Axes."""
    ax = axes(ax)
    ax.plot(curve["k"], curve["coverage"], color="C0", linewidth=1.6, label="pass@k (unbiased, fitted range)")
    if forecast is not None:
        f = forecast["forecast"]
        k = np.asarray(f["k"], dtype=np.float64)
        ax.plot(k, f["pass_at_k"], color="C3", marker="o", markersize=4, linestyle="--", label="forecast")
        if "lo" in f:
            ax.fill_between(k, f["lo"], f["hi"], color="C3", label=f"{f['level']:.0%} interval", **BAND)
        seen = [(kk, o) for kk, o in zip(k, f["observed"]) if o is not None]
        if seen:
            ax.scatter(*zip(*seen), marker="x", color="black", zorder=5, label="observed at forecast k")
    ax.set_xscale("log")
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("samples per problem, k")
    ax.set_ylabel("coverage (pass@k)")
    ax.legend(fontsize=7)
    return ax
