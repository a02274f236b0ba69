"""Questions asked backwards: checked against closed forms and against `compute_optimal`."""

import math

import numpy as np
import pytest

import scalinglaws as sl
from scalinglaws import inverse

EPOCH = {"E": 1.81686, "A": 482.006, "B": 2085.434, "alpha": 0.34781, "beta": 0.36585}


def test_reach_inverts_the_law():
    law = sl.get_law("chinchilla")
    got = inverse.reach("chinchilla", 2.0, "D", {"N": 7e10}, params=EPOCH)
    # closed form: B / D^beta = L - E - A / N^alpha
    D = (EPOCH["B"] / (2.0 - EPOCH["E"] - EPOCH["A"] / 7e10 ** EPOCH["alpha"])) ** (1 / EPOCH["beta"])
    assert got["D"] == pytest.approx(D, rel=1e-9)
    assert law.predict(EPOCH, {"N": 7e10, "D": got["D"]}) == pytest.approx(2.0, rel=1e-12)
    assert inverse.reach("chinchilla", 1.8, "D", {"N": 7e10}, params=EPOCH)["D"] is None  # below E: never
    with pytest.raises(sl.InputError, match="already reaches 3000 at D = 1"):
        inverse.reach("chinchilla", 3000.0, "D", {"N": 7e10}, params=EPOCH)
    with pytest.raises(sl.InputError, match="--at N must be finite and positive"):
        inverse.reach("chinchilla", 2.0, "D", {"N": -7e10}, params=EPOCH)


def test_reach_a_rising_metric():
    p = {"y0": 0.25, "y_inf": 0.9, "x0": 1e21, "k": 1.5}
    got = inverse.reach("sigmoid_log", 0.6, "x", {}, params=p)
    assert sl.get_law("sigmoid_log").predict(p, {"x": got["x"]}) == pytest.approx(0.6, abs=1e-12)


def test_compute_for_loss_is_the_inverse_of_the_plan():
    (plan,) = sl.compute_optimal("chinchilla", 3e23, params=EPOCH)
    got = inverse.compute_for_loss("chinchilla", plan["loss"], params=EPOCH)
    assert got["C"] == pytest.approx(3e23, rel=1e-5)
    assert inverse.compute_for_loss("chinchilla", 1.8, params=EPOCH)["C"] is None  # the floor E = 1.817
    with pytest.raises(sl.InputError, match="is reached by the least budget searched"):
        inverse.compute_for_loss("chinchilla", 3000.0, params=EPOCH)
    # a FLOPs rule with a large cost per token at N = 1: the search starts where one token is affordable
    rule = "6*N + 6*2048*(N/12)^(2/3)/16"
    got = inverse.compute_for_loss("chinchilla", 2.0, params=EPOCH, flops_per_token=rule)
    (plan,) = sl.compute_optimal("chinchilla", got["C"], params=EPOCH, flops_per_token=rule)
    assert plan["loss"] == pytest.approx(2.0, rel=1e-9)


def test_inference_aware_model_is_smaller_and_cheaper_overall():
    """Sardana et al.: serving many tokens favours a smaller model trained longer; with none served
    it is the compute-optimal model."""
    none = inverse.inference_aware("chinchilla", 2.0, 0.0, params=EPOCH)
    assert none["N"] == pytest.approx(none["compute_optimal"]["N"], rel=1e-4) and abs(none["saving"]) < 1e-6
    many = inverse.inference_aware("chinchilla", 2.0, 1e13, params=EPOCH)
    assert many["N"] < 0.7 * none["N"] and many["tokens_per_param"] > 2 * none["tokens_per_param"]
    assert 0 < many["saving"] < 1
    law = sl.get_law("chinchilla")
    assert law.predict(EPOCH, {"N": many["N"], "D": many["D"]}) == pytest.approx(2.0, rel=1e-9)
    # the optimum: nudging N either way costs more
    for f in (0.97, 1.03):
        N = many["N"] * f
        D = inverse.reach("chinchilla", 2.0, "D", {"N": N}, params=EPOCH)["D"]
        assert 6 * N * D + 2 * N * 1e13 > many["total_flops"]


