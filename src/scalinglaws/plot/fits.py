"""Figures of one fit: the runs with the fitted law and its extrapolation band, residuals against
scale, the bootstrap's parameter distributions, and ``--law auto``'s candidates."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from ..data import Runs, design
from ..errors import FitError, InputError
from ..nested import scale_of
from ._common import (BAND, SIZE, WIDE, axes, figure, given_columns, law_label, log_axis, plain_text,
                      scale_label)

MAX_GROUPS = 8  # runs sharing the other inputs drawn as curves up to this many groups; beyond, coloured points
PATH_POINTS = 60


def _design(fit, runs, where):
    runs = Runs.coerce(runs)
    return design(runs, fit.law, x=given_columns(fit, runs), y=fit.y_column, where=where, dropna=True)


def _target(fit, to) -> dict[str, float] | None:
    if to is None:
        return None
    x = fit.prediction_inputs({k: [v] for k, v in dict(to).items()})
    return {k: float(v[0]) for k, v in x.items()}


def _path(fit, xs, to, along) -> dict[str, np.ndarray]:
    """The inputs along which the forecast is drawn: from the largest run of ``xs`` (by scale) to
    ``to`` in log space (linear for inputs the law takes no logs of); without ``to``, along the runs'
    range of ``along`` with the other inputs at the largest run's values."""
    start = {k: float(v[int(np.argmax(scale_of(xs, fit.law)))]) for k, v in xs.items()}
    if to is None:
        start[along] = float(np.min(xs[along]))
        to = {**start, along: float(np.max(xs[along]))}
    elif len(fit.law.inputs) == 1:
        start = {along: float(min(np.min(xs[along]), to[along]))}
    t = np.linspace(0.0, 1.0, PATH_POINTS)
    path = {}
    for k in fit.law.inputs:
        a, b = start[k], to[k]
        path[k] = np.exp(np.log(a) + t * (np.log(b) - np.log(a))) if k in fit.law.log_inputs else a + t * (b - a)
    return path


