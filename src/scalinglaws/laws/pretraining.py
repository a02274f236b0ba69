"""Pre-training laws of loss in model size, data, compute, parallel streams and precision (Kaplan 2020;
Hoffmann 2022; Gadre 2024; Chen 2025; Sun 2025)."""

from __future__ import annotations

import math

import jax.numpy as jnp

from ._law import Law, Param, power
from ._registry import register_law

INF = math.inf
_EXPONENT = dict(bounds=(0.0, 3.0), start=(0.05, 1.5))

def _chinchilla(p, x):
    # Hoffmann et al. 2022, eq. (2): L(N, D) = E + A / N^alpha + B / D^beta
    E, A, B, alpha, beta = p["E"], p["A"], p["B"], p["alpha"], p["beta"]
    N, D = x["N"], x["D"]
    return E + A * power(N, -alpha) + B * power(D, -beta)

chinchilla = register_law(
    Law(
        name="chinchilla",
        inputs=("N", "D"),
        params=(
            Param("E", (0.0, INF), (0.5, 3.0), "linear", "irreducible loss (nats/token)"),
            Param("A", (0.0, INF), (1.0, 1e4), "log", "model-size amplitude"),
            Param("B", (0.0, INF), (1.0, 1e4), "log", "data amplitude"),
            Param("alpha", **_EXPONENT, description="model-size exponent"),
            Param("beta", **_EXPONENT, description="data exponent"),
        ),
        fn=_chinchilla,
        equation="L(N, D) = E + A / N^alpha + B / D^beta",
        reference="Hoffmann et al. 2022, Training Compute-Optimal Large Language Models, arXiv:2203.15556, eq. (2)",
        linear=("E", "A", "B"),
        family="pretraining",
    )
)

def critical_power(scale: str, exponent: str, x_name: str):
    """Kaplan's single-variable form ``L(X) = (X_c / X)^alpha_X`` on input ``x_name``: eqs. (1.1) for
    N, (1.2) for D, the compute law for C (and Yao et al.'s for any of them)."""

    def law(p, x):
        return power(p[scale], p[exponent]) * power(x[x_name], -p[exponent])

    return law


def _kaplan_nd(p, x):
    # Kaplan et al. 2020, eq. (1.5): L(N, D) = [(N_c / N)^(alpha_N / alpha_D) + D_c / D]^alpha_D
    N_c, D_c, alpha_N, alpha_D = p["N_c"], p["D_c"], p["alpha_N"], p["alpha_D"]
    r = alpha_N / alpha_D
    return power(power(N_c, r) * power(x["N"], -r) + D_c / x["D"], alpha_D)

_KAPLAN_REF = "Kaplan et al. 2020, Scaling Laws for Neural Language Models, arXiv:2001.08361"
_SCALE_CONST = dict(bounds=(0.0, INF), start=(1e8, 1e18), scale="log")
_KAPLAN_EXPONENT = dict(bounds=(0.0, 2.0), start=(0.02, 0.5))

kaplan_n = register_law(
    Law(
        name="kaplan_n",
        inputs=("N",),
        params=(
            Param("N_c", **_SCALE_CONST, description="critical model size (non-embedding params)"),
            Param("alpha_N", **_KAPLAN_EXPONENT, description="model-size exponent"),
        ),
        fn=critical_power("N_c", "alpha_N", "N"),
        equation="L(N) = (N_c / N)^alpha_N",
        reference=_KAPLAN_REF + ", eq. (1.1)",
        family="pretraining",
    )
)

kaplan_d = register_law(
    Law(
        name="kaplan_d",
        inputs=("D",),
        params=(
            Param("D_c", **_SCALE_CONST, description="critical dataset size (tokens)"),
            Param("alpha_D", **_KAPLAN_EXPONENT, description="data exponent"),
        ),
        fn=critical_power("D_c", "alpha_D", "D"),
        equation="L(D) = (D_c / D)^alpha_D",
        reference=_KAPLAN_REF + ", eq. (1.2)",
        family="pretraining",
    )
)

kaplan_nd = register_law(
    Law(
        name="kaplan_nd",
        inputs=("N", "D"),
        params=(
            Param("N_c", **_SCALE_CONST, description="critical model size (non-embedding params)"),
            Param("D_c", **_SCALE_CONST, description="critical dataset size (tokens)"),
            Param("alpha_N", **_KAPLAN_EXPONENT, description="model-size exponent"),
            Param("alpha_D", **_KAPLAN_EXPONENT, description="data exponent"),
        ),
        fn=_kaplan_nd,
        equation="L(N, D) = [(N_c / N)^(alpha_N / alpha_D) + D_c / D]^alpha_D",
        reference=_KAPLAN_REF + ", eq. (1.5)",
        family="pretraining",
    )
)


def _kaplan_compute(name: str, var: str, scale: str, exponent: str, what: str, note: str) -> Law:
    # Kaplan et al. 2020: L(C) = (C_c / C)^alpha_C, and the same form in C_min
    return Law(
        name=name,
        inputs=(var,),
        params=(
            Param(scale, (0.0, INF), (1e-3, 1e30), "log", f"critical {what} (units of the {var} column: FLOPs or PF-days)"),
            Param(exponent, **_KAPLAN_EXPONENT, description=f"{what} exponent"),
        ),
        fn=critical_power(scale, exponent, var),
        equation=f"L({var}) = ({scale} / {var})^{exponent}",
        reference=_KAPLAN_REF + f" ({note})",
        family="pretraining",
    )


kaplan_c = register_law(_kaplan_compute("kaplan_c", "C", "C_c", "alpha_C", "compute",
                                        "compute law; the same form in C_min is kaplan_cmin"))
