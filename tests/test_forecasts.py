"""Forecasts that hold beyond the runs: calibrated intervals, trustworthy law choice, bounded
metrics fitted on y itself, and the diagnostics every fit carries."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl
from scalinglaws.fit.records import Calibration, decades_outside

X = np.geomspace(1e3, 1e7, 24)


def curved_runs(seed=0):
    """A loss curve with an offset (curved in log-log), to be fitted by a pure power law: the
    law is wrong in a way that only shows when extrapolating."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": X, "loss": (1.0 + 30.0 * X**-0.3) * np.exp(0.003 * rng.standard_normal(X.size))})


@pytest.fixture(scope="module")
def misspecified():
    return sl.fit("power_law", curved_runs(), bootstrap=100, rng=0)


def test_calibration_widens_intervals_with_distance_and_covers_the_truth(misspecified):
    r = misspecified
    c = r.calibration
    assert c is not None and c.problem is None and c.n_folds >= 3
    assert len(c.errors) == len(c.distances) == len(c.fold) and min(c.distances) > 0
    assert c.slope > 0  # the wrong law's errors grow with the distance extrapolated
    far = {"x": np.array([1e7, 1e8, 1e9])}
    parts = r.interval_parts(far, 0.9)
    assert np.all(parts["lo"] <= parts["lo_bootstrap"]) and np.all(parts["hi"] >= parts["hi_bootstrap"])
    np.testing.assert_allclose(parts["decades"], [0.0, 1.0, 2.0], atol=1e-12)
    widths = np.log(parts["hi"] / parts["lo"])
    assert widths[2] > widths[1] > widths[0]
    assert 0.0 <= parts["extrapolation_share"][0] < parts["extrapolation_share"][2] <= 1.0
    truth = 1.0 + 30.0 * far["x"] ** -0.3
    lo_b, hi_b = parts["lo_bootstrap"], parts["hi_bootstrap"]
    assert not np.all((lo_b <= truth) & (truth <= hi_b))  # the bootstrap alone misses the truth far out...
    assert np.all((parts["lo"] <= truth) & (truth <= parts["hi"]))  # ...the calibrated interval holds it
    lo, hi = r.predict_interval(far, 0.9)
    np.testing.assert_array_equal(lo, parts["lo"])
    np.testing.assert_array_equal(hi, parts["hi"])


def test_calibration_round_trips_and_bad_records_are_refused(misspecified):
    doc = json.loads(json.dumps(misspecified.summary()))
    back = sl.FitResult.from_dict(doc)
    assert back.calibration == misspecified.calibration
    x = {"x": np.array([1e8])}
    np.testing.assert_array_equal(back.predict_interval(x, 0.8)[1], misspecified.predict_interval(x, 0.8)[1])
    for field, value in (("slope", -1.0), ("sigma", 0.0), ("distances", [-1.0] * len(doc["calibration"]["errors"])),
                         ("fold", [0])):
        bad = json.loads(json.dumps(doc))
        bad["calibration"][field] = value
        with pytest.raises(sl.InputError, match="calibration"):
            sl.FitResult.from_dict(bad)


def test_fit_document_without_calibration_gives_no_interval_beyond_its_runs(misspecified):
    doc = json.loads(json.dumps(misspecified.summary()))
    doc.pop("calibration")
    old = sl.FitResult.from_dict(doc)
    lo, hi = old.predict_interval({"x": np.array([1e5])}, 0.9)  # inside the runs: the bootstrap stands
    assert lo[0] < hi[0]
    with pytest.raises(sl.FitError, match="no calibrated interval beyond the training range"):
        old.predict_interval({"x": np.array([1e9])}, 0.9)


