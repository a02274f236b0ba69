"""Bootstrap: each resampling scheme, reproducibility, the guard, intervals, serialisation."""

import json

import numpy as np
import pytest
from conftest import simulate

import scalinglaws as sl
from scalinglaws.uncertainty import resample



@pytest.fixture(autouse=True)
def _float64():
    """Some tests take derivatives with JAX directly, as the engine does: in float64, as it does."""
    import jax

    with jax.enable_x64(True):
        yield


EPOCH_SE = {"A": 124.5, "B": 1293.0, "E": 0.0257, "alpha": 0.0154, "beta": 0.0206}


@pytest.fixture(scope="module")
def boot_fit(chinchilla_runs):
    return sl.fit("chinchilla", chinchilla_runs, bootstrap=1000, rng=0)


def test_row_bootstrap_matches_epochs_standard_errors_and_intervals(boot_fit):
    """Epoch (plain Huber refits, 4000 replicates): se within 15%, alpha/beta 95% intervals near theirs."""
    b = boot_fit.bootstrap
    assert b.n_failed == 0 and b.n_replicates == 1000 and len(b.params["alpha"]) == 1000
    for name, se in EPOCH_SE.items():
        assert b.se[name] == pytest.approx(se, rel=0.15), name
    assert b.ci["alpha"] == pytest.approx((0.317, 0.373), abs=0.004)
    assert b.ci["beta"] == pytest.approx((0.331, 0.415), abs=0.006)


def test_huber_likelihood_replicates_converge_to_stationary_points(chinchilla_runs):
    """Epoch's Huber likelihood is near-L1 (sigma ~ 1e-3 of the residuals, so the quadratic zone is
    ~1e-6 of them wide): every replicate refit must still converge, and each converged replicate
    must be a stationary point: Newton decrement g' H^-1 g with the exact Hessian (autodiff of the
    objective at the replicate's own resampled data) at rounding level against the scale n."""
    import jax
    import jax.numpy as jnp

    from scalinglaws.data import design
    from scalinglaws.fit._problem import Spec, make_data, objective, unconstrain

    replicates = 100
    r = sl.fit("chinchilla", chinchilla_runs, loss="huber-mle", bootstrap=replicates, rng=0)
    b = r.bootstrap
    assert b.n_failed == 0 and len(b.params["B"]) == replicates  # replicate i is row i of the resampling

    law = r.law
    spec = Spec(law, law.param_names, (), "huber-mle")
    dm = design(chinchilla_runs, law)
    counts, _ = resample("rows", replicates, dm.y.size, np.random.default_rng(0), t_y=np.log(dm.y))
    u = unconstrain(spec, {k: np.asarray(v) for k, v in b.params.items()})
    base = make_data(spec, dm.x, dm.y, {}, 1e-3)
    counts = np.pad(counts, ((0, 0), (0, base.w.size - dm.y.size)))  # zero-weight padding points

    def decrement(u, w):
        def f(v):
            return objective(spec, v, base._replace(w=w))

        g, H = jax.grad(f)(u), jax.hessian(f)(u)
        eig = jnp.linalg.eigvalsh(H)
        return g @ jnp.linalg.solve(H, g), eig[0] / eig[-1]

    dec, min_eig = jax.jit(jax.vmap(decrement))(jnp.asarray(u), jnp.asarray(counts))
    n = dm.y.size  # the warm start (the full-data optimum) has g' H^-1 g ~ 5e-7 n for these replicates
    assert np.all(np.asarray(dec) <= 1e-12 * n), np.max(dec) / n
    assert np.all(np.asarray(min_eig) > 0)  # positive definite: a minimum, not a saddle


def test_guard_finds_no_better_basin_than_the_warm_start(boot_fit):
    assert boot_fit.bootstrap.n_guarded == 50 and boot_fit.bootstrap.n_guard_better == 0


