"""Property tests of the fit engine on runs simulated from every registered law.

For a law drawn from the registry, true parameters drawn inside each parameter's start range and
runs drawn log-uniformly over inputs that suit the law (with multiplicative log-normal noise, or
none), every fit must:

1. report every parameter inside its bounds;
2. raise nothing but `InputError` or `FitError`;
3. when it says ``converged``, be a point that one (Levenberg-damped) Newton step of the exact
   objective cannot lower;
4. on noiseless runs, reproduce them (or not claim convergence); and when it says ``converged``,
   reach an objective no higher than the true parameters give.

Every law is fitted at one number of points (`N_POINTS`), so each (law, loss, method) compiles
its programs once.
"""

from __future__ import annotations

import functools
import json
from typing import NamedTuple

import jax
import numpy as np
import pytest
from conftest import simulate
from hypothesis import given, settings
from hypothesis import strategies as st

import scalinglaws as sl
from scalinglaws.fit._problem import Spec, make_data, objective, unconstrain
from scalinglaws.fit.api import DEFAULT_DELTA

N_POINTS = 40
DELTA = DEFAULT_DELTA  # the default Huber widths (by residual space), which every fit here uses
EPS = np.finfo(np.float64).eps
REPRODUCE_ATOL = 1e-6  # noiseless runs: max |log prediction - log y| of a fit that claims convergence

# Inputs log-uniform over ranges that suit each law: the break points of BNSL and the midpoint of
# the sigmoid range over 1..1e12 / 1..1e13 in their start ranges, so the data see them.
RANGES = {"N": (1e7, 1e11), "D": (1e8, 1e12), "x": (1e1, 1e6)}
LAW_RANGES = {"bnsl": {"x": (1e0, 1e12)}, "bnsl2": {"x": (1e0, 1e12)}, "sigmoid_log": {"x": (1e0, 1e13)},
              # the catalogue's laws, over inputs of their kind
              "lr_annealing": {"S1": (1.0, 100.0), "S2": (1e-3, 0.3)}, "coverage_exp_power": {"k": (1.0, 1e4)},
              "passuntil_task": {"N": (10.0, 1e4)}, "err_from_loss_exp": {"L": (1.5, 6.0)},
              "kaplan_bcrit": {"L": (1.5, 6.0)}, "qqt_utility": {"n": (1e6, 1e8), "P": (1e6, 1e7)},
              "su_nsb": {"N": (1e6, 1e10), "step": (1e2, 1e6), "B": (1e4, 1e8)}, "kaplan_ns": {"step": (1e2, 1e6)},
              "fp_quant": {"E_bits": (1.0, 8.0), "M_bits": (1.0, 8.0), "B_block": (2.0, 1e3)},
              "parallel_scaling": {"P": (1.0, 16.0)}, "data_constrained": {"U": (1e7, 1e11)},
              "capability_sigmoid": {"pc1": (0.3, 3.0), "pc2": (0.3, 3.0), "pc3": (0.3, 3.0)}}

# the laws the engine was built and tuned on get the long search; the catalogue's laws one example
# each (bnsl3 and bnsl4 are bnsl2's code with more breaks, and minutes per example: not drawn)
CORE_LAWS = ("chinchilla", "kaplan_n", "kaplan_d", "kaplan_nd", "m1", "m2", "m3", "m4", "bnsl", "bnsl2", "power_law",
             "power_law_offset", "saturating_power", "sigmoid_log")
ALL_LAWS = tuple(law.name for law in sl.list_laws())
SLOW_LAWS = ("bnsl2", "m4", "saturating_power")  # seconds per fit on a 2-core CPU
FAST_LAWS = tuple(n for n in CORE_LAWS if n not in SLOW_LAWS)
CATALOGUE_LAWS = tuple(n for n in ALL_LAWS if n not in CORE_LAWS and n not in ("bnsl3", "bnsl4"))
GLOBAL_SEARCH_UNCERTIFIED = ("bnsl2",)
# six nonlinear parameters and no linear one: the screen (3 values per axis) can miss the global basin, and a
# fit converges, certified, in another one (found by this test, noisy runs: 1.39e-3 against 8.9e-4 at the truth)
LOCAL_OPTIMA = ("su_nsb",)
OTHER_LOSSES = (("chinchilla", "mse"), ("power_law_offset", "huber-mle"))


