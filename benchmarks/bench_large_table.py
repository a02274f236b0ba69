"""Time and peak memory of fitting ``chinchilla`` to a 200,000-row table, as a new process.

The rows are simulated from Hoffmann et al.'s published fit (E = 1.69, A = 406.4, B = 410.7,
alpha = 0.34, beta = 0.28) over N in [1e7, 1e10] and D in [1e9, 1e12] (log-uniform), with 1%
log-normal noise. The command is ``scalinglaws fit TABLE --law chinchilla --format json`` in a new
process with JAX's compilation cache filled by a first run; peak memory is the process's maximum
resident set (``/usr/bin/time``'s, or the kernel's through ``resource`` for the child).

Run: ``.venv/bin/python benchmarks/bench_large_table.py [--rows 200000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

CLI = str(Path(sys.executable).with_name("scalinglaws"))
PUBLISHED = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}


def table(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    N = 10 ** rng.uniform(7, 10, rows)
    D = 10 ** rng.uniform(9, 12, rows)
    p = PUBLISHED
    loss = (p["E"] + p["A"] * N ** -p["alpha"] + p["B"] * D ** -p["beta"]) * np.exp(rng.normal(0, 0.01, rows))
    return pd.DataFrame({"N": N, "D": D, "loss": loss})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    rows = parser.parse_args().rows
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "runs.parquet"
        table(rows).to_parquet(path)
        env = dict(os.environ, SCALINGLAWS_JAX_CACHE=str(Path(tmp) / "jax-cache"))
        args = [CLI, "fit", str(path), "--law", "chinchilla", "--format", "json"]
        subprocess.run(args, env=env, capture_output=True, check=True)  # fills the compilation cache
        t = time.perf_counter()
        done = subprocess.run(args, env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - t
        if done.returncode:
            raise SystemExit(done.stderr)
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest child's, in KiB
        fit = json.loads(done.stdout)
        print(f"{rows} rows, chinchilla, new process with the compilation cache filled: {elapsed:.2f} s, "
              f"peak resident memory {peak_mib:.0f} MiB")
        print("  status", fit["status"], " params", {k: round(v, 4) for k, v in fit["params"].items()},
              " published", PUBLISHED)


if __name__ == "__main__":
    main()
