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
    """Read a table of runs; the format follows the extension (.csv, .parquet/.pq, .jsonl/.ndjson).
    ``what`` names the argument in errors."""
    path = Path(path)
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
    return Runs(table, source=str(path), excluded=excluded, y=y)
