"""Laws of inference-time scaling: coverage under repeated sampling (Brown et al. 2024)."""

from __future__ import annotations

from ._law import Law, Param, power
from ._registry import register_law


def _coverage_exp_power(p, x):
    # Brown et al. 2024: log c(k) = a k^b, i.e. c(k) = exp(a k^b) with a < 0 and b < 0
    import jax.numpy as jnp

    return jnp.exp(p["a"] * power(x["k"], p["b"]))


coverage_exp_power = register_law(
    Law(
        name="coverage_exp_power",
        inputs=("k",),
        params=(
            Param("a", (-100.0, 0.0), (-5.0, -0.01), description="log coverage at k = 1 (< 0)"),
            Param("b", (-3.0, 0.0), (-1.5, -0.02), description="exponent of -log coverage in k (< 0)"),
        ),
        fn=_coverage_exp_power,
        equation="log c(k) = a k^b,  c(k) = exp(a k^b)",
        reference="Brown et al. 2024, Large Language Monkeys: Scaling Inference Compute with Repeated Sampling, "
        "arXiv:2407.21787 (the exponentiated power law of coverage)",
        output="coverage",
        y_range=(0.0, 1.0),
        family="inference",
    )
)
