"""Runs from where training and evaluation tools leave them: lm-evaluation-harness result files,
TensorBoard event directories, Weights & Biases history exports, and standard input.

Each reader returns a `Runs` whose table keeps what the tool recorded (names as the tool writes
them); which column is a law's input is said with ``--x`` as for any table.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pandas as pd

from ..errors import InputError, MissingExtraError
from .checkpoints import flag_warmup, warmup_note
from .runs import Runs

STEP = re.compile(r"step[_-]?(\d+)", re.IGNORECASE)
EVENTS = "events.out.tfevents"


def read_stdin(stream, *, excluded: str | None = None) -> Runs:
    """A CSV table from standard input (``DATA`` given as ``-``)."""
    text = stream.read()
    if not text.strip():
        raise InputError("DATA `-` (standard input) is empty: pipe a CSV table into the command")
    try:
        table = pd.read_csv(io.StringIO(text))
    except Exception as exc:  # the parser raises many kinds
        raise InputError(f"DATA `-` (standard input) could not be read as CSV: {exc}") from None
    if table.empty:
        raise InputError("DATA `-` (standard input) has no rows")
    return table_runs(table, "<stdin>", excluded=excluded)


# --- lm-evaluation-harness ---------------------------------------------------------------------------

def is_lm_eval(path: Path) -> bool:
    """A results file of lm-evaluation-harness, or a folder holding such files."""
    files = [path] if path.is_file() else sorted(path.rglob("*.json")) if path.is_dir() else []
    return bool(files) and all(f.suffix.lower() == ".json" for f in files) and _results(files[0]) is not None


def _results(file: Path) -> dict | None:
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return doc if isinstance(doc, dict) and isinstance(doc.get("results"), dict) else None


def read_lm_eval(path: str | Path) -> Runs:
    """lm-evaluation-harness results (one JSON file, or a folder of them, searched recursively): one
    row per (file, task, metric) with ``model``, ``revision`` and ``step`` (from the model arguments'
    ``revision=stepN`` or the file name), ``num_fewshot``, ``task``, ``metric``, ``filter`` (harness
    0.4's ``acc,none``), ``value`` (the target) and ``stderr``. Both the 0.3 layout (``acc``,
    ``acc_stderr``) and the 0.4 one (``acc,none``, ``n-shot``, ``model_name``) are read."""
    path = Path(path)
    files = [path] if path.is_file() else sorted(path.rglob("*.json"))
    if not files:
        raise InputError(f"DATA `{path}` holds no lm-evaluation-harness result files (*.json)")
    rows = []
    for file in files:
        doc = _results(file)
        if doc is None:
            raise InputError(f"DATA `{file}` is not an lm-evaluation-harness result file: it needs a `results` "
                             "object of tasks and their metrics")
        rows += _rows(file, doc, path)
    if not rows:
        raise InputError(f"DATA `{path}`: the result files hold no numeric metric")
    table = pd.DataFrame(rows)
    return Runs(table, source=str(path), y="value")


def _rows(file: Path, doc: dict, root: Path) -> list[dict]:
    config = doc.get("config") if isinstance(doc.get("config"), dict) else {}
    args = _model_args(config.get("model_args"))
    model = args.get("pretrained") or doc.get("model_name") or config.get("model") or file.stem
    revision = args.get("revision")
    found = STEP.search(str(revision or "")) or STEP.search(file.stem)
    shots = doc.get("n-shot") if isinstance(doc.get("n-shot"), dict) else {}
    rows = []
    for task, metrics in doc["results"].items():
        if not isinstance(metrics, dict):
            continue
        for key, value in metrics.items():
            name, _, filt = str(key).partition(",")
            if name.endswith("_stderr") or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            stderr = metrics.get(f"{name}_stderr" + (f",{filt}" if filt else ""))
            rows.append({"file": str(file.relative_to(root)) if file != root else file.name, "model": str(model),
                         "revision": revision, "step": int(found.group(1)) if found else None,
                         "num_fewshot": shots.get(task, config.get("num_fewshot")), "task": str(task),
                         "metric": name, "filter": filt or None, "value": float(value),
                         "stderr": float(stderr) if isinstance(stderr, (int, float)) and not isinstance(stderr, bool)
                         else None})
    return rows


def _model_args(text) -> dict[str, str]:
    """``"pretrained=EleutherAI/pythia-160m,revision=step1000"`` -> dict (a dict passes through)."""
    if isinstance(text, dict):
        return {str(k): str(v) for k, v in text.items()}
    out = {}
    for part in str(text or "").split(","):
        key, sep, value = part.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


# --- TensorBoard --------------------------------------------------------------------------------------

def is_tensorboard(path: Path) -> bool:
    return path.is_dir() and any(path.rglob(f"{EVENTS}*"))


def read_tensorboard(path: str | Path) -> Runs:
    """A TensorBoard log folder: every folder holding event files is one run (named by its path under
    ``path``); one row per (run, step) with ``run``, ``step`` and a column per scalar tag, and the
    run's hyper-parameters (the hparams plugin's session start) as columns of every row of it. The
    warm-up checkpoints are flagged (`checkpoints.flag_warmup`).
    Needs the ``tensorboard`` package (the ``tensorboard`` extra)."""
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        raise MissingExtraError("reading TensorBoard event files needs the tensorboard package: "
                          "pip install 'scalinglaws[tensorboard]'") from None
    path = Path(path)
    folders = sorted({f.parent for f in path.rglob(f"{EVENTS}*")})
    frames = []
    for folder in folders:
        events = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
        events.Reload()
        series = {tag: pd.Series({e.step: e.value for e in events.Scalars(tag)}, dtype="float64")
                  for tag in events.Tags().get("scalars", [])}
        if not series:
            continue
        frame = pd.DataFrame(series).rename_axis("step").reset_index()
        run = str(folder.relative_to(path)) if folder != path else path.name
        frame.insert(0, "run", run)
        for name, value in _hparams(events).items():
            if name in frame.columns:
                raise InputError(f"DATA `{path}`: run `{run}` has a hyper-parameter and a scalar both named `{name}`")
            frame[name] = value
        frames.append(frame)
    if not frames:
        raise InputError(f"DATA `{path}` holds TensorBoard event files but no scalars")
    table = flag_warmup(pd.concat(frames, ignore_index=True))
    return Runs(table, source=f"{path} (TensorBoard: {len(frames)} runs; {warmup_note(table)})")


def _hparams(events) -> dict:
    """The hyper-parameters a run logged with TensorBoard's hparams plugin (empty when none)."""
    try:
        from tensorboard.plugins.hparams import plugin_data_pb2
    except ImportError:  # pragma: no cover - part of the tensorboard package
        return {}
    out = {}
    for content in events.PluginTagToContent("hparams").values():
        data = plugin_data_pb2.HParamsPluginData.FromString(content)
        if data.HasField("session_start_info"):
            for name, value in data.session_start_info.hparams.items():
                kind = value.WhichOneof("kind")
                out[name] = getattr(value, kind) if kind else None
    return out


