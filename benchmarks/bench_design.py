"""Which runs to train next: compute needed to reach a target interval width, in simulated studies.

Each study draws a true Chinchilla law near Epoch's fit (alpha, beta in [0.28, 0.40], A and B
within a factor e^0.3 of Epoch's, E in [1.6, 2.0]), starts from 12 seed runs (N = 2e7 to 2e8 at 5,
20 and 80 tokens per parameter, log-normal noise of 1%) and buys more runs until the 90% interval
of the law's curve at the target (N = 1e10, D = 2e11) is at most 5% wide (hi / lo <= 1.05). The
width is judged the same way for every strategy: the linearised (Gauss-Newton) interval at the
true parameters given the runs trained so far, checked after every run, so no strategy is favoured
by how it measures itself. Three strategies:

* ``design``: rounds of `scalinglaws.design.propose_runs` on a fresh bootstrapped fit (64
  replicates; the prediction-interval calibration, which design does not read, is skipped to save
  time), each round a budget of half the compute spent so far (seed included);
* ``grid``: a Chinchilla-style iso-FLOP grid, budgets 1e17, 3e17, 1e18, ... with 5 sizes per budget
  at 1/4 to 4 times sqrt(C / 120) (20 tokens per parameter);
* ``one-best``: the rule of simple-scaling-laws' ``suggest_runs`` (0.2.0) as we read it, carried over
  to this goal: each round, the single run of the largest expected improvement among those under a
  cost cap (the same round budget), without weighing improvement against cost. Its own function
  plans over the package's recipe configurations (model widths, GPU profiles), which a law of (N, D)
  does not have, so the rule is re-implemented here with our ensemble update, not called.

It prints, per strategy, the median and mean compute (FLOPs beyond the seed runs) to reach the
width, the studies that reached it within 1e22 FLOPs, and the median per-study ratio of each
alternative's compute to ``design``'s.

    python benchmarks/bench_design.py [--studies 100]
    # or split over two processes, then summarise the log:
    python benchmarks/bench_design.py --studies 50 --log design.jsonl &
    python benchmarks/bench_design.py --first 50 --studies 50 --log design.jsonl
    python benchmarks/bench_design.py --summarize design.jsonl
"""

import argparse
import json
import time
from dataclasses import replace

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

import scalinglaws as sl
from scalinglaws.design import propose_runs
from scalinglaws.fit import prepare, solve
from scalinglaws.uncertainty import bootstrap as refit

jax.config.update("jax_enable_x64", True)
TARGET = (1e10, 2e11)
GOAL = 1.05
SIGMA = 0.01
CAP = 1e22
LAW = sl.get_law("chinchilla")


def _log_f(th, N, D):
    E, log_a, log_b, alpha, beta = th
    return jnp.log(E + jnp.exp(log_a - alpha * jnp.log(N)) + jnp.exp(log_b - beta * jnp.log(D)))


_JAC = jax.jit(jax.jacfwd(_log_f))


def true_width(p, N, D):
    th = jnp.array([p["E"], np.log(p["A"]), np.log(p["B"]), p["alpha"], p["beta"]])
    J = np.asarray(_JAC(th, jnp.asarray(N, dtype=jnp.float64), jnp.asarray(D, dtype=jnp.float64)))
    g = np.asarray(_JAC(th, jnp.array([TARGET[0]]), jnp.array([TARGET[1]])))[0]
    return float(np.exp(2 * 1.645 * SIGMA * np.sqrt(max(g @ np.linalg.pinv(J.T @ J) @ g, 0.0))))


class Study:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        r = self.rng
        self.p = {"E": r.uniform(1.6, 2.0), "A": 482.006 * np.exp(r.uniform(-0.3, 0.3)),
                  "B": 2085.434 * np.exp(r.uniform(-0.3, 0.3)), "alpha": r.uniform(0.28, 0.40),
                  "beta": r.uniform(0.28, 0.40)}
        N = np.repeat([2e7, 5e7, 1e8, 2e8], 3)
        self.seed_runs = (N, N * np.tile([5.0, 20.0, 80.0], 4))
        self.seed_cost = float(np.sum(6 * self.seed_runs[0] * self.seed_runs[1]))

    def observe(self, N, D):
        N, D = np.asarray(N, dtype=float), np.asarray(D, dtype=float)
        return LAW.predict(self.p, {"N": N, "D": D}) * np.exp(self.rng.normal(0, SIGMA, N.shape))

    def buy(self, choose):
        """Runs from ``choose(N, D, y, spent)`` (a list of (N, D)) until the width goal; compute spent."""
        N, D = (list(a) for a in self.seed_runs)
        y = list(self.observe(N, D))
        spent = 0.0
        while spent < CAP:
            proposal = choose(np.array(N), np.array(D), np.array(y), spent)
            if not proposal:
                return np.inf
            for n, d in proposal:
                N.append(n), D.append(d), y.append(float(self.observe([n], [d])[0]))
                spent += 6 * n * d
                if true_width(self.p, np.array(N), np.array(D)) <= GOAL:
                    return spent
        return np.inf


