"""Batched robust Newton polisher: Levenberg-Marquardt on a reweighted Gauss-Newton model.

Each iteration builds two quadratic models of the loss from the Jacobian ``J`` of the residuals:
``J' W J`` with the majorizer weights (IRLS, a sure descent direction for Huber-type losses) and
with the exact curvature (Newton, which converges in a few steps once the points inside the
quadratic zone are known). Both damped steps are tried and the better decrease is kept; the
damping adapts. This finishes near-L1 objectives (small Huber delta, the Huber likelihood) that
BFGS-type methods stop short of. A start is done when no damped step decreases the objective
(numerically stationary) or three steps in a row gain less than 1e-13 relative.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from ._problem import PER_LANE, Data, Spec, objective, residuals

CONVERGED, MAX_ITERATIONS, FAILED, DISCARDED = 0, 1, 2, 3
STATUS_NAMES = {CONVERGED: "converged", MAX_ITERATIONS: "max_iterations", FAILED: "failed", DISCARDED: "discarded"}

_LAM0, _LAM_MAX, _FTOL = 1e-3, 1e10, 1e-13


def solve_spd(A, b):
    """Solve ``A x = b`` for a small symmetric positive definite ``A`` by unrolled Cholesky.

    Plain elementwise arithmetic (``p`` is static and small), so it vectorises under ``vmap``
    where a batched LAPACK call would not.
    """
    p = b.shape[-1]
    L = [[None] * p for _ in range(p)]
    for j in range(p):
        s = A[j, j] - sum(L[j][k] * L[j][k] for k in range(j))
        L[j][j] = jnp.sqrt(s)
        for i in range(j + 1, p):
            L[i][j] = (A[i, j] - sum(L[i][k] * L[j][k] for k in range(j))) / L[j][j]
    z = []
    for i in range(p):
        z.append((b[i] - sum(L[i][k] * z[k] for k in range(i))) / L[i][i])
    x = [None] * p
    for i in reversed(range(p)):
        x[i] = (z[i] - sum(L[k][i] * x[k] for k in range(i + 1, p))) / L[i][i]
    return jnp.stack(x)


def _init_one(spec: Spec, u0, data: Data):
    f0 = objective(spec, u0, data)
    return dict(u=u0, f=f0, lam=jnp.asarray(_LAM0), small=jnp.asarray(0), it=jnp.asarray(0), done=~jnp.isfinite(f0))


def _advance_one(spec: Spec, state, data: Data, until):
    loss = spec.loss
    f_of = functools.partial(objective, spec, data=data)
    r_of = functools.partial(residuals, spec, data=data)
    eye = jnp.eye(state["u"].shape[-1])

    def body(s):
        u, f, lam = s["u"], s["f"], s["lam"]
        r = r_of(u)
        Jt = jax.jacfwd(r_of)(u).T  # (p, n): reductions run along the contiguous axis
        sigma = loss.scale(r, data.w, data.delta)
        g = jnp.sum(Jt * loss.gradient(r, data.w, data.delta, sigma), axis=-1)
        best_u, best_f = u, f
        for w in (loss.majorizer(r, data.w, data.delta, sigma), loss.curvature(r, data.w, data.delta, sigma)):
            H = jnp.sum(Jt[:, None, :] * (Jt * w)[None, :, :], axis=-1)
            d = jnp.diag(H)
            Hd = H + lam * jnp.diag(d) + (lam * 1e-10 * jnp.max(d) + 1e-300) * eye
            u_new = u - solve_spd(Hd, g)
            f_new = f_of(u_new)
            better = jnp.isfinite(f_new) & (f_new < best_f)
            best_u = jnp.where(better, u_new, best_u)
            best_f = jnp.where(better, f_new, best_f)
        improved = best_f < f
        rel = (f - best_f) / jnp.maximum(jnp.abs(f), 1e-300)
        small = jnp.where(improved & (rel > _FTOL), 0, s["small"] + improved)
        lam = jnp.where(improved, jnp.maximum(lam * 0.3, 1e-12), lam * 10.0)
        done = (lam >= _LAM_MAX) | (small >= 3) | ~jnp.isfinite(best_f)
        return dict(u=best_u, f=best_f, lam=lam, small=small, it=s["it"] + 1, done=done)

    return jax.lax.while_loop(lambda s: ~s["done"] & (s["it"] < until), body, state)


@functools.lru_cache(maxsize=None)
def compiled_polisher(spec: Spec, per_lane: bool = False):
    """``(init, advance)`` for `_driver.run_batched`, jitted once per spec.

    ``per_lane``: each start has its own targets and weights (bootstrap replicates).
    """
    axes = PER_LANE if per_lane else None
    init = jax.jit(jax.vmap(lambda u0, data: _init_one(spec, u0, data), in_axes=(0, axes)))
    advance = jax.jit(jax.vmap(lambda s, data, until: _advance_one(spec, s, data, until), in_axes=(0, axes, None)))
    return init, advance
