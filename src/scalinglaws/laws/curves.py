"""Single-input curve laws. Their input is called ``x``; map any column to it (``--x x=COLUMN``)."""

from __future__ import annotations

import math

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