class Case(NamedTuple):
    law: str
    params: dict
    noise: float
    seed: int


def _value(param, q: float) -> float:
    """The value at fraction ``q`` of ``param``'s start range (log-uniform for a log-scale one)."""
    lo, hi = param.start
    if param.scale == "log":
        return float(np.exp(np.log(lo) + q * (np.log(hi) - np.log(lo))))
    return float(lo + q * (hi - lo))


@st.composite
def cases(draw, laws):
    name = draw(st.sampled_from(laws))
    law = sl.get_law(name)
    # inside each start range, 5% from its ends: at an end a term of the law can sit at 1e-10 of the
    # others (A = 1e4, alpha = 0.05 beside B = 1, beta = 0.775) or a break at the last run, where the
    # runs cannot resolve it and no fit could recover the parameters
    params = {p.name: _value(p, draw(st.floats(0.05, 0.95))) for p in law.params}
    noise = draw(st.one_of(st.just(0.0), st.floats(0.01, 0.05)))
    seed = draw(st.integers(0, 2**16))
    return Case(name, params, noise, seed)


def _ranges(name: str) -> dict:
    return {**RANGES, **LAW_RANGES.get(name, {})}


@functools.lru_cache(maxsize=None)
def _programs(spec: Spec):
    """Two compiled programs of ``spec``: ``at(u, data)``, the objective with its gradient and Hessian
    in ``u`` and its derivative in each log target (``psi_i = d objective / d r_i``), and
    ``values(us, data)``, the objective at each row of ``us``."""
    f = functools.partial(objective, spec)

    def at(u, data):
        psi = jax.grad(lambda log_y: f(u, data._replace(t_y=log_y)))(data.t_y)
        return f(u, data), jax.grad(f)(u, data), jax.hessian(f)(u, data), psi

    return jax.jit(at), jax.jit(jax.vmap(f, in_axes=(0, None)))


class Point(NamedTuple):
    """The fit's problem at ``params``: parameters on a bound (an infinite ``u``, which no step in
    ``u`` moves) are held fixed there and the others are free."""

    spec: Spec
    data: object
    u: np.ndarray
    params: dict


def _point(law, params: dict, loss: str, x: dict, y: np.ndarray) -> Point:
    u_all = unconstrain(Spec(law, law.param_names, (), loss), params)
    free = tuple(n for n, v in zip(law.param_names, u_all) if np.isfinite(v))
    fixed = tuple(n for n in law.param_names if n not in free)
    spec = Spec(law, free, fixed, loss)
    return Point(spec, make_data(spec, x, y, {n: params[n] for n in fixed}, DELTA[law.space]), u_all[np.isfinite(u_all)], params)


def _tolerance(p: Point, f: float, psi: np.ndarray, x: dict, y: np.ndarray) -> float:
    """How far the objective ``f`` at ``p`` may appear to be beaten without being beaten.

    * ``1e-9 * max(|f|, scale)``, ``scale = |sum_i psi_i r_i|``: the scale the engine measures its
      Newton decrement against (free of the Huber likelihood's constant offset). The engine
      certifies convergence when the Newton decrement ``g' H^-1 g`` (twice the gain its quadratic
      model predicts) is below 1e-14 of the scale, or below 1e-10 of it when no trial point gains
      more than rounding: the weakest certificate admits a predicted gain of 5e-11 of the scale.
      1e-9 leaves a factor 20 over that for the differences between the engine's curvature
      (Gauss-Newton with the Huber zone, plus the positive part of the residuals' own curvature)
      and the exact Hessian used here, and for a step that crosses Huber kinks.
    * Rounding: each log residual carries an error of about ``eps_i = 8 eps (1 + |log y_i|)`` (the
      engine's own estimate), so each of the two objective values compared may be off by the
      change that moving every residual by ``eps_i`` (in the direction that raises the objective)
      makes: ``sum_i |psi_i| eps_i`` to first order, and ``sum_i eps_i^2 / 2`` for residuals that
      are themselves at rounding level (noiseless runs). For the Huber likelihood on noiseless runs
      that change is as large as the objective (its value there, ``n log sigma`` with ``sigma`` at
      rounding level, is rounding noise), and the comparison says nothing, as it should.
    """
    _, values = _programs(p.spec)
    r = p.spec.law.to_space(y) - p.spec.law.to_space(p.spec.law.predict(p.params, x))
    scale = abs(float(np.dot(psi[: y.size], r)))
    log_y = np.asarray(p.data.t_y)
    eps_r = 8 * EPS * (1.0 + np.abs(log_y))
    shifted = p.data._replace(t_y=log_y + np.where(psi >= 0, eps_r, -eps_r))
    rounding = abs(float(values(p.u[None], shifted)[0]) - f)
    return 1e-9 * max(abs(f), scale) + 2.0 * rounding


