"""The sections of the report: data, one per law (fit, forecast, figures), backtests, plan."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from ..errors import ScalingLawsError
from ..plot import backtest_errors, bootstrap_pairs, candidates, fit_curve, frontier, plan, residuals, svg
from ..plot._common import SIZE, WIDE, given_columns, new_figure
from ..plot.fits import pairs_count, pairs_size
from . import html as h


def drawn(draw, caption: str, name: str, size=SIZE, *, whole: bool = False) -> str:
    """A figure drawn by ``draw(ax)`` (``whole``: ``draw(fig)``, for figures of several panes) as
    inline SVG, or the reason it could not be drawn: one figure does not stop a page."""
    try:
        fig = new_figure(size)
        draw(fig if whole else fig.add_subplot())
        return h.figure(svg(fig), caption, name)
    except ImportError:
        raise
    except Exception as exc:  # noqa: BLE001 - said in the page instead
        why = str(exc) if isinstance(exc, ScalingLawsError) else f"{type(exc).__name__}: {exc}"
        return f"<p class='error'>{h.esc(caption)}: not drawn: {h.esc(why)}</p>"


def data_section(runs, fits: Mapping, where: str | None) -> str:
    table = runs.table
    rows = []
    for column in table.columns:
        values = table[column]
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        rows.append([str(column), str(values.dtype), int(values.notna().sum()),
                     float(values.min()) if numeric and values.notna().any() else "",
                     float(values.max()) if numeric and values.notna().any() else ""])
    said = {}  # each finding once, with the laws it was found for
    for name, fit in fits.items():
        for finding in (*fit.notes, *fit.warnings):
            said.setdefault(finding, []).append(name)
    found = [f"{finding} ({', '.join(names)})" if len(fits) > 1 else finding for finding, names in said.items()]
    first = next(iter(fits.values()))
    return ("<h2>Data</h2>"
            f"<p>{len(table)} rows from {h.esc(runs.source)}; {first.n_points} fitted"
            + (f" (where {h.esc(where)})" if where else "") + f", {first.n_excluded} marked excluded.</p>"
            + h.table(["column", "type", "values", "min", "max"], rows)
            + ("<h3>Hygiene</h3>" + h.lines(found, "warn") if found else "<p class='note'>No hygiene findings.</p>"))


def fit_section(name: str, fit, runs, *, where, at, level) -> str:
    law = fit.law
    auto = fit.selection is not None
    out = [f"<h2>Law {h.esc(label(name, fit))}</h2>",
           f"<p><code>{h.esc(law.equation)}</code><br><span class='note'>{h.esc(law.reference)}</span></p>",
           f"<p>status <b>{h.esc(fit.status)}</b>; {fit.n_points} runs; {fit.n_at_best} of {fit.n_starts} starts "
           "reached the best optimum" + (f"; on a bound: {h.esc(', '.join(fit.at_bound))}" if fit.at_bound else "")
           + "</p>"]
    ci = fit.bootstrap.ci if fit.bootstrap is not None else {}
    level_ci = f"{fit.bootstrap.level:.0%}" if fit.bootstrap is not None else ""
    out.append(h.table(["parameter", "value", f"{level_ci} interval low", f"{level_ci} interval high"],
                       [[k, v, *(ci.get(k, ("", "")))] for k, v in fit.params.items()],
                       caption=None if ci else "no intervals: fitted without a bootstrap"))
    if auto:
        weights = fit.selection.weights()
        out.append(h.table(["candidate", "parameters", "held-out RMSE", "status", "weight"],
                           [[c.law, c.n_params, c.score if c.status == "scored" else "-", c.status,
                             weights.get(c.law, 0.0)] for c in fit.selection.candidates],
                           caption=fit.selection.reason))
    out.append(h.lines(fit.warnings, "warn"))
    if at:
        out.append(_forecast(fit, at, level))
    figures = [drawn(lambda ax: fit_curve(fit, runs, to=at, where=where, level=level, ax=ax),
                      f"{law.name}: the runs, the fit and its forecast" + (" to the target" if at else ""),
                      f"fit-{name}"),
               drawn(lambda ax: residuals(fit, runs, where=where, ax=ax), "residuals against scale",
                      f"residuals-{name}")]
    if fit.bootstrap is not None:
        figures.append(drawn(lambda fig: bootstrap_pairs(fit, fig=fig), "the bootstrap replicates' parameters "
                             "(star: the fit)", f"bootstrap-{name}", pairs_size(pairs_count(fit)), whole=True))
    if auto:
        figures.append(drawn(lambda fig: candidates(fit, runs, to=at, where=where, fig=fig),
                             "--law auto: each candidate's held-out error by cut-off, and the forecasts it averages",
                             f"candidates-{name}", WIDE, whole=True))
    out.append("<div class='figures'>" + "".join(figures) + "</div>")
    return "".join(out)


def forecast_at(fit, at: Mapping[str, float], level: float) -> dict:
    """The forecast of one target run as the report and the web app show it: ``at, y, decades_beyond``
    (the farthest input, as plans count it), ``level``, and ``interval`` or ``interval_note``."""
    point = {k: [v] for k, v in at.items()}
    decades = max(float(v[0]) for v in fit.extrapolation(point)[1].values())
    out = {"at": dict(at), "y": float(fit.predict(point)[0]), "decades_beyond": decades, "level": level}
    if fit.bootstrap is None:
        out["interval_note"] = "no interval: fit with bootstrap replicates for one"
        return out
    try:
        lo, hi = fit.predict_interval(point, level=level)
        out["interval"] = [float(lo[0]), float(hi[0])]
    except ScalingLawsError as exc:
        out["interval_note"] = str(exc)
    return out


def _forecast(fit, at, level) -> str:
    try:
        f = forecast_at(fit, at, level)
    except ScalingLawsError as exc:
        return f"<p class='error'>forecast at the target: {h.esc(exc)}</p>"
    lo, hi = f.get("interval", ("", ""))
    target = ", ".join(f"{k} = {v:.4g}" for k, v in at.items())
    return h.table(["target", fit.y_column, f"{level:.0%} low", f"{level:.0%} high",
                    "decades beyond the runs (farthest input)", "note"],
                   [[target, f["y"], lo, hi, f["decades_beyond"], f.get("interval_note", "")]])


def label(name: str, fit) -> str:
    """A law's name in the report: ``auto`` says what it chose (and whether it averages)."""
    if name == fit.law.name:
        return name
    rivals = [r.law for r in fit.selection.rivals] if fit.selection is not None else []
    return f"{name}: {fit.law.name}" + (f" averaged with {', '.join(rivals)}" if rivals else "")


