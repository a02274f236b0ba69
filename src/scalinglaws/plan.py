"""Compute-optimal allocation: the ``N`` and ``D`` that minimise a fitted ``L(N, D)`` at budget ``C``,
with a bootstrap interval (the plan made again for every replicate) and the distance from the runs.

Training compute is ``C = D f(N)``: ``f`` the FLOPs per token, ``6 N`` by default (Kaplan et al.
2020; Hoffmann et al. 2022). Porian et al. 2024 (arXiv:2406.19146) trace part of the disagreement
between published optima to what ``f`` counts (the last layer, attention): give your own, e.g.
``6*N + 6*2048*(N/12)^(2/3)/16`` for attention over 2048-token contexts in a model whose width is
16 times its depth (N = 12 layers width^2).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from .errors import FitError, InputError
from .laws import Law, get_law
from .laws.formula import parse_expression

SIX_N = "6*N"
GRID = 512  # points of log N per budget before the golden-section refinement
GOLDEN_STEPS = 64  # each step keeps 0.618 of the bracket: 2 grid steps shrink below 1e-12 in log N,
# far below the flatness of a loss minimum (which limits the answer to about 1e-7)


@dataclass(frozen=True)
class FlopsRule:
    """Training FLOPs ``C = D f(N)`` with ``f`` the FLOPs per token, an expression of ``N``."""

    per_token_text: str = SIX_N

    def __post_init__(self):
        N = np.geomspace(1.0, 1e15, 61)
        f = self.per_token(N)
        if not (np.all(np.isfinite(f)) and np.all(f > 0) and np.all(np.diff(f) > 0)):
            raise InputError(f"--flops-per-token must be positive and grow with N for N from 1 to 1e15; "
                             f"`{self.per_token_text}` does not")

    @property
    def six_n(self) -> bool:
        return "".join(self.per_token_text.split()) == SIX_N

    def per_token(self, N) -> np.ndarray:
        N = np.asarray(N, dtype=np.float64)
        if self.six_n:
            return 6.0 * N
        return np.asarray(_expression(self.per_token_text)({"N": N}), dtype=np.float64) * np.ones_like(N)

    def tokens(self, N, C) -> np.ndarray:
        return np.asarray(C, dtype=np.float64) / self.per_token(N)

    def compute(self, N, D) -> np.ndarray:
        return np.asarray(D, dtype=np.float64) * self.per_token(N)


@functools.lru_cache(maxsize=32)
def _expression(text: str) -> Callable:
    """The checked expression, parsed once per text (the minimisers evaluate it at every step)."""
    return parse_expression(text, ("N",), "--flops-per-token")


def chinchilla_optimum(p: Mapping[str, np.ndarray], C) -> np.ndarray:
    """Hoffmann et al. (2022), eq. (4) under ``C = 6 N D``: ``N_opt = G (C/6)^(beta/(alpha+beta))``,
    ``G = (alpha A / (beta B))^(1/(alpha+beta))``."""
    alpha, beta = np.asarray(p["alpha"]), np.asarray(p["beta"])
    G = (alpha * np.asarray(p["A"]) / (beta * np.asarray(p["B"]))) ** (1.0 / (alpha + beta))
    return G * (np.asarray(C) / 6.0) ** (beta / (alpha + beta))


CLOSED_FORMS = {"chinchilla": chinchilla_optimum}  # law name -> N_opt(params, C) under C = 6 N D


class Plans(list):
    """`compute_optimal`'s list of plans (one dict per budget), shown in Jupyter as a table and a figure."""

    def _repr_html_(self) -> str:
        from .report.notebook import plans_html  # Jupyter's display hook: drawn by the layer that draws

        return plans_html(self)


