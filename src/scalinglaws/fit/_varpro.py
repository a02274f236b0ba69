"""Variable projection screen: grid the nonlinear parameters, solve the linear ones exactly.

For a law ``f = f0(phi, x) + Phi(phi, x) c`` linear in ``c`` (offsets, amplitudes), each candidate
``phi`` on a grid gets the ``c`` that minimises the relative squared error ``sum ((y - f) / y)^2``
(the log residual to first order), by least squares on column-scaled basis functions. Candidates
are ranked by the fit's own loss; the best few go on to the polisher. ``f0`` and ``Phi`` come from
the law itself (a Jacobian in ``c``, exact because ``f`` is linear in ``c``), so any law that
declares its linear parameters gets this for free.
"""

from __future__ import annotations

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np

from ._problem import Data, Spec, stored_jit


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
        A = Phi * (sw / data.y)[:, None]
        b = (data.y - f0) * sw / data.y
        scale = jnp.sqrt(jnp.sum(A * A, axis=0)) + 1e-300
        c = jnp.linalg.lstsq(A / scale, b)[0] / scale
        for i, n in enumerate(lin):
            lo, hi = law.param(n).bounds
            # a start strictly inside the bounds
            room = 1e-6 * (hi - lo if np.isfinite(hi - lo) else jnp.abs(c[i]) + 1e-3)
            values[n] = jnp.clip(c[i], lo + room, hi - room)
    return jnp.stack([values[n] for n in spec.free]) if spec.free else jnp.zeros(0)


@functools.lru_cache(maxsize=None)
def compiled_screen(spec: Spec):
    """``(phi (G, k), data) -> (theta (G, p), objective (G,))``, jitted once per spec."""
    loss = spec.loss

    def one(phi, data):
        th = _solve_linear(spec, phi, data)
        p = {n: th[i] for i, n in enumerate(spec.free)}
        p.update({n: data.fixed[i] for i, n in enumerate(spec.fixed)})
        r = data.log_y - jnp.log(spec.law(p, data.x))
        f = loss.objective(r, data.w, data.delta, data.log_z)
        return th, jnp.where(jnp.isfinite(f), f, jnp.inf)

    return stored_jit(spec, jax.vmap(one, in_axes=(0, None)), "screen")

