"""Coverage forecasts from repeated samples: Brown et al.'s law fitted on k <= 100, scored at k = 1,000 and 10,000.

For each model of ``../shared/data/monkeys_repeated_sampling``: the coverage curve of its problems
(pass@k, the unbiased estimator, at ~10 values of k per decade up to 100) is fitted with
``coverage_exp_power`` and a 200-replicate bootstrap (`scalinglaws.passk.fit_coverage`, what
``scalinglaws passk --fit`` runs); its forecasts at k = 1,000 and 10,000 are compared with the
pass@k the same problems reach there (every problem fitted has 10,000 samples or more, so the truth
is measured on exactly the problems fitted). Prints per model the forecast, the 90% interval, the
truth, and whether the interval covers it; then the mean absolute error and the coverage, by how
far the fitted curve had risen at k = 100 (below `FLOOR`, ``passk --fit`` withholds the interval:
the rows here show what it would have been).

Tables: Brown et al.'s 7 Pythia models on MATH (128 problems, 10,000 samples each), and Schaeffer et
al.'s Pythia checkpoints (sizes x training tokens) on GSM8K and MATH, keeping the problems sampled
10,000 times or more (models with fewer than 20 such problems are skipped and counted).
Run: ``.venv/bin/python benchmarks/bench_coverage_forecast.py [--quick]`` (``--quick``: Brown only).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import scalinglaws as sl
from scalinglaws.passk import COVERAGE_LAW, FLOOR, coverage_curve, fit_coverage, pass_at_k

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "monkeys_repeated_sampling"
FIT_UP_TO, AHEAD, LEVEL, REPLICATES, MIN_PROBLEMS = 100, (1000, 10000), 0.9, 200, 20


def score(name: str, groups) -> None:
    rows, skipped, t0 = [], 0, time.perf_counter()
    for model, counts in groups:
        counts = counts[counts["n"] >= max(AHEAD)]  # the truth at 10,000 is measured on the problems fitted
        if len(counts) < MIN_PROBLEMS or counts["c"].sum() == 0:
            skipped += 1
            continue
        doc = fit_coverage(counts, FIT_UP_TO, AHEAD, bootstrap=REPLICATES, level=LEVEL)
        f = doc["forecast"]
        top = pass_at_k(counts["n"].to_numpy(), counts["c"].to_numpy(), [FIT_UP_TO]).mean()
        for i, k in enumerate(f["k"]):  # (the bootstrap interval is computed here even where passk withholds it)
            lo, hi = (f["lo"][i], f["hi"][i]) if "lo" in f else interval(counts, k)
            rows.append(dict(model=model, k=k, forecast=f["pass_at_k"][i], lo=lo, hi=hi, truth=f["observed"][i],
                             top=top))
    t = pd.DataFrame(rows)
    t["error"] = t["forecast"] - t["truth"]
    t["covered"] = (t["lo"] <= t["truth"]) & (t["truth"] <= t["hi"])
    print(f"\n## {name}: {t.model.nunique()} models ({skipped} skipped: fewer than {MIN_PROBLEMS} problems with "
          f"{max(AHEAD)} samples, or none correct), {time.perf_counter() - t0:.0f} s")
    if t.model.nunique() <= 10:
        print(t.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    t["pass@100"] = pd.cut(t["top"], [0.0, 0.01, FLOOR, 1.0])
    for (k, band), part in t.groupby(["k", "pass@100"], observed=True):
        print(f"k = {k:>6}, pass@100 in {band}: {part.model.nunique():>3} models, mean |error| "
              f"{part.error.abs().mean():.4f} (max {part.error.abs().max():.4f}), mean error {part.error.mean():+.4f}, "
              f"{LEVEL:.0%} intervals cover {part.covered.mean():.0%} ({part.covered.sum()}/{len(part)}), "
              f"median width {(part.hi - part.lo).median():.3f}")


def interval(counts, k):
    """The interval `fit_coverage` withholds below `FLOOR`, for the record."""
    curve, _ = coverage_curve(counts, FIT_UP_TO)
    r = sl.fit(COVERAGE_LAW, curve, y="coverage", bootstrap=REPLICATES, level=LEVEL)
    lo, hi = r.predict_interval({"k": [k]}, level=LEVEL)
    return float(lo[0]), float(hi[0])


def main(quick: bool) -> None:
    brown = pd.read_csv(DATA / "brown2024_pythia_math_per_problem_counts.csv").rename(
        columns={"n_samples": "n", "n_correct": "c"})
    score("Brown et al. 2024, Pythia on MATH", brown.groupby("Model", sort=False))
    if quick:
        return
    for task in ("gsm8k", "math"):
        t = pd.read_csv(DATA / f"schaeffer2025_pythia_ckpts_{task}_per_problem_counts.csv").rename(
            columns={"n_samples": "n", "n_correct": "c"})
        score(f"Schaeffer et al. 2025, Pythia checkpoints on {task}", t.groupby("Model Nickname", sort=False))


if __name__ == "__main__":
    main("--quick" in sys.argv[1:])