# --- Weights & Biases -----------------------------------------------------------------------------------

def table_runs(table: pd.DataFrame, source: str, *, excluded: str | None = None, y: str | None = None) -> Runs:
    """A CSV's table as runs: a W&B chart export reshaped (`wandb_history`), any other as it is."""
    history = wandb_history(table)
    if history is None:
        return Runs(table, source=source, excluded=excluded, y=y)
    return Runs(history, source=f"{source} (W&B chart export: {history['run'].nunique()} runs; "
                                f"{warmup_note(history)})", excluded=excluded, y=y)


def wandb_history(table: pd.DataFrame) -> pd.DataFrame | None:
    """A W&B chart export (``Step`` and one ``<run> - <metric>`` column per run, with ``__MIN`` and
    ``__MAX`` companions) as long rows ``run, step, <metric>``, warm-up checkpoints flagged
    (`checkpoints.flag_warmup`); None for any other table."""
    columns = [str(c) for c in table.columns]
    if "Step" not in columns or len(columns) < 2:
        return None
    series = [c for c in columns if c != "Step" and not c.endswith(("__MIN", "__MAX"))]
    parts = [c.rsplit(" - ", 1) for c in series]
    if not series or any(len(p) != 2 for p in parts):
        return None
    frames = []
    for run in dict.fromkeys(r for r, _ in parts):
        cols = {c: m for c, (r, m) in zip(series, parts) if r == run}
        frame = table[["Step", *cols]].rename(columns={"Step": "step", **cols})
        frame = frame.dropna(subset=list(cols.values()), how="all")
        frame.insert(0, "run", run)
        frames.append(frame)
    return flag_warmup(pd.concat(frames, ignore_index=True))
