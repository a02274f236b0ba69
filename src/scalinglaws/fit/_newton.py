"""Batched robust Newton polisher for Huber-type losses, down to the near-L1 limit.

`polish` runs every start through quick iterations first; a start they cannot finish (it stalls,
or after 25 of them fewer points than parameters sit in the quadratic zone) goes on with full
iterations (each kind is one compiled program per batch size).

Quick iteration (Levenberg-Marquardt on a reweighted Gauss-Newton model): two damped steps from
``J' W J`` (``J`` the residuals' Jacobian) with the majorizer weights ``W = rho'(r) / r`` (IRLS, a
sure descent direction for Huber-type losses) and with the exact curvature ``W = rho''(r)``
(Newton, which converges in a few steps once the points inside the quadratic zone are known); the
better decrease is kept and the damping adapts. This finishes smooth fits and Huber fits whose
quadratic zone holds enough points.

Full iteration, for near-L1 objectives (the Huber likelihood: its quadratic zone is ~1e-6 of the
residuals wide, so fewer points than parameters sit in it and the optimum lies on an edge or a
vertex of a piecewise-smooth surface). There the Gauss-Newton curvature is singular along the
edge, IRLS only approaches the next kink geometrically, and the law's own nonlinearity moves the
points that should stay in the zone off it; each iteration therefore

* adds the residuals' own curvature ``S = sum_i psi_i Hess r_i`` (``psi = rho'(r)``: what
  Gauss-Newton leaves out, and the only curvature along an edge; its positive part in the models);
* besides the two damped steps, searches three directions with a ridge (in the data's
  Gauss-Newton metric) for directions no point in the zone constrains: IRLS, Newton, and Newton
  with the zone 1000 times wider (points hovering just outside it held too). The step length is
  the exact minimiser of the linearised loss plus ``S``'s curvature (`losses.Loss.line_min`; for a
  near-L1 loss the next kink, a weighted median);
* applies a second-order correction that puts the points the model places in the zone back
  there.

The best trial point is kept if it lowers the objective; the damping grows when none does.

A start is *converged* when the Newton decrement ``g' H^-1 g`` (``H = J' rho''(r) J + S+``; twice
the gain the Newton model predicts) is below ``1e-14`` of the objective's scale ``|sum psi_i r_i|``
(free of the constant offset a likelihood carries: ``n`` for the Huber likelihood, whose value is
~-880 on the Chinchilla runs) or below what rounding of the residuals alone gives, or when it is
below ``1e-10`` of the scale and no trial gains more than rounding. A start whose damping grows to
``1e10`` before that has stalled and is reported as not converged (``max_iterations``).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ..laws._transforms import to_unconstrained
from .._jax import program_cache
from ._problem import (EPS_R, PER_LANE, PER_LANE_X, Data, Spec, free_theta, inputs_per_lane, objective,
                       residuals, residuals_at, take_lanes)

#: a start's status. ``converged``: the Newton decrement meets the criterion below (the only
#: certificate); ``max_iterations``: out of iterations or stalled without it; ``failed``: a non-finite
#: objective; ``discarded``: pruned early (``hoffmann2022``); ``out_of_bounds``: left the law's bounds
#: (``hoffmann2022``'s unconstrained parameterisation); ``stopped``: L-BFGS stopped by its own rule
#: (no further decrease found) and the start was not certified.
CONVERGED, MAX_ITERATIONS, FAILED, DISCARDED, OUT_OF_BOUNDS, STOPPED = 0, 1, 2, 3, 4, 5
STATUS_NAMES = {CONVERGED: "converged", MAX_ITERATIONS: "max_iterations", FAILED: "failed", DISCARDED: "discarded",
                OUT_OF_BOUNDS: "out_of_bounds", STOPPED: "stopped"}

_DTOL = 1e-14  # converged: Newton decrement below this fraction of the objective's scale
_DTOL_FLOOR = 1e-10  # ... or below this when no trial gains more than rounding
_FTOL = 1e-13  # a gain below this fraction of the scale is rounding
_SOC = 3  # second-order corrections per trial point
_WIDEN = 1e-3  # the widened Newton model scales residuals by this before asking which are in the zone
_LAM0, _LAM_MAX = 1e-3, 1e10  # Levenberg-Marquardt damping: start, and where a start has stalled
QUICK_ITERATIONS = 25  # quick iterations before a near-L1 start goes on to the full one
QUICK_CHUNK = 5  # quick iterations between the driver's looks at a start (see `_driver`)
FULL_CHUNK = 8  # full iterations between the driver's looks at a start
LANE_ROWS = 1 << 16  # lanes x runs a batch holds at most (beyond, it narrows: large tables)


def cholesky(A):
    """Lower Cholesky factor of a small symmetric positive definite ``A``, as a list of rows.

    Unrolled elementwise arithmetic (``p`` is static and small), so it vectorises under ``vmap``
    where a batched LAPACK call would not. A matrix that is not positive definite gives NaN.
    """
    p = A.shape[-1]
    L = [[None] * p for _ in range(p)]
    for j in range(p):
        s = A[j, j] - sum(L[j][k] * L[j][k] for k in range(j))
        L[j][j] = jnp.sqrt(s)
        for i in range(j + 1, p):
            L[i][j] = (A[i, j] - sum(L[i][k] * L[j][k] for k in range(j))) / L[j][j]
    return L


def chol_solve(L, b):
    """Solve ``L L' x = b`` for ``b`` of shape ``(p,)`` or ``(p, k)``."""
    p = len(L)
    z = []
    for i in range(p):
        z.append((b[i] - sum(L[i][k] * z[k] for k in range(i))) / L[i][i])
    x = [None] * p
    for i in reversed(range(p)):
        x[i] = (z[i] - sum(L[k][i] * x[k] for k in range(i + 1, p))) / L[i][i]
    return jnp.stack(x)


