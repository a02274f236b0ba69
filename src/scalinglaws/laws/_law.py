"""`Law` and `Param`: a scaling law is a value, not a class hierarchy."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping

import numpy as np

from .._jax import float64, jax, padded_size, program_cache
from ..errors import InputError
from ._transforms import transform_kind

SCALES = ("linear", "log")
SPACES = ("log", "linear")  # where a law's residuals are taken
FAMILIES = ("pretraining", "curves", "dynamics", "data", "downstream", "inference", "yours")


def to_space(space: str, v, xp=np):
    """Values (targets or predictions) in a residual space: ``log v`` or ``v`` itself."""
    return xp.log(v) if space == "log" else v


def from_space(space: str, v, xp=np):
    return xp.exp(v) if space == "log" else v


def power(x, p):
    """``x ** p`` for positive ``x``, written ``exp(p log x)``.

    Laws use this instead of ``**``: when ``x`` is data and ``p`` a parameter batched over many
    starts or replicates, ``log x`` is computed once per point instead of once per candidate
    (``pow`` recomputes it), which makes fits several times faster. Same value for ``x > 0``.
    """
    import jax.numpy as jnp

    return jnp.exp(p * jnp.log(x))


@dataclass(frozen=True)
class Param:
    """One parameter of a law, keyed by the paper's symbol.

    Args:
        name: the symbol (``"alpha"``, ``"E"``).
        bounds: ``(lo, hi)``; infinite ends are open. The fit never leaves them.
        start: ``(lo, hi)`` range that multi-start grids cover (inside ``bounds``).
        scale: ``"linear"`` or ``"log"``: how starts are spread over ``start``.
        description: what the symbol means, with units.
    """

    name: str
    bounds: tuple[float, float] = (-math.inf, math.inf)
    start: tuple[float, float] = (0.0, 1.0)
    scale: str = "linear"
    description: str = ""

    def __post_init__(self):
        lo, hi = self.bounds
        if not lo < hi:
            raise ValueError(f"Param {self.name}: bounds must satisfy lo < hi, got {self.bounds}")
        s_lo, s_hi = self.start
        if not (lo <= s_lo < s_hi <= hi):
            raise ValueError(f"Param {self.name}: start range {self.start} must lie inside bounds {self.bounds}")
        if self.scale not in SCALES:
            raise ValueError(f"Param {self.name}: scale must be one of {SCALES}, got {self.scale!r}")
        if self.scale == "log" and s_lo <= 0:
            raise ValueError(f"Param {self.name}: a log-scale start range must be positive, got {self.start}")

    @property
    def transform(self) -> str:
        return transform_kind(self.bounds)

    def grid(self, n: int, offsets: np.ndarray | None = None) -> np.ndarray:
        """``n`` starting values spread over the start range, one per equal cell (on ``scale``).

        ``offsets`` in (0, 1) place each value inside its cell (default: the cell centres).
        """
        lo, hi = self.start
        q = (np.arange(n) + (0.5 if offsets is None else offsets)) / n
        if self.scale == "log":
            return np.exp(np.log(lo) + q * (np.log(hi) - np.log(lo)))
        return lo + q * (hi - lo)


@dataclass(frozen=True)
class Law:
    """A scaling law: a pure ``fn(params, x)`` written with ``jax.numpy``.

    Args:
        name: registry name; a registered name never changes what it computes.
        inputs: names of the input variables ``fn`` reads from ``x`` (``("N", "D")``).
        params: the parameters, in the paper's order.
        fn: ``fn(params: dict[str, array], x: dict[str, array]) -> array`` (the prediction).
        equation: the law in plain text / LaTeX, as the paper writes it.
        reference: the citation (authors, year, arXiv id, equation number).
        linear: parameters that enter ``fn`` linearly (offsets, amplitudes); the default method
            solves these exactly for each candidate set of the other parameters.
        output: what the law predicts (``"loss"``, ``"error"``).
        log_inputs: inputs the law takes powers/logs of, which must be positive.
        falling_inputs: inputs that fall as scale grows (a loss, as the input of a link from loss to
            a metric): the nested cut-offs that calibrate intervals fit their high values and
            forecast their low ones, as forecasts are made.
        y_range: ``(lo, hi)`` for a law of a bounded metric (accuracy in [0, 1]); ``--law auto``
            offers it only for targets inside that range.
        space: where the fit compares the law with the data: ``"log"`` (residuals ``log y - log f``,
            for losses: relative errors, every scale weighted alike) or ``"linear"`` (``y - f``,
            for bounded metrics: an accuracy of 0 or 1 is a value like any other).
        family: the group ``scalinglaws laws`` lists it under (``pretraining``, ``curves``,
            ``dynamics``, ``data``, ``downstream``, ``inference``; ``yours`` for a formula).
        auto: whether ``--law auto`` offers it among the laws of its inputs (a law that predicts
            another quantity than the score, such as a batch size or a model size, is not offered).
    """

    name: str
    inputs: tuple[str, ...]
    params: tuple[Param, ...]
    fn: Callable[[Mapping[str, Any], Mapping[str, Any]], Any] = field(repr=False)  # compared by identity
    equation: str
    reference: str
    linear: tuple[str, ...] = ()
    output: str = "loss"
    log_inputs: tuple[str, ...] | None = None
    y_range: tuple[float, float] | None = None
    space: str = "log"
    family: str = "curves"
    auto: bool = True
    falling_inputs: tuple[str, ...] = ()

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"Law {self.name}: family must be one of {FAMILIES}, got {self.family!r}")
        if self.space not in SPACES:
            raise ValueError(f"Law {self.name}: space must be one of {SPACES}, got {self.space!r}")
        names = self.param_names
        if len(set(names)) != len(names):
            raise ValueError(f"Law {self.name}: duplicate parameter names {names}")
        unknown = set(self.linear) - set(names)
        if unknown:
            raise ValueError(f"Law {self.name}: linear names {sorted(unknown)} are not parameters")
        if self.log_inputs is None:
            object.__setattr__(self, "log_inputs", tuple(self.inputs))

    def in_space(self, space: str) -> "Law":
        """This law with its residuals taken in ``space`` (``"log"`` or ``"linear"``): the same
        equation and parameters, another fit (least squares on ``y`` is ``in_space("linear")``)."""
        if space not in SPACES:
            raise InputError(f"--space must be one of {', '.join(SPACES)}; got {space!r}")
        return self if space == self.space else replace(self, space=space)

    def to_space(self, v, xp=np):
        """Values (targets or predictions) in the space the law's residuals are taken in."""
        return to_space(self.space, v, xp)

    def from_space(self, v, xp=np):
        return from_space(self.space, v, xp)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise InputError(f"law {self.name} has no parameter `{name}`; its parameters are {', '.join(self.param_names)}")

    def checked_params(self, given: Mapping[str, Any], what: str = "parameters") -> dict[str, float]:
        """``given`` as this law's parameters: exactly its names, each a finite number within its
        bounds; otherwise an `InputError` that names ``what`` was wrong (e.g. ``"--params"``)."""
        if not isinstance(given, Mapping):
            raise InputError(f"{what} must map parameter names to numbers; got {type(given).__name__}")
        for name in given:
            if name not in self.param_names:
                raise InputError(f"{what} names `{name}`, which law {self.name} does not have "
                                 f"(its parameters: {', '.join(self.param_names)})")
        params = {}
        for prm in self.params:
            if prm.name not in given:
                raise InputError(f"{what} lacks `{prm.name}` of law {self.name} (needs {', '.join(self.param_names)})")
            try:
                if isinstance(given[prm.name], (bool, str)):  # True is not 1.0, "0.3" is text: numbers only
                    raise TypeError
                v = float(given[prm.name])
            except (TypeError, ValueError):
                raise InputError(f"{what} `{prm.name}` must be a number; got {given[prm.name]!r}") from None
            lo, hi = prm.bounds
            if not (math.isfinite(v) and lo <= v <= hi):
                raise InputError(f"{what} `{prm.name}` must be finite and within [{lo}, {hi}]; got {v!r}")
            params[prm.name] = v
        return params

    def __call__(self, params: Mapping[str, Any], x: Mapping[str, Any]):
        """Evaluate the law (JAX arrays in, JAX array out), in the precision of its inputs and of
        the caller's JAX setting: with NumPy float64 inputs outside ``jax.enable_x64`` JAX computes
        in float32. For numbers, use `predict` (float64 always); this is the traceable form."""
        return self.fn(params, x)

    @float64
    def predict(self, params: Mapping[str, float], x: Mapping[str, Any]) -> np.ndarray:
        """Evaluate the law on NumPy inputs (one compiled call), returning a float64 NumPy array of
        their broadcast shape. The law is elementwise: parameters and inputs are broadcast, flattened
        and padded to `padded_size`, so calls of any shape share a few compiled programs."""
        p = {k: np.asarray(params[k], dtype=np.float64) for k in self.param_names}
        xs = {k: np.asarray(x[k], dtype=np.float64) for k in self.inputs}
        shape = np.broadcast_shapes(*(v.shape for v in (*p.values(), *xs.values())))
        n = math.prod(shape)

        def flat(v):
            v = np.broadcast_to(v, shape).ravel()
            return np.concatenate([v, np.full(padded_size(n) - n, v[-1] if n else 1.0)])

        values = _compiled(self.fn)({k: flat(v) for k, v in p.items()}, {k: flat(v) for k, v in xs.items()})
        return np.asarray(values, dtype=np.float64)[:n].reshape(shape)

    def describe(self) -> dict:
        """Plain JSON-safe description (what ``scalinglaws laws`` prints)."""
        return {
            "name": self.name,
            "inputs": list(self.inputs),
            "params": [
                {"name": p.name, "bounds": [_json_float(b) for b in p.bounds], "linear": p.name in self.linear,
                 "description": p.description}
                for p in self.params
            ],
            "equation": self.equation,
            "reference": self.reference,
            "output": self.output,
            "space": self.space,
            "family": self.family,
            "auto": self.auto,
            **({"y_range": list(self.y_range)} if self.y_range else {}),
        }


@program_cache
def _compiled(fn):
    """``jax.jit(fn)``, kept for the most recently used laws."""
    return jax.jit(fn)


def _json_float(v: float):
    return v if math.isfinite(v) else ("inf" if v > 0 else "-inf")