def test_too_few_forecasts_for_the_level_say_so_instead_of_a_narrow_interval(misspecified):
    c = misspecified.calibration
    n = len(c.errors)
    level = 1.0 - 0.5 / (n + 1)  # needs more forecasts than the folds made
    with pytest.raises(sl.FitError, match="calibrate intervals up to"):
        misspecified.predict_interval({"x": np.array([1e9])}, level)
    few = Calibration(errors=(0.1,) * 6, distances=(0.5,) * 6, fold=(0,) * 6, sigma=0.01, slope=0.1, n_folds=1,
                      scale_range=(3.0, 7.0))
    with pytest.raises(sl.FitError, match=r"up to 85.7% \(a 90.0% interval needs 9\)"):
        few.half_width(np.array([1.0]), 0.9)
    one = Calibration(errors=(0.1,), distances=(0.5,), fold=(0,), sigma=0.01, slope=0.1, n_folds=1,
                      scale_range=(3.0, 7.0))
    with pytest.raises(sl.FitError, match="only 1 forecast"):
        one.half_width(np.array([1.0]), 0.5)


def test_decades_outside_counts_the_product_of_inputs():
    x_range = {"N": (1e8, 1e10), "D": (1e9, 1e11)}
    scale = (17.0, 20.0)  # log10 of N D over the fitted runs
    d = decades_outside({"N": np.array([1e10, 1e9, 1e12]), "D": np.array([1e11, 1e9, 1e10])}, x_range, scale,
                        ("N", "D"))
    np.testing.assert_allclose(d, [1.0, 0.0, 2.0])  # both in range but a larger run; inside; N beyond its range


@pytest.mark.xdist_group("auto")  # with the other --law auto tests: their compiled programs are shared
def test_accuracy_with_zeros_fits_on_y_itself_and_auto_offers_the_bounded_law():
    rng = np.random.default_rng(3)
    c = np.geomspace(1e17, 1e21, 40)
    acc = np.clip(0.7 / (1.0 + (3e19 / c) ** 1.2) + 0.01 * rng.standard_normal(c.size), 0.0, 1.0)
    acc[:8] = 0.0
    runs = pd.DataFrame({"C": c, "acc": acc})
    with pytest.raises(sl.InputError, match=r"column `acc` must be positive \(law power_law is fitted on log values"):
        sl.fit("power_law", runs, x={"x": "C"}, y="acc")
    r = sl.fit("auto", runs, x={"x": "C"}, y="acc")
    assert r.law.name == "sigmoid_log" and r.law.space == "linear" and r.converged
    assert r.delta == pytest.approx(1e-2)  # one point of accuracy: the linear-space default
    assert r.params["y_inf"] == pytest.approx(0.7, abs=0.03)
    assert r.selection.space == "linear" and "RMSE of y" in r.selection.reason
    assert r.summary()["selection"]["criterion"] == "mean held-out RMSE of y"
    with pytest.raises(sl.InputError, match=r"column `acc` must lie in \[0, 1\].*row 1 has 1.5"):
        sl.fit("sigmoid_log", runs.assign(acc=np.r_[1.5, acc[1:]]), x={"x": "C"}, y="acc")


def test_auto_names_the_real_cause_when_no_law_accepts_the_runs():
    runs = pd.DataFrame({"x": X, "loss": np.r_[-1.0, 1.0 + X[1:] ** -0.3]})
    with pytest.raises(sl.InputError, match=r"no law that accepts these runs.*column `loss` must be positive"):
        sl.fit("auto", runs)


@pytest.mark.xdist_group("auto")  # with the other --law auto tests: their compiled programs are shared
def test_auto_never_chooses_an_untrusted_fit_and_reports_ties():
    x = np.geomspace(1e3, 1e7, 16)  # 16 runs: the shape of the README's curve, whose auto programs it reuses
    runs = pd.DataFrame({"x": x, "loss": 5.0 * x**-0.2})  # a pure power law: m2's offset goes to 0
    r = sl.fit("auto", runs)
    sel = r.selection
    assert r.converged and not any(w.startswith("a term is switched off") for w in r.warnings)
    by_name = {c.law: c for c in sel.candidates}
    assert r.law.name == sel.law and by_name[sel.law].status == "scored"
    assert len({f["n_train"] for f in sel.folds}) == len(sel.folds)  # distinct folds
    if sel.ties:
        assert "tied with" in sel.reason
        assert all(by_name[t].n_params >= by_name[sel.law].n_params for t in sel.ties)
    for c in sel.candidates:  # every candidate stays in the table, with why it was not chosen
        assert c.status == "scored" or c.status.startswith(("not chosen", "not scored: ", "not a candidate: "))