def fitted(N, D, y, seed):
    """The fit and its 64 bootstrap replicates, by the engine `sl.fit(..., bootstrap=64)` uses, without
    the nested backtests that calibrate prediction intervals (design reads the replicates only)."""
    problem = prepare(LAW, pd.DataFrame({"N": N, "D": D, "loss": y}))
    result, starts = solve(problem, rng=seed)
    return replace(result, bootstrap=refit(problem, result, starts, 64, "rows", None, 0.95,
                                           np.random.default_rng(seed)))


def design(study, per_flop=True):
    def choose(N, D, y, spent):
        budget = 0.5 * (study.seed_cost + spent)
        try:
            r = propose_runs(fitted(N, D, y, len(N)), budget, {"N": TARGET[0], "D": TARGET[1]}, per_flop=per_flop,
                             max_runs=200 if per_flop else 1)
        except sl.ScalingLawsError:
            return None
        return [(run["N"], run["D"]) for run in r["runs"]]
    return choose


def grid(study):
    budgets = iter(1e17 * 3.0 ** np.arange(0, 20))

    def choose(N, D, y, spent):
        C = next(budgets)
        n0 = np.sqrt(C / 120.0)
        return [(n0 * f, C / (6 * n0 * f)) for f in (0.25, 0.5, 1.0, 2.0, 4.0)]
    return choose


def run_studies(first, last, log=None):
    results = {"design": [], "grid": [], "one-best": []}
    t0 = time.time()
    for s in range(first, last):
        row = {"study": s}
        for name, strategy in (("design", lambda st: design(st)), ("grid", grid),
                               ("one-best", lambda st: design(st, per_flop=False))):
            study = Study(s)
            row[name] = study.buy(strategy(study))
            results[name].append(row[name])
        if log is not None:
            with open(log, "a") as f:
                f.write(json.dumps({k: (None if isinstance(v, float) and not np.isfinite(v) else v)
                                    for k, v in row.items()}) + "\n")
        if (s + 1 - first) % 10 == 0:
            print(f"{s + 1 - first} studies, {time.time() - t0:.0f} s", flush=True)
    return results


def summarize(results, n):
    spent = {k: np.array(v, dtype=float) for k, v in results.items()}
    print(f"\ncompute beyond the seed runs to reach a 90% width hi/lo <= {GOAL} at N={TARGET[0]:g}, D={TARGET[1]:g} "
          f"({n} studies)")
    for k, v in spent.items():
        ok = np.isfinite(v)
        print(f"{k:9s} reached {ok.sum():3d}/{v.size}  median {np.median(v):.3g}  mean (reached) "
              f"{np.mean(v[ok]):.3g} FLOPs")
    for k in ("grid", "one-best"):
        both = np.isfinite(spent[k]) & np.isfinite(spent["design"])
        ratio = spent[k][both] / spent["design"][both]
        print(f"{k} / design, per study: median {np.median(ratio):.2f}, design cheaper in "
              f"{np.mean(ratio > 1):.0%} of {both.sum()} studies both reached")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--studies", type=int, default=100)
    parser.add_argument("--first", type=int, default=0, help="the first study (to split a run over processes)")
    parser.add_argument("--log", help="append each study's result to this JSON-lines file")
    parser.add_argument("--summarize", help="print the summary of a JSON-lines log instead of running")
    args = parser.parse_args()
    sl.enable_compilation_cache()  # processes that split the studies share their compiled programs
    if args.summarize:
        rows = [json.loads(line) for line in open(args.summarize)]
        summarize({k: [np.inf if r[k] is None else r[k] for r in rows] for k in ("design", "grid", "one-best")},
                  len(rows))
        return
    summarize(run_studies(args.first, args.first + args.studies, args.log), args.studies)


if __name__ == "__main__":
    main()