def solve_spd(A, b):
    """Solve ``A x = b`` for a small symmetric positive definite ``A`` by unrolled Cholesky."""
    return chol_solve(cholesky(A), b)


def gram_products(Jt):
    """``grams(W)``: the matrices ``J' diag(W[k]) J`` for each row of ``W`` (``(k, n)`` -> ``(k, p, p)``).

    The products ``J_i J_j`` of the Jacobian's columns are formed once, for ``i <= j`` only (the
    matrices are symmetric), and shared by every weighting.
    """
    p = Jt.shape[0]
    upper_i, upper_j = np.triu_indices(p)
    where = np.zeros((p, p), dtype=int)
    where[upper_i, upper_j] = where[upper_j, upper_i] = np.arange(upper_i.size)
    products = Jt[upper_i] * Jt[upper_j]
    return lambda W: jnp.sum(products[None] * W[:, None, :], axis=-1)[:, where]


def _init_one(spec: Spec, u0, data: Data):
    f0 = objective(spec, u0, data)
    bad = ~jnp.isfinite(f0)
    return dict(u=u0, f=f0, lam=jnp.asarray(_LAM0), it=jnp.asarray(0), done=bad, converged=jnp.asarray(False),
                dec=jnp.asarray(jnp.inf))


def _advance_one(spec: Spec, state, data: Data, until, full: bool):
    loss = spec.loss
    f_of = functools.partial(objective, spec, data=data)
    r_of = functools.partial(residuals, spec, data=data)
    eye = jnp.eye(state["u"].shape[-1])

    def body(s):
        u, f, lam = s["u"], s["f"], s["lam"]
        # the Jacobian in the parameters' own values, then by the chain rule in u: at a bound, where the
        # transform is flat and u-space sees no gradient, the values still tell which way f falls
        th, dth = jax.jvp(lambda v: free_theta(spec, v), (u,), (jnp.ones_like(u),))
        J_th, r = jax.jacfwd(lambda t: (lambda rv: (rv, rv))(residuals_at(spec, t, data)), has_aux=True)(th)
        Jt_th = J_th.T  # (p, n): reductions run along the contiguous axis
        Jt = Jt_th * dth[:, None]
        sigma = loss.scale(r, data.w, data.delta)
        psi = loss.gradient(r, data.w, data.delta, sigma)
        g = jnp.sum(Jt * psi, axis=-1)
        curv = loss.curvature(r, data.w, data.delta, sigma)
        if full:
            S = jax.hessian(lambda v: jnp.dot(psi, r_of(v)))(u)  # the residuals' own curvature
            lam_s, vec_s = jnp.linalg.eigh(S)
            S_plus = (vec_s * jnp.maximum(lam_s, 0.0)) @ vec_s.T
        else:
            S_plus = jnp.zeros_like(eye)

        grams = gram_products(Jt)

        def ridged(H):
            return H + (1e-10 * jnp.trace(jnp.abs(H)) / jnp.maximum(jnp.trace(G), 1e-300)) * G + 1e-300 * eye

        def damped(H):
            d = jnp.abs(jnp.diag(H))
            return H + lam * jnp.diag(d) + (lam * 1e-10 * jnp.max(d) + 1e-300) * eye

        def searched(step):
            """Exact minimiser of the model along ``step``, then second-order correction: ``(u, f)``."""
            a = step @ Jt
            t = loss.line_min(r, a, data.w, data.delta, sigma, step @ S @ step)
            r_lin = r + t * a
            wc = loss.curvature(r_lin, data.w, data.delta, sigma)
            chol = cholesky(ridged(grams(wc[None])[0]))

            def correct(_, v_r):
                v = v_r[0] - chol_solve(chol, jnp.sum(Jt * (wc * (v_r[1] - r_lin)), axis=-1))
                return v, r_of(v)

            v0 = u + t * step
            v, r_v = jax.lax.fori_loop(0, _SOC, correct, (v0, r_of(v0)))
            return v, loss.objective(r_v, data.w, data.delta, data.log_z)

        # the rounding of the residuals alone, as a curvature-weighted noise (for the stationarity test)
        noise = curv * EPS_R * (1.0 + jnp.abs(data.t_y))
        # G: the data's Gauss-Newton metric (a scale-free ridge); Hm, Hn: the majorizer's and Newton's
        # models; Hw: Newton's with the zone widened (full iteration)
        weights = [data.w, loss.majorizer(r, data.w, data.delta, sigma), curv, noise**2]
        if full:
            weights.append(loss.curvature(r * _WIDEN, data.w, data.delta, sigma))
        G, Hm, Hn, C, *Hw = grams(jnp.stack(weights))
        Hm, Hn = Hm + S_plus, Hn + S_plus
        chol_n = cholesky(ridged(Hn))
        s_n = -chol_solve(chol_n, g)
        # one parameter at a time, in its own value: the majorizer's step and the gain it guarantees
        # (within the bounds). Where u-space has converged this is ~0, except for a parameter pinned
        # at a bound while the objective falls away from it: then that step is also a trial point
        trials = u + jnp.stack([-chol_solve(cholesky(damped(H)), g) for H in (Hm, Hn)])
        f_trials = jax.vmap(f_of)(trials)
        if full:
            directions = jnp.stack([-chol_solve(cholesky(ridged(H)), g) for H in (Hm, Hw[0] + S_plus)] + [s_n])
            u_searched, f_searched = jax.vmap(searched)(directions)
            trials = jnp.concatenate([trials, u_searched])
            f_trials = jnp.concatenate([f_trials, f_searched])
        # stationarity: the Newton decrement against the objective's scale (free of a likelihood's
        # constant offset) and against what rounding of the residuals alone would give
        scale = jnp.abs(jnp.dot(psi, r))
        dec = -jnp.dot(g, s_n)
        f_noise = jnp.sum(jnp.abs(psi) * EPS_R * (1.0 + jnp.abs(data.t_y)))  # rounding level of f
        # a parameter pinned at a bound while the objective falls away from it: its own step (in its
        # value) gains more than the whole Newton model in u promises (which it cannot do inside
        # the bounds, where u and the values are equivalent); that step is then one more trial
        gain, escape = _bound_gains(spec, u, th, Jt_th, g_th=jnp.sum(Jt_th * psi, axis=-1), maj=weights[1])
        pinned = jnp.max(gain) > 4.0 * jnp.maximum(dec, 0.0) + _DTOL_FLOOR * scale + f_noise
        f_lm = jnp.where(jnp.isfinite(f_trials), f_trials, jnp.inf)
        f_escape = jnp.where(pinned, f_of(escape), jnp.inf)
        trials = jnp.concatenate([trials, escape[None]])
        f_trials = jnp.concatenate([f_lm, jnp.where(jnp.isfinite(f_escape), f_escape, jnp.inf)[None]])
        k = jnp.argmin(f_trials)
        improved = f_trials[k] < f
        best_u = jnp.where(improved, trials[k], u)
        best_f = jnp.where(improved, f_trials[k], f)
        # its expected value were the residuals off by rounding alone: sum_i noise_i^2 J_i' H^-1 J_i = tr(H^-1 C)
        dec_noise = jnp.sum(chol_solve(chol_n, eye) * C)
        rounding = (f - best_f) <= _FTOL * scale
        converged = ((dec <= _DTOL * scale + dec_noise) | ((dec <= _DTOL_FLOOR * scale) & rounding)) & ~pinned
        # the damping follows the Levenberg-Marquardt trials only (an escape from a bound says nothing of them)
        lam = jnp.where(jnp.min(f_lm) < f, jnp.maximum(lam * 0.3, 1e-12), jnp.where(improved, lam, lam * 10.0))
        done = converged | (lam >= _LAM_MAX) | ~jnp.isfinite(best_f)
        if not full:
            # near-L1: fewer points in the quadratic zone than parameters, so the Newton model is singular
            # and the quick iteration cannot finish; after QUICK_ITERATIONS such a start goes on to the full one
            in_zone = jnp.sum((curv > 0) & (data.w > 0))
            done = done | ((s["it"] + 1 >= QUICK_ITERATIONS) & (in_zone < u.shape[-1]))
        return dict(u=best_u, f=best_f, lam=lam, it=s["it"] + 1, done=done, converged=converged,
                    dec=dec / jnp.maximum(scale, 1e-300))

    return jax.lax.while_loop(lambda s: ~s["done"] & (s["it"] < until), body, state)


