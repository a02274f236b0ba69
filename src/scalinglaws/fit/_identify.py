"""Refuse a fit whose parameters the runs cannot identify, before solving it.

Two checks, both about the design (the inputs), never about the fitted values:

* the runs must hold more distinct input configurations than the law has free parameters (30
  rows at 3 configurations fit 5 parameters exactly, to an objective of 0, whatever the law);
* an input with one or two distinct values may leave several parameters acting on the data as
  one: ``E + A N^-alpha`` is a single constant when ``N`` never varies. That is tested on the
  Jacobian of the log predictions in the free parameters, at points spread over the parameters'
  start ranges: when its columns are linearly dependent at every such point, the dependence is
  structural, and the parameters in it are named.
"""

from __future__ import annotations


import jax
import numpy as np

from ..data.runs import Design
from ..errors import InputError
from .._jax import float64, program_cache
from ._problem import Data, Spec, residuals

FEW_VALUES = 2  # an input with at most this many distinct values gets the Jacobian test
PROBES = 3  # points of the start ranges the Jacobian is tested at
RANK_RTOL = 1e-9  # a singular value below this fraction of the largest (columns normalised) is zero
NULL_TOL = 1e-6  # a parameter whose share of a dependence (unit null vector) is above this is in it


@float64
def check_identifiable(spec: Spec, data: Data, dm: Design, w: np.ndarray) -> None:
    used = w > 0
    inputs = {k: v[used] for k, v in dm.x.items()}
    configurations = np.unique(np.stack(list(inputs.values()), axis=-1), axis=0).shape[0]
    if configurations <= len(spec.free):
        raise InputError(
            f"the {int(used.sum())} runs fitted hold {configurations} distinct configuration(s) of "
            f"{', '.join(f'{k} (column `{dm.columns[k]}`)' for k in inputs)}; law {spec.law.name} has "
            f"{len(spec.free)} free parameters and needs at least {len(spec.free) + 1} (or fix some with --fix)")
    few = {k: np.unique(v).size for k, v in inputs.items() if np.unique(v).size <= FEW_VALUES}
    if not few:
        return
    tied, excess = _tied_parameters(spec, data)
    if tied:
        name, n = next(iter(few.items()))
        raise InputError(
            f"input {name} (column `{dm.columns[name]}`) takes {n} distinct value(s) in the runs fitted, so "
            f"parameters {', '.join(tied)} of law {spec.law.name} cannot be told apart; fit runs where {name} "
            f"varies, or hold {excess} of them with --fix")


def _tied_parameters(spec: Spec, data: Data) -> tuple[list[str], int]:
    """Free parameters in a linear dependence of the Jacobian's columns at every probe point, and
    how many dependences there are (the fewest parameters to fix)."""
    rng = np.random.default_rng(0)
    probes = {}
    for n in spec.free:
        prm = spec.law.param(n)
        q = rng.uniform(0.1, 0.9, PROBES)
        lo, hi = prm.start
        probes[n] = np.exp(np.log(lo) + q * np.log(hi / lo)) if prm.scale == "log" else lo + q * (hi - lo)
    from ._problem import unconstrain

    J = np.asarray(_jacobian(spec)(unconstrain(spec, probes), data))[:, np.asarray(data.w) > 0]  # (probes, n, p)
    tied, excess = None, len(spec.free)
    for Jk in J:
        norms = np.linalg.norm(Jk, axis=0)
        if not np.all(np.isfinite(Jk)):
            return [], 0
        dead = norms == 0.0  # a parameter with no effect at all
        _, s, vt = np.linalg.svd(Jk / np.where(dead, 1.0, norms), full_matrices=False)
        null = vt[s <= RANK_RTOL * s[0]]  # an orthonormal basis of the dependences
        involved = dead | (np.linalg.norm(null, axis=0) > NULL_TOL)
        tied = involved if tied is None else tied & involved
        excess = min(excess, len(null))
        if not tied.any() or not excess:
            return [], 0
    return [n for n, t in zip(spec.free, tied) if t], excess


@program_cache
def _jacobian(spec: Spec):
    """``(u (k, p), data) -> (k, n, p)``: the Jacobian of the log residuals at each row of ``u``."""
    return jax.jit(jax.vmap(jax.jacfwd(lambda u, data: residuals(spec, u, data)), in_axes=(0, None)))
