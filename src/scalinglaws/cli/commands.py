"""The command-line interface: the app, its shared helpers and the commands on runs. With the other
modules of this package, the only code that prints or sets exit codes.

Exit codes: 0 ok, 1 the input or the fit failed (one line on stderr, no traceback), 2 usage.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import sys
import time
import warnings
from contextvars import ContextVar
from pathlib import Path
from typing import List, NamedTuple, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .._jax import enable_compilation_cache

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Fit, forecast and plan with neural scaling laws.")
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)

FORMATS = ("table", "json")


def _guard(command):
    """Turn the package's errors into one line on stderr and exit code 1."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from ..errors import ScalingLawsError

        try:
            return command(*args, **kwargs)
        except ScalingLawsError as exc:
            err.print(f"error: {_one_line(exc)}", markup=False)
            raise typer.Exit(1) from None

    return wrapper


def _one_line(message) -> str:
    return " ".join(str(message).split())


def _usage(option: str, rule: str, value) -> None:
    from ..errors import InputError

    raise InputError(f"{option} {rule}; got {value!r}")


def _misuse(message: str) -> None:
    """A usage error (exit 2): an option's value outside its choices, or options that do not go together."""
    raise _click_exceptions().UsageError(message)


def _choose(option: str, value: str, choices) -> None:
    if value not in choices:
        _misuse(f"{option} must be one of {', '.join(choices)}; got {value!r}")


def _check_space(space: str | None) -> None:
    if space is not None:
        from ..laws import SPACES

        _choose("--space", space, SPACES)


def _only_with(what: str, options: dict) -> None:
    """A usage error naming the options given (not None) that apply only to ``what``."""
    given = [o for o, v in options.items() if v is not None]
    if given:
        _misuse(f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} to {what}")


def _check_format(fmt: str) -> None:
    _choose("--format", fmt, FORMATS)


def _check_engine_options(loss: str, method: str) -> None:
    from ..fit.losses import LOSSES
    from ..fit.methods import METHODS

    _choose("--loss", loss, tuple(LOSSES))
    _choose("--method", method, tuple(METHODS))


def _pairs(option: str, items: List[str], numeric: bool) -> dict:
    """``["K=V,K=V", ...]`` -> dict; errors name the option."""
    result = {}
    for item in items:
        for part in item.split(","):
            if not part.strip():
                continue
            key, sep, value = part.partition("=")
            if not sep or not key.strip() or not value.strip():
                _usage(option, "must look like NAME=VALUE", part)
            if numeric:
                try:
                    value = float(value)
                except ValueError:
                    _usage(option, f"{key.strip()} must be a number", value)
            if key.strip() in result:
                _usage(option, f"gives {key.strip()} twice", item)
            result[key.strip()] = value if numeric else value.strip()
    return result


def _number(option: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        _usage(option, "must be a number", text.strip())


def _dumps(doc) -> str:
    """The JSON text of ``doc``; a non-finite number in it is an error, never invalid JSON."""
    from ..errors import FitError

    try:
        return json.dumps(doc, indent=2, allow_nan=False, default=_json_default) + "\n"
    except ValueError:
        raise FitError("the result holds a non-finite number (NaN or infinity); nothing was written") from None


def _print_json(doc) -> None:
    collected = _GROUP_JSON.get()
    if collected is not None:  # a command running for one group of a grouped fit: `_each_group` prints them all
        collected.append(doc)
        return
    sys.stdout.write(_dumps(doc))


#: while `_each_group` runs a command for one group: ``(path, that group's fit document, the
#: grouping column)``, the document `_read_document` returns for the path; and the JSON documents
#: the command printed
class _Group(NamedTuple):
    """One group of a grouped fit document, while a command runs for it (`_each_group`)."""

    path: object  # the document's path (its reads give `doc`)
    doc: dict  # the group's fit document
    by: str | None  # the grouping column
    labels: list  # every group of the document, fitted or skipped


_GROUP_FIT: ContextVar = ContextVar("scalinglaws_group_fit", default=None)
_GROUP_JSON: ContextVar = ContextVar("scalinglaws_group_json", default=None)


def _points_of_group(table):
    """In a command run for one group of a grouped fit (`_each_group`), the rows of a --points table
    that name that group, when the table has the grouping column (every row otherwise)."""
    from ..errors import InputError

    group = _GROUP_FIT.get()
    by = None if group is None else group.by
    if by is None or by not in table.columns:
        return table

    import numpy as np

    def naming(labels):  # rows naming one of ``labels``: by value, or as text ("001" read as 1 elsewhere)
        values, texts = {g for g in labels if isinstance(g, (str, int, float))}, {str(g) for g in labels}
        return table[by].map(lambda v: v in values or str(v) in texts).to_numpy(dtype=bool)

    known = naming(group.labels)
    if not known.all():  # a typo in a group's name would leave its rows out unseen
        bad = table[by].iloc[int(np.argmin(known))]
        raise InputError(f"--points row {int(np.argmin(known)) + 1} names `{by}` = "
                         f"{bad.item() if hasattr(bad, 'item') else bad!r}, which is no group of the fit (groups: "
                         f"{', '.join(repr(g) for g in group.labels[:8])}{', ...' if len(group.labels) > 8 else ''})")
    label = group.doc.get("group")
    rows = table[naming([label])]
    if rows.empty:
        raise InputError(f"--points has no row for `{by}` = {label!r}")
    return rows.drop(columns=[by]).reset_index(drop=True)


def _each_group(command):
    """A command on one fit (argument ``fit_path``) run for every group of a grouped fit document
    (`fit --by`): the group's fit stands for the document. In JSON, ``{"by": COLUMN, "groups":
    [{"group": ..., <the command's document>}, ...]}``; in a table, each group's output under its
    name. A group the command refuses is reported with its reason (``"error"``), as is a group the
    fit skipped, and the others go on. When every group is refused for one same reason (an option's
    value), that reason is the command's one error; for several reasons, the command is refused
    with each."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from ..errors import InputError, ScalingLawsError

        path = kwargs.get("fit_path")
        doc = _read_document(path) if path is not None and not kwargs.get("mix") else None
        if not (isinstance(doc, dict) and isinstance(doc.get("fits"), list)):
            return command(*args, **kwargs)
        by, fmt, fits = str(doc.get("by", "group")), kwargs.get("fmt", "table"), doc["fits"]
        if not fits:
            raise InputError(f"FIT `{path}` holds no fit (fit --by wrote no group)")
        labels = [d.get("group") for d in fits if isinstance(d, dict)] + \
            [d.get("group") for d in doc.get("skipped", []) if isinstance(d, dict)]
        answers, errors = [], {}  # per group: (group, JSON documents or None, printed text, error or None)
        try:
            for i, one in enumerate(fits):
                if not isinstance(one, dict):
                    raise InputError(f"FIT `{path}`: fits[{i}] is not a fit document")
                tokens = _GROUP_FIT.set(_Group(path, one, doc.get("by"), labels)), _GROUP_JSON.set([])
                try:
                    with out.capture() as printed:
                        command(*args, **kwargs)
                    answers.append((one.get("group"), _GROUP_JSON.get(), printed.get(), None))
                except ScalingLawsError as exc:
                    errors.setdefault(_one_line(exc), []).append(one.get("group"))
                    answers.append((one.get("group"), None, "", _one_line(exc)))
                finally:
                    _GROUP_FIT.reset(tokens[0])
                    _GROUP_JSON.reset(tokens[1])
        except BaseException as exc:  # a failure the command did not expect, or an interrupt: what was answered is shown
            if not isinstance(exc, ScalingLawsError) and fmt != "json":
                for group, _, text, error in answers:
                    out.print(f"`{by}` = {group}", markup=False, style="bold")
                    sys.stdout.write(text if not error else f"not answered: {error}\n")
            raise
        if len(errors) == 1 and len(next(iter(errors.values()))) == len(fits):
            raise InputError(next(iter(errors)))
        if len(errors) and sum(len(g) for g in errors.values()) == len(fits):
            reasons = list(errors.items())
            raise InputError(f"no group of FIT `{path}` could be answered: " + "; ".join(
                f"{reason} (`{by}` = {', '.join(repr(g) for g in groups[:3])}{', ...' if len(groups) > 3 else ''})"
                for reason, groups in reasons[:3]) + (f"; and {len(reasons) - 3} more reasons" if len(reasons) > 3 else ""))
        skipped = [s for s in doc.get("skipped", []) if isinstance(s, dict)]
        if fmt == "json":
            groups = [{"group": g, "error": e} if e else {"group": g, **d}
                      for g, docs, _, e in answers for d in (docs if docs else [{}])]
            groups += [{"group": s.get("group"), "error": f"not fitted: {s.get('reason')}"} for s in skipped]
            _print_json({"by": by, "groups": groups})
            return
        for group, _, text, error in answers:
            out.print(f"`{by}` = {group}", markup=False, style="bold")
            if error:
                out.print(f"not answered: {error}", markup=False)
            else:
                sys.stdout.write(text)
        for s in skipped:
            out.print(f"`{by}` = {s.get('group')}: not fitted: {s.get('reason')}", markup=False)

    return wrapper


def _write_out(out_path: Path, text: str) -> None:
    """``text`` to the --out path; a path that cannot be written is a usage error naming it."""
    try:
        out_path.write_text(text)
    except OSError as exc:
        _usage("--out", "must be a writable path", f"{out_path} ({exc.strerror or exc})")


def _plain(v):
    """A cell as JSON takes it: a NumPy scalar as the Python number it holds."""
    return v.item() if hasattr(v, "item") else v


def _json_default(v):
    if hasattr(v, "item"):
        return v.item()
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def _percent(level: float) -> str:
    return f"{100 * level:.6g}%"  # 0.99999 is 99.999%, never "100%"


def _fmt(v: float) -> str:
    return f"{v:.6g}" if isinstance(v, float) and math.isfinite(v) else str(v)


PIPED_STAGE_SECONDS = 2.0  # piped, a stage that took longer gets its line


class _Lines:
    """Progress on a piped stderr: one line per stage that took over `PIPED_STAGE_SECONDS`, when it
    ends (a stage named None is silent)."""

    def start(self, name, total):
        return [name, total, time.monotonic()]

    def update(self, handle, done):
        pass

    def end(self, handle, done, ok):
        name, total, t0 = handle
        seconds = time.monotonic() - t0
        if ok and name is not None and seconds >= PIPED_STAGE_SECONDS:
            count = f" {done}/{total}" if total else ""
            err.print(f"scalinglaws: {name}:{count} done in {seconds:.1f} s", markup=False)


class _Bars:
    """Progress on a terminal: a rich bar per open stage, with its count and the time left."""

    def __init__(self, bars):
        self.bars = bars

    def start(self, name, total):
        return self.bars.add_task(escape(name), total=total)

    def update(self, handle, done):
        self.bars.update(handle, completed=done)

    def end(self, handle, done, ok):
        self.bars.remove_task(handle)


@contextlib.contextmanager
def _progress(text: str):
    """Show the stages run inside the block (bars on a terminal, a line per long stage when piped;
    stdout is never written). Yields ``step(name)``: the block's own steps, shown as stages too."""
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    from .._progress import listen

    bars = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=True) \
        if err.is_terminal else None
    listener = _Bars(bars) if bars is not None else _Lines()
    current = [listener.start(text if bars is not None else None, None)]  # piped: the command's own stages only

    def step(name: str) -> None:
        listener.end(current[0], 0, True)
        current[0] = listener.start(f"{text}: {name}", None)

    with bars if bars is not None else contextlib.nullcontext(), listen(listener):
        try:
            yield step
        except BaseException:
            listener.end(current[0], 0, False)
            raise
        listener.end(current[0], 0, True)


