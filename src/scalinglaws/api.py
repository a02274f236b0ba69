"""`scalinglaws.fit`: the public entry point that composes the engine (`fit/`), the bootstrap
(`uncertainty`) and law selection (`select`)."""

from __future__ import annotations

import functools
import inspect
from dataclasses import replace
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ._progress import stage, step
from .data import Runs
from .data.runs import with_areas_for
from .errors import FitError, InputError, MissingColumnError, ScalingLawsError
from .fit import FitResult, prepare, solve
from .fit.api import DEFAULT_METHOD
from .fit.backend import map_tasks, remote, split, task_count
from .laws import Law, get_law
from .laws.data_scaling import qqt_mix
from .calibrate import calibrate
from .nested import CUTS, backtests
from .select import choose_law, laws_of_columns
from .uncertainty import bootstrap as refit_replicates
from .uncertainty import check_options


def _column_hint(fn):
    """A missing input column's error also names the laws the table's columns allow."""

    @functools.wraps(fn)
    def fit_with_hint(law, runs, **options):
        try:
            return fn(law, runs, **options)
        except MissingColumnError as exc:
            table = Runs.coerce(runs)
            mapped = {k: v for k, v in (options.get("x") or {}).items() if v in table.columns}  # a misspelt one aside
            allowed = [found.name for found in laws_of_columns(table, x=mapped)]
            raise MissingColumnError(f"{exc}; the laws whose inputs these columns hold: "
                                     f"{', '.join(allowed) if allowed else 'none'}") from None

    return fit_with_hint


@_column_hint
def fit(
    law: str | Law,
    runs,
    *,
    x: Mapping[str, str] | None = None,
    y: str | None = None,
    where: str | None = None,
    include_excluded: bool = False,
    fix: Mapping[str, float] | None = None,
    loss: str = "huber",
    delta: float | None = None,
    method: str = DEFAULT_METHOD,
    starts: int | None = None,
    rng: int | np.random.Generator | None = None,
    prune: bool | None = None,
    bootstrap: int = 0,
    resample: str = "rows",
    cluster: str | None = None,
    level: float = 0.95,
    weights: str | None = None,
    dropna: bool = False,
    candidates=None,
    space: str | None = None,
) -> FitResult:
    """Fit ``law`` to ``runs``.

    Args:
        law: a registered name, a `Law`, or ``"auto"`` (chosen by nested backtests on the runs).
        candidates: with ``law="auto"``: the laws to choose among (names, formulas, law files or
            `Law` values, all of the same inputs) instead of the registered laws of the table's inputs.
        runs: a `Runs`, a DataFrame or a mapping of columns.
        x: law input -> column (common names such as ``N``, ``params``, ``tokens`` need none).
        y: target column (default: the table's declared target, else ``loss``/``y``/...).
        where: a pandas expression selecting the rows to fit (``"C < 1e21"``).
        include_excluded: also fit rows the ``excluded`` column marks.
        fix: parameters held at given values.
        loss: ``huber`` (default, summed over points, on log residuals), ``mse`` or ``huber-mle``.
        delta: the Huber threshold (default 1e-3 on log residuals, the Chinchilla objective; 1e-2
            for a law fitted in linear space, one point of a bounded metric).
        method: ``varpro`` (default) or ``hoffmann2022``.
        starts: grid size for the default method's screen (default 256; ``varpro`` only).
        rng: seed or generator: jitters the default method's start grid and draws the bootstrap
            replicates (``None``: the fixed grid, and replicates from seed 0).
        prune: ``hoffmann2022`` only: prune hopeless starts early (default True).
        bootstrap: number of bootstrap replicates (0: none); see `scalinglaws.uncertainty`. With
            replicates, the law is also backtested on nested cut-offs of the runs to calibrate its
            intervals beyond the training range (`scalinglaws.calibrate`).
        resample: ``rows``, ``clusters`` (with ``cluster=COLUMN``) or ``residuals`` (wild).
        level: the level of the percentile intervals in ``result.bootstrap.ci``.
        space: take the residuals in ``"log"`` or ``"linear"`` space instead of the law's own
            (``linear`` with ``loss="mse"`` is least squares on y, as some papers fit); the fit
            document keeps it.
        dropna: leave out rows with an empty input or target (the notes say how many) instead of
            refusing them.
        weights: a column of non-negative per-run weights (a run with weight 0 is left out of the
            fit but keeps the problem's shape, so folds of one table share a compiled solver).

    Returns:
        A `FitResult`. Raises `InputError` for bad input and `FitError` when no usable fit (or
        too few converged bootstrap replicates) came out.

    Example:
        >>> import scalinglaws as sl
        >>> r = sl.fit("chinchilla", sl.load_dataset("chinchilla"))
        >>> round(r.params["alpha"], 3), r.status
        (0.347, 'converged')
    """
    check_options(bootstrap, resample, cluster, level)
    _check_seed(rng)
    auto = isinstance(law, str) and law == "auto"
    if auto and space is not None:
        raise InputError("--space sets the residuals of one law; --law auto compares its candidates in one space "
                         "of its own (log y wherever the targets are positive)")
    law = law if auto else _law_in_space(law, space)
    runs = with_areas_for(Runs.coerce(runs), [None if auto else law.inputs], x)  # once, for the fit and all its folds
    if cluster is not None and cluster not in runs.columns:
        raise InputError(f"--cluster column `{cluster}` not found; columns are {', '.join(runs.columns)}")
    if cluster is not None and runs.table[cluster].isna().any():
        row = int(runs.table[cluster].isna().to_numpy().argmax()) + 1
        raise InputError(f"--cluster column `{cluster}` must name a configuration on every row; row {row} is empty")
    problem_options = dict(x=x, y=y, where=where, include_excluded=include_excluded, loss=loss, delta=delta,
                           weights=weights, dropna=dropna)
    fit_options = dict(method=method, starts=starts, rng=rng if method == DEFAULT_METHOD else None, prune=prune)
    selection = bt = None
    if auto:
        if fix:
            raise InputError("--fix names parameters of one law; it cannot be combined with --law auto")
        if method != DEFAULT_METHOD:
            raise InputError(f"--law auto fits its candidates with the default method; got --method {method}")
        selection, bt = choose_law(runs, candidates=_candidate_laws(candidates), **fit_options, **problem_options)
    elif candidates is not None:
        raise InputError("--candidate names laws for --law auto to choose among; add --law auto")
    if rng is not None and method != DEFAULT_METHOD and not bootstrap:
        raise InputError(f"--seed is not used by --method {method} without --bootstrap (its grid of starts is "
                         f"fixed); got {rng!r}")
    if bt is None and bootstrap:  # the intervals are calibrated on nested backtests: fitted with the full fit
        bt = backtests(law, runs, CUTS, fix=fix, **fit_options, **problem_options)
    if bt is not None:
        problem, result, independent_starts = bt.problem, bt.full, bt.starts
    else:
        problem = prepare(law, runs, fix=fix, **problem_options)
        result, independent_starts = solve(problem, **fit_options)
    if bootstrap:
        gen = np.random.default_rng(0 if rng is None else rng)
        clusters = runs.table[cluster].to_numpy()[problem.design.rows] if cluster else None
        result = replace(result, bootstrap=refit_replicates(problem, result, independent_starts, bootstrap,
                                                            resample, clusters, level, gen),
                         calibration=calibrate(bt))
    return result if selection is None else replace(result, selection=selection)