def test_smaller_model_overhead():
    (opt,) = sl.compute_optimal("chinchilla", 1e23, params=EPOCH)
    same = inverse.smaller_model_overhead("chinchilla", 1e23, opt["N"], params=EPOCH)
    assert abs(same["overhead"]) < 1e-6
    half = inverse.smaller_model_overhead("chinchilla", 1e23, opt["N"] / 2, params=EPOCH)
    assert 0 < half["overhead"] < 1
    with pytest.raises(sl.InputError, match="never reaches loss|no model"):
        inverse.inference_aware("chinchilla", 1.8, 1e13, params=EPOCH)
    near = inverse.inference_aware("chinchilla", 1.821, 0.0, params=EPOCH)  # the optimum beyond 1e15 parameters
    assert near["N"] > 1e15
    tiny = inverse.smaller_model_overhead("chinchilla", 1e23, 1e6, params=EPOCH)
    assert tiny["overhead"] is None and tiny["D"] is None  # never reaches that loss


def test_epochs_worth_it():
    p = {"E": 1.87, "A": 521, "B": 1488, "alpha": 0.353, "beta": 0.353, "R_D_star": 15.4, "R_N_star": 5.3}
    got = inverse.epochs_worth_it("data_constrained", params=p)
    assert got["half_value_epochs"] == pytest.approx(1 + 15.4 * math.log(2))
    with pytest.raises(sl.InputError, match="need law data_constrained"):
        inverse.epochs_worth_it("chinchilla", params=EPOCH)


def test_critical_batch_and_tradeoff():
    p = {"N_c": 6.5e13, "alpha_N": 0.077, "S_c": 2.1e3, "alpha_S": 0.76, "B_star": 2e8, "alpha_B": 0.21}
    got = inverse.critical_batch("su_nsb", 3.0, params=p, N=1e9)
    assert got["B_crit"] == pytest.approx(2e8 / 3.0 ** (1 / 0.21))
    at_crit = next(r for r in got["tradeoff"] if r["B"] == pytest.approx(got["B_crit"]))
    assert at_crit["steps"] == pytest.approx(2 * got["S_min"]) and at_crit["tokens"] == pytest.approx(2 * got["E_min"])
    for r in got["tradeoff"]:  # Kaplan's hyperbola (S/S_min - 1)(E/E_min - 1) = 1
        assert (r["steps"] / got["S_min"] - 1) * (r["tokens"] / got["E_min"] - 1) == pytest.approx(1.0)
    with pytest.raises(sl.InputError, match="never reaches loss"):
        inverse.critical_batch("su_nsb", 0.5, params=p, N=1e9)
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(sl.InputError, match="--model-size must be a finite positive"):
            inverse.critical_batch("su_nsb", 3.0, params=p, N=bad)


def test_intervals_from_replicates(chinchilla_runs):
    fit = sl.fit("chinchilla", chinchilla_runs, bootstrap=50, rng=1)
    got = inverse.compute_for_loss(fit, 2.0)
    lo, hi = got["interval"]["C"]
    assert lo < got["C"] < hi
    reached = inverse.reach(fit, 2.0, "D", {"N": 7e10})
    assert reached["interval"]["D"][0] < reached["D"] < reached["interval"]["D"][1]
    far = inverse.compute_for_loss(fit, fit.params["E"] * 1.0005)
    assert far["interval"]["unreachable"] > 0 and far["interval"]["C"][1] is None  # some replicates' floors lie above


def _cli_fit(tmp_path, chinchilla_runs, bootstrap=0):
    import json as _json

    path = tmp_path / "fit.json"
    path.write_text(_json.dumps(sl.fit("chinchilla", chinchilla_runs, bootstrap=bootstrap, rng=0).to_dict()))
    return str(path)


def test_cli_questions(tmp_path, capsys, chinchilla_runs):
    import json as _json

    from scalinglaws.cli import run

    fit = _cli_fit(tmp_path, chinchilla_runs, bootstrap=40)
    assert run(["plan", fit, "--compute", "1e21:1e23:3", "--gpu", "h100", "--price", "2", "--format", "json"]) == 0
    doc = _json.loads(capsys.readouterr().out)
    assert len(doc["plans"]) == 3 and doc["plans"][0]["C"] == pytest.approx(1e21)
    assert {"N", "D", "loss", "level"} <= set(doc["plans"][0]["interval"]) and "a" in doc["exponents"]
    assert doc["plans"][2]["cost"]["accelerator_hours"] == pytest.approx(1e23 / (989e12 * 0.4) / 3600)
    assert run(["plan", fit, "--target-loss", "2.0", "--served", "1e13", "--format", "json"]) == 0
    doc = _json.loads(capsys.readouterr().out)
    assert doc["N"] < doc["compute_optimal"]["N"] and "interval" in doc
    for args in (["plan", fit, "--target-loss", "2.0"], ["plan", fit, "--compute", "1e23", "--model-size", "1e10"],
                 ["reach", fit, "--target", "2.0", "--along", "D", "--at", "N=7e10"],
                 ["plan", fit, "--compute", "5.88e23"]):
        assert run(args) == 0, capsys.readouterr().err
        assert "90%" in capsys.readouterr().out
    assert run(["plan", fit, "--compute", "5.88e23"]) == 0
    assert "warning: 1 of 1 plans lie beyond the fitted runs" in capsys.readouterr().out