@pytest.mark.xdist_group("auto")  # with the other --law auto tests: their compiled programs are shared
def test_an_accuracy_law_has_no_unbounded_rival():
    """A rising accuracy curve: sigmoid_log (linear space, [0, 1]) is chosen; bnsl (no range)
    scores within the rival factor but cannot be averaged with it (its forecasts leave [0, 1]: an
    accuracy of 1.39 was forecast so)."""
    from scalinglaws.fit.records import RIVAL_FACTOR, same_kind
    from scalinglaws.laws import get_law
    from scalinglaws.select import select_law

    assert not same_kind(get_law("sigmoid_log"), get_law("bnsl")) and same_kind(get_law("m2"), get_law("bnsl"))
    rng = np.random.default_rng(0)
    x = np.geomspace(1e2, 1e6, 30)
    acc = 0.25 + 0.7 / (1.0 + (1e4 / x) ** 1.2) + rng.normal(0, 0.01, x.size)
    runs = pd.DataFrame({"x": x[x < 1e4], "acc": acc[x < 1e4]})
    sel = select_law(runs, y="acc", candidates=[get_law("sigmoid_log"), get_law("bnsl")])
    scores = {c.law: c for c in sel.candidates}
    assert sel.law == "sigmoid_log" and scores["bnsl"].status == "scored"
    assert scores["bnsl"].score <= RIVAL_FACTOR * scores["sigmoid_log"].score  # a rival by its score alone...
    assert sel.rivals == ()  # ...but not of the same kind


def test_auto_scores_folds_as_they_are_and_trusts_only_the_delivered_fit():
    import dataclasses

    from scalinglaws.nested import CUTS, backtests
    from scalinglaws.select import _choose, _score

    runs = pd.DataFrame({"x": X, "loss": 2.0 + 5.0 * X**-0.3})
    bt = backtests("power_law_offset", runs, CUTS)
    clean = _score(bt, "log")
    stalled = dataclasses.replace(bt.fits[-1], status="max_iterations")
    folds_stalled = _score(dataclasses.replace(bt, fits=bt.fits[:-1] + (stalled,)), "log")
    assert folds_stalled.status == "scored" and folds_stalled.score == clean.score  # a fold's forecast counts as it is
    full_stalled = _score(dataclasses.replace(bt, full=dataclasses.replace(bt.full, status="max_iterations")), "log")
    assert full_stalled.status == "not chosen (its fit on all the training runs): did not converge (max_iterations)"
    other = dataclasses.replace(clean, law="m2", n_params=clean.n_params + 1, score=clean.score * 2)
    assert _choose([dataclasses.replace(full_stalled, score=clean.score / 2), other])[0].law == "m2"
    with pytest.raises(sl.InputError, match="no candidate it can trust.*power_law_offset: not chosen"):
        _choose([full_stalled])


