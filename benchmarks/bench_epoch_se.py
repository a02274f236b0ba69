"""Bootstrap standard errors of the Huber-likelihood fit against Epoch AI's published ones.

Run: ``.venv/bin/python benchmarks/bench_epoch_se.py [--replicates 4000] [--seeds 0,1,2,3]``.

Besiroglu et al. 2024 (arXiv:2404.10102) fit the Chinchilla law by maximum likelihood under a
Huber error density (``loss="huber-mle"``: A 482.01, B 2085.43, E 1.82, alpha 0.35, beta 0.37) and
give bootstrap standard errors from 4,000 row resamples. This script runs the same bootstrap
(4,000 replicates per seed, every replicate refitted by the batched engine), prints per parameter
our standard error next to theirs with the relative difference, our 95% percentile interval
(next to theirs where published: alpha and beta), the replicate counts (failed, guarded, guard
found a better optimum), and the wall time of the call (the first in this process, so JIT
compilation is included unless the stored programs already hold them).

Then, as an independent check that "converged" means stationary, it replays each replicate's
resampling counts and computes the Newton decrement ``g' H^-1 g`` of the objective at the
replicate's parameters with the exact gradient and Hessian (autodiff), against the scale ``n``.

A standard error from 4,000 replicates is itself an estimate. B's replicates are heavy-tailed (a
few replicates with large B and beta carry much of its variance), so its Monte Carlo error is
several percent (Epoch's published 1293 carries the same error). With several seeds the script
prints each seed's standard errors, their spread, and the pooled standard errors of all replicates.

The last line is ``max_rel_se_diff=X (pooled) per_seed=[...] n_failed=Y seconds=Z``.
"""

from __future__ import annotations

import argparse
import os
import time

EPOCH_SE = {"A": 124.5, "B": 1293.0, "E": 0.0257, "alpha": 0.0154, "beta": 0.0206}
EPOCH_CI = {"alpha": (0.317, 0.373), "beta": (0.331, 0.415)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=4000)
    parser.add_argument("--seeds", default="0,1,2,3", help="comma-separated seeds, one bootstrap each")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]

    import jax
    import numpy as np

    import scalinglaws as sl

    print(f"machine: {os.cpu_count()} cores; JAX {jax.__version__} backend {jax.default_backend()}; "
          f"JAX compilation cache {sl.enable_compilation_cache()}")
    runs = sl.load_dataset("chinchilla")
    pooled = {name: [] for name in EPOCH_SE}
    per_seed, n_failed, total = [], 0, 0.0
    for seed in seeds:
        t = time.perf_counter()
        r = sl.fit("chinchilla", runs, loss="huber-mle", bootstrap=args.replicates, rng=seed)
        seconds = time.perf_counter() - t
        total += seconds
        b = r.bootstrap
        print(f"\nhuber-mle fit: {r.status}, NLL {r.objective:.4f}, sigma {r.loss_params['sigma']:.4g}; "
              f"row bootstrap, {b.n_replicates} replicates, seed {seed}")
        rel = _table(r.params, b.se, b.ci)
        per_seed.append(max(abs(v) for v in rel.values()))
        for name, v in b.values().items():
            if name in pooled:
                pooled[name].append(v)
        n_failed += b.n_failed
        print(f"replicates: {b.n_replicates}, failed (not converged, left out) {b.n_failed}, guarded {b.n_guarded}, "
              f"guard found a better optimum in {b.n_guard_better} (then every replicate is multi-started)")
        print(f"wall time of the call: {seconds:.1f} s")
        if b.n_failed == 0:  # replicate i is then row i of the resampling
            worst, at_start = _stationarity(r, runs, b, seed)
            print(f"stationarity: max over replicates of g' H^-1 g / n = {worst:.1e} "
                  f"(at the warm start, the full-data optimum: median {at_start:.1e})")
    values = {k: np.concatenate(v) for k, v in pooled.items()}
    print(f"\npooled over seeds {seeds}: {len(values['A'])} replicates")
    se = {k: float(np.std(v, ddof=1)) for k, v in values.items()}
    ci = {k: tuple(np.quantile(v, [0.025, 0.975])) for k, v in values.items()}
    rel = _table(r.params, se, ci)
    print(f"max |rel se diff| per seed: {', '.join(f'{v:.3f}' for v in per_seed)}")
    print(f"max_rel_se_diff={max(abs(v) for v in rel.values()):.4f} (pooled) "
          f"per_seed=[{','.join(f'{v:.4f}' for v in per_seed)}] n_failed={n_failed} seconds={total:.1f}")


def _table(params, se, ci) -> dict:
    """Print one row per parameter against Epoch's; returns the relative differences of the se."""
    print(f"{'param':<6} {'estimate':>10} {'se':>10} {'Epoch se':>10} {'rel diff':>9}   "
          f"{'95% interval':>22}   {'Epoch 95%':>16}")
    rel = {}
    for name, epoch in EPOCH_SE.items():
        rel[name] = se[name] / epoch - 1.0
        lo, hi = ci[name]
        theirs = EPOCH_CI.get(name)
        theirs_s = f"({theirs[0]:.3f}, {theirs[1]:.3f})" if theirs else "-"
        print(f"{name:<6} {params[name]:>10.4g} {se[name]:>10.4g} {epoch:>10.4g} {rel[name]:>+9.1%}   "
              f"({lo:>9.4g}, {hi:>9.4g})   {theirs_s:>16}")
    return rel


def _stationarity(r, runs, b, seed):
    """``(max, median at the warm start)`` of the Newton decrement over ``n`` across the replicates."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from scalinglaws.data import design
    from scalinglaws.fit._problem import Spec, make_data, objective, unconstrain
    from scalinglaws.uncertainty import resample

    spec = Spec(r.law, r.law.param_names, (), "huber-mle")
    dm = design(runs, r.law)
    counts, _ = resample("rows", b.n_replicates, dm.y.size, np.random.default_rng(seed), log_y=np.log(dm.y))
    base = make_data(spec, dm.x, dm.y, {}, r.delta)
    counts = np.pad(counts, ((0, 0), (0, base.w.size - dm.y.size)))

    @jax.jit
    @jax.vmap
    def decrement(u, w):
        def f(v):
            return objective(spec, v, base._replace(w=w))

        g = jax.grad(f)(u)
        return g @ jnp.linalg.solve(jax.hessian(f)(u), g)

    u = unconstrain(spec, {k: np.asarray(v) for k, v in b.params.items()})
    u0 = np.broadcast_to(unconstrain(spec, {k: np.asarray(v) for k, v in r.params.items()}), u.shape)
    dec = np.concatenate([decrement(u[i:i + 1000], counts[i:i + 1000]) for i in range(0, len(u), 1000)])
    dec0 = np.asarray(decrement(u0[:200], counts[:200]))
    return float(dec.max() / dm.y.size), float(np.median(dec0) / dm.y.size)


if __name__ == "__main__":
    main()
