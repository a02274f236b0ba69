"""Commands that show results: plot (one figure to a file), report (one HTML page) and serve (the
local web app)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .commands import (_check_format, _choose, _guard, _load_fit, _misuse, _only_with, _pairs, _print_json, _progress,
                       app, err, out)

KINDS = ("fit", "residuals", "bootstrap", "candidates", "frontier", "backtest", "plan", "coverage")
NEEDS_BOOTSTRAP = ("bootstrap",)
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _budgets_of(compute: List[str]) -> list[float]:
    from .decide import _budgets

    return _budgets("--compute", compute) if compute else []


@app.command()
@_guard
def plot(
    data: str = typer.Argument(..., help="a run table or bundled dataset (for --kind coverage: a pass@k file)"),
    kind: str = typer.Option("fit", "--kind", help=" | ".join(KINDS)),
    out_path: Path = typer.Option(..., "--out", help="the figure: .png, .svg or .pdf"),
    law: Optional[str] = typer.Option(None, "--law", help="the law to fit (a name or auto)"),
    fit_path: Optional[Path] = typer.Option(None, "--fit", help="or a fit document (fit --out) of these runs"),
    x: List[str] = typer.Option([], "--x", help="map a law input to a column: VAR=COLUMN (repeatable)"),
    y: Optional[str] = typer.Option(None, "--y", help="target column"),
    where: Optional[str] = typer.Option(None, "--where", help="rows to fit and draw (--kind coverage: one model's "
                                                              "problems, e.g. \"Model == 'Pythia 12B'\")"),
    to: List[str] = typer.Option([], "--to", help="the target: VAR=VALUE,... (the forecast is drawn out to it)"),
    along: Optional[str] = typer.Option(None, "--along", help="--kind fit: the input on the x axis"),
    compute: List[str] = typer.Option([], "--compute", help="--kind plan: budgets C[,C...] or START:STOP:COUNT"),
    k_max: Optional[int] = typer.Option(None, "--k-max", help="--kind coverage: fit k up to this"),
    forecast: List[str] = typer.Option([], "--forecast", help="--kind coverage: k to forecast (K[,K...])"),
    bootstrap: int = typer.Option(200, "--bootstrap", help="replicates behind the bands (0: none)"),
    level: float = typer.Option(0.9, "--level", help="level of the prediction bands"),
    seed: int = typer.Option(0, "--seed", help="seed of the starts and the bootstrap"),
    dropna: bool = typer.Option(False, "--dropna", help="leave out rows with an empty input or target"),
    fmt: str = typer.Option("table", "--format", help="table | json"),
):
    """Draw one figure and write it to --out (PNG, SVG or PDF)."""
    _check_format(fmt)
    _choose("--kind", kind, KINDS)
    from .. import plot as figures
    from ..fit.records import check_level
    from ..plot._common import FORMATS, new_axes

    if out_path.suffix.lower().lstrip(".") not in FORMATS:
        _misuse(f"--out must end in .{', .'.join(FORMATS)} (the figure's format); got {str(out_path)!r}")
    check_level("--level", level)
    if kind != "plan":
        _only_with("--kind plan", {"--compute": compute or None})
    if kind != "fit":
        _only_with("--kind fit", {"--along": along})
    if kind not in ("fit", "candidates"):
        _only_with("--kind fit or candidates", {"--to": to or None})
    if kind == "coverage":
        _only_with("run tables (every --kind but coverage)",
                   {"--law": law, "--fit": fit_path, "--x": x or None, "--y": y, "--dropna": dropna or None})
        drawn = _coverage(data, where, k_max, forecast, bootstrap, level)
    else:
        if k_max is not None or forecast:
            _misuse("--k-max and --forecast belong to --kind coverage")
        if law is None and fit_path is None and kind != "frontier":
            _misuse(f"--kind {kind} needs --law NAME (or --fit FIT.json)")
        if law is not None and fit_path is not None:
            _misuse("give --law (fit here) or --fit (a fit document), not both")
        if kind == "plan" and not compute:
            _misuse("--kind plan needs --compute C[,C...]")
        from ..data import load_runs

        runs = load_runs(data)
        target = _pairs("--to", to, numeric=True) or None
        result = _fit(runs, law, fit_path, x, y, where, bootstrap, seed, dropna)
        drawn = _draw(kind, figures, new_axes, result, runs, where, target, along, level, compute)
    figures.save(drawn, out_path)
    doc = {"out": str(out_path), "kind": kind, "format": out_path.suffix.lower().lstrip(".")}
    if fmt == "json":
        _print_json(doc)
    else:
        out.print(f"wrote {out_path} ({kind})", markup=False)


def _fit(runs, law, fit_path, x, y, where, bootstrap, seed, dropna):
    if fit_path is not None:
        return _load_fit(fit_path)
    if law is None:
        return None
    from .. import fit

    with _progress(f"fitting {law}"):
        return fit(law, runs, x=_pairs("--x", x, numeric=False) or None, y=y, where=where,
                   bootstrap=bootstrap, rng=seed, dropna=dropna)


def _draw(kind, figures, new_axes, result, runs, where, target, along, level, compute):
    from ..plot._common import WIDE, new_figure
    from ..plot.fits import pairs_count, pairs_size

    if kind == "fit":
        return figures.fit_curve(result, runs, along=along, to=target, where=where, level=level, ax=new_axes())
    if kind == "residuals":
        return figures.residuals(result, runs, where=where, ax=new_axes())
    if kind == "bootstrap":
        return figures.bootstrap_pairs(result, fig=new_figure(pairs_size(pairs_count(result))))
    if kind == "candidates":
        return figures.candidates(result, runs, to=target, where=where, fig=new_figure(WIDE))
    if kind == "frontier":
        columns = {} if result is None else {"N": result.columns.get("N"), "D": result.columns.get("D"),
                                             "y": result.y_column}
        return figures.frontier(runs, fit=result, where=where, level=level, ax=new_axes(), **columns)
    if kind == "backtest":
        from ..nested import errors_by_cut
        from ..plot._common import given_columns

        with _progress(f"backtesting {result.law.name}"):
            errors = errors_by_cut(result.law, runs, x=given_columns(result, runs), y=result.y_column, where=where,
                                   dropna=True)
        ax = figures.backtest_errors(errors, ax=new_axes())
        if result.selection is not None:  # its folds chose it: say so where the figure goes
            ax.set_title(ax.get_title() + f"\n{result.law.name}, the law --law auto chose on these folds (flattered); "
                         "its average with rivals is not backtested here", fontsize=8)
        return ax
    from .. import compute_optimal

    return figures.plan(compute_optimal(result, _budgets_of(compute), level=level), ax=new_axes())


def _coverage(data, where, k_max, forecast, bootstrap, level):
    from .. import plot as figures
    from ..data import read_runs
    from ..errors import InputError
    from ..passk import check_k, coverage_curve, fit_coverage, problem_counts
    from ..plot._common import new_axes

    if k_max is None:
        _misuse("--kind coverage needs --k-max K (the largest k the curve is fitted on)")
    from ..data.runs import select_rows

    runs = read_runs(data, what="DATA")
    rows, _ = select_rows(runs, where, True)
    if where and not rows.size:
        raise InputError(f"--where `{where}` selects no rows")
    try:
        counts, _ = problem_counts(runs.table.iloc[rows])
    except InputError as exc:  # plot draws one curve: a model is chosen with --where, not --by
        raise InputError(str(exc).replace("one curve per model with --by COLUMN",
                                          "one model's problems chosen with --where")) from None
    curve, _ = coverage_curve(counts, int(check_k([k_max], "--k-max").max()))
    doc = None
    if forecast:
        ahead = check_k([float(p) for item in forecast for p in item.split(",") if p.strip()], "--forecast")
        with _progress("fitting the coverage law"):
            doc = fit_coverage(counts, int(k_max), ahead, bootstrap=bootstrap, level=level)
    return figures.coverage(curve, forecast=doc, title=f"{data}" + (f" where {where}" if where else ""), ax=new_axes())


@app.command()
@_guard
def report(
    data: str = typer.Argument(..., help="a run table (.csv, .parquet, .jsonl) or a bundled dataset name"),
    law: List[str] = typer.Option(["auto"], "--law", help="laws to fit: NAME[,NAME...] (repeatable; auto included)"),
    out_path: Path = typer.Option(..., "--out", help="the report: one .html file"),
    x: List[str] = typer.Option([], "--x", help="map a law input to a column: VAR=COLUMN (repeatable)"),
    y: Optional[str] = typer.Option(None, "--y", help="target column"),
    where: Optional[str] = typer.Option(None, "--where", help="rows to fit"),
    at: List[str] = typer.Option([], "--at", help="the target run: VAR=VALUE,... (forecast with its interval)"),
    compute: List[str] = typer.Option([], "--compute", help="budgets to plan for: C[,C...] or START:STOP:COUNT"),
    bootstrap: int = typer.Option(200, "--bootstrap", help="replicates per law (0: no intervals)"),
    level: Optional[float] = typer.Option(None, "--level", help="level of the prediction intervals (default 0.9)"),
    seed: int = typer.Option(0, "--seed", help="seed of the starts and the bootstrap"),
    title: Optional[str] = typer.Option(None, "--title", help="the page's title"),
    dropna: bool = typer.Option(False, "--dropna", help="leave out rows with an empty input or target"),
    fmt: str = typer.Option("table", "--format", help="table | json"),
):
    """Write one self-contained HTML report: data, fits, forecast, backtests, plan, figures."""
    _check_format(fmt)
    if out_path.suffix.lower() not in (".html", ".htm"):
        _misuse(f"--out must end in .html (the report is one HTML page); got {str(out_path)!r}")
    from .. import report as reports
    from ..data import load_runs
    from ..errors import InputError
    from ..fit.records import check_level
    from ..laws import get_law
    from .commands import _write_out

    laws = [part.strip() for item in law for part in item.split(",") if part.strip()]
    if not bootstrap:
        _only_with("a bootstrap (the intervals); add --bootstrap B", {"--level": level})
    level = 0.9 if level is None else level
    check_level("--level", level)
    if bootstrap < 0:
        raise InputError(f"--bootstrap must be 0 or more; got {bootstrap}")
    inputs = {name: set(get_law(name).inputs) for name in laws if name != "auto"}  # an unknown law: said now
    target = _pairs("--at", at, numeric=True) or None
    for name, needs in inputs.items():
        if target is not None and set(target) != needs:
            raise InputError(f"--at must give the inputs of law {name} ({', '.join(sorted(needs))}); "
                             f"got {', '.join(target)}")
    budgets = _budgets_of(compute)
    if any(not c > 0 for c in budgets):
        raise InputError(f"--compute budgets must be positive FLOP counts; got {min(budgets)!r}")
    runs = load_runs(data)
    with _progress("report") as stage:
        made = reports.build(runs, laws=laws, x=_pairs("--x", x, numeric=False) or None, y=y, where=where,
                             at=target, compute=budgets, bootstrap=bootstrap, level=level, seed=seed,
                             title=title, progress=stage, dropna=dropna)
    page, failed = made.html, made.not_fitted
    _write_out(out_path, page)
    doc = {"out": str(out_path), "bytes": len(page.encode()), "laws": laws, "figures": page.count("<figure "),
           "not_fitted": failed}
    if fmt == "json":
        _print_json(doc)
    else:
        out.print(f"wrote {out_path}: {doc['figures']} figures, {doc['bytes'] / 1e6:.1f} MB", markup=False)
        for name, reason in failed.items():
            out.print(f"not fitted: {name}: {reason}", markup=False)


@app.command()
@_guard
def serve(
    data: Optional[str] = typer.Argument(None, help="a run table or bundled dataset to open first"),
    host: str = typer.Option("127.0.0.1", "--host", help="the address to answer on (default: this machine only)"),
    port: int = typer.Option(8765, "--port", help="the port"),
    max_upload_mb: float = typer.Option(20.0, "--max-upload-mb", help="the largest upload accepted, in MB"),
):
    """Start the local web app: pick or drop a table, fit, forecast and plan in the browser."""
    if not 0 < port < 65536:
        _misuse(f"--port must be from 1 to 65535; got {port}")
    if not max_upload_mb > 0:
        _misuse(f"--max-upload-mb must be positive; got {max_upload_mb}")
    from ..web import create_app

    from ..web import LOOPBACK_NAMES

    local = host in LOOPBACK
    app_ = create_app(data, max_upload=int(max_upload_mb * 1e6), hosts=LOOPBACK_NAMES if local else ["*"])
    import uvicorn

    import socket

    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((host, port))
    except (OSError, OverflowError) as exc:
        from ..errors import InputError

        raise InputError(f"--host {host} --port {port} cannot be served: {getattr(exc, 'strerror', None) or exc}") \
            from None
    shown = f"[{host}]" if ":" in host else host
    where = "this machine only" if local else "EVERY machine that can reach this one: the app has no login"
    err.print(f"scalinglaws: serving on http://{shown}:{port} ({where}); Ctrl+C stops", markup=False)
    uvicorn.run(app_, host=host, port=port, log_level="warning")
