"""Compute-optimal allocation: the N and D = C / (6 N) that minimise a fitted L(N, D) at budget C."""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from .errors import InputError
from .laws import Law, get_law

FLOPS_PER_PARAM_TOKEN = 6.0  # C = 6 N D (Kaplan et al. 2020; Hoffmann et al. 2022)


def compute_optimal(fit_or_law, compute, *, params: Mapping[str, float] | None = None) -> list[dict]:
    """For each budget ``C``, the loss-minimising ``N`` and ``D`` with ``C = 6 N D``.

    Args:
        fit_or_law: a `FitResult`, or a law (name or `Law`) together with ``params``.
        compute: one budget or a sequence of budgets, in FLOP.

    Returns:
        One dict per budget: ``C, N, D, loss, tokens_per_param``.

    The loss is the fit's forecast (`FitResult.predict`: for ``--law auto`` with rivals, their
    weighted average), so a plan and a prediction at its N and D agree. The minimum over ``log N`` is bracketed on a grid spanning ``N`` from 1 to ``C / 6`` and refined
    with Brent's method, so any law with inputs ``(N, D)`` works. For ``chinchilla`` the result
    matches the closed form ``N_opt = G (C/6)^(beta/(alpha+beta))``, ``G = (alpha A / (beta B))^(1/(alpha+beta))``.
    """
    from scipy.optimize import minimize_scalar

    law, values = _law_and_params(fit_or_law, params)
    forecast = fit_or_law.forecast if hasattr(fit_or_law, "forecast") else (lambda x: law.predict(values, x))  # noqa: E731
    if law.y_range is not None:
        raise InputError(f"compute-optimal planning minimises a loss; law {law.name} forecasts a bounded metric "
                         f"(range {list(law.y_range)}), which a plan would not minimise")
    if set(law.inputs) != {"N", "D"}:
        raise InputError(f"compute-optimal planning needs a law of N and D; law {law.name} has inputs {', '.join(law.inputs)}")
    budgets = np.atleast_1d(np.asarray(compute, dtype=np.float64))
    if not np.all(np.isfinite(budgets) & (budgets > FLOPS_PER_PARAM_TOKEN)):
        raise InputError(f"--compute must be finite budgets above {FLOPS_PER_PARAM_TOKEN:g} FLOP (C = 6 N D with "
                         f"N, D >= 1); got {budgets.tolist()}")

    def loss_at(log_n, C):
        N = math.exp(log_n)
        return float(forecast({"N": np.array([N]), "D": np.array([C / (FLOPS_PER_PARAM_TOKEN * N)])})[0])

    plans = []
    for C in budgets:
        grid = np.linspace(0.0, math.log(C / FLOPS_PER_PARAM_TOKEN), 401)
        with np.errstate(all="ignore"):
            losses = forecast({"N": np.exp(grid), "D": C / (FLOPS_PER_PARAM_TOKEN * np.exp(grid))})
        if not np.isfinite(losses).any():
            raise InputError(f"law {law.name} with these parameters has no finite loss at budget {C:g}")
        i = int(np.clip(np.nanargmin(losses), 1, len(grid) - 2))
        res = minimize_scalar(loss_at, bracket=None, bounds=(grid[i - 1], grid[i + 1]), args=(C,), method="bounded",
                              options={"xatol": 1e-10})
        N = math.exp(res.x)
        D = float(C) / (FLOPS_PER_PARAM_TOKEN * N)
        plans.append({"C": float(C), "N": N, "D": D, "loss": float(res.fun), "tokens_per_param": D / N})
    return plans


def _law_and_params(fit_or_law, params) -> tuple[Law, dict]:
    if hasattr(fit_or_law, "law") and hasattr(fit_or_law, "params"):
        return fit_or_law.law, dict(fit_or_law.params)
    law = get_law(fit_or_law)
    if params is None:
        raise InputError(f"planning with law {law.name} needs its parameters (--params K=V,...)")
    return law, law.checked_params(params, "--params")
