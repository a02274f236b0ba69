"""The plain scipy reference that peers use: one L-BFGS-B run per start of the published grid.

Objective: sum of Huber (delta 1e-3) of log L - LSE(a - alpha log N, b - beta log D, e), with an
analytic gradient; ``scipy.optimize.minimize(method="L-BFGS-B")`` from each of the 4,500 points;
the best converged start wins. Also runnable as a script (the cold reference for the CLI).
"""

from __future__ import annotations

import itertools
import time

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp

DELTA = 1e-3
GRID = list(itertools.product(
    (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),  # a
    (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),  # b
    (-1.0, -0.5, 0.0, 0.5, 1.0),  # e
    (0.0, 0.5, 1.0, 1.5, 2.0),  # alpha
    (0.0, 0.5, 1.0, 1.5, 2.0),  # beta
))


def objective_and_gradient(v, log_n, log_d, log_l):
    a, b, e, alpha, beta = v
    terms = np.stack([a - alpha * log_n, b - beta * log_d, np.full_like(log_n, e)])
    lse = logsumexp(terms, axis=0)
    r = log_l - lse
    ar = np.abs(r)
    f = np.sum(np.where(ar <= DELTA, 0.5 * r * r, DELTA * (ar - 0.5 * DELTA)))
    psi = np.clip(r, -DELTA, DELTA)  # dHuber/dr
    soft = np.exp(terms - lse)  # d lse / d term
    g_term = -psi * soft  # df/dterm
    grad = np.array([g_term[0].sum(), g_term[1].sum(), g_term[2].sum(),
                     -(g_term[0] * log_n).sum(), -(g_term[1] * log_d).sum()])
    return f, grad


def fit(N, D, L):
    log_n, log_d, log_l = np.log(N), np.log(D), np.log(L)
    best = None
    for start in GRID:
        res = minimize(objective_and_gradient, np.array(start), args=(log_n, log_d, log_l), jac=True,
                       method="L-BFGS-B")
        if res.success and (best is None or res.fun < best.fun):
            best = res
    return best


def main():
    import pandas as pd

    from scalinglaws import load_dataset

    t = load_dataset("chinchilla").table
    t = t[~t["excluded"]]
    t0 = time.perf_counter()
    best = fit(t["N"].to_numpy(), t["D"].to_numpy(), t["loss"].to_numpy())
    a, b, e, alpha, beta = best.x
    print(f"A={np.exp(a):.6g} B={np.exp(b):.6g} E={np.exp(e):.6g} alpha={alpha:.6g} beta={beta:.6g} "
          f"objective={best.fun:.10e} seconds={time.perf_counter() - t0:.2f}")
    del pd


if __name__ == "__main__":
    main()