@app.command()
@_guard
def fit(
    data: str = typer.Argument(..., help="a run table (.csv, .parquet, .jsonl) or a bundled dataset name"),
    law: str = typer.Option(..., "--law", help="registered law name (see `scalinglaws laws`), or auto: chosen by "
                                               "nested backtests on the training runs"),
    candidate: List[str] = typer.Option([], "--candidate", help="with --law auto: a law to choose among (repeatable; "
                                        "a registered name, a formula or a .toml law file) instead of the "
                                        "registered laws of the table's inputs"),
    x: List[str] = typer.Option([], "--x", help="map a law input to a column: VAR=COLUMN (repeatable)"),
    y: Optional[str] = typer.Option(None, "--y", help="target column"),
    then: Optional[str] = typer.Option(None, "--then", help="a chain: a law of one input from the --via column "
                                       "(the loss) to --y (the task metric), fitted after --law forecasts --via"),
    via: Optional[str] = typer.Option(None, "--via", help="with --then: the intermediate column --law forecasts"),
    where: Optional[str] = typer.Option(None, "--where", help='rows to fit, e.g. "C < 1e21"'),
    by: Optional[str] = typer.Option(None, "--by", help="fit each group of this column separately"),
    fix: List[str] = typer.Option([], "--fix", help="hold parameters: K=V,..."),
    loss: str = typer.Option("huber", "--loss", help="huber | mse | huber-mle"),
    delta: Optional[float] = typer.Option(None, "--delta", help="Huber threshold on the residuals (huber, "
                                                                "huber-mle; default 1e-3 on log values, 1e-2 for "
                                                                "laws of bounded metrics fitted on y itself)"),
    method: str = typer.Option("varpro", "--method", help="varpro (default) | hoffmann2022"),
    space: Optional[str] = typer.Option(None, "--space", help="log | linear: take the residuals on log y or on y "
                                        "(default: the law's own; --space linear --loss mse is least squares on y)"),
    starts: Optional[int] = typer.Option(None, "--starts", help="screening grid size (default method)"),
    prune: Optional[bool] = typer.Option(None, "--prune/--no-prune", help="hoffmann2022: prune hopeless starts "
                                         "early (default) or run every start to its stop"),
    seed: Optional[int] = typer.Option(None, "--seed", help="seed for the start grid jitter and the bootstrap"),
    bootstrap: int = typer.Option(0, "--bootstrap", help="bootstrap replicates (0: none)"),
    resample: Optional[str] = typer.Option(None, "--resample", help="with --bootstrap: rows (default) | clusters | "
                                                                    "residuals"),
    cluster: Optional[str] = typer.Option(None, "--cluster", help="with --resample clusters: the column naming each "
                                                                  "configuration"),
    level: Optional[float] = typer.Option(None, "--level", help="with --bootstrap: level of the intervals (default "
                                                                "0.95)"),
    include_excluded: bool = typer.Option(False, "--include-excluded", help="also fit rows marked excluded"),
    excluded: Optional[str] = typer.Option(None, "--excluded", help="the true/false column marking runs to leave out "
                                                                    "(default: `excluded` and `excluded_*` columns)"),
    dropna: bool = typer.Option(False, "--dropna", help="leave out rows with an empty input or target (says how "
                                                        "many) instead of refusing them"),
    backend: str = typer.Option("local", "--backend", help="local | ray: fit the --by groups and the bootstrap's "
                                "replicates as Ray tasks (the ray extra), with the same results"),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="with --backend ray: the cluster (auto, or "
                                              "ray://HOST:10001); default: a local Ray started for the command"),
    ray_cpus: Optional[int] = typer.Option(None, "--ray-cpus", help="with --backend ray and no address: CPUs of the "
                                           "local Ray (default: all)"),
    out_path: Optional[Path] = typer.Option(None, "--out", help="write the fit document (JSON) here"),
    fmt: str = typer.Option("table", "--format", help="table | json"),
):
    """Fit a law to a table of runs."""
    _check_format(fmt)
    _check_engine_options(loss, method)
    if delta is not None and loss == "mse":
        _misuse("--delta is the Huber threshold; --loss mse has none")
    if resample is not None:
        from ..uncertainty import SCHEMES

        _choose("--resample", resample, SCHEMES)
    if resample == "clusters" and cluster is None:
        _misuse("--resample clusters needs --cluster COLUMN (the configuration each run belongs to)")
    if cluster is not None and resample != "clusters":
        _misuse("--cluster names the configurations a --resample clusters bootstrap draws; add --resample clusters")
    if prune is not None and method != "hoffmann2022":
        _misuse("--prune/--no-prune applies to --method hoffmann2022")
    if starts is not None and method == "hoffmann2022":
        _misuse("--starts sizes the default method's screen; --method hoffmann2022 starts from its published grid")
    if seed is not None and method == "hoffmann2022" and not bootstrap:
        _misuse("--seed jitters the default method's starts or draws a bootstrap; --method hoffmann2022 without "
                "--bootstrap uses none")
    if not bootstrap:
        _only_with("a bootstrap; add --bootstrap N", {"--resample": resample, "--cluster": cluster, "--level": level})
    from .. import fit as fit_law
    from ..data import load_runs
    from ..laws import get_law

    runs = load_runs(data, excluded=excluded)
    options = dict(x=_pairs("--x", x, numeric=False), y=y, where=where, include_excluded=include_excluded, dropna=dropna,
                   fix=_pairs("--fix", fix, numeric=True), loss=loss, delta=delta,
                   method=method, starts=starts, rng=seed, prune=prune, bootstrap=bootstrap,
                   resample=resample or "rows", cluster=cluster, level=0.95 if level is None else level,
                   candidates=candidate or None, space=space)
    if candidate and law != "auto":
        _misuse("--candidate names laws for --law auto to choose among; add --law auto")
    _check_space(space)
    if space is not None and law == "auto":
        _misuse("--space sets the residuals of one law; --law auto compares its candidates in a space of its own")
    if law != "auto":
        get_law(law)
    if then is None and via is not None:
        _misuse("--via names the intermediate column of a chain; add --then LAW")
    if then is not None:
        if via is None:
            _misuse("--then needs --via COLUMN: the intermediate quantity (the loss) --law forecasts")
        if y is None:
            _misuse("--then needs --y COLUMN: the target the chain forecasts (the task metric)")
        if by is not None:
            _misuse("--by fits one law per group; a chain (--then) is fitted on the whole table (select a group "
                    "with --where)")
        if backend != "local":
            _misuse("--backend ray runs --by groups and bootstrap replicates as Ray tasks; a chain (--then) is "
                    "fitted here")
        from ..chain import fit_chain

        with _progress(f"fitting the chain {law} -> {then}"):
            chain_options = {k: v for k, v in options.items() if k not in ("y", "candidates")}
            doc = fit_chain(law, runs, then=then, via=via, y=y, candidates=candidate or None,
                            **chain_options).summary()
        return _write_fit(doc, out_path, fmt)
    from ..fit.backend import use_backend

    _choose("--backend", backend, ("local", "ray"))
    if backend == "local" and (ray_address is not None or ray_cpus is not None):
        _misuse("--ray-address and --ray-cpus go with --backend ray")
    if ray_cpus is not None and ray_cpus < 1:
        _misuse(f"--ray-cpus must be a positive integer; got {ray_cpus}")
    if ray_cpus is not None and ray_address is not None:
        _misuse("--ray-cpus sizes a local Ray; a cluster (--ray-address) uses its own CPUs")
    with use_backend(backend, address=ray_address, num_cpus=ray_cpus), _progress(f"fitting {law} ({method})"):
        if by is None:
            doc = fit_law(law, runs, **options).summary()
        else:
            from ..api import fit_groups

            groups, skipped = fit_groups(law, runs, by, **options)
            fits = [{"group": g, **r.summary()} for g, r in groups.items()]
            doc = {"by": by, "fits": fits, "skipped": skipped}
    _write_fit(doc, out_path, fmt)


