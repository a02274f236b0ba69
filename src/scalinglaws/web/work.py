"""What the web app does, without the web: read a table (a bundled dataset or an upload, read in a
temporary folder and deleted), list the laws its columns allow, and fit one with its forecast, its
plan and its figures. Requests and answers are plain JSON-safe data; errors are the package's own
(`ScalingLawsError`), whose messages the page shows as the CLI would."""

from __future__ import annotations

import math
import secrets
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from ..data import DATASETS, Runs, load_dataset, read_runs
from ..data.readers import SUFFIXES
from ..data.runs import COMMON_NAMES, find_column
from ..errors import InputError, ScalingLawsError
from ..laws import get_law, list_laws

MAX_TABLES = 16  # tables kept in memory (the oldest is forgotten first)
MAX_BOOTSTRAP = 1000
MAX_BUDGETS = 100
MAX_CELLS = 5_000_000  # rows x columns of an upload (a small compressed Parquet file can hold billions)


class Tables:
    """The tables of this server, in memory only, by a random token."""

    def __init__(self, limit: int = MAX_TABLES):
        self._tables: OrderedDict[str, Runs] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def add(self, runs: Runs) -> str:
        token = secrets.token_urlsafe(12)
        with self._lock:
            self._tables[token] = runs
            while len(self._tables) > self._limit:
                self._tables.popitem(last=False)
        return token

    def get(self, token) -> Runs:
        with self._lock:
            runs = self._tables.get(str(token))
        if runs is None:
            raise InputError("the table is no longer loaded (the server keeps the latest 16); load it again")
        return runs


def read_upload(name: str, content: bytes) -> Runs:
    """An uploaded file read as `read_runs` reads a path (the same checks and messages), in a
    temporary folder deleted at once; only the extension of ``name`` is used."""
    suffix = Path(str(name)).suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(f"the uploaded file `{name}` has extension `{suffix}`; supported: {', '.join(SUFFIXES)}")
    with tempfile.TemporaryDirectory(prefix="scalinglaws-upload-") as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(content)
        cells = _cells(path, content)
        if cells > MAX_CELLS:
            raise InputError(f"the uploaded file `{name}` holds about {cells:,} cells (rows x columns); the app reads "
                             f"at most {MAX_CELLS:,}: fit larger tables with the command line")
        try:
            runs = read_runs(path, what="the uploaded file")
        except InputError as exc:
            raise InputError(str(exc).replace(str(path), str(name))) from None
    return Runs(runs.table, source=str(name))


def _cells(path: Path, content: bytes) -> int:
    """Rows x columns of an upload, read before the table is: Parquet's metadata, or the lines of a
    text file times the fields of its first line."""
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        try:
            meta = pq.ParquetFile(path).metadata
        except Exception:  # noqa: BLE001 - not Parquet: read_runs says so in its own words
            return 0
        return int(meta.num_rows) * max(1, int(meta.num_columns))
    first = content.split(b"\n", 1)[0]
    fields = first.count(b",") + 1 if path.suffix.lower() == ".csv" else max(1, first.count(b":"))
    return (content.count(b"\n") + 1) * fields


def describe(token: str, runs: Runs) -> dict:
    """A loaded table: its columns, a preview, and the laws whose inputs it holds (with the columns
    found for them by their common names)."""
    columns = runs.columns
    laws = []
    for law in list_laws():
        if not law.auto:
            continue
        found = {name: find_column(columns, name, COMMON_NAMES.get(name, (name,))) for name in law.inputs}
        laws.append({"name": law.name, "inputs": list(law.inputs), "columns": found, "equation": law.equation,
                     "complete": all(found.values())})
    laws.sort(key=lambda d: (not d["complete"], d["name"]))
    preview = runs.table.head(5).astype(object).where(runs.table.head(5).notna(), None)
    return {"token": token, "source": runs.source, "rows": len(runs.table), "columns": columns, "y": _target(runs),
            "preview": [[_plain(v) for v in row] for row in preview.to_numpy().tolist()], "laws": laws}


def _target(runs: Runs) -> str | None:
    """The column a fit takes as its target by default, else the last numeric column (never text)."""
    from ..data.runs import resolve_target

    try:
        return resolve_target(runs, None)
    except ScalingLawsError:
        import pandas as pd

        numeric = [str(c) for c in runs.table.columns if pd.api.types.is_numeric_dtype(runs.table[c])
                   and not pd.api.types.is_bool_dtype(runs.table[c])]
        return numeric[-1] if numeric else None


