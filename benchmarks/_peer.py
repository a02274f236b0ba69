"""Side-by-side runs of the peer package ``simple-scaling-laws`` (0.2.0), from our Python.

The peer needs Python >= 3.12 and our environment is 3.11, so nothing here imports it: every call
writes its inputs (CSV tables in the peer's column convention plus a JSON manifest) to a temporary
directory and runs ``_peer_worker.py`` once under a Python 3.12 that has the peer, which writes JSON
back. Importing this module needs only the standard library, numpy and pandas.

Where the peer lives: ``SCALINGLAWS_PEER_PYTHON`` may name a python (tried as is, then with
``PYTHONPATH`` set to the peer directory); then ``/root/.pyenv/versions/3.12.1/bin/python3.12``
and ``python3.12`` on PATH, each with ``PYTHONPATH`` set to the peer directory
(``SCALINGLAWS_PEER_PATH``, default ``/tmp/peer312``, a ``pip install --target`` tree).

Law mapping (both are the peer's ``separable-power``):

* ``"chinchilla"``: ``E + A N^-alpha + B D^-beta``; runs have columns ``N, D, loss``;
* ``"power_law_offset"``: ``E + a x^-b``; runs have columns ``x, loss``.

The peer's columns: ``training_run_id``, ``model_size__params`` (N, or x), ``dataset_size__tokens``
(D) and ``train_loss__loss``. Every row is its own training run; rows that share all predictor
values are what the peer treats as replicate runs of one configuration.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
WORKER = HERE / "_peer_worker.py"
REPO = HERE.parent
CHINCHILLA_CSV = REPO / "src" / "scalinglaws" / "data" / "bundled" / "chinchilla" / "chinchilla.csv"
DEFAULT_PEER_PATH = "/tmp/peer312"
DEFAULT_PYTHON = "/root/.pyenv/versions/3.12.1/bin/python3.12"
PEER_LAW = "separable-power"
TARGET = "train_loss__loss"
PREDICTORS = {
    "chinchilla": {"N": "model_size__params", "D": "dataset_size__tokens"},
    "power_law_offset": {"x": "model_size__params"},
}
_PROBE = (
    "import sys, importlib.util, importlib.metadata as m\n"
    "assert sys.version_info >= (3, 12), sys.version\n"
    "assert importlib.util.find_spec('simple_scaling_laws') is not None, 'no simple_scaling_laws'\n"
    "print(m.version('simple-scaling-laws'))"
)


class PeerUnavailable(RuntimeError):
    """No Python >= 3.12 with ``simple_scaling_laws`` could be found."""


class PeerError(RuntimeError):
    """The peer worker ran but failed."""


def _candidates() -> list[list[str]]:
    peer_path = os.environ.get("SCALINGLAWS_PEER_PATH", DEFAULT_PEER_PATH)
    with_path = ["env", f"PYTHONPATH={peer_path}"]
    out: list[list[str]] = []
    named = os.environ.get("SCALINGLAWS_PEER_PYTHON")
    if named:
        out += [[named], [*with_path, named]]
    out.append([*with_path, DEFAULT_PYTHON])
    on_path = shutil.which("python3.12")
    if on_path:
        out += [[*with_path, on_path], [on_path]]
    return out


@functools.lru_cache(maxsize=1)
def peer_status() -> tuple[tuple[str, ...] | None, str]:
    """``(command prefix, description)`` of the first working candidate, or ``(None, why not)``.

    Each probe checks for Python >= 3.12 and finds (without importing) ``simple_scaling_laws``, so it
    is quick; it never raises. The result is cached for the process.
    """
    reasons = []
    for prefix in _candidates():
        exe = prefix[-1]
        if os.sep in exe and not os.access(exe, os.X_OK):
            reasons.append(f"{exe}: not found")
            continue
        try:
            probe = subprocess.run(
                [*prefix, "-c", _PROBE], check=False, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
            )
        except (OSError, subprocess.SubprocessError) as exc:
            reasons.append(f"{' '.join(prefix)}: {type(exc).__name__}")
            continue
        if probe.returncode == 0:
            return tuple(prefix), f"simple-scaling-laws {probe.stdout.strip()} via {' '.join(prefix)}"
        lines = probe.stderr.strip().splitlines() or [f"exit status {probe.returncode}"]
        line = lines[-1] if lines[0].startswith("Traceback") else lines[0]  # a shim's first line says it
        reasons.append(f"{' '.join(prefix)}: {line[:120]}")
    return None, "no Python >= 3.12 with simple_scaling_laws (" + "; ".join(dict.fromkeys(reasons)) + ")"


def find_peer() -> list[str] | None:
    """The command prefix that runs a Python >= 3.12 with the peer importable, or ``None``.

    For example ``["env", "PYTHONPATH=/tmp/peer312", "/root/.pyenv/versions/3.12.1/bin/python3.12"]``;
    append a script path or ``-c CODE``. Never raises; ``peer_status()`` says why when it is ``None``.
    """
    prefix, _ = peer_status()
    return list(prefix) if prefix is not None else None


def _require_peer() -> list[str]:
    prefix, why = peer_status()
    if prefix is None:
        raise PeerUnavailable(why)
    return list(prefix)


def _run_worker(manifest: dict[str, Any], tmp: Path, timeout: float | None) -> dict[str, Any]:
    manifest = {**manifest, "output": str(tmp / "result.json")}
    path = tmp / "manifest.json"
    path.write_text(json.dumps(manifest))
    proc = subprocess.run(
        [*_require_peer(), str(WORKER), str(path)],
        check=False, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0:
        raise PeerError(f"peer worker failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads((tmp / "result.json").read_text())


def to_peer_frame(runs: pd.DataFrame, law: str) -> pd.DataFrame:
    """Our runs table (``N, D, loss`` or ``x, loss``) in the peer's column convention, one run a row."""
    mapping = PREDICTORS[law]
    out = pd.DataFrame({"training_run_id": [f"run{i:05d}" for i in range(len(runs))]})
    for ours, theirs in mapping.items():
        out[theirs] = np.asarray(runs[ours], dtype=float)
    out[TARGET] = np.asarray(runs["loss"], dtype=float)
    return out


