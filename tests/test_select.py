"""`--law auto` (nested selection), per-run weights, and the backtest splits built on them."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import scalinglaws as sl
from scalinglaws.cli import app

# the auto tests share one worker: concurrent cold compiles of the same ~80 programs in two workers
# take twice as long each (the persistent cache cannot help while both are compiling)
pytestmark = pytest.mark.xdist_group("auto")


def _curve(n=16, seed=0, noise=0.01):
    x = np.geomspace(1e3, 1e8, n)
    y = (0.3 + 5.0 * x**-0.3) * np.exp(noise * np.random.default_rng(seed).standard_normal(n))
    return pd.DataFrame({"tokens": x, "loss": y})


@pytest.fixture(scope="module")
def auto_fit():
    return sl.fit("auto", _curve(), x={"x": "tokens"})


def test_auto_picks_an_offset_power_law_on_an_offset_power_law_curve(auto_fit):
    sel = auto_fit.selection
    assert auto_fit.law.name == sel.law in ("power_law_offset", "m2")
    names = {c.law for c in sel.candidates}
    assert {"power_law", "power_law_offset", "m1", "m2", "m3", "m4", "bnsl", "bnsl2", "saturating_power",
            "sigmoid_log"} <= names
    scores = {c.law: c.score for c in sel.candidates}
    assert scores[sel.law] <= min(scores.values()) * 1.02 and scores["power_law"] > 5 * scores[sel.law]
    assert all(len(c.folds) == len(sel.folds) for c in sel.candidates if c.status == "scored")
    assert [f["n_train"] for f in sel.folds] == sorted(f["n_train"] for f in sel.folds)
    assert auto_fit.params["c" if sel.law == "m2" else "b"] == pytest.approx(-0.3 if sel.law == "m2" else 0.3, abs=0.03)


def test_auto_fit_document_round_trips_and_predicts(auto_fit):
    doc = json.loads(json.dumps(auto_fit.to_dict()))
    again = sl.FitResult.from_dict(doc)
    assert again == auto_fit and doc["law"] == auto_fit.law.name and doc["selection"]["law"] == doc["law"]
    assert again.predict({"x": [1e10]})[0] == pytest.approx(auto_fit.predict({"x": [1e10]})[0], rel=1e-14)


def test_auto_never_reads_runs_outside_the_training_selection():
    runs = _curve(20)
    where = "tokens < 5e6"  # 15 runs: the same padded size as the other auto tests, so their programs serve
    clean = sl.fit("auto", runs, x={"x": "tokens"}, where=where)
    corrupted = runs.copy()
    corrupted.loc[corrupted["tokens"] >= 5e6, "loss"] *= 7.0
    dirty = sl.fit("auto", corrupted, x={"x": "tokens"}, where=where)
    assert dirty.selection == clean.selection and dirty.params == clean.params
    assert all(f["n_train"] + f["n_test"] == clean.n_points for f in clean.selection.folds)


def test_auto_offers_the_bounded_sigmoid_only_for_bounded_targets():
    from scalinglaws.select import applicable_laws

    acc = pd.DataFrame({"x": np.geomspace(1e3, 1e8, 12), "acc": np.linspace(0.25, 0.8, 12)})
    assert "sigmoid_log" in {law.name for law in applicable_laws(acc, y="acc")}
    loss = _curve().assign(loss=lambda t: 3.0 * t["loss"])  # reaches above 1
    assert "sigmoid_log" not in {law.name for law in applicable_laws(loss, x={"x": "tokens"})}
    table = {law.name for law in applicable_laws(sl.load_dataset("chinchilla"))}
    assert table == {"chinchilla", "kaplan_nd"}  # laws using both inputs, not the one-input ones


def test_auto_refuses_options_it_cannot_honour():
    with pytest.raises(sl.InputError, match="--fix .* --law auto"):
        sl.fit("auto", _curve(), x={"x": "tokens"}, fix={"E": 0.3})
    with pytest.raises(sl.InputError, match="several scales|no registered law"):
        sl.fit("auto", pd.DataFrame({"x": [1e3] * 10, "loss": np.linspace(1, 2, 10)}))


def test_zero_weight_leaves_a_run_out_exactly():
    runs = _curve(20, seed=3)
    w = np.ones(20)
    w[[4, 11]] = 0.0
    weighted = sl.fit("power_law_offset", runs.assign(w=w), x={"x": "tokens"}, weights="w")
    dropped = sl.fit("power_law_offset", runs.drop(index=[4, 11]), x={"x": "tokens"})
    assert weighted.n_points == 18 and weighted.x_range == dropped.x_range
    for k, v in dropped.params.items():
        assert weighted.params[k] == pytest.approx(v, rel=1e-7)
    with pytest.raises(sl.InputError, match="column `w` \\(weights\\) must be finite and non-negative; row 3"):
        sl.fit("power_law_offset", runs.assign(w=np.r_[1, 1, -1, np.ones(17)]), x={"x": "tokens"}, weights="w")


def test_backtest_growing_cutoffs_and_coverage():
    runs = _curve(20, seed=1)
    bts = sl.backtest("power_law,power_law_offset", runs, x={"x": "tokens"},
                      train_where=["tokens < 1e6", "tokens < 1e7"], interval=0.9)
    assert len(bts) == 2 and bts[0].n_train < bts[1].n_train and bts[0].n_test > bts[1].n_test
    for bt, cut in zip(bts, ["tokens < 1e6", "tokens < 1e7"]):
        offset = bt.scores[1]
        assert bt.interval == 0.9 and offset.rmse_log < bt.scores[0].rmse_log
        # the coverage is the share of held-out runs inside the intervals of the same fit, recomputed here
        fit = sl.fit("power_law_offset", runs, x={"x": "tokens"}, where=cut, bootstrap=200)
        held = runs.query(f"~({cut})")
        lo, hi = fit.predict_interval({"x": held["tokens"].to_numpy()}, level=0.9)
        assert offset.coverage == np.mean((lo <= held["loss"]) & (held["loss"] <= hi))


def test_backtest_along_training_curves():
    rows = []
    for run, (E, a) in enumerate([(0.3, 5.0), (0.5, 3.0)]):
        step = np.geomspace(10, 1e5, 16)
        rows.append(pd.DataFrame({"run": run, "step": step, "loss": E + a * step**-0.4}))
    runs = pd.concat(rows, ignore_index=True)
    bt = sl.backtest("power_law,power_law_offset", runs, along="step", by="run", train_fraction=0.1, x={"x": "step"})
    per_run_held_out = int((runs["step"] > 0.1 * 1e5).sum())
    assert bt.n_test == per_run_held_out and "2 of 2 groups" in bt.train_where
    assert bt.scores[1].rmse_log < 1e-4 < bt.scores[0].rmse_log
    with pytest.raises(sl.InputError, match="--along column `nope` not found"):
        sl.backtest("power_law", runs, along="nope")


def test_cli_auto_and_backtest_with_auto(tmp_path):
    path = tmp_path / "curve.csv"
    _curve().to_csv(path, index=False)
    runner = CliRunner()
    res = runner.invoke(app, ["fit", str(path), "--law", "auto", "--x", "x=tokens", "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["selection"]["law"] == doc["law"] and doc["selection"]["candidates"]
    res = runner.invoke(app, ["fit", str(path), "--law", "auto", "--x", "x=tokens"])
    assert res.exit_code == 0 and "--law auto chose" in res.stdout
    res = runner.invoke(app, ["backtest", str(path), "--law", "auto,power_law", "--x", "x=tokens",
                              "--train-where", "tokens < 1e7", "--format", "json"])
    assert res.exit_code == 0, res.output
    laws = json.loads(res.stdout)["laws"]
    assert laws[0]["law"] == "auto" and laws[0]["chosen"] and laws[1]["chosen"] is None
    res = runner.invoke(app, ["fit", str(path), "--law", "auto", "--x", "x=tokens", "--fix", "E=1"])
    assert res.exit_code == 1 and "--law auto" in res.output
