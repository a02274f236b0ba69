"""Conformance suite, run over every registered law."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import scalinglaws as sl
from scalinglaws.laws._transforms import from_unconstrained, to_unconstrained
from scalinglaws.laws.formula import parse_formula

# every registered law, and laws of the user's own (formulas): they get the same guarantees
LAWS = sl.list_laws() + [
    parse_formula("L(N, D) = E + A / N^alpha + B / D^beta; E >= 0, A >= 0, B >= 0, 0 <= alpha <= 1, 0 <= beta <= 1"),
    parse_formula("acc(C) = top * sigmoid(k * (log(C) - m)); 0 <= acc <= 1, 0 <= top <= 1, 0 < k <= 3, 0 <= m <= 50"),
]


# input ranges where a law's middle parameters give values of its kind (default 1e7..1e11)
RANGES = {"lr_annealing": {"S1": (1.0, 100.0), "S2": (1e-3, 0.3)}, "coverage_exp_power": {"k": (1.0, 1e4)},
          "passuntil_task": {"N": (10.0, 1e4)}, "qqt_utility": {"n": (1e7, 1e9), "P": (1e7, 1e8)},
          "capability_sigmoid": {"pc1": (0.3, 3.0), "pc2": (0.3, 3.0), "pc3": (0.3, 3.0)}}


@pytest.fixture(autouse=True)
def _float64():
    """These tests call laws through JAX directly, as the engine does: in float64, as it does."""
    with jax.enable_x64(True):
        yield


def _mid_params(law):
    out = {}
    for p in law.params:
        lo, hi = p.start
        out[p.name] = float(np.sqrt(lo * hi) if p.scale == "log" else 0.5 * (lo + hi))
    return out


def _points(law, n=7):
    return {name: np.geomspace(1e6, 1e12, n) for name in law.inputs}


@pytest.mark.parametrize("law", LAWS, ids=lambda l: l.name[:20])
def test_shapes_and_finite_values(law):
    y = law.predict(_mid_params(law), _points(law))
    assert y.shape == (7,) and np.all(np.isfinite(y))


@pytest.mark.parametrize("law", LAWS, ids=lambda l: l.name[:20])
def test_finite_gradients_inside_bounds(law):
    x = {k: jnp.asarray(v) for k, v in _points(law).items()}
    p = {k: jnp.asarray(v) for k, v in _mid_params(law).items()}
    grads = jax.grad(lambda q: jnp.sum(law(q, x)))(p)
    assert all(np.isfinite(float(g)) for g in grads.values())


@pytest.mark.parametrize("law", LAWS, ids=lambda l: l.name[:20])
def test_transform_round_trip(law):
    for p in law.params:
        for value in p.grid(5):
            u = to_unconstrained(jnp.asarray(value), p.bounds)
            assert float(from_unconstrained(u, p.bounds)) == pytest.approx(value, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("law", LAWS, ids=lambda l: l.name[:20])
def test_linear_parameters_really_enter_linearly(law):
    x = {k: jnp.asarray(v) for k, v in _points(law).items()}
    p = {k: jnp.asarray(v) for k, v in _mid_params(law).items()}
    for name in law.linear:
        f = lambda c, name=name: law({**p, name: c}, x)  # noqa: E731
        hess = jax.jacfwd(jax.jacfwd(f))(jnp.asarray(1.3))
        assert np.allclose(hess, 0.0)


@pytest.mark.parametrize("law", LAWS, ids=lambda l: l.name[:20])
def test_describe_is_json_safe(law):
    d = json.loads(json.dumps(law.describe()))
    assert d["name"] == law.name and d["inputs"] == list(law.inputs)
    assert [p["name"] for p in d["params"]] == list(law.param_names)


# the fit documents of the laws the property tests draw (every registered law but bnsl3 and bnsl4, which
# are bnsl2's code with more breaks) round-trip there (tests/test_properties.py), where each is fitted
# anyway, whenever the drawn fit succeeds; here the formula laws, which those tests do not draw, and chinchilla
@pytest.mark.parametrize("law", [law for law in LAWS if law.name == "chinchilla" or law.family == "yours"],
                         ids=lambda l: l.name[:20])
def test_fit_result_round_trips_exactly(law):
    from conftest import simulate

    params = _mid_params(law)
    runs = simulate(law, params, n=3 * len(law.params) + 5, noise=0.01, seed=1, ranges=RANGES.get(law.name))
    result = sl.fit(law, runs, starts=16)
    doc = json.loads(json.dumps(result.to_dict()))
    assert sl.FitResult.from_dict(doc) == result
    assert sl.FitResult.from_dict(result.to_dict()) == result
    summary = sl.FitResult.from_dict(json.loads(json.dumps(result.summary())))
    assert summary.params == result.params and summary.starts is None


def test_registry_rejects_a_second_law_under_a_taken_name():
    law = sl.get_law("power_law")
    clone = sl.Law(name="power_law", inputs=law.inputs, params=law.params, fn=law.fn, equation="", reference="")
    with pytest.raises(ValueError, match="already registered"):
        sl.register_law(clone)


def test_param_validates_its_bounds_and_start_range():
    with pytest.raises(ValueError, match="lo < hi"):
        sl.Param("a", bounds=(1.0, 0.0))
    with pytest.raises(ValueError, match="inside bounds"):
        sl.Param("a", bounds=(0.0, 1.0), start=(0.5, 2.0))
    with pytest.raises(ValueError, match="scale"):
        sl.Param("a", scale="cubic")


def test_law_rejects_linear_names_that_are_not_parameters():
    with pytest.raises(ValueError, match="not parameters"):
        sl.Law("x", ("x",), (sl.Param("a"),), lambda p, x: p["a"], "", "", linear=("b",))


def test_chinchilla_reads_against_its_equation():
    p = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
    y = sl.get_law("chinchilla").predict(p, {"N": [7e10], "D": [1.4e12]})[0]
    assert y == pytest.approx(1.69 + 406.4 / 7e10**0.34 + 410.7 / 1.4e12**0.28, rel=1e-14)


def test_kaplan_nd_reduces_to_kaplan_n_at_infinite_data():
    p = {"N_c": 6.4e13, "D_c": 1.8e13, "alpha_N": 0.076, "alpha_D": 0.103}
    y = sl.get_law("kaplan_nd").predict(p, {"N": [1e9], "D": [1e300]})[0]
    assert y == pytest.approx((6.4e13 / 1e9) ** 0.076, rel=1e-12)


def test_m4_solves_its_implicit_equation_and_reduces_to_m2():
    m4 = sl.get_law("m4")
    x = np.geomspace(1e2, 1e9, 9)
    p = {"eps_inf": 0.1, "eps_0": 0.9, "alpha": 0.6, "beta": 40.0, "c": -0.35}
    eps = m4.predict(p, {"x": x})
    lhs = (eps - p["eps_inf"]) / (p["eps_0"] - eps) ** p["alpha"]
    assert np.allclose(lhs, p["beta"] * x ** p["c"], rtol=1e-10)
    assert np.all((eps > p["eps_inf"]) & (eps < p["eps_0"]))
    p2 = {"eps_inf": 0.1, "beta": 4.0, "c": -0.35}
    eps4 = m4.predict({**p2, "eps_0": 50.0, "alpha": 0.0}, {"x": x})
    assert np.allclose(eps4, sl.get_law("m2").predict(p2, {"x": x}), rtol=1e-12)


def test_m4_newton_root_matches_bisection_over_wide_parameters():
    """M4's Newton iteration against an independent bisection of the same equation in t = logit(w / b)."""
    from scipy.special import log_expit

    rng = np.random.default_rng(1)
    n = 4000
    p = {"eps_inf": rng.uniform(0.0, 1.0, n), "alpha": np.exp(rng.uniform(np.log(1e-4), np.log(1e3), n)),
         "beta": np.exp(rng.uniform(np.log(1e-3), np.log(1e4), n)), "c": rng.uniform(-3.0, -0.01, n)}
    p["eps_0"] = p["eps_inf"] + np.exp(rng.uniform(-5.0, 3.0, n))
    x = np.exp(rng.uniform(0.0, np.log(1e12), n))
    log_b, log_f = np.log(p["eps_0"] - p["eps_inf"]), np.log(p["beta"]) + p["c"] * np.log(x)

    def G(t):
        return (1.0 - p["alpha"]) * log_b + log_expit(t) - p["alpha"] * log_expit(-t) - log_f

    lo, hi = np.full(n, -60.0), np.full(n, 60.0)
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        below = G(mid) < 0.0
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    expected = p["eps_inf"] + np.exp(log_b + log_expit(0.5 * (lo + hi)))
    eps = sl.get_law("m4").predict(p, {"x": x})
    assert np.allclose(eps, expected, rtol=1e-9, atol=0.0)


