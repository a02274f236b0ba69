"""Speed of ``--law auto`` on one curve, warm (programs compiled), against its own fits done one by one.

``--law auto`` fits every candidate law on all the training runs and on five nested cut-offs
(`scalinglaws.nested.backtests`: one batched solve per law). The reference, measured in the same
run, is the same fits made one after another with `scalinglaws.fit.fit_law` (a weights column
leaving the runs past each cut-off out), as selection did before batching. Prints, per curve and
per law, both times and their ratio, and the whole selection's time.

Curves: the 4-digit-addition learning curve (BNSL paper, first 14 points) and Pythia-1B coverage
on MATH vs samples k <= 100 (Brown et al. 2024, 34 points), from ``../shared/data``.

Run: ``.venv/bin/python benchmarks/bench_auto_speed.py``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from scalinglaws.errors import ScalingLawsError
from scalinglaws.fit import fit_law
from scalinglaws.nested import CUTS, backtests
from scalinglaws.select import applicable_laws, select_law

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def curves():
    t = pd.read_csv(SHARED / "bnsl_4digit_addition" / "four_digit_addition_learning_curve.csv")
    t = t.rename(columns={"train_dataset_size": "x", "test_cross_entropy": "loss"}).sort_values("x")
    yield "4-digit addition (14 points)", t[["x", "loss"]].iloc[:14].reset_index(drop=True)
    t = pd.read_csv(SHARED / "monkeys_repeated_sampling" / "brown2024_pythia_math_coverage_vs_k.csv")
    t = t[(t["Model"] == "Pythia 1B") & (t["k"] <= 100)]
    yield "Pythia-1B coverage vs k (34 points)", pd.DataFrame(
        {"x": t["k"].astype(float).to_numpy(), "loss": -np.log(t["coverage_pass_at_k"].to_numpy())})


def one_by_one(law, runs, bt):
    """The reference: the full fit and each fold of ``bt`` fitted alone."""
    fit_law(law, runs)
    for fold, fitted in zip(bt.plan, bt.fits):
        if not isinstance(fitted, ScalingLawsError):  # folds too small for the law are refused before any solve
            fit_law(law, runs.assign(w=fold.train.astype(float)), weights="w")


def timed(f, *args):
    f(*args)  # warm: compile first
    t = time.perf_counter()
    f(*args)
    return time.perf_counter() - t


def main():
    for name, runs in curves():
        print(f"{name}:")
        total_batched = total_alone = 0.0
        for law in applicable_laws(runs):
            batched = timed(backtests, law, runs, CUTS)
            alone = timed(one_by_one, law, runs, backtests(law, runs, CUTS))
            total_batched, total_alone = total_batched + batched, total_alone + alone
            print(f"  {law.name:<18} batched {batched * 1e3:8.1f} ms   one by one {alone * 1e3:8.1f} ms   "
                  f"ratio {alone / batched:5.2f}")
        print(f"  {'all candidates':<18} batched {total_batched:8.2f} s    one by one {total_alone:8.2f} s    "
              f"ratio {total_alone / total_batched:5.2f}")
        print(f"  select_law warm: {timed(select_law, runs):.2f} s (chose {select_law(runs).law})")


if __name__ == "__main__":
    main()