def _write_fit(doc: dict, out_path: Path | None, fmt: str) -> None:
    """A fit document (one fit, a chain's two, or one per group) to --out and to the screen."""
    text = _dumps(doc)
    if out_path is not None:
        _write_out(out_path, text)
    if fmt == "json":
        sys.stdout.write(text)
        return
    if "chain" in doc:
        first, second = doc["chain"]
        out.print(f"chain: {first['law']} forecasts `{doc['via']}`, then {second['law']} forecasts "
                  f"`{second['y']}` from it", markup=False)
    if len(doc.get("fits", ())) > GROUPS_IN_FULL:
        _print_groups(doc)
        return
    for one in doc.get("fits", doc.get("chain", [doc])):
        _print_fit(one, by=doc.get("by"))
    for s in doc.get("skipped", []):
        out.print(f"not fitted: `{doc['by']}` = {s['group']!r}: {s['reason']}", markup=False)


#: groups of a grouped fit printed in full, each its own table; beyond, one row each
GROUPS_IN_FULL = 8


def _print_groups(doc: dict) -> None:
    """A grouped fit as one table, a row per group (every fit in full: --format json)."""
    by, fits = doc["by"], doc["fits"]
    names = list(dict.fromkeys(k for f in fits for k in f["params"]))
    table = Table(title=f"{len(fits)} fits, one per `{escape(str(by))}` group", title_justify="left")
    for col in [by, "law", "status", *names, "objective", "runs", "at bound", "warnings"]:
        table.add_column(escape(str(col)), justify="left" if col in (by, "law", "status", "at bound") else "right")
    for f in fits:
        table.add_row(escape(str(f["group"])), f["law"], f["status"], *(_fmt(f["params"].get(n)) for n in names),
                      _fmt(f["objective"]), str(f["n_points"]), (", ".join(f["at_bound"]) or "-") if "at_bound" in f else "?",
                      str(len(f["warnings"])))
    out.print(table)
    counts = {}
    for f in fits:
        counts[f["status"]] = counts.get(f["status"], 0) + 1
    out.print("status: " + ", ".join(f"{n} {k}" for k, n in counts.items()) + "; every fit in full: --format json",
              markup=False)
    for s in doc.get("skipped", []):
        out.print(f"not fitted: `{by}` = {s['group']!r}: {s['reason']}", markup=False)


def _print_fit(doc: dict, by: str | None = None) -> None:
    from ..laws import get_law

    law = get_law(doc["law"])
    named = law.name if law.name.startswith(law.equation) else f"{law.name}: {law.equation}"  # a formula is its own name
    title = escape(named + (f"   [{by}={doc['group']}]" if by is not None else ""))
    table = Table(title=title, title_justify="left")
    table.add_column("param")
    table.add_column("value", justify="right")
    table.add_column("note")
    ci = doc.get("ci")
    if ci:
        table.add_column("se", justify="right")
        table.add_column(f"{_percent(ci['level'])} interval", justify="right")
    for name, value in doc["params"].items():
        note = "fixed" if name in doc["fixed"] else ("AT BOUND" if name in doc["at_bound"] else "")
        extra = [_fmt(doc["se"][name]), f"[{_fmt(ci[name][0])}, {_fmt(ci[name][1])}]"] if ci else []
        table.add_row(name, _fmt(value), note, *extra)
    out.print(table)
    extras = "".join(f", {k}={_fmt(v)}" for k, v in doc["loss_params"].items())
    scale = "" if doc["loss"] == "mse" else f", delta={doc['delta']:g}"
    residuals = "log y" if doc.get("space", law.space) == "log" else "y"
    out.print(
        f"objective ({doc['loss']}{scale} on residuals of {residuals}) = {doc['objective']:.10g}{extras}; "
        f"status {doc['status']}; "
        f"{doc['n_points']} runs; method {doc['method']}: {doc['n_at_best']} of {doc['n_starts']} starts converged to "
        f"the best ({doc['n_screened']} screened; " + ", ".join(f"{n} {k}" for k, n in doc["status_counts"].items()) + ")"
    )
    if ci:
        b = doc["bootstrap"]
        out.print(f"bootstrap: {b['n_replicates']} replicates ({b['scheme']}), {b['n_failed']} not converged; guard: "
                  f"{b['n_guard_better']} of {b['n_guarded']} cold multi-starts beat the warm start")
    for note in doc["notes"]:
        out.print(f"note: {note}", markup=False)
    for warning in doc.get("warnings", ()):
        out.print(f"warning: {warning}", markup=False)
    if doc.get("selection"):
        _print_selection(doc["selection"])


def _print_selection(sel: dict) -> None:
    folds = ", ".join(f"{f['n_train']} -> {f['n_test']}" for f in sel["folds"])
    table = Table(title=f"--law auto chose {sel['law']}: {sel['reason']}", title_justify="left")
    for col in ("law", "params", "score", "per fold", "status"):
        table.add_column(col, justify="right" if col in ("params", "score") else "left")
    for c in sorted(sel["candidates"], key=lambda c: (float(c["score"]), c["law"] != sel["law"])):  # chosen first of ties
        table.add_row(c["law"], str(c["n_params"]), _fmt(float(c["score"])),
                      ", ".join(_fmt(float(v)) for v in c["folds"]), escape(c["status"]))
    out.print(table)
    out.print(f"score: {sel.get('criterion', 'mean held-out RMSE of log y')}, over cut-offs along {sel['scale']} "
              f"(runs trained -> scored: {folds})")
    if sel.get("rivals"):
        from ..fit.records import RIVAL_FACTOR

        out.print(f"rivals: {', '.join(r['law'] for r in sel['rivals'])} scored within x{RIVAL_FACTOR:g} of {sel['law']} and can be "
                  f"trusted: the runs do not rule them out, so forecasts (predict, plan) are "
                  f"{_averaging_note(sel['weights'])} in the fit space, and prediction intervals reach every one of them",
                  markup=False)
        for r in sel["rivals"]:
            out.print(f"  {r['law']}: " + ", ".join(f"{k} = {_fmt(float(v))}" for k, v in r["params"].items()), markup=False)


def _averaged(result) -> dict[str, float]:
    """The laws a fit's forecasts average and their weights (empty for one law)."""
    weights = {} if result.selection is None else result.selection.weights()
    return weights if len(weights) > 1 else {}


def _averaging_note(weights: dict[str, float]) -> str:
    return "the weighted average of " + ", ".join(f"{k} ({v:.2f})" for k, v in weights.items()) + \
        " (--law auto and its rivals, weights 1/score^2)"


def _load_fit(path: Path, chain: bool = False):
    """The fit document at ``path``; with ``chain``, a chain's document (`ChainResult`) too."""
    from ..errors import InputError
    from ..fit import FitResult

    doc = _read_document(path)
    if isinstance(doc, dict) and "optima" in doc:
        raise InputError(f"FIT `{path}` holds an iso-FLOP analysis (isoflop); this command needs a fit document")
    if isinstance(doc, dict) and isinstance(doc.get("fits"), list):
        raise InputError(f"FIT `{path}` holds several fits (--by); this command needs one (write one group's fit "
                         "with fit --where instead)")
    if not isinstance(doc, dict):
        raise InputError(f"FIT `{path}` is not a fit document")
    if "chain" in doc or "observational" in doc:
        if not chain:
            raise InputError(f"FIT `{path}` holds a " + ("chain (fit --then)" if "chain" in doc else
                                                          "benchmark forecast (observe)")
                             + "; this command needs one law's fit")
        from ..chain import ChainResult
        from ..observational import ObservationalFit

        return (ChainResult if "chain" in doc else ObservationalFit).from_dict(doc)
    return FitResult.from_dict(doc)


