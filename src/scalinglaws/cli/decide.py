"""Commands that turn fits into decisions: plan (compute-optimal allocation and the questions asked
backwards), compare, isoflop, rank, design and cost."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from .commands import (_averaged, _averaging_note, _check_format, _choose, _each_group, _fmt, _guard, _load_fit, _misuse, _pairs,
                       _percent, _print_json, _progress, _usage, app, out)


# the costing options `plan` and `cost` share
PEAK_FLOPS = typer.Option(None, "--peak-flops", help="or your accelerator's peak FLOP/s")
UTILIZATION = typer.Option(None, "--utilization", help="share of peak achieved (MFU; default 0.4)")
PRICE = typer.Option(None, "--price", help="per accelerator-hour, for the cost in money")
GPUS = typer.Option(None, "--gpus", help="accelerators in parallel, for the days (default 1)")


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
        _usage(option, "must list at least one budget, e.g. 1e24 or 1e20:1e24:5", ",".join(items))
    return budgets


def _source(fit_path: Optional[Path], law: Optional[str], command: str):
    if (fit_path is None) == (law is None):
        _misuse(f"{command} takes exactly one of FIT.json or --law; got {'neither' if fit_path is None else 'both'}")
    return _load_fit(fit_path) if fit_path is not None else law


@app.command()
@_guard
@_each_group
def plan(
    fit_path: Optional[Path] = typer.Argument(None, metavar="[FIT.json]", help="a fit document"),
    law: Optional[str] = typer.Option(None, "--law", help="a law name (with --params) instead of a fit"),
    params: List[str] = typer.Option([], "--params", help="the law's parameters: K=V,..."),
    compute: List[str] = typer.Option([], "--compute", help="budgets in FLOP: C[,C...] or START:STOP:COUNT "
                                      "(log-spaced; repeatable)"),
    target_loss: Optional[float] = typer.Option(None, "--target-loss", help="instead of budgets: the least "
                                                "compute whose compute-optimal run reaches this loss"),
    served: Optional[float] = typer.Option(None, "--served", help="with --target-loss: tokens the model will "
                                           "serve; the model of least training + inference FLOPs (Sardana et al.)"),
    model_size: Optional[float] = typer.Option(None, "--model-size", help="with one --compute budget: the tokens "
                                               "and extra compute a model of this N needs to reach that budget's "
                                               "compute-optimal loss"),
    flops_per_token: str = typer.Option("6*N", "--flops-per-token", help="training FLOPs per token f(N), "
                                        "C = D f(N); e.g. 6*N + 6*2048*(N/12)^(2/3)/16 with attention"),
    hold: List[str] = typer.Option([], "--hold", help="other inputs of the law held fixed: K=V,... "
                                   "(U, the unique tokens, for data_constrained)"),
    level: float = typer.Option(0.9, "--level", help="of the intervals (from a fit with --bootstrap)"),
    gpu: Optional[str] = typer.Option(None, "--gpu", help="cost each plan on this accelerator (a100, h100, h200, "
                                      "b200, mi300x, tpu-v5p, tpu-v5e; see `scalinglaws cost --help`)"),
    peak_flops: Optional[float] = PEAK_FLOPS,
    utilization: Optional[float] = UTILIZATION,
    price: Optional[float] = PRICE,
    gpus: Optional[int] = GPUS,
    fmt: str = typer.Option("table", "--format", help="table | json"),
):
    """Compute-optimal N and D for each budget, with intervals from a bootstrapped fit and the
    distance of the plan from the runs fitted; or, with --target-loss, the compute a loss needs."""
    _check_format(fmt)
    from .. import inverse
    from ..plan import FlopsRule, compute_optimal, optimal_exponents

    if bool(compute) == (target_loss is not None):
        _misuse("plan takes exactly one of --compute and --target-loss")
    if served is not None and target_loss is None:
        _misuse("--served goes with --target-loss")
    if model_size is not None and not compute:
        _misuse("--model-size goes with --compute")
    source = _source(fit_path, law, "plan")
    costing = _costing(gpu, peak_flops, utilization, price, gpus)
    values = _pairs("--params", params, numeric=True) if law else None
    options = dict(params=values, flops_per_token=flops_per_token, hold=_pairs("--hold", hold, numeric=True),
                   level=level)
    if target_loss is not None:
        with _progress("solving for the compute"):
            answer = (inverse.inference_aware(source, target_loss, served, **options) if served is not None
                      else inverse.compute_for_loss(source, target_loss, **options))
        if costing and answer.get("C" if served is None else "train_flops") is not None:
            answer["cost"] = costing(answer["C" if served is None else "train_flops"])  # training: it runs at MFU
        _print_answer(answer, fmt, "least total FLOPs, training and inference" if served is not None
                      else "least compute to reach the loss")
        return
    budgets = _budgets("--compute", compute)
    if model_size is not None:
        if len(budgets) != 1:
            _usage("--compute", "must be one budget with --model-size", ",".join(compute))
        with _progress("solving for the tokens"):
            answer = inverse.smaller_model_overhead(source, budgets[0], model_size, **options)
        if costing and answer.get("compute") is not None:
            answer["cost"] = costing(answer["compute"])
        _print_answer(answer, fmt, "a model of the given size trained to the compute-optimal loss")
        return
    plans = compute_optimal(source, budgets, **options)
    if costing:
        for p in plans:
            p["cost"] = costing(p["C"])
    slopes = optimal_exponents(source, params=values, level=level) if FlopsRule(flops_per_token).six_n else None
    repetition = _repetition(source, values, level)
    weights = _averaged(source) if fit_path is not None else {}
    if fmt == "json":
        _print_json({"plans": plans, "flops_per_token": flops_per_token, **({"exponents": slopes} if slopes else {}),
                     **({"repetition": repetition} if repetition else {}),
                     **({"averaged": weights} if weights else {})})
        return
    table = Table(title=f"compute-optimal allocation (C = D f(N), f(N) = {escape(flops_per_token)})",
                  title_justify="left")
    interval = any("interval" in p for p in plans)
    beyond = any("decades_beyond" in p for p in plans)
    cols = ["C", "N", "D", "loss", "tokens_per_param"] + (["epochs"] if "epochs" in plans[0] else [])
    for k in cols:
        table.add_column(k, justify="right")
    if interval:
        for k in ("N", "D", "loss"):
            table.add_column(f"{k} {_percent(level)}", justify="right")
    if beyond:
        table.add_column("beyond (N, D)", justify="right")
    for p in plans:
        row = [_fmt(p[k]) for k in cols]
        if interval:
            iv = p["interval"]
            row += [_span(iv[k]) for k in ("N", "D", "loss")]
        if beyond:
            row.append(f"{p['decades_beyond']['N']:.2f}, {p['decades_beyond']['D']:.2f}")
        table.add_row(*row)
    out.print(table)
    if interval:
        out.print(f"{_percent(level)} intervals: N and D the plan made again for every bootstrap replicate (parameter "
                  "uncertainty only); loss the prediction interval of a run at the planned N, D; beyond: decades "
                  "outside the fitted runs", markup=False)
    if "cost" in plans[0]:
        c0 = plans[0]["cost"]
        costs = Table(title=f"cost on {escape(c0['accelerator'])} ({c0['peak_flops']:.4g} FLOP/s peak, "
                            f"{_percent(c0['utilization'])} utilisation)", title_justify="left")
        cols_cost = ["accelerator_hours", "days", "cost"][: 3 if "cost" in c0 else 2]
        for col in ["C"] + cols_cost:
            costs.add_column(col if col != "days" else f"days on {c0['gpus']} accelerators", justify="right")
        for p in plans:
            costs.add_row(_fmt(p["C"]), *(_fmt(p["cost"][k]) for k in cols_cost))
        out.print(costs)
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
    for note in {p["interval"].get("note") for p in plans if "interval" in p} - {None}:
        out.print(f"no N, D intervals: {note}", markup=False)
    edge = max((p["interval"].get("no_optimum", 0.0) for p in plans if "interval" in p), default=0.0)
    if edge:
        out.print(f"{100 * edge:.3g}% of the replicates have no optimum inside N, D >= 1 at some budget; the "
                  "intervals leave them out", markup=False)
    if repetition:
        out.print(f"repeated data (R_D* = {repetition['R_D_star']:.4g}): a token's value halves after "
                  f"{repetition['half_value_epochs']:.3g} epochs; no number of epochs is worth more than "
                  f"{repetition['max_effective_epochs']:.3g} epochs of new data", markup=False)
    if weights:
        out.print(f"loss: {_averaging_note(weights)}, as `predict` gives it; N and D minimise it", markup=False)


def _costing(gpu, peak_flops, utilization, price, gpus):
    """``flops -> training_cost(...)`` when an accelerator is named, else None."""
    from ..cost import DEFAULT_UTILIZATION, accelerator, training_cost

    if gpu is None and peak_flops is None:
        given = [o for o, v in (("--price", price), ("--utilization", utilization), ("--gpus", gpus)) if v is not None]
        if given:
            _misuse(f"{given[0]} needs --gpu or --peak-flops")
        return None
    utilization = DEFAULT_UTILIZATION if utilization is None else utilization
    gpus = 1 if gpus is None else gpus
    chip = accelerator(gpu, peak_flops=peak_flops)
    training_cost(0.0, chip, utilization=utilization, price_per_hour=price, count=gpus)  # checks the options once
    return lambda flops: training_cost(flops, chip, utilization=utilization, price_per_hour=price, count=gpus)


@app.command()
@_guard
def cost(
    flops: List[str] = typer.Option(..., "--flops", help="training FLOPs: C[,C...] or START:STOP:COUNT"),
    gpu: Optional[str] = typer.Option(None, "--gpu", help="a100, h100, h200, b200, mi300x, tpu-v5p or tpu-v5e "
                                      "(dense BF16 peaks from the vendors' datasheets)"),
    peak_flops: Optional[float] = PEAK_FLOPS,
    utilization: Optional[float] = UTILIZATION,
    price: Optional[float] = PRICE,
    gpus: Optional[int] = GPUS,
    fmt: str = typer.Option("table", "--format", help="table | json"),
):
    """Training FLOPs in accelerator-hours, days and money."""
    _check_format(fmt)

    if gpu is None and peak_flops is None:
        _misuse("cost needs --gpu NAME or --peak-flops X")
    costing = _costing(gpu, peak_flops, utilization, price, gpus)
    rows = [costing(c) for c in _budgets("--flops", flops)]
    if fmt == "json":
        _print_json({"costs": rows})
        return
    table = Table(title=f"{rows[0]['accelerator']} at {rows[0]['peak_flops']:.4g} FLOP/s peak, "
                        f"{_percent(rows[0]['utilization'])} utilisation", title_justify="left")
    cols = ["flops", "accelerator_hours", "days"] + (["cost"] if price is not None else [])
    for col in cols:
        table.add_column(col if col != "days" else f"days on {rows[0]['gpus']} accelerators", justify="right")
    for r in rows:
        table.add_row(*(_fmt(r[c]) for c in cols))
    out.print(table)
    out.print(f"peak: {rows[0]['source']}", markup=False)


def _repetition(source, values, level):
    from ..errors import InputError
    from ..inverse import epochs_worth_it

    try:
        return epochs_worth_it(source, params=values, level=level)
    except InputError:
        return None  # not a data-constrained law


def _span(pair) -> str:
    """``[lo, hi]`` for a table cell (None: never reached), escaped for rich."""
    if pair is None:
        return "-"
    return escape("[" + ", ".join("never" if e is None else f"{e:.4g}" for e in pair) + "]")


def _print_answer(answer: dict, fmt: str, title: str) -> None:
    """One answer of `scalinglaws.inverse`: JSON as it is, or a table (value, interval) and notes."""
    if fmt == "json":
        _print_json(answer)
        return
    interval = answer.get("interval") or {}
    table = Table(title=title, title_justify="left")
    head = (f"{_percent(interval['level'])} interval" + (" (parameters only)" if interval.get("parameters_only") else "")
            if interval else "")
    for col in ("", "value") + ((head,) if interval else ()):
        table.add_column(col, justify="right" if col else "left")
    for k, v in answer.items():
        if k in ("interval", "tradeoff", "interval_note", "decades_beyond"):
            continue
        if isinstance(v, dict):
            for kk, vv in v.items():
                table.add_row(f"{k} {kk}", _fmt(vv), *([""] if interval else []))
            continue
        cells = [k, "never" if v is None else _fmt(v)]
        if interval:
            cells.append(_span(interval[k]) if k in interval else "")
        table.add_row(*cells)
    out.print(table)
    if answer.get("tradeoff"):
        trade = Table(title="steps and tokens to reach the loss, by batch size", title_justify="left")
        for col in ("B", "steps", "tokens"):
            trade.add_column(col, justify="right")
        for row in answer["tradeoff"]:
            trade.add_row(*(_fmt(row[c]) for c in ("B", "steps", "tokens")))
        out.print(trade)
    if interval.get("unreachable"):
        out.print(f"{100 * interval['unreachable']:.3g}% of the bootstrap replicates never reach the target in the "
                  "range searched; the interval counts them as never", markup=False)
    if interval.get("parameters_only"):
        out.print("the interval is the law's parameter uncertainty only: run-to-run noise and the widening for "
                  "distance beyond the runs (predict --interval) are not in it", markup=False)
    if answer.get("interval_note"):
        out.print(f"no interval: {answer['interval_note']}", markup=False)
    beyond = {k: v for k, v in (answer.get("decades_beyond") or {}).items() if v > 0}
    if beyond:
        out.print("warning: the answer lies beyond the fitted runs (" + ", ".join(f"{k} by {v:.2f} decades" for k, v
                  in beyond.items()) + "): an extrapolation of the law", markup=False)


@app.command()
@_guard
@_each_group
def reach(
    fit_path: Optional[Path] = typer.Argument(None, metavar="[FIT.json]", help="a fit document"),
    law: Optional[str] = typer.Option(None, "--law", help="a law name (with --params) instead of a fit"),
    params: List[str] = typer.Option([], "--params", help="the law's parameters: K=V,..."),
    target: float = typer.Option(..., "--target", help="the value of the law's output to reach"),
    along: str = typer.Option(..., "--along", help="the input to solve for (D, step, x, C, ...)"),
    at: List[str] = typer.Option([], "--at", help="the other inputs: K=V,... (e.g. N=7e9)"),
    level: float = typer.Option(0.9, "--level", help="of the interval (from a fit with --bootstrap)"),
    fmt: str = typer.Option("table", "--format", help="table | json"),
):
    """The tokens, steps or compute at which the forecast reaches a target, the other inputs held."""
    _check_format(fmt)
    from ..inverse import reach as solve

    source = _source(fit_path, law, "reach")
    answer = solve(source, target, along, _pairs("--at", at, numeric=True),
                   params=_pairs("--params", params, numeric=True) if law else None, level=level)
    _print_answer(answer, fmt, f"{along} to reach {target:g}")


@app.command()
@_guard
@_each_group
def batch(
    fit_path: Optional[Path] = typer.Argument(None, metavar="[FIT.json]", help="a fit document (kaplan_bcrit, su_nsb)"),
    law: Optional[str] = typer.Option(None, "--law", help="a law name (with --params) instead of a fit"),
    params: List[str] = typer.Option([], "--params", help="the law's parameters: K=V,..."),
    loss: float = typer.Option(..., "--loss", help="the loss the critical batch is asked at"),
    model_size: Optional[float] = typer.Option(None, "--model-size", help="with su_nsb: N, for the least steps "
                                               "and tokens to reach the loss and their trade-off"),
    fmt: str = typer.Option("table", "--format", help="table | json"),
):
    """Kaplan's critical batch at a loss; with su_nsb and --model-size, the steps/tokens trade-off."""
    _check_format(fmt)
    from ..inverse import critical_batch

    source = _source(fit_path, law, "batch")
    answer = critical_batch(source, loss, params=_pairs("--params", params, numeric=True) if law else None,
                            N=model_size)
    _print_answer(answer, fmt, "critical batch size (tokens)")