def test_degenerate_fits_warn_or_refuse():
    rng = np.random.default_rng(1)
    n = np.exp(rng.uniform(np.log(1e7), np.log(1e9), 40))
    d = np.exp(rng.uniform(np.log(1e9), np.log(1e11), 40))
    no_n_effect = pd.DataFrame({"N": n, "D": d, "loss": (1.8 + 2000 * d**-0.37) * np.exp(rng.normal(0, 0.003, 40))})
    r = sl.fit("chinchilla", no_n_effect)
    assert "A" in r.at_bound
    assert any(w.startswith("a term is switched off by a bound") and "alpha" in w for w in r.warnings)
    one_n = pd.DataFrame({"N": 1e8, "D": np.geomspace(1e9, 1e11, 12)})
    one_n["loss"] = 1.8 + 400 * one_n["N"] ** -0.34 + 2000 * one_n["D"] ** -0.37
    with pytest.raises(sl.InputError, match="input N .* takes 1 distinct value"):
        sl.fit("chinchilla", one_n)
    fixed = sl.fit("chinchilla", one_n, fix={"A": 400.0, "alpha": 0.34})
    assert any("takes only 1 distinct value" in w for w in fixed.warnings)
    three = pd.DataFrame({"N": np.repeat([1e8, 1e9, 1e10], 10), "D": np.repeat([1e9, 1e10, 1e11], 10), "loss": 3.0})
    with pytest.raises(sl.InputError, match="3 distinct configuration"):
        sl.fit("chinchilla", three)
    tiny = pd.DataFrame({"x": X, "loss": 5.2e-8 * X**-0.3})  # small, not at its bound
    r = sl.fit("power_law", tiny)
    assert r.at_bound == () and r.params["a"] == pytest.approx(5.2e-8, rel=1e-6)


def test_a_floor_above_the_lowest_run_and_a_residual_trend_are_warned():
    x = np.geomspace(1e3, 1e7, 30)
    y = 2.0 + 10.0 * x**-0.5
    y[-4:] *= [0.96, 0.93, 0.90, 0.86]  # the largest runs keep falling below any floor
    r = sl.fit("power_law_offset", pd.DataFrame({"x": x, "loss": y}), fix={"E": 2.0})
    assert any(w.startswith("the fitted law levels off at 2 as scale grows, above the lowest") for w in r.warnings)
    bent = pd.DataFrame({"x": x, "loss": 1.0 + 30.0 * x**-0.3})
    r = sl.fit("power_law", bent)
    assert any(w.startswith("the residuals bend with scale") for w in r.warnings)
    assert not sl.fit("power_law_offset", bent).warnings  # the right law: nothing to say


def test_columns_found_by_name_are_noted():
    runs = pd.DataFrame({"params": [1e8, 1e9, 1e10, 3e8, 3e9, 3e10, 2e8, 2e9],
                         "tokens": [1e9, 1e10, 1e11, 1e10, 1e9, 3e10, 3e9, 2e10]})
    runs["loss"] = 1.7 + 400 * runs["params"] ** -0.34 + 2000 * runs["tokens"] ** -0.28
    r = sl.fit("chinchilla", runs)
    assert any("columns found by their common names: N <- `params`, D <- `tokens`, y <- `loss`" in n for n in r.notes)
    r = sl.fit("chinchilla", runs, x={"N": "params", "D": "tokens"}, y="loss")
    assert not any("common names" in n for n in r.notes)


def test_backtest_scores_sharpness_and_linear_errors_for_zeros():
    bt = sl.backtest("power_law", curved_runs(), train_where="x < 2e5", interval=0.9)
    s = bt.scores[0]
    assert s.coverage is not None and s.width > 1.0 and s.interval_score > math.log(s.width) * 0.5
    rng = np.random.default_rng(3)
    c = np.geomspace(1e17, 1e21, 40)
    acc = np.clip(0.7 / (1.0 + (3e19 / c) ** 1.2) + 0.01 * rng.standard_normal(c.size), 0.0, 1.0)
    acc[:8] = 0.0
    bt = sl.backtest("sigmoid_log", pd.DataFrame({"C": c, "acc": acc}), train_where="C > 3e17", x={"x": "C"},
                     y="acc")  # held out: the smallest runs, at accuracy 0
    s = bt.scores[0]
    assert s.rmse_log is None and s.are is None and 0.0 < s.rmse < 0.2


