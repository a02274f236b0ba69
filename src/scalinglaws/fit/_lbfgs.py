"""Batched L-BFGS (two-loop recursion, Armijo backtracking), one independent run per start.

Used by the ``hoffmann2022`` method, which must follow the published procedure: L-BFGS from
every point of a grid, keep the best converged start. Stopping follows scipy's L-BFGS-B rules
(relative decrease, gradient) with tight tolerances; a line search that cannot decrease the
objective along a descent direction means the start is numerically stationary (converged).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

MEMORY, FTOL, GTOL, MAX_HALVINGS = 10, 1e-13, 1e-12, 40


def _direction(g, S, Y, rho, newest):
    """H g by the two-loop recursion over the ring buffer (S, Y, rho); empty slots have rho = 0."""
    m = S.shape[0]
    order = (newest - jnp.arange(m)) % m  # newest first

    def first(q, i):
        a = rho[i] * (S[i] @ q)
        return q - a * Y[i], a

    q, alphas = jax.lax.scan(first, g, order)
    sy, yy = S[newest] @ Y[newest], Y[newest] @ Y[newest]
    gamma = jnp.where(rho[newest] > 0, sy / jnp.maximum(yy, 1e-300), 1.0)

    def second(z, ia):
        i, a = ia
        b = rho[i] * (Y[i] @ z)
        return z + S[i] * (a - b), None

    z, _ = jax.lax.scan(second, gamma * q, (order[::-1], alphas[::-1]))
    return z


def _init_one(value_and_grad, u0, data):
    f0, g0 = value_and_grad(u0, data)
    p = u0.shape[-1]
    return dict(u=u0, f=f0, g=g0, d=-g0, slope=-(g0 @ g0), t=jnp.minimum(1.0, 1.0 / jnp.maximum(jnp.sum(jnp.abs(g0)), 1e-300)),
                halvings=jnp.asarray(0), S=jnp.zeros((MEMORY, p)), Y=jnp.zeros((MEMORY, p)), rho=jnp.zeros(MEMORY),
                newest=jnp.asarray(0), it=jnp.asarray(0), done=~jnp.isfinite(f0))


def _advance_one(value_and_grad, state, data, until):
    """Each loop pass is one evaluation: a trial step that is accepted (Armijo) or halved.

    The line search lives in the loop state, so under ``vmap`` a lane that backtracks does not
    make the other lanes wait (``it`` counts evaluations).
    """
    def body(s):
        u, f, g, d, t = s["u"], s["f"], s["g"], s["d"], s["t"]
        u_t = u + t * d
        f_t, g_t = value_and_grad(u_t, data)
        ok = jnp.isfinite(f_t) & (f_t <= f + 1e-4 * t * s["slope"]) & (f_t < f)
        sv, yv = u_t - u, g_t - g
        sy = sv @ yv
        keep = ok & (sy > 1e-300)
        slot = (s["newest"] + 1) % MEMORY
        S = jnp.where(keep, s["S"].at[slot].set(sv), s["S"])
        Y = jnp.where(keep, s["Y"].at[slot].set(yv), s["Y"])
        rho = jnp.where(keep, s["rho"].at[slot].set(1.0 / jnp.where(keep, sy, 1.0)), s["rho"])
        newest = jnp.where(keep, slot, s["newest"])
        u_n, f_n, g_n = jnp.where(ok, u_t, u), jnp.where(ok, f_t, f), jnp.where(ok, g_t, g)
        d_new = -_direction(g_n, S, Y, rho, newest)
        slope_new = g_n @ d_new
        bad = ~(slope_new < 0) | ~jnp.all(jnp.isfinite(d_new))
        d_new = jnp.where(bad, -g_n, d_new)
        slope_new = jnp.where(bad, -(g_n @ g_n), slope_new)
        rel = (f - f_t) / jnp.maximum(jnp.maximum(jnp.abs(f), jnp.abs(f_t)), 1e-300)
        halvings = jnp.where(ok, 0, s["halvings"] + 1)
        done = (ok & ((rel <= FTOL) | (jnp.max(jnp.abs(g_t)) <= GTOL))) | (halvings > MAX_HALVINGS)
        return dict(
            u=u_n, f=f_n, g=g_n, d=jnp.where(ok, d_new, d), slope=jnp.where(ok, slope_new, s["slope"]),
            t=jnp.where(ok, 1.0, 0.5 * t), halvings=halvings, S=S, Y=Y, rho=rho, newest=newest,
            it=s["it"] + 1, done=done,
        )

    return jax.lax.while_loop(lambda s: ~s["done"] & (s["it"] < until), body, state)


def compiled_lbfgs(value_and_grad):
    """``(init, advance)`` for `_driver.run_batched`; ``value_and_grad(u, data) -> (f, g)``."""
    init = jax.jit(jax.vmap(lambda u0, data: _init_one(value_and_grad, u0, data), in_axes=(0, None)))
    advance = jax.jit(jax.vmap(lambda s, data, until: _advance_one(value_and_grad, s, data, until), in_axes=(0, None, 0)))
    return init, advance
