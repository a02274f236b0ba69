"""The fit engine: recovery of known parameters, statuses, determinism, no recompilation."""

import subprocess
import sys

import jax
import numpy as np
import pytest
from conftest import simulate

import scalinglaws as sl

CASES = [
    ("chinchilla", {"E": 1.8, "A": 450.0, "B": 2000.0, "alpha": 0.34, "beta": 0.37}, {"N": (1e7, 2e10), "D": (1e8, 5e11)}),
    ("power_law_offset", {"E": 1.5, "a": 30.0, "b": 0.3}, {"x": (1e6, 1e11)}),
    ("power_law", {"a": 40.0, "b": 0.12}, {"x": (1e6, 1e11)}),
    ("kaplan_n", {"N_c": 8.8e13, "alpha_N": 0.076}, {"N": (1e6, 1e10)}),
    ("kaplan_nd", {"N_c": 6.4e13, "D_c": 1.8e13, "alpha_N": 0.076, "alpha_D": 0.103}, {"N": (1e6, 1e10), "D": (1e7, 1e11)}),
]


@pytest.mark.parametrize("name,truth,ranges", CASES, ids=[c[0] for c in CASES])
def test_recovers_exact_parameters_from_noiseless_runs(name, truth, ranges):
    law = sl.get_law(name)
    runs = simulate(law, truth, n=80, noise=0.0, seed=3, ranges=ranges)
    r = sl.fit(law, runs)
    assert r.status == "converged"
    for k, v in truth.items():
        assert r.params[k] == pytest.approx(v, rel=1e-4), k


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("noise", [0.005, 0.02])
@pytest.mark.parametrize("name,truth,ranges", CASES[:3], ids=[c[0] for c in CASES[:3]])
def test_recovers_parameters_from_noisy_runs(name, truth, ranges, noise, seed):
    """Exponents within 15 x noise (absolute) and predictions inside the data within 2 x noise."""
    law = sl.get_law(name)
    runs = simulate(law, truth, n=200, noise=noise, seed=seed, ranges=ranges)
    r = sl.fit(law, runs)
    assert r.status == "converged"
    for k in ("alpha", "beta", "b"):
        if k in truth:
            assert abs(r.params[k] - truth[k]) < 15 * noise, k
    inside = simulate(law, truth, n=50, noise=0.0, seed=seed + 100, ranges=ranges)
    err = np.abs(np.log(r.predict(inside)) - np.log(inside["loss"].to_numpy()))
    assert err.max() < 2 * noise


def test_same_seed_same_result_and_seeded_grids_differ(chinchilla_runs):
    a = sl.fit("chinchilla", chinchilla_runs, rng=7, starts=64)
    b = sl.fit("chinchilla", chinchilla_runs, rng=7, starts=64)
    c = sl.fit("chinchilla", chinchilla_runs, rng=8, starts=64)
    assert a == b
    assert a.starts != c.starts
    assert c.objective == pytest.approx(a.objective, rel=1e-9)  # both reach the best basin


def test_fixed_parameters_are_held_and_reported(chinchilla_runs):
    r = sl.fit("chinchilla", chinchilla_runs, fix={"alpha": 0.34, "beta": 0.28})
    assert r.params["alpha"] == 0.34 and r.params["beta"] == 0.28
    assert r.fixed == ("alpha", "beta")
    assert r.status == "converged"
    free = sl.fit("chinchilla", chinchilla_runs)
    assert r.objective > free.objective


def test_parameter_ending_on_a_bound_is_reported():
    law = sl.get_law("power_law_offset")
    runs = simulate(law, {"E": 0.0, "a": 30.0, "b": 0.3}, n=60, seed=4, ranges={"x": (1e6, 1e11)})
    r = sl.fit(law, runs)
    assert "E" in r.at_bound and r.params["E"] < 1e-4


def test_every_start_carries_a_status(hoffmann_fit):
    statuses = set(hoffmann_fit.starts.status)
    assert statuses <= {"converged", "max_iterations", "failed", "discarded"} and "converged" in statuses
    assert len(hoffmann_fit.starts.objective) == hoffmann_fit.n_starts


def test_second_fit_of_the_same_shape_does_not_recompile(chinchilla_runs):
    from scalinglaws.fit._newton import compiled_polisher
    from scalinglaws.fit._problem import Spec
    from scalinglaws.fit._varpro import compiled_screen

    law = sl.get_law("chinchilla")
    sl.fit(law, chinchilla_runs)
    spec = Spec(law, law.param_names, (), "huber")
    init, advance = compiled_polisher(spec)
    screen = compiled_screen(spec)
    sizes = (init._cache_size(), advance._cache_size(), screen._cache_size())
    other = chinchilla_runs.table.assign(loss=chinchilla_runs.table["loss"] * 1.01)
    sl.fit(law, other)
    assert (init._cache_size(), advance._cache_size(), screen._cache_size()) == sizes


def test_hoffmann2022_is_only_defined_for_chinchilla(chinchilla_runs):
    with pytest.raises(sl.InputError, match="hoffmann2022"):
        sl.fit("kaplan_nd", chinchilla_runs, method="hoffmann2022")
    with pytest.raises(sl.InputError, match="fixed alpha"):
        sl.fit("chinchilla", chinchilla_runs, method="hoffmann2022", fix={"alpha": 0.3})


def test_mse_loss_fits_and_reports_the_mean():
    law = sl.get_law("power_law_offset")
    truth = {"E": 1.5, "a": 30.0, "b": 0.3}
    runs = simulate(law, truth, n=100, noise=0.01, seed=5, ranges={"x": (1e6, 1e11)})
    r = sl.fit(law, runs, loss="mse")
    resid = np.log(runs["loss"].to_numpy()) - np.log(r.predict(runs))
    assert r.objective == pytest.approx(np.mean(resid**2), rel=1e-9)
    assert r.params["b"] == pytest.approx(0.3, abs=0.1)


