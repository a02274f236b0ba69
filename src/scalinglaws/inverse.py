"""Questions asked backwards of a fitted law, each with a bootstrap interval where the fit has one:

* `reach`: the value of one input (tokens, steps, compute) at which the forecast reaches a target,
  the other inputs held;
* `compute_for_loss`: the smallest budget whose compute-optimal run reaches a target loss;
* `inference_aware`: Sardana et al. 2024 (arXiv:2401.00448): the model that reaches a target loss
  at the least total cost, training ``D f(N)`` plus inference ``2 N T`` over ``T`` tokens served;
* `smaller_model_overhead`: the extra training compute a model smaller than the compute-optimal one
  needs to reach the same loss (de Vries 2023; the over-training side of Sardana et al.);
* `epochs_worth_it`: data-constrained training (Muennighoff et al. 2023, arXiv:2305.16264);
* `critical_batch`: Kaplan et al. 2020's critical batch and the steps/tokens trade-off at a loss.

The answer is the fit's forecast asked backwards (for ``--law auto`` with rivals, their weighted
average, as `predict` and `plan` give it). With bootstrap replicates an answer carries ``interval``:
the percentiles of the answer asked again of every replicate's curve. It is the uncertainty of the
law's parameters only (``parameters_only: true``): run-to-run noise and the widening for distance
beyond the runs that `predict --interval` adds are not in it, so an answer far beyond the runs is
less certain than its interval says. ``unreachable`` is the share of replicates that never reach
the target within the range searched (their answer counts as above every reachable one). A fit that
averages laws gives no interval (its replicates are the chosen law's only).
"""

from __future__ import annotations

import math
from typing import Callable, Mapping

import numpy as np

from .errors import InputError
from .plan import AVERAGED_NOTE, SIX_N, FlopsRule, _held, _law_and_params, _minimise, argmin, is_averaged

BISECTION_STEPS = 64  # halvings of a log10 bracket 40 decades wide: below float64 resolution
SPAN = (0.0, 40.0)  # log10 of the values searched: 1 to 1e40
N_SPAN = (0.0, 20.0)  # log10 of the model sizes `inference_aware` searches
INFERENCE_FLOPS_PER_TOKEN = 2.0  # a forward pass: 2 N FLOPs per token served (Sardana et al. 2024)


def _curves(fit_or_law, params):
    """``(law, point, replicates, note)``: the forecast as a function of input arrays with a leading
    axis of 1, each replicate's law as one of arrays whose leading axis is the replicates (None
    without replicates, or for a fit that averages laws: ``note`` says why)."""
    law, values = _law_and_params(fit_or_law, params)
    if hasattr(fit_or_law, "forecast"):
        point = fit_or_law.forecast
    else:
        point = lambda x: law.predict(values, x)  # noqa: E731
    boot = getattr(fit_or_law, "bootstrap", None)
    if boot is None:
        return law, point, None, None
    if is_averaged(fit_or_law):
        return law, point, None, AVERAGED_NOTE
    reps = boot.values()

    def replicates(x):
        ndim = max(np.ndim(v) for v in x.values())
        return law.predict({k: v.reshape(v.shape + (1,) * (ndim - 1)) for k, v in reps.items()}, x)

    replicates.n = len(next(iter(reps.values())))
    return law, point, replicates, None


def _solve_increasing(g: Callable[[np.ndarray], np.ndarray], shape, span=SPAN):
    """``v`` with ``g(log10 v) = 0`` for a ``g`` that falls to zero and below as ``v`` grows (the
    forecast minus the target), elementwise by bisection in ``log10 v``. Returns ``(v, never,
    already)``: ``v`` is inf where ``g`` stays positive over the span (``never``) and the span's lower
    end where ``g`` is not positive there (``already``: reached before the search starts)."""
    lo, hi = np.full(shape, float(span[0])), np.full(shape, float(span[1]))
    with np.errstate(all="ignore"):
        never = ~(g(hi) <= 0)
        already = g(lo) <= 0
        for _ in range(BISECTION_STEPS):
            mid = (lo + hi) / 2.0
            below = g(mid) <= 0
            hi, lo = np.where(below, mid, hi), np.where(below, lo, mid)
    return np.where(already, 10.0 ** span[0], np.where(never, np.inf, 10.0 ** hi)), never & ~already, already


def _interval(values: np.ndarray, level: float) -> dict:
    """Percentiles with non-finite answers (never reached) above every finite one."""
    tail = (1.0 - level) / 2.0
    never = ~np.isfinite(values)
    top = np.finfo(np.float64).max
    lo, hi = np.quantile(np.where(never, top, values), [tail, 1.0 - tail], axis=0, method="inverted_cdf")
    return {"lo": _finite(np.where(lo == top, np.inf, lo)), "hi": _finite(np.where(hi == top, np.inf, hi)),
            "unreachable": float(np.mean(never))}


