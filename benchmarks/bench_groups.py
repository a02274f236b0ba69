"""Speed of grouped fits: ``scalinglaws fit --by`` as a cold command against a warm Python loop.

1. 1,000 simulated curves of 20 points each with ``power_law_offset`` (``y = E + a x^-b``, each
   curve its own E, a, b, 1% log-normal noise). The reference, measured in the same run, is a warm
   in-process loop calling `scalinglaws.fit` once per curve (every program compiled by a first pass
   of the loop). Against it: `scalinglaws.fit_groups` warm in process (the batched computation
   alone), and the command as a new process (imports, tracing and all), once with JAX's compilation
   cache empty (a fresh folder) and once with it filled by that first run; and, for the floor of
   any command, a new process that imports the package and fits nothing.
2. ``--law auto --by Model`` on the 7 repeated-sampling coverage curves of Brown et al. 2024
   (``../shared/data/monkeys_repeated_sampling``), as a cold command with the cache filled.

Prints each time and the ratio loop / command, and checks that the command's parameters equal the
loop's.

Run: ``.venv/bin/python benchmarks/bench_groups.py [--groups 1000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import scalinglaws as sl

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CLI = str(Path(sys.executable).with_name("scalinglaws"))


def curves(groups: int, points: int = 20, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = np.geomspace(1e3, 1e7, points)
    rows = []
    for g in range(groups):
        E, a, b = rng.uniform(0.5, 2.0), rng.uniform(5.0, 50.0), rng.uniform(0.2, 0.6)
        y = (E + a * x ** -b) * np.exp(rng.normal(0.0, 0.01, points))
        rows.append(pd.DataFrame({"curve": f"c{g:04d}", "x": x, "loss": y}))
    return pd.concat(rows, ignore_index=True)


def command(args: list[str], cache: str) -> tuple[float, str]:
    env = dict(os.environ, SCALINGLAWS_JAX_CACHE=cache)
    t = time.perf_counter()
    done = subprocess.run([CLI, *args], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if done.returncode:
        raise SystemExit(f"command failed: {' '.join(args)}\n{done.stderr}")
    return elapsed, done.stdout


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, default=1000)
    groups = parser.parse_args().groups
    table = curves(groups)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "curves.csv"
        table.to_csv(path, index=False)
        by_curve = {name: t.reset_index(drop=True) for name, t in table.groupby("curve")}
        for t_ in by_curve.values():  # warm: every program the loop needs compiled (the near-L1 pass too)
            sl.fit("power_law_offset", t_)
        t = time.perf_counter()
        loop = {name: sl.fit("power_law_offset", t_) for name, t_ in by_curve.items()}
        t_loop = time.perf_counter() - t
        sl.fit_groups("power_law_offset", table, "curve")  # warm
        t = time.perf_counter()
        sl.fit_groups("power_law_offset", table, "curve")
        t_batched = time.perf_counter() - t
        cache = str(Path(tmp) / "jax-cache")
        t_import, _ = command(["laws", "power_law"], cache)  # a new process that imports the package and fits nothing
        args = ["fit", str(path), "--law", "power_law_offset", "--by", "curve", "--format", "json"]
        t_cold, _ = command(args, cache)
        t_warm_cache, out = command(args, cache)
        doc = json.loads(out)
        worst = max(abs(f["params"][k] / loop[f["group"]].params[k] - 1) for f in doc["fits"] for k in ("E", "a", "b"))
        print(f"{groups} curves x 20 points, power_law_offset:")
        print(f"  warm in-process loop over sl.fit: {t_loop:7.2f} s")
        print(f"  warm in-process sl.fit_groups (one batched computation): {t_batched:7.2f} s  "
              f"(loop / batched {t_loop / t_batched:.1f}x)")
        print(f"  a new process that only imports the package (scalinglaws laws power_law): {t_import:7.2f} s")
        print(f"  fit --by, new process, empty compilation cache: {t_cold:7.2f} s  (loop / command {t_loop / t_cold:.1f}x)")
        print(f"  fit --by, new process, filled compilation cache: {t_warm_cache:7.2f} s  "
              f"(loop / command {t_loop / t_warm_cache:.1f}x)")
        print(f"  largest relative difference of a parameter, command against loop: {worst:.1e}")
        coverage = SHARED / "monkeys_repeated_sampling" / "brown2024_pythia_math_coverage_vs_k.csv"
        if coverage.exists():
            args = ["fit", str(coverage), "--law", "auto", "--by", "Model", "--x", "k=k", "--y", "coverage_pass_at_k",
                    "--format", "json"]
            command(args, cache)
            t_auto, out = command(args, cache)
            print(f"--law auto --by Model on the 7 coverage curves, new process, filled cache: {t_auto:.2f} s "
                  f"({len(json.loads(out)['fits'])} fits)")


if __name__ == "__main__":
    main()