@app.command()
@_guard
def isoflop(
    data: str = typer.Argument(..., help="a table of runs: one row per run at its budget (or a bundled dataset)"),
    budget: str = typer.Option(..., "--budget", help="the column of each run's FLOP budget"),
    x: List[str] = typer.Option(["N=N"], "--x", help="N=COLUMN (required) and D=COLUMN (optional: D*(C) too)"),
    y: str = typer.Option("loss", "--y", help="the loss column"),
    noise: float = typer.Option(..., "--noise", help="seed-to-seed standard deviation of the loss (Porian et al.: "
                                "0.002 RefinedWeb, 0.01 OpenWebText2)"),
    method: str = typer.Option("interpolation", "--method", help="interpolation (Akima, robust) | parabola "
                               "(biased; for comparison)"),
    replicates: int = typer.Option(1000, "--replicates", help="noise-bootstrap replicates per budget"),
    level: float = typer.Option(0.9, "--level", help="of the exponents' intervals"),
    where: Optional[str] = typer.Option(None, "--where", help="the runs to use, e.g. \"dataset == 'rw'\""),
    seed: int = typer.Option(0, "--seed", help="of the noise bootstrap"),
    fmt: str = typer.Option("table", "--format", help="table | json"),
):
    """IsoFLOP analysis: per-budget optima by interpolation with a noise bootstrap and grid-edge
    rejection (Porian et al. 2024), and the exponents of N*(C) and D*(C) with intervals."""
    _check_format(fmt)
    from ..data import load_runs
    from ..data.runs import select_rows
    from ..isoflop import isoflop as analyse

    from ..isoflop import METHODS

    _choose("--method", method, METHODS)
    columns = _pairs("--x", x, numeric=False)
    unknown = [k for k in columns if k not in ("N", "D")]
    if unknown:
        _usage("--x", "maps N and D only (N=COLUMN, D=COLUMN)", unknown[0])
    columns.setdefault("N", "N")
    runs = load_runs(data)
    rows, _ = select_rows(runs, where, include_excluded=False)
    table = runs.table.iloc[rows]
    for option, col in (("--budget", budget), ("--y", y), *((f"--x {k}", c) for k, c in columns.items())):
        if col not in table.columns:
            _usage(option, f"must name a column ({', '.join(map(str, table.columns))})", col)
    with _progress("bootstrapping the iso-FLOP optima"):
        result = analyse(table[budget].to_numpy(), table[columns["N"]].to_numpy(), table[y].to_numpy(),
                         D=table[columns["D"]].to_numpy() if "D" in columns else None, noise=noise,
                         replicates=replicates, level=level, method=method, rng=seed,
                         names={"budget": budget, "loss": y, **columns})
    doc = result.to_dict()
    if fmt == "json":
        _print_json(doc)
        return
    t = Table(title=f"iso-FLOP optima ({method}, noise {noise:g}, {replicates} replicates)", title_justify="left")
    along = [q for q in ("N", "D") if q in columns]
    for col in ["C", "runs", "status", *along, "loss", *(f"{q} log-std" for q in along)]:
        t.add_column(col, justify="right")
    for o in doc["optima"]:
        t.add_row(_fmt(o["C"]), str(o["n_points"]), o["status"], *(_fmt(o.get(q, "-")) for q in along),
                  _fmt(o.get("loss", "-")), *(_fmt(o.get(f"{q}_log_std", "-")) for q in along))
    out.print(t)
    if not doc["fits"]:
        out.print("no power law: fewer than 3 budgets have an optimum inside their runs", markup=False)
    for q, f in doc["fits"].items():
        out.print(f"{q}*(C) = {f['coef']:.4g} C^{f['exponent']:.4f}, exponent in [{f['interval'][0]:.4f}, "
                  f"{f['interval'][1]:.4f}] ({_percent(level)}, {f['budgets']} budgets)", markup=False)
    rejected = [o for o in doc["optima"] if o["status"] != "ok"]
    if rejected:
        out.print(f"left out: {len(rejected)} budgets (edge: the interpolated curve is lowest at the smallest or "
                  "largest size; unstable: most noise replicates put it there; too few points: under 3 sizes)",
                  markup=False)
    if doc["note"]:
        out.print(f"note: {doc['note']}", markup=False)