def _with_interval(result: dict, replicates, note, level, answers: Mapping[str, np.ndarray], never) -> dict:
    """``result`` with the replicates' ``interval`` of each answer (or the note why there is none)."""
    if note:
        result["interval_note"] = note
    if replicates is None:
        return result
    interval = {"level": level, "parameters_only": True, "unreachable": float(np.mean(never))}
    for k, v in answers.items():
        iv = _interval(np.where(never, np.inf, v), level)
        interval[k] = [iv["lo"], iv["hi"]]
    result["interval"] = interval
    return result


def _checked_target(target, law, what="--target") -> float:
    target = float(target)
    if not math.isfinite(target) or (law.space == "log" and target <= 0):
        raise InputError(f"{what} must be a finite{' positive' if law.space == 'log' else ''} value of the "
                         f"law's output; got {target!r}")
    return target


def _checked_point(law, at: Mapping[str, float], what: str) -> dict[str, float]:
    out = {}
    for k, v in at.items():
        v = float(v)
        if not math.isfinite(v) or (k in law.log_inputs and v <= 0):
            raise InputError(f"{what} {k} must be finite{' and positive' if k in law.log_inputs else ''} "
                             f"(law {law.name} takes powers of it); got {v!r}")
        out[k] = v
    return out


def reach(fit_or_law, target: float, along: str, at: Mapping[str, float], *, params=None, level: float = 0.9) -> dict:
    """The value of input ``along`` at which the forecast reaches ``target`` (falls to it, for a loss;
    for a law that rises along the input, rises to it), the other inputs at ``at``.

    Returns ``{along: value, "target", "forecast_there", "interval": {along: [lo, hi], ...}}``; the
    value is None where the forecast never reaches the target for ``along`` up to 1e40 (a loss below
    its floor, say). A target the forecast already meets at ``along = 1`` is refused."""
    from .fit.records import check_level

    law, point, replicates, note = _curves(fit_or_law, params)
    target = _checked_target(target, law)
    if along not in law.inputs:
        raise InputError(f"--along must be an input of law {law.name} ({', '.join(law.inputs)}); got {along!r}")
    missing = [k for k in law.inputs if k != along and k not in at]
    if missing:
        raise InputError(f"--at must give every other input of law {law.name}; it lacks {missing[0]}")
    extra = [k for k in at if k not in law.inputs or k == along]
    if extra:
        raise InputError(f"--at names `{extra[0]}`, which is not another input of law {law.name}")
    at = _checked_point(law, at, "--at")
    check_level("--level", level)
    sign = _direction(point, along, at)

    def solve(curve, n):
        def g(log_v):
            x = {along: 10.0 ** log_v, **{k: np.full(np.shape(log_v), v) for k, v in at.items()}}
            return sign * (curve(x) - target)

        return _solve_increasing(g, (n,))

    (value,), (never,), (already,) = solve(point, 1)
    if already:
        raise InputError(f"the forecast already reaches {target:g} at {along} = 1 (the smallest value searched): "
                         "every value does")
    result = {along: _finite(value), "target": target}
    if not never:
        result["forecast_there"] = float(point({along: np.array([value]), **{k: np.array([v]) for k, v in at.items()}})[0])
        beyond = _beyond(fit_or_law, {along: value, **at})
        if beyond is not None:
            result["decades_beyond"] = beyond
    if replicates is not None:
        values, nev, _ = solve(replicates, replicates.n)
        return _with_interval(result, replicates, note, level, {along: values}, nev)
    return _with_interval(result, None, note, level, {}, None)


def _direction(curve, along, at) -> float:
    """+1 if the forecast falls as ``along`` grows (a loss in tokens), -1 if it rises (accuracy)."""
    x = {along: 10.0 ** np.array(SPAN), **{k: np.full(2, float(v)) for k, v in at.items()}}
    with np.errstate(all="ignore"):
        f = curve(x)
    return 1.0 if not np.isfinite(f).all() or f[1] <= f[0] else -1.0


def _optimal_loss(curve, rule, held, log_c):
    """L*(C), the compute-optimal loss, for budgets 10^log_c whose leading axis matches the curve's."""
    C = 10.0 ** np.asarray(log_c)

    def loss(N, D):
        return curve({"N": N, "D": D, **{k: np.full(np.shape(N), v) for k, v in held.items()}})

    N, edge = _minimise(loss, C, rule)
    with np.errstate(all="ignore"):
        return np.where(edge, np.nan, loss(N, rule.tokens(N, C)))


