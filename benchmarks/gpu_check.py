"""Throughput of single-start chinchilla fits on whatever device JAX sees (a GPU when lent one).

Batch of single-start fits: every lane is one replicate of the 240 Chinchilla runs (row bootstrap
weights) polished from the full-data optimum to convergence, float64. Prints the device and fits/s.
"""

from __future__ import annotations

import importlib
import sys
import time

import jax
import numpy as np

import scalinglaws as sl

methods = importlib.import_module("scalinglaws.fit.methods")
problem = importlib.import_module("scalinglaws.fit._problem")


def main(lanes: int) -> None:
    runs = sl.load_dataset("chinchilla")
    law = sl.get_law("chinchilla")
    full = sl.fit(law, runs)
    spec = problem.Spec(law, law.param_names, (), "huber")
    d = sl.data.design(runs, law)
    data = problem.make_data(spec, d.x, d.y, {}, 1e-3)
    rng = np.random.default_rng(0)
    start = np.array([[full.params[n] for n in spec.free]])
    for size in (min(lanes, 1000), lanes):
        counts = rng.multinomial(d.y.size, np.full(d.y.size, 1 / d.y.size), size=size).astype(float)
        w = np.zeros((size, data.w.size))  # the padding points (see make_data) keep weight 0
        w[:, : d.y.size] = counts
        log_y = np.broadcast_to(data.log_y, w.shape)
        starts = np.repeat(start, size, axis=0)  # one lane per replicate
        methods.solve_replicates(spec, data, starts, w, log_y)  # compile
        t = time.perf_counter()
        _, _, status = methods.solve_replicates(spec, data, starts, w, log_y)
        s = time.perf_counter() - t
        print(f"device {jax.devices()[0].device_kind}: {size} single-start fits in {s:.3f} s = {size / s:,.0f} fits/s; "
              f"converged {np.mean(status == 0):.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