def test_stored_programs_are_reused_without_tracing(tmp_path):
    from scalinglaws._jax import StoredJit

    traced = []

    def double_log(x):
        traced.append(1)  # runs only while JAX traces the function
        return 2.0 * jax.numpy.log(x)

    x = np.array([1.0, 10.0, 100.0])
    first = StoredJit(double_log, "test:double_log", folder=str(tmp_path))(x)
    assert len(traced) == 1 and len(list(tmp_path.iterdir())) == 1
    again = StoredJit(double_log, "test:double_log", folder=str(tmp_path))(x)  # a new process would do this
    assert len(traced) == 1 and np.array_equal(np.asarray(first), np.asarray(again))
    StoredJit(double_log, "test:double_log", folder=str(tmp_path))(np.ones(4))  # a new shape: traced and stored
    assert len(traced) == 2 and len(list(tmp_path.iterdir())) == 2


def test_programs_one_command_read_are_read_ahead_for_the_next(tmp_path, monkeypatch):
    from scalinglaws import _jax

    monkeypatch.setattr(_jax, "program_folder", lambda: str(tmp_path))
    monkeypatch.setattr(_jax, "_used", [])
    x = np.array([0.5, 1.0])
    expected = np.asarray(_jax.StoredJit(jax.numpy.expm1, "test:expm1", folder=str(tmp_path))(x))  # stored
    (path,) = map(str, tmp_path.glob("*.xla"))
    _jax.remember("fit demo")  # what this "command" read, for the next one
    _jax.prefetch("fit demo")
    assert list(_jax._prefetched) == [path]
    again = _jax.StoredJit(jax.numpy.expm1, "test:expm1", folder=str(tmp_path))(x)  # takes the read-ahead program
    assert not _jax._prefetched and np.array_equal(np.asarray(again), expected)
    _jax.prefetch("another command")  # nothing recorded for it: nothing read ahead
    assert not _jax._prefetched


def test_programs_of_other_versions_are_removed_once_stale(tmp_path):
    import os
    import time

    from scalinglaws._jax import STALE_DAYS, StoredJit

    old, young = tmp_path / f"{'a' * 24}-{'b' * 32}.xla", tmp_path / f"{'c' * 24}-{'d' * 32}.xla"
    mine = tmp_path / "notes.txt"  # not a stored program: never touched
    for path in (old, young, mine):
        path.write_bytes(b"x")
    stale = time.time() - (STALE_DAYS + 1) * 86400
    os.utime(old, (stale, stale))
    os.utime(mine, (stale, stale))
    StoredJit(jax.numpy.sinh, "test:sinh", folder=str(tmp_path))(np.ones(2))  # stores a program: prunes
    assert not old.exists() and young.exists() and mine.exists()
    assert len(list(tmp_path.glob("*.xla"))) == 2


_STORE_EIGH = """
import sys
import numpy as np
import jax
from scalinglaws._jax import StoredJit
traced = []
def eigenvalues(a):
    traced.append(1)
    return jax.numpy.linalg.eigh(a)[0]
values = StoredJit(eigenvalues, "test:eigh", folder=sys.argv[1])(np.diag([3.0, 1.0, 2.0]))
print(len(traced), np.asarray(values).tolist())
"""


def test_a_stored_program_with_lapack_calls_runs_in_a_fresh_process(tmp_path):
    """The second process only loads the program (nothing traced) and must set up LAPACK itself."""
    runs = [subprocess.run([sys.executable, "-c", _STORE_EIGH, str(tmp_path)], capture_output=True, text=True,
                           timeout=300) for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], runs[-1].stderr[-2000:]
    assert [r.stdout for r in runs] == ["1 [1.0, 2.0, 3.0]\n", "0 [1.0, 2.0, 3.0]\n"]


def test_a_damaged_stored_program_is_compiled_anew(tmp_path):
    from scalinglaws._jax import StoredJit

    x = np.array([1.0, 10.0, 100.0])
    expected = np.asarray(StoredJit(jax.numpy.log1p, "test:log1p", folder=str(tmp_path))(x))
    (path,) = tmp_path.iterdir()
    path.write_bytes(b"not a program")
    again = StoredJit(jax.numpy.log1p, "test:log1p", folder=str(tmp_path))(x)
    assert np.array_equal(np.asarray(again), expected)
    assert path.read_bytes() != b"not a program"  # stored again


@pytest.mark.parametrize("lower_by,expect", [(1e-2, "max_iterations"), (1e-9, "converged")])
def test_a_clearly_lower_unconverged_start_is_reported_with_its_status(monkeypatch, chinchilla_runs, lower_by, expect):
    """The fit reports the lowest objective; a converged start is preferred only within 1e-6 of it."""
    from scalinglaws.fit import methods
    from scalinglaws.fit._newton import MAX_ITERATIONS

    solve = methods.METHODS["varpro"]

    def with_a_lower_unconverged_start(spec, data, **options):
        s = solve(spec, data, **options)
        k = int(np.argmax(s.objective))  # the worst start now claims the lowest objective, unconverged
        objective, status, theta = s.objective.copy(), s.status.copy(), s.theta.copy()
        objective[k] = objective.min() - lower_by * abs(objective.min())
        status[k], theta[k] = MAX_ITERATIONS, theta[k] * 1.01
        return s._replace(objective=objective, status=status, theta=theta)

    monkeypatch.setitem(methods.METHODS, "varpro", with_a_lower_unconverged_start)
    r = sl.fit("chinchilla", chinchilla_runs)
    assert r.status == expect
    lowest = min(r.starts.objective)
    assert (r.objective == lowest) == (expect == "max_iterations")