@app.command()
@_guard
def compare(
    data: str = typer.Argument(..., help="a table of runs of several families (or a bundled dataset)"),
    law: str = typer.Option(..., "--law", help="the law fitted to each family"),
    by: str = typer.Option(..., "--by", help="the column naming each run's family"),
    at: List[str] = typer.Option(..., "--at", help="the target scale: VAR=VALUE[,VAR=VALUE...] (every input)"),
    x: List[str] = typer.Option([], "--x", help="map a law input to a column: VAR=COLUMN (repeatable)"),
    y: Optional[str] = typer.Option(None, "--y", help="the target column"),
    where: Optional[str] = typer.Option(None, "--where", help="the runs to fit, e.g. \"C < 1e21\""),
    along: Optional[str] = typer.Option(None, "--along", help="the input crossovers are searched along "
                                        "(default: the first in --at)"),
    higher_is_better: bool = typer.Option(False, "--higher-is-better", help="the metric rises as models improve "
                                          "(accuracy); default: lower is better (loss, error)"),
    bootstrap: int = typer.Option(200, "--bootstrap", help="replicates per family"),
    level: float = typer.Option(0.9, "--level", help="of the intervals"),
    seed: int = typer.Option(0, "--seed", help="of the bootstrap and the pairing of replicates"),
    dropna: bool = typer.Option(False, "--dropna", help="leave out rows with an empty input or target"),
    fmt: str = typer.Option("table", "--format", help="table | json"),
):
    """Fit one law per family, then: which family is best at the target and with what probability,
    and where the families' curves cross (with intervals), or that they do not."""
    _check_format(fmt)
    from ..api import fit_groups
    from ..compare import compare as run_compare
    from ..data import load_runs

    target = _pairs("--at", at, numeric=True)
    columns = _pairs("--x", x, numeric=False)
    if bootstrap < 20:
        _usage("--bootstrap", "must be at least 20 replicates per family (the probabilities and intervals come "
               "from them)", bootstrap)
    runs = load_runs(data)
    with _progress(f"fitting {law} to each `{by}` family"):
        fits, skipped = fit_groups(law, runs, by, x=columns or None, y=y, where=where, bootstrap=bootstrap, rng=seed,
                                   dropna=dropna)
        doc = run_compare(fits, target, along=along, level=level, higher_is_better=higher_is_better, rng=seed)
    doc["by"] = by
    doc["skipped"] = skipped
    if fmt == "json":
        _print_json(doc)
        return
    shown = ", ".join(f"{k}={v:g}" for k, v in target.items())
    t = Table(title=f"{escape(law)} by `{escape(by)}` at {escape(shown)}", title_justify="left")
    for col in ("family", "forecast", f"{_percent(level)} interval", "P(best)", "decades beyond", "status"):
        t.add_column(col, justify="left" if col in ("family", "status") else "right")
    for f in doc["families"]:
        iv = "-" if f["interval"] is None else f"[{_fmt(f['interval'][0])}, {_fmt(f['interval'][1])}]"
        t.add_row(escape(str(f["family"])), _fmt(f["forecast"]), iv, f"{f['p_best']:.3f}",
                  f"{f['decades_beyond']:.2f}", f["status"])
    out.print(t)
    held = ", ".join(f"{k}={v:g}" for k, v in target.items() if k != doc["along"])
    along_text = doc["along"] + (f" (with {held} held)" if held else "")
    if not doc["crossovers"]:
        out.print(f"no crossover: no two families' curves cross along {along_text} between "
                  f"{doc['searched'][0]:.3g} and {doc['searched'][1]:.3g}", markup=False)
    elif held:
        out.print(f"crossovers are searched along {along_text}", markup=False)
    for c in doc["crossovers"]:
        lo, hi = c["interval"][doc["along"]]
        iv = "no interval" if lo is None else f"[{lo:.3g}, {hi:.3g}]"
        out.print(f"crossover: {c['between'][0]} and {c['between'][1]} cross at {doc['along']} = "
                  f"{c['at'][doc['along']]:.3g} ({iv}, {c['where']}; "
                  f"{100 * c['no_crossing_share']:.3g}% of replicate pairs do not cross)", markup=False)
    if doc["ranking_changes"]:
        out.print("warning: the order of the families at the target differs from their order at the largest "
                  "fitted scale", markup=False)
    for s in skipped:
        out.print(f"not fitted: `{by}` = {s['group']!r}: {s['reason']}", markup=False)
    out.print("P(best): share of joint bootstrap draws in which the family's curve is best at the target "
              "(parameter uncertainty only; the intervals also widen for extrapolation)", markup=False)


