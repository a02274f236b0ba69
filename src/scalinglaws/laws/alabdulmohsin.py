"""Alabdulmohsin, Neyshabur and Zhai 2022, "Revisiting Neural Scaling Laws in Language and Vision"
(arXiv:2209.06640): the estimators M1-M4 of an error or loss ``eps`` as a function of a scale ``x``
(examples seen, or compute). Exponents follow the paper's sign: ``c < 0`` means ``eps`` falls with ``x``.

M4 has no closed form for ``eps``; it is predicted by solving its implicit equation (see `_m4`).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from ._law import Law, Param, power
from ._registry import register_law

INF = math.inf
REFERENCE = "Alabdulmohsin, Neyshabur and Zhai 2022, Revisiting Neural Scaling Laws in Language and Vision, arXiv:2209.06640"

_beta = Param("beta", (0.0, INF), (1e-2, 1e4), "log", "amplitude: eps at x = 1")
_c = Param("c", (-10.0, 0.0), (-1.5, -0.02), description="exponent (negative: eps falls with x)")
_eps_inf = Param("eps_inf", (0.0, INF), (0.0, 1.0), description="irreducible eps as x -> infinity")


def _m1(p, x):
    # eps_x = beta x^c
    return p["beta"] * power(x["x"], p["c"])


def _m2(p, x):
    # eps_x = eps_inf + beta x^c
    return p["eps_inf"] + p["beta"] * power(x["x"], p["c"])


def _m3(p, x):
    # eps_x = beta (1/x + gamma)^c, c >= 0: saturates at beta gamma^c as x -> infinity
    log_base = jnp.logaddexp(-jnp.log(x["x"]), jnp.log(p["gamma"]))
    return p["beta"] * jnp.exp(p["c"] * log_base)


_NEWTON_STEPS = 10
_T_MAX = 60.0  # w / b = sigmoid(t) covers (1e-26, 1 - 1e-26)


def _m4(p, x):
    # (eps_x - eps_inf) / (eps_0 - eps_x)^alpha = beta x^c.  With w = eps_x - eps_inf, b = eps_0 - eps_inf
    # and w = b sigmoid(t), the equation  G(t) = log w - alpha log(b - w) - log(beta x^c) = 0  is strictly
    # increasing in t (G' = sigmoid(-t) + alpha sigmoid(t) > 0) and its curvature
    # G'' = (alpha - 1) sigmoid(t) sigmoid(-t) keeps one sign, so Newton's method from any start
    # approaches the one root from one side after its first step, never overshooting; G is linear in t
    # far from the root (slopes 1 and alpha), so the steps are nearly exact there. From the asymptote on
    # the root's side, 10 steps (clipped to |t| <= 60; 8 already suffice, 6 do not) reach the root to
    # rounding for alpha in [1e-4, 1e3]
    # (tests/test_laws.py checks them against bisection). A last Newton step from the
    # (gradient-stopped) root carries the implicit-function derivative dt = -dG / G', exact at the
    # root, to the parameters.
    alpha = p["alpha"]
    log_b = jnp.log(p["eps_0"] - p["eps_inf"])
    log_f = jnp.log(p["beta"]) + p["c"] * jnp.log(x["x"])

    def G(t):
        return (1.0 - alpha) * log_b + jax.nn.log_sigmoid(t) - alpha * jax.nn.log_sigmoid(-t) - log_f

    def newton(t):
        s = jax.nn.sigmoid(t)
        return t - G(t) / ((1.0 - s) + alpha * s)

    # start on G's asymptote at the root's side: G ~ t - c0 for t << 0 and alpha t - c0 for t >> 0
    c0 = log_f - (1.0 - alpha) * log_b
    start = jnp.clip(jnp.where(c0 < 0.0, c0, c0 / alpha), -_T_MAX, _T_MAX)
    root = jax.lax.fori_loop(0, _NEWTON_STEPS, lambda _, t: jnp.clip(newton(t), -_T_MAX, _T_MAX), start)
    t = newton(jax.lax.stop_gradient(root))
    return p["eps_inf"] + jnp.exp(log_b + jax.nn.log_sigmoid(t))


m1 = register_law(
    Law(
        name="m1",
        inputs=("x",),
        params=(_beta, _c),
        fn=_m1,
        equation="eps_x = beta x^c",
        reference=REFERENCE + ", M1",
        linear=("beta",),
        output="eps",
    )
)

m2 = register_law(
    Law(
        name="m2",
        inputs=("x",),
        params=(_eps_inf, _beta, _c),
        fn=_m2,
        equation="eps_x = eps_inf + beta x^c",
        reference=REFERENCE + ", M2",
        linear=("eps_inf", "beta"),
        output="eps",
    )
)

m3 = register_law(
    Law(
        name="m3",
        inputs=("x",),
        params=(
            _beta,
            Param("gamma", (0.0, INF), (1e-14, 1.0), "log", "saturation: 1/gamma is the x where eps levels off"),
            Param("c", (0.0, 10.0), (0.02, 1.5), description="exponent of (1/x + gamma), c >= 0"),
        ),
        fn=_m3,
        equation="eps_x = beta (1/x + gamma)^c",
        reference=REFERENCE + ", M3 (attributed there to Bansal et al. 2022)",
        linear=("beta",),
        output="eps",
    )
)

m4 = register_law(
    Law(
        name="m4",
        inputs=("x",),
        params=(
            _eps_inf,
            Param("eps_0", (0.0, INF), (0.5, 20.0), "log", "eps at small x (random-guess level)"),
            Param("alpha", (0.0, INF), (0.01, 2.0), "log", "shape of the transition (0: M2)"),
            _beta,
            _c,
        ),
        fn=_m4,
        equation="(eps_x - eps_inf) / (eps_0 - eps_x)^alpha = beta x^c",
        reference=REFERENCE + ", M4 (predicted by solving the implicit equation for eps_x)",
        output="eps",
    )
)
