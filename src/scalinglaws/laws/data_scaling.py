"""Laws of data: learning curves in dataset size (Hestness 2017), repeated data (Muennighoff 2023) and
repeated samples of a filtered pool (Goyal 2024)."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from .._jax import float64
from ._law import Law, Param, power
from ._registry import register_law

INF = math.inf
_HESTNESS_REF = "Hestness et al. 2017, Deep Learning Scaling is Predictable, Empirically, arXiv:1712.00409"


def _hestness_curve(p, x):
    # Hestness et al. 2017, Fig. 1: eps(m) = alpha m^beta_g + gamma
    return p["alpha"] * power(x["m"], p["beta_g"]) + p["gamma"]


def _hestness_model_size(p, x):
    # Hestness et al. 2017: best model size s(m) = alpha_p m^beta_p
    return p["alpha_p"] * power(x["m"], p["beta_p"])


hestness_curve = register_law(
    Law(
        name="hestness_curve",
        inputs=("m",),
        params=(
            Param("alpha", (0.0, INF), (1e-2, 1e4), "log", "amplitude of the power-law region"),
            Param("beta_g", (-3.0, 0.0), (-1.0, -0.02), description="steepness: the learning-curve exponent (< 0)"),
            Param("gamma", (0.0, INF), (0.0, 1.0), description="irreducible error as m -> infinity"),
        ),
        fn=_hestness_curve,
        equation="eps(m) = alpha m^beta_g + gamma",
        reference=_HESTNESS_REF + ", learning curve (Fig. 1)",
        linear=("alpha", "gamma"),
        output="error",
        family="data",
    )
)

hestness_model_size = register_law(
    Law(
        name="hestness_model_size",
        inputs=("m",),
        params=(
            Param("alpha_p", (0.0, INF), (1e-3, 1e6), "log", "amplitude (parameters at m = 1)"),
            Param("beta_p", (0.0, 3.0), (0.1, 1.5), description="growth exponent of the best model size (< 1: sublinear)"),
        ),
        fn=_hestness_model_size,
        equation="s(m) = alpha_p m^beta_p",
        reference=_HESTNESS_REF + ", best model size vs training-set size",
        linear=("alpha_p",),
        output="model size",
        family="data",
        auto=False,
    )
)


def _effective(unique, repeats, r_star):
    # Muennighoff et al. 2023: U + U R* (1 - exp(-R / R*))
    return unique * (1.0 - r_star * jnp.expm1(-repeats / r_star))


def _data_constrained(p, x):
    # Muennighoff et al. 2023: Chinchilla's law on effective data D' and effective parameters N'.
    E, A, B, alpha, beta = p["E"], p["A"], p["B"], p["alpha"], p["beta"]
    N, D = x["N"], x["D"]
    U = jnp.minimum(x["U"], D)  # the unique tokens a run saw: no more than it trained on
    repeats_d = D / U - 1.0
    log_g = (jnp.log(alpha * A) - jnp.log(beta * B)) / (alpha + beta)
    n_opt = jnp.exp(log_g + (beta / alpha) * (log_g + jnp.log(U)))  # Chinchilla-optimal size for U tokens
    unique_n = jnp.minimum(N, n_opt)
    repeats_n = jnp.maximum(N / unique_n - 1.0, 0.0)
    n_eff = _effective(unique_n, repeats_n, p["R_N_star"])
    d_eff = _effective(U, repeats_d, p["R_D_star"])
    return E + A * power(n_eff, -alpha) + B * power(d_eff, -beta)


_EXPONENT = dict(bounds=(0.0, 3.0), start=(0.05, 1.5))

data_constrained = register_law(
    Law(
        name="data_constrained",
        inputs=("N", "D", "U"),
        params=(
            Param("E", (0.0, INF), (0.5, 3.0), description="irreducible loss (nats/token)"),
            Param("A", (0.0, INF), (1.0, 1e4), "log", "model-size amplitude"),
            Param("B", (0.0, INF), (1.0, 1e4), "log", "data amplitude"),
            Param("alpha", **_EXPONENT, description="model-size exponent"),
            Param("beta", **_EXPONENT, description="data exponent"),
            Param("R_D_star", (0.0, 1e4), (1.0, 100.0), "log", "repeated-data decay constant: a repeat is worth exp(-R_D / R_D*) of a new token (the paper's \"half-life\"; epochs beyond the first)"),
            Param("R_N_star", (0.0, 1e4), (1.0, 100.0), "log", "excess-parameter decay constant, as R_D* (the paper's \"half-life\"; multiples of N_opt(U))"),
        ),
        fn=_data_constrained,
        equation="L = E + A / N'^alpha + B / D'^beta,  D' = U_D + U_D R_D* (1 - exp(-R_D / R_D*)),  "
        "N' = U_N + U_N R_N* (1 - exp(-R_N / R_N*)),  R_D = D / U_D - 1,  U_D = min(U, D),  U_N = min(N, N_opt(U)),  "
        "R_N = max(N / U_N - 1, 0),  N_opt(U) = G (G U)^(beta / alpha),  G = (alpha A / (beta B))^(1 / (alpha + beta))",
        reference="Muennighoff et al. 2023, Scaling Data-Constrained Language Models, arXiv:2305.16264",
        linear=("E",),
        family="data",
    )
)

MAX_EPOCHS = 512  # qqt_utility counts the decay of at most this many epochs of one pool


def _stitched(n, pool, first, b_j, d):
    """Goyal et al.'s curve stitched epoch by epoch over a pool of ``pool`` samples: ``log(y - d)``
    is ``first`` (the first epoch's ``b log(a min(n, P) / 1e5)``) plus, for each repeated epoch j,
    its exponent ``b_j[..., j - 1]`` times the log of the part of (j P, (j + 1) P] that n covered."""
    epochs = n / pool
    j = jnp.arange(1, MAX_EPOCHS + 1, dtype=n.dtype)
    covered = jnp.log(jnp.clip(epochs[..., None] / j, 1.0, (j + 1.0) / j))
    value = jnp.exp(first + jnp.sum(b_j * covered, axis=-1)) + d
    return jnp.where(epochs <= MAX_EPOCHS + 1, value, jnp.nan)  # beyond: not computed (an error, not a plateau)


def _decayed(b, tau):
    """The utility in repeated epochs j = 1..MAX_EPOCHS: b (1/2)^(j / tau), on a trailing axis."""
    j = jnp.arange(1, MAX_EPOCHS + 1, dtype=jnp.result_type(b, float))
    return b[..., None] * jnp.exp(-jnp.log(2.0) * j / tau[..., None])


def _qqt_utility(p, x):
    # Goyal et al. 2024: y(n) = (a n / 1e5)^b + d in the first epoch; in epoch k >= 1 the reducible part
    # continues with the decayed utility b_k = b (1/2)^(k / tau):  y(n) - d = (y(kP) - d) (n / (kP))^b_k.
    n, pool = x["n"], x["P"]
    first = p["b"] * (jnp.log(p["a"]) + jnp.log(jnp.minimum(n, pool)) - jnp.log(1e5))
    return _stitched(n, pool, first, _decayed(p["b"], p["tau"]), p["d"])


@float64
def qqt_mix(pools, n, P):
    """Goyal et al.'s error for equal shares of several pools, each fitted alone with `qqt_utility`,
    as the authors' code evaluates a mix (`func_effective_utility_aggregation` with each ``tau``
    multiplied by the number of pools, as `estimate_best_pool.py` calls it).

    ``pools`` holds each pool's parameters (``a, b, tau, d``); ``n`` samples are drawn from the
    combined pool of ``p = len(pools)`` pools of ``P`` samples, so epoch k counts over ``p P``
    samples. The utility of the mix in repeated epoch k is the pools' mean decayed utility
    ``(1/p) sum_i b_i (1/2)^(k / (p tau_i))``; the first epoch's is the mean of ``b_i log(a_i n / 1e5)``
    (with one shared ``a``, as the authors fit, ``(a n / 1e5)^mean(b)``); ``d`` is the pools' mean and
    stays out of the decay. One pool is `qqt_utility` itself.

    Example (the authors' utilities of the top two 10% buckets of DataComp, 12.8M samples each):
        >>> top, second = dict(a=0.025, b=-0.16, tau=6.73, d=0.1), dict(a=0.025, b=-0.125, tau=8.55, d=0.1)
        >>> [round(float(qqt_mix(m, [6.4e8], [1.28e7])[0]), 3) for m in ([top], [top, second])]
        [0.714, 0.644]
    """
    n, P = (jnp.asarray(np.asarray(v, dtype=np.float64)) for v in (n, P))
    pools = [{k: jnp.asarray(np.asarray(p[k], dtype=np.float64)) for k in ("a", "b", "tau", "d")} for p in pools]
    mixed = len(pools)
    seen = jnp.log(jnp.minimum(n, mixed * P)) - jnp.log(1e5)
    first = sum(p["b"] * (jnp.log(p["a"]) + seen) for p in pools) / mixed
    b_j = sum(_decayed(p["b"], mixed * p["tau"]) for p in pools) / mixed
    d = sum(p["d"] for p in pools) / mixed
    return np.asarray(_stitched(n, mixed * P, first, b_j, d), dtype=np.float64)


qqt_utility = register_law(
    Law(
        name="qqt_utility",
        inputs=("n", "P"),
        params=(
            Param("a", (0.0, INF), (1e-4, 1e2), "log", "sample-efficiency multiplier"),
            Param("b", (-3.0, 0.0), (-0.5, -0.005), description="utility: the first-epoch exponent (< 0)"),
            Param("tau", (1e-2, 1e3), (0.5, 20.0), "log", "repetition half-life of the utility (epochs)"),
            Param("d", (0.0, 1.0), (0.0, 0.5), description="irreducible error"),
        ),
        fn=_qqt_utility,
        equation="y(n) = (a n / 1e5)^b + d for n <= P;  y(n) - d = (y(kP) - d) (n / (kP))^(b (1/2)^(k / tau)) "
        "in epoch k = floor(n / P) >= 1",
        reference="Goyal et al. 2024, Scaling Laws for Data Filtering -- Data Curation cannot be Compute Agnostic, "
        "arXiv:2404.07177 (one pool; stitched epoch by epoch as in the authors' code, except that d is kept out "
        "of the decay)",
        linear=("d",),
        output="error",
        y_range=(0.0, 1.0),
        space="linear",
        family="data",
    )
)
