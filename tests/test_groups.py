"""Grouped fits: the groups of a table solved in one batched computation (`fit.groups`) give what
fitting each group alone gives, and refuse what it refuses, group by group."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl
from scalinglaws.api import fit_groups
from scalinglaws.errors import InputError


def _curves(sizes, seed=0):
    rng = np.random.default_rng(seed)
    parts = []
    for g, n in enumerate(sizes):
        x = np.geomspace(1e3, 10 ** rng.uniform(5, 8), n)
        E, a, b = rng.uniform(0.5, 2.0), rng.uniform(5.0, 50.0), rng.uniform(0.2, 0.6)
        y = (E + a * x ** -b) * np.exp(rng.normal(0.0, 0.01, n))
        parts.append(pd.DataFrame({"run": f"r{g:02d}", "x": x, "loss": y, "w": rng.integers(1, 3, n)}))
    return pd.concat(parts, ignore_index=True)


def _alone(law, table, by, **options):
    out = {}
    for name, t in table.groupby(by, sort=True):
        try:
            out[name] = sl.fit(law, t.reset_index(drop=True), **options)
        except InputError as exc:
            out[name] = exc
    return out


def _same(batched, alone):
    assert batched.status == alone.status
    for k, v in alone.params.items():
        assert batched.params[k] == pytest.approx(v, rel=1e-6, abs=1e-12), k
    assert batched.objective == pytest.approx(alone.objective, rel=1e-9)
    assert (batched.notes, batched.warnings, batched.at_bound) == (alone.notes, alone.warnings, alone.at_bound)
    assert (batched.n_points, batched.n_starts, batched.x_range) == (alone.n_points, alone.n_starts, alone.x_range)
    assert batched.n_at_best == alone.n_at_best


@pytest.mark.parametrize("options", [{}, {"weights": "w"}, {"where": "x > 2e3"}, {"loss": "huber-mle"},
                                     {"fix": {"b": 0.4}}, {"rng": 3, "starts": 64}])
def test_batched_groups_equal_groups_fitted_alone(options):
    table = _curves([12, 20, 7, 33, 16, 9])
    fits, skipped = fit_groups("power_law_offset", table, "run", **options)
    alone = _alone("power_law_offset", table, "run", **options)
    assert set(fits) | {s["group"] for s in skipped} == set(alone)
    for name, r in alone.items():
        if isinstance(r, InputError):
            assert {"group": name, "reason": str(r)} in skipped
        else:
            _same(fits[name], r)


def test_the_groups_are_solved_together():
    """One screen call per 64 groups and one polish for all: not a fit per group."""
    from scalinglaws import api

    table = _curves([10] * 5)
    calls = []
    original = api.fit
    api.fit = lambda *a, **k: calls.append(a) or original(*a, **k)
    try:
        fits, _ = fit_groups("power_law_offset", table, "run")
    finally:
        api.fit = original
    assert len(fits) == 5 and not calls


def test_a_group_too_small_or_unidentifiable_is_refused_alone():
    table = _curves([15, 15])
    tiny = pd.DataFrame({"run": "tiny", "x": [1e3, 1e4, 1e5], "loss": [3.0, 2.0, 1.5], "w": 1})
    flat = pd.DataFrame({"run": "one-x", "x": [1e4] * 6, "loss": [2.0, 2.1, 1.9, 2.0, 2.05, 1.95], "w": 1})
    table = pd.concat([table, tiny, flat], ignore_index=True)
    fits, skipped = fit_groups("power_law_offset", table, "run")
    alone = _alone("power_law_offset", table, "run")
    assert sorted(fits) == ["r00", "r01"]
    assert skipped == [{"group": name, "reason": str(alone[name])} for name in ("one-x", "tiny")]
    for name in fits:
        _same(fits[name], alone[name])


def test_duplicates_are_noted_by_the_rows_of_their_group():
    table = _curves([10, 10])
    table = pd.concat([table, table.iloc[[12]], table.iloc[[3]]], ignore_index=True)  # row 3 of r01, row 4 of r00
    fits, _ = fit_groups("power_law_offset", table, "run")
    alone = _alone("power_law_offset", table, "run")
    assert any("duplicated rows" in n and "rows 11" in n for n in fits["r00"].notes)
    for name in fits:
        assert fits[name].notes == alone[name].notes


def test_a_bad_value_in_one_group_refuses_that_group_only():
    table = _curves([12, 12, 12])
    table.loc[20, "loss"] = -1.0  # in r01
    fits, skipped = fit_groups("power_law_offset", table, "run")
    assert sorted(fits) == ["r00", "r02"]
    assert skipped[0]["group"] == "r01" and "positive" in skipped[0]["reason"]
    alone = _alone("power_law_offset", table, "run")
    _same(fits["r02"], alone["r02"])


def test_numeric_group_labels_keep_their_order_and_type():
    table = _curves([10, 10, 10]).replace({"run": {"r00": 10, "r01": 2, "r02": 7}})
    fits, _ = fit_groups("power_law_offset", table, "run")
    assert list(fits) == [2, 7, 10] and all(type(k) is int for k in fits)


def test_a_large_table_is_screened_on_a_subset_and_polished_on_every_run(monkeypatch):
    """Past `COARSE_RUNS` runs the screen and a first polish use a subset; the fit on every run is
    the one the full screen finds, and its objective is over every run."""
    import importlib

    methods = importlib.import_module("scalinglaws.fit.methods")
    rng = np.random.default_rng(1)
    n = 3 * methods.COARSE_RUNS // 2
    N, D = 10 ** rng.uniform(7, 10, n), 10 ** rng.uniform(9, 12, n)
    loss = (1.69 + 406.4 * N**-0.34 + 410.7 * D**-0.28) * np.exp(rng.normal(0, 0.01, n))
    table = pd.DataFrame({"N": N, "D": D, "loss": loss})
    coarse = sl.fit("chinchilla", table)
    monkeypatch.setattr(methods, "COARSE_RUNS", 10 * n)
    full = sl.fit("chinchilla", table)
    assert coarse.status == full.status == "converged" and coarse.n_points == n
    for k, v in full.params.items():
        assert coarse.params[k] == pytest.approx(v, rel=1e-6), k
    assert coarse.objective == pytest.approx(full.objective, rel=1e-9)


# ---- grouped fit documents on the command line: every group answered --------------------------

from typer.testing import CliRunner  # noqa: E402

from scalinglaws.cli import app  # noqa: E402


def _cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def families(tmp_path_factory):
    """Two model families' Chinchilla-style runs, fitted with --by family."""
    folder = tmp_path_factory.mktemp("families")
    rng = np.random.default_rng(2)
    parts = []
    for family, (E, A, B) in {"dense": (1.69, 406.4, 410.7), "moe": (1.6, 350.0, 420.0)}.items():
        N = np.repeat(np.geomspace(1e7, 3e9, 8), 5)
        D = N * np.tile([5, 10, 20, 40, 80], 8)
        loss = (E + A * N**-0.34 + B * D**-0.28) * np.exp(rng.normal(0, 0.003, N.size))
        parts.append(pd.DataFrame({"family": family, "N": N, "D": D, "loss": loss}))
    data = folder / "runs.csv"
    pd.concat(parts).to_csv(data, index=False)
    doc = folder / "fits.json"
    done = _cli("fit", data, "--law", "chinchilla", "--by", "family", "--format", "json")
    assert done.exit_code == 0, done.output
    doc.write_text(done.stdout)
    return data, doc


