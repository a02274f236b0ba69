"""How a fit, a backtest and a plan show in Jupyter: a table and its figure (inline SVG). The
classes' ``_repr_html_`` call these; without matplotlib the table shows alone."""

from __future__ import annotations

from ..errors import ScalingLawsError
from . import html as h


def _figure(draw, caption: str, name: str) -> str:
    try:
        from .sections import drawn

        return drawn(draw, caption, name, (5.6, 3.8))
    except ImportError:  # no matplotlib: the table shows alone
        return ""


def _wrap(title: str, table: str, figure: str, notes=()) -> str:
    return (f"<div class='scalinglaws'><b>{h.esc(title)}</b>{h.lines(notes, 'note')}"
            f"<div style='display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start'>"
            f"<div>{table}</div><div style='max-width:560px'>{figure}</div></div></div>")


def fit_html(fit) -> str:
    from ..plot import fit_curve

    ci = fit.bootstrap.ci if fit.bootstrap is not None else {}
    level = f"{fit.bootstrap.level:.0%} " if fit.bootstrap is not None else ""
    table = h.table(["parameter", "value", f"{level}low", f"{level}high"],
                    [[k, v, *ci.get(k, ("", ""))] for k, v in fit.params.items()])
    from ..plot._common import law_label

    title = f"FitResult: {law_label(fit)}, {fit.status}, {fit.n_points} runs, {fit.n_at_best}/{fit.n_starts} starts at best"
    figure = _figure(lambda ax: fit_curve(fit, ax=ax), "the law over the fitted range"
                     + (" with its prediction band" if fit.bootstrap is not None else ""), "fit")
    return _wrap(title, table, figure, fit.warnings)


def backtest_html(bt) -> str:
    rows = [[s.law, s.status, s.are, s.rmse_log, s.bias_log, s.coverage, s.wins] for s in bt.scores]
    table = h.table(["law", "status", "mean |rel. error|", "RMSE log", "bias log", "coverage", "wins"], rows)

    def draw(ax):
        scored = [s for s in bt.scores if s.rmse_log is not None]
        if not scored:
            raise ScalingLawsError("no law has a log error to draw (a held-out value is not positive)")
        ax.barh([s.law for s in scored], [s.rmse_log for s in scored], color="C0")
        ax.set_xlabel("held-out RMSE of log y")
        ax.invert_yaxis()

    title = f"Backtest: trained on {bt.train_where} ({bt.n_train} runs), scored on {bt.n_test}"
    return _wrap(title, table, _figure(draw, "held-out error by law", "backtest"), bt.skipped)


def plans_html(plans) -> str:
    from ..plot import plan

    rows = []
    for p in plans:
        iv = p.get("interval", {})
        rows.append([p["C"], p["N"], *(iv.get("N") or ("", "")), p["D"], *(iv.get("D") or ("", "")),
                     p["tokens_per_param"], p["loss"], *(iv.get("loss") or ("", ""))])
    level = next((f"{p['interval']['level']:.0%} " for p in plans if "interval" in p), "")
    table = h.table(["C", "N*", f"N* {level}low", f"N* {level}high", "D*", f"D* {level}low", f"D* {level}high",
                     "tokens/param", "loss", f"loss {level}low", f"loss {level}high"], rows,
                    caption="N*, D*: parameter uncertainty only; loss: the prediction interval" if level else None)
    return _wrap(f"Compute-optimal plan: {len(rows)} budget(s)", table,
                 _figure(lambda ax: plan(plans, ax=ax), "N* and D* against the budget", "plan"))