def compute_optimal(fit_or_law, compute, *, params: Mapping[str, float] | None = None,
                    flops_per_token: str = SIX_N, hold: Mapping[str, float] | None = None,
                    level: float = 0.9) -> Plans:
    """For each budget ``C``, the loss-minimising ``N`` and ``D`` with ``C = D f(N)``.

    Args:
        fit_or_law: a `FitResult`, or a law (name or `Law`) together with ``params``.
        compute: one budget or a sequence of budgets, in FLOP.
        flops_per_token: ``f(N)``, an expression of ``N`` (default ``6*N``).
        hold: values of the law's inputs other than ``N`` and ``D`` (``U``, the unique tokens of
            ``data_constrained``), held fixed along the budget's curve.
        level: of the intervals, for a fit with bootstrap replicates.

    Returns:
        One dict per budget: ``C, N, D, loss, tokens_per_param, method`` ("closed form" or
        "numeric"); ``epochs`` (``D / U``) when ``U`` is held; from a fit, ``decades_beyond`` (per input, log10 of how far the plan lies
        outside the fitted runs, 0 inside); from a bootstrapped fit, ``interval``: ``N, D,
        tokens_per_param`` (percentiles of the plan made again for every replicate), ``loss`` (the
        prediction interval of a run at the planned ``N, D``, as `FitResult.predict_interval` gives
        it, or None with ``loss_note`` where it cannot be given), ``level`` and ``replicates``.

    The loss is the fit's forecast (for ``--law auto`` with rivals, their weighted average), so a
    plan and a prediction at its ``N`` and ``D`` agree. ``chinchilla`` under ``6 N`` has a closed form;
    otherwise the minimum over ``log N`` is bracketed on a grid from ``N = 1`` to ``D = 1`` and
    refined by golden section, so any law with inputs ``N`` and ``D`` works.
    """
    law, values = _law_and_params(fit_or_law, params)
    is_fit = hasattr(fit_or_law, "forecast")
    rule = FlopsRule(flops_per_token)
    held = _held(law, hold)
    budgets = _budgets(compute, rule)
    averaged = is_fit and is_averaged(fit_or_law)

    def forecast(N, D):
        x = {"N": N, "D": D, **{k: np.full(np.shape(N), v) for k, v in held.items()}}
        return fit_or_law.forecast(x) if is_fit else law.predict(values, x)

    closed = CLOSED_FORMS.get(law.name) if rule.six_n and not averaged else None
    if closed is not None:
        N = np.asarray(closed(values, budgets), dtype=np.float64)
        edge = ~((N >= 1.0) & (rule.tokens(N, budgets) >= 1.0))
    else:
        N, edge = _minimise(lambda n, d: forecast(n, d), budgets[None, :], rule)
        N, edge = N[0], edge[0]
    if edge.any():
        raise InputError(f"law {law.name} with these parameters has no optimum inside N >= 1, D >= 1 at budget "
                         f"{budgets[edge][0]:g}: its loss keeps falling toward N = 1 or D = 1 there")
    D = rule.tokens(N, budgets)
    loss = np.asarray(forecast(N, D), dtype=np.float64)
    plans = [{"C": float(c), "N": float(n), "D": float(d), "loss": float(v), "tokens_per_param": float(d / n),
              "method": "closed form" if closed is not None else "numeric"}
             for c, n, d, v in zip(budgets, N, D, loss)]
    if "U" in held:  # data-constrained: the epochs the plan trains over the unique tokens
        for p in plans:
            p["epochs"] = p["D"] / held["U"]
    if not is_fit:
        return Plans(plans)
    fit = fit_or_law
    x = {"N": N, "D": D, **{k: np.full(N.shape, v) for k, v in held.items()}}
    _, decades = fit.extrapolation(x)
    for i, p in enumerate(plans):
        p["decades_beyond"] = {k: float(decades[k][i]) for k in ("N", "D")}
    if fit.bootstrap is not None:
        for p, interval in zip(plans, _intervals(fit, law, budgets, rule, held, x, level, averaged)):
            p["interval"] = interval
    return Plans(plans)


def is_averaged(fit) -> bool:
    """A ``--law auto`` fit whose forecasts average the chosen law with rivals: its bootstrap holds
    the chosen law's replicates only, so they cannot say how uncertain the average is."""
    return fit.selection is not None and len(fit.selection.weights()) > 1


AVERAGED_NOTE = ("the forecast averages laws (--law auto with rivals) while the bootstrap holds the chosen law's "
                 "replicates only; fit one law (--law NAME) for this interval")


