"""Multiple-choice metrics from log-probabilities: against hand computation, ties, bad input, and the
`mcq` command's table, which `fit` reads."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from scalinglaws.cli import app
from scalinglaws.errors import InputError
from scalinglaws.mcq import choice_metrics


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def _items(model, n, lps):
    """Items whose choices have the log-probabilities ``lps`` (the first is correct)."""
    return pd.DataFrame([dict(model=model, N=n, item=i, logprob=lp, correct=int(j == 0))
                         for i, row in enumerate(lps) for j, lp in enumerate(row)])


def test_metrics_equal_their_definitions_by_hand():
    lps = [[np.log(0.2), np.log(0.1), np.log(0.05)], [np.log(0.01), np.log(0.3), -np.inf]]
    got = choice_metrics(_items("a", 1e9, lps), by="model").iloc[0]
    share = [np.array([0.2, 0.1, 0.05]) / 0.35, np.array([0.01, 0.3, 0.0]) / 0.31]
    assert got["items"] == 2 and got["choices"] == 3 and got["N"] == 1e9
    assert got["logp_correct"] == pytest.approx((np.log(0.2) + np.log(0.01)) / 2, rel=1e-14)
    assert got["p_vocab_correct"] == pytest.approx(0.105, rel=1e-14)
    assert got["p_choice_correct"] == pytest.approx((share[0][0] + share[1][0]) / 2, rel=1e-14)
    brier = [np.sum((np.array([1, 0, 0]) - s) ** 2) for s in share]
    assert got["brier"] == pytest.approx(np.mean(brier), rel=1e-14)
    assert got["accuracy"] == 0.5  # right on the first item, wrong on the second


def test_a_tie_for_the_top_share_shares_the_credit_and_tiny_probabilities_keep_their_shares():
    got = choice_metrics(_items("a", 1, [[-800.0, -800.0, -800.0, -900.0]]))  # exp(-800) underflows; shares do not
    assert got["accuracy"].iloc[0] == pytest.approx(1 / 3) and got["p_choice_correct"].iloc[0] == pytest.approx(1 / 3)
    assert "model" not in got.columns  # no --by: one row, no group column


def test_bad_tables_are_refused_with_the_column_and_row():
    good = _items("a", 1, [[-1.0, -2.0], [-0.5, -3.0]])
    for change, message in ((lambda t: t.assign(logprob=t.logprob.where(t.index != 1, 0.3)), "row 2 has 0.3"),
                            (lambda t: t.assign(correct=t.correct.where(t.index != 0, 2)), "row 1 has 2"),
                            (lambda t: t.assign(correct=0), "marks 0 correct choices"),
                            (lambda t: t.assign(logprob=-np.inf), "probability 0 on every choice")):
        with pytest.raises(InputError, match=message):
            choice_metrics(change(good.copy()), by="model")
    with pytest.raises(InputError, match="--logprob column `lp` not found"):
        choice_metrics(good, logprob="lp")


def test_mcq_command_prints_and_writes_a_table_fit_reads(tmp_path):
    rng = np.random.default_rng(1)
    frames = []
    for n in np.geomspace(1e8, 1e11, 8):  # the correct choice gains probability as a power of N
        correct = np.log(0.5 * (n / 1e8) ** 0.1 * 0.1) + 0.01 * rng.standard_normal(40)
        frames.append(_items(f"m{n:.0e}", n, [[c, -3.0, -3.5, -4.0] for c in correct]))
    path = tmp_path / "lp.csv"
    pd.concat(frames).to_csv(path, index=False)
    got = cli("mcq", path, "--by", "model", "--out", tmp_path / "metrics.csv", "--format", "json")
    assert got.exit_code == 0, got.output
    doc = json.loads(got.stdout)
    assert doc["by"] == "model" and len(doc["groups"]) == 8 and doc["groups"][0]["items"] == 40
    table = cli("mcq", path, "--by", "model")
    assert table.exit_code == 0 and "p_choice_correct" in table.stdout
    fitted = cli("fit", tmp_path / "metrics.csv", "--law", "power_law", "--x", "x=N", "--y", "p_vocab_correct",
                 "--format", "json")
    assert fitted.exit_code == 0, fitted.output
    assert json.loads(fitted.stdout)["params"]["b"] == pytest.approx(-0.1, abs=0.01)  # p_vocab ~ N^0.1
    got = cli("mcq", path)  # the models' items share ids: without --by an item has 8 correct choices
    assert got.exit_code == 1 and "marks 8 correct choices" in got.output and "Traceback" not in got.output
