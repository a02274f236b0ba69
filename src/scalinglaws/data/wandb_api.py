"""Runs read from a Weights & Biases project through its public API (the ``wandb`` extra).

``DATA`` as ``wandb:ENTITY/PROJECT`` reads one row per run: its name and id, its config (the
hyper-parameters: model size, tokens, batch size, learning rate, as the project logged them) and
its summary (the last logged value of every metric). ``wandb:ENTITY/PROJECT/history`` reads every
logged step of every run instead (``run``, ``step`` and the metrics, with the run's config on each
row), the warm-up checkpoints of each run (by its id: display names need not be unique) flagged
(`checkpoints.flag_warmup`); group by ``run_id`` where names repeat. Config and summary keys that hold
a number, a string or a boolean become columns (nested ones joined by ``.``: ``model.n_params``;
one that repeats a name already taken, such as a config key ``run``, is prefixed ``config.``,
``summary.`` or ``metric.``);
which column is a law's input is said with ``--x`` as for any table (``--x N=model.n_params``).

Credentials are W&B's own: ``WANDB_API_KEY`` or ``wandb login``.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import pandas as pd

from ..errors import InputError, MissingExtraError
from .checkpoints import flag_warmup, warmup_note
from .runs import Runs

PREFIX = "wandb:"
PROJECT = re.compile(r"^[\w.-]+/[\w.-]+$")


def is_wandb(spec: str) -> bool:
    return str(spec).startswith(PREFIX)


def read_wandb(spec: str, *, api: Any = None, excluded: str | None = None) -> Runs:
    """The runs of ``wandb:ENTITY/PROJECT`` (one row each) or ``wandb:ENTITY/PROJECT/history`` (one
    row per logged step). ``api``: an object with W&B's ``Api.runs(path)`` (default: ``wandb.Api()``)."""
    path = str(spec)[len(PREFIX):]
    history = path.endswith("/history")
    project = path[: -len("/history")] if history else path
    if not PROJECT.match(project):
        raise InputError(f"DATA `{spec}` must be wandb:ENTITY/PROJECT or wandb:ENTITY/PROJECT/history")
    api = _api() if api is None else api
    try:
        runs = list(api.runs(project))
    except Exception as exc:  # the client raises its own kinds (communication, permission, not found)
        raise InputError(f"DATA `{spec}`: W&B could not list the project's runs: {' '.join(str(exc).split())}") from None
    if not runs:
        raise InputError(f"DATA `{spec}`: the W&B project has no runs")
    rows = []
    for run in runs:
        meta = {"run": str(run.name), "run_id": str(run.id)}
        config = _prefixed(_scalars(_plain(run.config)), "config.", set(meta) | {"step"})
        if not history:
            rows.append({**meta, **config, **_prefixed(_scalars(_plain(run.summary)), "summary.", set(meta) | set(config))})
            continue
        for logged in run.scan_history():
            values = _scalars(_plain(logged))
            step = values.pop("_step", None)
            metrics = _prefixed({k: v for k, v in values.items() if not k.startswith("_")}, "metric.",
                                set(meta) | set(config) | {"step"})
            rows.append({**meta, **config, "step": step, **metrics})
    if not rows:
        raise InputError(f"DATA `{spec}`: the project's runs logged no history")
    table = pd.DataFrame(rows)
    if history:
        table = flag_warmup(table, run="run_id")  # display names need not be unique; ids are
        return Runs(table, source=f"{spec} (W&B history: {len(runs)} runs; {warmup_note(table)})", excluded=excluded)
    return Runs(table, source=f"{spec} (W&B: {len(runs)} runs)", excluded=excluded)


def _api():
    try:
        import wandb
    except ImportError:
        raise MissingExtraError("reading a W&B project needs the wandb package: pip install 'scalinglaws[wandb]'") from None
    try:
        return wandb.Api()
    except Exception as exc:  # no credentials, or no network
        raise InputError(f"W&B could not be reached (set WANDB_API_KEY or run `wandb login`): "
                         f"{' '.join(str(exc).split())}") from None


def _plain(values) -> dict:
    """A config or summary as a plain dict (W&B's objects behave as mappings; config values may be
    ``{"value": v, "desc": ...}``, as in the files W&B writes)."""
    if hasattr(values, "_json_dict"):
        values = values._json_dict
    out = {}
    for k, v in dict(values or {}).items():
        out[str(k)] = v["value"] if isinstance(v, Mapping) and set(v) <= {"value", "desc"} and "value" in v else v
    return out


def _prefixed(values: dict, prefix: str, taken: set) -> dict:
    """``values`` with ``prefix`` put before each key that is already ``taken`` (a config key named
    ``run`` does not overwrite the run's name)."""
    return {(f"{prefix}{k}" if k in taken else k): v for k, v in values.items()}


def _scalars(values: Mapping, prefix: str = "") -> dict:
    """Numbers, strings and booleans of ``values``, nested mappings flattened with ``.``."""
    out = {}
    for k, v in values.items():
        name = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_scalars(v, f"{name}."))
        elif isinstance(v, (bool, int, float, str)) or v is None:
            out[name] = v
    return out


__all__ = ["PREFIX", "is_wandb", "read_wandb"]
