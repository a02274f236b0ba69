"""Single-input curve laws. Their input is called ``x``; map any column to it (``--x x=COLUMN``)."""

from __future__ import annotations

import math

import jax.numpy as jnp

from ._law import Law, Param, power
from ._registry import register_law
from .pretraining import critical_power

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


def _bnsl_fn(breaks: int):
    def bnsl(p, x):
        # Caballero et al. 2023, eq. (1): y = a + b x^-c0 prod_i (1 + (x / d_i)^(1 / f_i))^(-c_i f_i)
        log_x = jnp.log(x["x"])
        log_part = -p["c0"] * log_x
        for i in range(1, breaks + 1):
            log_part = log_part + _bend(log_x, p, i)
        return p["a"] + p["b"] * jnp.exp(log_part)

    return bnsl


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

MAX_BREAKS = 4  # the default method screens at least 2 values per nonlinear parameter: 2^13 for four breaks


def bnsl_law(breaks: int) -> Law:
    """The smoothly broken power law with ``breaks`` breaks (registered as ``bnsl`` for one, ``bnsl<n>``
    otherwise); the start ranges of the break locations split 1..1e12 into equal decades."""
    if not (isinstance(breaks, int) and 1 <= breaks <= MAX_BREAKS):
        raise ValueError(f"a BNSL has 1 to {MAX_BREAKS} breaks; got {breaks!r}")
    width = 12.0 / breaks
    params = _BNSL_HEAD + tuple(p for i in range(1, breaks + 1)
                                for p in _break(i, (10.0 ** (width * (i - 1)), 10.0 ** (width * i))))
    factors = " ".join(f"(1 + (x / d{i})^(1 / f{i}))^(-c{i} f{i})" for i in range(1, breaks + 1))
    return Law(
        name="bnsl" if breaks == 1 else f"bnsl{breaks}",
        inputs=("x",),
        params=params,
        fn=_bnsl_fn(breaks),
        equation=f"y = a + b x^-c0 {factors}",
        reference=BNSL_REFERENCE + (", one break" if breaks == 1 else f", {breaks} breaks"),
        linear=("a", "b"),
        output="y",
        auto=breaks <= 2,
    )


bnsl = register_law(bnsl_law(1))
bnsl2 = register_law(bnsl_law(2))
bnsl3 = register_law(bnsl_law(3))
bnsl4 = register_law(bnsl_law(4))


tsfm_power = register_law(
    Law(
        name="tsfm_power",
        inputs=("X",),
        params=(
            Param("X_c", (0.0, INF), (1e-3, 1e20), "log", "critical scale (units of X: parameters, FLOPs or samples)"),
            Param("alpha_X", (0.0, 3.0), (0.01, 1.0), description="exponent"),
        ),
        fn=critical_power("X_c", "alpha_X", "X"),
        equation="L(X) = (X_c / X)^alpha_X",
        reference="Yao et al. 2024, Towards Neural Scaling Laws for Time Series Foundation Models, arXiv:2410.12360 "
        "(X is N, C or D; map it with --x X=COLUMN)",
    )
)


def _t2i_power(p, x):
    # Li et al. 2024: metric = k X^p + y0 (p > 0 for alignment scores, p < 0 for losses)
    return p["k"] * power(x["X"], p["p"]) + p["y0"]


t2i_power = register_law(
    Law(
        name="t2i_power",
        inputs=("X",),
        params=(
            Param("k", (0.0, INF), (1e-4, 1e4), "log", "amplitude"),
            Param("p", (-3.0, 3.0), (-1.0, 1.0), description="exponent (> 0: the metric rises with X)"),
            Param("y0", (0.0, INF), (0.0, 1.0), description="offset"),
        ),
        fn=_t2i_power,
        equation="y = k X^p + y0",
        reference="Li et al. 2024, On the Scalability of Diffusion-based Text-to-Image Generation, arXiv:2404.02883 "
        "(X is N, C or D; map it with --x X=COLUMN)",
        linear=("k", "y0"),
        output="metric",
    )
)