def _check(case: Case, *, loss: str = "huber", method: str = "varpro") -> None:
    with jax.enable_x64(True):  # float64, as the engine computes (scoped, as it scopes it)
        _check_float64(case, loss=loss, method=method)


def _check_float64(case: Case, *, loss: str, method: str) -> None:
    law = sl.get_law(case.law)
    runs = simulate(law, case.params, n=N_POINTS, noise=case.noise, seed=case.seed, ranges=_ranges(case.law))
    x = {k: runs[k].to_numpy() for k in law.inputs}
    y = runs["loss"].to_numpy()
    if not (np.all(np.isfinite(y)) and np.all(y > 0)):
        # the law itself is undefined there (m4 with eps_inf >= eps_0): the fit must refuse the runs
        try:
            sl.fit(law, runs, loss=loss, method=method)
        except (sl.InputError, sl.FitError):
            return
        raise AssertionError(f"a fit of {law.name} accepted non-positive or non-finite targets")

    # 2. the only exceptions are the package's own (anything else propagates and fails the test)
    try:
        fit = sl.fit(law, runs, loss=loss, method=method)
    except (sl.InputError, sl.FitError):
        return
    assert fit.law.name == law.name

    # 0. the fit document round-trips exactly, through JSON text (every law's parameters and records)
    assert sl.FitResult.from_dict(json.loads(json.dumps(fit.to_dict()))) == fit
    summary = sl.FitResult.from_dict(json.loads(json.dumps(fit.summary())))
    assert summary.params == fit.params and summary.starts is None

    # 1. every fitted parameter inside its bounds (finite unless the bound it sits on is infinite)
    for p in law.params:
        v = fit.params[p.name]
        lo, hi = p.bounds
        assert not np.isnan(v), (p.name, v)
        assert lo <= v <= hi, f"{p.name} = {v!r} outside its bounds {p.bounds} (status {fit.status})"
        assert np.isfinite(v) or v in (lo, hi), (p.name, v)
    converged = fit.status == "converged"

    # 3. a converged fit: one Newton step (exact gradient and Hessian, Levenberg-damped) cannot lower it
    if converged:
        p = _point(law, fit.params, loss, x, y)
        at, values = _programs(p.spec)
        f0, g, H, psi = (np.asarray(v) for v in at(p.u, p.data))
        f0 = float(f0)
        tol = _tolerance(p, f0, psi, x, y)
        d = np.abs(np.diag(H))
        tiny = EPS * max(float(d.max()), 1e-300)  # regularises an exactly singular H, changes no other step
        lams = (0.0, 1e-6, 1e-3)
        steps = []
        for lam in lams:
            try:
                steps.append(-np.linalg.solve(H + lam * np.diag(d) + tiny * np.eye(d.size), g))
            except np.linalg.LinAlgError:
                steps.append(np.full(d.size, np.nan))
        steps = np.array(steps)
        ok = np.all(np.isfinite(steps), axis=1)  # a singular system gives no step
        f1 = np.asarray(values(p.u + np.where(ok[:, None], steps, 0.0), p.data))
        for lam, s, f_s, valid in zip(lams, steps, f1, ok):
            # a step to a point where the objective is not finite lowers nothing
            assert not (valid and np.isfinite(f_s) and f_s < f0 - tol), (
                f"status converged, but a Newton step (lam={lam}) lowers the objective from {f0!r} to "
                f"{float(f_s)!r} (by {f0 - f_s:.3g} > tol {tol:.3g}); max |g| = {np.abs(g).max():.3g}, "
                f"step {s} in u of {p.spec.free}; params {fit.params}")

    # 4. noiseless runs are reproduced, unless the fit says it did not converge or that it ended on a
    # bound (at_bound): a local optimum in a limit where a term or a break degenerates (a BNSL break
    # made infinitely sharp, f1 -> 0), which the fit reports rather than hides
    # Not asserted for bnsl2 (nine parameters, two breaks): its noiseless fits can converge to a local
    # optimum a few 1e-6 in log from the runs (a break that the other one partly stands in for); the
    # global search does not guarantee the truth there (a known limit, see the closing note of issue 10)
    # A break sharper than 1e-3 decades (f1 below it, not on its bound of 0) is that limit too: bnsl
    # can converge there on noiseless runs, 3e-4 in log from them (found by this test once at_bound
    # came to mean on the bound); neither at_bound nor a warning says so yet (a known limit)
    sharp_break = any(fit.params[n] < 1e-3 for n in ("f1", "f2") if n in fit.params and law.name.startswith("bnsl"))
    if case.noise == 0.0 and law.name not in GLOBAL_SEARCH_UNCERTIFIED and not sharp_break:
        err = float(np.max(np.abs(np.log(fit.law.predict(fit.params, x)) - np.log(y))))
        assert err < REPRODUCE_ATOL or not converged or fit.at_bound, (
            f"status converged, but the fit misses noiseless runs by {err:.3g} in log; params {fit.params}, "
            f"objective {fit.objective!r}")

    # ... and a converged fit on noisy runs is no worse than the true parameters (on noiseless runs
    # the check above is the one that means something: both objectives are then at rounding level)
    if converged and case.noise > 0.0 and law.name not in LOCAL_OPTIMA:
        t = _point(law, case.params, loss, x, y)
        f_true, _, _, psi_true = (np.asarray(v) for v in _programs(t.spec)[0](t.u, t.data))
        f_true = float(f_true)
        if np.isfinite(f_true):
            tol_true = _tolerance(t, f_true, psi_true, x, y)
            assert fit.objective <= f_true + tol_true, (
                f"status converged at objective {fit.objective!r}, above {f_true!r} at the true parameters "
                f"(tol {tol_true:.3g}); params {fit.params}")


