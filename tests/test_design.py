"""Which runs to train next: the proposal shrinks the interval it promises to, within the budget."""

import json

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl
from scalinglaws.cli import run
from scalinglaws.design import propose_runs

P = {"E": 1.81686, "A": 482.006, "B": 2085.434, "alpha": 0.34781, "beta": 0.36585}
TARGET = {"N": 1e10, "D": 2e11}


@pytest.fixture(scope="module")
def small_fit():
    rng = np.random.default_rng(0)
    N = np.repeat([2e7, 5e7, 1e8, 2e8], 3)
    D = N * np.tile([5.0, 20.0, 80.0], 4)
    y = sl.get_law("chinchilla").predict(P, {"N": N, "D": D}) * np.exp(rng.normal(0, 0.01, N.size))
    return sl.fit("chinchilla", pd.DataFrame({"N": N, "D": D, "loss": y}), bootstrap=64, rng=0)


def test_proposal_fits_the_budget_and_narrows_the_interval(small_fit):
    doc = propose_runs(small_fit, 3e19, TARGET)
    runs = doc["runs"]
    assert runs and doc["spent"] == pytest.approx(sum(r["C"] for r in runs)) and doc["spent"] <= 3e19
    widths = [doc["width_now"]] + [r["width_after"] for r in runs]
    assert all(a >= b for a, b in zip(widths, widths[1:]))  # every run narrows it (in expectation)
    assert doc["width_after"] < doc["width_now"]
    for r in runs:
        assert r["C"] == pytest.approx(6 * r["N"] * r["D"])
    assert sum(c["count"] for c in doc["configurations"]) == len(runs)
    assert max(c["count"] for c in doc["configurations"]) <= 3  # at most 3 seeds of one configuration
    assert doc["stopped"] in ("budget", "nothing to learn", "max runs") and doc["width_kind"] == "ratio"
    # per FLOP beats spending the budget on the single most informative run
    one = propose_runs(small_fit, 3e19, TARGET, per_flop=False, max_runs=1)
    assert doc["width_after"] < one["width_after"]


def test_more_budget_buys_a_narrower_interval(small_fit):
    small = propose_runs(small_fit, 1e18, TARGET)
    large = propose_runs(small_fit, 1e20, TARGET)
    assert large["width_after"] < small["width_after"]


def test_design_errors(small_fit, chinchilla_runs):
    with pytest.raises(sl.InputError, match="needs a fit with bootstrap replicates"):
        propose_runs(sl.fit("chinchilla", chinchilla_runs), 1e20, TARGET)
    with pytest.raises(sl.InputError, match="--target must give N and D"):
        propose_runs(small_fit, 1e20, {"N": 1e10})
    with pytest.raises(sl.InputError, match="--target must give N and D \\(and nothing else\\); got N, D, U"):
        propose_runs(small_fit, 1e20, {"N": 1e10, "D": 1e11, "U": 3})
    with pytest.raises(sl.InputError, match="--target N must be a finite positive number"):
        propose_runs(small_fit, 1e20, {"N": -1e10, "D": 1e11})
    few = propose_runs(small_fit, 1e21, TARGET, max_runs=5)
    assert len(few["runs"]) == 5 and few["stopped"] == "max runs"
    with pytest.raises(sl.InputError, match="no candidate run fits a budget"):
        propose_runs(small_fit, 1e10, TARGET)
    with pytest.raises(sl.InputError, match="--budget must be a positive number"):
        propose_runs(small_fit, -1, TARGET)


def test_cli_design(small_fit, tmp_path, capsys):
    path = tmp_path / "fit.json"
    path.write_text(json.dumps(small_fit.to_dict()))
    assert run(["design", str(path), "--budget", "1e19", "--target", "N=1e10,D=2e11", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["runs"] and doc["width_after"] < doc["width_now"]
    assert run(["design", str(path), "--budget", "1e19", "--target", "N=1e10,D=2e11"]) == 0
    assert "runs to train next" in capsys.readouterr().out
    assert run(["design", str(path), "--budget", "1e19", "--target", "N=1e10"]) == 1
    assert "--target must give N and D" in capsys.readouterr().err
