"""Chains (law -> link): the forecast is the composition, the interval the union over the first
stage's interval, documents round-trip, the CLI fits, predicts and backtests them, and on Gadre
et al.'s runs the interval holds the held-out truths."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import scalinglaws as sl
from scalinglaws.chain import GRID
from scalinglaws.cli import app
from scalinglaws.errors import InputError

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_data = pytest.mark.skipif(not DATA.exists(), reason="../shared/data is not beside the checkout")
TRUTH = dict(E=1.8, A=400.0, B=1500.0, alpha=0.34, beta=0.36)
LINK = dict(epsilon=0.85, k=2.2, gamma=0.7)


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def runs():
    rng = np.random.default_rng(5)
    n = np.exp(rng.uniform(np.log(1e7), np.log(1e9), 60))
    d = n * np.exp(rng.uniform(np.log(5), np.log(200), 60))
    loss = sl.get_law("chinchilla").predict(TRUTH, {"N": n, "D": d}) * np.exp(0.005 * rng.standard_normal(60))
    err = sl.get_law("err_from_loss_exp").predict(LINK, {"L": loss}) + 0.003 * rng.standard_normal(60)
    return pd.DataFrame({"N": n, "D": d, "loss": loss, "err": err})


@pytest.fixture(scope="module")
def chain(runs):
    return sl.fit_chain("chinchilla", runs, then="err_from_loss_exp", via="loss", y="err", bootstrap=100)


def test_a_chain_forecasts_the_link_at_the_laws_forecast_and_recovers_both_stages(chain):
    assert chain.status == "converged" and chain.via == "loss" and chain.name == "chinchilla -> err_from_loss_exp"
    assert chain.first.params["alpha"] == pytest.approx(TRUTH["alpha"], rel=0.1)
    assert chain.second.params["gamma"] == pytest.approx(LINK["gamma"], rel=0.1)
    x = {"N": [3e9, 1e10], "D": [6e10, 2e11]}
    assert chain.predict(x) == pytest.approx(chain.second.predict({"L": chain.first.predict(x)}), rel=1e-15)
    truth = sl.get_law("err_from_loss_exp").predict(LINK, {"L": sl.get_law("chinchilla").predict(TRUTH, x)})
    assert chain.predict(x) == pytest.approx(truth, abs=0.01)


def test_a_chains_interval_is_the_union_of_the_links_intervals_over_the_first_stages(chain):
    x = {"N": [3e9, 1e10], "D": [6e10, 2e11]}
    lo, hi = chain.predict_interval(x, level=0.9)
    lo1, hi1 = chain.first.predict_interval(x, level=0.95)
    for v in (lo1, hi1, chain.first.predict(x)):  # the link's interval at the ends and the centre lies inside
        lo2, hi2 = chain.second.predict_interval({"L": v}, level=0.95)
        assert np.all(lo <= lo2 + 1e-15) and np.all(hi2 <= hi + 1e-15)
    grid = np.linspace(lo1, hi1, GRID)
    lo2, hi2 = chain.second.predict_interval({"L": grid.ravel()}, level=0.95)
    assert lo == pytest.approx(np.minimum(lo2.reshape(grid.shape).min(axis=0), chain.second.predict_interval(
        {"L": chain.first.predict(x)}, level=0.95)[0]), rel=1e-12)
    truth = sl.get_law("err_from_loss_exp").predict(LINK, {"L": sl.get_law("chinchilla").predict(TRUTH, x)})
    assert np.all((lo <= truth) & (truth <= hi))


def test_a_chain_document_round_trips_and_refuses_a_broken_one(chain):
    doc = json.loads(json.dumps(chain.to_dict()))
    again = sl.ChainResult.from_dict(doc)
    x = {"N": [3e9], "D": [6e10]}
    assert again.predict(x) == pytest.approx(chain.predict(x), rel=1e-15)
    assert np.array(again.predict_interval(x, 0.8)) == pytest.approx(np.array(chain.predict_interval(x, 0.8)), rel=1e-12)
    with pytest.raises(InputError, match="two stages"):
        sl.ChainResult.from_dict({"chain": [doc["chain"][0]]})
    swapped = {"chain": [doc["chain"][0], {**doc["chain"][1], "columns": {"L": "other"}}]}
    with pytest.raises(InputError, match="reads `other` where the first forecasts `loss`"):
        sl.ChainResult.from_dict(swapped)
    with pytest.raises(InputError, match="takes one input"):
        sl.ChainResult(chain.first, chain.first)


def test_fit_chain_refuses_what_it_cannot_chain(runs):
    for kwargs, message in ((dict(then="chinchilla", via="loss", y="err"), "takes a law of one input"),
                            (dict(then="err_from_loss_exp", via="loss", y="loss"), "same column"),
                            (dict(then="err_from_loss_exp", via="", y="err"), "--via must name"),
                            (dict(then="err_from_loss_exp", via="loss", y=None), "--y must name"),
                            (dict(then="err_from_loss_exp", via="loss", y="err", fix={"E": 1.8}), "--fix")):
        with pytest.raises(InputError, match=message):
            sl.fit_chain("chinchilla", runs, **kwargs)
    with pytest.raises(InputError, match="needs both stages"):
        sl.fit_chain("chinchilla", runs, then="err_from_loss_exp", via="loss", y="err").predict_interval({"N": [1e9], "D": [1e10]})


def test_the_cli_fits_predicts_and_backtests_a_chain(runs, tmp_path):
    path = tmp_path / "runs.csv"
    runs.to_csv(path, index=False)
    got = cli("fit", path, "--law", "chinchilla", "--then", "err_from_loss_exp", "--via", "loss", "--y", "err",
              "--bootstrap", "50", "--out", tmp_path / "chain.json", "--format", "json")
    assert got.exit_code == 0, got.output
    doc = json.loads(got.stdout)
    assert doc["via"] == "loss" and [d["law"] for d in doc["chain"]] == ["chinchilla", "err_from_loss_exp"]
    for fmt in ("json", "table"):
        got = cli("predict", tmp_path / "chain.json", "--at", "N=3e9,D=6e10", "--interval", "0.9", "--format", fmt)
        assert got.exit_code == 0, got.output
    p = json.loads(cli("predict", tmp_path / "chain.json", "--at", "N=3e9,D=6e10", "--interval", "0.9",
                       "--format", "json").stdout)["predictions"][0]
    chain = sl.ChainResult.from_dict(json.loads((tmp_path / "chain.json").read_text()))
    assert p["y"] == pytest.approx(float(chain.predict({"N": [3e9], "D": [6e10]})[0]), rel=1e-12)
    assert p["lo"] < p["y"] < p["hi"] and p["extrapolation"] == "extrapolation" and p["via_outside"] == "below"
    got = cli("plan", tmp_path / "chain.json", "--compute", "1e21")
    assert got.exit_code == 1 and "holds a chain" in got.output
    got = cli("backtest", path, "--law", "chinchilla", "--then", "err_from_loss_exp", "--via", "loss", "--y", "err",
              "--train-where", "N < 3e8", "--format", "json")
    assert got.exit_code == 0, got.output
    score = json.loads(got.stdout)["laws"][0]
    assert score["law"] == "chinchilla -> err_from_loss_exp" and score["rmse"] < 0.02
    table = cli("backtest", path, "--law", "chinchilla", "--then", "err_from_loss_exp", "--via", "loss", "--y", "err",
                "--train-where", "N < 3e8")
    assert table.exit_code == 0 and "chinchilla -> err_from_loss_exp" in table.stdout


def test_the_cli_refuses_half_a_chain(runs, tmp_path):
    path = tmp_path / "runs.csv"
    runs.to_csv(path, index=False)
    for args, code, message in (
            (["--via", "loss"], 2, "add --then"),
            (["--then", "err_from_loss_exp"], 2, "--then needs --via"),
            (["--then", "err_from_loss_exp", "--via", "loss", "--by", "N"], 2, "--by fits one law per group"),
            (["--then", "chinchilla", "--via", "loss"], 1, "takes a law of one input"),
            (["--then", "err_from_loss_exp", "--via", "nope"], 1, "nope")):
        got = cli("fit", path, "--law", "chinchilla", "--y", "err", *args)
        assert got.exit_code == code and message in got.output and "Traceback" not in got.output, (args, got.output)
    got = cli("backtest", path, "--law", "chinchilla", "--via", "loss", "--y", "err", "--train-where", "N < 3e8")
    assert got.exit_code == 1 and "add --then" in got.output


@needs_data
def test_gadre_chain_interval_holds_the_held_out_17_task_errors():
    runs = pd.read_csv(DATA / "overtrain_gadre2024" / "overtrain_runs_losses.csv")
    rpj = runs[runs.dataset == "rpj"].rename(columns={"N_params": "N", "D_tokens": "D"})
    chain = sl.fit_chain("overtrain_cm", rpj, then="err_from_loss_exp", via="loss_c4_val", y="err_avg_subset17",
                         where="N < 1e9", bootstrap=200)
    big = rpj[((rpj.model_config == "open_lm_1b") & (rpj.tokens_per_param_M == 640)) | (rpj.model_config == "open_lm_7b")]
    lo, hi = chain.predict_interval(big, level=0.9)
    truth = big.err_avg_subset17.to_numpy()  # 0.4752 (1.4B, M = 640) and 0.4716 (6.9B)
    assert np.all((lo <= truth) & (truth <= hi))
    assert np.all(np.abs(chain.predict(big) / truth - 1) < 0.03)  # measured: 2.0% and 1.5%
    assert np.all(hi - lo < 0.35)  # measured: 0.30 and 0.31


def test_a_link_ordered_by_loss_is_calibrated_from_high_loss_to_low_and_says_when_it_extrapolates(chain, runs):
    from scalinglaws.nested import scale_of

    law = sl.get_law("err_from_loss_exp")
    assert np.all(np.diff(scale_of({"L": np.array([2.0, 3.0, 4.0])}, law)) < 0)  # a higher loss is a smaller scale
    far = {"N": [1e11], "D": [2e12]}
    assert chain.link_extrapolated(far)[0] and not chain.link_extrapolated({"N": [1e8], "D": [1e9]})[0]


@pytest.mark.xdist_group("auto")
def test_law_auto_chooses_a_chains_first_stage(runs):
    chain = sl.fit_chain("auto", runs, then="err_from_loss_exp", via="loss", y="err",
                         candidates=["chinchilla", "kaplan_nd"])
    assert chain.first.selection is not None and chain.first.law.name in ("chinchilla", "kaplan_nd")
    assert chain.second.law.name == "err_from_loss_exp" and chain.second.selection is None
    x = {"N": [3e9], "D": [6e10]}
    assert chain.predict(x) == pytest.approx(chain.second.predict({"L": chain.first.predict(x)}), rel=1e-15)