def _load_group_fits(path: Path) -> dict:
    """The fits of a `fit --by` document, by group (as text)."""
    from ..errors import InputError
    from ..fit import FitResult

    doc = _read_document(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("fits"), list):
        raise InputError(f"FIT `{path}` must hold one fit per group (written by fit --by)")
    bad = next((i for i, d in enumerate(doc["fits"]) if not isinstance(d, dict)), None)
    if bad is not None:
        raise InputError(f"FIT `{path}`: fits[{bad}] is not a fit document")
    return {str(d.get("group")): FitResult.from_dict(d) for d in doc["fits"]}


def _read_document(path: Path):
    from ..errors import InputError

    group = _GROUP_FIT.get()
    if group is not None and group.path == path:
        return group.doc
    try:
        doc = json.loads(Path(path).read_text())
    except OSError as exc:
        raise InputError(f"FIT `{path}` could not be read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"FIT `{path}` is not a text (JSON) file") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"FIT `{path}` is not JSON: {exc}") from None
    return doc


@app.command()
@_guard
@_each_group
def predict(
    fit_path: Path = typer.Argument(..., metavar="FIT.json", help="a fit document written by `fit --out`"),
    at: List[str] = typer.Option([], "--at", help="one point: VAR=VALUE[,VAR=VALUE...] (repeatable)"),
    points: Optional[Path] = typer.Option(None, "--points", help="a table of points (.csv, .parquet, .jsonl)"),
    interval: Optional[float] = typer.Option(None, "--interval", help="prediction interval level, e.g. 0.9 "
                                             "(needs a fit with --bootstrap)"),
    mix: List[str] = typer.Option([], "--mix", help="with a qqt_utility fit per pool (fit --by POOL): equal shares "
                                  "of these pools, GROUP[,GROUP...] (repeatable: each mix is predicted and the best "
                                  "at each point named)"),
    fmt: str = typer.Option("table", "--format", help="table | json"),
):
    """Predict the fitted law at new points, each labelled interpolation or extrapolation."""
    _check_format(fmt)
    import numpy as np

    from ..data import read_runs

    if bool(at) == (points is not None):
        _misuse(f"predict takes exactly one of --at or --points; got {'both' if at else 'neither'}")
    if mix and interval is not None:
        _misuse("--mix predicts without intervals; drop --interval")
    pools, groups_of = _pools_of_mixes(fit_path, mix) if mix else (None, None)
    result = _load_fit(fit_path, chain=True) if pools is None else next(iter(pools.values()))
    chain = None
    if hasattr(result, "basis"):  # observe's document: models given by their benchmark scores
        if points is None:
            _misuse("a benchmark forecast (observe) takes its models' scores from a table: give --points FILE")
        return _print_observed_predictions(result, read_runs(points, what="--points").table, interval, fmt)
    if hasattr(result, "second"):  # a chain: points are given in its first law's inputs
        chain, result = result, result.first
    if points is not None:
        table = _points_of_group(read_runs(points, what="--points").table)
        rows = [dict(zip(table.columns, r, strict=True)) for r in table.itertuples(index=False)]
        inputs = table
    else:
        schedule = next((item for item in at if "lr_schedule=" in item), None)
        if schedule is not None:
            _usage("--at", "cannot carry a named schedule (its commas split --at); put it in an `lr_schedule` column "
                           "of a --points table", schedule)
        rows = [_pairs("--at", [item], numeric=True) for item in at]
        known = set(result.law.inputs) | {result.columns.get(n) for n in result.law.inputs}
        for row in rows:
            unknown = [k for k in row if k not in known]
            if unknown:
                _usage("--at", f"names `{unknown[0]}`, which is not an input of law {result.law.name} "
                               f"(inputs: {', '.join(result.law.inputs)})", at)
            missing = [n for n in result.law.inputs if n not in row and result.columns.get(n) not in row]
            if missing:
                _usage("--at", f"must give every input of law {result.law.name} ({', '.join(result.law.inputs)})", at)
        inputs = {k: np.array([row.get(k, row.get(result.columns.get(k))) for row in rows]) for k in result.law.inputs}
        # every point named as the first names it (an input by its law name or its column), so the table has one
        # column per input
        named = {k: k if k in rows[0] else result.columns.get(k) for k in result.law.inputs}
        rows = [{named[k]: row.get(k, row.get(result.columns.get(k))) for k in result.law.inputs} for row in rows]
    if pools is not None:
        return _print_mixes(pools, groups_of, rows, inputs, fmt)
    if chain is not None:
        return _print_chain_predictions(chain, rows, inputs, interval, fmt)
    values = result.predict(inputs)
    labels, decades = result.extrapolation(inputs)
    overall = np.atleast_1d(result.decades_beyond(inputs))
    parts = result.interval_parts(inputs, interval) if interval is not None else None
    rivals = [r.law for r in result.selection.rivals] if result.selection is not None and parts is not None else []
    preds = []
    for i, row in enumerate(rows):
        p = {**{k: _plain(v) for k, v in row.items()}, "y": float(values[i])}
        if parts is not None:
            p.update(level=interval, lo=float(parts["lo"][i]), hi=float(parts["hi"][i]),
                     bootstrap_interval=[float(parts["lo_bootstrap"][i]), float(parts["hi_bootstrap"][i])],
                     extrapolation_share=float(parts["extrapolation_share"][i]),
                     law_choice_share=float(parts["law_choice_share"][i]),
                     beyond_calibration=bool(parts["beyond_calibration"][i]))
        p.update(extrapolation=labels[i], decades={k: float(v[i]) for k, v in decades.items()},
                 decades_beyond=float(overall[i]))
        preds.append(p)
    weights = _averaged(result)
    if fmt == "json":
        extra = {} if parts is None else {"calibrated_reach": float(parts["calibrated_reach"]), "rivals": rivals}
        _print_json({"law": result.law.name, "fit_status": result.status, "warnings": list(result.warnings),
                     **({"averaged": weights} if weights else {}), **extra, "predictions": preds})
        return
    title = escape(f"{result.law.name} predictions" + (f": {_averaging_note(weights)}" if weights else ""))
    table = Table(title=title, title_justify="left")
    keys = list(rows[0])
    forecast_column = result.y_column if result.y_column not in keys else f"{result.y_column} (forecast)"
    for k in keys + [forecast_column] + ([f"{_percent(interval)} interval", "from extrapolation"]
                                         if parts is not None else []) + (["from law choice"] if rivals else []) + ["where"]:
        table.add_column(k, justify="right")
    for p in preds:
        span = [f"[{_fmt(p['lo'])}, {_fmt(p['hi'])}]", f"{p['extrapolation_share']:.0%}"] if parts is not None else []
        span += [f"{p['law_choice_share']:.0%}"] if rivals else []
        far = ", ".join(f"{k} {v:.2g} dec {_side(p.get(k, p.get(result.columns.get(k))), result.x_range.get(k))}"
                        for k, v in p["decades"].items() if v > 0)
        if not far and p["decades_beyond"] > 0:  # every input within its range, their product beyond the fitted ones
            far = f"{' x '.join(result.law.inputs)} {p['decades_beyond']:.2g} dec beyond the fitted runs' products"
        where = p["extrapolation"] + (f" ({far})" if far else "")
        table.add_row(*[_fmt(p[k]) if isinstance(p[k], float) else escape(str(p[k])) for k in keys], _fmt(p["y"]),
                      *span, where)
    out.print(table)
    if parts is not None:
        out.print("from extrapolation: the share of the interval's width (log scale) added for the law's own errors "
                  "when extrapolating, measured on nested cut-offs of the fitted runs; the rest is parameter "
                  "uncertainty and run-to-run noise (the bootstrap)", markup=False)
        if rivals:
            from ..fit.records import RIVAL_FACTOR

            out.print(f"from law choice: the share added to reach the forecasts of {', '.join(rivals)}, whose "
                      f"held-out scores lie within x{RIVAL_FACTOR:g} of the chosen law's (the runs do not rule "
                      "them out)", markup=False)
        if np.any(parts["beyond_calibration"]):
            out.print(f"note: some points lie farther out than any forecast the calibration measured "
                      f"({parts['calibrated_reach']:.2g} decades): there its growth of the error is itself extrapolated, "
                      "and a law that misses the runs' curvature can err more", markup=False)
    if result.status != "converged":
        out.print(f"note: the fit's status is {result.status}: its optimum is not certified", markup=False)
    for warning in result.warnings:
        out.print(f"warning: {warning}", markup=False)


def _print_observed_predictions(obs, table, interval, fmt: str) -> None:
    values = obs.predict(table)
    bounds = obs.predict_interval(table, interval) if interval is not None else None
    target = obs.fit.y_column
    preds = [{"row": i + 1, "y": float(v), **({"level": interval, "lo": float(bounds[0][i]), "hi": float(bounds[1][i])}
                                             if bounds is not None else {})} for i, v in enumerate(values)]
    if fmt == "json":
        _print_json({"observational": target, "from": list(obs.basis.benchmarks), "fit_status": obs.status,
                     "warnings": list(obs.fit.warnings), "predictions": preds})
        return
    table_out = Table(title=escape(f"{target} forecast from {', '.join(obs.basis.benchmarks)}"), title_justify="left")
    for col in ["row", target] + ([f"{_percent(interval)} interval"] if bounds is not None else []):
        table_out.add_column(col, justify="right")
    for p in preds:
        table_out.add_row(str(p["row"]), _fmt(p["y"]), *([f"[{_fmt(p['lo'])}, {_fmt(p['hi'])}]"] if bounds else []))
    out.print(table_out)
    for warning in obs.fit.warnings:
        out.print(f"warning: {warning}", markup=False)


def _print_chain_predictions(chain, rows: list, inputs, interval, fmt: str) -> None:
    import numpy as np

    via = chain.first.predict(inputs)
    values = chain.predict(inputs)
    bounds = chain.predict_interval(inputs, interval) if interval is not None else None
    labels, decades = chain.first.extrapolation(inputs)
    target = chain.second.y_column
    link_range = chain.second.x_range[chain.second.law.inputs[0]]  # the `via` values the second law was fitted on
    preds = []
    for i, row in enumerate(rows):
        p = {**{k: _plain(v) for k, v in row.items()}, "via": float(via[i]),
             "y": float(values[i])}
        if bounds is not None:
            p.update(level=interval, lo=float(bounds[0][i]), hi=float(bounds[1][i]))
        outside = _side(via[i], link_range) if not link_range[0] <= via[i] <= link_range[1] else None
        p.update(extrapolation="extrapolation" if outside else labels[i],
                 decades={k: float(v[i]) for k, v in decades.items()}, via_outside=outside)
        preds.append(p)
    warnings = [f"{stage.law.name}: {w}" for stage in (chain.first, chain.second) for w in stage.warnings]
    if any(p["via_outside"] for p in preds):
        warnings.append(f"at {sum(bool(p['via_outside']) for p in preds)} point(s) the forecast `{chain.via}` lies "
                        f"beyond the runs {chain.second.law.name} was fitted on: the link is extrapolated there, and "
                        "its interval is not widened for that (no distance in the loss is calibrated), so the chain's "
                        "interval there is a bootstrap band, not a guarantee")
    if fmt == "json":
        _print_json({"chain": [chain.first.law.name, chain.second.law.name], "via": chain.via,
                     "fit_status": chain.status, "warnings": warnings, "predictions": preds})
        return
    table = Table(title=escape(f"{chain.name} predictions"), title_justify="left")
    keys = list(rows[0])
    via_column, target_column = (c if c not in keys else f"{c} (forecast)" for c in (chain.via, target))
    for k in keys + [via_column, target_column] + ([f"{_percent(interval)} interval"] if bounds else []) + ["where"]:
        table.add_column(k, justify="right")
    for p in preds:
        far = ", ".join([f"{k} {v:.2g} dec" for k, v in p["decades"].items() if v > 0]
                        + ([f"{chain.via} {p['via_outside']} the link's runs"] if p["via_outside"] else []))
        table.add_row(*[_fmt(p[k]) if isinstance(p[k], float) else escape(str(p[k])) for k in keys], _fmt(p["via"]),
                      _fmt(p["y"]), *([f"[{_fmt(p['lo'])}, {_fmt(p['hi'])}]"] if bounds else []),
                      p["extrapolation"] + (f" ({far})" if far else ""))
    out.print(table)
    if bounds is not None:
        out.print(f"interval: each stage's own interval at {_percent((1 + interval) / 2)}, the second taken over every "
                  f"`{chain.via}` inside the first's; it holds a new run with probability at least "
                  f"{_percent(interval)} (the union bound) where the link is not extrapolated", markup=False)
    if chain.status != "converged":
        out.print(f"note: the chain's status is {chain.status}: an optimum is not certified", markup=False)
    for warning in warnings:
        out.print(f"warning: {warning}", markup=False)


def _pools_of_mixes(path: Path, mixes: List[str]) -> tuple[dict, list]:
    """The qqt_utility fit of each pool the --mix options name, by group, and each mix's pools."""
    fits = _load_group_fits(path)
    laws = {r.law.name for r in fits.values()}
    if laws != {"qqt_utility"}:
        _usage("--mix", "needs a qqt_utility fit per pool (fit --law qqt_utility --by POOL)", ", ".join(sorted(laws)))
    pools, groups_of, labels = {}, [], set()
    for m in mixes:
        groups = [g.strip() for g in m.split(",") if g.strip()]
        if not groups:
            _usage("--mix", "must name at least one pool", m)
        if len(set(groups)) < len(groups):
            _usage("--mix", "names a pool twice", m)
        if "+".join(groups) in labels or any(set(groups) == set(other) for other in groups_of):
            _usage("--mix", "gives the same mix twice", m)
        for g in groups:
            if g not in fits:
                _usage("--mix", f"names `{g}`, which is not a pool of the document (pools: {', '.join(fits)})", m)
            pools[g] = fits[g]
        groups_of.append(groups)
        labels.add("+".join(groups))
    return pools, groups_of


def _print_mixes(pools: dict, mixes: list, rows: list, inputs, fmt: str) -> None:
    """Each mix's forecast error at each point, and the best mix there (Goyal et al. 2024)."""
    import numpy as np

    from ..api import predict_mix
    from ..errors import FitError

    names = ["+".join(m) for m in mixes]
    errors, beyond = {}, {}
    arrays = next(iter(pools.values())).prediction_inputs(inputs)  # checked once, for every mix
    for name, m in zip(names, mixes):
        try:
            errors[name] = predict_mix([pools[g] for g in m], arrays)
        except FitError as exc:
            raise FitError(f"--mix {','.join(m)}: {exc}") from None
        # a mix of p pools follows each pool's curve at p times its size: it extrapolates where that does
        at = {"n": arrays["n"], "P": len(m) * arrays["P"]}
        beyond[name] = np.any([np.array(pools[g].extrapolation(at)[0]) == "extrapolation" for g in m], axis=0)
    preds = []
    for i, row in enumerate(rows):
        e = {name: float(v[i]) for name, v in errors.items()}
        finite = {k: v for k, v in e.items() if np.isfinite(v)}
        preds.append({"at": {k: _plain(v) for k, v in row.items()},
                      "errors": {k: (v if np.isfinite(v) else None) for k, v in e.items()},
                      "best": min(finite, key=finite.get) if finite else None,
                      "extrapolation": {k: "extrapolation" if beyond[k][i] else "interpolation" for k in names}})
    unsure = sorted(g for g, r in pools.items() if r.status != "converged")
    notes = ["each mix is Goyal et al.'s rule (as their code evaluates it: each tau times the number of pools) "
             "applied to the pools' own fits; no mix was trained or fitted, so a mix of several pools is labelled "
             "extrapolation wherever a pool's fit never saw p times its size",
             "P is each pool's size: a mix of p pools repeats its p P samples"]
    if any(v is None for p in preds for v in p["errors"].values()):
        notes.append("null (-): past 512 repeated epochs of the mix, not computed; best is then chosen among the others")
    if unsure:
        notes.append(f"the fits of {', '.join(unsure)} are not certified (status not converged)")
    if fmt == "json":
        _print_json({"law": "qqt_utility mix", "mixes": names, "predictions": preds, "notes": notes})
        return
    table = Table(title="qqt_utility: the error of equal shares of the pools (Goyal et al. 2024)", title_justify="left")
    for k in list(rows[0]):
        table.add_column(escape(str(k)), justify="right")
    for k in names:
        table.add_column(escape(f"error of {k}"), justify="right")
    table.add_column("best mix", justify="right")
    table.add_column("extrapolated by", justify="right")
    for p in preds:
        far = [k for k, v in p["extrapolation"].items() if v == "extrapolation"]
        table.add_row(*[_fmt(v) if isinstance(v, float) else escape(str(v)) for v in p["at"].values()],
                      *[_fmt(v) if v is not None else "-" for v in p["errors"].values()],
                      escape(str(p["best"] or "-")), escape(", ".join(far) if far else "none (interpolation)"))
    out.print(table)
    for note in notes:
        out.print(f"note: {note}", markup=False)


def _side(value, observed) -> str:
    """Whether an input beyond the fitted runs lies below or above them."""
    try:
        return "below" if observed is not None and float(value) < observed[0] else "above"
    except (TypeError, ValueError):
        return "outside"


@app.command()
@_guard
def backtest(
    data: str = typer.Argument(..., help="a run table or a bundled dataset name"),
    law: List[str] = typer.Option(..., "--law", help="one or more laws: NAME[,NAME...] (auto included), or a "
                                  "formula (repeatable: --law chinchilla --law \"L(N, D) = ...\")"),
    train_where: List[str] = typer.Option([], "--train-where",
                                          help='the training runs, e.g. "C < 1e21"; the rest are scored (repeat for '
                                               "growing cut-offs)"),
    along: Optional[str] = typer.Option(None, "--along", help="backtest along training curves of this column"),
    by: Optional[str] = typer.Option(None, "--by", help="backtest each group of this column (each curve, with "
                                                        "--along) and pool the forecasts"),
    where: Optional[str] = typer.Option(None, "--where", help="only these runs take part (train and test)"),
    train_fraction: Optional[float] = typer.Option(None, "--train-fraction", help="with --along: fit the checkpoints "
                                                                                  "with COLUMN <= this share of its last "
                                                                                  "value, per curve (default 0.5)"),
    interval: Optional[float] = typer.Option(None, "--interval", help="also score coverage of intervals at this level"),
    x: List[str] = typer.Option([], "--x", help="map a law input to a column: VAR=COLUMN (repeatable)"),
    y: Optional[str] = typer.Option(None, "--y", help="target column"),
    then: Optional[str] = typer.Option(None, "--then", help="a chain: a law of one input from the --via column "
                                       "(the loss) to --y (the task metric), fitted after --law forecasts --via"),
    via: Optional[str] = typer.Option(None, "--via", help="with --then: the intermediate column --law forecasts"),
    loss: str = typer.Option("huber", "--loss", help="huber | mse | huber-mle"),
    method: str = typer.Option("varpro", "--method", help="varpro (default) | hoffmann2022"),
    space: Optional[str] = typer.Option(None, "--space", help="log | linear: fit each law on residuals of log y or "
                                        "of y (default: each law's own)"),
    include_excluded: bool = typer.Option(False, "--include-excluded", help="also use rows marked excluded"),
    excluded: Optional[str] = typer.Option(None, "--excluded", help="the true/false column marking runs to leave out "
                                                                    "(default: `excluded` and `excluded_*` columns)"),
    dropna: bool = typer.Option(False, "--dropna", help="leave out rows with an empty input or target"),
    fmt: str = typer.Option("table", "--format", help="table | json"),
):
    """Fit on the earlier runs (--train-where, or --along a curve); score the forecasts of the rest."""
    _check_format(fmt)
    _check_engine_options(loss, method)
    if (along is None) == (not train_where):
        _misuse("backtest takes --train-where CONDITION (repeatable) or --along COLUMN; got "
                + ("neither" if along is None else "both"))
    if along is None:
        _only_with("a backtest --along a curve", {"--train-fraction": train_fraction})
    _check_space(space)
    from ..data import load_runs
    from ..evaluate import backtest as run_backtest

    split = None if not train_where else train_where[0] if len(train_where) == 1 else train_where
    with _progress(f"backtesting {', '.join(law)}"):
        result = run_backtest(law, load_runs(data, excluded=excluded), train_where=split, along=along, by=by,
                              train_fraction=0.5 if train_fraction is None else train_fraction, interval=interval,
                              where=where, x=_pairs("--x", x, numeric=False), y=y, loss=loss, method=method,
                              include_excluded=include_excluded, dropna=dropna,
                              **({} if space is None else {"space": space}),
                              **({} if then is None and via is None else {"then": then, "via": via}))
    results = result if isinstance(result, tuple) else (result,)
    if fmt == "json":
        _print_json(result.to_dict() if len(results) == 1 else {"backtests": [r.to_dict() for r in results]})
        return
    docs = [r.to_dict() for r in results]
    positive = all(s["rmse_log"] is not None for d in docs for s in d["laws"])
    columns = ("law", "status") + (("are", "max_are", "rmse_log", "bias_log") if positive else ("rmse",)) + \
        ("wins",) + (("coverage", "width", "interval_score") if interval is not None else ()) + \
        (("chosen",) if "auto" in law else ())
    for doc in docs:
        table = Table(title=f"backtest: train on {escape(doc['train_where'])} ({doc['n_train']} runs), "
                            f"score {doc['n_test']} held-out runs", title_justify="left")
        for col in columns:
            table.add_column(col, justify="left" if col in ("law", "status", "chosen") else "right")
        for score in doc["laws"]:
            table.add_row(*(f"{score[c]:.4g}" if isinstance(score[c], float) else "-" if score[c] is None
                            else escape(str(score[c])) for c in columns))
        out.print(table)
        for score in doc["laws"]:
            if score["interval_note"]:
                out.print(f"{escape(score['law'])}: {escape(score['interval_note'])}")
        for group in doc["skipped"]:
            out.print(f"not scored: {escape(group)}")
    out.print(("are: mean |forecast / actual - 1|; rmse_log, bias_log: of log(forecast / actual); " if positive else
               "rmse: of forecast - actual (some held-out values are not positive); ")
              + "wins: held-out runs where the law was closest (all of them on a tie)"
              + (f"; coverage: share inside the {interval:g} prediction interval; width: its median "
                 + ("hi / lo" if positive else "hi - lo") + "; interval_score: mean width plus 2 / (1 - level) times "
                 "the miss" + (" (log space)" if positive else "") if interval is not None else ""))


@app.command()
@_guard
def observe(
    data: str = typer.Argument(..., help="a table of models (one row each) and their benchmark scores"),
    y: str = typer.Option(..., "--y", help="the benchmark to forecast"),
    benchmarks: List[str] = typer.Option(..., "--from", help="the benchmarks it is forecast from: COL[,COL...] "
                                         "(repeatable)"),
    components: int = typer.Option(2, "--components", help="principal capability measures used (1 to 3)"),
    where: Optional[str] = typer.Option(None, "--where", help="the models to fit on, e.g. \"N < 5e9\""),
    forecast_where: Optional[str] = typer.Option(None, "--forecast-where", help="models of the table to forecast "
                                                 "(shown beside their own score where they have one)"),
    label: Optional[str] = typer.Option(None, "--label", help="with --forecast-where: the column naming each model"),
    fix: List[str] = typer.Option([], "--fix", help="hold parameters: K=V,... (y0 at chance, y_inf=1 a ceiling)"),
    bootstrap: int = typer.Option(0, "--bootstrap", help="bootstrap replicates (0: none)"),
    level: Optional[float] = typer.Option(None, "--level", help="with --bootstrap: the level of the forecasts' "
                                          "intervals (default 0.9)"),
    out_path: Optional[Path] = typer.Option(None, "--out", help="write the fit document (JSON) here"),
    fmt: str = typer.Option("table", "--format", help="table | json"),
):
    """Observational scaling: a benchmark as a sigmoid of capability measures of other benchmarks."""
    _check_format(fmt)
    import numpy as np

    from ..data import load_runs
    from ..data.runs import select_rows
    from ..observational import fit_observational

    if forecast_where is None:
        _only_with("--forecast-where", {"--label": label})
    if not bootstrap:
        _only_with("a bootstrap; add --bootstrap N", {"--level": level})
    level = 0.9 if level is None else level
    runs = load_runs(data)
    names = [b.strip() for item in benchmarks for b in item.split(",") if b.strip()]
    if label is not None and label not in runs.columns:
        _usage("--label", f"must name a column ({', '.join(map(str, runs.columns))})", label)
    with _progress(f"fitting {y} from {len(names)} benchmarks"):
        obs = fit_observational(runs, y, names, components=components, where=where,
                                fix=_pairs("--fix", fix, numeric=True) or None, bootstrap=bootstrap, level=level)
    doc = obs.summary()
    if forecast_where is not None:
        rows = select_rows(runs, forecast_where, True, option="--forecast-where")[0]
        if not rows.size:
            _usage("--forecast-where", "selects no models", forecast_where)
        points = runs.table.iloc[rows]
        scored = obs.scored(points)  # a model with a gap in its scores gets no forecast, and says why
        fitted_rows = np.isin(rows, select_rows(runs, where, True)[0])
        values, lo, hi = (np.full(len(points), np.nan) for _ in range(3))
        if scored.any():
            values[scored] = obs.predict(points[scored])
            if bootstrap:
                lo[scored], hi[scored] = obs.predict_interval(points[scored], level)
        observed = _numbers(points[y])
        doc["forecasts"] = []
        for i, r in enumerate(rows):
            f = {"row": int(r) + 1}
            if label:
                f["label"] = _plain(points[label].iloc[i])
            f["y"] = float(values[i]) if scored[i] else None
            f["fitted"] = bool(fitted_rows[i])  # also among the --where models: not a forecast of the unseen
            f["observed"] = None if not np.isfinite(observed[i]) else float(observed[i])
            if bootstrap and scored[i]:
                f.update(lo=float(lo[i]), hi=float(hi[i]), level=level)
            if not scored[i]:
                f["missing"] = "a score in " + ", ".join(
                    b for b in obs.basis.benchmarks if not np.isfinite(_numbers(points[b].iloc[[i]]))[0])
            doc["forecasts"].append(f)
        seen = np.isfinite(observed) & scored & ~fitted_rows
        doc["mean_abs_error"] = float(np.mean(np.abs(values[seen] - observed[seen]))) if seen.any() else None
    text = _dumps(doc)
    if out_path is not None:
        _write_out(out_path, _dumps(obs.to_dict()))
    if fmt == "json":
        sys.stdout.write(text)
        return
    basis = doc["observational"]
    table = Table(title="capability measures (principal components of the standardized benchmarks)",
                  title_justify="left")
    table.add_column("benchmark")
    for j in range(len(basis["loadings"])):
        table.add_column(f"pc{j + 1} ({basis['explained'][j]:.0%})", justify="right")
    for i, b in enumerate(basis["benchmarks"]):
        table.add_row(escape(b), *(f"{row[i]:+.3f}" for row in basis["loadings"]))
    out.print(table)
    _print_fit(doc["fit"])
    if "forecasts" in doc:
        table = Table(title=escape(f"forecasts of {y}"), title_justify="left")
        for col in ["model" if label else "row", y, "observed", "error"] + \
                ([f"{_percent(level)} interval"] if bootstrap else []):
            table.add_column(col, justify="right")
        for f in doc["forecasts"]:
            if f["y"] is None:
                table.add_row(escape(str(f.get("label", f["row"]))), f"no forecast: missing {f['missing']}",
                              *(["-"] * (3 if bootstrap else 2)))
                continue
            error = "-" if f["observed"] is None else f"{f['y'] - f['observed']:+.4f}"
            table.add_row(escape(str(f.get("label", f["row"]))), f"{f['y']:.4f}",
                          "-" if f["observed"] is None else f"{f['observed']:.4f}", error,
                          *([f"[{f['lo']:.4f}, {f['hi']:.4f}]"] if bootstrap else []))
        out.print(table)
        if doc["mean_abs_error"] is not None:
            out.print(f"mean absolute error over the models with a score that were not fitted: "
                      f"{doc['mean_abs_error']:.4f}", markup=False)


def _numbers(column):
    """A column as floats, NaN where a cell is not a number."""
    import numpy as np
    import pandas as pd

    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)