def fit_groups(law, runs, by: str, **options) -> tuple[dict, list[dict]]:
    """`fit` once per value of column ``by`` (sorted): ``({group: FitResult}, skipped)``, where
    ``skipped`` lists ``{"group", "reason"}`` for groups that could not be fitted (one bad group does
    not stop the others). Groups that ``where`` leaves empty are not fitted. Raises the first group's
    error when none could be fitted, and `InputError` when ``where`` leaves no rows at all.

    The groups are fitted in one batched computation where they can be (a point fit of one law:
    `fit.groups`), else one at a time; on a Ray backend (`fit.backend.use_backend`) in parts as
    Ray tasks, with the same results."""
    runs = Runs.coerce(runs)
    if by not in runs.columns:
        raise InputError(f"--by must name a column ({', '.join(runs.columns)}); got {by!r}")
    if runs.table[by].isna().any():
        raise InputError(f"--by must name a group on every row; row {int(runs.table[by].isna().to_numpy().argmax()) + 1} "
                         "is empty")
    _check_table(law, runs, options)
    rng = options.get("rng")
    _check_seed(rng)
    if isinstance(rng, np.random.Generator):  # one seed for every group: a group's fit draws nothing its neighbours drew
        options = {**options, "rng": int(rng.integers(2**63))}
    names = pd.factorize(runs.table[by], sort=True)[1].tolist()  # sorted as groupby sorts (mixed types too)
    # on Ray: parts of at least GROUPS_PER_TASK groups for the batched solve, one group each otherwise
    pieces = split(len(names), task_count(len(names), GROUPS_PER_TASK if _batchable(law, options) else 1))
    parts = [runs] if len(pieces) == 1 else [
        runs.with_table(runs.table[runs.table[by].isin(names[p.start:p.stop])].reset_index(drop=True)) for p in pieces]
    outcomes = {}
    with stage(f"fitting {law if isinstance(law, str) else law.name} to each `{by}` group", total=len(names)) as advance:
        for part in map_tasks(functools.partial(_fit_part, law, by, options), parts):
            outcomes.update(part)
            if len(parts) > 1 and remote():  # a part done here advanced the stage group by group
                advance(len(part))
    fits = {k: v for k, v in outcomes.items() if isinstance(v, FitResult)}
    skipped = [{"group": k, "reason": str(v)} for k, v in outcomes.items() if not isinstance(v, FitResult)]
    first_error = next((v for v in outcomes.values() if not isinstance(v, FitResult)), None)
    if not fits and first_error is not None:
        reasons = {s["reason"] for s in skipped}
        raise type(first_error)(f"no `{by}` group could be fitted: " + (
            f"every group: {reasons.pop()}" if len(reasons) == 1 and len(skipped) > 1 else
            "; ".join(f"`{by}` = {s['group']!r}: {s['reason']}" for s in skipped[:SAID])
            + (f"; and {len(skipped) - SAID} more groups" if len(skipped) > SAID else "")))
    if not fits and options.get("where"):
        raise InputError(f"--where leaves no rows in any `{by}` group; got {options.get('where')!r}")
    if not fits:
        raise InputError(f"no `{by}` group has a row to fit: every row is marked excluded "
                         f"(column {', '.join(f'`{c}`' for c in runs.excluded or ())}; --include-excluded keeps them)")
    return fits, skipped


