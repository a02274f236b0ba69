"""Worker for ``_peer.py``: runs under Python >= 3.12 with ``simple-scaling-laws`` importable.

Not imported by our package or tests. ``_peer.py`` starts it once per batch as
``PYTHON _peer_worker.py MANIFEST.json`` and reads the JSON it writes to ``manifest["output"]``.

The manifest holds one ``task``:

* ``"intervals"``: ``datasets`` is a list of ``{"runs": CSV, "points": CSV, "predictors": [...],
  "target": COLUMN}`` (tables already in the peer's column convention); with ``levels``,
  ``n_draws``, ``seed`` and ``law`` (a peer law name). Each dataset is fit once with the peer's
  default uncertainty (its wild cluster bootstrap), then for every point: the point forecast from
  the fitted parameters, the median, and central intervals at each level for both of the peer's
  prediction kinds, ``"new-run"`` (a newly trained run: parameter draws plus run-to-run noise) and
  ``"mean"`` (the expected curve: parameter draws only). A dataset that fails gets ``"error"``.
* ``"inprocess"``: ``runs`` (a CSV in the peer's convention), ``law``, ``n_draws``, ``seed``; times
  the import, a first ``fit`` call and a second (warm) ``fit`` call, all inside this process.
* ``"to_parquet"``: writes the CSV ``source`` to the parquet file ``dest`` with polars.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
import warnings
from pathlib import Path

T0 = time.perf_counter()
import numpy as np
import polars as pl
import simple_scaling_laws as ssl
from simple_scaling_laws.metrics import from_fitting_scale
from simple_scaling_laws.uncertainty import target_seed

IMPORT_S = time.perf_counter() - T0
PEER_VERSION = getattr(ssl, "__version__", None)


def _read(path: str) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema_length=None)


def _interval_dataset(spec: dict, levels: list[float], law: str, n_draws: int, seed: int) -> dict:
    runs = _read(spec["runs"])
    points = _read(spec["points"]).select(spec["predictors"])
    target = spec["target"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = ssl.fit(runs, law=law, n_draws=n_draws, seed=seed)
        frame = model.prepare_points(points)
        log_x = model.fitting_predictors(frame)
        kind = model.target_kind(target)
        point = from_fitting_scale(model.law.evaluate(model.fits[target].params, log_x), kind)
        draws = {}
        for peer_kind in ("new-run", "mean"):
            # The same generator ``ScalingLawModel.predict`` seeds, so these quantiles are exactly
            # the ones predict() reports; quantiles are taken here to avoid its 3-decimal column names.
            rng = np.random.default_rng(target_seed(model.manifest.get("seed", 0), target))
            draws[peer_kind] = model.target_draws(target, log_x, kind=peer_kind, rng=rng)
    _, distance = model.domain_position(frame.select(model.predictors).to_numpy().astype(float))

    def bands(values: np.ndarray) -> dict[str, list[list[float]]]:
        out = {}
        for level in levels:
            lo, hi = np.quantile(values, [(1.0 - level) / 2.0, (1.0 + level) / 2.0], axis=0)
            out[repr(float(level))] = [[float(a), float(b)] for a, b in zip(lo, hi)]
        return out

    fit = model.fits[target]
    reference = np.array([model.observed_domain[name]["reference"] for name in model.law.predictors])
    return {
        "y": [float(v) for v in point],
        "median": [float(v) for v in np.median(draws["new-run"], axis=0)],
        "intervals": bands(draws["new-run"]),
        "mean_intervals": bands(draws["mean"]),
        "params_raw_scale": fit.to_dict(model.law, reference)["params_raw_scale"],
        "run_sd": fit.run_sd,
        "run_sd_source": fit.variance_components.get("source"),
        "uncertainty_method": fit.uncertainty_method,
        "n_failed_draws": fit.n_failed_draws,
        "n_configurations": int(model.manifest["n_configurations"]),
        "extrapolation_distance": [float(v) for v in distance],
        "notes": [note.code for note in model.warnings],
        "python_warnings": sorted({str(w.message)[:200] for w in caught}),
    }


def _intervals(manifest: dict) -> dict:
    results = []
    for spec in manifest["datasets"]:
        t = time.perf_counter()
        try:
            result = _interval_dataset(
                spec, manifest["levels"], manifest["law"], manifest["n_draws"], manifest["seed"]
            )
        except Exception as exc:  # noqa: BLE001 -- one bad dataset must not sink a whole backtest batch
            result = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-2000:]}
        result["seconds"] = time.perf_counter() - t
        results.append(result)
    return {"results": results}


def _inprocess(manifest: dict) -> dict:
    runs = _read(manifest["runs"])
    kwargs = {"law": manifest["law"], "n_draws": manifest["n_draws"], "seed": manifest["seed"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        ssl.fit(runs, **kwargs)
        first = time.perf_counter() - t
        t = time.perf_counter()
        model = ssl.fit(runs, **kwargs)
        warm = time.perf_counter() - t
    target = model.primary_target
    return {
        "first_s": first,
        "warm_s": warm,
        "n_runs": runs.height,
        "params": model.params(target),
        "uncertainty_method": model.fits[target].uncertainty_method,
    }


def _to_parquet(manifest: dict) -> dict:
    _read(manifest["source"]).write_parquet(manifest["dest"])
    return {"dest": manifest["dest"]}


def main() -> None:
    manifest = json.loads(Path(sys.argv[1]).read_text())
    task = manifest["task"]
    handler = {"intervals": _intervals, "inprocess": _inprocess, "to_parquet": _to_parquet}[task]
    out = handler(manifest)
    out.update(
        {"task": task, "import_s": IMPORT_S, "peer_version": PEER_VERSION, "python": sys.version.split()[0]}
    )
    Path(manifest["output"]).write_text(json.dumps(out))


if __name__ == "__main__":
    main()
