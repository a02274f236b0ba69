"""Read run tables from CSV, Parquet and JSON Lines files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import InputError
from .runs import Runs

_READERS = {
    ".csv": pd.read_csv,
    ".parquet": pd.read_parquet,
    ".pq": pd.read_parquet,
    ".jsonl": lambda p: pd.read_json(p, lines=True),
    ".ndjson": lambda p: pd.read_json(p, lines=True),
}

SUFFIXES = tuple(_READERS)  # the file extensions `read_runs` reads


def read_runs(path: str | Path, *, excluded: str | None = None, y: str | None = None, what: str = "DATA") -> Runs:
    """Read a table of runs; the format follows the extension (.csv, .parquet/.pq, .jsonl/.ndjson),
    or is a tool's own (`ingest`): a folder of TensorBoard event files or of lm-evaluation-harness
    results, an lm-evaluation-harness ``.json`` file; a CSV exported from a W&B chart (``Step`` and
    ``<run> - <metric>`` columns) is turned into rows of ``run, step, <metric>``. ``what`` names the
    argument in errors."""
    from . import ingest

    path = Path(path)
    if path.is_dir() or path.suffix.lower() == ".json":
        if ingest.is_tensorboard(path):
            return ingest.read_tensorboard(path)
        if ingest.is_lm_eval(path):
            return ingest.read_lm_eval(path)
        raise InputError(f"{what} `{path}` is a folder or JSON file but neither TensorBoard event files nor "
                         "lm-evaluation-harness results")
    if not path.is_file():
        raise InputError(f"{what} `{path}` is not a file")
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise InputError(f"{what} `{path}` has extension `{path.suffix}`; supported: {', '.join(_READERS)}")
    try:
        table = reader(path)
    except Exception as exc:  # the parsers raise many kinds
        raise InputError(f"{what} `{path}` could not be read as {path.suffix[1:]}: {exc}") from None
    if table.empty:
        raise InputError(f"{what} `{path}` has no rows")
    if path.suffix.lower() == ".csv":
        return ingest.table_runs(table, str(path), excluded=excluded, y=y)
    return Runs(table, source=str(path), excluded=excluded, y=y)
