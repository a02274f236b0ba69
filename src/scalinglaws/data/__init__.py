"""Runs: the canonical table of runs, file readers and bundled datasets. The only place that reads files."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .bundled import DATASETS, Dataset, get_dataset, load_dataset
from .readers import read_runs
from .runs import Design, Runs, design


def load_runs(spec: str | Path, *, excluded: str | None = None) -> Runs:
    """``spec`` is a file path (a tool's folder too, see `read_runs`), ``-`` for a CSV on standard
    input, ``wandb:ENTITY/PROJECT[/history]`` for a W&B project's runs (`wandb_api`), or the name of
    a bundled dataset (a file of that name wins); ``excluded`` names the true/false column marking
    runs to leave out (default: found by name)."""
    from .wandb_api import is_wandb, read_wandb

    if is_wandb(spec):
        return read_wandb(str(spec), excluded=excluded)
    if str(spec) == "-":
        import sys

        from .ingest import read_stdin

        return read_stdin(sys.stdin, excluded=excluded)
    path = Path(spec)
    if path.exists():
        return read_runs(path, excluded=excluded)
    if str(spec) in DATASETS:
        runs = load_dataset(str(spec))
        return runs if excluded is None else Runs(runs.table, source=runs.source, excluded=excluded, y=runs.y)
    raise InputError(f"DATA `{spec}` is neither a file nor a bundled dataset (bundled: {', '.join(sorted(DATASETS))})")


__all__ = ["DATASETS", "Dataset", "Design", "Runs", "design", "get_dataset", "load_dataset", "load_runs", "read_runs"]
