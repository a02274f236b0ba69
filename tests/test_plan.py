import math

import pytest

import scalinglaws as sl


def test_compute_optimal_matches_the_chinchilla_closed_form(default_fit):
    p = default_fit.params
    C = 5.88e23
    (plan,) = sl.compute_optimal(default_fit, C)
    G = (p["alpha"] * p["A"] / (p["beta"] * p["B"])) ** (1 / (p["alpha"] + p["beta"]))
    a = p["beta"] / (p["alpha"] + p["beta"])
    assert plan["N"] == pytest.approx(G * (C / 6) ** a, rel=1e-6)
    assert plan["N"] * plan["D"] * 6 == pytest.approx(C, rel=1e-12)


def test_compute_optimal_reproduces_published_worked_values():
    """LAWS.md: unrounded Hoffmann constants at Gopher compute 5.76e23 give N_opt 40.4B, D_opt 2.38T."""
    p = {"E": math.exp(0.5267228), "A": math.exp(6.0073404), "B": math.exp(6.0179186),
         "alpha": 0.33917084, "beta": 0.2849083}
    (plan,) = sl.compute_optimal("chinchilla", 5.76e23, params=p)
    assert plan["N"] == pytest.approx(40.4e9, rel=2e-3)
    assert plan["D"] == pytest.approx(2.38e12, rel=3e-3)


def test_plan_errors():
    with pytest.raises(sl.InputError, match="needs a law of N and D"):
        sl.compute_optimal("power_law", 1e20, params={"a": 1.0, "b": 0.1})
    with pytest.raises(sl.InputError, match="--params lacks `beta`"):
        sl.compute_optimal("chinchilla", 1e20, params={"E": 1, "A": 1, "B": 1, "alpha": 0.3})
    with pytest.raises(sl.InputError, match="--compute must be finite budgets above 6 FLOP"):
        sl.compute_optimal("chinchilla", -1.0, params={"E": 1, "A": 1, "B": 1, "alpha": 0.3, "beta": 0.3})