def test_dropna_leaves_out_empty_rows_and_says_how_many():
    runs = curved_runs().assign(loss=lambda t: t["loss"].where(t.index != 5))
    with pytest.raises(sl.InputError, match="column `loss` must be finite; row 6 is empty"):
        sl.fit("power_law_offset", runs)
    r = sl.fit("power_law_offset", runs, dropna=True)
    assert r.n_points == X.size - 1
    assert any(n.startswith("1 rows with an empty value in `x` or `loss` were left out (--dropna): rows 6") for n in r.notes)
    assert runs["loss"].isna().sum() == 1  # the user's table is unchanged


def test_excluded_star_columns_and_a_named_column_leave_runs_out():
    runs = curved_runs().assign(excluded_outlier=[i == 3 for i in range(X.size)],
                                excluded_warmup=[i < 2 for i in range(X.size)], flag=[i == 7 for i in range(X.size)])
    assert sl.Runs(runs).excluded == ("excluded_outlier", "excluded_warmup")
    r = sl.fit("power_law_offset", runs)
    assert r.n_points == X.size - 3 and r.n_excluded == 3
    assert sl.fit("power_law_offset", runs, include_excluded=True).n_points == X.size
    assert sl.fit("power_law_offset", sl.Runs(runs, excluded="flag")).n_points == X.size - 1
    with pytest.raises(sl.InputError, match=r"column `x` must be boolean"):
        sl.Runs(runs, excluded="x")


def test_backtest_where_and_by_with_a_condition_split():
    a = curved_runs(0).assign(run="a")
    b = curved_runs(1).assign(run="b", loss=lambda t: t["loss"] * 1.1)
    c = curved_runs(2).assign(run="c", loss=lambda t: t["loss"] * 0.9)
    runs = pd.concat([a, b, c], ignore_index=True)
    bt = sl.backtest("power_law_offset", runs, train_where="x < 1e6", by="run", where="run != 'c'")
    assert bt.n_test == 2 * int((X >= 1e6).sum()) and "in each `run` group (2 of 2 groups scored)" in bt.train_where
    with pytest.raises(sl.InputError, match="--where `run == 'z'` selects no runs"):
        sl.backtest("power_law_offset", runs, train_where="x < 1e6", where="run == 'z'")


@pytest.mark.xdist_group("auto")  # with the other --law auto tests: their compiled programs are shared
def test_fold_errors_speak_of_runs_not_internal_columns():
    few = pd.DataFrame({"x": X[:5], "loss": 1.0 + 30.0 * X[:5] ** -0.3})
    sel = None
    try:
        sel = sl.fit("auto", few).selection
    except sl.InputError as exc:
        assert "__scalinglaws" not in str(exc)
    if sel is not None:
        assert all("__scalinglaws" not in c.status for c in sel.candidates)


def test_nested_folds_solved_together_equal_each_fold_fitted_alone():
    """`backtests` solves the full fit and every fold in one batch; each must be the fit that the
    fold's runs give alone. (Where a law converges; a start stopped at its iteration limit, as m4's
    and bnsl's often are, depends on the problem's shape: a fold keeps every run, at weight 0 past
    its cut-off.)"""
    from scalinglaws.nested import CUTS, backtests

    runs = curved_runs()
    bt = backtests("power_law_offset", runs, CUTS)
    alone = sl.fit("power_law_offset", runs)
    assert bt.full.params == pytest.approx(alone.params, rel=1e-9) and bt.full.status == alone.status
    assert len(bt.plan) == len(bt.fits) >= 3
    for fold, fitted in zip(bt.plan, bt.fits):
        single = sl.fit("power_law_offset", runs[fold.train])
        assert fitted.n_points == int(fold.train.sum()) == single.n_points
        assert fitted.params == pytest.approx(single.params, rel=1e-6)
        assert fitted.x_range["x"] == single.x_range["x"]