def _bound_gains(spec: Spec, u, th, Jt_th, g_th, maj):
    """Per free parameter, twice the decrease of the objective that the majorizer guarantees for a step
    in that parameter's value alone, kept within its bounds; and the unconstrained point that takes
    the step of the largest such decrease (non-finite when the step reaches a bound: then rejected)."""
    H = jnp.sum(maj * Jt_th * Jt_th, axis=-1)
    bounds = [spec.law.param(n).bounds for n in spec.free]
    lo = jnp.asarray([b[0] for b in bounds])
    hi = jnp.asarray([b[1] for b in bounds])
    step = jnp.clip(-g_th / jnp.where(H > 0, H, jnp.inf), lo - th, hi - th)
    gain = jnp.maximum(-(2.0 * g_th * step + H * step * step), 0.0)
    stepped = jnp.stack([to_unconstrained(th[i] + step[i], b) for i, b in enumerate(bounds)])
    return gain, jnp.where(jnp.arange(th.shape[0]) == jnp.argmax(gain), stepped, u)


@program_cache
def compiled_polisher(spec: Spec, full: bool = False, inputs_per_lane: bool = False):
    """``(init, advance)`` for `_driver.run_batched`, jitted once per spec.

    Each lane has its own targets and weights (`PER_LANE`): a fit's starts share theirs, a
    bootstrap's replicates do not, and one program serves both. ``inputs_per_lane``: each lane
    has its own inputs too (`PER_LANE_X`: the groups of a table, polished together).
    ``full``: the near-L1 iteration (curvature of the residuals, line searches, second-order
    correction); otherwise the quick one (the two damped steps only).
    """
    axes = PER_LANE_X if inputs_per_lane else PER_LANE
    init = jax.jit(jax.vmap(lambda u0, data: _init_one(spec, u0, data), in_axes=(0, axes)))
    advance = jax.jit(jax.vmap(lambda s, data, until: _advance_one(spec, s, data, until, full),
                               in_axes=(0, axes, 0)))
    return init, advance


