"""`Runs`: the one canonical table of runs, and `design`, which turns it into a law's inputs.

Validation happens here, once: every error names the column, the rule and the offending value.
Nothing the user gave is changed: selections are views recorded by row position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Mapping

import numpy as np
import pandas as pd

from ..errors import InputError, MissingColumnError, shown
from .conditions import evaluate_condition

#: column names recognised without a mapping, per law input (first match wins; case-insensitive)
COMMON_NAMES: dict[str, tuple[str, ...]] = {
    "N": ("N", "params", "n_params", "N_params", "parameters", "model_size"),
    "D": ("D", "tokens", "n_tokens", "D_tokens", "data"),
    "C": ("C", "flops", "compute", "C_flops"),
    "step": ("step", "steps", "iteration"),
    "k": ("k", "samples", "n_samples"),
    "x": ("x",),
    "U": ("U", "unique_tokens", "U_unique_tokens"),
}
TARGET_NAMES = ("loss", "L", "y", "error", "err")


@dataclass(frozen=True)
class Runs:
    """A table of runs, one row per measurement.

    Args:
        table: the runs (kept as given; never modified).
        source: where they came from (a path or a bundled dataset name).
        excluded: the boolean column(s) that keep rows out of fits by default: a name, several, or
            None for the columns found by name (``excluded``, and boolean ``excluded_*`` columns
            such as ``excluded_outlier``); a row is left out when any of them is true.
        y: the default target column, if the source declares one.
        derived: what the package computed and added to the table (a note per addition, with the
            columns it was computed from), set by `with_derived_inputs`.
    """

    table: pd.DataFrame = field(repr=False)
    source: str = "<table>"
    excluded: str | tuple[str, ...] | None = None
    y: str | None = None
    derived: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def with_table(self, table: pd.DataFrame) -> "Runs":
        """The same runs' description over another table (a subset, or with columns added)."""
        return replace(self, table=table)

    def __post_init__(self):
        if not isinstance(self.table, pd.DataFrame):
            raise InputError(f"runs must be a pandas DataFrame; got {type(self.table).__name__}")
        if self.excluded is None:
            found = tuple(str(c) for c in self.table.columns if str(c).lower() == "excluded" or (
                re.match(r"excluded[_\-]", str(c).lower()) and _is_boolean(self.table[c])))
            object.__setattr__(self, "excluded", found or None)
        elif isinstance(self.excluded, str):
            object.__setattr__(self, "excluded", (self.excluded,))
        for column in self.excluded or ():
            _check_boolean(self.table, column)

    @classmethod
    def coerce(cls, runs) -> "Runs":
        """A `Runs` from a `Runs`, a DataFrame or a mapping of columns."""
        if isinstance(runs, Runs):
            return runs
        if isinstance(runs, pd.DataFrame):
            return cls(runs)
        if isinstance(runs, Mapping):
            return cls(pd.DataFrame(dict(runs)))
        raise InputError(f"runs must be a Runs, a DataFrame or a mapping of columns; got {type(runs).__name__}")

    def __len__(self) -> int:
        return len(self.table)

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.table.columns]


@dataclass(frozen=True)
class Design:
    """The selected rows of a run table as the inputs and target of one law."""

    x: dict[str, np.ndarray]
    y: np.ndarray
    rows: np.ndarray  # positions (0-based) of the selected rows in the original table
    columns: dict[str, str]  # law input -> column
    y_column: str
    n_excluded: int
    notes: tuple[str, ...]


def _is_boolean(values: pd.Series) -> bool:
    return bool(np.all([isinstance(v, (bool, np.bool_)) or v in (0, 1) for v in values]))


def _check_boolean(table: pd.DataFrame, column: str) -> None:
    if column not in table.columns:
        raise InputError(f"excluded column `{column}` not found; columns are {', '.join(map(str, table.columns))}")
    values = table[column]
    ok = np.array([isinstance(v, (bool, np.bool_)) or v in (0, 1) for v in values], dtype=bool)
    if not ok.all():
        bad = int(np.argmin(ok))
        raise InputError(f"column `{column}` must be boolean (true/false or 0/1); row {bad + 1} has "
                         f"{shown(values.iloc[bad])}")


def find_column(columns: list[str], name: str, candidates: tuple[str, ...]) -> str | None:
    for cand in candidates:
        if cand in columns:
            return cand
    lower = {c.lower(): c for c in columns}
    for cand in candidates:
        if len(cand) > 1 and cand.lower() in lower:  # one letter keeps its case: n is not N, b is not B
            return lower[cand.lower()]
    return None


