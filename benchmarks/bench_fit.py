"""Speed of the fit engine against a plain scipy multi-start, on the bundled Chinchilla runs.

Run: ``.venv/bin/python benchmarks/bench_fit.py``. One process, one run:

1. the scipy reference (``_scipy_reference.py``: L-BFGS-B per start of the 4,500-point grid,
   analytic gradient, best converged start) and ``--method hoffmann2022``, cold (the first call in
   this process, compile included) and warm (median of 3 calls after it);
2. checks both reach the same optimum (objective equal to 1e-9 relative);
3. a fit plus a 1,000-replicate row bootstrap with the default method, warm;
4. the CLI from process start to exit (cold; median of 5 processes), and the scipy reference run as
   a script;
5. the peer ``simple-scaling-laws`` when ``_peer.find_peer()`` finds a Python 3.12 with it: its cold
   CLI ``scaling-laws fit runs.parquet --law separable-power --draws 1000`` on the same 240 runs
   (median of 5), and
   its in-process ``fit(n_draws=1000)`` first and second call, each row next to ours (says so when not);
6. prints a table and, last, ``speedup_warm=X speedup_cold=Y bootstrap_1000_s=Z``.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


CLI_REPEATS = 5  # cold process timings vary on a shared machine: each is the median of this many runs


def _wall(cmd: list[str], repeats: int = CLI_REPEATS) -> float:
    """Median wall time of ``cmd``, process start to exit."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def _peer(cli_boot: float, boot_s: float) -> tuple[dict[str, tuple[str, str, str]], str | None]:
    """Peer rows keyed by the row of ours they go after, or no rows and one line saying why not."""
    from _peer import PeerError, peer_cli_seconds, peer_inprocess_seconds, peer_status

    prefix, why = peer_status()
    if prefix is None:
        return {}, f"peer simple-scaling-laws 0.2.0: not run ({why})"
    try:
        cli = peer_cli_seconds(repeats=CLI_REPEATS)
        fit = peer_inprocess_seconds()
    except (PeerError, OSError, subprocess.SubprocessError) as exc:
        return {}, f"peer simple-scaling-laws: not run ({why}; it failed: {str(exc).strip()[-300:]})"
    note = f"{why}; {fit['n_runs']} runs, {fit['uncertainty_method']}"
    return {
        "boot": ("peer in-process fit, 1,000 draws, first call (after imports)", f"{fit['first_s']:.3f} s",
                 f"ours warm {boot_s:.3f} s; peer import {fit['import_s']:.2f} s"),
        "boot2": ("peer in-process fit, 1,000 draws, warm (second call)", f"{fit['warm_s']:.3f} s",
                  f"{fit['warm_s'] / boot_s:.1f}x ours"),
        "cli": ("peer CLI cold: scaling-laws fit --draws 1000 (process start to exit)", f"{cli:.2f} s",
                f"{cli / cli_boot:.1f}x ours ({cli_boot:.2f} s); {note}"),
    }, None


def main() -> None:
    import jax

    import scalinglaws as sl
    from _scipy_reference import fit as scipy_fit

    print(f"machine: {os.cpu_count()} cores; JAX {jax.__version__} backend {jax.default_backend()} "
          f"devices {[str(d) for d in jax.devices()]}; JAX compilation cache {sl.enable_compilation_cache()}")
    runs = sl.load_dataset("chinchilla")
    kept = runs.table[~runs.table["excluded"]]

    t = time.perf_counter()
    ours = sl.fit("chinchilla", runs, method="hoffmann2022")
    cold = time.perf_counter() - t
    warm_times = []
    for _ in range(3):
        t = time.perf_counter()
        sl.fit("chinchilla", runs, method="hoffmann2022")
        warm_times.append(time.perf_counter() - t)
    warm = sorted(warm_times)[1]

    t = time.perf_counter()
    ref = scipy_fit(kept["N"].to_numpy(), kept["D"].to_numpy(), kept["loss"].to_numpy())
    scipy_s = time.perf_counter() - t
    same = abs(ours.objective - ref.fun) <= 1e-9 * abs(ref.fun)

    sl.fit("chinchilla", runs, bootstrap=1000)  # compile
    boot_times = []
    for _ in range(3):
        t = time.perf_counter()
        boot = sl.fit("chinchilla", runs, bootstrap=1000)
        boot_times.append(time.perf_counter() - t)
    boot_s = sorted(boot_times)[1]
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20

    cli = str(Path(sys.executable).with_name("scalinglaws"))
    cli_hoff = _wall([cli, "fit", "chinchilla", "--law", "chinchilla", "--method", "hoffmann2022", "--format", "json"])
    cli_boot = _wall([cli, "fit", "chinchilla", "--law", "chinchilla", "--bootstrap", "1000", "--format", "json"])
    scipy_script = _wall([sys.executable, str(HERE / "_scipy_reference.py")], repeats=1)

    peer_rows, peer_line = _peer(cli_boot, boot_s)
    rows = [
        ("scipy reference, in process (4,500 L-BFGS-B starts)", f"{scipy_s:.2f} s", f"objective {ref.fun:.10e}"),
        ("hoffmann2022, cold (first call, compile included)", f"{cold:.2f} s", f"objective {ours.objective:.10e}"),
        ("hoffmann2022, warm (median of 3)", f"{warm:.3f} s", f"same optimum (1e-9 rel): {same}"),
        ("default fit + 1,000-replicate bootstrap, warm (median of 3)", f"{boot_s:.3f} s",
         f"alpha se {boot.bootstrap.se['alpha']:.4f}; guard {boot.bootstrap.n_guard_better}/{boot.bootstrap.n_guarded}"),
        *[peer_rows[k] for k in ("boot", "boot2") if k in peer_rows],
        ("CLI cold: fit --method hoffmann2022 (process start to output)", f"{cli_hoff:.2f} s",
         f"{scipy_script / cli_hoff:.1f}x faster than the scipy script"),
        ("CLI cold: fit --bootstrap 1000", f"{cli_boot:.2f} s", "target: below the peer's cold CLI"),
        *[peer_rows[k] for k in ("cli",) if k in peer_rows],
        ("scipy reference as a script", f"{scipy_script:.2f} s", ""),
        ("peak memory of this process", f"{peak_gib:.2f} GiB", "target < 2 GiB"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>10}  {note}")
    if peer_line is not None:
        print(peer_line)
    print(f"speedup_warm={scipy_s / warm:.1f} speedup_cold={scipy_s / cold:.1f} bootstrap_1000_s={boot_s:.3f} "
          f"cli_bootstrap_cold_s={cli_boot:.2f}" + (f" peer_cli_cold_s={peer_rows['cli'][1][:-2]} "
                                                     f"peer_over_ours={float(peer_rows['cli'][1][:-2]) / cli_boot:.2f}"
                                                     if "cli" in peer_rows else ""))


if __name__ == "__main__":
    main()