@app.command()
@_guard
def mcq(
    data: Path = typer.Argument(..., metavar="FILE", help="one row per (item, choice): the choice's summed "
                                "log-probability and a 0/1 column marking the correct choice"),
    by: Optional[str] = typer.Option(None, "--by", help="one row of metrics per value of this column (a model)"),
    item: str = typer.Option("item", "--item", help="the column naming each item"),
    logprob: str = typer.Option("logprob", "--logprob", help="the column of log-probabilities (<= 0)"),
    correct: str = typer.Option("correct", "--correct", help="the 0/1 column marking the correct choice"),
    out_path: Optional[Path] = typer.Option(None, "--out", help="write the metrics table (CSV) here, to fit"),
    fmt: str = typer.Option("table", "--format", help="table | json"),
):
    """Multiple-choice metrics from log-probabilities: log p and p of the correct choice, its share of the
    choices, Brier score and accuracy, per model."""
    _check_format(fmt)
    from ..data import read_runs
    from ..mcq import METRICS, choice_metrics

    metrics = choice_metrics(read_runs(data, what="FILE").table, item=item, logprob=logprob, correct=correct, by=by)
    if out_path is not None:
        _write_out(out_path, metrics.to_csv(index=False))
    records = json.loads(metrics.to_json(orient="records"))
    if fmt == "json":
        _print_json({"by": by, "metrics": list(METRICS), "groups": records})
        return
    table = Table(title="multiple-choice metrics (means over items)", title_justify="left")
    shown_columns = ([by] if by else []) + ["items", *METRICS]
    for col in shown_columns:
        table.add_column(col, justify="left" if col == by else "right")
    for r in records:
        table.add_row(*(escape(str(r[c])) if c == by else _fmt(r[c]) if isinstance(r[c], float) else str(r[c])
                        for c in shown_columns))
    out.print(table)
    out.print("logp_correct, p_vocab_correct: the correct choice's log-probability and probability under the "
              "vocabulary; p_choice_correct: its share of the offered choices; brier: sum over choices of "
              "(1[correct] - share)^2; accuracy: the correct choice has the largest share (ties share the credit). "
              "Fit each against scale on its own: the earlier in this list, the more predictable (Schaeffer et al. "
              "2024)", markup=False)


