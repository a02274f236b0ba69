"""Which runs to train next: the small runs that shrink the forecast interval at a target scale the
most per FLOP, chosen from the current fit's bootstrap.

The bootstrap replicates are read as draws of what the law might be. For every candidate run ``c``
(a grid of ``N`` and tokens per parameter within the budget) each replicate gives its forecast
``h_c`` (in the law's residual space, log loss) and its forecast ``g`` at the target. Training ``c``
observes ``h_c`` plus run-to-run noise of variance ``s^2`` (the fit's residuals). Read as jointly
Gaussian (a linear-Gaussian, ensemble-Kalman update), observing ``c`` lowers the variance of ``g`` by

    ``Cov(g, h_c)^2 / (Var(h_c) + s^2)``,

the expected information the run brings about the target. Runs are chosen greedily, each the one
with the largest reduction per FLOP among those the remaining budget affords, and the ensemble's
covariance is conditioned on it before the next choice (so a second run where the first one already
answered the question scores little). The result is the runs, their cost and the interval width
expected after them, beside the width now.

The width here is that of the law's curve at the target over the replicates (parameter
uncertainty); a prediction interval adds run-to-run noise, which no run removes, and the widening for
distance beyond the runs (`FitResult.predict_interval`), which shrinks as runs reach closer to the
target and is not counted here.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from .errors import InputError
from .plan import SIX_N, FlopsRule

TOKENS_PER_PARAM = (2.0, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0)  # the candidate grid's D / N
SIZES = 24  # candidate model sizes, spaced evenly in log N
MAX_RUNS = 200  # runs proposed at most (by default)
MAX_REPEATS = 3  # runs of one configuration at most: repeats average seed noise only, and the noise is
# estimated from the fit's residuals (misfit included), so more would promise more than they give


def propose_runs(fit, budget: float, target: Mapping[str, float], *, flops_per_token: str = SIX_N,
                 level: float = 0.9, tokens_per_param=TOKENS_PER_PARAM, max_runs: int = MAX_RUNS,
                 max_repeats: int = MAX_REPEATS, per_flop: bool = True) -> dict:
    """Propose runs ``(N, D)`` for a budget of ``budget`` FLOPs that shrink the interval at ``target``
    most per FLOP (see the module docstring). ``fit`` must have bootstrap replicates and a law of
    ``N`` and ``D``.

    Returns ``{"runs": [{"N", "D", "C", "width_after"}], "configurations": [{"N", "D", "C", "count"}],
    "spent", "budget", "stopped", "width_now", "width_after", "width_kind", "level", "target"}``;
    widths are of the central ``level`` interval of the law's curve at the target, as the ratio hi / lo
    for a law fitted on log residuals (``width_kind: "ratio"``), hi - lo otherwise. ``stopped`` says
    why the proposal ends: ``"budget"`` (nothing more is affordable), ``"nothing to learn"`` (no
    affordable run lowers the variance by a millionth), or ``"max runs"``. A configuration is
    proposed at most ``max_repeats`` times. ``per_flop=False`` picks by reduction alone (for comparison)."""
    from .fit.records import check_level

    law = fit.law
    if fit.bootstrap is None:
        raise InputError("proposing runs needs a fit with bootstrap replicates (fit --bootstrap B)")
    if not {"N", "D"} <= set(law.inputs) or len(law.inputs) != 2:
        raise InputError(f"proposing runs needs a law of N and D; law {law.name} has inputs {', '.join(law.inputs)}")
    budget = float(budget)
    if not (math.isfinite(budget) and budget > 0):
        raise InputError(f"--budget must be a positive number of FLOPs; got {budget!r}")
    check_level("--level", level)
    if set(target) != {"N", "D"}:
        raise InputError(f"--target must give N and D (and nothing else); got {', '.join(target) or 'nothing'}")
    x_target = {k: np.array([float(target[k])]) for k in ("N", "D")}
    for k, v in x_target.items():
        if not (np.isfinite(v[0]) and v[0] > 0):
            raise InputError(f"--target {k} must be a finite positive number; got {float(v[0])!r}")
    if not (isinstance(max_runs, int) and max_runs >= 1 and isinstance(max_repeats, int) and max_repeats >= 1):
        raise InputError(f"--max-runs and repeats must be whole numbers >= 1; got {max_runs!r}, {max_repeats!r}")
    rule = FlopsRule(flops_per_token)
    N, D = _candidates(fit, budget, rule, tokens_per_param)
    if N.size == 0:
        raise InputError(f"no candidate run fits a budget of {budget:g} FLOPs (the smallest fitted model with 2 "
                         "tokens per parameter costs more)")
    cost = rule.compute(N, D)
    reps = fit.bootstrap.values()
    with np.errstate(all="ignore"):
        h = law.to_space(law.predict({k: v[:, None] for k, v in reps.items()}, {"N": N[None, :], "D": D[None, :]}))
        g = law.to_space(law.predict(reps, {k: np.full(len(next(iter(reps.values()))), v[0]) for k, v in x_target.items()}))
    usable = np.all(np.isfinite(h), axis=0)
    if not usable.any():
        raise InputError("no candidate run has a finite forecast under every replicate")
    if not np.all(np.isfinite(g)):
        raise InputError("the fit's replicates do not all forecast a finite value at the target")
    N, D, cost, h = N[usable], D[usable], cost[usable], h[:, usable]
    noise = float(np.var(fit.bootstrap.residuals)) if fit.bootstrap.residuals else 0.0
    S = np.cov(np.column_stack([g, h]), rowvar=False)  # target first, then the candidates
    z = _z(level)
    width = (lambda var: math.exp(2 * z * math.sqrt(max(var, 0.0)))) if law.space == "log" else (
        lambda var: 2 * z * math.sqrt(max(var, 0.0)))
    chosen, S_end, stopped = _best_design(S, cost, noise, budget, max_runs, max_repeats, per_flop)
    runs, spent, S_run = [], 0.0, S
    for c in chosen:
        S_run = _condition(S_run, c, noise)
        spent += float(cost[c])
        runs.append({"N": float(N[c]), "D": float(D[c]), "C": float(cost[c]), "width_after": width(S_run[0, 0])})
    configurations = [{"N": float(N[c]), "D": float(D[c]), "C": float(cost[c]), "count": chosen.count(c)}
                      for c in dict.fromkeys(chosen)]
    return {"runs": runs, "configurations": configurations, "spent": spent, "budget": budget, "stopped": stopped,
            "target": {k: float(v[0]) for k, v in x_target.items()},
            "width_now": width(S[0, 0]), "width_after": width(S_end[0, 0]) if runs else None,
            "width_kind": "ratio" if law.space == "log" else "difference",
            "level": level, "noise_variance": noise, "replicates": int(g.size)}


def _condition(S, c, noise):
    """The ensemble covariance after observing candidate ``c`` (column ``c + 1``) with noise."""
    col = S[:, c + 1]
    return S - np.outer(col, col) / (col[c + 1] + noise)


def _greedy(S, cost, noise, budget, max_runs, max_repeats, per_flop, first=None):
    """Runs chosen one at a time, each with the largest variance reduction at the target (per FLOP)
    among those the remaining budget affords and not yet run ``max_repeats`` times; ``first`` forces
    the first choice. Returns the choices, the covariance after them, and why the choosing stopped."""
    chosen, spent, times = [], 0.0, np.zeros(cost.size, dtype=int)
    while True:
        if len(chosen) >= max_runs:
            return chosen, S, "max runs"
        affordable = (cost <= budget - spent) & (times < max_repeats)
        if not affordable.any():
            return chosen, S, "budget"
        gain = S[0, 1:] ** 2 / (np.diag(S)[1:] + noise)
        if first is not None and not chosen:
            c = first
        else:
            c = int(np.argmax(np.where(affordable, gain / cost if per_flop else gain, -np.inf)))
        if not gain[c] > 1e-6 * S[0, 0]:
            return chosen, S, "nothing to learn"
        S = _condition(S, c, noise)
        spent += float(cost[c])
        times[c] += 1
        chosen.append(c)


def _best_design(S, cost, noise, budget, max_runs, max_repeats, per_flop, starts: int = 24):
    """Greedy per FLOP is a knapsack heuristic that lumpy costs fool (many cheap runs crowd out one
    informative large one): the greedy design is also started from each of the ``starts`` runs of
    largest single gain and of largest gain per FLOP, and the design ending with the least variance
    at the target is kept (partial enumeration, as for the knapsack problem)."""
    best = _greedy(S, cost, noise, budget, max_runs, max_repeats, per_flop)
    if not per_flop:
        return best
    gain = S[0, 1:] ** 2 / (np.diag(S)[1:] + noise)
    affordable = np.flatnonzero(cost <= budget)
    firsts = set(affordable[np.argsort(-gain[affordable])[:starts]]) | set(
        affordable[np.argsort(-(gain / cost)[affordable])[:starts]])
    for c in sorted(firsts):
        trial = _greedy(S, cost, noise, budget, max_runs, max_repeats, per_flop, first=int(c))
        if trial[1][0, 0] < best[1][0, 0]:
            best = trial
    return best


def _candidates(fit, budget, rule, ratios):
    """A grid of runs from the smallest fitted model up to the largest the budget affords."""
    n_lo = fit.x_range["N"][0]
    probe = np.geomspace(n_lo, max(n_lo, 1e16), 4000)
    fits = rule.compute(probe, min(ratios) * probe) <= budget  # the largest model the budget affords at all
    n_hi = float(probe[fits][-1]) if fits.any() else n_lo
    N_grid = np.geomspace(n_lo, n_hi, SIZES)
    N, D = (a.ravel() for a in np.meshgrid(N_grid, np.asarray(ratios, dtype=np.float64), indexing="ij"))
    D = D * N
    keep = rule.compute(N, D) <= budget
    return N[keep], D[keep]


def _z(level: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(0.5 + level / 2.0))
