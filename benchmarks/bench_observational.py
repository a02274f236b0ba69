"""Observational scaling against a sigmoid in compute, on public models' benchmark scores.

The table: the 29 Pythia (standard, deduped, bf16), OPT and BLOOM models of
``../shared/data/pythia_evals`` (zero-shot, final checkpoints; three families trained on different
data for different token counts). For each of six tasks, the models below 5B parameters are fitted
and the 9 above are forecast:

* observational (`scalinglaws.observational`, Ruan et al. 2024): the task as a sigmoid of the
  first K principal capability measures of the other five tasks (K = 1, 2, 3), with the ceiling
  free or held at 1; a large model's measures come from its own scores on those five;
* the headline fit again, with each large model's measures taken from its family's linear trend
  in log compute over the fitted models (`forecast_from_compute`: a model not trained yet);
* ``sigmoid_log`` in compute C = 6 N D alone (pooled over families), ceiling free or held at 1.

Prints the mean absolute error (accuracy points) per task and method, the mean over tasks, and the
coverage of 90% intervals (200 bootstrap replicates) for the two headline methods.
Run: ``.venv/bin/python benchmarks/bench_observational.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import scalinglaws as sl
from scalinglaws.observational import forecast_from_compute

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "pythia_evals" / "pythia_opt_bloom_evals_summary.csv"
TASKS = ("arc_easy_acc", "arc_challenge_acc", "lambada_openai_acc", "piqa_acc", "sciq_acc", "winogrande_acc")
TRAIN, LEVEL = "N_params < 5e9", 0.9
HEADLINE = ("observational K=2, ceiling 1", "sigmoid_log in C, ceiling free")


def models() -> pd.DataFrame:
    s = pd.read_csv(DATA)
    t = s[(s.num_fewshot == 0) & ((s.family != "pythia") | (s.step == 143000))].copy()
    t["C"] = 6 * t.N_params * t.tokens_seen
    t["model"] = t.family + "-" + t.variant + "-" + t["size"]
    return t.reset_index(drop=True)


def main() -> None:
    t = models()
    held = t[~t.eval(TRAIN)]
    print(f"{int(t.eval(TRAIN).sum())} models fitted ({TRAIN}), {len(held)} forecast: {', '.join(held.model)}")
    rows, coverage = [], {h: [] for h in HEADLINE}
    for task in TASKS:
        others = [b for b in TASKS if b != task]
        truth = held[task].to_numpy()
        methods = {}
        for k in (1, 2, 3):
            for ceiling, fix in (("free", None), ("1", {"y_inf": 1.0})):
                label = f"observational K={k}, ceiling {ceiling}"
                boot = 200 if label in HEADLINE else 0
                methods[label] = sl.fit_observational(t, task, others, components=k, where=TRAIN, fix=fix,
                                                      bootstrap=boot)
        for ceiling, fix in (("free", None), ("1", {"y_inf": 1.0})):
            label = f"sigmoid_log in C, ceiling {ceiling}"
            boot = 200 if label in HEADLINE else 0
            methods[label] = sl.fit("sigmoid_log", t, x={"x": "C"}, y=task, where=TRAIN, fix=fix, bootstrap=boot)
        # the same fit, forecasting each large model from its family's trend in compute alone (not its scores)
        trend = forecast_from_compute(methods[HEADLINE[0]], t[t.eval(TRAIN)], held, family="family", compute="C")
        rows.append(dict(task=task, method="observational K=2, ceiling 1, family trend in C",
                         status=methods[HEADLINE[0]].status, error=100 * float(np.nanmean(np.abs(trend - truth)))))
        for label, m in methods.items():
            rows.append(dict(task=task, method=label, status=m.status,
                             error=100 * float(np.mean(np.abs(m.predict(held) - truth)))))
            if label in HEADLINE:
                lo, hi = m.predict_interval(held, level=LEVEL)
                coverage[label].append((lo <= truth) & (truth <= hi))
    r = pd.DataFrame(rows)
    table = r.pivot(index="method", columns="task", values="error")
    table["mean"] = table.mean(axis=1)
    print("\nmean absolute error of the 9 forecasts, accuracy points")
    print(table.sort_values("mean").to_string(float_format=lambda v: f"{v:.2f}"))
    print("statuses:", ", ".join(f"{k} {v}" for k, v in r.status.value_counts().items()))
    for label, hits in coverage.items():
        hits = np.concatenate(hits)
        print(f"{label}: {LEVEL:.0%} intervals hold {int(hits.sum())}/{hits.size}")


if __name__ == "__main__":
    main()