def resolve_columns(runs: Runs, inputs: tuple[str, ...], x: Mapping[str, str] | None, law_name: str) -> dict[str, str]:
    """Law input -> column, from the explicit mapping or the recognised common names."""
    x = dict(x or {})
    unknown = set(x) - set(inputs)
    if unknown:
        name = sorted(unknown)[0]
        raise InputError(f"--x names `{name}`, which is not an input of law {law_name} (inputs: {', '.join(inputs)})")
    mapping = {}
    for name in inputs:
        column = x.get(name) or find_column(runs.columns, name, COMMON_NAMES.get(name, (name,)))
        if column is None or column not in runs.columns:
            missing = column or name
            derive = (" or give each run's `step` and `lr` (or a named `lr_schedule`) columns, from which the areas "
                      "of its learning-rate schedule are computed") if name in ("S1", "S2") and not x.get(name) else ""
            raise MissingColumnError(
                f"column `{missing}` not found for input {name} of law {law_name} (map one with --x {name}=COLUMN"
                f"{derive}); columns are {', '.join(runs.columns)}"
            )
        mapping[name] = column
    return mapping


def with_derived_inputs(runs: Runs, inputs: tuple[str, ...], x: Mapping[str, str] | None, *,
                        from_rates: bool = True) -> Runs:
    """``runs``, or a copy with the inputs it lacks that can be computed from its columns: the
    areas ``S1``, ``S2`` of each run's learning-rate schedule (`schedules`) from ``step`` and ``lr``
    (or a named ``lr_schedule``). The user's table is not changed. ``from_rates=False`` (points to
    predict at, which need not hold every logged step of their runs) takes named schedules only."""
    from .schedules import AREAS, describe_runs, with_areas

    x = dict(x or {})
    if not set(AREAS) <= set(inputs) or any(name in x or find_column(runs.columns, name, (name,)) for name in AREAS):
        return runs
    step, lr, spec = schedule_columns(runs)
    if step is None or (lr is None and spec is None):
        return runs  # resolve_columns says what is missing
    if not from_rates and spec is None:
        raise InputError("prediction points need the areas S1 and S2 of their schedule: give them as columns, or "
                         "each run's named schedule in an `lr_schedule` column (an `lr` column at a few steps does "
                         "not say what the rate was at the steps between and before them)")
    table = with_areas(runs.table, step=step, lr=None if not from_rates else lr,
                       spec=spec if not from_rates or lr is None else None)
    sources = tuple(c for c in (step, lr, spec) if c is not None)
    return replace(runs, table=table, derived=runs.derived + ((describe_runs(runs.table, step=step, lr=lr), sources),))


def with_areas_for(runs: Runs, laws, x: Mapping[str, str] | None) -> Runs:
    """``runs`` with the areas of each run's schedule computed once, before any fit, fold or
    ``--where`` sets rows aside, when one of ``laws`` (input tuples; None for ``--law auto``, whose
    candidates may or may not read them) reads them. Only a law that needs them makes a table
    whose areas cannot be computed an error."""
    from .schedules import AREAS

    if not any(inputs is None or set(AREAS) <= set(inputs) for inputs in laws):
        return runs
    try:
        return with_derived_inputs(runs, AREAS, x)
    except InputError:
        if all(inputs is not None for inputs in laws):
            raise
        return runs


def schedule_columns(runs: Runs) -> tuple[str | None, str | None, str | None]:
    """The columns a schedule's areas are computed from: step, learning rate, named schedule."""
    return (find_column(runs.columns, "step", COMMON_NAMES["step"]), find_column(runs.columns, "lr", ("lr", "learning_rate")),
            find_column(runs.columns, "lr_schedule", ("lr_schedule",)))


def resolve_target(runs: Runs, y: str | None) -> str:
    column = y or runs.y or find_column(runs.columns, "y", TARGET_NAMES)
    if column is None or column not in runs.columns:
        raise InputError(
            f"target column `{column or 'loss'}` not found (choose one with --y COLUMN); columns are {', '.join(runs.columns)}"
        )
    return column


def numeric_column(table: pd.DataFrame, column: str, rows: np.ndarray, *, positive: str | None = None) -> np.ndarray:
    """Float64 values of ``column`` at ``rows``; errors name the column, the rule and the first bad row."""
    raw = table[column].to_numpy()[rows]
    if table[column].dtype.kind in "mMb" and rows.size:  # dates, durations and true/false are not numbers
        raise InputError(f"column `{column}` must be numeric; row {rows[0] + 1} has {raw[0]!r}")
    values = pd.to_numeric(pd.Series(raw), errors="coerce").to_numpy(dtype=np.float64)
    empty = pd.isna(pd.Series(raw)).to_numpy()
    if empty.any():
        raise InputError(f"column `{column}` must be finite; row {rows[int(np.argmax(empty))] + 1} is empty "
                         "(--dropna leaves rows with empty values out)")
    for rule, bad in (
        ("must be numeric", np.isnan(values) & ~pd.isna(pd.Series(raw)).to_numpy()),
        ("must be finite", ~np.isfinite(values)),
        (f"must be positive ({positive})" if positive else None, values <= 0 if positive else None),
    ):
        if rule is not None and bad.any():
            i = int(np.argmax(bad))
            got = raw[i] if rule == "must be numeric" else float(values[i])
            raise InputError(f"column `{column}` {rule}; row {rows[i] + 1} has {got!r}")
    return values


