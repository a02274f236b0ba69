"""Observational scaling: the capability basis, the sigmoid fit, documents, the `observe` command,
and forecasts of public models' scores that beat a sigmoid in compute."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import scalinglaws as sl
from scalinglaws.cli import app
from scalinglaws.errors import InputError
from scalinglaws.observational import CapabilityBasis

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "pythia_evals" / "pythia_opt_bloom_evals_summary.csv"
BENCHMARKS = ["b1", "b2", "b3", "b4"]


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def models():
    """Three families whose compute buys capability at different rates; every score is a sigmoid of it."""
    rng = np.random.default_rng(2)
    rows = []
    for family, efficiency in (("a", 1.0), ("b", 0.7), ("c", 1.3)):
        for log_c in np.linspace(19, 23, 9):
            cap = efficiency * (log_c - 21)
            scores = {b: 0.25 + 0.7 / (1 + np.exp(-(s * cap + o))) + 0.004 * rng.standard_normal()
                      for b, s, o in zip(BENCHMARKS, (0.5, 0.4, 0.6, 0.3), (0.0, -0.5, 0.3, 0.2))}
            target = 0.25 + 0.75 / (1 + np.exp(-(1.1 * cap - 0.8))) + 0.004 * rng.standard_normal()
            rows.append(dict(model=f"{family}-{log_c:.1f}", family=family, C=10**log_c, target=target, **scores))
    return pd.DataFrame(rows)


def test_the_basis_is_the_signed_principal_directions_of_the_fitted_models(models):
    scores = models[BENCHMARKS].to_numpy()
    basis = CapabilityBasis.of(scores, BENCHMARKS, 2)
    w = np.array(basis.loadings)
    assert w @ w.T == pytest.approx(np.eye(2), abs=1e-12) and np.all(w.sum(axis=1) > 0)
    assert 0.9 < basis.explained[0] < 1.0 and sum(basis.explained) <= 1.0
    m = basis.measures(models)
    assert np.mean(m["pc1"]) == pytest.approx(0.0, abs=1e-12) and np.all(m["pc3"] == 0.0)
    z = (scores - scores.mean(axis=0)) / scores.std(axis=0, ddof=1)
    assert np.var(m["pc1"], ddof=1) == pytest.approx(np.linalg.svd(z, compute_uv=False)[0] ** 2 / (len(z) - 1))
    with pytest.raises(InputError, match="`b2` is missing"):
        basis.measures(models.drop(columns="b2"))


def test_observational_forecasts_the_capable_models_of_every_family(models):
    obs = sl.fit_observational(models, "target", BENCHMARKS, components=1, where="C < 3e22")
    assert obs.status == "converged" and obs.fit.params["w2"] == 0.0 and obs.fit.params["w3"] == 0.0
    assert not any("pc2" in w or "pc3" in w for w in obs.fit.warnings)  # unused measures: nothing to warn of
    held = models[models.C >= 3e22]
    assert np.max(np.abs(obs.predict(held) - held.target)) < 0.03
    compute = sl.fit("sigmoid_log", models, x={"x": "C"}, y="target", where="C < 3e22")
    assert np.mean(np.abs(obs.predict(held) - held.target)) < np.mean(np.abs(compute.predict(held) - held.target))
    doc = json.loads(json.dumps(obs.to_dict()))
    again = sl.ObservationalFit.from_dict(doc)
    assert again.predict(held) == pytest.approx(obs.predict(held), rel=1e-14)
    doc["observational"]["loadings"][0] = doc["observational"]["loadings"][0][:2]
    with pytest.raises(InputError, match="basis does not match"):
        sl.ObservationalFit.from_dict(doc)


def test_fit_observational_refuses_what_it_cannot_fit(models):
    for args, kwargs, message in (
            (("target", ["b1", "target"]), {}, "also among the benchmarks"),
            (("target", ["b1", "b1"]), {}, "twice"),
            (("target", ["b1", "b2"]), {"components": 3}, "from 1 to 2"),
            (("target", ["b1", "nope"]), {}, "`nope` not found"),
            (("target", BENCHMARKS), {"where": "C < 1e19"}, "needs at least"),
    ):
        with pytest.raises(InputError, match=message):
            sl.fit_observational(models, *args, **kwargs)
    flat = models.assign(b4=0.5)
    with pytest.raises(InputError, match="`b4` has one value"):
        sl.fit_observational(flat, "target", BENCHMARKS)
    gaps = models.astype({"b2": object})
    gaps.loc[3, "b2"] = None
    obs = sl.fit_observational(gaps, "target", BENCHMARKS)
    assert any("1 model(s) without a score" in n for n in obs.fit.notes)
    with pytest.raises(InputError, match="column `b2` must hold a finite score .* row 4"):
        obs.predict(gaps)


def test_observe_fits_forecasts_and_writes_a_document_predict_reads(models, tmp_path):
    path = tmp_path / "models.csv"
    models.to_csv(path, index=False)
    args = ["observe", path, "--y", "target", "--from", "b1,b2", "--from", "b3,b4", "--components", "1",
            "--where", "C < 3e22", "--forecast-where", "C >= 3e22", "--label", "model", "--bootstrap", "50"]
    got = cli(*args, "--out", tmp_path / "obs.json", "--format", "json")
    assert got.exit_code == 0, got.output
    doc = json.loads(got.stdout)
    assert doc["observational"]["benchmarks"] == BENCHMARKS and len(doc["forecasts"]) == 6
    f = doc["forecasts"][0]
    assert f["label"] == models.model[models.C >= 3e22].iloc[0] and f["lo"] <= f["y"] <= f["hi"]
    assert doc["mean_abs_error"] < 0.03
    table = cli(*args)
    assert table.exit_code == 0 and "capability measures" in table.stdout and "mean absolute error" in table.stdout
    for fmt in ("json", "table"):
        got = cli("predict", tmp_path / "obs.json", "--points", path, "--interval", "0.9", "--format", fmt)
        assert got.exit_code == 0, got.output
    p = json.loads(cli("predict", tmp_path / "obs.json", "--points", path, "--format", "json").stdout)["predictions"]
    assert [q["y"] for q in p] == pytest.approx(list(sl.ObservationalFit.from_dict(
        json.loads((tmp_path / "obs.json").read_text())).predict(models)), rel=1e-12)
    for bad, code, message in ((["predict", tmp_path / "obs.json", "--at", "pc1=1"], 2, "--points"),
                               (["plan", tmp_path / "obs.json", "--compute", "1e21"], 1, "benchmark forecast"),
                               (["observe", path, "--y", "target", "--from", "b1,b2", "--label", "model"], 2,
                                "--forecast-where"),
                               (["observe", path, "--y", "target", "--from", "b1,b2", "--forecast-where", "C > 1e99"],
                                1, "selects no models")):
        got = cli(*bad)
        assert got.exit_code == code and message in got.output and "Traceback" not in got.output, (bad, got.output)


@pytest.mark.skipif(not DATA.exists(), reason="needs ../shared/data/pythia_evals")
def test_observational_forecasts_large_public_models_better_than_compute_alone():
    s = pd.read_csv(DATA)
    t = s[(s.num_fewshot == 0) & ((s.family != "pythia") | (s.step == 143000))].copy()
    t["C"] = 6 * t.N_params * t.tokens_seen
    held = t[t.N_params >= 5e9]
    tasks = ["arc_easy_acc", "lambada_openai_acc", "piqa_acc", "sciq_acc", "winogrande_acc"]
    obs = sl.fit_observational(t, "arc_challenge_acc", tasks, components=2, where="N_params < 5e9", fix={"y_inf": 1.0})
    compute = sl.fit("sigmoid_log", t, x={"x": "C"}, y="arc_challenge_acc", where="N_params < 5e9")
    e_obs = np.mean(np.abs(obs.predict(held) - held.arc_challenge_acc))
    e_c = np.mean(np.abs(compute.predict(held) - held.arc_challenge_acc))
    assert e_obs < e_c and e_obs < 0.015  # measured: 1.15 against 1.38 accuracy points


def test_observe_keeps_fitted_models_out_of_its_forecast_error(models, tmp_path):
    path = tmp_path / "models.csv"
    models.to_csv(path, index=False)
    got = cli("observe", path, "--y", "target", "--from", "b1,b2,b3,b4", "--components", "1", "--where", "C < 3e22",
              "--forecast-where", "C >= 1e22", "--format", "json")
    doc = json.loads(got.stdout)
    fitted = [f for f in doc["forecasts"] if f["fitted"]]
    assert got.exit_code == 0 and fitted and len(fitted) < len(doc["forecasts"])
    unseen = [abs(f["y"] - f["observed"]) for f in doc["forecasts"] if not f["fitted"]]
    assert doc["mean_abs_error"] == pytest.approx(np.mean(unseen))


def test_a_familys_trend_in_compute_forecasts_its_untrained_models(models):
    from scalinglaws.observational import forecast_from_compute

    fitted = models[models.C < 3e22]
    obs = sl.fit_observational(models, "target", BENCHMARKS, components=1, where="C < 3e22")
    held = models[models.C >= 3e22]
    by_compute = forecast_from_compute(obs, fitted, held[["family", "C"]], family="family", compute="C")
    assert np.max(np.abs(by_compute - held.target)) < 0.05  # measures nearly linear in log C in each family
    lone = pd.DataFrame({"family": ["z"], "C": [1e23]})  # no fitted model of this family: no trend
    assert np.isnan(forecast_from_compute(obs, fitted, lone, family="family", compute="C")[0])
    with pytest.raises(InputError, match="positive compute"):
        forecast_from_compute(obs, fitted, pd.DataFrame({"family": ["a"], "C": [-1.0]}), family="family", compute="C")
