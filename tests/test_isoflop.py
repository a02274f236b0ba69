"""IsoFLOP analysis: Porian et al.'s published exponents from their points, edge rejection, the
parabola's bias, and errors."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl
from scalinglaws.isoflop import isoflop
from scalinglaws.cli import run

PORIAN = Path(__file__).resolve().parents[2] / "shared" / "data" / "porian2024_compute_optimal"
KEYS = ["source_file", "dataset", "hparams", "warmup", "decay", "param_count", "loss_type"]
needs_porian = pytest.mark.skipif(not PORIAN.is_dir(), reason="../shared/data/porian2024_compute_optimal absent")


@needs_porian
@pytest.mark.parametrize("key, noise", [
    (("summary_df.pickle.xz", "rw", "base", "long", "kaplan", "kaplan", "train"), 0.002),  # reproducing Kaplan: 0.835
    (("summary_df.pickle.xz", "rw", "tuned", "short", "const", "standard", "val"), 0.002),  # tuned: 0.497
    (("summary_df_owt2.pickle.xz", "owt2", "base", "short", "chinchilla", "standard", "val"), 0.01),
])
def test_reproduces_porian_exponents(key, noise):
    points = pd.read_csv(PORIAN / "isoflop_points.csv").set_index(KEYS).loc[key]
    fits = pd.read_csv(PORIAN / "compute_optimal_fits.csv").set_index(KEYS + ["fit"])
    published = float(fits.loc[key + ("bs_median_weighted",), "n_exponent"])
    q5, _, q95 = (float(v) for v in fits.loc[key + ("bootstrap_weighted_quantiles_5_50_95",), "n_exponent"].split(";"))
    got = isoflop(points.flops_budget.to_numpy(), points.N_params.to_numpy(), points.loss.to_numpy(), noise=noise)
    f = got.fits["N"]
    assert f["exponent"] == pytest.approx(published, abs=3e-3)
    assert f["interval"][0] <= published <= f["interval"][1]
    assert q5 <= f["exponent"] <= q95
    optima = pd.read_csv(PORIAN / "isoflop_optima.csv").set_index(KEYS).loc[key]
    ours = {o["C"]: o["N"] for o in got.optima if o["status"] == "ok"}
    theirs = dict(zip(optima.flops_budget, zip(optima.N_opt, optima.N_opt_log_std)))
    assert set(ours) == {c for c, (n, _) in theirs.items() if np.isfinite(n)}  # the same budgets rejected
    for c, n in ours.items():  # medians of other noise draws: within a third of their spread
        assert abs(np.log(n / theirs[c][0])) < theirs[c][1] / 3


def _chinchilla_grid(budgets, offsets, p):
    """Runs on iso-FLOP curves at sizes N*(C) x offsets (exact loss: no noise)."""
    law = sl.get_law("chinchilla")
    rows = []
    for C in budgets:
        (opt,) = sl.compute_optimal("chinchilla", C, params=p)
        for f in offsets:
            N = opt["N"] * f
            rows.append((C, N, C / (6 * N), float(law.predict(p, {"N": N, "D": C / (6 * N)}))))
    return np.array(rows).T


P = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
TRUE_A = 0.28 / 0.62


def test_interpolation_recovers_the_exponent_where_the_parabola_is_biased():
    """Sizes placed asymmetrically around the optimum, 1/30 to 3 times it: the parabola's vertex is
    pulled, and the pull changes with the budget (the curve's shape does), so its exponent is off."""
    C, N, D, L = _chinchilla_grid(np.geomspace(1e18, 1e22, 9), np.geomspace(1 / 30, 3, 12), P)
    good = isoflop(C, N, L, D=D, noise=1e-4, rng=0)
    bad = isoflop(C, N, L, D=D, noise=1e-4, rng=0, method="parabola")
    assert good.fits["N"]["exponent"] == pytest.approx(TRUE_A, abs=0.01)
    assert good.fits["N"]["exponent"] + good.fits["D"]["exponent"] == pytest.approx(1.0, abs=0.02)
    assert abs(bad.fits["N"]["exponent"] - TRUE_A) > abs(good.fits["N"]["exponent"] - TRUE_A)
    assert bad.note and not good.note


def test_a_budget_whose_minimum_is_on_the_edge_is_rejected():
    C, N, D, L = _chinchilla_grid([1e19, 1e20, 1e21, 1e22], np.geomspace(0.3, 3, 7), P)
    edge = (C == 1e22)
    N = np.where(edge, N * 10, N)  # that budget's sizes all lie above its optimum
    L = np.where(edge, sl.get_law("chinchilla").predict(P, {"N": N, "D": C / (6 * N)}), L)
    got = isoflop(C, N, L, noise=1e-3)
    status = {o["C"]: o["status"] for o in got.optima}
    assert status[1e22] == "edge" and status[1e19] == "ok"
    assert got.fits["N"]["budgets"] == 3


def test_errors_name_the_column():
    with pytest.raises(sl.InputError, match="isoflop column `loss` must hold finite positive numbers; row 2 has -1.0"):
        isoflop([1e18, 1e18, 1e18], [1e6, 1e7, 1e8], [3.0, -1.0, 3.0], noise=0.01)
    with pytest.raises(sl.InputError, match="--noise must be"):
        isoflop([1e18] * 3, [1e6, 1e7, 1e8], [3.0, 2.9, 3.0], noise=-1)
    with pytest.raises(sl.InputError, match="--method must be one of"):
        isoflop([1e18] * 3, [1e6, 1e7, 1e8], [3.0, 2.9, 3.0], noise=0.01, method="spline")


def test_cli_isoflop(tmp_path, capsys):
    C, N, D, L = _chinchilla_grid(np.geomspace(1e18, 1e21, 5), np.geomspace(0.2, 5, 9), P)
    path = tmp_path / "iso.csv"
    pd.DataFrame({"flops": C, "params": N, "tokens": D, "loss": L}).to_csv(path, index=False)
    assert run(["isoflop", str(path), "--budget", "flops", "--x", "N=params,D=tokens", "--noise", "0.001",
                "--replicates", "200", "--format", "json"]) == 0
    import json

    doc = json.loads(capsys.readouterr().out)
    assert doc["fits"]["N"]["exponent"] == pytest.approx(TRUE_A, abs=0.02)
    assert run(["isoflop", str(path), "--budget", "flops", "--x", "N=params", "--noise", "0.001",
                "--replicates", "200"]) == 0
    assert "N*(C) =" in capsys.readouterr().out
    assert run(["isoflop", str(path), "--budget", "flop", "--x", "N=params", "--noise", "0.001"]) == 1
    assert "--budget must name a column" in capsys.readouterr().err


def test_a_budget_rejected_along_d_drops_its_n_draws_too():
    """A budget whose D curve is rejected must not leave its N draws behind (they would misalign
    the replicates of the exponent fit)."""
    C, N, D, L = _chinchilla_grid([1e19, 1e20, 1e21, 1e22], np.geomspace(0.3, 3, 7), P)
    last = C == 1e22  # its D column ordered so that the lowest loss has the largest D: an edge along D
    D[last] = np.geomspace(1e9, 1e10, 7)[np.argsort(np.argsort(-L[last]))]
    got = isoflop(C, N, L, D=D, noise=1e-3, replicates=100, rng=8)
    assert [o["status"] for o in got.optima][-1] == "edge"
    assert {o["status"] for o in got.optima} <= {"ok", "edge", "unstable"}
    assert all(f["budgets"] == sum(o["status"] == "ok" for o in got.optima) for f in got.fits.values())


def test_pooled_configurations_are_said():
    C, N, D, L = _chinchilla_grid([1e19, 1e20, 1e21], np.geomspace(0.3, 3, 7), P)
    got = isoflop(np.r_[C, C], np.r_[N, N], np.r_[L, L * 1.01], noise=1e-3, replicates=50)
    assert "runs share a budget and a model size" in got.note
    with pytest.raises(sl.InputError, match="--noise must be a finite loss standard deviation > 0"):
        isoflop(C, N, L, noise=0.0)
