"""Learning-rate schedules and the areas of Tissue et al. 2024 (arXiv:2408.11029) that `lr_annealing` reads.

For one run with learning rate ``eta_i`` at step ``i``:

- forward area ``S1(s) = sum_{i=1..s} eta_i``;
- annealing area ``S2(s) = sum_{i=1..s} m_i`` with momentum ``m_i = lambda m_{i-1} + (eta_{i-1} - eta_i)``,
  counted from the schedule's peak (a warmup's rising rate would give negative ``m_i``).

A run's rates come from its ``lr`` column (logged at some steps; between them, and from 0 at step 0 up
to the first logged step, the rate is interpolated linearly: a warmup), or from a named schedule in an
``lr_schedule`` column, e.g. ``cosine:peak=3e-4,final=3e-5,total=24000,warmup=2160``. The rows of one
run share its ``run`` column (``run``, ``run_id`` or ``run_name``, of any type) or, without one, the
values of every text column of the table.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..errors import InputError, shown

LAMBDA = 0.999  # momentum of the annealing area, as in the reproductions of Tissue et al.
AREAS = ("S1", "S2")
MAX_STEPS = 10_000_000
RUN_NAMES = ("run", "run_id", "run_name")

SCHEDULES = {  # each schedule's required keys, and its optional ones
    "constant": (("peak",), ("warmup",)),
    "cosine": (("peak", "total"), ("final", "warmup")),
    "wsd": (("peak", "decay_start", "total"), ("final", "decay", "warmup")),
    "step": (("peak", "every"), ("factor", "warmup")),
}
OPTIONAL = {"warmup": 0.0, "final": 0.0, "factor": 0.1, "decay": "linear"}


def schedule_lr(spec: str, steps: np.ndarray) -> np.ndarray:
    """The learning rate of the named schedule ``spec`` (``NAME:key=value,...``) at ``steps``.

    constant (peak), cosine (peak, total, final) from peak to final over total steps, wsd (peak,
    decay_start, total, final, decay=linear|exp) stable until decay_start then decaying to final at
    total, step (peak, every, factor) multiplied by factor every ``every`` steps; each with an optional
    linear ``warmup`` from 0 to peak over that many steps.
    """
    name, values = _parse(spec)
    steps = np.asarray(steps, dtype=np.float64)
    peak, warmup, final = values["peak"], values["warmup"], values.get("final", 0.0)
    if name == "constant":
        lr = np.full(steps.shape, peak)
    elif name == "cosine":
        frac = np.clip((steps - warmup) / max(values["total"] - warmup, 1.0), 0.0, 1.0)
        lr = final + 0.5 * (peak - final) * (1.0 + np.cos(math.pi * frac))
    elif name == "wsd":
        frac = np.clip((steps - values["decay_start"]) / max(values["total"] - values["decay_start"], 1.0), 0.0, 1.0)
        if values["decay"] == "exp":
            lr = peak * np.exp(frac * (math.log(max(final, 1e-300)) - math.log(peak)))
        else:
            lr = peak + frac * (final - peak)
    else:  # step
        lr = peak * values["factor"] ** np.floor(np.maximum(steps - warmup, 0.0) / values["every"])
    return np.where(steps < warmup, peak * steps / max(warmup, 1.0), lr)


def _parse(spec: str) -> tuple[str, dict]:
    where = f"lr_schedule `{spec}`"
    name, _, rest = str(spec).strip().partition(":")
    if name not in SCHEDULES:
        raise InputError(f"{where}: the schedule must be one of {', '.join(SCHEDULES)} (as NAME:key=value,...)")
    required, optional = SCHEDULES[name]
    values = {k: OPTIONAL[k] for k in optional}
    given = set()
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or key not in (*required, *optional):
            raise InputError(f"{where}: `{item}` is not key=value with a key of {name} "
                             f"({', '.join((*required, *optional))})")
        if key in given:
            raise InputError(f"{where}: {key} is given twice")
        given.add(key)
        if key == "decay":
            if value.strip() not in ("linear", "exp"):
                raise InputError(f"{where}: decay must be linear or exp; got {value.strip()!r}")
            values[key] = value.strip()
            continue
        try:
            number = float(value)
        except ValueError:
            raise InputError(f"{where}: {key} must be a number; got {value.strip()!r}") from None
        if not (math.isfinite(number) and number >= 0):
            raise InputError(f"{where}: {key} must be a finite number >= 0; got {number!r}")
        values[key] = number
    missing = [k for k in required if k not in values]
    if missing:
        raise InputError(f"{where}: schedule {name} needs {', '.join(missing)}")
    for rule, broken in (
        ("peak must be positive", not values["peak"] > 0),
        ("final must not exceed peak (a schedule that anneals)", values.get("final", 0.0) > values["peak"]),
        ("warmup must end before total", "total" in values and values["warmup"] >= values["total"]),
        ("decay_start must lie between warmup and total", name == "wsd"
         and not values["warmup"] <= values["decay_start"] < values["total"]),
        ("an exp decay needs final > 0 (it cannot reach 0)", values.get("decay") == "exp" and not values["final"] > 0),
        ("every must be at least 1 step", name == "step" and not values["every"] >= 1),
        ("factor must lie in (0, 1]", name == "step" and not 0 < values["factor"] <= 1),
    ):
        if broken:
            raise InputError(f"{where}: {rule}")
    return name, values


def annealing_areas(step: np.ndarray, lr: np.ndarray, *, lam: float = LAMBDA) -> tuple[np.ndarray, np.ndarray]:
    """``S1`` and ``S2`` at each of one run's ``step`` values, from its learning rate ``lr`` there
    (rows in any order; the rate at the steps in between is interpolated linearly, from 0 at step 0)."""
    step = np.asarray(step, dtype=np.float64)
    lr = np.asarray(lr, dtype=np.float64)
    order = np.argsort(step, kind="stable")
    known_steps, known_lr = step[order], lr[order]
    if known_steps[0] > 0:
        known_steps, known_lr = np.concatenate([[0.0], known_steps]), np.concatenate([[0.0], known_lr])
    eta = np.interp(np.arange(int(known_steps[-1]) + 1), known_steps, known_lr)
    return _areas(eta, lam, step)


def _areas(eta: np.ndarray, lam: float, step: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from scipy.signal import lfilter

    s1 = np.cumsum(eta) - eta[0]  # sum over i = 1..s
    drop = np.concatenate([[0.0], eta[:-1] - eta[1:]])
    drop[: int(np.argmax(eta)) + 1] = 0.0  # annealing counts from the peak
    s2 = np.cumsum(lfilter([1.0], [1.0, -lam], drop))
    index = step.astype(np.int64)
    return s1[index], s2[index]


def with_areas(table: pd.DataFrame, *, step: str, lr: str | None = None, spec: str | None = None,
               lam: float = LAMBDA) -> pd.DataFrame:
    """A copy of ``table`` with columns ``S1`` and ``S2``, computed per run from column ``lr`` or from
    the named schedules of column ``spec``. The table itself is not changed."""
    steps = pd.to_numeric(table[step], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~(np.isfinite(steps) & (steps >= 0) & (steps == np.round(steps)) & (steps <= MAX_STEPS))
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"column `{step}` must hold whole training steps from 0 to {MAX_STEPS:g} (the areas of a "
                         f"learning-rate schedule sum over steps); row {i + 1} has {shown(table[step].iloc[i])}")
    if lr is not None:
        rates = pd.to_numeric(table[lr], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~(np.isfinite(rates) & (rates >= 0))
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(f"column `{lr}` must hold learning rates >= 0; row {i + 1} has {shown(table[lr].iloc[i])}")
    keys = _run_columns(table)
    s1 = np.empty(len(table))
    s2 = np.empty(len(table))
    groups = table.groupby(keys, sort=False, dropna=False).indices if keys else {(): np.arange(len(table))}
    if len(groups) > 1 and all(len(rows) == 1 for rows in groups.values()):
        raise InputError(f"every run has one row: the columns that tell runs apart ({', '.join(keys)}) differ on "
                         "every row, so no run's schedule can be summed; name each run in a `run` column")
    for run, rows in groups.items():
        if len(np.unique(steps[rows])) < len(rows):
            label = run if keys else "the table"
            raise InputError(f"steps repeat within one run ({label}): rows that share the text columns "
                             f"({', '.join(keys) or 'none'}) are one run; add a column naming each run")
        if lr is not None:
            s1[rows], s2[rows] = annealing_areas(steps[rows], rates[rows], lam=lam)
        else:
            specs = table[spec].iloc[rows].unique()
            if len(specs) != 1:
                raise InputError(f"column `{spec}` must name one schedule per run; run {run} has {len(specs)}")
            eta = schedule_lr(specs[0], np.arange(int(steps[rows].max()) + 1))
            s1[rows], s2[rows] = _areas(eta, lam, steps[rows])
    return table.assign(S1=s1, S2=s2)


def describe_runs(table: pd.DataFrame, *, step: str, lr: str | None) -> str:
    """How many runs the areas were summed over and how they were told apart; and a warning when a
    run's rate climbs back after it has annealed (two runs merged into one, or a restart)."""
    keys = _run_columns(table)
    groups = table.groupby(keys, sort=False, dropna=False).indices if keys else {(): np.arange(len(table))}
    text = (f"inputs S1, S2 computed from the learning-rate schedule of each of {len(groups)} run(s) "
            f"({'told apart by ' + ', '.join(keys) if keys else 'the whole table is one run'})")
    if lr is None:
        return text
    for run, rows in groups.items():
        order = rows[np.argsort(table[step].to_numpy()[rows], kind="stable")]
        rate = pd.to_numeric(table[lr].iloc[order], errors="coerce").to_numpy(dtype=np.float64)
        after = rate[int(np.argmax(rate)):]
        low = np.minimum.accumulate(after)
        if np.any(after > low * 1.5 + 1e-300):  # the rate climbs back by half after annealing
            return (f"{text}; warning: in run {run if keys else '(the table)'} the learning rate climbs back after "
                    "annealing: if two runs are merged, name each run in a `run` column")
    return text


def _run_columns(table: pd.DataFrame) -> list[str]:
    """The columns whose values name a run: its ``run`` column, or else every text column."""
    lower = {str(c).lower(): c for c in table.columns}
    named = next((lower[n] for n in RUN_NAMES if n in lower), None)
    if named is not None:
        return [named]
    return [c for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])
            and not pd.api.types.is_bool_dtype(table[c])]

