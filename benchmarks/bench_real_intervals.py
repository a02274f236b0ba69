"""Forecasts and 90% intervals on real extrapolations: ours next to the peer's, table by table.

Each case fits on the small scales of a real published table (``../shared/data``) and forecasts the
held-out larger ones, the way a user would: the fit with a row bootstrap, then ``predict`` and
``predict_interval`` at the held-out runs. Per case and law it prints:

* ``cover``: share of held-out runs inside the nominal 90% interval;
* ``width``: the median interval width as the ratio ``hi / lo`` (sharpness);
* ``score``: the mean interval score of Gneiting and Raftery (2007) in natural-log space: width
  plus ``2 / (1 - level)`` times the distance by which the truth falls outside (lower is better);
* ``rmse``: RMSE of log y of the point forecasts (of y for the accuracy case, which has zeros);
* for ``auto``: which laws it chose, and the point-forecast RMSE of every candidate it could have
  chosen (each fitted alone on the same splits), with the ratio of auto's to the best of them; and
  the RMSE of averaging the candidates auto trusted (weights 1 / score^2), to measure whether
  averaging would forecast better than choosing (auto's intervals already reach its rivals').

The peer ``simple-scaling-laws`` 0.2.0 (its ``separable-power`` law, ``kind="new-run"`` intervals)
runs on the same splits under Python 3.12 when available (see ``_peer.py``).

Run: ``.venv/bin/python benchmarks/bench_real_intervals.py [CASE ...]``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import scalinglaws as sl

sys.path.insert(0, str(Path(__file__).parent))
import _peer  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
LEVEL, REPLICATES = 0.9, 200


def chinchilla():
    t = sl.load_dataset("chinchilla").table
    t = t[~t["excluded"].astype(bool)]
    return [("all", t[t["C"] < 1e21], t[t["C"] >= 1e21])], ["chinchilla", "auto"], "table"


def datablations():
    t = pd.read_csv(SHARED / "datablations_muennighoff2023" / "datablations_final_losses_all.csv")
    t = t.rename(columns={"N_params": "N", "D_tokens": "D", "val_loss": "loss"})
    return [("all", t[t["N"] < 2e9], t[t["N"] >= 2e9])], ["chinchilla", "auto"], "table"


def openeurollm():
    t = pd.read_csv(SHARED / "openeurollm_dense_scaling" / "lr_gbsz_min_smooth.csv")
    return [("all", t[t["C"] < 3e20], t[t["C"] >= 3e20])], ["chinchilla", "kaplan_nd", "auto"], "table"


def repeated_sampling():
    """-log coverage vs samples k (Brown et al. 2024, Pythia on MATH): train k <= 100, forecast to 10,000."""
    t = pd.read_csv(SHARED / "monkeys_repeated_sampling" / "brown2024_pythia_math_coverage_vs_k.csv")
    t = t.assign(x=t["k"].astype(float), loss=-np.log(t["coverage_pass_at_k"]))
    return [(m, g[g["x"] <= 100], g[g["x"] > 100]) for m, g in t.groupby("Model")], ["power_law", "auto"], "curve"


def pythia_accuracy():
    """LAMBADA accuracy (zeros at early checkpoints) vs training compute 6 N D, every checkpoint of
    the Pythia models below 2B parameters; forecast every checkpoint of the 2.8B, 6.9B and 12B."""
    t = pd.read_csv(SHARED / "pythia_evals" / "pythia_opt_bloom_evals_summary.csv")
    t = t[(t["family"] == "pythia") & (t["variant"] == "standard") & (t["num_fewshot"] == 0)]
    t = t[t["tokens_seen"] > 0]
    t = t.assign(x=6.0 * t["N_params"] * t["tokens_seen"], loss=t["lambada_openai_acc"])
    return [("all", t[t["N_params"] < 2e9], t[t["N_params"] >= 2e9])], ["sigmoid_log", "auto"], "accuracy"


CASES = {"chinchilla": chinchilla, "datablations": datablations, "openeurollm": openeurollm,
         "repeated_sampling": repeated_sampling, "pythia_accuracy": pythia_accuracy}


def scores(y, lo, hi, y_hat, log=True):
    """Coverage, median width (ratio hi / lo in log space, hi - lo otherwise), mean interval score
    and RMSE, in log space (or of y itself, for a metric with zeros)."""
    f = np.log if log else (lambda v: v)  # noqa: E731
    ly, llo, lhi = f(y), f(lo), f(hi)
    miss = np.maximum(llo - ly, 0.0) + np.maximum(ly - lhi, 0.0)
    return {"cover": float(np.mean((llo <= ly) & (ly <= lhi))),
            "width": float(np.exp(np.median(lhi - llo)) if log else np.median(lhi - llo)),
            "score": float(np.mean(lhi - llo + 2.0 / (1.0 - LEVEL) * miss)),
            "rmse": float(np.sqrt(np.mean((f(y_hat) - ly) ** 2)))}


def candidates(splits, inputs, log):
    """Point forecasts of every law auto could choose, each fitted alone on the same splits: per law,
    one array of held-out forecasts per split (None where the law could not be fitted)."""
    from scalinglaws.select import applicable_laws

    out = {}
    for law in applicable_laws(sl.Runs(splits[0][1])):
        hats = []
        for _, train, test in splits:
            try:
                hats.append(sl.fit(law, train).predict(test[list(inputs)]))
            except sl.ScalingLawsError:
                hats.append(None)
        out[law.name] = hats
    return out


def rmse(hats, splits, log):
    f = np.log if log else (lambda v: v)  # noqa: E731
    with np.errstate(all="ignore"):
        e = np.concatenate([f(h) - f(test["loss"].to_numpy()) for h, (_, _, test) in zip(hats, splits)])
    return float(np.sqrt(np.mean(e**2)))


def averaged(single, selections, log):
    """Per split, the forecasts of the candidates auto trusted (status ``scored``; tied ones once),
    averaged in the fit space with weights 1 / score^2 (a stacking that needs no extra fit)."""
    f, inv = (np.log, np.exp) if log else ((lambda v: v), (lambda v: v))  # noqa: E731
    out = []
    for k, sel in enumerate(selections):
        trusted, seen = [], set()
        for c in sel.candidates:
            if c.status == "scored" and np.isfinite(c.score) and c.law in single \
                    and round(c.score, 9) not in seen:
                seen.add(round(c.score, 9))
                trusted.append(c)
        w = np.array([1.0 / c.score**2 for c in trusted])
        with np.errstate(all="ignore"):
            out.append(inv(np.sum([wi * f(single[c.law][k]) for wi, c in zip(w / w.sum(), trusted)], axis=0)))
    return out


def ours(law, splits, inputs, log):
    ys, los, his, hats, chosen, failed, selections = [], [], [], [], [], [], []
    for name, train, test in splits:
        try:
            r = sl.fit(law, train, bootstrap=REPLICATES, rng=0)
            lo, hi = r.predict_interval(test[list(inputs)], level=LEVEL)
        except sl.ScalingLawsError as exc:
            failed.append(f"{name}: {exc}")
            continue
        ys.append(test["loss"].to_numpy()), los.append(lo), his.append(hi)
        hats.append(r.predict(test[list(inputs)]))
        chosen.append(r.law.name)
        selections.append(r.selection)
    if not ys:
        return None, chosen, failed, selections
    return scores(*(np.concatenate(v) for v in (ys, los, his, hats)), log=log), chosen, failed, selections


def peer(splits, kind):
    law = "chinchilla" if kind == "table" else "power_law_offset"
    cols = ["N", "D"] if kind == "table" else ["x"]
    out = _peer.peer_forecasts([(train[cols + ["loss"]], test[cols], law) for _, train, test in splits],
                               level=LEVEL, n_draws=REPLICATES)
    keep = [(o, test) for o, (_, _, test) in zip(out, splits) if "error" not in o]
    if not keep:
        return None
    cat = lambda f: np.concatenate([f(o, t) for o, t in keep])  # noqa: E731
    return scores(cat(lambda o, t: t["loss"].to_numpy()), cat(lambda o, t: o["lo"]), cat(lambda o, t: o["hi"]),
                  cat(lambda o, t: o["y"]))


def line(label, s, extra=""):
    if s is None:
        return f"  {label:<22} no forecast {extra}"
    return (f"  {label:<22} cover {s['cover']:.2f}  width x{s['width']:.3g}  score {s['score']:.3f}  "
            f"rmse {s['rmse']:.4f}  {extra}")


def main(names):
    prefix, why = _peer.peer_status()
    print(f"nominal {LEVEL:.0%} intervals, {REPLICATES} bootstrap replicates; peer: {why}")
    for name in names:
        splits, laws, kind = CASES[name]()
        n_train = sum(len(s[1]) for s in splits)
        n_test = sum(len(s[2]) for s in splits)
        print(f"{name}: {len(splits)} split(s), {n_train} training runs, {n_test} held out")
        inputs = ("N", "D") if kind == "table" else ("x",)
        log = kind != "accuracy"
        for law in laws:
            t = time.perf_counter()
            s, chosen, failed, selections = ours(law, splits, inputs, log)
            extra = f"({time.perf_counter() - t:.0f} s)"
            if law == "auto":
                extra += " chose " + ", ".join(f"{c} x{chosen.count(c)}" for c in sorted(set(chosen)))
            if failed:
                extra += f"; {len(failed)} split(s) gave no interval: {failed[0][:150]}"
            print(line(law, s, extra), flush=True)
            if law == "auto" and s is not None and not failed:
                single = {k: v for k, v in candidates(splits, inputs, log).items() if all(h is not None for h in v)}
                errors = {k: rmse(v, splits, log) for k, v in single.items()}
                best = min(errors, key=errors.get)
                print(f"  {'':<22} auto / best single candidate ({best} {errors[best]:.4f}): "
                      f"{s['rmse'] / errors[best]:.2f}; every candidate: "
                      + ", ".join(f"{k} {v:.4f}" for k, v in sorted(errors.items(), key=lambda kv: kv[1])), flush=True)
                stacked = rmse(averaged(single, selections, log), splits, log)
                print(f"  {'':<22} averaging auto's trusted candidates (weights 1/score^2): rmse {stacked:.4f}, "
                      f"/ best single {stacked / errors[best]:.2f}", flush=True)
        if prefix is not None and kind != "accuracy":
            print(line("peer separable-power", peer(splits, kind)), flush=True)
        elif kind == "accuracy":
            print("  peer separable-power   not run: it fits log values, and these accuracies include zeros")


if __name__ == "__main__":
    main(sys.argv[1:] or list(CASES))
