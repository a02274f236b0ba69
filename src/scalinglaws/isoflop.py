"""IsoFLOP analysis (Hoffmann et al. 2022's "approach 2") done the robust way, after Porian et al.
2024 (arXiv:2406.19146, Sec. 2 and App. C):

1. Per budget ``C``, the runs of that budget (one per model size; the lowest loss where a size has
   several) give the curve ``log L`` against ``log N``. An Akima spline through them is evaluated on
   a grid 25 times finer than the runs; its lowest point is ``N*(C)``. A minimum on the grid's edge
   is no minimum: the budget is rejected (``status: "edge"``), never extrapolated.
2. Noise bootstrap: every loss gets Gaussian noise of the seed-to-seed size ``noise`` (absolute, in
   loss units) and the minimum is found again, ``replicates`` times. Replicates whose minimum falls
   on the edge are dropped; with fewer than half left the budget is rejected (``"unstable"``). The
   spread of ``log N*`` (at least a third of the mean gap between runs, inflated by replicates / kept)
   weights the budget, and the replicates' median is its optimum.
3. ``N*(C) = k C^a`` is a weighted least-squares line in log-log; its interval: the line fitted to
   each replicate's optima (percentiles over replicates; every budget keeps as many replicates as the
   budget that kept fewest). ``D*`` the same way along ``log D``.

"On the edge" is the interpolated curve's lowest point at the smallest or largest size of the
budget: a curve that dips between the two largest sizes has an inside minimum even when the largest
run has the lowest loss.

The parabola method (a quadratic in ``log N`` per budget) is offered for comparison only: its
vertex is biased when the sizes are not placed symmetrically around the optimum or span a wide
range, since the curve is not a parabola there (Porian et al. App. C; Hoffmann et al.'s approach 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from .errors import InputError

REFINE = 25  # interpolation points per gap between runs (Porian et al.)
MIN_STD_GAPS = 0.33  # floor of a budget's log N* spread, in mean gaps between its runs (Porian et al.)
METHODS = ("interpolation", "parabola")


@dataclass(frozen=True)
class IsoFlop:
    """Per-budget optima and the fitted power laws ``N*(C)``, ``D*(C)``.

    ``optima``: one dict per budget: ``C, n_points, status`` ("ok", "edge", "unstable", "too few
    points") and, where ok, ``N, D, loss`` and ``N_log_std, D_log_std``. ``fits``: per quantity
    (``N``, ``D``), ``exponent, coef`` (``q* = coef C^exponent``), ``interval`` (of the exponent)
    and ``budgets`` used."""

    optima: list
    fits: dict
    method: str
    noise: float
    replicates: int
    level: float
    note: str

    def to_dict(self) -> dict:
        return {"method": self.method, "noise": self.noise, "replicates": self.replicates, "level": self.level,
                "optima": self.optima, "fits": self.fits, "note": self.note}


def isoflop(C, N, loss, *, D=None, noise: float, replicates: int = 1000, level: float = 0.9,
            method: str = "interpolation", rng=0, names: Mapping[str, str] | None = None) -> IsoFlop:
    """IsoFLOP optima and the exponents of ``N*(C)`` (and ``D*(C)`` when ``D`` is given); see the
    module docstring. Arrays are one entry per run; ``noise`` is the seed-to-seed standard deviation of
    the loss (Porian et al. use 0.002 on RefinedWeb, 0.01 on OpenWebText2); ``names``: the columns
    behind ``budget, N, D, loss``, for errors."""
    from scipy.interpolate import Akima1DInterpolator  # noqa: F401  (fail early when scipy lacks it)

    from .fit.records import check_level

    names = {"budget": "budget", "N": "N", "D": "D", "loss": "loss", **(names or {})}
    columns = {"budget": C, "N": N, "loss": loss, **({"D": D} if D is not None else {})}
    arrays = {k: _positive(names[k], v) for k, v in columns.items()}
    if arrays["budget"].size == 0:
        raise InputError("isoflop needs runs; the table (after --where) has none")
    sizes = {v.size for v in arrays.values()}
    if len(sizes) != 1:
        raise InputError(f"isoflop columns must have one length each; got {sorted(sizes)}")
    if method not in METHODS:
        raise InputError(f"--method must be one of {', '.join(METHODS)}; got {method!r}")
    if not (math.isfinite(noise) and noise > 0):
        raise InputError(f"--noise must be a finite loss standard deviation > 0 (the seed-to-seed spread of the loss; "
                         f"0 would make every interval a point); got {noise!r}")
    if not (isinstance(replicates, int) and 20 <= replicates <= 100_000):
        raise InputError(f"--replicates must be a whole number from 20 to 100000; got {replicates!r}")
    check_level("--level", level)
    gen = np.random.default_rng(rng)
    along = ["N"] + (["D"] if D is not None else [])
    optima, draws, shared = [], {q: [] for q in along}, 0
    for c in np.unique(arrays["budget"]):
        rows = arrays["budget"] == c
        entry, found_all = {"C": float(c)}, {}
        for q in along:
            x, y, repeated = _lowest_per_size(arrays[q][rows], arrays["loss"][rows])
            shared += repeated if q == "N" else 0
            entry["n_points"] = int(x.size)
            found = _optimum(np.log(x), y, noise, replicates, gen, method)
            if found["status"] != "ok":
                entry = {"C": float(c), "n_points": int(x.size), "status": found["status"]}
                break
            entry.update({q: float(np.exp(found["center"])), f"{q}_log_std": found["std"], "loss": found["loss"],
                          "status": "ok"})
            found_all[q] = found["draws"]
        if entry["status"] == "ok":  # every quantity of the budget found: its draws count
            for q, d in found_all.items():
                draws[q].append(d)
        optima.append(entry)
    fits = {}
    kept = [o for o in optima if o["status"] == "ok"]
    if len(kept) >= 3:
        log_c = np.log([o["C"] for o in kept])
        for q in along:
            log_q = np.log([o[q] for o in kept])
            w = 1.0 / np.array([o[f"{q}_log_std"] for o in kept]) ** 2
            slope, intercept = _weighted_line(log_c, log_q, w)
            m = min(d.size for d in draws[q])  # replicates kept at every budget (Porian et al. truncate so)
            per_rep = np.stack([d[:m] for d in draws[q]], axis=1)  # replicates x budgets, log q*
            slopes = np.array([_weighted_line(log_c, row, w)[0] for row in per_rep])
            tail = (1.0 - level) / 2.0
            lo, hi = np.quantile(slopes, [tail, 1.0 - tail])
            fits[q] = {"exponent": float(slope), "coef": float(np.exp(intercept)),
                       "interval": [float(lo), float(hi)], "budgets": len(kept)}
    notes = []
    if method == "parabola":
        notes.append("parabola vertices are biased when the sizes are not symmetric around the optimum or span a "
                     "wide range; use for comparison only")
    if shared:
        notes.append(f"{shared} runs share a budget and a model size with another run: the lowest loss of each was "
                     "kept (several configurations pooled? select one with --where)")
    note = "; ".join(notes)
    return IsoFlop(optima, fits, method, float(noise), replicates, level, note)


def _optimum(log_x, y, noise, replicates, gen, method) -> dict:
    """The lowest point of one budget's curve and its noise bootstrap (see the module docstring)."""
    if log_x.size < 3:
        return {"status": "too few points"}
    grid = np.linspace(log_x[0], log_x[-1], (log_x.size - 1) * REFINE)
    noisy = y[None, :] + noise * gen.standard_normal((replicates, y.size))
    if np.any(noisy <= 0):
        noisy = np.where(noisy > 0, noisy, y[None, :])  # a noise draw below zero loss: that loss kept
    curves = _curves(log_x, np.log(np.vstack([y, noisy])), grid, method)
    at = np.argmin(curves, axis=1)
    inside = (at > 0) & (at < grid.size - 1)
    if not inside[0]:
        return {"status": "edge"}
    kept = inside[1:]
    if kept.sum() < replicates / 2:
        return {"status": "unstable"}
    draws = grid[at[1:]][kept]  # replicates whose minimum falls on the edge are dropped
    step = grid[1] - grid[0]
    std = max(float(np.std(draws)), MIN_STD_GAPS * REFINE * step) * replicates / kept.sum()
    return {"status": "ok", "center": float(np.median(draws)), "std": std, "loss": float(np.exp(curves[0, at[0]])),
            "draws": draws}


def _curves(log_x, log_y, grid, method) -> np.ndarray:
    """Each row of ``log_y`` against ``log_x``, evaluated on ``grid``."""
    if method == "parabola":
        V = np.vander(log_x, 3)
        coef, *_ = np.linalg.lstsq(V, log_y.T, rcond=None)
        return (np.vander(grid, 3) @ coef).T
    from scipy.interpolate import Akima1DInterpolator

    return Akima1DInterpolator(log_x, log_y, axis=1)(grid)


def _lowest_per_size(x, y):
    """One run per size (the lowest loss), sorted by size, and how many runs were set aside."""
    order = np.lexsort((y, x))
    x, y = x[order], y[order]
    first = np.concatenate([[True], np.diff(x) > 0])
    return x[first], y[first], int((~first).sum())


def _weighted_line(x, y, w):
    A = np.vstack([x, np.ones_like(x)]).T * np.sqrt(w)[:, None]
    (slope, intercept), *_ = np.linalg.lstsq(A, y * np.sqrt(w), rcond=None)
    return slope, intercept


def _positive(name, values) -> np.ndarray:
    raw = np.asarray(values, dtype=object).ravel()
    v = np.array([_as_float(e) for e in raw], dtype=np.float64)
    bad = np.flatnonzero(~(np.isfinite(v) & (v > 0)))
    if bad.size:
        raise InputError(f"isoflop column `{name}` must hold finite positive numbers; row {bad[0] + 1} has "
                         f"{raw[bad[0]].item() if hasattr(raw[bad[0]], 'item') else raw[bad[0]]!r}")
    return v


def _as_float(e) -> float:
    try:
        return float(e)
    except (TypeError, ValueError):
        return math.nan
