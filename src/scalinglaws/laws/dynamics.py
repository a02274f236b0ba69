"""Laws of training dynamics: loss in optimizer steps and batch size (Kaplan 2020; Su 2024), the
critical batch size, and the loss curve under a learning-rate schedule (Tissue 2024).

`lr_annealing` reads the forward area ``S1`` and the annealing area ``S2`` of each run's schedule at
each step; `scalinglaws.data.schedules` computes them from a run's ``lr`` column or a named schedule.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from ._law import Law, Param, power
from ._registry import register_law

INF = math.inf
_KAPLAN_REF = "Kaplan et al. 2020, Scaling Laws for Neural Language Models, arXiv:2001.08361"
_SU_REF = "Su et al. 2024, Unraveling the Mystery of Scaling Laws: Part I, arXiv:2403.06563"
_N_C = Param("N_c", (0.0, INF), (1e8, 1e18), "log", "critical model size (non-embedding parameters)")
_ALPHA_N = Param("alpha_N", (0.0, 2.0), (0.02, 0.5), description="model-size exponent")
_S_C = Param("S_c", (0.0, INF), (1.0, 1e6), "log", "critical number of steps")
_ALPHA_S = Param("alpha_S", (0.0, 3.0), (0.1, 1.5), description="steps exponent")
_B_STAR = Param("B_star", (0.0, INF), (1e3, 1e12), "log", "critical batch size at L = 1 (tokens)")
_ALPHA_B = Param("alpha_B", (0.01, 2.0), (0.05, 1.0), description="critical-batch exponent")


def _kaplan_bcrit(p, x):
    # Kaplan et al. 2020: B_crit(L) = B_* / L^(1 / alpha_B)
    return p["B_star"] * jnp.exp(-jnp.log(x["L"]) / p["alpha_B"])


kaplan_bcrit = register_law(
    Law(
        name="kaplan_bcrit",
        inputs=("L",),
        params=(_B_STAR, _ALPHA_B),
        fn=_kaplan_bcrit,
        equation="B_crit(L) = B_star / L^(1 / alpha_B)",
        reference=_KAPLAN_REF + " (critical batch size)",
        linear=("B_star",),
        output="critical batch size",
        family="dynamics",
        auto=False,
    )
)


def _kaplan_ns(p, x):
    # Kaplan et al. 2020: L(N, S_min) = (N_c / N)^alpha_N + (S_c / S_min)^alpha_S
    return (power(p["N_c"], p["alpha_N"]) * power(x["N"], -p["alpha_N"])
            + power(p["S_c"], p["alpha_S"]) * power(x["step"], -p["alpha_S"]))


kaplan_ns = register_law(
    Law(
        name="kaplan_ns",
        inputs=("N", "step"),
        params=(_N_C, _S_C, _ALPHA_N, _ALPHA_S),
        fn=_kaplan_ns,
        equation="L(N, S_min) = (N_c / N)^alpha_N + (S_c / S_min)^alpha_S",
        reference=_KAPLAN_REF + " (loss in model size and steps); step is S_min, the steps at a batch far above B_crit "
        "(su_nsb converts any batch)",
        family="dynamics",
    )
)

_BISECTIONS = 60
_NEWTON_STEPS = 3


def _su_nsb(p, x):
    # Su et al. 2024 (Kaplan's forms): the loss L at step s with batch B solves
    #   L = L_N + (S_c (1 + B_crit(L) / B) / s)^alpha_S,  L_N = (N_c / N)^alpha_N,  B_crit(L) = B_* / L^(1/alpha_B).
    # With u = L - L_N = e^t, H(t) = t - alpha_S [log(S_c / s) + softplus(log(B_* / B) - log(L_N + e^t) / alpha_B)]
    # is strictly increasing (H' >= 1), so its one root lies between t at B_crit = 0 and t at L = L_N:
    # bisection brackets it, Newton polishes it, and a last Newton step from the (gradient-stopped) root
    # carries the implicit-function derivative to the parameters.
    a_s, a_b = p["alpha_S"], p["alpha_B"]
    log_ln = p["alpha_N"] * (jnp.log(p["N_c"]) - jnp.log(x["N"]))
    base = a_s * (jnp.log(p["S_c"]) - jnp.log(x["step"]))
    log_ratio = jnp.log(p["B_star"]) - jnp.log(x["B"])

    def H(t):
        return t - base - a_s * jax.nn.softplus(log_ratio - jnp.logaddexp(log_ln, t) / a_b)

    def newton(t):
        z = log_ratio - jnp.logaddexp(log_ln, t) / a_b
        slope = 1.0 + a_s * jax.nn.sigmoid(z) * jax.nn.sigmoid(t - log_ln) / a_b
        return t - H(t) / slope

    def bisect(_, bracket):
        lo, hi = bracket
        mid = 0.5 * (lo + hi)
        below = H(mid) < 0.0
        return jnp.where(below, mid, lo), jnp.where(below, hi, mid)

    lo = base
    hi = base + a_s * jax.nn.softplus(log_ratio - log_ln / a_b)
    lo, hi = jax.lax.fori_loop(0, _BISECTIONS, bisect, (lo, hi + 1e-12))
    root = jax.lax.fori_loop(0, _NEWTON_STEPS, lambda _, t: jnp.clip(newton(t), lo - 1.0, hi + 1.0), 0.5 * (lo + hi))
    t = newton(jax.lax.stop_gradient(root))
    return jnp.exp(log_ln) + jnp.exp(t)


su_nsb = register_law(
    Law(
        name="su_nsb",
        inputs=("N", "step", "B"),
        params=(_N_C, _ALPHA_N, _S_C, _ALPHA_S, _B_STAR, _ALPHA_B),
        fn=_su_nsb,
        equation="L = (N_c / N)^alpha_N + (S_c (1 + B_crit(L) / B) / step)^alpha_S,  B_crit(L) = B_star / L^(1 / alpha_B)"
        "  (solved for L)",
        reference=_SU_REF + " (Kaplan's L(N, S_min), B_crit(L) and S_min = S / (1 + B_crit(L) / B), as that paper uses them)",
        family="dynamics",
    )
)


def _lr_annealing(p, x):
    # Tissue et al. 2024: L(s) = L0 + A S1^-alpha - C S2
    return p["L0"] + p["A"] * power(x["S1"], -p["alpha"]) - p["C"] * x["S2"]


lr_annealing = register_law(
    Law(
        name="lr_annealing",
        inputs=("S1", "S2"),
        params=(
            Param("L0", (0.0, INF), (0.5, 5.0), description="irreducible loss (nats/token)"),
            Param("A", (0.0, INF), (1e-2, 1e3), "log", "amplitude of the forward-area power law"),
            Param("alpha", (0.0, 3.0), (0.05, 1.5), description="forward-area exponent"),
            Param("C", (0.0, INF), (0.0, 10.0), description="loss drop per unit of annealing area"),
        ),
        fn=_lr_annealing,
        equation="L(s) = L0 + A S1(s)^-alpha - C S2(s),  S1 = sum of eta_i,  S2 = sum of m_i,  "
        "m_i = lambda m_{i-1} + (eta_{i-1} - eta_i)",
        reference="Tissue, Wang and Wang 2024, Scaling Law with Learning Rate Annealing, arXiv:2408.11029",
        linear=("L0", "A", "C"),
        log_inputs=("S1",),
        family="dynamics",
    )
)