@pytest.mark.parametrize("n_scales,scored", [(7, [5, 6]), (4, [3]), (3, [])])
def test_selection_scores_the_late_folds_even_where_cut_offs_coincide(n_scales, scored):
    """A cut-off that gives the same runs as an earlier one takes that fold over, so the late folds
    (70% on) are the ones selection scores, whatever the number of distinct scales."""
    from scalinglaws.nested import CUTS, folds
    from scalinglaws.select import SCORED_FROM

    scale = np.repeat(np.arange(n_scales, dtype=float), 3)
    late = [int(np.unique(scale[f.train]).size) for f in folds(scale, CUTS) if f.fraction >= SCORED_FROM]
    assert late == scored
    runs = pd.DataFrame({"x": 10.0 ** (3 + scale), "loss": 1.0 + 30.0 * (10.0 ** (3 + scale)) ** -0.3})
    if not scored:
        with pytest.raises(sl.InputError, match="needs runs at several scales"):
            sl.fit("auto", runs)


def test_backtest_names_skipped_groups_and_keeps_interval_reasons_out_of_the_status():
    a = curved_runs(0).assign(run="a")
    tiny = pd.DataFrame({"x": X[:3], "loss": 1.0 + 30.0 * X[:3] ** -0.3, "run": "tiny"})
    runs = pd.concat([a, tiny], ignore_index=True)
    bt = sl.backtest("power_law_offset", runs, train_where="x < 1e6", by="run")
    assert bt.skipped == ("`run` = 'tiny': nothing held out",)
    assert bt.to_dict()["skipped"] == list(bt.skipped)
    small = pd.DataFrame({"x": X[:8], "loss": 1.0 + 30.0 * X[:8] ** -0.3})
    bt = sl.backtest("power_law", small, train_where="x < 1e4", interval=0.9)  # too few runs to calibrate
    s = bt.scores[0]
    assert s.status == "converged" and s.coverage is None
    assert s.interval_note is not None and s.interval_note.startswith("1 of 1 fit(s) gave no interval")