def test_predict_and_plan_answer_every_group_of_a_grouped_fit(families):
    data, doc = families
    fits = {f["group"]: f for f in json.loads(doc.read_text())["fits"]}
    done = _cli("predict", doc, "--at", "N=7e10,D=1.4e12", "--format", "json")
    assert done.exit_code == 0, done.output
    out = json.loads(done.stdout)
    assert out["by"] == "family" and [g["group"] for g in out["groups"]] == ["dense", "moe"]
    for g in out["groups"]:
        p = fits[g["group"]]["params"]
        expected = p["E"] + p["A"] * 7e10 ** -p["alpha"] + p["B"] * 1.4e12 ** -p["beta"]
        assert g["predictions"][0]["y"] == pytest.approx(expected, rel=1e-12)
    table = _cli("predict", doc, "--at", "N=7e10,D=1.4e12")
    assert table.exit_code == 0 and "`family` = dense" in table.stdout and "`family` = moe" in table.stdout
    plan = _cli("plan", doc, "--compute", "1e22,1e23", "--format", "json")
    assert plan.exit_code == 0, plan.output
    plans = json.loads(plan.stdout)["groups"]
    assert [len(g["plans"]) for g in plans] == [2, 2] and plans[0]["plans"][0]["N"] != plans[1]["plans"][0]["N"]
    assert _cli("plan", doc, "--compute", "1e22").exit_code == 0


