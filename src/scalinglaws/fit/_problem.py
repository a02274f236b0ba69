"""A fitting problem as pure JAX functions of the unconstrained parameter vector ``u``.

``Spec`` is the static part (law, which parameters are free, the loss) and is hashable, so compiled
solvers are cached per spec and reused for any data of the same shape: a second fit of the same
law and data shape never recompiles. ``Data`` is the traced part (inputs, targets, fixed values).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._jax import padded_size, program_cache
from ..laws import Law
from ..laws._transforms import from_unconstrained, to_unconstrained
from .losses import Loss, get_loss, huber_log_normaliser


@dataclass(frozen=True)
class Spec:
    law: Law
    free: tuple[str, ...]
    fixed: tuple[str, ...]
    loss_name: str

    @property
    def loss(self) -> Loss:
        return get_loss(self.loss_name)

    @property
    def free_linear(self) -> tuple[str, ...]:
        return tuple(n for n in self.free if n in self.law.linear)

    @property
    def free_nonlinear(self) -> tuple[str, ...]:
        return tuple(n for n in self.free if n not in self.law.linear)


class Data(NamedTuple):
    x: dict  # input name -> (n,) float64
    t_y: jax.Array  # (n,) the targets in the law's residual space (log y for most laws)
    y: jax.Array  # (n,)
    fixed: jax.Array  # values of Spec.fixed, in order
    delta: jax.Array  # loss scale
    log_z: jax.Array  # log normaliser of the Huber likelihood (huber-mle only)
    w: jax.Array  # (n,) weights of the points: ones, or resampling counts of a bootstrap replicate


def make_data(spec: Spec, x: dict, y: np.ndarray, fixed: dict, delta: float, w: np.ndarray | None = None) -> Data:
    """The traced problem data, padded to `padded_size` with zero-weight copies of the last point
    (padding points carry weight 0, so they change no objective; fits of nearby sizes then share one
    compiled solver)."""
    y = np.asarray(y, dtype=np.float64)
    n = y.size
    pad = padded_size(n) - n

    def padded(v):
        v = np.asarray(v, dtype=np.float64)
        return np.concatenate([v, np.full(pad, v[-1])])

    # plain NumPy arrays: the solvers take them as they are (no eager JAX operations to compile)
    w = np.ones(n) if w is None else np.asarray(w, dtype=np.float64)
    y_pad = padded(y)
    return Data(
        x={k: padded(v) for k, v in x.items()},
        t_y=spec.law.to_space(y_pad),
        y=y_pad,
        fixed=np.asarray([fixed[k] for k in spec.fixed], dtype=np.float64),
        delta=np.asarray(delta, dtype=np.float64),
        log_z=np.asarray(huber_log_normaliser(delta) if spec.loss_name == "huber-mle" else 0.0, dtype=np.float64),
        w=np.concatenate([w, np.zeros(pad)]),
    )


#: vmap axes of `Data` when each lane (bootstrap replicate) has its own targets and weights
PER_LANE = Data(x=None, t_y=0, y=0, fixed=None, delta=None, log_z=None, w=0)
#: ... and its own inputs too (groups of a table: each its own runs)
PER_LANE_X = PER_LANE._replace(x=0)


def inputs_per_lane(data: Data) -> bool:
    """Whether ``data`` holds one row of inputs per lane (groups), not one set shared by all."""
    return any(np.ndim(v) == 2 for v in data.x.values())


def take_lanes(data: Data, idx) -> Data:
    """The per-lane fields of ``data`` at lanes ``idx`` (shared fields unchanged); fields of one row
    (shared by every lane) are repeated. Inputs are taken per lane only when they have rows."""
    if inputs_per_lane(data):
        data = data._replace(x={k: v[idx] for k, v in data.x.items()})
    if np.ndim(data.t_y) == 1:
        rows = (len(idx), data.t_y.size)
        return data._replace(**{k: np.broadcast_to(getattr(data, k), rows) for k in ("t_y", "y", "w")})
    return data._replace(t_y=data.t_y[idx], y=data.y[idx], w=data.w[idx])


def stack_rows(datas: list[Data]) -> Data:
    """The data of several problems of one spec (groups of a table: same fixed values and loss
    scale, their own runs) as one row each of inputs, targets and weights, every row padded to the
    longest with zero-weight copies of its own last point (as `make_data` pads one problem)."""
    n = max(np.size(d.y) for d in datas)

    def rows(values, fill=None):
        return np.stack([np.concatenate([v, np.full(n - np.size(v), v[-1] if fill is None else fill)]) for v in values])

    return datas[0]._replace(x={k: rows([d.x[k] for d in datas]) for k in datas[0].x},
                             t_y=rows([d.t_y for d in datas]), y=rows([d.y for d in datas]),
                             w=rows([d.w for d in datas], 0.0))


def theta(spec: Spec, u, fixed, xp=jnp) -> dict:
    """All parameters of the law from the free unconstrained vector ``u`` and the fixed values
    (``xp=numpy`` for plain values outside the solvers)."""
    with np.errstate(over="ignore"):  # NumPy only: a diverged start maps to inf, as under JAX
        p = {n: from_unconstrained(u[..., i], spec.law.param(n).bounds, xp) for i, n in enumerate(spec.free)}
    p.update({n: fixed[i] for i, n in enumerate(spec.fixed)})
    return p


def free_values(spec: Spec, u, data: Data) -> np.ndarray:
    """The free parameters' values (plain NumPy) of unconstrained vectors ``u``: ``(..., len(free))``."""
    values = theta(spec, np.asarray(u), np.asarray(data.fixed), np)
    return np.stack([np.asarray(values[n]) for n in spec.free], axis=-1)


