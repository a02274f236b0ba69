"""How well Muennighoff et al.'s 182 runs identify the half-lives R_D* and R_N* of `data_constrained`.

With the five base constants held at the published values (as the authors fitted), prints:
* the profile objective over R_D* (R_N* refitted at each value): how little the fit prefers any R_D*;
* the same over R_N* (R_D* refitted);
* the free fit, and a row bootstrap's 95% percentile interval of each half-life.

Run: .venv/bin/python benchmarks/bench_data_constrained_profile.py [replicates, default 200]
"""

import sys

import numpy as np

import scalinglaws as sl

BASE = dict(E=1.8691437, A=520.82495, B=1487.7161, alpha=0.3526596, beta=0.3526596)
PUBLISHED = dict(R_D_star=15.387, R_N_star=5.309, objective=0.0158259)


def profile(runs, name, values):
    other = "R_N_star" if name == "R_D_star" else "R_D_star"
    print(f"profile over {name} ({other} refitted), objective:")
    for v in values:
        r = sl.fit("data_constrained", runs, fix={**BASE, name: v})
        print(f"  {name} = {v:8.4g}: {r.objective:.7f}  ({other} = {r.params[other]:.4g}, {r.status})")


def main():
    replicates = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    runs = sl.load_dataset("datablations")
    profile(runs, "R_D_star", [5.0, 10.0, 15.387, 30.0, 95.4, 300.0, 1000.0])
    profile(runs, "R_N_star", [0.5, 1.0, 1.706, 5.309, 10.0, 30.0])
    r = sl.fit("data_constrained", runs, fix=BASE, bootstrap=replicates)
    print(f"free fit: objective {r.objective:.7f} (published {PUBLISHED['objective']}), status {r.status}")
    for name in ("R_D_star", "R_N_star"):
        lo, hi = r.bootstrap.ci[name]
        print(f"  {name} = {r.params[name]:.4g} (published {PUBLISHED[name]}), {r.bootstrap.level:.0%} bootstrap "
              f"interval [{lo:.3g}, {hi:.3g}] over {replicates} replicates ({r.bootstrap.n_failed} not converged)")
    bounds = {p.name: p.bounds for p in r.law.params}
    print("  bounds:", {k: bounds[k] for k in ("R_D_star", "R_N_star")})


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
