"""Comparing families: the crossover of curves that cross at a known scale, none for parallel ones."""

import json

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl
from scalinglaws.cli import run
from scalinglaws.compare import compare

FAMILIES = {"A": (2.0, 50.0, 0.3), "B": (1.8, 200.0, 0.3), "P": (2.1, 50.0, 0.3)}  # E, a, b of E + a x^-b
CROSS = (150.0 / 0.2) ** (1 / 0.3)  # A and B: 0.2 = 150 x^-0.3; P is A shifted up: parallel, never crosses


def _table(seed, top=1e11):
    rng = np.random.default_rng(seed)
    rows = [(f, x, (E + a * x ** -b) * np.exp(rng.normal(0, 0.003)))
            for f, (E, a, b) in FAMILIES.items() for x in np.geomspace(1e6, top, 12)]
    return pd.DataFrame(rows, columns=["family", "C", "loss"])


@pytest.mark.parametrize("seed, top", [(0, 1e11), (1, 1e9)])  # the crossing inside the runs, then beyond them
def test_crossover_found_at_the_known_scale_and_none_for_parallel_curves(seed, top):
    fits, _ = sl.fit_groups("power_law_offset", _table(seed, top), "family", x={"x": "C"}, bootstrap=100, rng=seed)
    doc = compare(fits, {"x": 1e13})
    pairs = {tuple(c["between"]): c for c in doc["crossovers"]}
    ab = pairs[("A", "B")]
    lo, hi = ab["interval"]["x"]
    assert lo < CROSS < hi and lo < ab["at"]["x"] < hi
    assert ab["where"] == ("inside the runs" if top > CROSS else "beyond the runs")
    assert ("A", "P") not in pairs  # parallel: no crossover
    best = {f["family"]: f["p_best"] for f in doc["families"]}
    assert best["B"] > 0.95 and sum(best.values()) == pytest.approx(1.0)


def test_compare_needs_replicates_and_one_law():
    fits, _ = sl.fit_groups("power_law_offset", _table(0), "family", x={"x": "C"})
    with pytest.raises(sl.InputError, match="needs bootstrap replicates"):
        compare(fits, {"x": 1e13})
    with pytest.raises(sl.InputError, match="at least 2 families"):
        compare({"A": fits["A"]}, {"x": 1e13})


def test_cli_compare(tmp_path, capsys):
    path = tmp_path / "families.csv"
    _table(0).to_csv(path, index=False)
    args = ["compare", str(path), "--law", "power_law_offset", "--by", "family", "--x", "x=C", "--at", "x=1e13",
            "--bootstrap", "50"]
    assert run(args + ["--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [c["between"] for c in doc["crossovers"]] == [["A", "B"], ["B", "P"]]
    assert {f["family"] for f in doc["families"]} == {"A", "B", "P"}
    assert run(args) == 0
    text = capsys.readouterr().out
    assert "crossover: A and B cross at x = " in text and "P(best)" in text
    assert run(args[:-4] + ["--at", "y=3"]) == 1
    assert "--at must give every input of law power_law_offset (x); it lacks x" in capsys.readouterr().err
