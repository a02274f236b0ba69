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
    assert statuses <= {"converged", "max_iterations", "failed", "discarded", "out_of_bounds", "stopped"}
    assert "converged" in statuses
    assert sum(hoffmann_fit.status_counts.values()) == hoffmann_fit.n_starts
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


@pytest.mark.parametrize("lower_by,expect", [(1e-2, "max_iterations"), (1e-9, "converged")])
def test_a_clearly_lower_unconverged_start_is_reported_with_its_status(monkeypatch, chinchilla_runs, lower_by, expect):
    """The fit reports the lowest objective; a converged start is preferred only within 1e-6 of it."""
    from scalinglaws.fit import methods
    from scalinglaws.fit._newton import MAX_ITERATIONS

    solve = methods.METHODS["varpro"]

    def with_a_lower_unconverged_start(spec, data, weights, **options):
        [s] = solve(spec, data, weights, **options)
        k = int(np.argmax(s.objective))  # the worst start now claims the lowest objective, unconverged
        objective, status, theta = s.objective.copy(), s.status.copy(), s.theta.copy()
        objective[k] = objective.min() - lower_by * abs(objective.min())
        status[k], theta[k] = MAX_ITERATIONS, theta[k] * 1.01
        return [s._replace(objective=objective, status=status, theta=theta)]

    monkeypatch.setitem(methods.METHODS, "varpro", with_a_lower_unconverged_start)
    r = sl.fit("chinchilla", chinchilla_runs)
    assert r.status == expect
    lowest = min(r.starts.objective)
    assert (r.objective == lowest) == (expect == "max_iterations")