@app.command()
@_guard
def verify(
    data: Path = typer.Argument(..., metavar="FILE", help="samples per problem, as passk reads them"),
    fp_rate: str = typer.Option(..., "--fp-rate", help="the verifier's false-positive rate: P(accept | wrong), a "
                                "number or the column holding it per problem"),
    k: List[str] = typer.Option(["1,2,5,10,100"], "--k", help="attempts: K[,K...]; the best number is searched "
                                "up to the largest"),
    completeness: float = typer.Option(1.0, "--completeness", help="P(accept | correct)"),
    reward_wrong: float = typer.Option(-1.0, "--reward-wrong", help="the reward of a wrong answer (a correct one "
                                       "earns 1, abstaining 0)"),
    by: Optional[str] = typer.Option(None, "--by", help="one analysis per value of this column (a model)"),
    n: Optional[str] = typer.Option(None, "--n", help="the column of samples per problem"),
    c: Optional[str] = typer.Option(None, "--c", help="the column of correct samples"),
    fmt: str = typer.Option("table", "--format", help="table | json"),
):
    """Resampling until an imperfect verifier accepts: accuracy, wrong answers and reward by attempts, the
    accuracy ceiling no compute lifts, and the best number of attempts (Stroebl et al. 2024)."""
    _check_format(fmt)
    import numpy as np

    from ..data import read_runs
    from ..passk import check_k, pass_at_k, problem_counts
    from ..testtime import resampling

    ks = check_k([_number("--k", part) for item in k for part in item.split(",") if part.strip()])
    table = read_runs(data, what="FILE").table
    counts, note = problem_counts(table, n=n, c=c, by=by)
    try:
        fp = float(fp_rate)
    except ValueError:
        if fp_rate not in table.columns:
            _usage("--fp-rate", f"must be a number or a column ({', '.join(map(str, table.columns))})", fp_rate)
        if not note.startswith("counts"):  # a table of samples is counted per problem, re-ordered
            _usage("--fp-rate", "can name a column only in a table of counts (one row per problem)", fp_rate)
        fp = _numbers(table[fp_rate])
        bad = np.flatnonzero(~((fp >= 0) & (fp <= 1)))
        if bad.size:
            _usage("--fp-rate", f"column `{fp_rate}` must hold probabilities in [0, 1]",
                   f"row {bad[0] + 1} has {table[fp_rate].iloc[bad[0]]!r}")
    fp = np.broadcast_to(np.asarray(fp, dtype=np.float64), (len(counts),))
    groups = []
    for g, part in counts.groupby("group", sort=True, dropna=False):
        r = pass_at_k(part["n"].to_numpy(), part["c"].to_numpy(), [1])[:, 0]  # c / n: each problem's pass rate
        one = resampling(r, fp[part.index.to_numpy()], ks.astype(int), completeness=completeness,
                         v_fp=reward_wrong)
        groups.append((None if by is None else (_plain(g)), one))
    if fmt == "json":
        _print_json(groups[0][1] | {"note": note} if by is None else
                    {"by": by, "groups": [{"group": g, **one} for g, one in groups], "note": note})
        return
    for g, one in groups:
        t = Table(title=escape("resampling until the verifier accepts" + ("" if g is None else f"   [{by}={g}]")),
                  title_justify="left")
        for col in ("attempts", "accuracy", "wrong", "abstain", "reward"):
            t.add_column(col, justify="right")
        for i, kk in enumerate(one["k"]):
            t.add_row(str(kk), *(f"{one[m][i]:.4g}" for m in ("accuracy", "wrong", "abstain", "reward")))
        out.print(t)
        out.print(f"ceiling (unlimited attempts): accuracy {one['ceiling']:.4g}; best number of attempts for a wrong "
                  f"answer worth {reward_wrong:g}: {one['best_k']} (reward {one['best_reward']:.4g}"
                  + (", searched up to the largest --k" if one["best_k"] == one["searched_up_to"] else "")
                  + ("; 0 means abstain" if one["best_k"] == 0 else "") + ")", markup=False)
    out.print(f"note: {note}; each problem's pass rate is c / n", markup=False)


