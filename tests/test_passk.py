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
from scalinglaws.passk import pass_at_k

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