kaplan_cmin = register_law(_kaplan_compute("kaplan_cmin", "C_min", "C_c_min", "alpha_C_min", "minimum compute",
                                           "C_min: the compute of training at a batch far below B_crit, "
                                           "C / (1 + B / B_crit)"))


def _overtrain_cm(p, x):
    # Gadre et al. 2024: L(C, M) = E + (a M^eta + b M^-eta) C^-eta, with C = 6 N D and M = D / N
    log_c = jnp.log(6.0) + jnp.log(x["N"]) + jnp.log(x["D"])
    log_m = jnp.log(x["D"]) - jnp.log(x["N"])
    eta = p["eta"]
    return p["E"] + p["a"] * jnp.exp(eta * (log_m - log_c)) + p["b"] * jnp.exp(-eta * (log_m + log_c))


overtrain_cm = register_law(
    Law(
        name="overtrain_cm",
        inputs=("N", "D"),
        params=(
            Param("E", (0.0, INF), (0.5, 3.0), description="irreducible loss (nats/token)"),
            Param("a", (0.0, INF), (1.0, 1e4), "log", "amplitude of the M^eta term"),
            Param("b", (0.0, INF), (1.0, 1e4), "log", "amplitude of the M^-eta term"),
            Param("eta", (0.0, 1.5), (0.02, 0.5), description="compute exponent (N and D exponents are 2 eta)"),
        ),
        fn=_overtrain_cm,
        equation="L(C, M) = E + (a M^eta + b M^-eta) C^-eta,  C = 6 N D,  M = D / N",
        reference="Gadre et al. 2024, Language models scale reliably with over-training and on downstream tasks, "
        "arXiv:2403.08540",
        linear=("E", "a", "b"),
        family="pretraining",
        auto=False,  # chinchilla with equal exponents: --law auto compares chinchilla itself
    )
)


def _parallel_scaling(p, x):
    # Chen et al. 2025 (ParScale): L(N, P) = (A / (N (k log P + 1)))^alpha + E
    n_eff = x["N"] * (p["k"] * jnp.log(x["P"]) + 1.0)
    return power(p["A"] / n_eff, p["alpha"]) + p["E"]


parallel_scaling = register_law(
    Law(
        name="parallel_scaling",
        inputs=("N", "P"),
        params=(
            Param("A", (0.0, INF), (1e3, 1e12), "log", "scale constant (parameters)"),
            Param("k", (0.0, 10.0), (0.05, 1.0), description="benefit per unit of log P (natural log)"),
            Param("alpha", **_EXPONENT, description="model-size exponent"),
            Param("E", (0.0, INF), (0.3, 3.0), description="irreducible loss (nats/token)"),
        ),
        fn=_parallel_scaling,
        equation="L(N, P) = (A / (N (k log P + 1)))^alpha + E",
        reference="Chen et al. 2025, Parallel Scaling Law for Language Models, arXiv:2505.10475",
        linear=("E",),
        family="pretraining",
    )
)


def _fp_quant(p, x):
    # Sun et al. 2025, "Capybara": L = n / N^alpha + d / D^beta + epsilon
    #   + (D^beta / N^alpha) (log2 B)^gamma / ((E + 0.5)^delta (M + 0.5)^nu)
    log_n, log_d = jnp.log(x["N"]), jnp.log(x["D"])
    log2_b = jnp.log2(x["B_block"])
    block = jnp.where(log2_b > 0.0, jnp.exp(p["gamma"] * jnp.log(jnp.where(log2_b > 0.0, log2_b, 1.0))),
                      jnp.where(log2_b == 0.0, 0.0, jnp.nan))  # B_block = 1: no penalty; below 1: undefined
    precision = jnp.exp(-p["delta"] * jnp.log(x["E_bits"] + 0.5) - p["nu"] * jnp.log(x["M_bits"] + 0.5))
    knowledge = jnp.exp(p["beta"] * log_d - p["alpha"] * log_n)
    return (p["n"] * jnp.exp(-p["alpha"] * log_n) + p["d"] * jnp.exp(-p["beta"] * log_d) + p["epsilon"]
            + knowledge * block * precision)


fp_quant = register_law(
    Law(
        name="fp_quant",
        inputs=("N", "D", "E_bits", "M_bits", "B_block"),
        params=(
            Param("n", (0.0, INF), (1.0, 1e4), "log", "model-size amplitude"),
            Param("d", (0.0, INF), (1.0, 1e4), "log", "data amplitude"),
            Param("epsilon", (0.0, INF), (0.5, 3.0), description="irreducible loss (nats/token)"),
            Param("alpha", **_EXPONENT, description="model-size exponent"),
            Param("beta", **_EXPONENT, description="data exponent"),
            Param("gamma", (0.0, 10.0), (0.1, 3.0), description="block-size sensitivity"),
            Param("delta", (0.0, 20.0), (0.1, 5.0), description="exponent-bits sensitivity"),
            Param("nu", (0.0, 20.0), (0.1, 5.0), description="mantissa-bits sensitivity"),
        ),
        fn=_fp_quant,
        equation="L = n / N^alpha + d / D^beta + epsilon + (D^beta / N^alpha) (log2 B_block)^gamma "
        "/ ((E_bits + 0.5)^delta (M_bits + 0.5)^nu)",
        reference="Sun et al. 2025, Scaling Laws for Floating-Point Quantization Training, arXiv:2501.02423 "
        "(form as summarised; constants not published in a form we could check)",
        linear=("n", "d", "epsilon"),
        log_inputs=("N", "D", "B_block"),
        family="pretraining",
    )
)
