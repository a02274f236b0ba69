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


def pass_at_k(n, c, k, stopped=None) -> np.ndarray:
    """The unbiased pass@k of problems with ``n`` samples, ``c`` of them correct, at each ``k``:
    an array of shape ``(problems, len(k))``; NaN where ``k > n``.

    ``stopped`` (per problem): sampling stopped at this problem's ``c``-th correct sample (inverse
    sampling, as PassUntil and best-of-N attacks sample). Then ``c / n`` and the estimator above are
    biased upwards (the last sample is correct by design: for one success, ``E[1/n]`` is about
    ``p log(1/p)``); the unbiased estimate counts paths of the stopping rule (Girshick, Mosteller and
    Savage 1946) and comes out as the usual estimator without that last sample, ``(n - 1, c - 1)``,
    which is exactly unbiased at every k up to the budget (1 where ``k >= n``: the n-th sample was
    correct). Beyond a budget, a problem that never succeeded has no estimate (NaN), and averaging
    the others keeps only survivors (`coverage` gives None there)."""
    n = np.atleast_1d(np.asarray(n, dtype=np.float64))
    c = np.atleast_1d(np.asarray(c, dtype=np.float64))
    k = np.atleast_1d(np.asarray(k, dtype=np.float64))
    stopped = np.zeros(n.size, dtype=bool) if stopped is None else np.broadcast_to(np.asarray(stopped, bool), n.shape)
    if np.any(stopped & (c < 1)):
        raise InputError("a problem whose sampling stopped at a correct sample has at least one correct sample")
    n, c = np.where(stopped, n - 1.0, n), np.where(stopped, c - 1.0, c)
    out = np.empty((n.size, k.size))
    for p, (n_p, c_p) in enumerate(zip(n, c)):  # (for a stopped problem: without its last sample)
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
        if not stopped[p]:
            row[k > n_p] = np.nan
        out[p] = row
    return out


def coverage(counts: pd.DataFrame, k, *, n: str = "n", c: str = "c") -> dict:
    """Mean pass@k over the problems of ``counts`` (one row each, columns ``n`` and ``c``) that have
    at least k samples: ``{"k", "pass_at_k", "problems", "left_out"}`` (lists, one entry per k).
    Under inverse sampling (a ``stopped`` column, `mark_stopped`) a k that leaves out any problem
    has no estimate (None): those are the problems that never succeeded within their budget."""
    stopped = _stopped(counts)
    values = pass_at_k(counts[n].to_numpy(), counts[c].to_numpy(), k, stopped)
    usable = np.isfinite(values)
    used = usable.sum(axis=0)
    mean = np.where(used > 0, np.nansum(values, axis=0) / np.maximum(used, 1), np.nan)
    if stopped is not None:  # the problems left out never succeeded within their budget: the rest is survivors
        mean = np.where(used < len(counts), np.nan, mean)
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
        if n_col == c_col:
            raise InputError(f"--n and --c name the same column `{n_col}`; samples and correct samples are two columns")
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


def _stopped(counts: pd.DataFrame):
    """The per-problem ``stopped`` flags of a counts table (see `problem_counts`), or None."""
    return counts["stopped"].to_numpy() if "stopped" in counts.columns else None


def mark_stopped(counts: pd.DataFrame, at: int) -> pd.DataFrame:
    """``counts`` with a ``stopped`` column: sampling stopped at the ``at``-th correct sample, so a
    problem with ``at`` correct samples was stopped by it (the others by the budget); more than
    ``at`` is refused."""
    if not (isinstance(at, int) and at >= 1):
        raise InputError(f"--stopped-at must be a whole number of correct samples >= 1; got {at!r}")
    over = np.flatnonzero(counts["c"].to_numpy() > at)
    if over.size:
        raise InputError(f"--stopped-at {at}: sampling stopped once {at} correct sample(s) were drawn, but problem "
                         f"{over[0] + 1} has {counts['c'].iloc[over[0]]:.0f} correct samples (sampling in batches "
                         "that stopped after a success is not this rule: no unbiased estimate is known for it here)")
    return counts.assign(stopped=counts["c"].to_numpy() == at)


