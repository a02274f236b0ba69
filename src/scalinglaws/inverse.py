"""Questions asked backwards of a fitted law, each with a bootstrap interval where the fit has one:

* `reach`: the value of one input (tokens, steps, compute) at which the forecast reaches a target,
  the other inputs held;
* `compute_for_loss`: the smallest budget whose compute-optimal run reaches a target loss;
* `inference_aware`: Sardana et al. 2024 (arXiv:2401.00448): the model that reaches a target loss
  at the least total cost, training ``6 N D`` plus inference ``2 N T`` over ``T`` tokens served;
* `smaller_model_overhead`: the extra training compute a model smaller than the compute-optimal one
  needs to reach the same loss (de Vries 2023; the over-training side of Sardana et al.);
* `epochs_worth_it`: data-constrained training (Muennighoff et al. 2023, arXiv:2305.16264);
* `critical_batch`: Kaplan et al. 2020's critical batch and the steps/tokens trade-off at a loss.

Every answer is a dict; one with bootstrap replicates carries ``interval`` (percentiles of the
answer computed again for every replicate) and ``unreachable`` (the share of replicates whose law
never reaches the target: their answer is infinite, and counted as such in the percentiles).
"""

from __future__ import annotations

import math
from typing import Callable, Mapping

import numpy as np

from .errors import InputError
from .plan import SIX_N, FlopsRule, _held, _law_and_params, _minimise, argmin, compute_optimal

BISECTION_STEPS = 64  # halvings of a log10 bracket 40 decades wide: below float64 resolution
SPAN = (0.0, 40.0)  # log10 of the values searched: 1 to 1e40


def _solve_increasing(g: Callable[[np.ndarray], np.ndarray], shape, span=SPAN) -> np.ndarray:
    """``v`` with ``g(log10 v) = 0`` for a ``g`` that falls to zero and below as ``v`` grows (the
    forecast minus the target), elementwise by bisection in ``log10 v``; inf where ``g`` stays
    positive (never reached), the lower end where it is already reached."""
    lo, hi = np.full(shape, span[0]), np.full(shape, span[1])
    with np.errstate(all="ignore"):
        reached_hi = g(hi) <= 0
        reached_lo = g(lo) <= 0
        for _ in range(BISECTION_STEPS):
            mid = (lo + hi) / 2.0
            below = g(mid) <= 0
            hi, lo = np.where(below, mid, hi), np.where(below, lo, mid)
    return np.where(reached_lo, 10.0 ** span[0], np.where(reached_hi, 10.0 ** hi, np.inf))


def _replicates(fit):
    reps = fit.bootstrap.values()
    return reps, len(next(iter(reps.values())))


def _interval(values: np.ndarray, level: float) -> dict:
    tail = (1.0 - level) / 2.0
    never = ~np.isfinite(values)  # never reached: above every reachable value, so the upper end shows it
    lo, hi = np.quantile(np.where(never, np.finfo(np.float64).max, values), [tail, 1.0 - tail], axis=0,
                         method="inverted_cdf")
    top = np.finfo(np.float64).max
    return {"lo": np.where(lo == top, np.inf, lo), "hi": np.where(hi == top, np.inf, hi),
            "unreachable": np.mean(never, axis=0)}


def _checked_target(target, law, what="--loss") -> float:
    target = float(target)
    if not math.isfinite(target) or (law.space == "log" and target <= 0):
        raise InputError(f"{what} must be a finite{' positive' if law.space == 'log' else ''} value of the "
                         f"law's output; got {target!r}")
    return target


def reach(fit_or_law, target: float, along: str, at: Mapping[str, float], *, params=None, level: float = 0.9) -> dict:
    """The value of input ``along`` at which the forecast reaches ``target`` (falls to it, for a loss;
    for a law that rises along the input, rises to it), the other inputs at ``at``.

    Returns ``{along: value, "forecast_there": ..., "interval": {along: [lo, hi], "level", "unreachable"}}``;
    the value is inf where the law never reaches the target (a loss above its floor, say)."""
    from .fit.records import check_level

    law, values = _law_and_params(fit_or_law, params)
    target = _checked_target(target, law)
    if along not in law.inputs:
        raise InputError(f"--along must be an input of law {law.name} ({', '.join(law.inputs)}); got {along!r}")
    missing = [k for k in law.inputs if k != along and k not in at]
    if missing:
        raise InputError(f"--at must give every other input of law {law.name}; it lacks {missing[0]}")
    extra = [k for k in at if k not in law.inputs or k == along]
    if extra:
        raise InputError(f"--at names `{extra[0]}`, which is not another input of law {law.name}")
    check_level("--level", level)

    def solve(p, n_rep=None):
        shape = () if n_rep is None else (n_rep,)
        sign = _direction(law, p if n_rep is None else {k: v[0] for k, v in p.items()}, along, at)

        def g(log_v):
            x = {along: 10.0 ** log_v, **{k: np.full(np.shape(log_v), float(v)) for k, v in at.items()}}
            return sign * (law.predict(p, x) - target)

        return _solve_increasing(g, shape)

    value = float(solve(values))
    result = {along: value, "target": target}
    if math.isfinite(value):
        result["forecast_there"] = float(law.predict(values, {along: value, **at}))
    boot = getattr(fit_or_law, "bootstrap", None)
    if boot is not None:
        reps, n_rep = _replicates(fit_or_law)
        iv = _interval(solve(reps, n_rep), level)
        result["interval"] = {along: [_finite(iv["lo"]), _finite(iv["hi"])], "level": level,
                              "unreachable": float(iv["unreachable"])}
    return result


