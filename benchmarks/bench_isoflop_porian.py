"""Porian et al. 2024's N*(C) exponents, reproduced from their iso-FLOP points.

For each of the 15 published configurations (dataset, hyper-parameters, warm-up, decay, parameter
count, loss), `scalinglaws.isoflop` runs Akima interpolation per budget, the seed-noise bootstrap
(0.002 on RefinedWeb, 0.01 on OpenWebText2, as their configs) and the weighted power law; it prints
our exponent and 90% interval beside the published bs_median_weighted exponent and their 5-95%
bootstrap quantiles, and whether each published value falls inside our interval and ours inside
theirs. The parabola method is printed beside it, to show its bias.

    python benchmarks/bench_isoflop_porian.py
"""

from pathlib import Path

import numpy as np
import pandas as pd

from scalinglaws.isoflop import isoflop

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "porian2024_compute_optimal"
KEYS = ["source_file", "dataset", "hparams", "warmup", "decay", "param_count", "loss_type"]
NOISE = {"rw": 0.002, "owt2": 0.01}


def main():
    points = pd.read_csv(DATA / "isoflop_points.csv")
    fits = pd.read_csv(DATA / "compute_optimal_fits.csv").set_index(KEYS + ["fit"])
    inside = theirs_inside = 0
    rows = []
    for key, g in points.groupby(KEYS):
        kw = dict(D=g.D_tokens.to_numpy(), noise=NOISE[key[1]], replicates=1000, rng=0)
        ours = isoflop(g.flops_budget.to_numpy(), g.N_params.to_numpy(), g.loss.to_numpy(), **kw)
        par = isoflop(g.flops_budget.to_numpy(), g.N_params.to_numpy(), g.loss.to_numpy(), method="parabola", **kw)
        pub = float(fits.loc[key + ("bs_median_weighted",), "n_exponent"])
        q5, _, q95 = (float(v) for v in fits.loc[key + ("bootstrap_weighted_quantiles_5_50_95",), "n_exponent"].split(";"))
        a, (lo, hi) = ours.fits["N"]["exponent"], ours.fits["N"]["interval"]
        inside += lo <= pub <= hi
        theirs_inside += q5 <= a <= q95
        rows.append((" ".join(key[1:]), a, lo, hi, pub, q5, q95, par.fits["N"]["exponent"], ours.fits["N"]["budgets"]))
    print(f"{'configuration':42s} {'ours':>7s} {'90% interval':>17s} {'published':>9s} {'their 5-95%':>17s} "
          f"{'parabola':>8s} budgets")
    for name, a, lo, hi, pub, q5, q95, par, n in rows:
        print(f"{name:42s} {a:7.4f} [{lo:.4f}, {hi:.4f}] {pub:9.4f} [{q5:.4f}, {q95:.4f}] {par:8.4f} {n:7d}")
    err = np.array([r[1] - r[4] for r in rows])
    print(f"published exponent inside our 90% interval: {inside}/{len(rows)}; ours inside their 5-95%: "
          f"{theirs_inside}/{len(rows)}; mean |ours - published| {np.mean(np.abs(err)):.4f}, max {np.max(np.abs(err)):.4f}")
    perr = np.array([r[7] - r[4] for r in rows])
    print(f"parabola: mean |parabola - published| {np.mean(np.abs(perr)):.4f}, max {np.max(np.abs(perr)):.4f}")


if __name__ == "__main__":
    main()
