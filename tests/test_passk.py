"""pass@k: the unbiased estimator against exhaustive enumeration, its precision at large n, the
published coverage curves, and the `passk` command."""

import itertools
import json
from math import comb
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from scalinglaws.cli import app
import scalinglaws as sl
from scalinglaws.errors import InputError
from scalinglaws.passk import coverage_curve, fit_coverage, pass_at_k

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "monkeys_repeated_sampling"


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_pass_at_k_equals_the_share_of_k_subsets_holding_a_correct_sample():
    for n in range(1, 9):
        for c in range(n + 1):
            samples = [1] * c + [0] * (n - c)
            got = pass_at_k(n, c, np.arange(1, n + 1))[0]
            for k in range(1, n + 1):
                subsets = list(itertools.combinations(samples, k))
                exact = sum(any(s) for s in subsets) / len(subsets)
                assert got[k - 1] == pytest.approx(exact, abs=1e-14), (n, c, k)
    assert np.isnan(pass_at_k(5, 2, [6])[0, 0])  # more draws than samples: no unbiased estimate


def test_pass_at_k_keeps_its_digits_at_large_n():
    n, k = 10_000, np.array([1, 10, 100, 1000, 5000, 10_000])
    for c in (0, 1, 7, 500, 9_999, 10_000):
        got = pass_at_k(n, c, k)[0]
        exact = [1 - comb(n - c, int(kk)) / comb(n, int(kk)) for kk in k]  # Python's exact integers
        assert np.all(np.isfinite(got)) and np.all(np.diff(got) >= 0)
        assert got == pytest.approx(exact, rel=1e-12, abs=1e-15), c
    tiny = pass_at_k(3_700_000, 1, [1])[0, 0]  # a pass rate of 2.7e-7 keeps its digits
    assert tiny == pytest.approx(1 / 3_700_000, rel=1e-12)


@pytest.mark.skipif(not DATA.exists(), reason="../shared/data is not beside the checkout")
def test_the_command_reproduces_the_published_coverage_curves():
    curves = pd.read_csv(DATA / "brown2024_pythia_math_coverage_vs_k.csv")
    ks = [1, 2, 10, 100, 1000, 10000]
    res = cli("passk", DATA / "brown2024_pythia_math_per_problem_counts.csv", "--k", ",".join(map(str, ks)),
              "--by", "Model", "--format", "json")
    assert res.exit_code == 0, res.output
    groups = json.loads(res.stdout)["groups"]
    assert len(groups) == 7
    for g in groups:
        published = curves[(curves.Model == g["group"]) & curves.k.isin(ks)].sort_values("k")["coverage_pass_at_k"]
        assert g["pass_at_k"] == pytest.approx(published.tolist(), abs=1e-9), g["group"]
        assert g["problems"] == [128] * len(ks) and g["left_out"] == [0] * len(ks)


def test_counts_or_samples_give_the_same_curve_and_problems_short_of_k_are_left_out(tmp_path):
    counts = pd.DataFrame({"problem": ["a", "b", "c"], "n": [4, 6, 2], "c": [1, 0, 2]})
    counts.to_csv(tmp_path / "counts.csv", index=False)
    rows = [(p, int(i < c)) for p, n, c in counts.itertuples(index=False) for i in range(n)]
    pd.DataFrame(rows, columns=["problem", "correct"]).to_csv(tmp_path / "samples.csv", index=False)
    docs = []
    for name in ("counts.csv", "samples.csv"):
        res = cli("passk", tmp_path / name, "--k", "1,3", "--k", "5", "--format", "json")
        assert res.exit_code == 0, res.output
        docs.append(json.loads(res.stdout))
    a, b = docs
    assert a["k"] == b["k"] == [1, 3, 5] and a["pass_at_k"] == pytest.approx(b["pass_at_k"], abs=1e-15)
    assert a["pass_at_k"][0] == pytest.approx((1 / 4 + 0 + 1) / 3)
    assert a["problems"] == [3, 2, 1] and a["left_out"] == [0, 1, 2]  # 5 draws: only the 6-sample problem
    table = cli("passk", tmp_path / "counts.csv", "--k", "1,3")
    assert table.exit_code == 0 and "left out" in table.stdout and "0.416667" in table.stdout


