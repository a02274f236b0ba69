"""Pre-training laws of loss in model size N and data D (Kaplan 2020; Hoffmann 2022)."""

from __future__ import annotations

import math

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
    )
)

def _kaplan_n(p, x):
    # Kaplan et al. 2020, eq. (1.1): L(N) = (N_c / N)^alpha_N
    return power(p["N_c"], p["alpha_N"]) * power(x["N"], -p["alpha_N"])

def _kaplan_d(p, x):
    # Kaplan et al. 2020, eq. (1.2): L(D) = (D_c / D)^alpha_D
    return power(p["D_c"], p["alpha_D"]) * power(x["D"], -p["alpha_D"])

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
        fn=_kaplan_n,
        equation="L(N) = (N_c / N)^alpha_N",
        reference=_KAPLAN_REF + ", eq. (1.1)",
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
        fn=_kaplan_d,
        equation="L(D) = (D_c / D)^alpha_D",
        reference=_KAPLAN_REF + ", eq. (1.2)",
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
    )
)
