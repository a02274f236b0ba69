"""Figures across scale: loss against compute with the compute-optimal frontier, a plan's N* and D*
against budget, backtest errors by cut-off and by decades extrapolated, and coverage against
samples for inference laws."""

from __future__ import annotations

import numpy as np

from ..data import Runs
from ..data.runs import find_column, numeric_column, resolve_target, select_rows
from ..errors import InputError
from ._common import BAND, axes, law_label, log_axis, plain_text

BUDGET_DECIMALS = 1  # runs whose compute is within 10^-1 decades of the next share an iso-FLOP budget
BUDGET_SPAN = 0.15  # decades: a budget whose runs spread wider is no budget


def _column(runs: Runs, given: str | None, name: str, candidates: tuple[str, ...]) -> str | None:
    if given is not None:
        if given not in runs.columns:
            raise InputError(f"--{name.lower()} must name a column ({', '.join(runs.columns)}); got {given!r}")
        return given
    return find_column(runs.columns, name, candidates)


@plain_text
def frontier(runs, *, fit=None, N: str | None = None, D: str | None = None, C: str | None = None,
             y: str | None = None, where: str | None = None, budgets=None, flops_per_token: str = "6*N",
             level: float = 0.9, out_to: float | None = None, ax=None):
    """Loss against compute, each run coloured by model size; the lowest run of each iso-FLOP budget
    where the runs form such budgets (`_budget_minima`); and, with a
    ``fit`` of ``N`` and ``D``, the compute-optimal frontier (`scalinglaws.compute_optimal`) over the
    runs' budgets (``out_to``: on to that budget) or ``budgets``, with its loss interval for a
    bootstrapped fit. Compute is the
    ``C`` column, else ``6 N D``. Returns the Axes."""
    from ..plan import compute_optimal

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
    minima = _budget_minima(c, n, loss)
    if minima:
        ax.scatter(c[minima], loss[minima], marker="D", s=40, facecolor="none", edgecolor="C3", linewidth=1.4,
                   zorder=4, label="lowest run of each iso-FLOP budget")
    if fit is not None:
        top = c.max() if out_to is None else max(c.max(), float(out_to))
        grid = np.geomspace(c.min(), top, 40) if budgets is None else np.sort(np.atleast_1d(budgets))
        plans = compute_optimal(fit, grid, flops_per_token=flops_per_token, level=level)
        ax.plot(grid, [p["loss"] for p in plans], color="C3", linewidth=1.6, label=f"compute-optimal ({law_label(fit)})")
        bands = [p.get("interval", {}).get("loss") for p in plans]
        if all(b is not None for b in bands):
            ax.fill_between(grid, [b[0] for b in bands], [b[1] for b in bands], color="C3",
                            label=f"{level:.0%} prediction interval", **BAND)
        else:
            why = next((p["interval"].get("loss_note") for p in plans if p.get("interval", {}).get("loss_note")),
                       "fit with a bootstrap for one")
            ax.plot([], [], " ", label=f"no band: {why.split(':')[0]}")
    ax.set_xscale("log")
    log_axis(ax, "y", loss)
    ax.set_xlabel(f"compute, FLOP ({'column `' + c_col + '`' if c_col else '6 N D'})")
    ax.set_ylabel(y_col)
    title = f"{len(loss)} runs against compute"
    if fit is not None and c_col is not None and d_col is not None:
        ratio = float(np.median(c / (6.0 * n * numeric_column(runs.table, d_col, rows))))
        if abs(ratio - 1.0) > 0.05:  # the frontier is planned at 6 N D: say when the table counts otherwise
            title += f"\n(column `{c_col}` is {ratio:.2f} x 6ND at the median; the frontier uses {flops_per_token} per token)"
    ax.set_title(title, fontsize=10 if "\n" not in title else 8)
    if minima or fit is not None:
        ax.legend(fontsize=7)
    return ax


def _budget_minima(c, n, loss) -> list[int]:
    """The lowest run of each iso-FLOP budget, where the runs form budgets: runs whose compute lies
    within `BUDGET_DECIMALS` of a decade of the next (sorted) share one; a budget counts when it has
    3 model sizes or more and spans at most `BUDGET_SPAN` decades, and the table counts as iso-FLOP runs when such budgets hold at least
    half the runs (otherwise no marks: there are no budgets to mark)."""
    order = np.argsort(c)
    gaps = np.diff(np.log10(c[order])) > 10.0 ** -BUDGET_DECIMALS
    labels = np.empty(c.size, dtype=int)
    labels[order] = np.concatenate([[0], np.cumsum(gaps)])
    budgets = [np.flatnonzero(labels == b) for b in np.unique(labels)]
    budgets = [rows for rows in budgets if np.unique(np.round(np.log10(n[rows]), 3)).size >= 3
               and np.ptp(np.log10(c[rows])) <= BUDGET_SPAN]
    if sum(rows.size for rows in budgets) < 0.5 * c.size:
        return []
    return [int(rows[np.argmin(loss[rows])]) for rows in budgets]