@pytest.mark.parametrize("table, args, code, message", [
    ("n,c\n4,5\n", ["--k", "1"], 1, "column `c` (correct) must not exceed column `n` (samples); row 1 has 5 of 4"),
    ("n,c\n-4,0\n", ["--k", "1"], 1, "column `n` must hold whole counts >= 0; row 1 has -4"),
    ("n,c\n4,1.5\n", ["--k", "1"], 1, "column `c` must hold whole counts >= 0; row 1 has 1.5"),
    ("n,c\n0,0\n", ["--k", "1"], 1, "column `n` must count at least 1 sample per problem"),
    ("n,c\n4,1\n", ["--k", "0"], 1, "--k must be whole numbers from 1 to 1e9; got 0"),
    ("n,c\n4,1\n", ["--k", "2.5"], 1, "--k must be whole numbers from 1 to 1e9; got 2.5"),
    ("n,c\n4,1\n", ["--k", "ten"], 1, "--k must be a number; got 'ten'"),
    ("n,c\n4,1\n", ["--k", "1", "--by", "model"], 1, "--by column `model` not found"),
    ("n\n4\n", ["--k", "1"], 1, "a table of counts needs a column of correct samples"),
    ("problem,correct\na,2\n", ["--k", "1"], 1, "column `correct` must be 0 or 1"),
    ("x,y\n1,2\n", ["--k", "1"], 1, "passk reads a table of counts"),
    ("model,n,c\nx,4,1\n,4,4\n", ["--k", "1", "--by", "model"], 1, "--by column `model` must name a group on every "
     "row; row 2 is empty"),
    ("problem,n,c\na,4,1\na,4,1\n", ["--k", "1"], 1, "problem 'a' (column `problem`) has a second row of counts at "
     "row 2; one row per problem, or one curve per model with --by COLUMN"),
    ("model,problem,correct\nx,a,1\nx,a,0\n", ["--k", "1", "--by", "problem"], 1, "--by column `problem` is also the "
     "--problem column"),
    ("c,n_samples,n_correct\ncfgA,10,5\n", ["--k", "1", "--n", "n_samples", "--c", "n_correct", "--by", "c"], 0, ""),
])
def test_bad_tables_and_options_are_refused_with_one_line(tmp_path, table, args, code, message):
    (tmp_path / "t.csv").write_text(table)
    res = cli("passk", tmp_path / "t.csv", *args)
    assert res.exit_code == code and (code == 0 or isinstance(res.exception, SystemExit)), res.output
    if code:
        assert res.stdout == "" and message in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_parameter_and_compute_columns_are_not_taken_for_samples(tmp_path):
    """`N` (parameters) and `C` (compute) beside `n_samples`, `n_correct`: names are matched exactly."""
    (tmp_path / "t.csv").write_text("model,N,C,n_samples,n_correct\na,1000000000,1e21,100,50\nb,2000000000,2e21,100,10\n")
    res = cli("passk", tmp_path / "t.csv", "--k", "1", "--format", "json")
    assert res.exit_code == 0 and json.loads(res.stdout)["pass_at_k"] == pytest.approx([0.3])


def test_problems_left_out_are_warned_and_sure_passes_take_no_time():
    from scalinglaws.passk import coverage, left_out_warning

    curve = coverage(pd.DataFrame({"n": [4, 100], "c": [1, 0]}), [1, 10])
    assert curve["left_out"] == [0, 1] and "1 of 2 problems have fewer than k = 10 samples" in left_out_warning(curve)
    assert left_out_warning(coverage(pd.DataFrame({"n": [4], "c": [1]}), [1])) is None
    sure = pass_at_k([1e9] * 3, [5e8] * 3, [2e8, 9e8])  # the ratio underflows: exactly 1, without 1e8 factors
    assert np.all(sure == 1.0)


def test_coverage_law_recovers_simulated_parameters_and_its_interval_holds_the_truth():
    rng = np.random.default_rng(3)
    k = np.unique(np.round(np.logspace(0, 2, 21)))
    a, b = -3.0, -0.35
    curve = pd.DataFrame({"k": k, "coverage": np.exp(a * k**b) * np.exp(0.003 * rng.standard_normal(k.size))})
    r = sl.fit("coverage_exp_power", curve, y="coverage", bootstrap=100)
    assert r.status == "converged"
    assert r.params["a"] == pytest.approx(a, rel=0.02) and r.params["b"] == pytest.approx(b, rel=0.02)
    lo, hi = r.predict_interval({"k": [1e3, 1e4]}, level=0.9)
    truth = np.exp(a * np.array([1e3, 1e4]) ** b)
    assert np.all((lo <= truth) & (truth <= hi)) and np.all(hi <= 1.0)


