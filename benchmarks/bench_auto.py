"""Backtest ``--law auto`` against every single candidate law on real learning curves.

For each dataset (from ``../shared/data``), fit on the early part of every curve and forecast the
rest: ``auto`` chooses its law by nested backtests inside each curve's training part only. Prints,
per dataset, the held-out RMSE of log y of ``auto``, of every single law, of the best single law
chosen with hindsight, and of the peer ``simple-scaling-laws`` (its ``separable-power`` law on the
same splits) when a Python 3.12 with it is available.

Run: ``.venv/bin/python benchmarks/bench_auto.py [--quick]``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import scalinglaws as sl
from scalinglaws.select import applicable_laws

sys.path.insert(0, str(Path(__file__).parent))
import _peer  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PYTHIA_TASKS = ("lambada_openai", "arc_easy", "piqa", "sciq", "arc_challenge", "winogrande")


def bnsl_addition():
    t = pd.read_csv(SHARED / "bnsl_4digit_addition" / "four_digit_addition_learning_curve.csv")
    t = t.rename(columns={"train_dataset_size": "x", "test_cross_entropy": "loss"})
    return t.assign(curve="4-digit addition")[["curve", "x", "loss"]], 14  # the paper's split: first 14, last 3


def pythia_errors(tasks):
    t = pd.read_csv(SHARED / "pythia_evals" / "pythia_opt_bloom_evals_summary.csv")
    t = t[(t["family"] == "pythia") & (t["variant"] == "standard") & (t["num_fewshot"] == 0) & (t["step"] > 0)]
    frames = [pd.DataFrame({"curve": f"{task}/{size}", "x": g["tokens_seen"], "loss": 1.0 - g[f"{task}_acc"]})
              for task in tasks for size, g in t.groupby("size")]
    return pd.concat(frames, ignore_index=True), 0.5


def mpl_schedules():
    t = pd.read_csv(SHARED / "lr_schedule_loss_curves_mpl" / "mpl_loss_curves.csv")
    t = t[t["step"] > 0]
    return pd.DataFrame({"curve": t["model_size"] + "/" + t["schedule"], "x": t["step"], "loss": t["loss"]}), 0.5


def splits(runs: pd.DataFrame, fraction: float | int):
    """Per curve: (train rows, held-out rows); train = the first ``fraction`` of the curve's x range
    (or its first ``fraction`` points when that is an integer)."""
    for _, g in runs.groupby("curve", sort=True):
        g = g.sort_values("x")
        train = np.arange(len(g)) < fraction if isinstance(fraction, int) else (g["x"] <= fraction * g["x"].max()).to_numpy()
        if train.sum() >= 10 and (~train).sum() >= 1:
            yield g[train], g[~train]


def chinchilla_table():
    """The multi-input case: auto (chinchilla or kaplan_nd) on the runs with C < 1e21, scored on the rest."""
    bt = sl.backtest("auto,chinchilla,kaplan_nd", sl.load_dataset("chinchilla"), train_where="C < 1e21")
    print(f"\nchinchilla table, train C < 1e21 ({bt.n_train} runs), score {bt.n_test} runs")
    for s in bt.scores:
        print(f"  {s.law:<18} rmse_log {s.rmse_log:.4f}" + (f"  (chose {s.chosen})" if s.chosen else ""))
    rmse = {s.law: s.rmse_log for s in bt.scores}
    return rmse["auto"], min(rmse["chinchilla"], rmse["kaplan_nd"])


def evaluate(name, runs, fraction, peer, loss):
    laws = [law.name for law in applicable_laws(runs[["x", "loss"]])]
    errors = {n: [] for n in ["auto"] + laws}
    chosen = []
    jobs = []
    t0 = time.perf_counter()
    for train, test in splits(runs, fraction):
        jobs.append((train[["x", "loss"]], test[["x"]], "power_law_offset"))
        for law in errors:
            try:
                fit = sl.fit(law, train[["x", "loss"]], loss=loss)
                with np.errstate(all="ignore"):
                    e = np.log(fit.predict({"x": test["x"].to_numpy()})) - np.log(test["loss"].to_numpy())
            except sl.ScalingLawsError:
                e = np.full(len(test), np.nan)
            errors[law].append(e)
            if law == "auto":
                chosen.append(fit.law.name)
    seconds = time.perf_counter() - t0
    rmse = {n: _rmse(np.concatenate(e)) for n, e in errors.items()}
    singles = {n: v for n, v in rmse.items() if n != "auto"}
    best = min(singles, key=singles.get)
    part = f"{fraction} points" if isinstance(fraction, int) else f"{fraction:.2g} of the x range"
    print(f"\n{name}: {len(jobs)} curves, train on the first {part} of each curve "
          f"({seconds:.0f} s for {len(errors)} fitters)")
    for n, v in sorted(rmse.items(), key=lambda kv: kv[1]):
        print(f"  {n:<18} rmse_log {v:.4f}")
    counts = pd.Series(chosen).value_counts().to_dict()
    print(f"  auto chose: {counts}")
    line = f"  auto {rmse['auto']:.4f} vs best single law with hindsight ({best}) {singles[best]:.4f}"
    if peer is not None:
        out = peer(jobs)
        e = [np.log(o["y"]) - np.log(test["loss"].to_numpy()) if "y" in o else np.full(len(test), np.nan)
             for o, (_, test) in zip(out, splits(runs, fraction))]
        line += f"; peer separable-power {_rmse(np.concatenate(e)):.4f}"
    print(line)
    return rmse["auto"], singles[best]


def _rmse(e):
    return float(np.sqrt(np.mean(e**2))) if np.all(np.isfinite(e)) else float("inf")


def main(quick: bool) -> None:
    prefix, why = _peer.peer_status()
    peer = None
    if prefix is None:
        print(f"peer simple-scaling-laws: not run ({why})")
    else:
        peer = lambda jobs: _peer.peer_forecasts(jobs, n_draws=50)  # noqa: E731
    # the 4-digit-addition curve is fitted as in the paper (squared log error): a Huber loss with
    # delta 1e-3 treats its sharp break as outliers
    cases = [("bnsl 4-digit addition (mse)", *bnsl_addition(), "mse"),
             ("pythia error (1 - acc) vs tokens per task and size", *pythia_errors(PYTHIA_TASKS[:3] if quick else PYTHIA_TASKS),
              "huber")]
    if not quick:
        cases.append(("MPL loss vs step per model size and LR schedule", *mpl_schedules(), "huber"))
    results = [evaluate(name, runs, fraction, peer, loss) for name, runs, fraction, loss in cases]
    results.append(chinchilla_table())
    ratio = np.array([a / b for a, b in results])
    print(f"\nauto_over_best_single: {' '.join(f'{r:.3f}' for r in ratio)} (<= 1: auto at least as good)")


if __name__ == "__main__":
    main("--quick" in sys.argv)