def unconstrain(spec: Spec, params: dict) -> np.ndarray:
    """Inverse of ``theta`` for the free parameters (plain values): a ``(..., len(free))`` array."""
    with np.errstate(divide="ignore", invalid="ignore"):
        cols = [to_unconstrained(np.asarray(params[n], dtype=np.float64), spec.law.param(n).bounds, np)
                for n in spec.free]
    return np.stack(cols, axis=-1)


def residuals(spec: Spec, u, data: Data):
    """Residuals in the law's space: ``log y - log f(theta(u), x)`` (or ``y - f``)."""
    return data.t_y - spec.law.to_space(spec.law(theta(spec, u, data.fixed), data.x), jnp)


def free_theta(spec: Spec, u):
    """The free parameters' values as a vector (``theta`` of ``u``, in ``spec.free`` order)."""
    values = theta(spec, u, jnp.zeros(len(spec.fixed)))
    return jnp.stack([values[n] for n in spec.free])


def residuals_at(spec: Spec, th, data: Data):
    """Residuals at the free parameters' values ``th`` (a vector in ``spec.free`` order)."""
    p = {n: th[i] for i, n in enumerate(spec.free)}
    p.update({n: data.fixed[i] for i, n in enumerate(spec.fixed)})
    return data.t_y - spec.law.to_space(spec.law(p, data.x), jnp)


EPS_R = 8 * 2.220446049250313e-16  # relative rounding of a log residual


def fitted(spec: Spec, u, data: Data):
    """At ``u``: the log residuals, the loss's own fitted parameters (the Huber likelihood's sigma)
    and the objective's rounding level ``sum_i |psi_i| eps_i`` (how much rounding of the residuals
    alone, ``eps_i`` each, can move it: objectives closer than this are equal)."""
    r = residuals(spec, u, data)
    loss = spec.loss
    psi = loss.gradient(r, data.w, data.delta, loss.scale(r, data.w, data.delta))
    return r, loss.extras(r, data.w, data.delta), jnp.sum(jnp.abs(psi) * EPS_R * (1.0 + jnp.abs(data.t_y)))


@program_cache
def compiled_fitted(spec: Spec):
    """`fitted` for plain values, as one compiled call."""
    return jax.jit(functools.partial(fitted, spec))


def objective(spec: Spec, u, data: Data):
    return spec.loss.objective(residuals(spec, u, data), data.w, data.delta, data.log_z)
