"""Calibration of bootstrap intervals on simulated runs drawn from known laws.

For each law: draw runs over a few decades with log-normal noise, fit with a row bootstrap, and
check how often nominal 80/90/95% intervals cover (a) the true exponent and (b) a fresh noisy run at
1 and 2 decades beyond the largest fitted scale. Prints one line per law and level, and the same for
the peer ``simple-scaling-laws`` (its new-run prediction intervals, on the same simulated runs) when
a Python 3.12 with it is available.
Run: ``.venv/bin/python benchmarks/bench_coverage.py [SIMULATIONS]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

import scalinglaws as sl

sys.path.insert(0, str(Path(__file__).parent))
import _peer  # noqa: E402

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
    prefix, why = _peer.peer_status()
    for name, case in CASES.items():
        law = sl.get_law(name)
        rng = np.random.default_rng(0)
        kinds = ("param", "1 decade", "2 decades")
        hits = {(lvl, kind): 0 for lvl in LEVELS for kind in kinds}
        peer_jobs, truths = [], []
        for _ in range(simulations):
            runs = simulate(law, case["truth"], case["ranges"], rng, N_RUNS)
            fit = sl.fit(law, runs, bootstrap=REPLICATES, rng=int(rng.integers(1 << 31)))
            for lvl in LEVELS:
                lo, hi = fit.bootstrap.interval(lambda p, k=case["exponent"]: p[k], level=lvl)
                hits[(lvl, "param")] += lo <= case["truth"][case["exponent"]] <= hi
            x = {k: np.array([hi * 10.0, hi * 100.0]) for k, (lo, hi) in case["ranges"].items()}
            y_new = law.predict(case["truth"], x) * np.exp(NOISE * rng.standard_normal(2))
            for lvl in LEVELS:
                lo, hi = fit.predict_interval(x, level=lvl)
                for i, kind in enumerate(kinds[1:]):
                    hits[(lvl, kind)] += bool(lo[i] <= y_new[i] <= hi[i])
            peer_jobs.append({"law": name, "runs": runs, "points": pd.DataFrame(x)})
            truths.append(y_new)
        for lvl in LEVELS:
            cells = "  ".join(f"{kind}: {hits[(lvl, kind)] / simulations:.2f}" for kind in kinds)
            print(f"{name:<18} nominal {lvl:.2f}  coverage  {cells}")
        if prefix is None:
            print(f"peer simple-scaling-laws: not run ({why})")
            continue
        out = _peer.peer_intervals(peer_jobs, levels=LEVELS, n_draws=REPLICATES, seed=0)
        for lvl in LEVELS:
            cover = np.zeros(2)
            for res, y_new in zip(out, truths):
                if res.get("intervals"):
                    band = np.asarray(res["intervals"][float(lvl)], dtype=float).reshape(-1, 2)
                    cover += (band[:, 0] <= y_new) & (y_new <= band[:, 1])
            failed = sum(1 for res in out if not res.get("intervals"))
            print(f"{'peer ' + name:<18} nominal {lvl:.2f}  coverage  1 decade: {cover[0] / simulations:.2f}  "
                  f"2 decades: {cover[1] / simulations:.2f}" + (f"  ({failed} fits failed)" if failed else ""))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