def _direction(law, p, along, at) -> float:
    """+1 if the forecast falls as ``along`` grows (a loss in tokens), -1 if it rises (accuracy)."""
    x = {along: 10.0 ** np.array(SPAN), **{k: np.full(2, float(v)) for k, v in at.items()}}
    with np.errstate(all="ignore"):
        f = law.predict(p, x)
    return 1.0 if not np.isfinite(f).all() or f[1] <= f[0] else -1.0


def compute_for_loss(fit_or_law, target: float, *, params=None, flops_per_token: str = SIX_N,
                     hold: Mapping[str, float] | None = None, level: float = 0.9) -> dict:
    """The smallest budget ``C`` whose compute-optimal ``N, D`` reach loss ``target``, and that plan.

    Returns ``{"target", "C", "N", "D", "tokens_per_param", "interval": {"C": [lo, hi], "level",
    "unreachable"}}``; ``C`` is inf when the law's floor lies above the target."""
    from .fit.records import check_level

    law, values = _law_and_params(fit_or_law, params)
    target = _checked_target(target, law)
    rule = FlopsRule(flops_per_token)
    held = _held(law, hold)
    check_level("--level", level)

    def optimal_loss(p, n_rep, log_c):  # L*(C) for each parameter set (rows) and log10 C (entries)
        C = 10.0 ** log_c
        pp = {k: np.asarray(v).reshape((n_rep,) + (1,) * (np.ndim(log_c) - 1)) for k, v in p.items()}

        def loss(N, D):
            x = {"N": N, "D": D, **{k: np.full(np.shape(N), v) for k, v in held.items()}}
            return law.predict(_lead(pp, np.ndim(N)), x)

        N = _minimise(loss, C, rule)
        return loss(N, rule.tokens(N, C))

    def solve(p, n_rep):
        return _solve_increasing(lambda lc: optimal_loss(p, n_rep, lc) - target, (n_rep,), span=(1.0, 40.0))

    C = float(solve({k: np.atleast_1d(v) for k, v in values.items()}, 1)[0])
    result = {"target": target, "C": _finite(C)}
    if math.isfinite(C):
        (p,) = compute_optimal(law, C, params=values, flops_per_token=flops_per_token, hold=held)
        result.update(N=p["N"], D=p["D"], tokens_per_param=p["tokens_per_param"])
    boot = getattr(fit_or_law, "bootstrap", None)
    if boot is not None:
        reps, n_rep = _replicates(fit_or_law)
        iv = _interval(solve(reps, n_rep), level)
        result["interval"] = {"C": [_finite(iv["lo"]), _finite(iv["hi"])], "level": level,
                              "unreachable": float(iv["unreachable"])}
    return result


def _lead(p: Mapping[str, np.ndarray], ndim: int) -> dict:
    """Replicate parameters (leading axis) with trailing axes added to broadcast against inputs of
    ``ndim`` axes whose first axis is the replicates: never across them."""
    return {k: v.reshape(v.shape + (1,) * (ndim - v.ndim)) for k, v in p.items()}


def _finite(v) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


INFERENCE_FLOPS_PER_TOKEN = 2.0  # a forward pass: 2 N FLOPs per token served (Sardana et al. 2024)
N_SPAN = (3.0, 15.0)  # log10 of the model sizes searched by `inference_aware`


def _tokens_to_reach(law, p, N, target, held) -> np.ndarray:
    """``D`` with ``L(N, D) = target`` for every entry of ``N`` (params broadcast against it); inf
    where the model's loss never falls to the target."""
    def g(log_d):
        x = {"N": N, "D": 10.0 ** log_d, **{k: np.full(np.shape(N), v) for k, v in held.items()}}
        return law.predict(p, x) - target

    return _solve_increasing(g, np.shape(N))