def _points_frame(points: Any, law: str) -> pd.DataFrame:
    points = pd.DataFrame(points)
    return pd.DataFrame({theirs: np.asarray(points[ours], dtype=float).ravel()
                         for ours, theirs in PREDICTORS[law].items()})


def _write_csv(frame: pd.DataFrame, path: Path) -> str:
    frame.to_csv(path, index=False, float_format="%.17g")
    return str(path)


def peer_intervals(
    datasets: list[dict[str, Any]],
    levels: tuple[float, ...] | list[float] = (0.8, 0.9, 0.95),
    n_draws: int = 300,
    seed: int = 0,
    timeout: float | None = None,
) -> list[dict[str, Any]]:
    """Fit the peer to each dataset and return its forecasts and intervals at the query points.

    Args:
        datasets: Each ``{"law": "chinchilla" | "power_law_offset", "runs": DataFrame (N, D, loss or
            x, loss), "points": DataFrame or mapping of the same predictor columns}``.
        levels: Central interval levels, e.g. ``0.9``.
        n_draws: Bootstrap draws for the peer's default method (its wild cluster bootstrap).
        seed: The peer's seed (fixed, so a call is reproducible).
        timeout: Seconds for the single worker process, or ``None``.

    Returns:
        One dict per dataset, in order:

        * ``"y"``: the peer's point forecast (its fitted law at its point estimate), one per point;
        * ``"intervals"``: ``{level: [[lo, hi], ...]}``, the peer's ``kind="new-run"`` interval, a
          *prediction* interval for one newly trained run (parameter draws plus run-to-run noise);
        * ``"kind"``: ``"prediction"``;
        * ``"mean_intervals"``: the same for the peer's ``kind="mean"`` (the expected curve only);
        * ``"median"``: median of the new-run draws; ``"params_raw_scale"``, ``"run_sd"``,
          ``"run_sd_source"``, ``"uncertainty_method"``, ``"n_failed_draws"``,
          ``"n_configurations"``, ``"extrapolation_distance"``, ``"notes"`` (the peer's warning
          codes), ``"seconds"`` (the peer's fit-and-predict time for the dataset);
        * ``"error"`` (and ``y``/``intervals`` ``None``) if the peer failed on that dataset.

    Raises:
        PeerUnavailable: No Python 3.12 with the peer. PeerError: The worker process failed.
    """
    levels = [float(level) for level in levels]
    with tempfile.TemporaryDirectory(prefix="peer_") as name:
        tmp = Path(name)
        specs = []
        for i, data in enumerate(datasets):
            law = data["law"]
            if law not in PREDICTORS:
                raise ValueError(f"law must be one of {sorted(PREDICTORS)}, got {law!r}")
            specs.append({
                "runs": _write_csv(to_peer_frame(data["runs"], law), tmp / f"runs{i}.csv"),
                "points": _write_csv(_points_frame(data["points"], law), tmp / f"points{i}.csv"),
                "predictors": list(PREDICTORS[law].values()),
                "target": TARGET,
            })
        out = _run_worker(
            {"task": "intervals", "datasets": specs, "levels": levels, "law": PEER_LAW,
             "n_draws": int(n_draws), "seed": int(seed)},
            tmp, timeout,
        )
    results = []
    for result in out["results"]:
        if "error" in result:
            results.append({**result, "y": None, "intervals": None, "kind": "prediction"})
            continue
        for key in ("intervals", "mean_intervals"):
            result[key] = {level: result[key][repr(level)] for level in levels}
        results.append({**result, "kind": "prediction"})
    return results


