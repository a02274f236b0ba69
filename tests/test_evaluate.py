"""Backtests: fit on the small scales, score on the held-out large ones."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import scalinglaws as sl
from scalinglaws.cli import app


@pytest.fixture(scope="module")
def bt(chinchilla_runs):
    return sl.backtest("chinchilla,kaplan_nd", chinchilla_runs, train_where="C < 1e21")


def test_backtest_scores_each_law_on_the_held_out_runs(bt, chinchilla_runs):
    t = chinchilla_runs.table
    kept = ~t["excluded"]
    assert bt.n_train == int((kept & (t["C"] < 1e21)).sum()) and bt.n_test == int((kept & (t["C"] >= 1e21)).sum())
    assert [s.law for s in bt.scores] == ["chinchilla", "kaplan_nd"]
    assert sum(s.wins for s in bt.scores) == bt.n_test
    chin = bt.scores[0]
    assert 0 < chin.are < 0.05 and chin.max_are >= chin.are and chin.rmse_log > abs(chin.bias_log)


def test_backtest_metrics_match_a_direct_computation(bt, chinchilla_runs):
    t = chinchilla_runs.table
    fit = sl.fit("chinchilla", chinchilla_runs, where="C < 1e21")
    test = t[~t["excluded"] & (t["C"] >= 1e21)]
    e = np.log(fit.predict(test)) - np.log(test["loss"].to_numpy())
    assert bt.scores[0].rmse_log == pytest.approx(np.sqrt(np.mean(e**2)), rel=1e-12)
    assert bt.scores[0].are == pytest.approx(np.mean(np.abs(np.expm1(e))), rel=1e-12)


def test_backtest_never_looks_at_held_out_targets(bt, chinchilla_runs):
    t = chinchilla_runs.table.copy()
    t.loc[t["C"] >= 1e21, "loss"] *= 1.5  # corrupt only the held-out runs
    corrupted = sl.backtest("chinchilla,kaplan_nd", t, train_where="C < 1e21")
    for a, b in zip(bt.scores, corrupted.scores, strict=True):
        assert b.bias_log == pytest.approx(a.bias_log - np.log(1.5), abs=1e-9)  # same forecasts, shifted truth


def test_backtest_errors(chinchilla_runs):
    with pytest.raises(sl.InputError, match="`C < 0` leaves no runs to train on"):
        sl.backtest("chinchilla", chinchilla_runs, train_where="C < 0")
    with pytest.raises(sl.InputError, match="6 free parameters|5 free parameters"):
        sl.backtest("chinchilla", chinchilla_runs, train_where="C < 2e18")
    few = chinchilla_runs.table.sort_values("C").head(12)  # 5 runs below the cut: kaplan_nd (4 parameters) fits, chinchilla not
    bt = sl.backtest("chinchilla,kaplan_nd", few, train_where=f"C <= {float(few['C'].iloc[4])!r}")
    assert [s.law for s in bt.scores] == ["kaplan_nd"]
    assert len(bt.skipped) == 1 and bt.skipped[0].startswith("law chinchilla: law chinchilla has 5 free parameters")
    with pytest.raises(sl.InputError, match="^--train-where `C < 2e18`: law chinchilla has 5 free parameters"):
        sl.backtest("chinchilla", chinchilla_runs, train_where=["C < 1e21", "C < 2e18"])
    with pytest.raises(sl.InputError, match="leaves no runs to test on"):
        sl.backtest("chinchilla", chinchilla_runs, train_where="C > 0")
    with pytest.raises(sl.InputError, match="--train-where must be a condition"):
        sl.backtest("chinchilla", chinchilla_runs, train_where=" ")
    with pytest.raises(sl.InputError, match="`chinchilla` is named 2 times"):
        sl.backtest("chinchilla,chinchilla", chinchilla_runs, train_where="C < 1e21")
    with pytest.raises(sl.InputError, match="unknown law `nope`"):
        sl.backtest("chinchilla,nope", chinchilla_runs, train_where="C < 1e21")


def test_cli_backtest_table_and_json():
    runner = CliRunner()
    args = ["backtest", "chinchilla", "--law", "chinchilla,kaplan_nd", "--train-where", "C < 1e21"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0 and "kaplan_nd" in res.stdout and "wins" in res.stdout
    doc = json.loads(runner.invoke(app, args + ["--format", "json"]).stdout)
    assert [d["law"] for d in doc["laws"]] == ["chinchilla", "kaplan_nd"]
    assert {"are", "rmse_log", "bias_log", "wins", "status"} <= set(doc["laws"][0])