def left_out_warning(curve: dict, stopped: bool = False) -> str | None:
    """What leaving out problems short of k samples does to the curve, where it does."""
    short = [(i, n) for i, n in enumerate(curve["left_out"]) if n]
    if not short:
        return None
    i, left = short[0]
    if stopped:
        return (f"{left} of {left + curve['problems'][i]} problems never succeeded within a budget below k = "
                f"{curve['k'][i]}: beyond its budget a problem has no unbiased estimate, and the others are the "
                "survivors, so pass@k is not given there (null)")
    return (f"{left} of {left + curve['problems'][i]} problems have fewer than k = {curve['k'][i]} samples and are "
            "left out there (as many or more at larger k): each k averages its own set of problems, so the curve can "
            "fall as k grows; where sampling stopped at a success, say so with --stopped-at R (else pass@k is "
            "biased: high at k = 1, low where successes are left out)")


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


def check_k(k, option: str = "--k") -> np.ndarray:
    """``k`` as whole numbers >= 1, in the order given; `InputError` naming ``option`` and the first
    bad one."""
    values = np.atleast_1d(np.asarray(k, dtype=np.float64))
    bad = np.flatnonzero(~(np.isfinite(values) & (values >= 1) & (values == np.round(values)) & (values <= 1e9)))
    if bad.size or not values.size:
        raise InputError(f"{option} must be whole numbers from 1 to 1e9; got {values[bad[0]]:g}" if bad.size
                         else f"{option} needs at least one value")
    return values


#: values of k per decade on which the coverage law is fitted
FIT_K_PER_DECADE = 10
FIT_MIN_K = 4  # distinct values of k a coverage fit needs (the law has two parameters)
COVERAGE_LAW = "coverage_exp_power"
#: below this pass@k at the largest fitted k, a coverage forecast gets no interval (see `fit_coverage`)
FLOOR = 0.05


def coverage_curve(counts: pd.DataFrame, k_max: int, *, n: str = "n", c: str = "c") -> tuple[pd.DataFrame, int]:
    """The coverage curve a law is fitted to: pass@k at about `FIT_K_PER_DECADE` whole values of k
    per decade from 1 to ``k_max``, averaged over the problems with at least ``k_max`` samples, so
    every k averages the same problems (a curve whose problems change with k is not one curve);
    under inverse sampling every problem, so ``k_max`` may not pass a budget (`_defined_up_to`).
    Returns the table (columns ``k``, ``coverage``) and the number of problems left out."""
    k_max = int(k_max)
    decades = np.log10(k_max)
    grid = np.unique(np.round(np.logspace(0.0, decades, max(int(round(FIT_K_PER_DECADE * decades)), 1) + 1)))
    if grid.size < FIT_K_PER_DECADE and k_max >= FIT_MIN_K:  # a short range: every k from 1 up
        grid = np.arange(1.0, min(k_max, FIT_K_PER_DECADE) + 1.0)
    if grid.size < FIT_MIN_K:
        raise InputError(f"--fit needs pass@k at {FIT_MIN_K} or more values of k; the largest --k is {k_max}, "
                         f"which gives {grid.size}")
    full = _defined_up_to(counts, k_max, n)
    if full.empty:
        raise InputError(f"--fit: no problem has {k_max} samples (the largest --k); give a smaller largest --k")
    values = pass_at_k(full[n].to_numpy(), full[c].to_numpy(), grid, _stopped(full)).mean(axis=0)
    if not np.all(values > 0):
        raise InputError(f"--fit: pass@k is 0 at k = {int(grid[np.argmin(values > 0)])} ({len(full)} problems with "
                         f"{k_max} or more samples, no correct one among them there); the coverage law "
                         "exp(a k^b) is positive, so it cannot be fitted to a zero")
    return pd.DataFrame({"k": grid, "coverage": values}), int(len(counts) - len(full))


