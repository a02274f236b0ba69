"""lr_annealing on the MPL loss curves (Luo et al. 2025 data): fit jointly on two schedules of one model
size (cosine_24000 and constant_24000), predict every other schedule's whole curve from its learning
rates, and compare with `power_law_offset` in steps fitted per curve: on the curve's first half (a
forecast of its second half, what a user without the schedule law could do) and on the whole curve
(in-sample: a floor no forecast reaches).

Prints the mean and the largest relative error per schedule, in percent.
Run: .venv/bin/python benchmarks/bench_lr_annealing.py
"""

from pathlib import Path

import numpy as np
import pandas as pd

import scalinglaws as sl
from scalinglaws.data import Runs
from scalinglaws.data.runs import with_derived_inputs

DATA = Path(__file__).resolve().parents[1].parent / "shared/data/lr_schedule_loss_curves_mpl/mpl_loss_curves.csv"
TRAIN = ("cosine_24000", "constant_24000")


def rel(pred, y):
    err = np.abs(pred - y) / y
    return 100 * err.mean(), 100 * err.max()


def main():
    table = pd.read_csv(DATA)
    print(f"{'size':5s} {'schedule':18s} {'n':>4s}  lr_annealing mean/max %   power_law_offset 1st half -> 2nd   whole curve (in-sample)")
    for size in ("25M", "100M", "400M"):
        sub = table[table.model_size == size].reset_index(drop=True)
        joint = sl.fit("lr_annealing", sub, where=f"schedule in {list(TRAIN)}")
        full = with_derived_inputs(Runs(sub), ("S1", "S2"), None).table
        print(f"{size}: lr_annealing {joint.status}, " + ", ".join(f"{k} {v:.5g}" for k, v in joint.params.items()))
        for schedule, curve in full.groupby("schedule"):
            if schedule in TRAIN:
                continue
            ours = rel(joint.predict({"S1": curve.S1.to_numpy(), "S2": curve.S2.to_numpy()}), curve.loss.to_numpy())
            c = curve.rename(columns={"step": "x"})[["x", "loss"]].reset_index(drop=True)
            half = c.x.median()
            early = sl.fit("power_law_offset", c, where=f"x <= {half}")
            late = c[c.x > half]
            ahead = rel(early.predict({"x": late.x.to_numpy()}), late.loss.to_numpy())
            whole = sl.fit("power_law_offset", c)
            inside = rel(whole.predict({"x": c.x.to_numpy()}), c.loss.to_numpy())
            print(f"{size:5s} {schedule:18s} {len(curve):4d}  {ours[0]:6.3f} / {ours[1]:6.3f}            "
                  f"{ahead[0]:6.3f} / {ahead[1]:6.3f}                   {inside[0]:6.3f} / {inside[1]:6.3f}")


if __name__ == "__main__":
    main()