@plain_text
def plan(plans, *, ax=None):
    """A plan's ``N*`` and ``D*`` against budget (`scalinglaws.compute_optimal`'s list), with their
    intervals where the plan has them. Returns the Axes."""
    plans = list(plans)
    if not plans:
        raise InputError("no plans to draw")
    ax = axes(ax)
    C = np.array([p["C"] for p in plans])
    shaded = False
    for name, colour in (("N", "C0"), ("D", "C1")):
        ax.plot(C, [p[name] for p in plans], marker="o", markersize=3, color=colour,
                label=f"{name}* (tokens)" if name == "D" else f"{name}* (parameters)")
        bands = [p.get("interval", {}).get(name) for p in plans]
        if all(b is not None for b in bands) and len(plans) > 1:
            ax.fill_between(C, [b[0] for b in bands], [b[1] for b in bands], color=colour, **BAND)
            shaded = True
        elif all(b is not None for b in bands):  # one budget: its interval as an error bar (a percentile
            v, (lo, hi) = plans[0][name], bands[0]  # interval need not hold the point plan: drawn as it is)
            ax.errorbar(C, [v], yerr=[[max(v - lo, 0.0)], [max(hi - v, 0.0)]], color=colour, capsize=4)
            ax.vlines(C, [lo], [hi], color=colour)
            shaded = True
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("compute budget, FLOP")
    ax.set_ylabel("compute-optimal value")
    level = next((p["interval"]["level"] for p in plans if "interval" in p), None)
    ax.set_title("compute-optimal allocation" + (f" ({level:.0%} intervals: parameter uncertainty only)" if shaded
                                                 else ""), fontsize=10)
    ax.legend(fontsize=7)
    return ax


@plain_text
def backtest_errors(errors, *, ax=None):
    """Held-out forecast errors (`scalinglaws.nested.errors_by_cut`'s table) against the distance
    past each fold's cut-off, coloured by cut-off, with the median |error| of each fold and how many
    folds could not be fitted. Returns the Axes."""
    ax = axes(ax)
    space = errors.attrs.get("space", "log")
    failed = errors.attrs.get("failed", [])
    if not len(errors):
        raise InputError("no backtest errors to draw: every fold's fit failed or held out no run"
                         + (f" (the first failure: {failed[0]['reason']})" if failed else ""))
    column, label = errors.attrs.get("distance", ("decades", "decades beyond the fold's training runs"))
    e = np.abs(errors["error"].to_numpy(dtype=np.float64))
    folds = sorted(errors["fraction"].unique())
    import matplotlib

    colours = [matplotlib.colormaps["plasma"](v) for v in np.linspace(0.0, 0.85, len(folds))]
    for colour, fraction in zip(colours, folds):
        rows = (errors["fraction"] == fraction).to_numpy()
        cut = float(errors["cut"][rows].iloc[0])
        ax.scatter(errors[column][rows], e[rows], s=12, color=colour, alpha=0.8,
                   label=f"cut {cut:.3g}: median {np.median(e[rows]):.3g}")
    log_axis(ax, "y", e)
    ax.set_xlabel(label)
    ax.set_ylabel("|log y_hat - log y|" if space == "log" else "|y_hat - y|")
    ax.set_title(f"backtest: {len(folds)} cut-offs, {len(errors)} held-out forecasts"
                 + (f"; {len(failed)} cut-off(s) could not be fitted" if failed else ""), fontsize=10)
    ax.legend(fontsize=7, title="fold", title_fontsize=7)
    return ax


@plain_text
def coverage(curve, *, forecast: dict | None = None, title: str | None = None, ax=None):
    """Coverage (pass@k) against samples ``k``: the observed curve (`scalinglaws.passk.coverage_curve`'s
    table, columns ``k`` and ``coverage``) and a `fit_coverage` document's forecast with its interval
    and the pass@k observed at the forecast k where the problems had samples enough. Returns the Axes."""
    ax = axes(ax)
    ax.plot(curve["k"], curve["coverage"], color="C0", linewidth=1.6, label="pass@k (unbiased, fitted range)")
    if forecast is not None:
        from ..laws import get_law

        f = forecast["forecast"]
        k = np.asarray(f["k"], dtype=np.float64)
        ks = np.geomspace(1.0, k.max(), 200)
        ax.plot(ks, get_law(forecast["law"]).predict(forecast["params"], {"k": ks}), color="C3", linestyle="--",
                linewidth=1.2, label=f"fitted law ({forecast['law']}) on k <= {forecast['fitted_k'][1]}")
        ax.plot(k, f["pass_at_k"], color="C3", marker="o", markersize=5, linestyle="none", label="forecast")
        if "lo" in f:
            p = np.asarray(f["pass_at_k"])
            ax.errorbar(k, p, yerr=[np.maximum(p - np.asarray(f["lo"]), 0.0), np.maximum(np.asarray(f["hi"]) - p, 0.0)],
                        color="C3", linestyle="none", capsize=4, label=f"{f['level']:.0%} interval at each forecast k")
        seen = [(kk, o) for kk, o in zip(k, f["observed"]) if o is not None]
        if seen:
            ax.scatter(*zip(*seen), marker="x", color="black", zorder=5, label="observed at forecast k")
    ax.set_xscale("log")
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("samples per problem, k")
    ax.set_ylabel("coverage (pass@k)")
    if title:
        ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    return ax