def polish(spec: Spec, u0, data: Data, *, max_iter: int):
    """Polish every start: ``(u, f, status, iterations)`` as NumPy arrays, one row per start.

    ``data`` holds one set of targets and weights for every start, or one per start (rows of
    ``t_y``, ``y`` and ``w``: bootstrap replicates), and one set of inputs, or one per start
    (rows of each input: groups of a table).

    Every start first gets quick iterations, up to ``max_iter``; a smooth or well-resolved fit
    (enough points in the quadratic zone) converges there. A start they leave unconverged because
    it stalled, or because after ``QUICK_ITERATIONS`` fewer points than parameters sit in the
    quadratic zone (near-L1, as with the Huber likelihood), goes on with the full iteration from
    where it is, for up to ``max_iter - QUICK_ITERATIONS`` more. Both run at the batch width of all
    the starts, so the few programs compiled for a problem serve every fit of it.
    """
    from .._progress import uncounted
    from ._driver import WINDOW, run_batched, window_size  # the driver imports this module

    quick = min(QUICK_ITERATIONS, max_iter)
    # one width for fits and bootstraps (one program to trace), unless the runs are so many that a
    # batch of that width would hold more than `LANE_ROWS` lane-rows: then as few lanes as the batch needs
    rows = np.shape(data.t_y)[-1]
    width = window_size(max(len(u0), WINDOW)) if rows * WINDOW <= LANE_ROWS else \
        window_size(len(u0), 1 << max(0, (LANE_ROWS // rows).bit_length() - 1))
    per_x = inputs_per_lane(data)
    u, f, status, it = run_batched(*compiled_polisher(spec, False, per_x), u0, data, max_iter=max_iter,
                                   chunk=QUICK_CHUNK, per_lane=True, width=width)
    todo = np.flatnonzero((status == MAX_ITERATIONS) & (it < max_iter))  # stalled or handed on, not out of iterations
    if todo.size and max_iter > quick:
        with uncounted():  # lanes counted once, when the quick pass ends them
            u2, f2, status2, it2 = run_batched(*compiled_polisher(spec, True, per_x), u[todo], take_lanes(data, todo),
                                               max_iter=max_iter - quick, chunk=FULL_CHUNK, per_lane=True,
                                               width=width)
        u, f, status, it = u.copy(), f.copy(), status.copy(), it.copy()
        u[todo], f[todo], status[todo], it[todo] = u2, f2, status2, it[todo] + it2
    return u, f, status, it