def test_a_group_that_cannot_answer_is_reported_and_the_others_go_on(families, tmp_path):
    _, doc = families
    grouped = json.loads(doc.read_text())
    grouped["fits"][1]["law"] = "no_such_law"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(grouped))
    done = _cli("predict", bad, "--at", "N=7e10,D=1.4e12", "--format", "json")
    assert done.exit_code == 0, done.output
    groups = json.loads(done.stdout)["groups"]
    assert "predictions" in groups[0] and "no_such_law" in groups[1]["error"]
    grouped["fits"][0]["law"] = "no_such_law"
    bad.write_text(json.dumps(grouped))
    done = _cli("predict", bad, "--at", "N=7e10,D=1.4e12")  # every group refused for one reason: said once
    assert done.exit_code == 1 and done.output.startswith("error: unknown law `no_such_law`")
    assert done.output.count("\n") == 1
    grouped["fits"][0]["law"] = "other_law"
    bad.write_text(json.dumps(grouped))
    done = _cli("predict", bad, "--at", "N=7e10,D=1.4e12")  # for several: each, with its groups
    assert done.exit_code == 1 and "no group of FIT" in done.output and "`family` = 'dense'" in done.output
    assert "Traceback" not in done.output
    done = _cli("predict", doc, "--at", "N=abc")  # an option's bad value: one line, not one per group
    assert done.exit_code == 1 and done.output == "error: --at N must be a number; got 'abc'\n"


def test_groups_the_fit_skipped_are_named_in_every_answer(families, tmp_path):
    _, doc = families
    grouped = json.loads(doc.read_text())
    grouped["skipped"] = [{"group": "tiny", "reason": "too few runs"}]
    path = tmp_path / "skipped.json"
    path.write_text(json.dumps(grouped))
    done = _cli("predict", path, "--at", "N=7e10,D=1.4e12", "--format", "json")
    assert json.loads(done.stdout)["groups"][-1] == {"group": "tiny", "error": "not fitted: too few runs"}
    done = _cli("predict", path, "--at", "N=7e10,D=1.4e12")
    assert "`family` = tiny: not fitted: too few runs" in done.stdout


# ---- the Ray backend: the same results as here ------------------------------------------------

def _ray():
    import os

    if os.environ.get("SCALINGLAWS_RAY") == "required":
        import ray  # CI: a missing Ray is a failure, not a skip

        return ray
    return pytest.importorskip("ray", reason="the ray extra is not installed")


def test_a_grouped_bootstrap_on_a_local_ray_equals_the_local_backend():
    _ray()
    from scalinglaws.fit.backend import use_backend

    table = _curves([14, 18, 11])
    options = dict(bootstrap=40, rng=5)
    local, _ = fit_groups("power_law_offset", table, "run", **options)
    single = sl.fit("power_law_offset", table[table.run == "r01"].reset_index(drop=True), bootstrap=600, rng=1)
    many = _curves([10] * 150, seed=3)
    together, _ = fit_groups("power_law_offset", many, "run")
    with use_backend("ray", num_cpus=2):
        remote, _ = fit_groups("power_law_offset", table, "run", **options)
        single_remote = sl.fit("power_law_offset", table[table.run == "r01"].reset_index(drop=True), bootstrap=600,
                               rng=1)  # 600 replicates (and their guard starts) in chunks, as Ray tasks
        together_remote, _ = fit_groups("power_law_offset", many, "run")  # 150 groups in parts of 64
    assert list(remote) == list(local)
    for name in local:
        assert remote[name].summary() == local[name].summary()
        assert remote[name].bootstrap.params == local[name].bootstrap.params
    assert single_remote.bootstrap.params == single.bootstrap.params
    assert {k: r.summary() for k, r in together_remote.items()} == {k: r.summary() for k, r in together.items()}


def test_backend_options_are_checked():
    from scalinglaws.fit.backend import use_backend

    with pytest.raises(InputError, match="--backend must be one of local, ray; got 'spark'"):
        with use_backend("spark"):
            pass
    with pytest.raises(InputError, match="go with --backend ray"):
        with use_backend("local", num_cpus=2):
            pass
    done = _cli("fit", "chinchilla", "--law", "chinchilla", "--ray-cpus", "2")
    assert done.exit_code == 2 and "--backend ray" in done.output