def test_coverage_curve_averages_one_set_of_problems_at_every_k():
    counts = pd.DataFrame({"n": [100, 100, 50], "c": [1, 30, 50]})  # the third has too few samples for k = 100
    curve, left_out = coverage_curve(counts, 100)
    assert left_out == 1 and curve["k"].iloc[0] == 1 and curve["k"].iloc[-1] == 100 and len(curve) >= 15
    assert curve["coverage"].to_numpy() == pytest.approx(pass_at_k([100, 100], [1, 30], curve["k"]).mean(axis=0))
    with pytest.raises(InputError, match="4 or more values of k"):
        coverage_curve(counts, 3)
    with pytest.raises(InputError, match="no problem has 1000 samples"):
        coverage_curve(counts, 1000)
    with pytest.raises(InputError, match="pass@k is 0 at k = 1"):
        coverage_curve(pd.DataFrame({"n": [100, 100], "c": [0, 0]}), 100)


def test_a_curve_still_at_the_floor_gets_a_warning_and_no_interval():
    counts = pd.DataFrame({"n": 1000, "c": [1] + [0] * 99})  # pass@100 = 0.001
    doc = fit_coverage(counts, 100, [1000], bootstrap=20)
    assert "below 0.05" in doc["warnings"][0] and "lo" not in doc["forecast"]
    assert doc["forecast"]["observed"] == [pytest.approx(0.01)]  # k = 1000 = n: the one solvable problem of 100


@pytest.mark.skipif(not DATA.exists(), reason="needs ../shared/data/monkeys_repeated_sampling")
def test_passk_fit_forecasts_brown_coverage_at_larger_k_with_intervals_that_hold(tmp_path):
    counts = pd.read_csv(DATA / "brown2024_pythia_math_per_problem_counts.csv")
    one = counts[counts.Model.isin(["Pythia 160M", "Pythia 2.8B"])]
    one.to_csv(tmp_path / "two.csv", index=False)
    got = cli("passk", tmp_path / "two.csv", "--k", "1,10,100", "--by", "Model", "--fit", "--forecast", "1000,10000",
              "--bootstrap", "50", "--format", "json")
    assert got.exit_code == 0, got.output
    for g in json.loads(got.stdout)["groups"]:
        f = g["fit"]
        assert f["status"] == "converged" and f["fitted_k"] == [1, 100] and f["problems"] == 128 and not f["warnings"]
        fc = f["forecast"]
        sub = one[one.Model == g["group"]]
        truth = pass_at_k(sub.n_samples, sub.n_correct, [1000, 10000]).mean(axis=0)
        assert fc["observed"] == pytest.approx(truth, abs=1e-12)
        assert fc["decades"] == pytest.approx([1.0, 2.0])
        assert all(lo <= t <= hi for lo, t, hi in zip(fc["lo"], truth, fc["hi"]))
        assert all(abs(p - t) < 0.1 for p, t in zip(fc["pass_at_k"], truth))  # measured: 0.09 at most for 160M
    table = cli("passk", tmp_path / "two.csv", "--k", "1,100", "--by", "Model", "--fit", "--bootstrap", "20")
    assert table.exit_code == 0 and "coverage_exp_power fitted on k = 1..100" in table.stdout
    assert "[Model=Pythia 160M]" in table.stdout and "observed" in table.stdout


def test_passk_fit_options_and_bad_input(tmp_path):
    path = tmp_path / "s.csv"
    pd.DataFrame({"n": 100, "c": [0, 5, 30, 100]}).to_csv(path, index=False)
    for extra in (["--forecast", "1000"], ["--bootstrap", "50"], ["--level", "0.8"]):
        got = cli("passk", path, "--k", "10", *extra)
        assert got.exit_code == 2 and "applies to --fit" in got.output, extra
    got = cli("passk", path, "--k", "1,3", "--fit")
    assert got.exit_code == 1 and "4 or more values of k" in got.output and "Traceback" not in got.output
    got = cli("passk", path, "--k", "100", "--fit", "--bootstrap", "5")
    assert got.exit_code == 1 and "at least 10 replicates" in got.output
    got = cli("passk", path, "--k", "100", "--fit", "--forecast", "0")
    assert got.exit_code == 1 and "--k must be whole numbers" not in got.output and "--forecast" in got.output
    got = cli("passk", path, "--k", "100", "--fit", "--bootstrap", "0", "--format", "json")
    doc = json.loads(got.stdout)
    assert got.exit_code == 0 and doc["fit"]["forecast"]["k"] == [1000, 10000] and "lo" not in doc["fit"]["forecast"]
    assert doc["fit"]["forecast"]["observed"] == [None, None]  # no problem has 1,000 samples


