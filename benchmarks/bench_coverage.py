"""Calibration of bootstrap intervals on simulated runs drawn from known laws.

For each law: draw runs over a few decades with log-normal noise, fit with a row bootstrap, and
check how often nominal 80/90/95% intervals cover (a) the true exponent and (b) a fresh noisy run at
1 and 2 decades beyond the largest fitted scale. Prints one line per law and level.
Run: ``.venv/bin/python benchmarks/bench_coverage.py [SIMULATIONS]``.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

import scalinglaws as sl

CASES = {
    "power_law_offset": dict(truth={"E": 1.5, "a": 30.0, "b": 0.3}, ranges={"x": (1e6, 1e9)}, exponent="b"),
    "chinchilla": dict(truth={"E": 1.8, "A": 480.0, "B": 2100.0, "alpha": 0.35, "beta": 0.37},
                       ranges={"N": (1e7, 1e9), "D": (1e8, 1e10)}, exponent="alpha"),
}
LEVELS = (0.8, 0.9, 0.95)
NOISE, N_RUNS, REPLICATES = 0.01, 60, 300


def simulate(law, truth, ranges, rng, n):
    x = {k: np.exp(rng.uniform(np.log(lo), np.log(hi), n)) for k, (lo, hi) in ranges.items()}
    return pd.DataFrame({**x, "loss": law.predict(truth, x) * np.exp(NOISE * rng.standard_normal(n))})


def main(simulations: int) -> None:
    print(f"{simulations} simulated datasets per law; {N_RUNS} runs, log noise {NOISE}, {REPLICATES} bootstrap replicates")
    for name, case in CASES.items():
        law = sl.get_law(name)
        rng = np.random.default_rng(0)
        hits = {(lvl, kind): 0 for lvl in LEVELS for kind in ("param", "1 decade", "2 decades")}
        for _ in range(simulations):
            runs = simulate(law, case["truth"], case["ranges"], rng, N_RUNS)
            fit = sl.fit(law, runs, bootstrap=REPLICATES, rng=int(rng.integers(1 << 31)))
            for lvl in LEVELS:
                lo, hi = fit.bootstrap.interval(lambda p, k=case["exponent"]: p[k], level=lvl)
                hits[(lvl, "param")] += lo <= case["truth"][case["exponent"]] <= hi
            for dec, kind in ((1, "1 decade"), (2, "2 decades")):
                x = {k: np.array([hi * 10.0**dec]) for k, (lo, hi) in case["ranges"].items()}
                y_new = law.predict(case["truth"], x) * np.exp(NOISE * rng.standard_normal(1))
                for lvl in LEVELS:
                    lo, hi = fit.predict_interval(x, level=lvl)
                    hits[(lvl, kind)] += bool(lo[0] <= y_new[0] <= hi[0])
        for lvl in LEVELS:
            cells = "  ".join(f"{kind}: {hits[(lvl, kind)] / simulations:.2f}" for kind in ("param", "1 decade", "2 decades"))
            print(f"{name:<18} nominal {lvl:.2f}  coverage  {cells}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