def test_excluded_rows_are_left_out_group_by_group():
    table = _curves([12, 12, 12]).assign(excluded=False)
    table.loc[[0, 1, 14], "excluded"] = True
    fits, _ = fit_groups("power_law_offset", table, "run")
    alone = _alone("power_law_offset", table, "run")
    assert fits["r00"].n_points == 10 and fits["r01"].n_points == 11 and fits["r02"].n_points == 12
    for name in fits:
        _same(fits[name], alone[name])
    assert fits["r00"].n_excluded == 2 and fits["r02"].n_excluded == 0


def test_mixed_type_labels_are_grouped_as_pandas_groups_them():
    table = _curves([10, 10, 10])
    table["run"] = table["run"].map({"r00": 1, "r01": "b", "r02": 2.5}).astype(object)
    fits, _ = fit_groups("power_law_offset", table, "run")
    assert list(fits) == [k for k, _ in table.groupby("run", sort=True)]


def test_a_group_whose_runs_cannot_tell_parameters_apart_is_refused_as_alone():
    """The identifiability test (a Jacobian's rank) runs in float64 for groups too: in float32 a
    group with two model sizes passed it and came back 'converged'."""
    rng = np.random.default_rng(4)
    parts = []
    for name, sizes in {"many": [1e8, 3e8, 1e9, 3e9], "two": [1e8, 1e9]}.items():
        N = np.repeat(sizes, 5)
        D = np.tile(np.geomspace(1e9, 1e11, 5), len(sizes))
        loss = (1.69 + 406.4 * N**-0.34 + 410.7 * D**-0.28) * np.exp(rng.normal(0, 1e-3, N.size))
        parts.append(pd.DataFrame({"grp": name, "N": N, "D": D, "loss": loss}))
    table = pd.concat(parts, ignore_index=True)
    fits, skipped = fit_groups("chinchilla", table, "grp")
    alone = _alone("chinchilla", table, "grp")
    assert list(fits) == ["many"] and isinstance(alone["two"], InputError)
    assert skipped == [{"group": "two", "reason": str(alone["two"])}] and "cannot be told apart" in str(alone["two"])


def test_a_small_group_is_fitted_as_alone_beside_a_large_one(monkeypatch):
    """Groups are batched with groups of their own padded size: a large group beside them (which
    takes the subset screen) changes nothing for the small ones."""
    import importlib

    monkeypatch.setattr(importlib.import_module("scalinglaws.fit.methods"), "COARSE_RUNS", 64)
    rng = np.random.default_rng(7)
    parts = []
    for name, n in (("big", 300), ("s0", 8), ("s1", 8), ("s2", 9)):
        N = 10 ** rng.uniform(7, 9.5, n)
        D = 10 ** rng.uniform(9, 11.5, n)
        loss = (1.69 + 406.4 * N**-0.34 + 410.7 * D**-0.28) * np.exp(rng.normal(0, 0.05, n))
        parts.append(pd.DataFrame({"g": name, "N": N, "D": D, "loss": loss}))
    table = pd.concat(parts, ignore_index=True)
    fits, _ = fit_groups("chinchilla", table, "g")
    alone = _alone("chinchilla", table, "g")
    for name in ("s0", "s1", "s2", "big"):
        _same(fits[name], alone[name])


def test_a_groups_fit_does_not_depend_on_the_other_groups_of_the_table():
    """A 19-run group is padded to 20 as alone, also beside a group of 32 runs (one octave): more
    padding rounds otherwise, and in a fit the data barely determine that moved the optimum."""
    table = _curves([19, 32], seed=5)
    together, _ = fit_groups("power_law_offset", table, "run")
    alone = fit_groups("power_law_offset", table[table.run == "r00"], "run")[0]["r00"]
    assert together["r00"].summary() == alone.summary() and together["r00"].starts == alone.starts


def test_a_generator_seeds_every_group_alike_when_groups_are_fitted_in_turn():
    """With a bootstrap the groups are fitted one at a time: a Generator given as the seed must not
    hand the second group what the first left of its stream."""
    table = _curves([19, 25], seed=5)
    with_r00, _ = fit_groups("power_law_offset", table, "run", bootstrap=20, rng=np.random.default_rng(1))
    alone, _ = fit_groups("power_law_offset", table[table.run == "r01"], "run", bootstrap=20,
                          rng=np.random.default_rng(1))
    assert with_r00["r01"].summary() == alone["r01"].summary()