def test_m4_gradient_is_the_implicit_function_derivative():
    m4 = sl.get_law("m4")
    x = {"x": jnp.asarray([1e4])}
    p = {"eps_inf": 0.1, "eps_0": 0.9, "alpha": 0.6, "beta": 40.0, "c": -0.35}
    g = jax.grad(lambda c: m4({**{k: jnp.asarray(v) for k, v in p.items()}, "c": c}, x)[0])(jnp.asarray(p["c"]))
    h = 1e-6
    fd = (m4.predict({**p, "c": p["c"] + h}, {"x": [1e4]})[0] - m4.predict({**p, "c": p["c"] - h}, {"x": [1e4]})[0]) / (2 * h)
    assert float(g) == pytest.approx(fd, rel=1e-6)


def test_m1_is_the_power_law_and_m3_saturates():
    x = {"x": np.geomspace(1e3, 1e9, 5)}
    assert np.allclose(sl.get_law("m1").predict({"beta": 3.0, "c": -0.4}, x),
                       sl.get_law("power_law").predict({"a": 3.0, "b": 0.4}, x), rtol=1e-13)
    y = sl.get_law("m3").predict({"beta": 2.0, "gamma": 1e-4, "c": 0.5}, {"x": [1e15]})[0]
    assert y == pytest.approx(2.0 * 1e-4**0.5, rel=1e-9)


def test_bnsl2_without_a_second_bend_is_bnsl_and_the_sigmoid_spans_its_plateaus():
    x = {"x": np.geomspace(1e1, 1e9, 7)}
    p = {"a": 0.1, "b": 3.0, "c0": 0.2, "c1": 0.4, "d1": 1e4, "f1": 0.3}
    assert np.allclose(sl.get_law("bnsl2").predict({**p, "c2": 0.0, "d2": 1e7, "f2": 0.5}, x),
                       sl.get_law("bnsl").predict(p, x), rtol=1e-13)
    s = sl.get_law("sigmoid_log")
    q = {"y0": 0.25, "y_inf": 0.9, "x0": 1e6, "k": 2.0}
    lo, mid, hi = s.predict(q, {"x": [1e-3, 1e6, 1e15]})
    assert lo == pytest.approx(0.25, abs=1e-9) and mid == pytest.approx(0.575) and hi == pytest.approx(0.9, abs=1e-9)
    assert s.y_range == (0.0, 1.0)
