"""Bootstrap uncertainty: resampling schemes, replicate refits, standard errors and intervals.

Schemes (each replicate is a reweighting or a re-draw of the same runs, refitted by the batched
engine, all replicates in one computation):

* ``rows``: resample runs with replacement (multinomial counts as weights);
* ``clusters``: resample whole groups (e.g. every checkpoint of one model) with replacement, so
  repeated measurements of one configuration are not treated as independent;
* ``residuals``: a wild bootstrap for designed grids: keep the inputs, redraw each target as
  ``fit * exp(v_i r_i)`` with Rademacher signs ``v_i`` on the log residuals ``r_i``.

Every replicate is refitted from a guarded warm start (the full-data optimum; a random sample of
replicates is also refitted from a cold multi-start, and if that ever finds a better optimum all
replicates are multi-started). ``n_failed`` counts replicates whose best start did not converge
(they are left out of the intervals, and the count is reported).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from .errors import InputError

SCHEMES = ("rows", "clusters", "residuals")


@dataclass(frozen=True)
class Bootstrap:
    """Replicate parameter values and the summaries derived from them."""

    scheme: str
    level: float
    params: dict[str, tuple[float, ...]]  # per parameter, one value per converged replicate
    n_replicates: int
    n_failed: int
    n_guarded: int = 0  # replicates also refitted from a cold multi-start
    n_guard_better: int = 0  # of those, how many the cold multi-start beat (then all were multi-started)
    residuals: tuple[float, ...] = ()  # log residuals of the full-data fit (run-to-run noise)

    def values(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v) for k, v in self.params.items()}

    @property
    def se(self) -> dict[str, float]:
        return {k: float(np.std(v, ddof=1)) for k, v in self.values().items()}

    @property
    def ci(self) -> dict[str, tuple[float, float]]:
        return {k: self.interval(lambda p, k=k: p[k]) for k in self.params}

    def interval(self, fn: Callable[[Mapping[str, np.ndarray]], np.ndarray], level: float | None = None):
        """Percentile interval of any derived quantity ``fn(params)`` (vectorised over replicates)."""
        q = np.asarray(fn(self.values()), dtype=np.float64)
        tail = (1.0 - (self.level if level is None else level)) / 2.0
        lo, hi = np.quantile(q, [tail, 1.0 - tail])
        return float(lo), float(hi)

    def to_dict(self) -> dict:
        return {"scheme": self.scheme, "level": self.level, "n_replicates": self.n_replicates,
                "n_failed": self.n_failed, "n_guarded": self.n_guarded, "n_guard_better": self.n_guard_better,
                "params": {k: list(v) for k, v in self.params.items()}, "residuals": list(self.residuals)}

    @classmethod
    def from_dict(cls, d: Mapping) -> "Bootstrap":
        return cls(scheme=d["scheme"], level=float(d["level"]), n_replicates=int(d["n_replicates"]),
                   n_failed=int(d["n_failed"]), n_guarded=int(d.get("n_guarded", 0)),
                   n_guard_better=int(d.get("n_guard_better", 0)),
                   residuals=tuple(float(x) for x in d.get("residuals", ())), params={k: tuple(float(x) for x in v) for k, v in d["params"].items()})


def prediction_interval(law, boot: Bootstrap, x: Mapping[str, np.ndarray], level: float):
    """``(lo, hi)`` for a new run at ``x``: parameter uncertainty and run-to-run noise together.

    For replicate ``b`` the forecast is ``log f(theta_b, x) + r_b``, with ``r_b`` drawn from the
    full-data fit's log residuals (a fixed seed, so the interval is reproducible); the interval
    is the percentile range of those forecasts.
    """
    if not (0.0 < level < 1.0):
        raise InputError(f"--interval must lie strictly between 0 and 1; got {level!r}")
    values = boot.values()
    n_rep = len(next(iter(values.values())))
    # laws are elementwise: replicates along axis 0, points along axis 1, in one evaluation
    log_f = np.log(law.predict({k: v[:, None] for k, v in values.items()},
                               {k: np.asarray(v)[None, :] for k, v in x.items()}))
    noise = np.random.default_rng(0).choice(np.asarray(boot.residuals), size=(n_rep, 1))
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(log_f + noise, [tail, 1.0 - tail], axis=0)
    return np.exp(lo), np.exp(hi)


def check_options(replicates, scheme: str, cluster, level: float) -> None:
    if not (isinstance(replicates, (int, np.integer)) and not isinstance(replicates, bool) and replicates >= 0):
        raise InputError(f"--bootstrap must be a non-negative integer; got {replicates!r}")
    if 0 < replicates < 10:
        raise InputError(f"--bootstrap needs at least 10 replicates for an interval; got {replicates}")
    if scheme not in SCHEMES:
        raise InputError(f"--resample must be one of {', '.join(SCHEMES)}; got `{scheme}`")
    if scheme == "clusters" and not cluster:
        raise InputError("--resample clusters needs --cluster COLUMN (the column that names each configuration)")
    if not (0.0 < level < 1.0):
        raise InputError(f"--level must lie strictly between 0 and 1; got {level!r}")


def resample(scheme: str, replicates: int, n: int, rng: np.random.Generator, *, clusters=None,
             log_y=None, log_fit=None) -> tuple[np.ndarray, np.ndarray]:
    """Per-replicate ``(weights, log_y)``, each ``(replicates, n)``."""
    if scheme == "rows":
        w = rng.multinomial(n, np.full(n, 1.0 / n), size=replicates).astype(np.float64)
        return w, np.broadcast_to(log_y, (replicates, n))
    if scheme == "clusters":
        labels, index = np.unique(np.asarray(clusters), return_inverse=True)
        counts = rng.multinomial(len(labels), np.full(len(labels), 1.0 / len(labels)), size=replicates)
        return counts[:, index].astype(np.float64), np.broadcast_to(log_y, (replicates, n))
    signs = rng.choice(np.array([-1.0, 1.0]), size=(replicates, n))
    return np.ones((replicates, n)), log_fit + signs * (log_y - log_fit)