@app.command()
@_guard
def rank(
    data: Path = typer.Argument(..., metavar="FILE", help="a tidy table of scores: system, task[, instance], score"),
    system: str = typer.Option("system", "--system", help="the column naming each system"),
    task: str = typer.Option("task", "--task", help="the column naming each task"),
    score: str = typer.Option("score", "--score", help="the score column"),
    instance: Optional[str] = typer.Option(None, "--instance", help="the column naming each instance (two-level "
                                           "Borda: instances within a task, then tasks)"),
    lower_is_better: bool = typer.Option(False, "--lower-is-better", help="scores are losses or errors"),
    missing: str = typer.Option("error", "--missing", help="error | drop-tasks (leave out tasks some system lacks)"),
    fmt: str = typer.Option("table", "--format", help="table | json"),
):
    """Rank systems across tasks by aggregating per-task rankings (Borda count and Kemeny consensus,
    Colombo et al. 2022), beside the ranking by mean score."""
    _check_format(fmt)
    from ..data import read_runs
    from ..rank import MISSING, rank_systems

    _choose("--missing", missing, MISSING)
    table = read_runs(data, what="FILE").table
    doc = rank_systems(table, system=system, task=task, score=score, instance=instance,
                       higher_is_better=not lower_is_better, missing=missing)
    if fmt == "json":
        _print_json(doc)
        return
    t = Table(title=f"{len(doc['systems'])} systems over {doc['tasks']} tasks", title_justify="left")
    for col in ("kemeny rank", "system", "borda", "borda rank", "mean score", "mean rank"):
        t.add_column(col, justify="left" if col == "system" else "right")
    for s in doc["systems"]:
        t.add_row(str(s["kemeny_rank"]), escape(str(s["system"])), _fmt(s["borda"]), _fmt(s["borda_rank"]),
                  _fmt(s["mean_score"]), _fmt(s["mean_rank"]))
    out.print(t)
    out.print(f"Kemeny consensus: {'exact' if doc['kemeny_exact'] else 'a local optimum from Borda (too many systems to enumerate)'}; "
              f"{doc['disagreements']} pairwise disagreements with the task rankings", markup=False)
    if doc["dropped_tasks"]:
        out.print(f"left out (a system lacks a score): {', '.join(map(str, doc['dropped_tasks']))}", markup=False)