@app.command()
@_guard
def passk(
    data: Path = typer.Argument(..., metavar="FILE", help="samples per problem: columns n and c (counts), or a "
                                "problem column and a 0/1 correct column (one row per sample)"),
    k: List[str] = typer.Option(..., "--k", help="numbers of samples: K[,K...] (repeatable)"),
    by: Optional[str] = typer.Option(None, "--by", help="one coverage curve per value of this column (a model)"),
    n: Optional[str] = typer.Option(None, "--n", help="the column of samples per problem (default: n, n_samples)"),
    c: Optional[str] = typer.Option(None, "--c", help="the column of correct samples (default: c, n_correct)"),
    correct: Optional[str] = typer.Option(None, "--correct", help="one row per sample: the 0/1 column"),
    problem: Optional[str] = typer.Option(None, "--problem", help="one row per sample: the problem column"),
    stopped_at: Optional[int] = typer.Option(None, "--stopped-at", help="sampling of each problem stopped at its "
                                             "R-th correct sample (PassUntil, best-of-N): the unbiased estimate for "
                                             "that rule"),
    fit_law: bool = typer.Option(False, "--fit", help="fit Brown et al.'s coverage law exp(a k^b) on k up to the "
                                 "largest --k and forecast larger k"),
    forecast: List[str] = typer.Option([], "--forecast", help="with --fit: K[,K...] to forecast (default: 10 and 100 "
                                       "times the largest --k)"),
    bootstrap: Optional[int] = typer.Option(None, "--bootstrap", help="with --fit: bootstrap replicates behind the "
                                            "interval (default 200; 0: none)"),
    level: Optional[float] = typer.Option(None, "--level", help="with --fit: the level of the forecast's interval "
                                          "(default 0.9)"),
    fmt: str = typer.Option("table", "--format", help="table | json"),
):
    """pass@k: the unbiased chance that one of k samples is correct, averaged over problems."""
    _check_format(fmt)
    from ..data import read_runs
    from ..errors import FitError, ScalingLawsError
    from ..passk import check_k, coverage, fit_coverage, left_out_warning, mark_stopped, problem_counts

    ks = check_k([_number("--k", part) for item in k for part in item.split(",") if part.strip()])
    if not fit_law:
        _only_with("--fit", {"--forecast": forecast or None, "--bootstrap": bootstrap, "--level": level})
    if fit_law:
        from ..uncertainty import check_options

        bootstrap, level = 200 if bootstrap is None else bootstrap, 0.9 if level is None else level
        check_options(bootstrap, "rows", None, level)
        ahead = check_k([_number("--forecast", part) for item in forecast for part in item.split(",") if part.strip()]
                        if forecast else [10 * ks.max(), 100 * ks.max()], "--forecast")
    table = read_runs(data, what="FILE").table
    counts, note = problem_counts(table, n=n, c=c, correct=correct, problem=problem, by=by)
    if stopped_at is not None:
        counts = mark_stopped(counts, stopped_at)
        note += (f"; sampling stopped once {stopped_at} correct sample(s) were drawn ({int(counts['stopped'].sum())} "
                 "problems): their pass@k is estimated without that last sample (unbiased for the rule; 1 where k >= n)")

    def curve(label, part):
        one = coverage(part, ks)
        one["warnings"] = [w for w in [left_out_warning(one, stopped_at is not None)] if w]
        if fit_law:
            with _progress("fitting the coverage law" + (" with a bootstrap" if bootstrap else "")):
                try:
                    one["fit"] = fit_coverage(part, int(ks.max()), ahead, bootstrap=bootstrap, level=level)
                except ScalingLawsError as exc:  # one curve that cannot be fitted does not stop the others
                    if by is None:
                        raise
                    one["fit"] = {"error": str(exc)}
        return one

    if by is None:
        groups = [(None, curve(None, counts))]
        doc = {**groups[0][1], "note": note}
    else:
        groups = [(g, curve(g, part)) for g, part in counts.groupby("group", sort=True)]
        failed = [g for g, one in groups if "error" in one.get("fit", {})]
        if fit_law and len(failed) == len(groups):
            raise FitError(f"--fit: no `{by}` group could be fitted (the first, {failed[0]!r}: "
                                   f"{groups[0][1]['fit']['error']})")
        doc = {"by": by, "groups": [{"group": _plain(g), **one}
                                    for g, one in groups], "note": note}
    if fmt == "json":
        _print_json(doc)
        return
    for g, one in groups:
        table_out = Table(title=escape("pass@k" + ("" if g is None else f"   [{by}={g}]")), title_justify="left")
        for col in ("k", "pass@k", "problems", "left out (fewer than k samples)"):
            table_out.add_column(col, justify="right")
        for i, kk in enumerate(one["k"]):
            value = one["pass_at_k"][i]
            table_out.add_row(str(kk), "-" if value is None else f"{value:.6g}", str(one["problems"][i]),
                              str(one["left_out"][i]))
        out.print(table_out)
        for warning in one["warnings"]:
            out.print(f"warning: {warning}", markup=False)
        if "error" in one.get("fit", {}):
            out.print(f"not fitted: {one['fit']['error']}", markup=False)
        elif "fit" in one:
            _print_coverage_fit(one["fit"])
    out.print(f"note: {note}; the unbiased estimator 1 - C(n-c, k) / C(n, k) of each problem with at least k "
              "samples, averaged", markup=False)