def select_rows(runs: Runs, where: str | None, include_excluded: bool, *, outside: bool = False,
                option: str = "--where") -> tuple[np.ndarray, int]:
    """Positions of rows used for fitting, and how many were left out as excluded. ``outside``:
    the rows where ``where`` is false instead (a backtest's held-out runs); ``option`` names the
    condition in errors."""
    keep = np.ones(len(runs), dtype=bool)
    n_excluded = 0
    if runs.excluded and not include_excluded:
        excluded = runs.table[list(runs.excluded)].astype(bool).to_numpy().any(axis=1)
        n_excluded = int(excluded.sum())
        keep &= ~excluded
    if where:
        mask = evaluate_condition(runs.table, where, option)
        if not (isinstance(mask, pd.Series) and mask.dtype == bool):
            raise InputError(f"{option} `{where}` must be a true/false condition on columns (e.g. \"C < 1e21\")")
        keep &= ~mask.to_numpy() if outside else mask.to_numpy()
    return np.flatnonzero(keep), n_excluded


def design(runs, law, *, x: Mapping[str, str] | None = None, y: str | None = None, where: str | None = None,
           include_excluded: bool = False, n_free: int | None = None, outside: bool = False,
           dropna: bool = False) -> Design:
    """Validate ``runs`` for ``law`` and return the selected inputs and target (``outside``: of the
    rows where ``where`` is false; ``dropna``: leaving out rows with an empty input or target, said
    in the notes, instead of refusing them)."""
    runs = with_derived_inputs(Runs.coerce(runs), law.inputs, x)
    columns = resolve_columns(runs, law.inputs, x, law.name)
    y_column = resolve_target(runs, y)
    derived = tuple(note for note, _ in runs.derived if set(columns.values()) & {"S1", "S2"})
    for _, sources in runs.derived:
        if derived and y_column in sources:
            raise InputError(f"the target column `{y_column}` is the column the schedule areas S1, S2 of law {law.name} "
                             "are computed from: a law cannot be fitted to its own input; name the target with --y")
    rows, n_excluded = select_rows(runs, where, include_excluded, outside=outside)
    dropped = ()
    if dropna:
        empty = runs.table.iloc[rows][list(columns.values()) + [y_column]].isna().any(axis=1).to_numpy()
        if empty.any():
            dropped = (f"{int(empty.sum())} rows with an empty value in "
                       f"{' or '.join(f'`{c}`' for c in [*columns.values(), y_column])}"
                       f" were left out (--dropna): rows {', '.join(str(r + 1) for r in rows[empty][:10])}"
                       + (", ..." if empty.sum() > 10 else ""),)
            rows = rows[~empty]
    need = (n_free if n_free is not None else len(law.params)) + 1
    if not len(rows) and where and not outside:
        raise InputError(f"the condition `{where}` (--where, or --train-where in a backtest) selects no runs")
    if len(rows) < need:
        raise too_few_runs(law.name, need - 1, len(rows))
    xs = {
        name: numeric_column(runs.table, col, rows, positive=f"law {law.name} takes powers of {name}" if name in law.log_inputs else None)
        for name, col in columns.items()
    }
    log_space = getattr(law, "space", "log") == "log"
    for name, column in columns.items():
        if column == y_column:
            raise InputError(f"the target column `{y_column}` is also the column of input {name} of law {law.name}: a "
                             "law cannot be fitted to its own input; name the target with --y COLUMN")
    target = numeric_column(runs.table, y_column, rows, positive=(
        f"law {law.name} is fitted on log values; a bounded metric with zeros fits with a bounded law such as "
        "sigmoid_log") if log_space else None)
    y_range = getattr(law, "y_range", None)
    if y_range is not None:
        outside = np.flatnonzero((target < y_range[0]) | (target > y_range[1]))
        if outside.size:
            raise InputError(f"column `{y_column}` must lie in [{y_range[0]:g}, {y_range[1]:g}] (law {law.name} is for "
                             f"a bounded metric); row {rows[outside[0]] + 1} has {float(target[outside[0]])!r}")
    notes = derived + dropped + _duplicates(runs.table, rows, list(columns.values()) + [y_column])
    return Design(xs, target, rows, columns, y_column, n_excluded, notes)


def too_few_runs(law_name: str, n_free: int, n: int) -> InputError:
    """The refusal of ``n`` selected runs for a law of ``n_free`` free parameters."""
    return InputError(f"law {law_name} has {n_free} free parameters but only {n} {'run was' if n == 1 else 'runs were'} selected; "
                      f"need at least {n_free + 1}")


def _duplicates(table: pd.DataFrame, rows: np.ndarray, cols: list[str]) -> tuple[str, ...]:
    return duplicates_note(rows, table.iloc[rows][cols].duplicated(keep="first").to_numpy())


def duplicates_note(rows: np.ndarray, dup: np.ndarray) -> tuple[str, ...]:
    """The note on ``rows`` (positions) of which ``dup`` marks repeats of an earlier row."""
    if not dup.any():
        return ()
    listed = ", ".join(str(r + 1) for r in rows[dup][:10])
    return (f"{int(dup.sum())} duplicated rows (same inputs and target as an earlier row): rows {listed}; kept in the fit",)