@plain_text
def fit_curve(fit, runs=None, *, along: str | None = None, to: Mapping[str, float] | None = None,
              where: str | None = None, level: float = 0.9, ax=None):
    """The runs' target against one input, the fitted law, and its forecast out to ``to`` with the
    prediction interval at ``level`` (a fit with a bootstrap; where no calibrated interval exists the
    band is left out and the legend says so).

    Runs that share their other inputs are drawn as one curve each when there are at most
    `MAX_GROUPS` such groups (Kaplan-style learning curves per model size); otherwise the runs are
    coloured by the other input and the fitted value of each is marked. ``runs`` are those the
    fit was made on (``where``: the same selection; None: the law alone over the fitted range);
    ``along`` is an input (default: the first).

    Returns:
        The Axes.
    """
    law = fit.law
    along = along or law.inputs[0]
    if along not in law.inputs:
        raise InputError(f"--along must be an input of law {law.name} ({', '.join(law.inputs)}); got {along!r}")
    target = _target(fit, to)
    ax = axes(ax)
    if runs is None:
        xs = {k: np.asarray(fit.x_range[k], dtype=np.float64) for k in law.inputs}
        path = _path(fit, xs, target, along)
        forecast = _draw_forecast(fit, ax, path, along, target, level)
        _finish(fit, ax, along, fit.columns.get(along, along), fit.y_column, path[along], forecast)
        ax.set_title(f"{law.name}: fitted over {', '.join(f'{k} {lo:.3g}..{hi:.3g}' for k, (lo, hi) in fit.x_range.items())}",
                     fontsize=9)
        return ax
    dm = _design(fit, runs, where)
    x, y = dm.x[along], dm.y
    others = [k for k in law.inputs if k != along]
    fitted = fit.predict(dm.x)
    if others:
        key = np.round(np.stack([np.log10(np.abs(dm.x[k]) + 1e-300) for k in others], axis=1), 2)
        groups, inverse = np.unique(key, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        if len(groups) <= MAX_GROUPS:
            colours = _palette(len(groups))
            for g in range(len(groups)):
                rows = inverse == g
                order = np.argsort(x[rows])
                label = ", ".join(f"{k}={dm.x[k][rows][0]:.3g}" for k in others)
                ax.scatter(x[rows], y[rows], s=18, color=colours[g], label=label, zorder=3)
                ax.plot(x[rows][order], fitted[rows][order], color=colours[g], linewidth=1.2)
        else:
            colour_by = others[0]
            points = ax.scatter(x, y, c=np.log10(dm.x[colour_by]) if colour_by in law.log_inputs else dm.x[colour_by],
                                s=16, cmap="viridis", zorder=3, label="runs")
            ax.scatter(x, fitted, marker="x", s=14, color="black", linewidth=0.8, label="fitted", zorder=4)
            ax.figure.colorbar(points, ax=ax, label=(f"log10 {colour_by}" if colour_by in law.log_inputs else colour_by))
    else:
        ax.scatter(x, y, s=18, color="C0", label="runs", zorder=3)
    path = _path(fit, dm.x, target, along)
    forecast = _draw_forecast(fit, ax, path, along, target, level)
    _finish(fit, ax, along, dm.columns[along], dm.y_column, np.concatenate([x, path[along]]),
            np.concatenate([y, forecast]))
    ax.set_title(f"{law_label(fit)}: {len(y)} runs", fontsize=10 if law_label(fit) == law.name else 8)
    return ax


def _draw_forecast(fit, ax, path, along, target, level) -> np.ndarray:
    """The law along ``path``, its prediction band (a bootstrapped fit) and the target; the legend
    says when there is no band and why."""
    forecast = fit.predict(path)
    held = [f"{k}={v[0]:.3g}" for k, v in path.items() if k != along and np.ptp(v) == 0]
    ax.plot(path[along], forecast, color="C3", linestyle="--" if target else "-", linewidth=1.6,
            label=f"{'forecast' if target else 'fit'} ({law_label(fit)})" + (f" at {', '.join(held)}" if held else ""))
    if fit.bootstrap is None:
        ax.plot([], [], " ", label="no band: fit with a bootstrap for one")
    else:
        try:
            lo, hi = fit.predict_interval(path, level=level)
            ax.fill_between(path[along], lo, hi, color="C3", label=f"{level:.0%} prediction interval", **BAND)
        except FitError as exc:
            ax.plot([], [], " ", label=f"no band: {str(exc).split(':')[0]}")
    if target is not None:
        ax.scatter([target[along]], fit.predict({k: [v] for k, v in target.items()}), marker="*", s=140,
                   color="C3", zorder=5, label="target: " + ", ".join(f"{k}={v:.3g}" for k, v in target.items()))
    return forecast


def _finish(fit, ax, along, x_column, y_column, xs, ys) -> None:
    log_axis(ax, "x", xs if along in fit.law.log_inputs else [-1])
    log_axis(ax, "y", ys if fit.law.space == "log" else [-1])
    ax.set_xlabel(f"{along} (column `{x_column}`)")
    ax.set_ylabel(y_column)
    ax.legend(fontsize=7, loc="best")


def _palette(n: int):
    import matplotlib

    cmap = matplotlib.colormaps["viridis"]
    return [cmap(v) for v in np.linspace(0.0, 0.9, max(n, 1))]


@plain_text
def residuals(fit, runs, *, where: str | None = None, ax=None):
    """Residuals (``log y - log fit`` for a law fitted on logs, ``y - fit`` otherwise) against the
    scale the backtests order runs by, with the fit's robust residual spread (a trend is a law that
    bends away from the runs). Returns the Axes."""
    law = fit.law
    dm = _design(fit, runs, where)
    ax = axes(ax)
    with np.errstate(all="ignore"):
        r = law.to_space(dm.y) - law.to_space(fit.predict(dm.x))
    scale = scale_of(dm.x, law)
    logs = [n for n in law.inputs if n in law.log_inputs]
    x = 10.0 ** scale if logs else scale
    ax.scatter(x, r, s=16, color="C0", zorder=3)
    ax.axhline(0.0, color="black", linewidth=0.8)
    spread = 1.4826 * np.median(np.abs(r - np.median(r)))
    ax.axhspan(-2 * spread, 2 * spread, color="C0", label=f"±2 robust sd ({spread:.3g})", **BAND)
    if logs:
        ax.set_xscale("log")
    ax.set_xlabel(f"scale: {scale_label(law)}")
    ax.set_ylabel("log(y) - log(fit)" if law.space == "log" else "y - fit")
    ax.set_title(f"{law_label(fit)}: residuals of {len(r)} runs", fontsize=10 if law_label(fit) == law.name else 8)
    ax.legend(fontsize=7)
    return ax


def pairs_size(k: int) -> tuple[float, float]:
    """The size of `bootstrap_pairs`' figure of ``k`` parameters (``k`` of a fit: `pairs_count`)."""
    return (1.9 * k + 1, 1.9 * k + 1)


def pairs_count(fit, max_params: int = 5) -> int:
    """How many parameters `bootstrap_pairs` draws by default: the first ``max_params`` free ones."""
    return min(max_params, len([n for n in fit.law.param_names if n not in fit.fixed]))


@plain_text
def bootstrap_pairs(fit, *, params=None, fig=None, max_params: int = 5):
    """The bootstrap replicates' parameters: histograms on the diagonal, pairs below it, the point
    fit marked. ``params``: which (default: the first ``max_params`` free ones). Returns the array
    of Axes."""
    if fit.bootstrap is None:
        raise InputError("the parameter distributions need a fit with bootstrap replicates (--bootstrap B)")
    names = list(params) if params else [n for n in fit.law.param_names if n not in fit.fixed][:max_params]
    unknown = [n for n in names if n not in fit.bootstrap.params]
    if unknown:
        raise InputError(f"--params must name parameters of law {fit.law.name} ({', '.join(fit.law.param_names)}); "
                         f"got {', '.join(unknown)}")
    k = len(names)
    fig = figure(fig, pairs_size(k))
    grid = fig.subplots(k, k, squeeze=False)
    reps = {n: np.asarray(fit.bootstrap.params[n], dtype=np.float64) for n in names}
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            ax = grid[i, j]
            if j > i:
                ax.set_axis_off()
                continue
            if i == j:
                ax.hist(reps[a], bins=30, color="C0", alpha=0.8)
                ax.axvline(fit.params[a], color="C3", linewidth=1.2)
            else:
                ax.scatter(reps[b], reps[a], s=4, alpha=0.5, color="C0")
                ax.scatter([fit.params[b]], [fit.params[a]], marker="*", s=60, color="C3")
            if i == k - 1:
                ax.set_xlabel(b)
            if j == 0 and i != j:
                ax.set_ylabel(a)
            ax.tick_params(labelsize=6)
    fig.suptitle(f"{fit.law.name}: {len(reps[names[0]])} bootstrap replicates ({fit.bootstrap.scheme})", fontsize=10)
    return grid


@plain_text
def candidates(fit, runs=None, *, to: Mapping[str, float] | None = None, where: str | None = None, fig=None):
    """``--law auto``'s candidates side by side: each one's held-out score per selection fold (left)
    and, with ``runs``, the forecasts of the chosen law and its rivals along the path to ``to``
    (right). Returns the Axes (one or two)."""
    if fit.selection is None:
        raise InputError("the candidates figure needs a fit made with --law auto")
    sel = fit.selection
    fig = figure(fig, WIDE if runs is not None else SIZE)
    panes = np.atleast_1d(fig.subplots(1, 2 if runs is not None else 1))
    ax = panes[0]
    scored = [c for c in sel.candidates if c.status == "scored"]
    cuts = [f["cut"] for f in sel.folds]
    for i, c in enumerate(scored):
        style = dict(linewidth=2.2, color="C3") if c.law == sel.law else dict(linewidth=1.0, color=f"C{i % 10}")
        ax.plot(cuts[: len(c.folds)], c.folds, marker="o", markersize=3, label=f"{c.law} ({c.score:.3g})", **style)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"cut-off ({sel.scale})")
    ax.set_ylabel(f"held-out RMSE of {'log y' if sel.space == 'log' else 'y'}")
    unscored = [c.law for c in sel.candidates if c.status != "scored"]
    ax.set_title(f"chosen: {sel.law}" + (f"; not scored: {', '.join(unscored)}" if unscored else ""), fontsize=9)
    ax.legend(fontsize=7)
    if runs is not None:
        _rival_paths(fit, runs, to, where, panes[1])
    return panes