def test_cli_question_errors(tmp_path, capsys, chinchilla_runs):
    from scalinglaws.cli import run

    fit = _cli_fit(tmp_path, chinchilla_runs)
    for args, code, message in (
        (["plan", fit], 2, "exactly one of --compute and --target-loss"),
        (["plan", fit, "--compute", "1e22", "--target-loss", "2"], 2, "exactly one of --compute and --target-loss"),
        (["plan", fit, "--compute", "1e22", "--served", "1e12"], 2, "--served goes with --target-loss"),
        (["plan", fit, "--compute", "1e22,1e23", "--model-size", "1e9"], 1, "must be one budget with --model-size"),
        (["plan", fit, "--compute", "1e22:1e20:3"], 1, "needs 0 < START < STOP"),
        (["plan", fit, "--compute", "1e20:1e22:x"], 1, "COUNT of START:STOP:COUNT must be a whole number"),
        (["plan", fit, "--compute", "1e22", "--gpu", "tpu9"], 1, "--gpu must be one of"),
        (["plan", fit, "--compute", "1e22", "--price", "2"], 2, "--price needs --gpu"),
        (["plan", fit, "--target-loss", "-1"], 1, "--target-loss must be a finite positive"),
        (["reach", fit, "--target", "2", "--along", "Q", "--at", "N=1e9"], 1, "--along must be an input"),
        (["reach", fit, "--target", "2", "--along", "D"], 1, "--at must give every other input"),
        (["batch", "--law", "chinchilla", "--params", "E=1,A=1,B=1,alpha=0.3,beta=0.3", "--loss", "2"], 1,
         "needs a law with B_star and alpha_B"),
        (["cost", "--flops", "1e23"], 2, "cost needs --gpu NAME or --peak-flops X"),
        (["cost", "--flops", "1e23", "--gpu", "h100", "--utilization", "1.5"], 1, "--utilization must lie in (0, 1]"),
    ):
        assert run(args) == code, (args, capsys.readouterr())
        assert message in capsys.readouterr().err, args


def test_replicate_answers_are_each_replicates_own(chinchilla_runs):
    """The vectorised replicate answers equal the answers of each replicate's parameters asked one
    by one (no broadcasting across replicates)."""
    fit = sl.fit("chinchilla", chinchilla_runs, bootstrap=12, rng=3)
    reps = fit.bootstrap.values()
    one_by_one = [{k: float(v[i]) for k, v in reps.items()} for i in range(len(reps["E"]))]
    tail = [0.05, 0.95]

    def check(vectorised, single, key):
        values = np.array([single(p) for p in one_by_one], dtype=float)
        values = np.where(np.isnan(values), np.inf, values)
        expected = np.quantile(values, tail, method="inverted_cdf")
        got = [np.inf if v is None else v for v in vectorised["interval"][key]]
        assert got == pytest.approx(expected, rel=1e-6)

    check(inverse.smaller_model_overhead(fit, 1e23, 2e10), lambda p: (lambda r: np.nan if r["overhead"] is None
          else r["overhead"])(inverse.smaller_model_overhead("chinchilla", 1e23, 2e10, params=p)), "overhead")
    check(inverse.inference_aware(fit, 2.0, 1e13), lambda p: inverse.inference_aware("chinchilla", 2.0, 1e13,
                                                                                      params=p)["N"], "N")
    check(inverse.compute_for_loss(fit, 2.0), lambda p: (lambda r: np.nan if r["C"] is None else r["C"])(
        inverse.compute_for_loss("chinchilla", 2.0, params=p)), "C")
    (plan,) = sl.compute_optimal(fit, 1e23, flops_per_token="6*N + 0")  # numeric, not the closed form
    Ns = [sl.compute_optimal("chinchilla", 1e23, params=p)[0]["N"] for p in one_by_one]
    assert plan["interval"]["N"] == pytest.approx(np.quantile(Ns, tail), rel=1e-5)
