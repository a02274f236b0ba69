"""The groups of one table as problems of one law, checked once and solved together.

`prepare_groups` validates the whole table once (columns, values, condition), then cuts it into
one `Problem` per group: each group is checked for what only it can fail (too few runs, runs that
cannot identify the law) and refused alone. Each problem is the one `prepare` makes of that
group's rows as a table of its own (rows numbered within the group, as there), so
`api.solve_each` solves them all in one batched computation with results equal to fitting the
groups one by one.

A table refused as a whole (a bad value in one group, an empty cell with ``dropna``, derived
schedule inputs) gives None: the caller then prepares the groups one at a time,
and each refusal names its group.
"""

from __future__ import annotations

from typing import Hashable, Mapping

import numpy as np
import pandas as pd

from .._jax import float64
from ..data import Runs, design
from ..data.runs import Design, duplicates_note, too_few_runs
from ..data.schedules import AREAS
from ..errors import InputError
from ..laws import Law
from .api import Problem, _weights, check_positive_weights, mapped_columns, problem_of, problem_spec


@float64
def prepare_groups(law: str | Law, runs, labels: np.ndarray, *, x: Mapping[str, str] | None = None,
                   y: str | None = None, where: str | None = None, include_excluded: bool = False,
                   fix: Mapping[str, float] | None = None, loss: str = "huber", delta: float | None = None,
                   weights: str | None = None, dropna: bool = False) -> dict[Hashable, Problem | InputError] | None:
    """One problem (or the `InputError` refusing it) per group that ``where`` leaves rows in, in
    the order of sorted labels; ``labels``: each row's group. None: the table is refused as a whole
    (prepare the groups one at a time to learn which)."""
    spec, fixed, delta = problem_spec(law, loss, delta, fix)
    runs = Runs.coerce(runs)
    if set(AREAS) & set(spec.law.inputs):
        return None
    try:
        dm = design(runs, spec.law, x=x, y=y, where=where, include_excluded=include_excluded, n_free=0)
        w = _weights(runs, dm, weights, 0)
    except InputError:
        return None
    mapped = mapped_columns(dm, x, y)
    n_free = len(spec.free)
    codes, names = pd.factorize(pd.Series(labels), sort=True)
    excluded = np.zeros(len(codes), dtype=bool)
    if runs.excluded and not include_excluded:  # checked by `design` above
        excluded = runs.table[list(runs.excluded)].astype(bool).to_numpy().any(axis=1)
    n_excluded = np.bincount(codes[excluded], minlength=len(names))
    columns = list(dm.columns.values()) + [dm.y_column]
    repeated = runs.table.iloc[dm.rows][columns].assign(_group=codes[dm.rows]).duplicated(keep="first").to_numpy()
    group_of_row = codes[dm.rows]
    order = np.argsort(group_of_row, kind="stable")
    bounds = np.searchsorted(group_of_row[order], np.arange(len(names) + 1))
    positions = _positions_within(codes)
    out = {}
    for g, name in enumerate(names):
        sel = order[bounds[g]:bounds[g + 1]]
        if not sel.size:
            continue
        label = name.item() if hasattr(name, "item") else name
        rows = positions[dm.rows[sel]]
        try:
            if sel.size <= n_free:
                raise too_few_runs(spec.law.name, n_free, sel.size)
            if weights is not None:
                check_positive_weights(weights, w[sel], n_free)
            group = Design({k: v[sel] for k, v in dm.x.items()}, dm.y[sel], rows, dm.columns, dm.y_column,
                           int(n_excluded[g]), duplicates_note(rows, repeated[sel]))
            out[label] = problem_of(spec, group, w[sel], fixed, delta, mapped)
        except InputError as exc:
            out[label] = exc
    return out


def _positions_within(codes: np.ndarray) -> np.ndarray:
    """Each row's position (0-based) among the rows of its own group, in table order."""
    order = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[order], codes[order])
    out = np.empty(codes.size, dtype=int)
    out[order] = np.arange(codes.size) - starts
    return out


__all__ = ["prepare_groups"]