def inference_aware(fit_or_law, target: float, served: float, *, params=None, flops_per_token: str = SIX_N,
                    hold: Mapping[str, float] | None = None, level: float = 0.9) -> dict:
    """The model that reaches loss ``target`` at the least total cost: training ``D f(N)`` plus
    inference ``2 N T`` over ``served`` tokens ``T`` (Sardana et al. 2024, eq. 3 with their FLOPs).

    Returns ``N, D, tokens_per_param, train_flops, inference_flops, total_flops`` and, beside it, the
    compute-optimal model that reaches the same loss (``T = 0``) served the same tokens:
    ``compute_optimal: {N, D, total_flops}`` and ``saving`` (1 - total / its total). From a
    bootstrapped fit, ``interval`` of ``N, D, total_flops``."""
    from .fit.records import check_level

    law, values = _law_and_params(fit_or_law, params)
    target = _checked_target(target, law)
    served = float(served)
    if not (math.isfinite(served) and served >= 0):
        raise InputError(f"--served must be a finite number of tokens >= 0; got {served!r}")
    rule = FlopsRule(flops_per_token)
    held = _held(law, hold)
    check_level("--level", level)

    def best(p, n_rep, T):
        pp = {k: np.asarray(v).reshape(n_rep, 1) for k, v in p.items()}

        def total(log_n):
            N = 10.0 ** log_n
            D = _tokens_to_reach(law, _lead(pp, np.ndim(N)), N, target, held)
            return np.where(np.isfinite(D), rule.compute(N, D) + INFERENCE_FLOPS_PER_TOKEN * N * T, np.inf)

        with np.errstate(all="ignore"):
            log_n = argmin(total, np.full((n_rep, 1), N_SPAN[0]), np.full((n_rep, 1), N_SPAN[1]))
            N = 10.0 ** log_n
            D = _tokens_to_reach(law, pp, N, target, held)
        return N[:, 0], D[:, 0]

    p1 = {k: np.atleast_1d(v) for k, v in values.items()}
    try:
        (N,), (D,) = best(p1, 1, served)
        (N0,), (D0,) = best(p1, 1, 0.0)
    except InputError:
        raise InputError(f"law {law.name} never reaches loss {target:g} (its floor lies above it)") from None
    cost = lambda N, D: rule.compute(N, D) + INFERENCE_FLOPS_PER_TOKEN * N * served  # noqa: E731
    result = {"target": target, "served": served, "N": float(N), "D": float(D), "tokens_per_param": float(D / N),
              "train_flops": float(rule.compute(N, D)), "inference_flops": float(INFERENCE_FLOPS_PER_TOKEN * N * served),
              "total_flops": float(cost(N, D)),
              "compute_optimal": {"N": float(N0), "D": float(D0), "total_flops": float(cost(N0, D0))}}
    result["saving"] = 1.0 - result["total_flops"] / result["compute_optimal"]["total_flops"]
    boot = getattr(fit_or_law, "bootstrap", None)
    if boot is not None:
        reps, n_rep = _replicates(fit_or_law)
        Nr, Dr = best(reps, n_rep, served)
        tr = np.where(np.isfinite(Dr), cost(Nr, Dr), np.inf)
        result["interval"] = {"level": level, "unreachable": float(np.mean(~np.isfinite(Dr)))}
        for k, v in (("N", np.where(np.isfinite(Dr), Nr, np.inf)), ("D", Dr), ("total_flops", tr)):
            iv = _interval(v, level)
            result["interval"][k] = [_finite(iv["lo"]), _finite(iv["hi"])]
    return result


def smaller_model_overhead(fit_or_law, compute: float, N: float, *, params=None, flops_per_token: str = SIX_N,
                           hold: Mapping[str, float] | None = None, level: float = 0.9) -> dict:
    """Train a model of ``N`` parameters to the loss the compute-optimal model reaches at budget
    ``compute``: the tokens ``D`` it needs, its compute and the ``overhead`` (its compute / budget - 1;
    inf where the smaller model never reaches that loss). From a bootstrapped fit, ``interval`` of
    ``D`` and ``overhead``."""
    from .fit.records import check_level

    law, values = _law_and_params(fit_or_law, params)
    rule = FlopsRule(flops_per_token)
    held = _held(law, hold)
    check_level("--level", level)
    N = float(N)
    if not (math.isfinite(N) and N >= 1):
        raise InputError(f"--model-size must be a finite number of parameters >= 1; got {N!r}")
    (opt,) = compute_optimal(law, compute, params=values, flops_per_token=flops_per_token, hold=held)

    def needed(p, n_rep):
        pp = {k: np.asarray(v).reshape(n_rep, 1) for k, v in p.items()}
        N_opt = _minimise(lambda n, d: law.predict(_lead(pp, np.ndim(n)), {"N": n, "D": d, **{
            k: np.full(np.shape(n), v) for k, v in held.items()}}), np.full((n_rep, 1), float(opt["C"])), rule)
        target = law.predict(pp, {"N": N_opt, "D": rule.tokens(N_opt, opt["C"]),
                                  **{k: np.full(N_opt.shape, v) for k, v in held.items()}})
        with np.errstate(all="ignore"):
            D = _tokens_to_reach(law, pp, np.full((n_rep, 1), N), target, held)
        return D[:, 0]

    D = float(needed({k: np.atleast_1d(v) for k, v in values.items()}, 1)[0])
    C_small = float(rule.compute(N, D)) if math.isfinite(D) else math.inf
    result = {"C": opt["C"], "N_opt": opt["N"], "loss": opt["loss"], "N": N, "D": _finite(D),
              "compute": _finite(C_small), "overhead": _finite(C_small / opt["C"] - 1.0)}
    boot = getattr(fit_or_law, "bootstrap", None)
    if boot is not None:
        reps, n_rep = _replicates(fit_or_law)
        Dr = needed(reps, n_rep)
        over = rule.compute(N, Dr) / opt["C"] - 1.0
        result["interval"] = {"level": level, "unreachable": float(np.mean(~np.isfinite(Dr)))}
        for k, v in (("D", Dr), ("overhead", over)):
            iv = _interval(v, level)
            result["interval"][k] = [_finite(iv["lo"]), _finite(iv["hi"])]
    return result