def optimal_exponents(fit_or_law, *, params: Mapping[str, float] | None = None, level: float = 0.9) -> dict | None:
    """``N_opt ∝ C^a`` and ``D_opt ∝ C^b`` of ``chinchilla`` (``a = beta/(alpha+beta)``, ``b = 1 - a``),
    with percentile intervals over bootstrap replicates where the fit has them; None for other laws."""
    law, values = _law_and_params(fit_or_law, params)
    if law.name not in CLOSED_FORMS or (hasattr(fit_or_law, "selection") and is_averaged(fit_or_law)):
        return None
    a = float(values["beta"] / (values["alpha"] + values["beta"]))
    out = {"a": a, "b": 1.0 - a}
    boot = getattr(fit_or_law, "bootstrap", None)
    if boot is not None:
        lo, hi = boot.interval(lambda p: p["beta"] / (p["alpha"] + p["beta"]), level)
        out["interval"] = {"a": [lo, hi], "b": [1.0 - hi, 1.0 - lo], "level": level}
    return out


def _intervals(fit, law: Law, budgets, rule: FlopsRule, held, x, level, averaged) -> list[dict]:
    """Per budget: the percentile interval of the plan made again for every replicate (``N, D,
    tokens_per_param``: parameter uncertainty only) and the prediction interval of the loss there."""
    from .fit.records import check_level

    check_level("--level", level)
    try:
        loss_lo, loss_hi = fit.predict_interval(x, level)
        note = None
    except FitError as exc:
        loss_lo = loss_hi = None
        note = str(exc)
    reps = fit.bootstrap.values()
    n_rep = len(next(iter(reps.values())))
    closed = CLOSED_FORMS.get(law.name) if rule.six_n else None
    tail = (1.0 - level) / 2.0
    out = []
    for i, c in enumerate(budgets):  # one budget at a time: replicates x grid, never x budgets too
        interval = {"level": level, "replicates": n_rep, "parameters_only": ["N", "D", "tokens_per_param"]}
        if averaged:
            interval.update({"N": None, "D": None, "tokens_per_param": None, "note": AVERAGED_NOTE})
        else:
            C = np.full(n_rep, c)
            if closed is not None:
                N = closed(reps, C)
                edge = ~((N >= 1.0) & (rule.tokens(N, C) >= 1.0))
            else:
                N, edge = _minimise(lambda n, d: _replicate_loss(law, reps, held, n, d), C, rule)
            N = np.where(edge, np.nan, N)
            D = rule.tokens(N, C)
            for k, v in (("N", N), ("D", D), ("tokens_per_param", D / N)):
                lo, hi = np.nanquantile(v, [tail, 1.0 - tail]) if np.isfinite(v).any() else (np.nan, np.nan)
                interval[k] = [float(lo), float(hi)] if np.isfinite(lo) else None
            interval["no_optimum"] = float(np.mean(edge))  # replicates whose loss keeps falling to N or D = 1
        interval["loss"] = None if loss_lo is None else [float(loss_lo[i]), float(loss_hi[i])]
        if note:
            interval["loss_note"] = note
        out.append(interval)
    return out


def _replicate_loss(law: Law, reps, held, N, D):
    """Every replicate's loss at ``N, D`` whose leading axis is the replicates."""
    z = {"N": N, "D": D, **{k: np.full(np.shape(N), v) for k, v in held.items()}}
    with np.errstate(all="ignore"):
        return law.predict({k: v.reshape(v.shape + (1,) * (np.ndim(N) - 1)) for k, v in reps.items()}, z)


def _minimise(loss: Callable, C: np.ndarray, rule: FlopsRule) -> tuple[np.ndarray, np.ndarray]:
    """``N`` minimising ``loss(N, D(N, C))`` for every entry of ``C`` (any shape), over ``log N`` from
    0 to where ``D = 1``, all entries at once; and where no minimum lies inside (`argmin`)."""
    C = np.asarray(C, dtype=np.float64)
    top = np.log(C / rule.per_token(1.0))  # N with f(N) = C/1 is below C / f(1) for f growing faster than N

    def objective(log_n):
        N = np.exp(log_n)
        D = rule.tokens(N, C[..., None] if log_n.ndim > C.ndim else C)
        with np.errstate(all="ignore"):
            v = np.asarray(loss(N, D), dtype=np.float64)
        return np.where(np.isfinite(v) & (D >= 1.0), v, np.inf)

    log_n, edge = argmin(objective, np.zeros_like(C), top)
    return np.exp(log_n), edge


