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


EPOCH = {"E": 1.81686, "A": 482.006, "B": 2085.434, "alpha": 0.34781, "beta": 0.36585}
UNROUNDED = {"E": math.exp(0.5267228), "A": math.exp(6.0073404), "B": math.exp(6.0179186),
             "alpha": 0.33917084, "beta": 0.2849083}
ROUNDED = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}


@pytest.mark.parametrize("params, ratio", [(EPOCH, 18.3), (UNROUNDED, 59.0), (ROUNDED, 92.8)])
def test_tokens_per_parameter_at_chinchilla_compute(params, ratio):
    """Issue 14: D/N at C = 5.88e23 with Epoch's, Hoffmann's unrounded and rounded constants."""
    (plan,) = sl.compute_optimal("chinchilla", 5.88e23, params=params)
    assert round(plan["tokens_per_param"], 1) == ratio
    assert plan["method"] == "closed form"
    (numeric,) = sl.compute_optimal("chinchilla", 5.88e23, params=params, flops_per_token="6 * N + 0")
    assert numeric["method"] == "numeric"
    assert numeric["N"] == pytest.approx(plan["N"], rel=1e-6)  # golden section agrees with eq. (4)


def test_unrounded_constants_forecast_70b_on_1_4t_tokens():
    assert sl.get_law("chinchilla").predict(UNROUNDED, {"N": 70e9, "D": 1.4e12}) == pytest.approx(1.9208, abs=5e-5)


def test_flops_per_token_counts_more_than_6n():
    """Counting attention FLOPs per token makes every token dearer: the same budget buys fewer of them."""
    (six,) = sl.compute_optimal("chinchilla", 1e22, params=EPOCH)
    (att,) = sl.compute_optimal("chinchilla", 1e22, params=EPOCH, flops_per_token="6*N + 6*2048*(N/12)^(2/3)/16")
    assert att["D"] * (6 * att["N"] + 6 * 2048 * (att["N"] / 12) ** (2 / 3) / 16) == pytest.approx(1e22, rel=1e-9)
    assert att["D"] < six["D"] and att["loss"] > six["loss"]
    with pytest.raises(sl.InputError, match="--flops-per-token may name only N; `6\\*N\\*D` names `D`"):
        sl.compute_optimal("chinchilla", 1e22, params=EPOCH, flops_per_token="6*N*D")
    with pytest.raises(sl.InputError, match="must be positive and grow with N"):
        sl.compute_optimal("chinchilla", 1e22, params=EPOCH, flops_per_token="6 - N")
    with pytest.raises(sl.InputError, match="may call"):
        sl.compute_optimal("chinchilla", 1e22, params=EPOCH, flops_per_token="__import__('os')")


@pytest.fixture(scope="module")
def boot_fit(chinchilla_runs):
    return sl.fit("chinchilla", chinchilla_runs, bootstrap=200, rng=0)


def test_plan_from_the_bundled_fit_has_intervals_and_distance(boot_fit):
    """A fit on the bundled Chinchilla runs: N*, D* at 5.88e23 with 90% intervals that hold the
    point plan, the distance beyond the runs, and an exponent interval like Epoch's (0.513, SE 0.020)."""
    (plan,) = sl.compute_optimal(boot_fit, 5.88e23, level=0.9)
    iv = plan["interval"]
    assert iv["N"][0] < plan["N"] < iv["N"][1] and iv["D"][0] < plan["D"] < iv["D"][1]
    assert iv["loss"][0] < plan["loss"] < iv["loss"][1]
    assert 1.2 < iv["N"][1] / iv["N"][0] < 4  # neither a point nor a shrug
    runs = boot_fit.x_range
    assert plan["decades_beyond"]["N"] == pytest.approx(math.log10(plan["N"] / runs["N"][1]), abs=1e-9)
    slopes = sl.optimal_exponents(boot_fit, level=0.9)
    lo, hi = slopes["interval"]["a"]
    assert lo < 0.513 < hi and 0.02 < (hi - lo) / (2 * 1.645) < 0.04  # Epoch's SE 0.020, in a 90% interval


def test_plan_inside_the_runs_is_not_beyond(boot_fit):
    (plan,) = sl.compute_optimal(boot_fit, 1e19)
    assert plan["decades_beyond"] == {"N": 0.0, "D": 0.0}


def test_data_constrained_plan_holds_unique_tokens():
    p = {"E": 1.87, "A": 521, "B": 1488, "alpha": 0.353, "beta": 0.353, "R_D_star": 15.4, "R_N_star": 5.3}
    with pytest.raises(sl.InputError, match="hold U fixed along the budget's curve with --hold U=VALUE"):
        sl.compute_optimal("data_constrained", 1e22, params=p)
    with pytest.raises(sl.InputError, match="--hold names `V`"):
        sl.compute_optimal("data_constrained", 1e22, params=p, hold={"U": 1e10, "V": 1.0})
    scarce, = sl.compute_optimal("data_constrained", 1e22, params=p, hold={"U": 1e10})
    plenty, = sl.compute_optimal("data_constrained", 1e22, params=p, hold={"U": 1e13})
    assert scarce["epochs"] == pytest.approx(scarce["D"] / 1e10)
    # Muennighoff et al.: excess parameters lose value faster than repeated tokens, so scarce data is
    # spent on epochs rather than on parameters
    assert scarce["loss"] > plenty["loss"] and scarce["N"] < plenty["N"] and scarce["epochs"] > 4


def test_plan_errors_name_the_rule():
    with pytest.raises(sl.InputError, match="minimises a loss"):
        sl.compute_optimal("sigmoid_log", 1e20, params={"y0": 0.25, "y_inf": 1.0, "x0": 1e20, "k": 1.0})
    with pytest.raises(sl.InputError, match="--compute must be finite budgets"):
        sl.compute_optimal("chinchilla", [1e20, float("nan")], params=EPOCH)


def test_data_constrained_plan_reproduces_the_datablations_readme():
    """Muennighoff et al.'s README: C = 1e22 with 25B unique tokens -> about 7.0B parameters and
    237B tokens (9.5 epochs), with their published C4 constants."""
    p = {"E": math.exp(0.6254804), "A": math.exp(6.255414), "B": math.exp(7.3049974), "alpha": 0.3526596,
         "beta": 0.3526596, "R_D_star": 15.387756, "R_N_star": 5.309743}
    (plan,) = sl.compute_optimal("data_constrained", 1e22, params=p, hold={"U": 25e9})
    assert round(plan["N"] / 1e9, 1) == 7.0 and round(plan["D"] / 1e9) == 237 and round(plan["epochs"], 1) == 9.5