def backtest_section(fits: Mapping, runs, *, x, y, where) -> str:
    from ..nested import CUTS, errors_by_cut

    out = ["<h2>Backtests</h2><p class='note'>Each law fitted again on the runs up to a cut-off in scale (the "
           f"fractions {', '.join(f'{c:g}' for c in CUTS)} of the distinct training scales), forecasting the larger "
           "ones it did not see. For --law auto, the chosen law's own backtests (the choice itself was made on these "
           "folds, so they flatter it; an average with rivals is not backtested here).</p>"]
    rows, figures, done = [], [], {}
    for name, fit in fits.items():
        if fit.law.name in done and name != fit.law.name:  # auto chose a law backtested above: the same folds
            out.append(f"<p class='note'>{h.esc(name)} chose {h.esc(fit.law.name)}: its backtests are "
                       f"{h.esc(done[fit.law.name])}'s above.</p>")
            continue
        done[fit.law.name] = name
        try:
            errors = errors_by_cut(fit.law, runs, x=given_columns(fit, runs), y=fit.y_column, where=where)
        except ScalingLawsError as exc:
            out.append(f"<p class='error'>{h.esc(name)}: not backtested: {h.esc(exc)}</p>")
            continue
        shown = f"{name}: {fit.law.name}" if name != fit.law.name else name
        column, label = errors.attrs["distance"]
        for fraction, part in errors.groupby("fraction", sort=True):
            e = np.abs(part["error"].to_numpy(dtype=np.float64))
            rows.append([shown, float(part["cut"].iloc[0]), int(len(part)), float(np.median(e)), float(np.max(e)),
                         f"{float(part[column].max()):.3g} {'decades' if column == 'decades' else ''}".strip(),
                         "/".join(sorted(set(part["status"])))])
        rows += [[shown, f["cut"], "", "", "", "", f"not fitted: {f['reason']}"] for f in errors.attrs["failed"]]
        if len(errors):
            figures.append(drawn(lambda ax: backtest_errors(errors, ax=ax),
                                  f"{fit.law.name}: held-out errors by distance past each cut-off"
                                  + (" (the law --law auto chose on these folds)" if fit.selection is not None else ""),
                                  f"backtest-{name}"))
    unit = "|log y_hat - log y|" if all(f.law.space == "log" for f in fits.values()) else "|error|"
    out.append(h.table(["law", "cut-off (largest training scale)", "held out", f"median {unit}", f"max {unit}",
                        "farthest forecast", "fit status"], rows))
    out.append("<div class='figures'>" + "".join(figures) + "</div>")
    return "".join(out)


def plan_section(fits: Mapping, runs, compute, *, level, where) -> str:
    from ..plan import compute_optimal

    out = ["<h2>Compute-optimal plan</h2>"]
    for name, fit in fits.items():
        if not {"N", "D"} <= set(fit.law.inputs):
            out.append(f"<p class='note'>{h.esc(name)}: law {h.esc(fit.law.name)} is not a law of N and D; no plan.</p>")
            continue
        try:
            plans = compute_optimal(fit, list(compute), level=level)
        except ScalingLawsError as exc:
            out.append(f"<p class='error'>{h.esc(name)}: no plan: {h.esc(exc)}</p>")
            continue
        rows, notes = [], sorted({p["interval"]["note"] for p in plans if p.get("interval", {}).get("note")})
        for p in plans:
            iv = p.get("interval", {})
            rows.append([p["C"], p["N"], *(iv.get("N") or ("", "")), p["D"], *(iv.get("D") or ("", "")),
                         p["tokens_per_param"], p["loss"], *(iv.get("loss") or ("", "")),
                         max(p["decades_beyond"].values())])
        out.append(f"<h3>{h.esc(label(name, fit))}</h3>" + h.lines(notes, "note") + h.table(
            ["C (FLOP)", "N*", "N* low", "N* high", "D*", "D* low", "D* high", "tokens/param", "loss", "loss low",
             "loss high", "decades beyond"], rows,
            caption=f"{level:.0%} intervals: N*, D* from the bootstrap replicates (parameter uncertainty only); the "
                    "loss's is the prediction interval of a run at the planned N*, D*"))
        figures = [drawn(lambda ax: frontier(runs, fit=fit, N=fit.columns["N"], D=fit.columns["D"], y=fit.y_column,
                                                   where=where, level=level, out_to=max(compute), ax=ax),
                          "runs against compute, and the compute-optimal frontier", f"frontier-{name}"),
                   drawn(lambda ax: plan(plans, ax=ax), "N* and D* against the budget", f"plan-{name}")]
        out.append("<div class='figures'>" + "".join(figures) + "</div>")
    return "".join(out)