def argmin(objective: Callable, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Elementwise minimiser of ``objective`` over ``[lo, hi]`` (arrays of one shape): a grid of
    `GRID` points brackets the minimum, golden section refines it (to the flatness of the minimum:
    about 1e-7 relative in the argument for a loss near 2). ``objective`` maps an array of the
    shape of ``lo`` (or with one more axis, the grid) to values there (inf where undefined).

    Returns the minimiser and ``edge``: True where there is none inside (the lowest grid value is an
    end of the range, or no value is finite); the minimiser is NaN there."""
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    grid = lo[..., None] + np.linspace(0.0, 1.0, GRID) * (hi - lo)[..., None]
    values = objective(grid)
    i = np.argmin(values, axis=-1)
    edge = (i == 0) | (i == GRID - 1) | ~np.isfinite(values).any(axis=-1)
    i = np.clip(i, 1, GRID - 2)[..., None]
    lo = np.take_along_axis(grid, i - 1, axis=-1)[..., 0]
    hi = np.take_along_axis(grid, i + 1, axis=-1)[..., 0]
    r = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = hi - r * (hi - lo), lo + r * (hi - lo)
    fa, fb = objective(a), objective(b)
    for _ in range(GOLDEN_STEPS):
        left = fa <= fb  # the minimum lies in [lo, b]
        hi, lo = np.where(left, b, hi), np.where(left, lo, a)
        b, a = np.where(left, a, lo + r * (hi - lo)), np.where(left, hi - r * (hi - lo), b)
        fnew = objective(np.where(left, a, b))
        fa, fb = np.where(left, fnew, fb), np.where(left, fa, fnew)
    return np.where(edge, np.nan, (lo + hi) / 2.0), edge


def _budgets(compute, rule: FlopsRule) -> np.ndarray:
    budgets = np.atleast_1d(np.asarray(compute, dtype=np.float64))
    least = float(rule.per_token(1.0))  # one token through a model of one parameter
    if budgets.ndim != 1 or budgets.size == 0 or not np.all(np.isfinite(budgets) & (budgets > least)):
        raise InputError(f"--compute must be finite budgets above {least:g} FLOP (one token through one parameter "
                         f"under f(N) = {rule.per_token_text}); got {budgets.tolist()}")
    return budgets


def _held(law: Law, hold: Mapping[str, float] | None) -> dict[str, float]:
    hold = dict(hold or {})
    if law.y_range is not None:
        raise InputError(f"compute-optimal planning minimises a loss; law {law.name} forecasts a bounded metric "
                         f"(range {list(law.y_range)}), which a plan would not minimise")
    if not {"N", "D"} <= set(law.inputs):
        raise InputError(f"compute-optimal planning needs a law of N and D; law {law.name} has inputs "
                         f"{', '.join(law.inputs)}")
    others = [k for k in law.inputs if k not in ("N", "D")]
    missing = [k for k in others if k not in hold]
    if missing:
        raise InputError(f"law {law.name} also takes {', '.join(others)}: hold {missing[0]} fixed along the "
                         f"budget's curve with --hold {missing[0]}=VALUE")
    extra = [k for k in hold if k not in others]
    if extra:
        raise InputError(f"--hold names `{extra[0]}`, which is not an input of law {law.name} other than N and D "
                         f"({', '.join(others) or 'it has none'})")
    for k, v in hold.items():
        if not (math.isfinite(v) and (v > 0 or k not in law.log_inputs)):
            raise InputError(f"--hold {k} must be finite{' and positive' if k in law.log_inputs else ''}; got {v!r}")
    return hold


def _law_and_params(fit_or_law, params) -> tuple[Law, dict]:
    if hasattr(fit_or_law, "law") and hasattr(fit_or_law, "params"):
        return fit_or_law.law, dict(fit_or_law.params)
    law = get_law(fit_or_law)
    if params is None:
        raise InputError(f"planning with law {law.name} needs its parameters (--params K=V,...)")
    return law, law.checked_params(params, "--params")