def _rival_paths(fit, runs, to, where, ax) -> None:
    from ..laws import get_law

    law = fit.law
    along = law.inputs[0]
    dm = _design(fit, runs, where)
    path = _path(fit, dm.x, _target(fit, to), along)
    ax.scatter(dm.x[along], dm.y, s=14, color="grey", label="runs", zorder=3)
    ax.plot(path[along], law.predict(fit.params, path), color="C3", linewidth=2.0, label=f"{law.name} (chosen)")
    for i, r in enumerate(fit.selection.rivals):
        ax.plot(path[along], get_law(r.law).predict(r.params, path), linewidth=1.0, color=f"C{i}", label=r.law)
    if fit.selection.rivals:
        ax.plot(path[along], fit.predict(path), linestyle="--", color="black", linewidth=1.2, label="weighted average")
    log_axis(ax, "x", dm.x[along] if along in law.log_inputs else [-1])
    log_axis(ax, "y", dm.y if law.space == "log" else [-1])
    ax.set_xlabel(along)
    ax.set_ylabel(dm.y_column)
    held = [f"{k}={v[0]:.3g}" for k, v in path.items() if k != along and np.ptp(v) == 0]
    ax.set_title("forecasts of the chosen law and its rivals" + (f" at {', '.join(held)}" if held else ""), fontsize=9)
    ax.legend(fontsize=7)
