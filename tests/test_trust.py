"""No silent wrong answer, no crash: each path a review found wrong, reproduced (see also
test_cache.py for the program cache and test_cli_fuzz.py / test_properties.py for the sweeps)."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import scalinglaws as sl
from scalinglaws.cli import app
from scalinglaws.fit._newton import CONVERGED, MAX_ITERATIONS

runner = CliRunner()
PUBLISHED = {"E": 1.82, "A": 478.0, "B": 2144.0, "alpha": 0.3473, "beta": 0.3672}


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def grid(chinchilla_runs):
    t = chinchilla_runs.table
    t = t[~t["excluded"].astype(bool)]
    return t["N"].to_numpy(), t["D"].to_numpy()


def _inside(result):
    for p in result.law.params:
        lo, hi = p.bounds
        assert lo <= result.params[p.name] <= hi, (p.name, result.params[p.name], p.bounds)


# 3. hoffmann2022: bounds, certificates, pruning, unused options


def test_hoffmann2022_stays_inside_the_bounds_where_its_parameterisation_leaves_them(grid):
    N, D = grid
    rising = 1.5 + 0.02 * N**0.05 + 2000 * D**-0.37  # loss grows with N: the unconstrained optimum has alpha < 0
    r = sl.fit("chinchilla", {"N": N, "D": D, "loss": rising}, method="hoffmann2022")
    assert r.status_counts.get("out_of_bounds", 0) > 0  # the published procedure did leave them
    _inside(r)
    term = r.params["A"] * N ** -r.params["alpha"]  # the falling N term is switched off (A -> 0 or alpha -> 3)
    assert np.max(term / rising) < 1e-6
    assert r.status == "converged"  # certified by the Newton polisher inside the bounds


def test_hoffmann2022_certifies_its_best_start_on_noiseless_data(grid):
    """L-BFGS alone stopped at f = 4.7e-13 and called it converged; the minimum is ~0."""
    N, D = grid
    y = sl.get_law("chinchilla").predict(PUBLISHED, {"N": N, "D": D})
    r = sl.fit("chinchilla", {"N": N, "D": D, "loss": y}, method="hoffmann2022")
    assert r.status == "converged" and r.objective < 1e-24
    assert r.params == pytest.approx(PUBLISHED, rel=1e-9)
    assert "stopped" in r.status_counts  # L-BFGS's own stops are not certificates
    uncertified = [s for s, f in zip(r.starts.status, r.starts.objective) if s == "stopped"]
    assert uncertified and "converged" not in uncertified


def test_hoffmann2022_prunes_only_when_asked_and_counts_the_discarded(hoffmann_fit, chinchilla_runs):
    assert hoffmann_fit.status_counts["discarded"] > 4000
    assert sum(hoffmann_fit.status_counts.values()) == hoffmann_fit.n_starts == 4500
    doc = hoffmann_fit.summary()
    assert doc["status_counts"] == hoffmann_fit.status_counts
    res = cli("fit", "chinchilla", "--law", "chinchilla", "--method", "hoffmann2022", "--no-prune", "--format", "json")
    assert res.exit_code == 0, res.output
    full = json.loads(res.stdout)
    assert "discarded" not in full["status_counts"] and full["status_counts"]["converged"] == 16
    assert full["objective"] == pytest.approx(hoffmann_fit.objective, rel=1e-9)


@pytest.mark.parametrize("options,message", [
    ({"method": "hoffmann2022", "starts": 10}, "--starts is not used by --method hoffmann2022"),
    ({"method": "hoffmann2022", "rng": 3}, "--seed is not used by --method hoffmann2022"),
    ({"prune": False}, "--prune/--no-prune applies to --method hoffmann2022 only"),
])
def test_options_a_method_does_not_use_are_errors(chinchilla_runs, options, message):
    with pytest.raises(sl.InputError, match=message):
        sl.fit("chinchilla", chinchilla_runs, **options)


def test_the_default_method_polishes_starts_from_separate_neighbourhoods(default_fit):
    """So that `n_at_best` counts independent starts that agree, not neighbours of one grid point."""
    from scalinglaws.fit.methods import distinct_candidates, grid_cells

    cells = grid_cells(256, 2)  # a 16 x 16 grid
    f = ((cells - [5, 9]) ** 2).sum(axis=1).astype(float)  # one bowl around cell (5, 9)
    taken = distinct_candidates(cells, f, 16)
    assert len(set(taken)) == 16 and taken[0] == np.argmin(f)
    gaps = np.abs(cells[taken][:, None] - cells[taken][None]).max(axis=-1)
    assert gaps[~np.eye(16, dtype=bool)].min() >= 2  # no two in neighbouring cells
    f[taken[0]] = np.inf  # an unusable point is taken last
    assert taken[0] not in distinct_candidates(cells, f, 16)
    assert default_fit.n_at_best <= default_fit.status_counts["converged"] == default_fit.n_starts == 16


# 4. a bootstrap whose replicates fail


def _failing(monkeypatch, converged):
    from scalinglaws import uncertainty

    solve = uncertainty.solve_replicates

    def solve_and_fail(*args, **kwargs):
        theta, f, status = solve(*args, **kwargs)
        status = np.full_like(status, MAX_ITERATIONS)
        status[:converged] = CONVERGED
        return theta, f, status

    monkeypatch.setattr(uncertainty, "solve_replicates", solve_and_fail)


@pytest.mark.parametrize("converged", [0, 1, 40])
def test_a_bootstrap_with_too_few_converged_replicates_refuses(monkeypatch, chinchilla_runs, converged):
    _failing(monkeypatch, converged)
    with pytest.raises(sl.FitError, match=f"only {converged} of 100 replicates converged"):
        sl.fit("chinchilla", chinchilla_runs, bootstrap=100)


def test_a_bootstrap_with_failed_replicates_in_the_cli_is_one_line(monkeypatch):
    _failing(monkeypatch, 0)
    res = cli("fit", "chinchilla", "--law", "chinchilla", "--bootstrap", "50", "--format", "json")
    assert res.exit_code == 1 and res.stdout == ""
    assert res.stderr.strip().splitlines() == ["error: bootstrap: only 0 of 50 replicates converged (50 did not); "
                                               "too few to support a standard error or an interval (at least 80%, "
                                               "and 10, must converge)"]


def test_a_bootstrap_record_never_holds_too_few_replicates():
    """The record is validated wherever it is made or read back (a fit document)."""
    from scalinglaws.fit.records import Bootstrap

    with pytest.raises(sl.FitError, match="1 of 50 replicates converged"):
        Bootstrap(scheme="rows", level=0.95, params={"a": (1.0,)}, n_replicates=50, n_failed=49)
    with pytest.raises(sl.FitError, match="39 of 50 replicates converged"):  # 78%: the tails are unknown
        Bootstrap(scheme="rows", level=0.95, params={"a": (1.0,) * 39}, n_replicates=50, n_failed=11)
    assert Bootstrap(scheme="rows", level=0.95, params={"a": (1.0,) * 40}, n_replicates=50, n_failed=10).se["a"] == 0


def test_a_multistarted_replicate_keeps_a_converged_optimum_over_an_unconverged_tie():
    """The fallback keeps each replicate's best lane, but a converged lane as good as the best
    (within the guard's tolerance) wins over an unconverged one; a clearly better one still wins."""
    from types import SimpleNamespace

    from scalinglaws.uncertainty import _multistart_all

    problem = SimpleNamespace(spec=SimpleNamespace(free=("a",)))
    cold = np.zeros((1, 1))  # one independent start per replicate
    warm = (np.array([[1.0], [2.0]]), np.array([1.0, 1.0]), np.array([MAX_ITERATIONS, CONVERGED]))
    # lanes: both replicates' warm lanes, then their independent lanes (all replicates were guarded)
    first = (np.array([[1.0], [2.0], [3.0], [4.0]]), np.array([1.0, 1.0, 1.0 + 1e-12, 0.9]),
             np.array([MAX_ITERATIONS, CONVERGED, CONVERGED, MAX_ITERATIONS]))
    theta, f, status = _multistart_all(problem, cold, None, None, np.arange(2), warm, first)
    assert theta[:, 0].tolist() == [3.0, 4.0]  # the converged tie; the clearly better (unconverged) lane
    assert status.tolist() == [CONVERGED, MAX_ITERATIONS] and f.tolist() == [1.0 + 1e-12, 0.9]


def test_the_guard_multistarts_every_replicate_when_an_independent_start_wins(monkeypatch, chinchilla_runs):
    """Make the warm start look worse on its first pass: the fallback must refit every replicate."""
    from scalinglaws import uncertainty

    solve, calls = uncertainty.solve_replicates, []

    def warm_looks_worse(spec, data, starts, w, log_y, **kwargs):
        theta, f, status = solve(spec, data, starts, w, log_y, **kwargs)
        calls.append(len(starts))
        if len(calls) == 1:
            f = f.copy()
            f[:100] += 1.0  # the warm lanes of the 100 replicates
        return theta, f, status

    monkeypatch.setattr(uncertainty, "solve_replicates", warm_looks_worse)
    r = sl.fit("chinchilla", chinchilla_runs, bootstrap=100)
    b = r.bootstrap
    assert b.n_guard_better == b.n_guarded == 10
    assert calls == [100 + 10 * uncertainty.GUARD_STARTS, 90 * uncertainty.GUARD_STARTS]  # the rest, multi-started
    assert b.n_failed == 0 and b.se["alpha"] == pytest.approx(sl.fit("chinchilla", chinchilla_runs, bootstrap=100)
                                                              .bootstrap.se["alpha"], rel=0.2)


# 5. crashes and nonsense on paths a new user took


@pytest.fixture(scope="module")
def fit_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("trust") / "fit.json"
    assert cli("fit", "chinchilla", "--law", "chinchilla", "--out", path).exit_code == 0
    return path


def _one_error_line(res, code=1):
    assert res.exit_code == code, res.output
    assert res.stdout == "" and "Traceback" not in res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    return lines[0]


def test_fit_by_group_prints_a_table_per_group(tmp_path):
    csv = tmp_path / "curves.csv"
    rows = ["step,loss,run"] + [f"{s},{1.5 + 30 * s ** -0.3 * (1 + 0.1 * r):.12g},{r}"
                                for r in (0, 1) for s in (1e3, 3e3, 1e4, 3e4, 1e5, 3e5)]
    csv.write_text("\n".join(rows) + "\n")
    res = cli("fit", csv, "--law", "power_law_offset", "--x", "x=step", "--by", "run")
    assert res.exit_code == 0, res.output
    assert "[run=0]" in res.stdout and "[run=1]" in res.stdout


@pytest.mark.parametrize("at,message", [
    ("N=0,D=1e9", "prediction input `N` (column `N`) must be positive (law chinchilla takes powers of N); point 1 "
                  "has 0.0"),
    ("N=-1,D=1e9", "prediction input `N` (column `N`) must be positive"),
    ("N=1e9,D=1e9,Q=3", "--at names `Q`, which is not an input of law chinchilla"),
])
@pytest.mark.parametrize("fmt", ["table", "json"])
def test_predict_refuses_points_the_law_cannot_take(fit_path, at, message, fmt):
    assert message in _one_error_line(cli("predict", fit_path, "--at", at, "--format", fmt))


def test_predict_points_errors_name_the_point_and_the_column(fit_path, tmp_path):
    points = tmp_path / "points.csv"
    points.write_text("N,D\n1e9,1e10\n2e9,lots\n")
    assert ("prediction input `D` (column `D`) must be a number; point 2 has 'lots'"
            in _one_error_line(cli("predict", fit_path, "--points", points)))


def _run_line(capsys, *args, code):
    from scalinglaws.cli import run

    assert run([str(a) for a in args]) == code
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert captured.out == "" and len(lines) == 1 and lines[0].startswith("error: "), captured.err
    return lines[0]


def test_backtest_errors_name_the_train_where_condition_as_given(capsys):
    line = _run_line(capsys, "backtest", "chinchilla", "--law", "chinchilla", "--train-where", "C <", code=1)
    assert line.startswith("error: --train-where `C <` could not be evaluated") and "~(" not in line


def test_along_names_why_no_curve_could_be_backtested(tmp_path, capsys):
    csv = tmp_path / "curves.csv"
    csv.write_text("step,loss,run\n" + "".join(f"{s},{1 + 1 / s},{r}\n" for r in (0, 1) for s in (1, 2, 25, 30, 40)))
    line = _run_line(capsys, "backtest", csv, "--law", "power_law_offset", "--x", "x=step", "--along", "step",
                     "--by", "run", code=1)
    assert "2 of 2 could not be fitted on their first 0.5 of `step`" in line and "only 2 runs were selected" in line


@pytest.mark.parametrize("args", [
    ("predict", "FIT"),  # neither --at nor --points
    ("fit", "chinchilla", "--law", "chinchilla", "--loss", "mse", "--delta", "0.01"),
    ("fit", "chinchilla", "--law", "chinchilla", "--level", "0.9"),  # no --bootstrap
    ("backtest", "chinchilla", "--law", "chinchilla", "--train-where", "C < 1e21", "--train-fraction", "0.3"),
])
def test_options_that_would_do_nothing_are_usage_errors(fit_path, capsys, args):
    line = _run_line(capsys, *(fit_path if a == "FIT" else a for a in args), code=2)
    assert "{" not in line  # said in words, not a Python dict


def test_plan_without_budgets_is_an_error(fit_path):
    assert "--compute must list at least one budget" in _one_error_line(cli("plan", fit_path, "--compute", ""))


def test_one_distinct_model_size_cannot_identify_the_model_size_term(grid):
    N, D = grid
    table = pd.DataFrame({"N": 1e9, "D": D, "loss": 1.8 + 2000 * D**-0.37})
    with pytest.raises(sl.InputError, match=r"input N \(column `N`\) takes 1 distinct value.*E, A, alpha"):
        sl.fit("chinchilla", table)
    fixed = sl.fit("chinchilla", table, fix={"A": 0.0, "alpha": 0.3})  # fixing the N term makes it a fit of D
    assert fixed.params["beta"] == pytest.approx(0.37, rel=1e-6)


def test_two_distinct_model_sizes_name_every_parameter_of_the_dependence():
    """With N at two values, E + A N^-alpha takes two values for three parameters: one dependence,
    in which E takes part as much as A and alpha (fixing any one of them resolves it)."""
    N, D = np.meshgrid([1e8, 1e9], np.geomspace(1e9, 1e12, 12))
    table = pd.DataFrame({"N": N.ravel(), "D": D.ravel()})
    table["loss"] = 1.8 + 400 * table["N"] ** -0.34 + 2000 * table["D"] ** -0.37
    with pytest.raises(sl.InputError, match=r"takes 2 distinct value.*parameters E, A, alpha of .* hold 1 of them"):
        sl.fit("chinchilla", table)


def test_three_configurations_cannot_fit_five_parameters():
    table = pd.DataFrame({"N": np.repeat([1e8, 1e9, 1e10], 10), "D": np.repeat([1e9, 1e10, 1e11], 10)})
    table["loss"] = 1.8 + 400 * table["N"] ** -0.34 + 2000 * table["D"] ** -0.37
    with pytest.raises(sl.InputError, match="3 distinct configuration"):
        sl.fit("chinchilla", table)


def test_a_corrupt_fit_document_is_one_error(tmp_path, fit_path):
    doc = json.loads(fit_path.read_text())
    for broken in ({**doc, "params": {**doc["params"], "alpha": -1.0}}, {**doc, "params": {**doc["params"], "Q": 1.0}},
                   {**doc, "params": "alpha"}, {**doc, "bootstrap": {**(doc.get("bootstrap") or {}), "params": {}}}):
        path = tmp_path / "broken.json"
        path.write_text(json.dumps(broken))
        _one_error_line(cli("predict", path, "--at", "N=1e9,D=1e10"))


def test_importing_the_package_leaves_the_processs_jax_precision_alone():
    """Fits compute in float64 inside the package; the user's own JAX code keeps its float32 default."""
    import subprocess
    import sys

    code = ("import jax, jax.numpy as jnp, scalinglaws as sl\n"
            "r = sl.fit('chinchilla', sl.load_dataset('chinchilla'))\n"
            "print(jnp.asarray(1.0).dtype, jax.config.jax_enable_x64, f'{r.objective:.10e}')")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.split() == ["float32", "False", "1.0182740178e-03"]


@pytest.mark.parametrize("x,message", [
    ({"N": pd.to_datetime(["2020-01-01"]), "D": [1e10]}, "`N` (column `N`) must be a number; point 1 has Timestamp"),
    ({"N": [True], "D": [1e10]}, "`N` (column `N`) must be a number; point 1 has True"),
    ({"N": [1e9, 10**400], "D": [1e10, 1e10]}, "`N` (column `N`) must be finite; point 2 has 1000"),
    ({"N": [1e9, 2e9, 3e9], "D": [1e10, 1e11]}, "must have one shape (or broadcast to one); got N (3,), D (2,)"),
])
def test_prediction_inputs_that_are_not_numbers_of_one_shape_are_refused(default_fit, x, message):
    with pytest.raises(sl.InputError) as err:
        default_fit.predict(x)
    assert message in str(err.value)


def test_along_a_column_that_is_not_numeric_names_the_row(tmp_path, capsys):
    csv = tmp_path / "curves.csv"
    csv.write_text("step,loss,run\n" + "".join(f"{s},{1 + 1 / s},0\n" for s in (1, 2, 4, 8, 16, 32)) + "late,1.01,0\n")
    line = _run_line(capsys, "backtest", csv, "--law", "power_law_offset", "--x", "x=step", "--along", "step",
                     code=1)
    assert "column `step` must be numeric; row 7 has 'late'" in line


@pytest.mark.parametrize("where", ["N.to_csv('{out}')", "N.values.tofile('{out}')", "__import__('os').system('touch {out}')",
                                   "N.__class__ == 1", "N[0] > 1", "@N > 1"])
def test_a_where_condition_runs_no_method_and_writes_nothing(tmp_path, chinchilla_runs, where):
    """pandas' evaluator calls methods; a condition may hold only columns, constants and operators."""
    out = tmp_path / "written"
    with pytest.raises(sl.InputError, match="--where"):
        sl.fit("chinchilla", chinchilla_runs, where=where.format(out=out))
    assert not out.exists()
    assert sl.fit("chinchilla", chinchilla_runs, where="`N` > 1e8 and ~(D < 1e9)").n_points > 100
