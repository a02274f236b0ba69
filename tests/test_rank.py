"""Rank aggregation (Colombo et al. 2022): Borda and Kemeny against hand-worked examples."""

import itertools
import json

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl
from scalinglaws.cli import run
from scalinglaws.rank import rank_systems


def _tidy(scores):
    return pd.DataFrame([(s, t, v) for t, row in scores.items() for s, v in row.items()],
                        columns=["system", "task", "score"])


def test_borda_ignores_scales_where_the_mean_does_not():
    """One task on a large scale decides the mean; Borda gives each task one vote."""
    scores = {"t1": {"a": 0.9, "b": 0.8, "c": 0.7}, "t2": {"a": 0.6, "b": 0.5, "c": 0.4},
              "t3": {"a": 10.0, "b": 20.0, "c": 90.0}}
    doc = rank_systems(_tidy(scores), system="system", task="task", score="score")
    by = {s["system"]: s for s in doc["systems"]}
    assert by["a"]["borda"] == 2 + 2 + 0 and by["c"]["borda"] == 0 + 0 + 2
    assert by["a"]["kemeny_rank"] == 1 and by["c"]["mean_rank"] == 1  # the mean follows t3's scale
    assert doc["kemeny_exact"] and doc["tasks"] == 3


def test_kemeny_is_the_fewest_disagreements():
    rng = np.random.default_rng(0)
    scores = {f"t{k}": {s: float(rng.normal(i * 0.3, 1)) for i, s in enumerate("abcde")} for k in range(7)}
    doc = rank_systems(_tidy(scores), system="system", task="task", score="score")
    order = [s["system"] for s in doc["systems"]]
    table = pd.DataFrame(scores).T  # tasks x systems

    def disagreements(o):
        return sum(int((table[j] > table[i]).sum()) for a, i in enumerate(o) for j in o[a + 1:])

    assert disagreements(order) == doc["disagreements"] == min(disagreements(p) for p in itertools.permutations("abcde"))


def test_ties_share_the_average_rank_and_lower_is_better():
    scores = {"t1": {"a": 1.0, "b": 1.0, "c": 2.0}}
    doc = rank_systems(_tidy(scores), system="system", task="task", score="score", higher_is_better=False)
    by = {s["system"]: s for s in doc["systems"]}
    assert by["a"]["borda"] == by["b"]["borda"] == 1.5 and by["c"]["borda"] == 0


def test_two_level_borda_with_instances():
    rows = [("a", "t", i, 1.0) for i in range(3)] + [("b", "t", i, 0.0) for i in range(3)] + \
           [("a", "u", 0, 0.0), ("b", "u", 0, 1.0)]
    doc = rank_systems(pd.DataFrame(rows, columns=["system", "task", "item", "score"]), system="system", task="task",
                       score="score", instance="item")
    assert {s["system"]: s["borda"] for s in doc["systems"]} == {"a": 1.0, "b": 1.0}  # one vote per task


def test_missing_scores_are_refused_or_their_tasks_dropped():
    scores = _tidy({"t1": {"a": 1.0, "b": 2.0}, "t2": {"a": 1.0, "b": 3.0}})
    scores = scores[~((scores.system == "a") & (scores.task == "t2"))]
    with pytest.raises(sl.InputError, match="task 't2' has no score for `system` = 'a'"):
        rank_systems(scores, system="system", task="task", score="score")
    doc = rank_systems(scores, system="system", task="task", score="score", missing="drop-tasks")
    assert doc["dropped_tasks"] == ["t2"] and doc["tasks"] == 1
    assert {s["system"]: s["mean_score"] for s in doc["systems"]} == {"a": 1.0, "b": 2.0}  # t2 left out of the mean
    text = scores.astype({"score": object})
    text.loc[text.index[0], "score"] = "high"
    with pytest.raises(sl.InputError, match="must hold finite numbers; row 1 has 'high'"):
        rank_systems(text, system="system", task="task", score="score", missing="drop-tasks")
    with pytest.raises(sl.InputError, match="must name different columns"):
        rank_systems(scores, system="system", task="task", score="score", instance="task")
    with pytest.raises(sl.InputError, match="--score must name a column"):
        rank_systems(scores, system="system", task="task", score="acc")


def test_cli_rank(tmp_path, capsys):
    path = tmp_path / "scores.csv"
    _tidy({"t1": {"a": 0.9, "b": 0.8}, "t2": {"a": 0.7, "b": 0.75}, "t3": {"a": 0.5, "b": 0.4}}).to_csv(path, index=False)
    assert run(["rank", str(path), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [s["system"] for s in doc["systems"]] == ["a", "b"]
    assert run(["rank", str(path)]) == 0
    assert "Kemeny consensus: exact" in capsys.readouterr().out
    assert run(["rank", str(path), "--missing", "skip"]) == 2
    assert "--missing must be one of error, drop-tasks" in capsys.readouterr().err
