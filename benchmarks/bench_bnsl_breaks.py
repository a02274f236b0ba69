"""BNSL with more breaks on Caballero et al.'s 4-digit addition curve: fit the first 14 points, score the
3 held-out ones (RMSLE = root mean squared difference of log(1 + y), the paper's metric), per law.
Run: .venv/bin/python benchmarks/bench_bnsl_breaks.py
"""

import time
from pathlib import Path

import numpy as np
import pandas as pd

import scalinglaws as sl

DATA = Path(__file__).resolve().parents[1].parent / "shared/data/bnsl_4digit_addition/four_digit_addition_learning_curve.csv"


def main():
    t = pd.read_csv(DATA)
    test = t[t["split"] == "extrapolate"]
    print(f"{'law':18s} {'RMSLE held out':>14s} {'status':>12s} {'seconds':>8s}")
    for law in ("power_law", "power_law_offset", "m2", "m4", "bnsl", "bnsl2", "bnsl3", "bnsl4"):
        t0 = time.perf_counter()
        if len(sl.get_law(law).params) >= int((t["split"] == "fit").sum()):
            print(f"{law:18s} {'-':>14s} {'(too few points for its parameters)':>12s}")
            continue
        r = sl.fit(law, t, x={"x": "train_dataset_size"}, y="test_cross_entropy", where='split == "fit"', loss="mse")
        pred = r.predict({"x": test["train_dataset_size"]})
        rmsle = np.sqrt(np.mean((np.log1p(pred) - np.log1p(test["test_cross_entropy"])) ** 2))
        print(f"{law:18s} {rmsle:14.4f} {r.status:>12s} {time.perf_counter() - t0:8.1f}")


if __name__ == "__main__":
    main()
