"""Single-input curve laws. Their input is called ``x``; map any column to it (``--x x=COLUMN``)."""

from __future__ import annotations

import math

import jax.numpy as jnp

from ._law import Law, Param, power
from ._registry import register_law

INF = math.inf


def _power_law(p, x):
    # y = a x^-b
    return p["a"] * power(x["x"], -p["b"])


def _power_law_offset(p, x):
    # Hestness et al. 2017 / Alabdulmohsin et al. 2022 (M2): y = E + a x^-b
    return p["E"] + p["a"] * power(x["x"], -p["b"])


power_law = register_law(
    Law(
        name="power_law",
        inputs=("x",),
        params=(
            Param("a", (0.0, INF), (1e-2, 1e4), "log", "amplitude: y at x = 1"),
            Param("b", (-10.0, 10.0), (-0.5, 1.5), description="exponent (positive: y falls with x)"),
        ),
        fn=_power_law,
        equation="y = a x^-b",
        reference="Kaplan et al. 2020 (single-variable form), arXiv:2001.08361; Alabdulmohsin et al. 2022 M1, arXiv:2209.06640",
        linear=("a",),
        output="y",
    )
)

power_law_offset = register_law(
    Law(
        name="power_law_offset",
        inputs=("x",),
        params=(
            Param("E", (0.0, INF), (0.0, 1.0), description="irreducible value as x -> infinity"),
            Param("a", (0.0, INF), (1e-2, 1e4), "log", "amplitude of the reducible part"),
            Param("b", (0.0, 10.0), (0.02, 1.5), description="exponent"),
        ),
        fn=_power_law_offset,
        equation="y = E + a x^-b",
        reference="Hestness et al. 2017, arXiv:1712.00409; Alabdulmohsin et al. 2022 (M2), arXiv:2209.06640",
        linear=("E", "a"),
        output="y",
    )
)


def _saturating_power(p, x):
    # Nezhurina et al. 2025 (LAION): y = a (x + b)^c + d
    return p["a"] * power(x["x"] + p["b"], p["c"]) + p["d"]


def _bend(log_x, p, i):
    # log of the break factor (1 + (x / d_i)^(1 / f_i))^(-c_i f_i), written with softplus
    return -p[f"c{i}"] * p[f"f{i}"] * jnp.logaddexp(0.0, (log_x - jnp.log(p[f"d{i}"])) / p[f"f{i}"])


def _bnsl(p, x):
    # Caballero et al. 2023, eq. (1) with one break: y = a + b x^-c0 (1 + (x / d1)^(1 / f1))^(-c1 f1)
    log_x = jnp.log(x["x"])
    return p["a"] + p["b"] * jnp.exp(-p["c0"] * log_x + _bend(log_x, p, 1))


def _bnsl2(p, x):
    # Caballero et al. 2023, eq. (1) with two breaks
    log_x = jnp.log(x["x"])
    return p["a"] + p["b"] * jnp.exp(-p["c0"] * log_x + _bend(log_x, p, 1) + _bend(log_x, p, 2))


saturating_power = register_law(
    Law(
        name="saturating_power",
        inputs=("x",),
        params=(
            Param("a", (0.0, INF), (1e-2, 1e4), "log", "amplitude"),
            Param("b", (0.0, INF), (1e-2, 1e10), "log", "shift of the scale variable (x units)"),
            Param("c", (-10.0, 0.0), (-1.5, -0.02), description="exponent (negative: y falls with x)"),
            Param("d", (0.0, INF), (0.0, 1.0), description="floor: y as x -> infinity"),
        ),
        fn=_saturating_power,
        equation="y = a (x + b)^c + d",
        reference="Nezhurina et al. 2025, Scaling Laws for Robust Comparison of Open Foundation Language-Vision "
        "Models and Datasets, arXiv:2506.04598",
        linear=("a", "d"),
        output="y",
    )
)

def _break(i: int, d_start: tuple[float, float]) -> tuple[Param, ...]:
    return (
        Param(f"c{i}", (-INF, INF), (-0.5, 1.0), description=f"change of slope at break {i}"),
        Param(f"d{i}", (0.0, INF), d_start, "log", f"location of break {i} (x units)"),
        Param(f"f{i}", (0.0, INF), (0.05, 2.0), "log", f"sharpness of break {i} (smaller: sharper)"),
    )


_BNSL_HEAD = (
    Param("a", (0.0, INF), (0.0, 1.0), description="limit value as x -> infinity"),
    Param("b", (0.0, INF), (1e-2, 1e4), "log", "offset on log-log axes"),
    Param("c0", (-INF, INF), (0.0, 1.0), description="slope of the first segment"),
)
BNSL_REFERENCE = "Caballero et al. 2023, Broken Neural Scaling Laws, arXiv:2210.14891, eq. (1)"

bnsl = register_law(
    Law(
        name="bnsl",
        inputs=("x",),
        params=_BNSL_HEAD + _break(1, (1.0, 1e12)),
        fn=_bnsl,
        equation="y = a + b x^-c0 (1 + (x / d1)^(1 / f1))^(-c1 f1)",
        reference=BNSL_REFERENCE + ", one break",
        linear=("a", "b"),
        output="y",
    )
)

bnsl2 = register_law(
    Law(
        name="bnsl2",
        inputs=("x",),
        params=_BNSL_HEAD + _break(1, (1.0, 1e6)) + _break(2, (1e6, 1e12)),
        fn=_bnsl2,
        equation="y = a + b x^-c0 (1 + (x / d1)^(1 / f1))^(-c1 f1) (1 + (x / d2)^(1 / f2))^(-c2 f2)",
        reference=BNSL_REFERENCE + ", two breaks",
        linear=("a", "b"),
        output="y",
    )
)