# One hypothesis run per (law, loss, method), so that a failure of one does not stop the search in the
# others. Examples: 11 fast laws x 14 + 3 slow laws x 4 + 2 other losses x 12 + 10 = 200, and 1 per catalogue law.


@pytest.mark.parametrize("name", FAST_LAWS)
@settings(max_examples=14)
@given(data=st.data())
def test_fit_properties(name, data):
    _check(data.draw(cases((name,)), label="case"))


@pytest.mark.parametrize("name", CATALOGUE_LAWS)
@settings(max_examples=1)  # each passed 3 examples (and su_nsb 14) when added; one keeps the suite's time
@given(data=st.data())
def test_fit_properties_catalogue_laws(name, data):
    _check(data.draw(cases((name,)), label="case"))


@pytest.mark.parametrize("name", SLOW_LAWS)
@settings(max_examples=4)
@given(data=st.data())
def test_fit_properties_slow_laws(name, data):
    _check(data.draw(cases((name,)), label="case"))


@pytest.mark.parametrize("name,loss", OTHER_LOSSES)
@settings(max_examples=12)
@given(data=st.data())
def test_fit_properties_other_losses(name, loss, data):
    _check(data.draw(cases((name,)), label="case"), loss=loss)


@settings(max_examples=10)
@given(cases(("chinchilla",)))
def test_fit_properties_hoffmann2022(case):
    _check(case, method="hoffmann2022")