def fits_table(fits: Mapping, by: str = "group", skipped: Sequence[Mapping] = ()) -> pd.DataFrame:
    """One row per group (what `fit_groups` returns): the group, law, status, every parameter,
    objective, runs fitted, starts at the best, the parameters at a bound and the warnings; groups
    not fitted follow, with their reason (column ``not_fitted``) and no parameters.

    Example:
        >>> import scalinglaws as sl
        >>> runs = sl.load_dataset("chinchilla").table.assign(half=lambda t: t.index % 2)
        >>> sl.fits_table(sl.fit_groups("chinchilla", runs, "half")[0], "half")[["half", "status"]]
           half     status
        0     0  converged
        1     1  converged
    """
    rows = [{"law": r.law.name, "status": r.status, **r.params, "objective": r.objective, "n_points": r.n_points,
             "n_at_best": r.n_at_best, "at_bound": ", ".join(r.at_bound), "warnings": " | ".join(r.warnings)}
            for r in fits.values()]
    taken = set().union(*rows) | {"not_fitted"} if rows else {"not_fitted"}
    column = by if by not in taken else f"{by} (group)"  # a group column named as a parameter keeps its labels
    rows = [{column: group, **row} for group, row in zip(fits, rows)]
    rows += [{column: s["group"], "not_fitted": s["reason"]} for s in skipped]
    return pd.DataFrame(rows)


def _check_table(law, runs: Runs, options: dict) -> None:
    """What is wrong with the options or the table as a whole (not with one group) is said once, not
    once per group: the bootstrap's options, the law, its columns, the target and the condition."""
    from .data.runs import resolve_columns, resolve_target, select_rows
    from .data.schedules import AREAS

    check_options(options.get("bootstrap", 0), options.get("resample", "rows"), options.get("cluster"),
                  options.get("level", 0.95))
    if not (isinstance(law, str) and law == "auto"):
        law = get_law(law)
        if not set(AREAS) & set(law.inputs):  # schedule areas are computed per run, later
            resolve_columns(runs, law.inputs, options.get("x"), law.name)
    resolve_target(runs, options.get("y"))
    select_rows(runs, options.get("where"), True)


#: groups whose reasons an error for every group spells out (the others are counted)
SAID = 3

#: groups a Ray task fits at least (see `fit.backend`)
GROUPS_PER_TASK = 64


def _fit_part(law, by: str, options: dict, runs: Runs) -> dict:
    """``{group: FitResult or the error refusing it}`` for the groups of ``runs``: in one batched
    solve where it can (`_fit_together`), else one group at a time (each exactly as `fit` alone:
    padded by its own runs only); groups ``where`` leaves empty are left out."""
    from .data.runs import select_rows

    outcomes = _fit_together(law, runs, by, options)
    if outcomes is not None:
        step(len(outcomes))
        return outcomes
    outcomes = {}
    for group, table in runs.table.groupby(by, sort=True):
        sub = runs.with_table(table.reset_index(drop=True))
        label = group.item() if hasattr(group, "item") else group
        if select_rows(sub, options.get("where"), options.get("include_excluded", False))[0].size:
            try:
                outcomes[label] = fit(law, sub, **options)
            except ScalingLawsError as exc:
                outcomes[label] = exc
        step()
    return outcomes


#: `fit` options the groups' batched solve takes (any other, given, fits the groups one at a time)
TOGETHER = {"x", "y", "where", "include_excluded", "fix", "loss", "delta", "weights", "dropna", "starts", "rng",
            "method", "space"}