@app.command()
@_guard
@_each_group
def design(
    fit_path: Path = typer.Argument(..., metavar="FIT.json", help="a fit with bootstrap replicates (fit --bootstrap B)"),
    budget: float = typer.Option(..., "--budget", help="FLOPs to spend on new runs"),
    target: List[str] = typer.Option(..., "--target", help="the scale to forecast: N=...,D=..."),
    flops_per_token: str = typer.Option("6*N", "--flops-per-token", help="training FLOPs per token f(N)"),
    max_runs: int = typer.Option(200, "--max-runs", help="runs proposed at most"),
    max_repeats: int = typer.Option(3, "--max-repeats", help="runs of one configuration (seeds) at most"),
    level: float = typer.Option(0.9, "--level", help="of the interval whose width is shrunk"),
    fmt: str = typer.Option("table", "--format", help="table | json"),
):
    """The runs (N, D) to train next: those that shrink the forecast interval at the target the most
    per FLOP, by the expected information each brings given the fit's bootstrap."""
    _check_format(fmt)
    from ..design import propose_runs

    with _progress("choosing runs"):
        doc = propose_runs(_load_fit(fit_path), budget, _pairs("--target", target, numeric=True),
                           flops_per_token=flops_per_token, level=level, max_runs=max_runs, max_repeats=max_repeats)
    if fmt == "json":
        _print_json(doc)
        return
    shown = ", ".join(f"{k}={v:g}" for k, v in doc["target"].items())
    t = Table(title=f"runs to train next for the forecast at {shown} (budget {budget:g} FLOPs), in the order chosen",
              title_justify="left")
    for col in ("N", "D", "C", "tokens/param", "runs"):
        t.add_column(col, justify="right")
    for r in doc["configurations"]:
        t.add_row(_fmt(r["N"]), _fmt(r["D"]), _fmt(r["C"]), _fmt(r["D"] / r["N"]), str(r["count"]))
    out.print(t)
    kind = "hi / lo" if doc["width_kind"] == "ratio" else "hi - lo"
    after = "no run proposed" if doc["width_after"] is None else f"after these runs {_fmt(doc['width_after'])}"
    reason = {"budget": "the budget is spent (nothing more is affordable)",
              "nothing to learn": "no affordable run would narrow the interval further",
              "max runs": f"--max-runs {max_runs} reached"}[doc["stopped"]]
    out.print(f"width of the law's {_percent(level)} interval at the target ({kind}): now {_fmt(doc['width_now'])}, "
              f"{after} (expected; {len(doc['runs'])} runs, {doc['spent']:.3g} of {budget:.3g} FLOPs; stopped: "
              f"{reason})", markup=False)
    out.print("expected from the bootstrap read as Gaussian (parameter uncertainty; run-to-run noise and the widening "
              "for distance are not in these widths)", markup=False)
