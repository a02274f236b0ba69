"""pass@k: the chance that at least one of k samples is correct, from n samples with c correct.

The unbiased estimator (Chen et al. 2021, eq. 1) for one problem is

    pass@k = 1 - C(n - c, k) / C(n, k),   k <= n,

and coverage at k is its mean over problems (Brown et al. 2024). The ratio of binomials is computed
as a product of ``min(c, k)`` factors, never as the binomials themselves (which overflow for n in the
thousands):

    C(n - c, k) / C(n, k) = prod_{j < c} (1 - k / (n - j)) = prod_{i < k} (1 - c / (n - i)),

summed in logs with ``log1p`` and returned as ``-expm1`` of the sum, so a pass rate of 1e-7 keeps
its digits. A problem with fewer than k samples has no unbiased estimate at k: it is left out of
that k's mean, and the count left out is reported.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import InputError, shown

#: the column names a table of counts or of samples is read from, unless named
N_NAMES = ("n_samples", "num_samples", "samples", "n")  # exact names: `N` (parameters) and `C` (compute) are not these
C_NAMES = ("n_correct", "num_correct", "correct_count", "c")
CORRECT_NAMES = ("correct", "is_correct", "passed", "success")
PROBLEM_NAMES = ("problem", "problem_id", "Problem Idx", "prompt_idx", "task_id", "question")


#: the most factors the product of one problem may take (beyond: an error, not a wait)
MAX_TERMS = 10**8
_CHUNK = 10**6  # factors summed at once: bounds the memory of one problem


def pass_at_k(n, c, k) -> np.ndarray:
    """The unbiased pass@k of problems with ``n`` samples, ``c`` of them correct, at each ``k``:
    an array of shape ``(problems, len(k))``; NaN where ``k > n``."""
    n = np.atleast_1d(np.asarray(n, dtype=np.float64))
    c = np.atleast_1d(np.asarray(c, dtype=np.float64))
    k = np.atleast_1d(np.asarray(k, dtype=np.float64))
    out = np.empty((n.size, k.size))
    for p, (n_p, c_p) in enumerate(zip(n, c)):
        sure = k > n_p - c_p  # fewer wrong samples than k: every k of them hold a correct one
        # log ratio <= c log(1 - k / n): below -800 the ratio is 0 in float64 and pass@k exactly 1
        if c_p:  # (k <= n - c < n here, where it matters)
            sure = sure | (c_p * np.log1p(-np.minimum(k, n_p - c_p) / n_p) < -800.0)
        open_k = k[~sure]
        log_ratio = np.zeros(open_k.size)
        if c_p and open_k.size:
            over_correct, over_drawn = c_p * open_k.size, open_k.max()
            if min(over_correct, over_drawn) > MAX_TERMS:
                raise InputError(f"pass@k of problem {p + 1} (n = {n_p:.0f}, c = {c_p:.0f}) at k up to "
                                 f"{open_k.max():.0f} needs more than {MAX_TERMS:.0e} factors; ask for fewer or "
                                 "smaller k")
            if over_correct <= over_drawn:  # prod over the c correct samples of (1 - k / (n - j))
                for j0 in range(0, int(c_p), max(1, _CHUNK // open_k.size)):
                    j = np.arange(j0, min(int(c_p), j0 + max(1, _CHUNK // open_k.size)))
                    log_ratio += np.sum(np.log1p(-open_k[:, None] / (n_p - j)[None, :]), axis=1)
            else:  # prod over the k samples drawn of (1 - c / (n - i)), read off a running sum
                order = np.argsort(open_k)
                total, done = 0.0, 0
                for at, kk in zip(order, open_k[order].astype(np.int64)):
                    while done < kk:
                        i = np.arange(done, min(kk, done + _CHUNK))
                        total += float(np.sum(np.log1p(-c_p / (n_p - i))))
                        done = int(i[-1]) + 1
                    log_ratio[at] = total
        row = np.ones(k.size)
        row[~sure] = -np.expm1(log_ratio)
        row[k > n_p] = np.nan
        out[p] = row
    return out


def coverage(counts: pd.DataFrame, k, *, n: str = "n", c: str = "c") -> dict:
    """Mean pass@k over the problems of ``counts`` (one row each, columns ``n`` and ``c``) that have
    at least k samples: ``{"k", "pass_at_k", "problems", "left_out"}`` (lists, one entry per k)."""
    values = pass_at_k(counts[n].to_numpy(), counts[c].to_numpy(), k)
    usable = np.isfinite(values)
    used = usable.sum(axis=0)
    mean = np.where(used > 0, np.nansum(values, axis=0) / np.maximum(used, 1), np.nan)
    return {"k": [int(v) for v in np.atleast_1d(k)], "pass_at_k": [None if not np.isfinite(v) else float(v) for v in mean],
            "problems": [int(u) for u in used], "left_out": [int(len(counts) - u) for u in used]}


def problem_counts(table: pd.DataFrame, *, n: str | None = None, c: str | None = None, correct: str | None = None,
                   problem: str | None = None, by: str | None = None) -> tuple[pd.DataFrame, str]:
    """The table as one row per problem: columns ``n`` and ``c``, and ``group`` (the ``by`` value, or
    None); and a note saying which columns were read. A table of counts (``n``, ``c``) is taken as it
    is, one row per problem (a problem named twice in a group is refused); a table of samples (a 0/1
    ``correct`` column, one row per sample) is counted per ``problem``. Names are matched exactly."""
    columns = ", ".join(map(str, table.columns))
    for option, col in (("--by", by), ("--n", n), ("--c", c), ("--correct", correct), ("--problem", problem)):
        if col is not None and col not in table.columns:
            raise InputError(f"{option} column `{col}` not found; columns are {columns}")
    samples = correct is not None or (n is None and c is None and _found(table, N_NAMES) is None
                                      and _found(table, C_NAMES) is None)
    problem = problem or _found(table, PROBLEM_NAMES)
    if samples:
        correct = correct or _found(table, CORRECT_NAMES)
        if correct is None or problem is None:
            raise InputError("passk reads a table of counts (columns n_samples and n_correct, or n and c, one row per "
                             "problem) or of samples (a problem column and a 0/1 correct column, one row per sample); "
                             f"columns are {columns}")
        used = {"--correct": correct, "--problem": problem}
    else:
        n_col, c_col = n or _found(table, N_NAMES), c or _found(table, C_NAMES)
        for option, col, names in (("--n", n_col, N_NAMES), ("--c", c_col, C_NAMES)):
            if col is None:
                what = "samples" if option == "--n" else "correct samples"
                raise InputError(f"a table of counts needs a column of {what} per problem ({', '.join(names)}, or "
                                 f"name it with {option} COLUMN)")
        used = {"--n": n_col, "--c": c_col}
    if by is not None:
        clash = [option for option, col in {**used, "--problem": problem}.items() if col == by]
        if clash:
            raise InputError(f"--by column `{by}` is also the {clash[0]} column; group by another column")
        empty = np.flatnonzero(table[by].isna().to_numpy())
        if empty.size:
            raise InputError(f"--by column `{by}` must name a group on every row; row {empty[0] + 1} is empty")
    group = table[by] if by is not None else pd.Series([None] * len(table), index=table.index, dtype=object)
    if samples:
        hits = _whole(table[correct], correct)
        bad = np.flatnonzero(~np.isin(hits.to_numpy(), (0.0, 1.0)))
        if bad.size:
            raise InputError(f"column `{correct}` must be 0 or 1 (one sample each); row {bad[0] + 1} has "
                             f"{shown(table[correct].iloc[bad[0]])}")
        empty = np.flatnonzero(table[problem].isna().to_numpy())
        if empty.size:
            raise InputError(f"column `{problem}` must name a problem on every row; row {empty[0] + 1} is empty")
        keyed = pd.DataFrame({"group": group.to_numpy(), "problem": table[problem].to_numpy(), "hit": hits.to_numpy()})
        grouped = keyed.groupby(["group", "problem"], sort=True, dropna=False)["hit"]
        counts = pd.DataFrame({"n": grouped.size(), "c": grouped.sum()}).reset_index().drop(columns="problem")
        return counts[["n", "c", "group"]], f"samples counted per `{problem}` from the 0/1 column `{correct}`"
    n_col, c_col = used["--n"], used["--c"]
    counts = pd.DataFrame({"n": _whole(table[n_col], n_col).to_numpy(), "c": _whole(table[c_col], c_col).to_numpy(),
                           "group": group.to_numpy()})
    bad = np.flatnonzero(~(counts["n"].to_numpy() >= 1))
    if bad.size:
        raise InputError(f"column `{n_col}` must count at least 1 sample per problem; row {bad[0] + 1} has "
                         f"{shown(table[n_col].iloc[bad[0]])}")
    bad = np.flatnonzero(~(counts["c"].to_numpy() <= counts["n"].to_numpy()))
    if bad.size:
        raise InputError(f"column `{c_col}` (correct) must not exceed column `{n_col}` (samples); row "
                         f"{bad[0] + 1} has {shown(table[c_col].iloc[bad[0]])} of {shown(table[n_col].iloc[bad[0]])}")
    if problem is not None:
        twice = pd.DataFrame({"group": group.to_numpy(), "problem": table[problem].to_numpy()}).duplicated()
        if twice.any():
            row = int(np.argmax(twice.to_numpy()))
            hint = "" if by is not None else "; one row per problem, or one curve per model with --by COLUMN"
            raise InputError(f"problem {shown(table[problem].iloc[row])} (column `{problem}`) has a second row of "
                             f"counts at row {row + 1}{hint}")
    return counts, f"counts read from `{n_col}` (samples) and `{c_col}` (correct), one row per problem"


def left_out_warning(curve: dict) -> str | None:
    """What leaving out problems short of k samples does to the curve, where it does."""
    short = [(i, n) for i, n in enumerate(curve["left_out"]) if n]
    if not short:
        return None
    i, left = short[0]
    return (f"{left} of {left + curve['problems'][i]} problems have fewer than k = {curve['k'][i]} samples and are "
            "left out there (as many or more at larger k): each k averages its own set of problems, so the curve can "
            "fall as k grows; where sampling stopped at a success, the problems left out are successes and pass@k "
            "is biased low")


def _found(table: pd.DataFrame, names) -> str | None:
    return next((name for name in names if name in table.columns), None)


def _whole(column: pd.Series, name: str) -> pd.Series:
    values = pd.to_numeric(column, errors="coerce")
    bad = np.flatnonzero(~(np.isfinite(values.to_numpy(dtype=np.float64))
                           & (values.to_numpy(dtype=np.float64) >= 0)
                           & (values.to_numpy(dtype=np.float64) == np.round(values.to_numpy(dtype=np.float64)))))
    if bad.size:
        raise InputError(f"column `{name}` must hold whole counts >= 0; row {bad[0] + 1} has {shown(column.iloc[bad[0]])}")
    return values.astype(np.float64)



def check_k(k) -> np.ndarray:
    """``k`` as whole numbers >= 1, in the order given; `InputError` naming the first bad one."""
    values = np.atleast_1d(np.asarray(k, dtype=np.float64))
    bad = np.flatnonzero(~(np.isfinite(values) & (values >= 1) & (values == np.round(values)) & (values <= 1e9)))
    if bad.size or not values.size:
        raise InputError(f"--k must be whole numbers from 1 to 1e9; got {values[bad[0]]:g}" if bad.size
                         else "--k needs at least one value")
    return values


__all__ = ["coverage", "left_out_warning", "pass_at_k", "problem_counts"]