def datasets() -> list[dict]:
    return [{"name": d.name, "description": d.description} for d in DATASETS.values()]


def load(request: dict, tables: Tables) -> dict:
    """``{"dataset": name}`` -> the bundled dataset, described (`describe`)."""
    name = request.get("dataset")
    if name not in DATASETS:
        raise InputError(f"dataset must be one of {', '.join(DATASETS)}; got {name!r}")
    runs = load_dataset(name)
    return describe(tables.add(runs), runs)


def fit_request(request: dict, tables: Tables) -> dict:
    """Fit a law to a loaded table: ``{"token", "law", "x": {input: column}, "y", "where", "bootstrap",
    "seed", "level", "at": {input: value}, "compute": [C, ...]}`` -> the fit's summary, the forecast at
    ``at`` (with interval and decades beyond), the plan at ``compute`` and the figures (SVG)."""
    from .. import compute_optimal, fit
    from ..plot import fit_curve, frontier, plan, residuals, svg
    from ..plot._common import new_axes
    from ..report.sections import forecast_at

    runs = tables.get(request.get("token"))
    law = str(request.get("law") or "")
    if law != "auto":
        law = get_law(law, files=False)  # a name or a formula: never a file of this machine
    bootstrap = _whole(request.get("bootstrap", 0), "bootstrap", 0, MAX_BOOTSTRAP)
    level = _number(request.get("level", 0.9), "level")
    x = {str(k): str(v) for k, v in (request.get("x") or {}).items() if v}
    at = {str(k): _number(v, f"target {k}") for k, v in (request.get("at") or {}).items() if v not in (None, "")}
    compute = [_number(c, "compute") for c in request.get("compute") or []]
    if len(compute) > MAX_BUDGETS:
        raise InputError(f"compute may list at most {MAX_BUDGETS} budgets; got {len(compute)}")
    result = fit(law, runs, x=x or None, y=request.get("y") or None, where=request.get("where") or None,
                 bootstrap=bootstrap, rng=_whole(request.get("seed", 0), "seed", 0, 2**31 - 1))
    from ..plot._common import law_label

    answer = {"fit": result.summary(), "figures": {}, "label": law_label(result)}
    answer["fit"].pop("bootstrap", None)
    answer["fit"].pop("calibration", None)
    if at:
        answer["forecast"] = forecast_at(result, at, level)
    figures = {"fit": lambda ax: fit_curve(result, runs, to=at or None, where=request.get("where") or None,
                                           level=level, ax=ax),
               "residuals": lambda ax: residuals(result, runs, where=request.get("where") or None, ax=ax)}
    if compute and {"N", "D"} <= set(result.law.inputs):
        plans = compute_optimal(result, compute, level=level)
        answer["plan"] = plans
        far = max(max(p["decades_beyond"].values()) for p in plans)
        if far > 0:
            answer["plan_warning"] = (f"the plans lie up to {far:.2f} decades beyond the fitted runs: they are "
                                      "extrapolations of the law")
        figures["plan"] = lambda ax: plan(plans, ax=ax)
        figures["frontier"] = lambda ax: frontier(runs, fit=result, N=result.columns["N"], D=result.columns["D"],
                                                  y=result.y_column, where=request.get("where") or None,
                                                  level=level, ax=ax)
    elif compute:
        answer["plan_note"] = f"law {result.law.name} is not a law of N and D: no compute-optimal plan"
    for name, draw in figures.items():
        try:
            ax = new_axes()
            draw(ax)
            answer["figures"][name] = svg(ax)
        except ScalingLawsError as exc:
            answer["figures"][name] = None
            answer.setdefault("figure_notes", {})[name] = str(exc)
    return answer


def _number(v, what: str) -> float:
    try:
        value = float(v)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a number; got {v!r}") from None
    if not math.isfinite(value):
        raise InputError(f"{what} must be finite; got {v!r}")
    return value


def _whole(v, what: str, lo: int, hi: int) -> int:
    value = _number(v, what)
    if value != int(value) or not lo <= value <= hi:
        raise InputError(f"{what} must be a whole number from {lo} to {hi}; got {v!r}")
    return int(value)


def _plain(v):
    if isinstance(v, (np.generic,)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v if isinstance(v, (int, float, str, bool)) or v is None else str(v)