def epochs_worth_it(fit_or_law, *, params=None, level: float = 0.9) -> dict:
    """Data-constrained training (``data_constrained``, Muennighoff et al. 2023): a token seen for the
    ``(R+1)``-th time is worth ``exp(-R / R_D*)`` of a new one, so repeats stop paying half their way
    after ``1 + R_D* ln 2`` epochs, and no number of epochs is worth more than ``1 + R_D*`` epochs of
    new data. Returns ``R_D_star, half_value_epochs, max_effective_epochs`` (with intervals from a
    bootstrapped fit)."""
    law, values = _law_and_params(fit_or_law, params)
    if "R_D_star" not in law.param_names:
        raise InputError(f"epochs worth training need law data_constrained (parameter R_D_star); got {law.name}")
    R = float(values["R_D_star"])
    result = {"R_D_star": R, "half_value_epochs": 1.0 + R * math.log(2.0), "max_effective_epochs": 1.0 + R}
    boot = getattr(fit_or_law, "bootstrap", None)
    if boot is not None:
        lo, hi = boot.interval(lambda p: p["R_D_star"], level)
        result["interval"] = {"R_D_star": [lo, hi], "half_value_epochs": [1 + lo * math.log(2), 1 + hi * math.log(2)],
                              "max_effective_epochs": [1 + lo, 1 + hi], "level": level}
    return result


def critical_batch(fit_or_law, loss: float, *, params=None, N: float | None = None) -> dict:
    """Kaplan et al. (2020) critical batch at a loss, ``B_crit(L) = B_star / L^(1/alpha_B)``, from a
    law with ``B_star, alpha_B`` (``kaplan_bcrit``, ``su_nsb``). With ``su_nsb`` and a model size
    ``N``, also the least steps and tokens to reach the loss, ``S_min = S_c / (L - (N_c/N)^alpha_N)^(1/alpha_S)``
    and ``E_min = B_crit S_min``, and the trade-off ``S = S_min (1 + B_crit/B)``, ``E = E_min (1 + B/B_crit)``
    at batches from ``B_crit/8`` to ``8 B_crit`` (training at ``B_crit`` costs twice each minimum)."""
    law, p = _law_and_params(fit_or_law, params)
    if not {"B_star", "alpha_B"} <= set(law.param_names):
        raise InputError(f"the critical batch needs a law with B_star and alpha_B (kaplan_bcrit, su_nsb); got {law.name}")
    L = _checked_target(loss, law)
    B_crit = float(p["B_star"] / L ** (1.0 / p["alpha_B"]))
    result = {"loss": L, "B_crit": B_crit}
    if N is None:
        return result
    if not {"N_c", "alpha_N", "S_c", "alpha_S"} <= set(law.param_names):
        raise InputError(f"steps to reach a loss need law su_nsb (N_c, alpha_N, S_c, alpha_S); got {law.name}")
    gap = L - (p["N_c"] / float(N)) ** p["alpha_N"]
    if not gap > 0:
        raise InputError(f"a model of N = {float(N):g} parameters never reaches loss {L:g}: its loss at unlimited "
                         f"steps is {L - gap:g}")
    S_min = float(p["S_c"] / gap ** (1.0 / p["alpha_S"]))
    E_min = B_crit * S_min
    B = B_crit * 2.0 ** np.arange(-3.0, 4.0)
    result.update(N=float(N), S_min=S_min, E_min=E_min,
                  tradeoff=[{"B": float(b), "steps": float(S_min * (1 + B_crit / b)), "tokens": float(E_min * (1 + b / B_crit))}
                            for b in B])
    return result