def _fit_together(law, runs: Runs, by: str, options: dict) -> dict | None:
    """Point fits of every group in one batched solve (`fit.groups.prepare_groups`, `fit.solve_each`):
    ``{group: FitResult or the error refusing it}``; None where the groups must be fitted one at a time
    (``--law auto``, a bootstrap, another method, or a table refused as a whole)."""
    from .fit.api import solve_each
    from .fit.groups import prepare_groups

    if not _batchable(law, options):
        return None
    rng = options.get("rng")  # one integer seed for every group (`fit_groups`)
    law = _law_in_space(law, options.get("space"))
    problem_options = {k: options[k] for k in ("x", "y", "where", "include_excluded", "fix", "loss", "delta",
                                               "weights", "dropna") if k in options}
    problems = prepare_groups(law, runs, runs.table[by].to_numpy(), **problem_options)
    if problems is None:
        return None
    # groups of one padded size (`padded_size` of their own runs) are solved together: a group is
    # padded as when fitted alone, never by its neighbours (in a fit the data barely determine, the
    # rounding of more padding can move the optimum); each takes the subset screen of a large table
    # or not by its own size (`fit.methods`)
    classes = {}
    for k, p in problems.items():
        if not isinstance(p, InputError):
            classes.setdefault(np.size(p.data.y), []).append(k)
    out = dict(problems)
    with stage(f"fitting {law.name} to each `{by}` group together", lanes=True):
        for ready in classes.values():
            solved = solve_each([problems[k] for k in ready], starts=options.get("starts"), rng=rng)
            out.update({k: s if isinstance(s, FitError) else s[0] for k, s in zip(ready, solved)})
    return out


def _batchable(law, options: dict) -> bool:
    """Whether `fit` with ``options`` is a point fit of one law by the default method (what the
    groups' batched solve does)."""
    defaults = {k: p.default for k, p in inspect.signature(fit).parameters.items() if p.default is not p.empty}
    return not ((isinstance(law, str) and law == "auto") or options.get("method", DEFAULT_METHOD) != DEFAULT_METHOD
                or any(k not in defaults or (k not in TOGETHER and v != defaults[k]) for k, v in options.items()))


def _check_seed(rng) -> None:
    if rng is not None and not isinstance(rng, np.random.Generator) and not (
            isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) and rng >= 0):
        raise InputError(f"--seed must be a non-negative integer; got {rng!r}")


def _law_in_space(law, space: str | None) -> Law:
    """The law named (or given), its residuals taken in ``space`` when one is given."""
    return get_law(law) if space is None else get_law(law).in_space(space)


def _candidate_laws(candidates) -> list[Law] | None:
    if candidates is None:
        return None
    laws = [get_law(c) for c in candidates]
    if not laws:
        raise InputError("--candidate: give at least one law to choose among")
    if len({law.name for law in laws}) < len(laws):
        raise InputError(f"--candidate names a law twice: {', '.join(law.name for law in laws)}")
    if len({law.inputs for law in laws}) > 1:
        raise InputError("--candidate laws must share their inputs to be compared on the same runs; got "
                         + "; ".join(f"{law.name}: {', '.join(law.inputs)}" for law in laws))
    return laws


def predict_mix(pools: Sequence[FitResult], x) -> np.ndarray:
    """The error of equal shares of several data pools, from a `qqt_utility` fit of each pool
    trained alone (Goyal et al. 2024; `scalinglaws.laws.data_scaling.qqt_mix`).

    Args:
        pools: the pools' fits (one each, law ``qqt_utility``).
        x: the points: ``n`` samples seen and ``P`` samples per pool (the mix repeats
            ``len(pools) * P``), as a mapping or a table (by input or fitted column name).

    Returns:
        The mix's error at each point (NaN past 512 repeated epochs of the mix). A forecast outside
        [0, 1] is a `FitError` naming the point, as in `FitResult.predict`.
    """
    pools = list(pools)
    if not pools:
        raise InputError("predict_mix: give at least one pool's fit")
    other = [r.law.name for r in pools if r.law.name != "qqt_utility"]
    if other:
        raise InputError(f"predict_mix needs qqt_utility fits of the pools; got law {other[0]}")
    arrays = pools[0].prediction_inputs(x)
    values = qqt_mix([r.params for r in pools], arrays["n"], arrays["P"])
    lo, hi = pools[0].law.y_range
    out = np.flatnonzero((values < lo) | (values > hi))
    if out.size:
        raise FitError(f"the mix of {len(pools)} pool(s) forecasts an error of {float(values.flat[out[0]]):.6g} at "
                       f"prediction point {out[0] + 1}, outside [{lo:g}, {hi:g}]: the pools' fits do not hold there")
    return values


__all__ = ["fit", "fit_groups", "fits_table", "predict_mix"]