def peer_forecasts(
    jobs: list[tuple[pd.DataFrame, Any, str]],
    level: float = 0.9,
    n_draws: int = 300,
    seed: int = 0,
    timeout: float | None = None,
) -> list[dict[str, Any]]:
    """Batched backtest forecasts: ``jobs`` is a list of ``(runs_train, points, law)``.

    Returns one ``{"y": array, "lo": array, "hi": array, "kind": "prediction"}`` per job (point
    forecast and the central ``level`` new-run prediction interval at each point), or
    ``{"error": str}`` for a job the peer failed on. All jobs run in one worker process.
    """
    results = peer_intervals(
        [{"law": law, "runs": runs, "points": points} for runs, points, law in jobs],
        levels=(level,), n_draws=n_draws, seed=seed, timeout=timeout,
    )
    out = []
    for result in results:
        if result.get("error"):
            out.append({"error": result["error"]})
            continue
        band = np.asarray(result["intervals"][float(level)], dtype=float).reshape(-1, 2)
        out.append({"y": np.asarray(result["y"]), "lo": band[:, 0], "hi": band[:, 1], "kind": "prediction"})
    return out


def peer_forecast(runs_train: pd.DataFrame, points: Any, law: str, level: float = 0.9,
                  n_draws: int = 300, seed: int = 0) -> dict[str, Any]:
    """One backtest forecast; see :func:`peer_forecasts` (prefer that for many, one process)."""
    return peer_forecasts([(runs_train, points, law)], level=level, n_draws=n_draws, seed=seed)[0]


def _chinchilla_runs(path: str | Path = CHINCHILLA_CSV) -> pd.DataFrame:
    table = pd.read_csv(path)
    if "excluded" in table.columns:
        excluded = table["excluded"]
        if excluded.dtype != bool:
            excluded = excluded.astype(str).str.strip().str.lower().isin(("true", "1"))
        table = table[~excluded]
    return table.reset_index(drop=True)


def _peer_schema_csv(path: str | Path, tmp: Path) -> Path:
    """A CSV in the peer's convention from ours (``N, D, loss[, excluded]``) or from a peer-style one."""
    table = _chinchilla_runs(path)
    if {"N", "D", "loss"} <= set(table.columns):
        table = to_peer_frame(table, "chinchilla")
    return Path(_write_csv(table, tmp / "runs.csv"))


def peer_cli_seconds(csv_or_parquet_path: str | Path = CHINCHILLA_CSV, draws: int = 1000,
                     repeats: int = 1, timeout: float | None = 600) -> float:
    """Wall time of the cold peer CLI, process start to exit (median of ``repeats`` runs):
    ``scaling-laws fit runs.parquet --law separable-power --draws 1000 -o DIR``.

    ``csv_or_parquet_path`` is a parquet already in the peer's convention, or a CSV either in the
    peer's convention or in ours (``N, D, loss`` and optional ``excluded``, whose ``True`` rows are
    dropped: 240 of the bundled Chinchilla rows remain), converted to ``runs.parquet`` first (by the
    peer's own polars, in an untimed process, which also warms the file cache).
    """
    prefix = _require_peer()
    with tempfile.TemporaryDirectory(prefix="peer_cli_") as name:
        tmp = Path(name)
        source = Path(csv_or_parquet_path)
        if source.suffix.lower() in (".parquet", ".pq"):
            parquet = source
        else:
            parquet = tmp / "runs.parquet"
            _run_worker({"task": "to_parquet", "source": str(_peer_schema_csv(source, tmp)),
                         "dest": str(parquet)}, tmp, timeout)
        cmd = [*prefix, "-c", "import sys; from simple_scaling_laws.cli import main; sys.exit(main())",
               "fit", str(parquet), "--law", PEER_LAW, "--draws", str(draws)]
        times = []
        for i in range(max(1, repeats)):
            t = time.perf_counter()
            proc = subprocess.run([*cmd, "-o", str(tmp / f"out{i}.slaw")], check=False, capture_output=True,
                                  text=True, timeout=timeout, stdin=subprocess.DEVNULL)
            times.append(time.perf_counter() - t)
            if proc.returncode != 0:
                raise PeerError(f"peer CLI failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return sorted(times)[len(times) // 2]


def peer_inprocess_seconds(csv_path: str | Path = CHINCHILLA_CSV, draws: int = 1000, seed: int = 0,
                           timeout: float | None = 600) -> dict[str, Any]:
    """The peer's in-process ``fit(..., law="separable-power", n_draws=draws)`` on the Chinchilla runs.

    Timed inside the 3.12 process after its imports: ``first_s`` is the first call (the untimed
    warm-up of the brief, timed anyway), ``warm_s`` the second call. Also returns ``import_s`` (the
    worker's import of numpy, polars and the peer), ``n_runs``, the peer's ``params`` (normalized
    predictors) and ``uncertainty_method``.
    """
    with tempfile.TemporaryDirectory(prefix="peer_fit_") as name:
        tmp = Path(name)
        out = _run_worker({"task": "inprocess", "runs": str(_peer_schema_csv(csv_path, tmp)), "law": PEER_LAW,
                           "n_draws": int(draws), "seed": int(seed)}, tmp, timeout)
    return {key: out[key] for key in
            ("first_s", "warm_s", "import_s", "n_runs", "params", "uncertainty_method", "peer_version", "python")}