def _defined_up_to(counts: pd.DataFrame, k_max: int, n: str = "n") -> pd.DataFrame:
    """The problems with an unbiased pass@k at every k up to ``k_max``: those with ``k_max``
    samples. Under inverse sampling every problem is needed (leaving out the ones that never
    succeeded keeps the survivors), so ``k_max`` may not pass any budget."""
    stopped = _stopped(counts)
    if stopped is None:
        return counts[counts[n].to_numpy() >= k_max]
    short = ~stopped & (counts[n].to_numpy() < k_max)
    if short.any():
        raise InputError(f"--fit with --stopped-at: {int(short.sum())} problems never succeeded within budgets below "
                         f"the largest --k ({k_max}; the smallest budget is {counts[n].to_numpy()[short].min():.0f}); "
                         "beyond a budget there is no unbiased estimate, so fit on k up to it")
    return counts


def fit_coverage(counts: pd.DataFrame, k_max: int, forecast, *, bootstrap: int = 200, level: float = 0.9,
                 rng=None, n: str = "n", c: str = "c") -> dict:
    """Brown et al.'s coverage law ``c(k) = exp(a k^b)`` fitted to `coverage_curve` (k up to
    ``k_max``) and its forecast at the ``forecast`` values of k, with a prediction interval at
    ``level`` from ``bootstrap`` replicates (calibrated beyond the fitted k by the law's own errors
    at nested cut-offs in k, see `scalinglaws.calibrate`). Where the problems have samples enough,
    each forecast is shown next to the pass@k observed on the same problems (a backtest). The
    document: ``law, status, params, fitted_k, problems, left_out, warnings, forecast`` (per k: ``k,
    pass_at_k, observed``, and ``lo, hi, level, decades`` with a bootstrap). A curve still below
    `FLOOR` at ``k_max`` gets a warning and no interval: its forecasts were too low and their
    intervals missed the truth on real curves (benchmarks/bench_coverage_forecast.py)."""
    from .api import fit

    curve, left_out = coverage_curve(counts, k_max, n=n, c=c)
    result = fit(COVERAGE_LAW, curve, x={"k": "k"}, y="coverage", bootstrap=bootstrap, level=level, rng=rng)
    ks = check_k(forecast, "--forecast")
    full = _defined_up_to(counts, k_max, n)
    observed = pass_at_k(full[n].to_numpy(), full[c].to_numpy(), ks, _stopped(full))
    complete = np.all(np.isfinite(observed), axis=0)  # every fitted problem has k samples: the same problems
    doc = {"law": COVERAGE_LAW, "status": result.status, "params": dict(result.params), "fitted_k": [1, int(k_max)],
           "problems": int(len(full)), "left_out": left_out,
           "forecast": {"k": [int(v) for v in ks], "pass_at_k": [float(v) for v in result.predict({"k": ks})],
                        "observed": [float(np.mean(observed[:, i])) if complete[i] else None for i in range(ks.size)]}}
    top = float(curve["coverage"].iloc[-1])
    doc["warnings"] = [f"pass@k is {top:.3g} at k = {int(k_max)}, below {FLOOR:g}: the curve has barely left the floor, "
                       "and most of the coverage to come is from problems not solved yet, which the curve cannot see; "
                       "on Schaeffer et al.'s Pythia checkpoints such forecasts fell short of the truth and 90% "
                       "intervals held it at k = 1,000 in 0 of 37 curves (pass@100 <= 0.01) and 8 of 13 (0.01 to "
                       "0.05), so none is given (benchmarks/bench_coverage_forecast.py); fit on larger k"] \
        if top < FLOOR else []
    if bootstrap and top >= FLOOR:
        lo, hi = result.predict_interval({"k": ks}, level=level)
        doc["forecast"].update(lo=[float(v) for v in lo], hi=[float(v) for v in hi], level=float(level),
                               decades=[float(v) for v in result.decades_beyond({"k": ks})])
    return doc


__all__ = ["coverage", "coverage_curve", "fit_coverage", "left_out_warning", "pass_at_k", "problem_counts"]
