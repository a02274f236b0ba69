"""Downstream forecasts through chains (loss -> metric) and direct laws, on real held-out models.

1. Gadre et al. 2024 (``../shared/data/overtrain_gadre2024``): their published fit, as a chain of
   two fits (``overtrain_cm`` on the C4 eval loss of their 5 small runs, least squares on the loss;
   ``err_from_loss_exp`` on those runs and the 1.4B one), forecasts the 17-task average top-1 error
   of the 1.4B over-trained model and of the 6.9B model: the relative errors printed in their
   notebook are 3.6365% and 0.0464%. Five runs cannot calibrate an interval beyond themselves, so
   the interval comes from the same chain fitted on every run below 1B parameters (about 32 per
   training set) with a 200-replicate bootstrap: does its 90% interval hold the truth?
2. Pythia (``../shared/data/pythia_evals``, standard models, zero-shot, checkpoints from step 1,000):
   fit on the models up to 1.4B (every checkpoint), forecast the final checkpoints of 2.8B, 6.9B
   and 12B on six tasks, with a chain (``chinchilla`` on the LAMBADA loss log(perplexity), then
   ``sigmoid_log`` from it to the task's accuracy) and with a direct law (``sigmoid_log`` in compute
   C = 6 N D). Prints the absolute errors in accuracy points and the coverage of 90% intervals.
Run: ``.venv/bin/python benchmarks/bench_downstream_chains.py``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

import scalinglaws as sl

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SMALL = ("d=96_l=8_h=4", "d=512_l=8_h=4", "d=576_l=24_h=8", "d=1024_l=24_h=8")
TASKS = ("lambada_openai_acc", "arc_easy_acc", "piqa_acc", "sciq_acc", "winogrande_acc", "arc_challenge_acc_norm")
LEVEL = 0.9


def gadre() -> None:
    runs = pd.read_csv(DATA / "overtrain_gadre2024" / "overtrain_runs_losses.csv").rename(
        columns={"N_params": "N", "D_tokens": "D"})
    print("## Gadre et al.: the 17-task average top-1 error of the largest runs")
    for dataset, table in runs.groupby("dataset"):
        big = table[(table.model_config == "open_lm_7b") | ((table.model_config == "open_lm_1b")
                                                             & (table.tokens_per_param_M > 20))]
        small = (table.model_config.isin(SMALL) & (table.tokens_per_param_M == 20)) | (
            (table.model_config == SMALL[0]) & (table.tokens_per_param_M == 320))
        with_1b = small | ((table.model_config == "open_lm_1b") & (table.tokens_per_param_M == 20))
        published = sl.ChainResult(
            sl.fit("overtrain_cm", table[small], y="loss_c4_val", space="linear", loss="mse"),
            sl.fit("err_from_loss_exp", table[with_1b], x={"L": "loss_c4_val"}, y="err_avg_subset17", loss="mse"))
        t0 = time.perf_counter()
        wide = sl.fit_chain("overtrain_cm", table, then="err_from_loss_exp", via="loss_c4_val", y="err_avg_subset17",
                            where="N < 1e9", bootstrap=200)
        lo, hi = wide.predict_interval(big, level=LEVEL)
        truth = big.err_avg_subset17.to_numpy()
        for i, (_, run) in enumerate(big.iterrows()):
            rel = abs(published.predict(big.iloc[[i]])[0] / truth[i] - 1)
            print(f"{dataset:>12} {run.model_config:>10} M = {run.tokens_per_param_M:>3.0f}: truth {truth[i]:.4f}; "
                  f"published fit (5 runs) {published.predict(big.iloc[[i]])[0]:.4f}, relative error {rel:.4%}; "
                  f"chain on {wide.n_points} runs {wide.predict(big.iloc[[i]])[0]:.4f}, {LEVEL:.0%} interval "
                  f"[{lo[i]:.4f}, {hi[i]:.4f}] {'holds' if lo[i] <= truth[i] <= hi[i] else 'MISSES'} it")
        print(f"{'':>12} ({time.perf_counter() - t0:.0f} s for the bootstrapped chain)")


def pythia() -> None:
    s = pd.read_csv(DATA / "pythia_evals" / "pythia_opt_bloom_evals_summary.csv")
    p = s[(s.family == "pythia") & (s.variant == "standard") & (s.num_fewshot == 0) & (s.step >= 1000)].copy()
    p["N"], p["D"] = p.N_params, p.tokens_seen
    p["C"], p["lambada_loss"] = 6 * p.N * p.D, np.log(p.lambada_openai_ppl)
    p = p[(p.N < 2e9) | (p.step == 143000)]  # the large models: their final checkpoints only
    held = p[p.N > 2e9].sort_values("N")
    print(f"\n## Pythia: fit on {int((p.N < 2e9).sum())} checkpoints of 70M-1.4B, forecast "
          f"{', '.join(held['size'])} (final); absolute errors in accuracy points")
    rows = []
    for task in TASKS:
        for label, options in (("chain chinchilla -> sigmoid_log", dict(laws="chinchilla", then="sigmoid_log",
                                                                        via="lambada_loss")),
                               ("direct sigmoid_log in C", dict(laws="sigmoid_log", x={"x": "C"}))):
            laws = options.pop("laws")
            fitted = (sl.fit_chain(laws, p, where="N < 2e9", y=task, bootstrap=200, **options) if "then" in options
                      else sl.fit(laws, p, where="N < 2e9", y=task, bootstrap=200, **options))
            forecast = fitted.predict(held)
            lo, hi = fitted.predict_interval(held, level=LEVEL)
            truth = held[task].to_numpy()
            errors = 100 * np.abs(forecast - truth)
            rows.append(dict(task=task, method=label, **{f"{n}": e for n, e in zip(held["size"], errors)},
                             mean=errors.mean(), covered=int(np.sum((lo <= truth) & (truth <= hi))),
                             width=100 * np.median(hi - lo)))
    t = pd.DataFrame(rows)
    print(t.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    for method, part in t.groupby("method"):
        print(f"{method}: mean absolute error {part['mean'].mean():.2f} points over {len(part)} tasks x 3 models; "
              f"{LEVEL:.0%} intervals hold {part.covered.sum()}/{3 * len(part)}; median width {part.width.median():.1f} points")


if __name__ == "__main__":
    gadre()
    pythia()