def test_derived_quantity_interval(boot_fit):
    """The compute-optimal exponent a = beta / (alpha + beta); Epoch: 0.513 (se 0.020)."""
    lo, hi = boot_fit.bootstrap.interval(lambda p: p["beta"] / (p["alpha"] + p["beta"]))
    a = boot_fit.params["beta"] / (boot_fit.params["alpha"] + boot_fit.params["beta"])
    assert lo < a < hi and 0.45 < lo and hi < 0.57


def test_same_seed_same_replicates(chinchilla_runs):
    a = sl.fit("chinchilla", chinchilla_runs, bootstrap=20, rng=3)
    b = sl.fit("chinchilla", chinchilla_runs, bootstrap=20, rng=3)
    c = sl.fit("chinchilla", chinchilla_runs, bootstrap=20, rng=4)
    assert a.bootstrap == b.bootstrap
    assert a.bootstrap.params["alpha"] != c.bootstrap.params["alpha"]


def test_resampling_schemes_draw_what_they_say():
    rng = np.random.default_rng(0)
    w, ly = resample("rows", 50, 30, rng, t_y=np.zeros(30))
    assert w.shape == (50, 30) and np.all(w.sum(axis=1) == 30)
    clusters = np.repeat(np.arange(6), 5)
    w, _ = resample("clusters", 50, 30, rng, clusters=clusters, t_y=np.zeros(30))
    assert np.all(w.sum(axis=1) == 30)
    for row in w:  # every member of a cluster gets the same count
        assert np.all(row.reshape(6, 5) == row.reshape(6, 5)[:, :1])
    log_y, log_fit = np.linspace(0, 1, 30), np.linspace(0, 1, 30) + 0.1
    w, ly = resample("residuals", 50, 30, rng, t_y=log_y, t_fit=log_fit)
    assert np.all(w == 1) and np.allclose(np.abs(ly - log_fit), 0.1)


def test_cluster_and_residual_bootstraps_fit():
    law = sl.get_law("power_law_offset")
    truth = {"E": 1.5, "a": 30.0, "b": 0.3}
    runs = simulate(law, truth, n=120, noise=0.01, seed=2, ranges={"x": (1e6, 1e11)})
    runs["model"] = np.repeat(np.arange(12), 10)
    for scheme in ("clusters", "residuals"):
        r = sl.fit(law, runs, bootstrap=200, resample=scheme, cluster="model" if scheme == "clusters" else None, rng=1)
        b = r.bootstrap
        assert b.scheme == scheme and b.n_failed == 0
        lo, hi = b.ci["b"]
        assert lo < r.params["b"] < hi and hi - lo < 0.3


def test_bootstrap_round_trips_and_summarises(chinchilla_runs):
    r = sl.fit("chinchilla", chinchilla_runs, bootstrap=20, rng=1)
    assert sl.FitResult.from_dict(json.loads(json.dumps(r.to_dict()))) == r
    s = r.summary()
    assert set(s["se"]) == set(r.params) and s["ci"]["level"] == 0.95 and len(s["ci"]["alpha"]) == 2


@pytest.mark.parametrize("kwargs,message", [
    (dict(bootstrap=5), "at least 10 replicates"),
    (dict(bootstrap=-1), "non-negative integer"),
    (dict(bootstrap=20, resample="jackknife"), "--resample must be one of rows, clusters, residuals"),
    (dict(bootstrap=20, resample="clusters"), "needs --cluster COLUMN"),
    (dict(bootstrap=20, resample="clusters", cluster="nope"), "--cluster column `nope` not found"),
    (dict(bootstrap=20, level=1.5), "--level must lie strictly between 0 and 1"),
])
def test_bootstrap_option_errors(chinchilla_runs, kwargs, message):
    with pytest.raises(sl.InputError, match=message):
        sl.fit("chinchilla", chinchilla_runs, **kwargs)