def test_points_that_name_their_group_are_predicted_for_that_group_only(families, tmp_path):
    _, doc = families
    points = tmp_path / "points.csv"
    pd.DataFrame({"family": ["dense", "moe", "moe"], "N": [7e10, 1e10, 2e10], "D": [1.4e12, 2e11, 4e11]}
                 ).to_csv(points, index=False)
    done = _cli("predict", doc, "--points", points, "--format", "json")
    assert done.exit_code == 0, done.output
    groups = {g["group"]: g["predictions"] for g in json.loads(done.stdout)["groups"]}
    assert [p["N"] for p in groups["dense"]] == [7e10] and [p["N"] for p in groups["moe"]] == [1e10, 2e10]
    pd.DataFrame({"family": ["dense"], "N": [7e10], "D": [1.4e12]}).to_csv(points, index=False)
    done = _cli("predict", doc, "--points", points, "--format", "json")
    assert json.loads(done.stdout)["groups"][1] == {"group": "moe", "error": "--points has no row for `family` = 'moe'"}
    pd.DataFrame({"family": ["dense", "mooe"], "N": [7e10, 1e10], "D": [1.4e12, 2e11]}).to_csv(points, index=False)
    for fmt in ("table", "json"):  # a misspelt group is one error, not rows left out unseen
        done = _cli("predict", doc, "--points", points, "--format", fmt)
        assert done.exit_code == 1 and done.stderr.strip() == (
            "error: --points row 2 names `family` = 'mooe', which is no group of the fit (groups: 'dense', 'moe')")


def test_a_fold_on_two_model_sizes_is_refused_outside_a_float64_scope():
    """`reweighted` (nested folds, for calibration and --law auto) tests identifiability in float64
    whatever the caller's JAX precision (a Ray worker and this process must agree)."""
    from scalinglaws.fit.api import prepare, reweighted

    rng = np.random.default_rng(5)
    N = np.repeat([1e8, 1e9, 1e10, 1e11], 6)
    D = np.tile(np.geomspace(1e9, 1e12, 6), 4)
    loss = (1.69 + 406.4 * N**-0.34 + 410.7 * D**-0.28) * np.exp(rng.normal(0, 1e-3, N.size))
    problem = prepare("chinchilla", pd.DataFrame({"N": N, "D": D, "loss": loss}))
    with pytest.raises(InputError, match="cannot be told apart"):
        reweighted(problem, (N <= 1e9).astype(float))


def test_when_no_group_can_be_fitted_the_error_names_three_and_counts_the_rest():
    table = pd.concat([_curves([n], seed=n).assign(run=f"g{n}") for n in (1, 2, 3, 1, 2, 3)], ignore_index=True)
    table["run"] = [f"g{i}" for i, n in enumerate((1, 2, 3, 1, 2, 3)) for _ in range(n)]
    with pytest.raises(InputError) as err:
        fit_groups("power_law_offset", table, "run")
    message = str(err.value)
    assert message.count("`run` = ") == 3 and message.endswith("; and 3 more groups")
    assert "but only 1 run was selected" in message and "only 2 runs were selected" in message


def test_past_eight_groups_the_table_is_a_row_per_group_that_shows_a_parameter_at_its_bound(tmp_path):
    table = _curves([12] * 9, seed=4)
    x = np.geomspace(1e3, 1e7, 12)
    table = pd.concat([table, pd.DataFrame({"run": "pure", "x": x, "loss": 30.0 * x ** -0.3, "w": 1})],
                      ignore_index=True)  # a pure power law: its floor E goes to 0, its bound
    path = tmp_path / "curves.csv"
    table.to_csv(path, index=False)
    done = _cli("fit", path, "--law", "power_law_offset", "--by", "run")
    assert done.exit_code == 0, done.output
    assert "10 fits, one per `run` group" in done.stdout and "at bound" in done.stdout
    pure = next(line for line in done.stdout.splitlines() if "pure" in line)
    assert " E " in pure.replace("│", " ")
    fits, _ = fit_groups("power_law_offset", table, "run")
    rows = sl.fits_table(fits, "run").set_index("run")["at_bound"]
    assert rows["pure"] == "E" and (rows.drop("pure") == "").all()