def compute_for_loss(fit_or_law, target: float, *, params=None, flops_per_token: str = SIX_N,
                     hold: Mapping[str, float] | None = None, level: float = 0.9) -> dict:
    """The smallest budget ``C`` whose compute-optimal ``N, D`` reach loss ``target``, and that plan.

    Returns ``{"target", "C", "N", "D", "tokens_per_param", "interval": {"C": [lo, hi], ...}}``; ``C``
    is None when no budget up to 1e40 FLOPs reaches the target (the law's floor lies above it, or
    nearly at it). A target already reached by the least budget (one token through one parameter)
    is refused."""
    from .fit.records import check_level
    from .plan import compute_optimal

    law, point, replicates, note = _curves(fit_or_law, params)
    target = _checked_target(target, law, "--target-loss")
    rule = FlopsRule(flops_per_token)
    held = _held(law, hold)
    check_level("--level", level)
    span = (math.log10(float(rule.per_token(1.0))) + 1e-9, SPAN[1])  # from one token through one parameter

    def solve(curve, n):
        def g(log_c):  # not finite where no optimum lies inside (N, D >= 1): counted as not reached
            v = _optimal_loss(curve, rule, held, log_c) - target
            return np.where(np.isfinite(v), v, np.inf)

        return _solve_increasing(g, (n,), span=span)

    with np.errstate(all="ignore"):
        least = float(point({"N": np.ones(1), "D": np.ones(1), **{k: np.full(1, v) for k, v in held.items()}})[0])
    (C,), (never,), (already,) = solve(point, 1)
    if already or least <= target:
        raise InputError(f"--target-loss {target:g} is reached by the least budget searched ({10 ** span[0]:g} FLOP: "
                         f"one token through one parameter, loss {least:.4g})")
    result = {"target": target, "C": _finite(C)}
    if not never:
        (p,) = compute_optimal(fit_or_law, C, params=params, flops_per_token=flops_per_token, hold=held)
        result.update(N=p["N"], D=p["D"], tokens_per_param=p["tokens_per_param"])
        if "decades_beyond" in p:
            result["decades_beyond"] = p["decades_beyond"]
    if replicates is not None:
        values, nev, _ = solve(replicates, replicates.n)
        return _with_interval(result, replicates, note, level, {"C": values}, nev)
    return _with_interval(result, None, note, level, {}, None)


def _tokens_to_reach(curve, N, target, held) -> np.ndarray:
    """``D`` with ``L(N, D) = target`` for every entry of ``N`` (whose leading axis matches the
    curve's); inf where the model's loss never falls to the target."""
    def g(log_d):
        x = {"N": N, "D": 10.0 ** log_d, **{k: np.full(np.shape(N), v) for k, v in held.items()}}
        return curve(x) - target

    return _solve_increasing(g, np.shape(N))[0]


def inference_aware(fit_or_law, target: float, served: float, *, params=None, flops_per_token: str = SIX_N,
                    hold: Mapping[str, float] | None = None, level: float = 0.9) -> dict:
    """The model that reaches loss ``target`` at the least total cost: training ``D f(N)`` plus
    inference ``2 N T`` over ``served`` tokens ``T`` (Sardana et al. 2024, eq. 3 with their FLOPs),
    searched over ``N`` from 1 to 1e20.

    Returns ``N, D, tokens_per_param, train_flops, inference_flops, total_flops`` and, beside it, the
    compute-optimal model that reaches the same loss (``T = 0``) serving the same tokens:
    ``compute_optimal: {N, D, total_flops}`` and ``saving`` (1 - total / its total). From a
    bootstrapped fit, ``interval`` of ``N, D, total_flops``."""
    from .fit.records import check_level

    law, point, replicates, note = _curves(fit_or_law, params)
    target = _checked_target(target, law, "--target-loss")
    served = float(served)
    if not (math.isfinite(served) and served >= 0):
        raise InputError(f"--served must be a finite number of tokens >= 0; got {served!r}")
    rule = FlopsRule(flops_per_token)
    held = _held(law, hold)
    check_level("--level", level)

    def cost(N, D, T):
        return rule.compute(N, D) + INFERENCE_FLOPS_PER_TOKEN * N * T

    def best(curve, n, T):
        def total(log_n):
            N = 10.0 ** log_n
            D = _tokens_to_reach(curve, N, target, held)
            return np.where(np.isfinite(D), cost(N, D, T), np.inf)

        with np.errstate(all="ignore"):
            log_n, edge = argmin(total, np.full(n, N_SPAN[0]), np.full(n, N_SPAN[1]))
            N = 10.0 ** log_n
            D = np.where(edge, np.nan, _tokens_to_reach(curve, np.where(edge, 1.0, N), target, held))
        return N, D, edge

    (N,), (D,), (edge,) = best(point, 1, served)
    (N0,), (D0,), (edge0,) = best(point, 1, 0.0)
    if edge or edge0:
        raise InputError(f"no model of 1 to 1e20 parameters reaches loss {target:g} at a least cost inside that range "
                         "(the law's floor lies above the target, or the optimum lies beyond 1e20 parameters)")
    result = {"target": target, "served": served, "N": float(N), "D": float(D), "tokens_per_param": float(D / N),
              "train_flops": float(rule.compute(N, D)), "inference_flops": float(INFERENCE_FLOPS_PER_TOKEN * N * served),
              "total_flops": float(cost(N, D, served)),
              "compute_optimal": {"N": float(N0), "D": float(D0), "total_flops": float(cost(N0, D0, served))}}
    result["saving"] = 1.0 - result["total_flops"] / result["compute_optimal"]["total_flops"]
    beyond = _beyond(fit_or_law, {"N": N, "D": D, **held})
    if beyond is not None:
        result["decades_beyond"] = {k: beyond[k] for k in ("N", "D")}
    if replicates is not None:
        Nr, Dr, never = best(replicates, replicates.n, served)
        return _with_interval(result, replicates, note, level,
                              {"N": Nr, "D": Dr, "total_flops": cost(Nr, Dr, served)}, never | ~np.isfinite(Dr))
    return _with_interval(result, None, note, level, {}, None)


