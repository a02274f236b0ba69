"""Runs: readers, column mapping, selection and every validation error path."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl
from scalinglaws.data import design


def _table(n=12, **overrides):
    rng = np.random.default_rng(0)
    t = pd.DataFrame({
        "n_params": np.geomspace(1e7, 1e10, n),
        "tokens": np.geomspace(1e8, 1e11, n)[rng.permutation(n)],
        "loss": np.linspace(4.0, 2.5, n),
    })
    for k, v in overrides.items():
        t[k] = v
    return t


CHIN = sl.get_law("chinchilla")


def test_bundled_chinchilla_has_245_runs_and_5_excluded(chinchilla_runs):
    assert len(chinchilla_runs) == 245 and chinchilla_runs.excluded == ("excluded",)
    assert int(chinchilla_runs.table["excluded"].sum()) == 5
    d = design(chinchilla_runs, CHIN)
    assert d.y.size == 240 and d.n_excluded == 5
    assert design(chinchilla_runs, CHIN, include_excluded=True).y.size == 245


SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "chinchilla_epoch" / "chinchilla_NDCL.csv"


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/data is not beside the checkout")
def test_bundled_data_matches_the_shared_copy(chinchilla_runs):
    shared = pd.read_csv(SHARED)
    t = chinchilla_runs.table
    assert np.array_equal(t["N"].to_numpy(), shared["N_params"].to_numpy())
    assert np.array_equal(t["loss"].to_numpy(), shared["loss"].to_numpy())
    assert np.array_equal(t["excluded"].to_numpy(), shared["excluded_by_epoch_top5_loss"].to_numpy() == 1)


def test_common_names_are_recognised_and_mapping_overrides():
    d = design(_table(), CHIN)
    assert d.columns == {"N": "n_params", "D": "tokens"} and d.y_column == "loss"
    t = _table().rename(columns={"n_params": "size"})
    assert design(t, CHIN, x={"N": "size"}).columns["N"] == "size"


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_readers_round_trip(tmp_path, suffix):
    t = _table()
    path = tmp_path / f"runs{suffix}"
    {".csv": lambda: t.to_csv(path, index=False), ".parquet": lambda: t.to_parquet(path),
     ".jsonl": lambda: t.to_json(path, orient="records", lines=True)}[suffix]()
    runs = sl.read_runs(path)
    assert np.allclose(runs.table["loss"].to_numpy(), t["loss"].to_numpy(), rtol=1e-15)
    assert sl.load_runs(str(path)).source == str(path)


def test_fit_never_changes_the_users_table():
    t = _table(excluded=[False] * 11 + [True])
    before = t.copy()
    sl.fit("chinchilla", t, starts=16)
    pd.testing.assert_frame_equal(t, before)


def test_where_selects_rows(chinchilla_runs):
    d = design(chinchilla_runs, CHIN, where="C < 1e21")
    assert d.y.size == int(((chinchilla_runs.table["C"] < 1e21) & ~chinchilla_runs.table["excluded"]).sum())


def test_duplicated_rows_are_reported_not_dropped():
    t = pd.concat([_table(), _table().iloc[[2, 5]]], ignore_index=True)
    d = design(t, CHIN)
    assert d.y.size == 14 and "2 duplicated rows" in d.notes[0] and "rows 13, 14" in d.notes[0]


ERRORS = [
    ("missing column", lambda: design(_table().drop(columns="tokens"), CHIN), r"column `D` not found .*--x D=COLUMN"),
    ("mapped column missing", lambda: design(_table(), CHIN, x={"N": "nope"}), r"column `nope` not found"),
    ("input not of law", lambda: design(_table(), CHIN, x={"Q": "loss"}), r"--x names `Q`, which is not an input"),
    ("missing target", lambda: design(_table().drop(columns="loss"), CHIN), r"target column `loss` not found"),
    ("non-numeric", lambda: design(_table(tokens=["1e9"] * 5 + ["abc"] + ["1e9"] * 6), CHIN),
     r"column `tokens` must be numeric; row 6 has 'abc'"),
    ("nan", lambda: design(_table(loss=[3.0] * 3 + [np.nan] + [3.0] * 8), CHIN), r"column `loss` must be finite; row 4 is empty"),
    ("inf", lambda: design(_table(n_params=[1e9] * 11 + [np.inf]), CHIN), r"column `n_params` must be finite; row 12 has inf"),
    ("non-positive input", lambda: design(_table(tokens=[1e9] * 6 + [-3.0] + [1e9] * 5), CHIN),
     r"column `tokens` must be positive \(law chinchilla takes powers of D\); row 7 has -3.0"),
    ("non-positive target", lambda: design(_table(loss=[3.0] * 11 + [0.0]), CHIN),
     r"column `loss` must be positive \(law chinchilla is fitted on log values; a bounded metric with zeros fits "
     r"with a bounded law such as sigmoid_log\); row 12 has 0.0"),
    ("too few points", lambda: design(_table(n=5), CHIN), r"5 free parameters but only 5 runs were selected; need at least 6"),
    ("bad excluded", lambda: sl.Runs(_table(excluded=["yes"] * 12)), r"column `excluded` must be boolean .* row 1 has 'yes'"),
    ("bad where", lambda: design(_table(), CHIN, where="nosuch > 3"), r"--where `nosuch > 3` could not be evaluated"),
    ("non-boolean where", lambda: design(_table(), CHIN, where="loss * 2"), r"--where `loss \* 2` must be a true/false condition"),
    ("unknown law", lambda: sl.fit("nope", _table()), r"unknown law `nope`; registered laws: .*chinchilla"),
    ("unknown loss", lambda: sl.fit("chinchilla", _table(), loss="l3"), r"--loss must be one of huber, huber-mle, mse; got `l3`"),
    ("unknown method", lambda: sl.fit("chinchilla", _table(), method="sgd"), r"--method must be one of varpro, hoffmann2022; got `sgd`"),
    ("bad delta", lambda: sl.fit("chinchilla", _table(), delta=-1.0), r"--delta must be a positive number; got -1.0"),
    ("bad starts", lambda: sl.fit("chinchilla", _table(), starts=0), r"--starts must be a positive integer; got 0"),
    ("unknown fix", lambda: sl.fit("chinchilla", _table(), fix={"Z": 1.0}), r"law chinchilla has no parameter `Z`"),
    ("fix out of bounds", lambda: sl.fit("chinchilla", _table(), fix={"alpha": -1.0}), r"--fix alpha must be finite and within its bounds"),
    ("fix everything", lambda: sl.fit("power_law", _table(x=np.geomspace(1, 100, 12)), fix={"a": 1.0, "b": 0.5}),
     r"--fix holds every parameter"),
    ("missing file", lambda: sl.load_runs("/nonexistent/runs.csv"), r"DATA `/nonexistent/runs.csv` is neither a file nor a bundled dataset"),
    ("unknown dataset", lambda: sl.load_dataset("gpt5"), r"unknown dataset `gpt5`; bundled datasets: chinchilla"),
    ("wrong type", lambda: sl.fit("chinchilla", [1, 2, 3]), r"runs must be a Runs, a DataFrame or a mapping of columns; got list"),
]


@pytest.mark.parametrize("name,call,message", ERRORS, ids=[e[0] for e in ERRORS])
def test_every_validation_error_names_the_rule_and_value(name, call, message):
    with pytest.raises(sl.InputError, match=message):
        call()


def test_unknown_extension_and_unparseable_file(tmp_path):
    bad = tmp_path / "runs.xlsx"
    bad.write_text("x")
    with pytest.raises(sl.InputError, match=r"has extension `.xlsx`; supported: .csv"):
        sl.read_runs(bad)
    broken = tmp_path / "runs.parquet"
    broken.write_text("not parquet")
    with pytest.raises(sl.InputError, match=r"could not be read as parquet"):
        sl.read_runs(broken)
