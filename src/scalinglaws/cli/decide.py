"""Commands that turn fits into decisions: plan (compute-optimal allocation and the questions asked
backwards), compare, isoflop, rank, design and cost."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from .commands import (_averaged, _averaging_note, _check_format, _fmt, _guard, _load_fit, _misuse, _pairs,
                       _percent, _print_json, _usage, app, out)


def _budgets(option: str, items: List[str]) -> list[float]:
    """``C[,C...]`` and ``START:STOP:COUNT`` (COUNT budgets spaced evenly in log) -> budgets."""
    import numpy as np

    budgets = []
    for part in ",".join(items).split(","):
        part = part.strip()
        if not part:
            continue
        if ":" in part:
            bits = part.split(":")
            if len(bits) != 3:
                _usage(option, "ranges look like START:STOP:COUNT", part)
            start, stop = (_pairs(option, [f"{k}={v}"], numeric=True)[k] for k, v in zip(("START", "STOP"), bits[:2]))
            if not bits[2].strip().isdigit() or not 2 <= int(bits[2]) <= 1000:
                _usage(option, "COUNT of START:STOP:COUNT must be a whole number from 2 to 1000", bits[2])
            if not (start > 0 and stop > start):
                _usage(option, "START:STOP:COUNT needs 0 < START < STOP", part)
            budgets += np.geomspace(start, stop, int(bits[2])).tolist()
        else:
            budgets += list(_pairs(option, [f"budget={part}"], numeric=True).values())
    if not budgets:
        _usage(option, "must list at least one value, e.g. 1e24 or 1e20:1e24:5", ",".join(items))
    return budgets


def _source(fit_path: Optional[Path], law: Optional[str], command: str):
    if (fit_path is None) == (law is None):
        _misuse(f"{command} takes exactly one of FIT.json or --law; got {'neither' if fit_path is None else 'both'}")
    return _load_fit(fit_path) if fit_path is not None else law


@app.command()
@_guard
def plan(
    fit_path: Optional[Path] = typer.Argument(None, metavar="[FIT.json]", help="a fit document"),
    law: Optional[str] = typer.Option(None, "--law", help="a law name (with --params) instead of a fit"),
    params: List[str] = typer.Option([], "--params", help="the law's parameters: K=V,..."),
    compute: List[str] = typer.Option(..., "--compute", help="budgets in FLOP: C[,C...] or START:STOP:COUNT "
                                      "(log-spaced; repeatable)"),
    flops_per_token: str = typer.Option("6*N", "--flops-per-token", help="training FLOPs per token f(N), "
                                        "C = D f(N); e.g. 6*N + 6*2048*(N/12)^(2/3)/16 with attention"),
    hold: List[str] = typer.Option([], "--hold", help="other inputs of the law held fixed: K=V,... "
                                   "(U, the unique tokens, for data_constrained)"),
    level: float = typer.Option(0.9, "--level", help="of the intervals (from a fit with --bootstrap)"),
    fmt: str = typer.Option("table", "--format", help="table | json"),
):
    """Compute-optimal N and D for each budget, with intervals from a bootstrapped fit and the
    distance of the plan from the runs fitted."""
    _check_format(fmt)
    from ..plan import compute_optimal, exponents

    budgets = _budgets("--compute", compute)
    source = _source(fit_path, law, "plan")
    values = _pairs("--params", params, numeric=True) if law else None
    plans = compute_optimal(source, budgets, params=values, flops_per_token=flops_per_token,
                            hold=_pairs("--hold", hold, numeric=True), level=level)
    slopes = exponents(source, params=values, level=level)
    weights = _averaged(source) if fit_path is not None else {}
    if fmt == "json":
        _print_json({"plans": plans, "flops_per_token": flops_per_token,
                     **({"exponents": slopes} if slopes else {}), **({"averaged": weights} if weights else {})})
        return
    table = Table(title=f"compute-optimal allocation (C = D f(N), f(N) = {escape(flops_per_token)})",
                  title_justify="left")
    interval = any("interval" in p for p in plans)
    beyond = any("decades_beyond" in p for p in plans)
    cols = ["C", "N", "D", "loss", "tokens_per_param"]
    for k in cols:
        table.add_column(k, justify="right")
    if interval:
        for k in ("N", "D", "loss"):
            table.add_column(f"{k} {_percent(level)}", justify="right")
    if beyond:
        table.add_column("decades beyond (N, D)", justify="right")
    for p in plans:
        row = [_fmt(p[k]) for k in cols]
        if interval:
            iv = p["interval"]
            row += ["-" if iv[k] is None else f"[{_fmt(iv[k][0])}, {_fmt(iv[k][1])}]" for k in ("N", "D", "loss")]
        if beyond:
            row.append(f"{p['decades_beyond']['N']:.2f}, {p['decades_beyond']['D']:.2f}")
        table.add_row(*row)
    out.print(table)
    if slopes:
        line = f"N_opt ∝ C^a, D_opt ∝ C^b: a = {slopes['a']:.4f}, b = {slopes['b']:.4f}"
        if "interval" in slopes:
            lo, hi = slopes["interval"]["a"]
            line += f" (a in [{lo:.4f}, {hi:.4f}], {_percent(level)})"
        out.print(line, markup=False)
    far = [p for p in plans if max(p.get("decades_beyond", {"N": 0.0}).values()) > 0]
    if far:
        worst = max(far, key=lambda p: max(p["decades_beyond"].values()))
        out.print(f"warning: {len(far)} of {len(plans)} plans lie beyond the fitted runs (up to "
                  f"{max(worst['decades_beyond'].values()):.2f} decades, at C = {worst['C']:.3g}): they are "
                  "extrapolations of the law", markup=False)
    notes = {p["interval"].get("loss_note") for p in plans if "interval" in p} - {None}
    for note in notes:
        out.print(f"loss interval not given: {note}", markup=False)
    if weights:
        out.print(f"loss: {_averaging_note(weights)}, as `predict` gives it; N and D minimise it", markup=False)