def smaller_model_overhead(fit_or_law, compute: float, N: float, *, params=None, flops_per_token: str = SIX_N,
                           hold: Mapping[str, float] | None = None, level: float = 0.9) -> dict:
    """Train a model of ``N`` parameters to the loss the compute-optimal model reaches at budget
    ``compute``: the tokens ``D`` it needs, its compute and the ``overhead`` (its compute / budget - 1;
    None where the smaller model never reaches that loss). From a bootstrapped fit, ``interval`` of
    ``D`` and ``overhead`` (each replicate's own optimum and loss)."""
    from .fit.records import check_level
    from .plan import compute_optimal

    law, point, replicates, note = _curves(fit_or_law, params)
    rule = FlopsRule(flops_per_token)
    held = _held(law, hold)
    check_level("--level", level)
    N = float(N)
    if not (math.isfinite(N) and N >= 1):
        raise InputError(f"--model-size must be a finite number of parameters >= 1; got {N!r}")
    (opt,) = compute_optimal(fit_or_law, compute, params=params, flops_per_token=flops_per_token, hold=held)

    def needed(curve, n):
        target = _optimal_loss(curve, rule, held, np.full(n, math.log10(opt["C"])))
        with np.errstate(all="ignore"):
            return _tokens_to_reach(curve, np.full(n, N), target, held)

    (D,) = needed(point, 1)
    C_small = float(rule.compute(N, D)) if math.isfinite(D) else math.inf
    result = {"C": opt["C"], "N_opt": opt["N"], "loss": opt["loss"], "N": N, "D": _finite(D),
              "compute": _finite(C_small), "overhead": _finite(C_small / opt["C"] - 1.0)}
    if replicates is not None:
        Dr = needed(replicates, replicates.n)
        return _with_interval(result, replicates, note, level,
                              {"D": Dr, "overhead": rule.compute(N, Dr) / opt["C"] - 1.0}, ~np.isfinite(Dr))
    return _with_interval(result, None, note, level, {}, None)


def _beyond(fit_or_law, x: Mapping[str, float]) -> dict | None:
    """Per input, decades (log10) the answer lies outside the fitted runs (0 inside); None without a fit."""
    if not hasattr(fit_or_law, "extrapolation"):
        return None
    _, decades = fit_or_law.extrapolation({k: np.array([float(v)]) for k, v in x.items()})
    return {k: float(v[0]) for k, v in decades.items()}


def _finite(v) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


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
    L = float(loss)
    if not (math.isfinite(L) and L > 0):
        raise InputError(f"--loss must be a finite positive loss; got {loss!r}")
    B_crit = float(p["B_star"] / L ** (1.0 / p["alpha_B"]))
    result = {"loss": L, "B_crit": B_crit}
    boot = getattr(fit_or_law, "bootstrap", None)
    if boot is not None:
        lo, hi = boot.interval(lambda q: q["B_star"] / L ** (1.0 / q["alpha_B"]), 0.9)
        result["interval"] = {"B_crit": [lo, hi], "level": 0.9, "parameters_only": True}
    if N is None:
        return result
    if not {"N_c", "alpha_N", "S_c", "alpha_S"} <= set(law.param_names):
        raise InputError(f"steps to reach a loss need law su_nsb (N_c, alpha_N, S_c, alpha_S); got {law.name}")
    if not (math.isfinite(float(N)) and float(N) > 0):
        raise InputError(f"--model-size must be a finite positive number of parameters; got {N!r}")
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