def test_rivals_the_runs_cannot_tell_apart_widen_the_interval_to_their_forecasts(misspecified, tmp_path):
    from dataclasses import replace

    from scalinglaws.fit.records import CandidateScore, Rival, Selection

    runs = curved_runs()
    other = sl.fit("power_law_offset", runs)
    other = replace(other, params={**other.params, "E": 2.0 * other.params["E"]})
    sel = Selection(law="power_law", reason="test", scale="x", folds=(),
                    candidates=(CandidateScore("power_law", 2, 0.008, (0.008,), "scored"),
                                CandidateScore("power_law_offset", 3, 0.01, (0.01,), "scored")),
                    rivals=(Rival("power_law_offset", 0.01, dict(other.params)),))
    r = replace(misspecified, selection=sel)
    far = {"x": np.array([1e5, 1e8, 1e12])}
    base, parts = misspecified.interval_parts(far, 0.9), r.interval_parts(far, 0.9)
    rival = other.predict(far)
    assert np.all(parts["lo"] <= np.minimum(base["lo"], rival) * (1 + 1e-12))
    assert np.all(parts["hi"] >= np.maximum(base["hi"], rival) * (1 - 1e-12))
    own = misspecified.predict(far)
    w = np.array([0.008**-2, 0.01**-2]) / (0.008**-2 + 0.01**-2)
    assert sel.weights() == pytest.approx({"power_law": w[0], "power_law_offset": w[1]})
    np.testing.assert_allclose(r.predict(far), np.exp(w[0] * np.log(own) + w[1] * np.log(rival)), rtol=1e-12)
    grid = {"x": np.array([[1e5, 1e6, 1e7], [1e8, 1e9, 1e10]])}  # inputs of any shape: the average per point
    np.testing.assert_allclose(r.predict(grid), np.exp(w[0] * np.log(misspecified.predict(grid))
                                                       + w[1] * np.log(other.predict(grid))), rtol=1e-12)
    assert np.all((parts["lo"] <= r.predict(far)) & (r.predict(far) <= parts["hi"]))
    outside = (rival < base["lo"]) | (rival > base["hi"])
    assert outside.any()  # the rival's forecast lies outside the chosen law's own interval far out...
    assert np.all(parts["law_choice_share"][outside] > 0) and np.all(parts["law_choice_share"][~outside] == 0)
    assert np.all(parts["law_choice_share"] + parts["extrapolation_share"] <= 1 + 1e-12)
    doc = json.loads(json.dumps(r.summary()))
    back = sl.FitResult.from_dict(doc)
    assert back.selection.rivals == sel.rivals
    np.testing.assert_allclose(back.interval_parts(far, 0.9)["hi"], parts["hi"])
    bad = json.loads(json.dumps(doc))
    bad["selection"]["rivals"][0]["params"].pop("E")
    with pytest.raises(sl.InputError, match="rival power_law_offset: params lacks `E`"):
        sl.FitResult.from_dict(bad)
    bad["selection"]["rivals"][0]["law"] = "no_such_law"
    with pytest.raises(sl.InputError):
        sl.FitResult.from_dict(bad)
    def lower_rival(d):
        d["selection"]["rivals"][0]["score"] = d["selection"]["candidates"][1]["score"] = 0.001

    def twin_rival(d):  # a document written before rivals of one fit were counted once
        m2 = sl.get_law("m2")
        d["selection"]["candidates"].append({**d["selection"]["candidates"][1], "law": "m2", "n_params": len(m2.params)})
        d["selection"]["rivals"].append({"law": "m2", "score": 0.01, "params": {p.name: p.start[0] for p in m2.params}})

    edits = (("selection", lambda d: d["selection"]["rivals"][0].update(score=0.02), "must be its scored candidate's"),
             ("selection", lower_rival, "is below the chosen law's"),
             ("selection", lambda d: d["selection"]["rivals"].append(d["selection"]["rivals"][0]), "must be distinct"),
             ("selection", lambda d: d["selection"].update(ties=["power_law_offset"]), "is tied with the chosen law"),
             ("selection", twin_rival, "rivals power_law_offset and m2 score alike"),
             ("selection", lambda d: d["selection"]["candidates"][0].update(score="inf"), "needs a finite score"),
             ("selection", lambda d: d["selection"].update(law="power_law_offset"), "selection must be a record of"),
             ("status", lambda d: d.update(status="banana"), "status must be one of"),
             ("params", lambda d: d["params"].update(a="0.37"), "fit document `a` must be a number; got '0.37'"),
             ("x_range", lambda d: d.pop("x_range"), "x_range lacks input x"))
    for _, edit, match in edits:
        bad = json.loads(json.dumps(doc))
        edit(bad)
        with pytest.raises(sl.InputError, match=match):
            sl.FitResult.from_dict(bad)
    from typer.testing import CliRunner

    from scalinglaws.cli import app

    path = tmp_path / "fit.json"
    path.write_text(json.dumps(doc))
    for fmt in ("json", "table"):
        res = CliRunner().invoke(app, ["predict", str(path), "--at", "x=1e8", "--format", fmt])
        assert res.exit_code == 0, res.output
        if fmt == "json":
            out = json.loads(res.stdout)
            assert out["averaged"] == pytest.approx({"power_law": w[0], "power_law_offset": w[1]})
            assert out["predictions"][0]["y"] == pytest.approx(r.predict({"x": [1e8]})[0], rel=1e-12)
        else:
            assert "the weighted average of power_law (0.61), power_law_offset (0.39)" in res.stdout
    for law, params, match in (("power_law_offset", {**other.params, "b": -0.5}, "must be finite and within"),
                               ("chinchilla", {"E": 1.0, "A": 1.0, "B": 1.0, "alpha": 0.3, "beta": 0.3}, "is not a law of the chosen law.s inputs")):
        bad = json.loads(json.dumps(doc))
        bad["selection"]["rivals"][0].update(law=law, params=params)
        with pytest.raises(sl.InputError, match=match):
            sl.FitResult.from_dict(bad)