def test_cli_bootstrap_json():
    from typer.testing import CliRunner

    from scalinglaws.cli import app

    res = CliRunner().invoke(app, ["fit", "chinchilla", "--law", "chinchilla", "--bootstrap", "50", "--seed", "1",
                                   "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert set(doc["se"]) == {"E", "A", "B", "alpha", "beta"}
    assert doc["ci"]["level"] == 0.95 and doc["ci"]["alpha"][0] < doc["params"]["alpha"] < doc["ci"]["alpha"][1]
    assert doc["bootstrap"]["n_replicates"] == 50


def test_prediction_interval_and_extrapolation_labels(boot_fit):
    x = {"N": np.array([7e10, 1e9]), "D": np.array([1.4e12, 2e10])}
    labels, decades = boot_fit.extrapolation(x)
    assert labels == ["extrapolation", "interpolation"]
    n_max = boot_fit.x_range["N"][1]
    assert decades["N"][0] == pytest.approx(np.log10(7e10 / n_max)) and decades["N"][1] == 0.0
    lo, hi = boot_fit.predict_interval(x, level=0.9)
    y = boot_fit.predict(x)
    assert np.all(lo < y) and np.all(y < hi)
    assert (hi[0] / lo[0]) > (hi[1] / lo[1])  # wider where it extrapolates
    lo80, hi80 = boot_fit.predict_interval(x, level=0.8)
    assert np.all(lo80 > lo) and np.all(hi80 < hi)


def test_prediction_interval_needs_bootstrap(default_fit):
    with pytest.raises(sl.InputError, match="need a fit with bootstrap replicates"):
        default_fit.predict_interval({"N": 1e9, "D": 1e10})
    with pytest.raises(sl.InputError, match="--interval must lie strictly between 0 and 1; got 1.5"):
        default_fit.predict_interval({"N": 1e9, "D": 1e10}, level=1.5)  # the wrong level is said first


def test_summary_with_bootstrap_round_trips_for_predict(boot_fit):
    doc = json.loads(json.dumps(boot_fit.summary()))
    again = sl.FitResult.from_dict(doc)
    assert again.bootstrap == boot_fit.bootstrap
    x = {"N": 7e10, "D": 1.4e12}
    assert again.predict_interval(x) == boot_fit.predict_interval(x)


def test_cli_predict_interval(tmp_path):
    from typer.testing import CliRunner

    from scalinglaws.cli import app

    runner = CliRunner()
    path = tmp_path / "fit.json"
    res = runner.invoke(app, ["fit", "chinchilla", "--law", "chinchilla", "--bootstrap", "100", "--out", str(path)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["predict", str(path), "--at", "N=7e10,D=1.4e12", "--interval", "0.9", "--format", "json"])
    (p,) = json.loads(res.stdout)["predictions"]
    assert p["lo"] < p["y"] < p["hi"] and p["level"] == 0.9 and p["extrapolation"] == "extrapolation"
    res = runner.invoke(app, ["predict", str(path), "--at", "N=7e10,D=1.4e12", "--interval", "1.5"])
    assert res.exit_code == 1 and "--interval must lie strictly between 0 and 1" in res.stderr


def test_the_standard_error_of_replicates_far_out_is_finite():
    """An exponent a resample sends to 1e227 (m4 on a short curve) overflowed the squares of the
    standard deviation: the command then wrote nothing."""
    from scalinglaws.fit.records import Bootstrap

    values = (7.0, 12.0, 3.9e12, 4.5e227, 8.0) * 4
    b = Bootstrap(scheme="rows", level=0.95, params={"eps_0": values}, n_replicates=20, n_failed=0)
    assert b.se["eps_0"] == pytest.approx(np.std(np.asarray(values) / 1e227, ddof=1) * 1e227, rel=1e-12)
    assert np.isfinite(b.se["eps_0"]) and b.se["eps_0"] > 1e227
    json.dumps(b.to_dict() | {"se": b.se}, allow_nan=False)
