"""Laws for bounded downstream metrics (accuracy, error rate in [0, 1])."""

from __future__ import annotations

import math

import jax

from ._law import Law, Param
from ._registry import register_law


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
    )
)
