"""Ranking many systems across tasks by aggregating rankings, not averaging scores (Colombo et al.
2022, arXiv:2202.03799): tasks whose scores live on other scales (accuracy, BLEU, loss) each get a
vote by their ranking alone.

* **Borda count.** Within each task the systems are ranked, 0 for the worst to n - 1 for the best
  (ties share the average rank); a system's Borda score is the sum over tasks. With instances
  (system x task x instance scores), the instance rankings are first summed within each task into
  the task's ranking (Colombo et al.'s two-level aggregation).
* **Kemeny consensus.** The ranking with the fewest pairwise disagreements with the task rankings
  (the maximum-likelihood ranking of a Mallows model). Exact by enumeration up to `KEMENY_EXACT`
  systems; beyond, Borda's ranking improved by swapping neighbours until no swap helps (a local
  optimum, marked ``kemeny_exact: false``).

The mean score beside them is over the same tasks, each task's mean counting once (instances are
averaged within their task first). Missing scores are refused by default (a system without a task's score would lose or win that vote
by accident); ``missing="drop-tasks"`` leaves out every task some system lacks, and says which.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from .errors import InputError

KEMENY_EXACT = 8  # systems: 8! = 40,320 orders
MISSING = ("error", "drop-tasks")


def rank_systems(table: pd.DataFrame, *, system: str, task: str, score: str, instance: str | None = None,
                 higher_is_better: bool = True, missing: str = "error") -> dict:
    """Borda and Kemeny rankings of ``system`` over ``task`` (see the module docstring).

    Returns ``{"systems": [{"system", "borda", "borda_rank", "kemeny_rank", "mean_score",
    "mean_rank"}, ...] (in Kemeny order), "kemeny_exact", "disagreements", "tasks", "dropped_tasks"}``.
    Ranks count from 1 (the best)."""
    for option, col in (("--system", system), ("--task", task), ("--score", score),
                        *((("--instance", instance),) if instance else ())):
        if col not in table.columns:
            raise InputError(f"{option} must name a column ({', '.join(map(str, table.columns))}); got {col!r}")
    if missing not in MISSING:
        raise InputError(f"--missing must be error or drop-tasks; got {missing!r}")
    keys = [system, task] + ([instance] if instance else [])
    if len(set(keys)) < len(keys):
        raise InputError(f"--system, --task and --instance must name different columns; got {', '.join(keys)}")
    empty = table[keys].isna().any(axis=1).to_numpy()
    if empty.any():
        raise InputError(f"columns {', '.join(keys)} must name every row; row {int(np.argmax(empty)) + 1} has an empty one")
    values = pd.to_numeric(table[score], errors="coerce")
    bad = ~np.isfinite(values.to_numpy(dtype=np.float64))
    empty = table[score].isna().to_numpy()
    text = bad & ~empty
    if text.any() or (bad.any() and missing == "error"):
        i = int(np.argmax(text if text.any() else bad))
        shown = table[score].iloc[i]
        shown = shown.item() if hasattr(shown, "item") else shown
        raise InputError(f"--score column `{score}` must hold finite numbers; row {i + 1} has {shown!r}"
                         + ("" if text.any() else " (or --missing drop-tasks to leave out tasks without a score)"))
    data = table.assign(_score=values)[~bad]
    if data.duplicated(keys).any():
        i = int(np.argmax(data.duplicated(keys).to_numpy()))
        raise InputError(f"each {' x '.join(keys)} must have one score; {dict(data[keys].iloc[i])} has several")
    systems = sorted(table[system].unique(), key=str)
    if len(systems) < 2:
        raise InputError(f"ranking needs at least 2 systems in `{system}`; got {len(systems)}")
    sign = 1.0 if higher_is_better else -1.0
    task_ranks, dropped = {}, []
    for t, part in data.groupby(task, sort=True):
        if instance:
            grid = part.pivot(index=instance, columns=system, values="_score").reindex(columns=systems)
            if grid.isna().any().any():
                _missing(missing, t, grid.columns[grid.isna().any()].tolist(), system, dropped)
                continue
            points = _within(sign * grid.to_numpy()).sum(axis=0)
        else:
            row = part.set_index(system)["_score"].reindex(systems)
            if row.isna().any():
                _missing(missing, t, row.index[row.isna()].tolist(), system, dropped)
                continue
            points = sign * row.to_numpy()
        task_ranks[t] = _within(points[None, :])[0]
    if not task_ranks:
        raise InputError("no task has a score for every system")
    R = np.stack(list(task_ranks.values()))  # tasks x systems, 0 worst .. n-1 best
    borda = R.sum(axis=0)
    wins = (R[:, :, None] > R[:, None, :]).sum(axis=0)  # wins[i, j]: tasks ranking i above j
    order, exact = _kemeny(wins, borda)
    kept = data[data[task].isin(list(task_ranks))]  # the mean over the same tasks the rankings use, each task once
    per_task = kept.groupby([system, task])["_score"].mean().unstack(task)
    mean = per_task.reindex(systems).mean(axis=1).to_numpy()
    out = []
    borda_rank = _positions(-borda)
    mean_rank = _positions(-sign * mean)
    kemeny_rank = np.empty(len(systems), dtype=int)
    kemeny_rank[order] = np.arange(1, len(systems) + 1)
    for i in order:
        out.append({"system": systems[i].item() if hasattr(systems[i], "item") else systems[i],
                    "borda": float(borda[i]), "borda_rank": float(borda_rank[i]), "kemeny_rank": int(kemeny_rank[i]),
                    "mean_score": float(mean[i]), "mean_rank": float(mean_rank[i])})
    return {"systems": out, "kemeny_exact": exact, "disagreements": int(_disagreements(wins, order)),
            "tasks": len(task_ranks), "dropped_tasks": dropped, "higher_is_better": higher_is_better}


def _missing(policy, t, who, system, dropped):
    if policy == "error":
        raise InputError(f"task {t!r} has no score for `{system}` = {who[0]!r} (or --missing drop-tasks to leave "
                         "out such tasks)")
    dropped.append(t.item() if hasattr(t, "item") else t)


def _within(points: np.ndarray) -> np.ndarray:
    """Per row, ranks 0 (lowest) .. n-1 (highest), ties sharing their average."""
    return np.stack([pd.Series(r).rank(method="average").to_numpy() - 1.0 for r in points])


def _positions(key: np.ndarray) -> np.ndarray:
    """1 for the smallest key; ties share their average position."""
    return pd.Series(key).rank(method="average").to_numpy()


def _disagreements(wins: np.ndarray, order) -> int:
    """Pairs (task, i, j) where the task ranks j above i though ``order`` puts i first."""
    return sum(int(wins[j, i]) for a, i in enumerate(order) for j in order[a + 1:])


def _kemeny(wins: np.ndarray, borda: np.ndarray) -> tuple[list[int], bool]:
    n = len(borda)
    if n <= KEMENY_EXACT:
        best = min(itertools.permutations(range(n)), key=lambda o: (_disagreements(wins, o), _borda_key(o, borda)))
        return list(best), True
    order = list(np.argsort(-borda, kind="stable"))
    improved = True
    while improved:
        improved = False
        for a in range(n - 1):
            i, j = order[a], order[a + 1]
            if wins[j, i] > wins[i, j]:
                order[a], order[a + 1] = j, i
                improved = True
    return order, False


def _borda_key(order, borda):
    """Ties in disagreements go to the order closest to Borda's (a fixed, explainable choice)."""
    return tuple(-borda[i] for i in order)