@pytest.mark.parametrize("r", [1, 2, 3])
def test_pass_at_k_under_inverse_sampling_is_exactly_unbiased(r):
    """Sampling stops at the r-th correct sample or a budget of 6: over every outcome of the rule, the
    estimate averages to 1 - (1 - p)^k exactly, where the usual estimator on the same counts does not."""
    budget = 6
    for p in (0.1, 0.37, 0.8):
        expected, naive = np.zeros(budget), np.zeros(budget)
        for seq in itertools.product((0, 1), repeat=budget):
            prob = p ** sum(seq) * (1 - p) ** (budget - sum(seq))
            hits = np.cumsum(seq)
            n = int(np.argmax(hits >= r)) + 1 if hits[-1] >= r else budget  # the prefix the rule observes
            c = int(hits[n - 1])
            expected += prob * pass_at_k(n, c, np.arange(1, budget + 1), stopped=c == r)[0]
            naive += prob * np.nan_to_num(pass_at_k(n, c, np.arange(1, budget + 1))[0])
        truth = 1 - (1 - p) ** np.arange(1, budget + 1)
        assert expected == pytest.approx(truth, abs=1e-12), p
        assert not np.allclose(naive, truth, atol=1e-3)


def test_passk_stopped_at_declares_the_rule_and_refuses_counts_beyond_it(tmp_path):
    rng = np.random.default_rng(4)
    p = np.exp(rng.uniform(np.log(1e-3), np.log(0.3), 4000))
    k_first = rng.geometric(p)
    n = np.minimum(k_first, 2000)
    pd.DataFrame({"n": n, "c": (k_first <= 2000).astype(int)}).to_csv(tmp_path / "until.csv", index=False)
    got = cli("passk", tmp_path / "until.csv", "--k", "1,100", "--stopped-at", "1", "--format", "json")
    assert got.exit_code == 0, got.output
    doc = json.loads(got.stdout)
    truth = [np.mean(1 - (1 - p) ** k) for k in (1, 100)]
    # unbiased, not precise: with one success per problem, pass@1 is the share of first draws that were correct
    assert doc["pass_at_k"] == pytest.approx(truth, abs=0.015) and "stopped once 1 correct sample(s) were drawn" in doc["note"]
    naive = json.loads(cli("passk", tmp_path / "until.csv", "--k", "1", "--format", "json").stdout)["pass_at_k"][0]
    assert naive > 1.5 * truth[0]  # c / n of the first success: biased high
    got = cli("passk", tmp_path / "until.csv", "--k", "1", "--stopped-at", "0")
    assert got.exit_code == 1 and "--stopped-at must be" in got.output
    pd.DataFrame({"n": [10, 10], "c": [1, 3]}).to_csv(tmp_path / "over.csv", index=False)
    got = cli("passk", tmp_path / "over.csv", "--k", "1", "--stopped-at", "2")
    assert got.exit_code == 1 and "problem 2 has 3 correct samples" in got.output


def test_inverse_sampling_gives_no_estimate_beyond_a_budget_and_no_fit_past_it():
    counts = pd.DataFrame({"n": [3, 50, 50, 7], "c": [1, 0, 0, 1]})  # two successes, two budgets of 50
    from scalinglaws.passk import coverage, mark_stopped

    curve = coverage(mark_stopped(counts, 1), [1, 50, 60])
    assert curve["pass_at_k"][2] is None and curve["left_out"][2] == 2  # beyond 50: only survivors would remain
    assert curve["pass_at_k"][1] == pytest.approx(0.5)  # both successes came within 50
    with pytest.raises(InputError, match="smallest budget is 50"):
        fit_coverage(mark_stopped(counts, 1), 100, [1000], bootstrap=0)