def _print_coverage_fit(f: dict) -> None:
    params = ", ".join(f"{k} = {_fmt(v)}" for k, v in f["params"].items())
    out.print(f"{f['law']} fitted on k = 1..{f['fitted_k'][1]} over the {f['problems']} problems with that many "
              f"samples ({f['left_out']} left out): {params} [{f['status']}]", markup=False)
    for warning in f["warnings"]:
        out.print(f"warning: {warning}", markup=False)
    fc = f["forecast"]
    interval = "lo" in fc
    table = Table(title="forecast", title_justify="left")
    columns = ["k", "pass@k"] + ([f"{_percent(fc['level'])} interval", "decades beyond"] if interval else [])
    for col in columns + ["observed (same problems)"]:
        table.add_column(col, justify="right")
    for i, kk in enumerate(fc["k"]):
        cells = [str(kk), f"{fc['pass_at_k'][i]:.4g}"]
        if interval:
            cells += [f"[{fc['lo'][i]:.4g}, {fc['hi'][i]:.4g}]", f"{fc['decades'][i]:.2g}"]
        observed = fc["observed"][i]
        table.add_row(*cells, "-" if observed is None else f"{observed:.4g}")
    out.print(table)


@app.command()
@_guard
def laws(
    name: Optional[str] = typer.Argument(None, help="one law to describe"),
    fmt: str = typer.Option("table", "--format", help="table | json"),
):
    """List the registered laws (or describe one)."""
    _check_format(fmt)
    from ..laws import FAMILIES, get_law, list_laws

    docs = [get_law(name).describe()] if name else [law.describe() for law in list_laws()]
    if fmt == "json":
        _print_json(docs if name is None else docs[0])
        return
    if name is None:  # every law, by family, with the inputs each needs
        for family in (f for f in FAMILIES if any(d["family"] == f for d in docs)):
            table = Table(title=f"{family} laws", title_justify="left", show_lines=True)
            for col in ("name", "equation", "inputs", "predicts", "auto"):
                table.add_column(col)
            for d in (d for d in docs if d["family"] == family):
                table.add_row(*map(escape, (d["name"], d["equation"], ", ".join(d["inputs"]), d["output"],
                                            "yes" if d["auto"] else "")))
            out.print(table)
        out.print("Map a column to an input with --x INPUT=COLUMN; `scalinglaws laws NAME` describes one law; "
                  "auto: offered by --law auto when the table has its inputs.", markup=False)
        return
    table = Table(title="scaling law", title_justify="left", show_lines=True)
    for col in ("name", "family", "equation", "inputs", "params", "reference"):
        table.add_column(col)
    for d in docs:
        params = ", ".join(p["name"] + (" (linear)" if p["linear"] else "") for p in d["params"])
        table.add_row(*map(escape, (d["name"], d["family"], d["equation"], ", ".join(d["inputs"]), params,
                                    d["reference"])))
    out.print(table)
    # one law: each parameter's bounds and meaning
    table = Table(title=escape(f"parameters of {docs[0]['name']}"), title_justify="left")
    for col in ("param", "bounds", "linear", "description"):
        table.add_column(col)
    for p in docs[0]["params"]:
        table.add_row(*map(escape, (p["name"], f"[{p['bounds'][0]}, {p['bounds'][1]}]", "yes" if p["linear"] else "",
                                    p["description"])))
    out.print(table)


@app.command()
@_guard
def datasets(
    name: Optional[str] = typer.Argument(None, help="one dataset: print its provenance"),
    fmt: str = typer.Option("table", "--format", help="table | json"),
):
    """List the bundled datasets (or show one's provenance)."""
    _check_format(fmt)
    from ..data import DATASETS, get_dataset, load_dataset

    if name is not None:
        d = get_dataset(name)
        runs = load_dataset(name)
        if fmt == "json":
            _print_json({**d.describe(), "rows": len(runs), "columns": runs.columns, "provenance": d.provenance()})
        else:
            out.print(d.provenance(), markup=False)
        return
    docs = [{**d.describe(), "rows": len(load_dataset(d.name))} for d in DATASETS.values()]
    if fmt == "json":
        _print_json(docs)
        return
    table = Table(title="bundled datasets", title_justify="left")
    for col in ("name", "rows", "description"):
        table.add_column(col)
    for d in docs:
        table.add_row(d["name"], str(d["rows"]), d["description"])
    out.print(table)


def _click_exceptions():
    try:  # typer >= 0.16 vendors click
        from typer._click import exceptions
    except ImportError:  # pragma: no cover - older typer depends on click
        from click import exceptions
    return exceptions


def run(argv: List[str] | None = None) -> int:
    """Run one command line (default ``sys.argv[1:]``) and return its exit code.

    Every failure the user can act on is one line on stderr: the package's errors (exit 1, see
    `_guard`) and usage errors (exit 2: a missing option, a value of the wrong type). A bug still
    raises, with its traceback.
    """
    exceptions = _click_exceptions()
    enable_compilation_cache()  # the command line owns its process: programs are kept between commands
    # a cache entry JAX cannot read or write is compiled anew: a cost, not the user's error to read about
    warnings.filterwarnings("ignore", message=r"Error (reading|writing) persistent compilation cache entry")
    try:
        code = typer.main.get_command(app).main(args=argv, prog_name="scalinglaws", standalone_mode=False)
    except exceptions.UsageError as exc:
        where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
        err.print(f"error: {_one_line(exc.format_message())}{where}", markup=False)
        return 2
    except exceptions.ClickException as exc:
        err.print(f"error: {_one_line(exc.format_message())}", markup=False)
        return exc.exit_code
    except (typer.Abort, getattr(exceptions, "Abort", typer.Abort)):
        err.print("error: aborted", markup=False)
        return 1
    return code if isinstance(code, int) else 0


def main() -> None:
    """The console script. Once the command has run and its output is flushed, the process leaves
    at once: the interpreter's teardown of JAX, XLA and pandas would add ~0.3 s to every command."""
    code = run()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

