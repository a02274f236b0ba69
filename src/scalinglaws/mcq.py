"""Multiple-choice metrics from log-probabilities (Schaeffer et al. 2024).

Accuracy on a multiple-choice benchmark is the end of a chain that loses predictability at each
step (arXiv:2406.04391): for each item, with choices j and the correct one j*,

1. ``log p_vocab(j)``: the log-probability of choice j's text under the whole vocabulary (given);
2. ``p_choice(j) = p_vocab(j) / sum_k p_vocab(k)``: renormalised over the offered choices;
3. accuracy ``1[argmax_j p_choice(j) = j*]`` and Brier score ``sum_j (1[j = j*] - p_choice(j))^2``.

`choice_metrics` computes, per model (group), the means over items of ``log p_vocab(j*)``,
``p_vocab(j*)``, ``p_choice(j*)``, the Brier score and accuracy, so each can be fitted against scale
on its own: the continuous ones early in the chain scale predictably; accuracy depends on the mass
on specific wrong choices. Ties for the largest ``p_choice`` share the credit (the expected accuracy
of a random tie-break).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import InputError, shown

METRICS = ("logp_correct", "p_vocab_correct", "p_choice_correct", "brier", "accuracy")


def choice_metrics(table: pd.DataFrame, *, item: str = "item", logprob: str = "logprob", correct: str = "correct",
                   by: str | None = None) -> pd.DataFrame:
    """One row per group of ``by`` (or one row): ``items``, the `METRICS`, ``choices`` (the most an
    item offers) and every other column that has one value in the group (N, compute, ...), so the
    table can be fitted directly. ``table`` has one row per (item, choice): the choice's summed
    log-probability and a 0/1 column marking the correct choice, exactly one per item."""
    columns = ", ".join(map(str, table.columns))
    for option, col in (("--item", item), ("--logprob", logprob), ("--correct", correct), ("--by", by)):
        if col is not None and col not in table.columns:
            raise InputError(f"{option} column `{col}` not found; columns are {columns}")
    lp = pd.to_numeric(table[logprob], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~(lp <= 0.0))  # a log-probability: finite or -inf, never above 0
    if bad.size:
        raise InputError(f"column `{logprob}` must hold log-probabilities (<= 0); row {bad[0] + 1} has "
                         f"{shown(table[logprob].iloc[bad[0]])}")
    mark = pd.to_numeric(table[correct], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isin(mark, (0.0, 1.0)))
    if bad.size:
        raise InputError(f"column `{correct}` must be 1 on the correct choice and 0 on the others; row {bad[0] + 1} "
                         f"has {shown(table[correct].iloc[bad[0]])}")
    for col, option in ((item, "--item"), (by, "--by")):
        if col is not None and table[col].isna().any():
            raise InputError(f"{option} column `{col}` must name an item on every row; row "
                             f"{int(table[col].isna().to_numpy().argmax()) + 1} is empty")
    keys = [by, item] if by is not None else [item]
    frame = pd.DataFrame({"lp": lp, "mark": mark, **{f"k{i}": table[k].to_numpy() for i, k in enumerate(keys)}})
    per_item = frame.groupby([f"k{i}" for i in range(len(keys))], sort=False)
    counts = per_item["mark"].sum()
    wrong = counts[counts != 1]
    if len(wrong):
        name = wrong.index[0][-1] if isinstance(wrong.index[0], tuple) else wrong.index[0]
        hint = "" if by is not None else " (several models in one table? one set of metrics each with --by COLUMN)"
        raise InputError(f"item {shown(name)} (column `{item}`) marks {int(wrong.iloc[0])} correct choices in "
                         f"`{correct}`; each item has exactly one{hint}")
    rows = []
    for key, g in per_item:
        lps, marks = g["lp"].to_numpy(), g["mark"].to_numpy() == 1.0
        if not np.isfinite(lps).any():
            raise InputError(f"item {shown(key[-1])} has probability 0 on every choice; its share of each is undefined")
        top = lps.max()
        p_choice = np.exp(lps - top) / np.sum(np.exp(lps - top))
        best = lps == top
        rows.append({"group": key[0] if by is not None else None, "logp": float(lps[marks][0]),
                     "p_vocab": float(np.exp(lps[marks][0])), "p_choice": float(p_choice[marks][0]),
                     "brier": float(np.sum((marks - p_choice) ** 2)),
                     "accuracy": float(best[marks][0] / best.sum()), "choices": len(lps)})
    items = pd.DataFrame(rows)
    out = items.groupby("group", sort=True, dropna=False).agg(
        items=("logp", "size"), logp_correct=("logp", "mean"), p_vocab_correct=("p_vocab", "mean"),
        p_choice_correct=("p_choice", "mean"), brier=("brier", "mean"), accuracy=("accuracy", "mean"),
        choices=("choices", "max")).reset_index()
    if by is None:
        return out.drop(columns="group")
    out = out.rename(columns={"group": by})
    constant = [c for c in table.columns if c not in (by, item, logprob, correct) and c not in out.columns
                and table.groupby(by, sort=True, dropna=False)[c].nunique(dropna=False).max() == 1]
    carried = table.groupby(by, sort=True, dropna=False)[constant].first().reset_index() if constant else None
    return out if carried is None else out.merge(carried, on=by, how="left")


__all__ = ["METRICS", "choice_metrics"]