@pytest.mark.xdist_group("auto")  # with the other --law auto tests: their compiled programs are shared
def test_auto_keeps_a_trusted_law_of_similar_score_as_a_rival_on_real_runs():
    """OpenEuroLLM's runs below 3e20 FLOPs: chinchilla scores best inside them, kaplan_nd within
    a factor of 3 (and forecasts the larger runs better): it is kept as a rival."""
    from pathlib import Path

    from scalinglaws.fit.records import RIVAL_FACTOR

    path = Path(__file__).resolve().parents[2] / "shared" / "data" / "openeurollm_dense_scaling" / "lr_gbsz_min_smooth.csv"
    if not path.exists():
        pytest.skip("../shared/data is not here")
    t = pd.read_csv(path)

    r = sl.fit("auto", t[t["C"] < 3e20])
    sel = r.selection
    scores = {c.law: c.score for c in sel.candidates}
    assert sel.law == "chinchilla" and [r.law for r in sel.rivals] == ["kaplan_nd"]
    assert scores["kaplan_nd"] <= RIVAL_FACTOR * scores["chinchilla"]
    assert sel.rivals[0].score == scores["kaplan_nd"]
    big = t[t["C"] >= 3e20]
    rmse = lambda y_hat: float(np.sqrt(np.mean(np.log(y_hat / big["loss"].to_numpy()) ** 2)))  # noqa: E731
    averaged, alone = rmse(r.predict(big)), rmse(r.law.predict(r.params, {k: big[k].to_numpy() for k in ("N", "D")}))
    assert averaged < 0.8 * alone  # 0.0158 against 0.0213: averaging with the rival forecasts the larger runs better
    (plan,) = sl.compute_optimal(r, 3.08e21)  # the plan minimises the same averaged forecast predict gives
    assert plan["loss"] == pytest.approx(r.predict({"N": [plan["N"]], "D": [plan["D"]]})[0], rel=1e-12)
    alone_plan = sl.compute_optimal(r.law, 3.08e21, params=r.params)[0]
    assert plan["loss"] < alone_plan["loss"] - 0.01


def test_rivals_whose_scores_agree_are_one_fit_and_weigh_once():
    from scalinglaws.fit.records import CandidateScore
    from scalinglaws.select import TOLERANCE, _distinct

    def score(law, n_params, s):
        return CandidateScore(law, n_params, s, (s,), "scored")

    rivals = [score("m2", 4, 0.0050), score("power_law_offset", 3, 0.0050 * (1 + TOLERANCE / 2)),
              score("bnsl2", 5, 0.0070), score("m4", 5, 0.0050), score("m3", 5, 0.0070 * (1 + 3 * TOLERANCE))]
    kept, merged = _distinct(rivals)
    assert [s.law for s in kept] == ["power_law_offset", "bnsl2", "m3"]  # the simplest of each fit, in their order
    assert merged == {"power_law_offset": ["m2", "m4"]}


@pytest.mark.xdist_group("auto")  # with the other --law auto tests: their compiled programs are shared
def test_rivals_that_reach_one_fit_on_real_runs_count_once_in_the_average():
    """OPT-30B's 15 checkpoints (colpret): m2, power_law_offset, saturating_power and m4 end on one
    fit; as four rivals, that one forecast took most of the average's weight."""
    from pathlib import Path

    from scalinglaws.select import TOLERANCE

    path = Path(__file__).resolve().parents[2] / "shared" / "data" / "colpret_collection" / "opt_training_trajectories.csv"
    if not path.exists():
        pytest.skip("../shared/data is not here")
    t = pd.read_csv(path)
    t = t[t["model_size"] == "30b"]
    sel = sl.fit("auto", pd.DataFrame({"tokens": 10 ** t["num_token"], "loss": np.log(t["ppl"])}),
                 x={"x": "tokens"}).selection
    scores = [sel.candidates[[c.law for c in sel.candidates].index(sel.law)].score] + [r.score for r in sel.rivals]
    assert all(abs(a - b) > TOLERANCE * min(a, b) for i, a in enumerate(scores) for b in scores[i + 1:])
    assert "(the same fit): one rival" in sel.reason and len(sel.weights()) == len(sel.rivals) + 1
