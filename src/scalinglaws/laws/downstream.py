"""Laws of downstream metrics: accuracy and error from scale or from loss, pass rates, translation scores."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from ._law import Law, Param, power
from ._registry import register_law

INF = math.inf


def _sigmoid_log(p, x):
    # y = y0 + (y_inf - y0) / (1 + (x0 / x)^k): a logistic curve in log x between two plateaus
    s = jax.nn.sigmoid(p["k"] * (jax.numpy.log(x["x"]) - jax.numpy.log(p["x0"])))
    return p["y0"] * (1.0 - s) + p["y_inf"] * s


sigmoid_log = register_law(
    Law(
        name="sigmoid_log",
        inputs=("x",),
        params=(
            Param("y0", (0.0, 1.0), (0.05, 0.95), description="plateau at small x (e.g. chance accuracy)"),
            Param("y_inf", (0.0, 1.0), (0.05, 0.95), description="plateau as x -> infinity (ceiling or floor)"),
            Param("x0", (0.0, math.inf), (1e-3, 1e27), "log", "midpoint of the transition (x units: steps to FLOPs)"),
            Param("k", (0.0, 20.0), (0.1, 4.0), "log", "steepness per unit of log x"),
        ),
        fn=_sigmoid_log,
        equation="y = y0 + (y_inf - y0) / (1 + (x0 / x)^k)",
        reference="Logistic in log scale with floor and ceiling, as used for downstream accuracy by Gadre et al. 2024 "
        "(arXiv:2403.08540) and Ruan et al. 2024 (arXiv:2405.10938); floor = chance, ceiling = best attainable",
        linear=("y0", "y_inf"),
        output="metric",
        y_range=(0.0, 1.0),
        space="linear",
        family="downstream",
    )
)


def _err_from_loss_exp(p, x):
    # Gadre et al. 2024: Err(L) = epsilon - k exp(-gamma L)
    return p["epsilon"] - p["k"] * jnp.exp(-p["gamma"] * x["L"])


err_from_loss_exp = register_law(
    Law(
        name="err_from_loss_exp",
        inputs=("L",),
        params=(
            Param("epsilon", (0.0, 1.0), (0.3, 1.0), description="error as the loss grows (near chance)"),
            Param("k", (0.0, INF), (1e-2, 1e2), "log", "amplitude of the improvement"),
            Param("gamma", (0.0, 20.0), (0.1, 5.0), "log", "rate of the improvement per nat of loss"),
        ),
        fn=_err_from_loss_exp,
        equation="Err(L) = epsilon - k exp(-gamma L)",
        reference="Gadre et al. 2024, Language models scale reliably with over-training and on downstream tasks, "
        "arXiv:2403.08540",
        linear=("epsilon", "k"),
        output="error",
        log_inputs=(),
        falling_inputs=("L",),  # larger models have lower loss
        y_range=(0.0, 1.0),
        space="linear",
        family="downstream",
    )
)


def _passuntil_task(p, x):
    # Hu et al. 2023: PU(N) = exp(-c N^-alpha)
    return jnp.exp(-p["c"] * power(x["N"], -p["alpha"]))


passuntil_task = register_law(
    Law(
        name="passuntil_task",
        inputs=("N",),
        params=(
            Param("c", (0.0, INF), (1e-2, 1e6), "log", "scale of -log PU at N = 1"),
            Param("alpha", (0.0, 3.0), (0.05, 1.5), description="exponent of -log PU in N"),
        ),
        fn=_passuntil_task,
        equation="PU(N) = exp(-c N^-alpha)",
        reference="Hu et al. 2023, Predicting Emergent Abilities with Infinite Resolution Evaluation, "
        "arXiv:2310.03262 (the task scaling law)",
        output="pass rate",
        y_range=(0.0, 1.0),
        family="downstream",
        auto=False,  # a pass rate, not the loss that tables of N usually hold
    )
)

_ISIK_REF = "Isik et al. 2024, Scaling Laws for Downstream Task Performance of LLMs, arXiv:2402.04177"


def _isik_bleu(p, x):
    # Isik et al. 2024: f(D_p) = (log(A D_p^alpha))^beta
    return power(jnp.log(p["A"]) + p["alpha"] * jnp.log(x["D_p"]), p["beta"])


def _isik_ce(p, x):
    # Isik et al. 2024: L(D_p) = E + A / D_p^alpha
    return p["E"] + p["A"] * power(x["D_p"], -p["alpha"])


isik_bleu = register_law(
    Law(
        name="isik_bleu",
        inputs=("D_p",),
        params=(
            Param("A", (0.0, INF), (1.0, 1e6), "log", "scale inside the log (A D_p^alpha > 1 on the data)"),
            Param("alpha", (0.0, 3.0), (0.05, 1.0), description="pretraining-data exponent inside the log"),
            Param("beta", (0.0, 10.0), (0.5, 3.0), description="outer exponent"),
        ),
        fn=_isik_bleu,
        equation="f(D_p) = (log(A D_p^alpha))^beta",
        reference=_ISIK_REF + " (translation score, e.g. BLEU or COMET, after finetuning)",
        output="score",
        family="downstream",
    )
)

isik_ce = register_law(
    Law(
        name="isik_ce",
        inputs=("D_p",),
        params=(
            Param("E", (0.0, INF), (0.0, 3.0), description="downstream cross-entropy as D_p -> infinity"),
            Param("A", (0.0, INF), (1e-2, 1e4), "log", "amplitude"),
            Param("alpha", (0.0, 3.0), (0.02, 1.0), description="pretraining-data exponent"),
        ),
        fn=_isik_ce,
        equation="L(D_p) = E + A / D_p^alpha",
        reference=_ISIK_REF + " (downstream cross-entropy after finetuning)",
        linear=("E", "A"),
        family="downstream",
    )
)


def _capability_sigmoid(p, x):
    # Ruan et al. 2024: a benchmark score is a sigmoid of a linear combination of capability measures
    z = p["b"] + p["w1"] * x["pc1"] + p["w2"] * x["pc2"] + p["w3"] * x["pc3"]
    s = jax.nn.sigmoid(z)
    return p["y0"] * (1.0 - s) + p["y_inf"] * s


capability_sigmoid = register_law(
    Law(
        name="capability_sigmoid",
        inputs=("pc1", "pc2", "pc3"),
        params=(
            Param("y0", (0.0, 1.0), (0.05, 0.95), description="score as capability falls (chance)"),
            Param("y_inf", (0.0, 1.0), (0.05, 0.95), description="score as capability grows (ceiling)"),
            Param("b", (-50.0, 50.0), (-5.0, 5.0), description="offset of the logit"),
            Param("w1", (0.0, 50.0), (0.05, 5.0), "log", "weight of the first capability measure (>= 0: the "
                  "direction of change is y_inf - y0)"),
            Param("w2", (-50.0, 50.0), (-3.0, 3.0), description="weight of the second capability measure"),
            Param("w3", (-50.0, 50.0), (-3.0, 3.0), description="weight of the third capability measure"),
        ),
        fn=_capability_sigmoid,
        equation="y = y0 + (y_inf - y0) sigmoid(b + w1 pc1 + w2 pc2 + w3 pc3)",
        reference="Ruan et al. 2024, Observational Scaling Laws and the Predictability of Language Model "
        "Performance, arXiv:2405.10938 (eq. 4: a metric as a sigmoid of principal capability measures); "
        "pc1..pc3 are the principal components of standardized benchmark scores (`scalinglaws.observational`)",
        linear=("y0", "y_inf"),
        output="metric",
        log_inputs=(),
        y_range=(0.0, 1.0),
        space="linear",
        family="downstream",
        auto=False,  # its inputs are computed from a benchmark table, never a table's own columns
    )
)
