"""Test-time compute decisions: resampling against an imperfect verifier (against simulation and its
closed forms), the FLOPs exchange rate, and the `verify` command."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from scalinglaws.cli import app
from scalinglaws.errors import InputError
from scalinglaws.testtime import flops_exchange, resampling


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_resampling_matches_a_simulation_of_the_verifier_loop():
    rng = np.random.default_rng(0)
    r, fp, c_v, K = np.array([0.6, 0.05]), np.array([0.2, 0.1]), 0.9, 4
    outcome = {"ok": 0, "wrong": 0}
    trials = 200_000
    task = rng.integers(0, 2, trials)
    for t in range(2):
        m = int(np.sum(task == t))
        correct = rng.random((m, K)) < r[t]
        accepted = np.where(correct, rng.random((m, K)) < c_v, rng.random((m, K)) < fp[t])
        first = np.where(accepted.any(axis=1), accepted.argmax(axis=1), -1)
        hit = first >= 0
        outcome["ok"] += int(np.sum(correct[hit, first[hit]]))
        outcome["wrong"] += int(np.sum(~correct[hit, first[hit]]))
    d = resampling(r, fp, [K], completeness=c_v)
    assert d["accuracy"][0] == pytest.approx(outcome["ok"] / trials, abs=4e-3)
    assert d["wrong"][0] == pytest.approx(outcome["wrong"] / trials, abs=4e-3)


def test_the_ceiling_and_the_best_number_of_attempts_follow_their_definitions():
    d = resampling([0.87, 0.13], 0.25, range(1, 201), v_fp=-1.0)  # Stroebl et al.'s notebook example
    ceiling = np.mean([0.87 / (0.87 + 0.25 * 0.13), 0.13 / (0.13 + 0.25 * 0.87)])
    assert d["ceiling"] == pytest.approx(ceiling, rel=1e-12) and d["accuracy"][-1] == pytest.approx(ceiling, rel=1e-9)
    assert d["best_k"] == 1 + int(np.argmax(d["reward"])) and d["best_reward"] == pytest.approx(max(d["reward"]))
    assert d["best_k"] == 2  # the hard task's false positives outweigh its successes after a second attempt
    one = resampling([0.5], 0.0, [1, 10])  # a perfect verifier: every attempt is worth taking
    assert one["accuracy"] == pytest.approx([0.5, 1 - 0.5**10]) and one["best_k"] == 10 and one["ceiling"] == 1.0
    never = resampling([0.1], 0.9, [1, 5], v_fp=-1.0)  # accepting mostly wrong answers: abstain
    assert never["best_k"] == 0 and never["best_reward"] == 0.0
    for bad in (dict(r=[1.2], fp=0.1), dict(r=[0.5], fp=-0.1)):
        with pytest.raises(InputError, match="probability"):
            resampling(bad["r"], bad["fp"], [1])


def test_flops_exchange_is_snell_et_al_s_factor():
    assert flops_exchange(14, [0.16, 0.79, 22]) == pytest.approx([14 + 39 / 0.16, 14 + 39 / 0.79, 14 + 39 / 22])
    assert flops_exchange(1, 5) == 1.0
    with pytest.raises(InputError, match="M >= 1"):
        flops_exchange(0.5, 1)


def test_verify_reads_counts_per_model(tmp_path):
    pd.DataFrame({"model": ["a"] * 3 + ["b"] * 3, "n": 100, "c": [90, 10, 0, 50, 50, 5],
                  "fp": [0.1, 0.2, 0.3, 0.1, 0.1, 0.1]}).to_csv(tmp_path / "c.csv", index=False)
    got = cli("verify", tmp_path / "c.csv", "--fp-rate", "fp", "--by", "model", "--k", "1,10", "--format", "json")
    assert got.exit_code == 0, got.output
    a = json.loads(got.stdout)["groups"][0]
    expected = resampling([0.9, 0.1, 0.0], [0.1, 0.2, 0.3], [1, 10])
    assert a["group"] == "a" and a["accuracy"] == pytest.approx(expected["accuracy"], rel=1e-12)
    table = cli("verify", tmp_path / "c.csv", "--fp-rate", "0.05", "--by", "model")
    assert table.exit_code == 0 and "ceiling" in table.stdout
    for args, message in ((["--fp-rate", "nope"], "must be a number or a column"),
                          (["--fp-rate", "1.5"], "probability"),
                          (["--fp-rate", "0.1", "--k", "0"], "--k must be whole numbers")):
        got = cli("verify", tmp_path / "c.csv", *args)
        assert got.exit_code == 1 and message in got.output and "Traceback" not in got.output, args


def test_the_solve_verify_frontier_keeps_exactly_the_undominated_splits():
    from scalinglaws.testtime import solve_verify_frontier

    S, V = (a.ravel() for a in np.meshgrid([1, 2, 4, 8, 16, 32], [0, 1, 2, 4, 8]))
    y = 1 - np.exp(-0.05 * S**0.6 * (1 + V) ** 0.4)
    f = solve_verify_frontier(S, V, y, lam=0.5)
    C = S * (1 + 0.5 * V)
    assert np.all(np.diff(f["C"]) > 0) and np.all(np.diff(f["success"]) > 0)
    for c, s_, v, y_ in zip(C, S, V, y):  # every configuration is on the frontier or beaten at no more cost
        on = any(fc == c and fs == s_ and fv == v for fc, fs, fv in zip(f["C"], f["S"], f["V"]))
        assert on or any(fc <= c and fy >= y_ for fc, fy in zip(f["C"], f["success"]))
    assert f["S"][0] == 1 and f["V"][0] == 0  # the cheapest configuration starts it
    with pytest.raises(InputError, match="--lambda"):
        solve_verify_frontier(S, V, y, lam=0.0)
    with pytest.raises(InputError, match="success rate out of range at configuration 2"):
        solve_verify_frontier([1, 2], [0, 0], [0.1, 1.5], lam=1.0)


def test_verify_refuses_a_rate_column_in_a_samples_table_and_too_many_attempts(tmp_path):
    pd.DataFrame({"problem": ["b", "a"], "correct": [1, 0], "fp": [0.0, 0.9]}).to_csv(tmp_path / "s.csv", index=False)
    got = cli("verify", tmp_path / "s.csv", "--fp-rate", "fp")
    assert got.exit_code == 1 and "only in a table of counts" in got.output
    with pytest.raises(InputError, match="1..1e\\+05"):
        resampling([0.5] * 10, 0.1, [1, 10**6])
    big = resampling(np.full(20_000, 1e-4), 1e-5, [1, 100_000])  # chunked: no problems x attempts matrix
    assert 0 < big["accuracy"][1] <= big["ceiling"] + 1e-12
