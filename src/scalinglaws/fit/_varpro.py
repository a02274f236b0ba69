"""Variable projection screen: grid the nonlinear parameters, solve the linear ones exactly.

For a law ``f = f0(phi, x) + Phi(phi, x) c`` linear in ``c`` (offsets, amplitudes), each candidate
``phi`` on a grid gets the ``c`` that minimises the relative squared error ``sum ((y - f) / y)^2``
(the log residual to first order), by least squares on column-scaled basis functions. Candidates
are ranked by the fit's own loss; the best few go on to the polisher. ``f0`` and ``Phi`` come from
the law itself (a Jacobian in ``c``, exact because ``f`` is linear in ``c``), so any law that
declares its linear parameters gets this for free.

The least squares are solved by Gram-Schmidt orthogonalisation, applied twice (CGS2, as accurate as
Householder QR for these few columns), written out elementwise so it vectorises under ``vmap``
without a LAPACK call per candidate.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np

from .._jax import program_cache
from ._problem import PER_LANE_X, Data, Spec


def nonlinear_grid(spec: Spec, n_total: int, rng: np.random.Generator | None) -> np.ndarray:
    """Candidate values of the free nonlinear parameters: a ``(G, k)`` product grid, ``G ~ n_total``."""
    names = spec.free_nonlinear
    if not names:
        return np.zeros((1, 0))
    per_axis = max(2, int(round(n_total ** (1.0 / len(names)))))
    # with a generator, jitter within each cell: a different but equally covering grid per seed
    axes = [spec.law.param(n).grid(per_axis, None if rng is None else rng.uniform(0.05, 0.95, per_axis))
            for n in names]
    return np.array(list(itertools.product(*axes)), dtype=np.float64)


def _solve_linear(spec: Spec, phi, data: Data):
    """Parameters (all free ones, in ``spec.free`` order) with ``c`` solved for given ``phi``."""
    lin, nonlin = spec.free_linear, spec.free_nonlinear
    law = spec.law

    def f_of_c(c):
        p = {n: phi[i] for i, n in enumerate(nonlin)}
        p.update({n: c[i] for i, n in enumerate(lin)})
        p.update({n: data.fixed[i] for i, n in enumerate(spec.fixed)})
        return law(p, data.x)

    zero = jnp.zeros(len(lin))
    f0 = f_of_c(zero)
    values = {n: phi[i] for i, n in enumerate(nonlin)}
    if lin:
        Phi = jax.jacfwd(f_of_c)(zero)  # (n, k)
        sw = jnp.sqrt(data.w)
        # the residual to first order: (y - f) / y in log space, y - f in linear space
        per = data.y if law.space == "log" else jnp.ones_like(data.y)
        A = Phi * (sw / per)[:, None]
        b = (data.y - f0) * sw / per
        scale = jnp.sqrt(jnp.sum(A * A, axis=0)) + 1e-300
        c = least_squares(A / scale, b) / scale
        for i, n in enumerate(lin):
            lo, hi = law.param(n).bounds
            # a start strictly inside the bounds
            room = 1e-6 * (hi - lo if np.isfinite(hi - lo) else jnp.abs(c[i]) + 1e-3)
            values[n] = jnp.clip(c[i], lo + room, hi - room)
    return jnp.stack([values[n] for n in spec.free]) if spec.free else jnp.zeros(0)


def least_squares(A, b, rtol: float = 1e-10):
    """``argmin_c |A c - b|`` for a tall ``A`` with few columns, by twice-applied Gram-Schmidt.

    A column that lies within ``rtol`` (relative) of the span of the earlier ones gets ``c = 0``.
    """
    k = A.shape[1]
    Q, R = [], [[0.0] * k for _ in range(k)]
    for j in range(k):
        v = A[:, j]
        norm0 = jnp.sqrt(jnp.dot(v, v))
        for _ in range(2):
            for i, q in enumerate(Q):
                h = jnp.dot(q, v)
                R[i][j] = R[i][j] + h
                v = v - h * q
        norm = jnp.sqrt(jnp.dot(v, v))
        independent = norm > rtol * norm0
        R[j][j] = jnp.where(independent, norm, 1.0)
        for i in range(j):  # a dependent column's coefficient is pinned to 0
            R[i][j] = jnp.where(independent, R[i][j], 0.0)
        Q.append(jnp.where(independent, v / jnp.where(independent, norm, 1.0), 0.0))
    rhs = [jnp.dot(q, b) for q in Q]
    c = [None] * k
    for i in reversed(range(k)):
        c[i] = (rhs[i] - sum(R[i][m] * c[m] for m in range(i + 1, k))) / R[i][i]
    return jnp.stack(c)


def _screened(spec: Spec, phi, data: Data):
    """The parameters with ``c`` solved at ``phi``, and the fit's objective there (inf if not finite)."""
    th = _solve_linear(spec, phi, data)
    p = {n: th[i] for i, n in enumerate(spec.free)}
    p.update({n: data.fixed[i] for i, n in enumerate(spec.fixed)})
    r = data.t_y - spec.law.to_space(spec.law(p, data.x), jnp)
    f = spec.loss.objective(r, data.w, data.delta, data.log_z)
    return th, jnp.where(jnp.isfinite(f), f, jnp.inf)


@program_cache
def compiled_screen(spec: Spec, per_row: bool = False):
    """``(phi (G, k), data) -> (theta (G, p), objective (G,))``, jitted once per spec.

    ``per_row``: ``data`` holds rows of inputs, targets and weights (`_problem.stack_rows`: the
    groups of a table), each screened on the same grid: ``(theta (R, G, p), objective (R, G))``.
    """
    one = jax.vmap(lambda phi, data: _screened(spec, phi, data), in_axes=(0, None))
    return jax.jit(jax.vmap(one, in_axes=(None, PER_LANE_X)) if per_row else one)

