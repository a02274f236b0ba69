"""Figures, the HTML report, Jupyter's display, progress and the web app's API (the browser tests
are in test_browser.py)."""

import json
import re

import matplotlib
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import scalinglaws as sl
from scalinglaws import plot
from scalinglaws.cli import app, run
from scalinglaws.errors import InputError
from scalinglaws.nested import errors_by_cut
from scalinglaws.plot._common import new_axes

matplotlib.use("Agg")
TARGET = {"N": 7e10, "D": 1.4e12}
POINT = {k: [v] for k, v in TARGET.items()}


@pytest.fixture(scope="module")
def boot(chinchilla_runs):
    return sl.fit("chinchilla", chinchilla_runs, bootstrap=60, rng=0)


def test_the_fit_figure_draws_the_runs_the_forecast_to_the_target_and_its_band(boot, chinchilla_runs):
    ax = plot.fit_curve(boot, chinchilla_runs, to=TARGET, ax=new_axes())
    forecast = next(line for line in ax.get_lines() if line.get_label().startswith("forecast"))
    x, y = forecast.get_data()
    assert x[-1] == pytest.approx(TARGET["N"]) and y[-1] == pytest.approx(boot.predict(POINT)[0], rel=1e-12)
    band = [c for c in ax.collections if c.get_label().startswith("90% prediction interval")]
    assert len(band) == 1
    lo, hi = boot.predict_interval(POINT, level=0.9)
    top = band[0].get_paths()[0].vertices[:, 1]
    assert top.min() == pytest.approx(min(lo[0], top.min())) and top.max() >= hi[0] * (1 - 1e-9)
    runs = [c for c in ax.collections if c.get_label() == "runs"][0]
    assert len(runs.get_offsets()) == boot.n_points  # the fitted runs, not the excluded ones
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"


def test_without_a_bootstrap_the_figure_says_there_is_no_band(chinchilla_runs):
    fit = sl.fit("chinchilla", chinchilla_runs)
    ax = plot.fit_curve(fit, chinchilla_runs, to=TARGET, ax=new_axes())
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "no band: fit with a bootstrap for one" in labels
    assert not [c for c in ax.collections if "interval" in c.get_label()]
    with pytest.raises(InputError, match="--along must be an input of law chinchilla"):
        plot.fit_curve(fit, chinchilla_runs, along="C")
    with pytest.raises(InputError, match="prediction input `N`"):
        plot.fit_curve(fit, chinchilla_runs, to={"N": -1, "D": 1e12})


def test_a_curve_per_group_when_few_groups_share_the_other_inputs():
    law = sl.get_law("chinchilla")
    p = {"E": 1.7, "A": 400.0, "B": 400.0, "alpha": 0.34, "beta": 0.28}
    N = np.repeat([1e8, 1e9, 1e10], 6)
    D = np.tile(np.geomspace(1e9, 1e11, 6), 3)
    runs = pd.DataFrame({"N": N, "D": D, "loss": law.predict(p, {"N": N, "D": D})})
    fit = sl.fit("chinchilla", runs)
    ax = plot.fit_curve(fit, runs, along="D", ax=new_axes())
    groups = [t.get_text() for t in ax.get_legend().get_texts() if t.get_text().startswith("N=")]
    assert groups == ["N=1e+08", "N=1e+09", "N=1e+10"]


def test_residuals_are_the_fits_log_residuals_against_scale(boot, chinchilla_runs):
    ax = plot.residuals(boot, chinchilla_runs, ax=new_axes())
    offsets = ax.collections[0].get_offsets()
    dm = sl.data.design(chinchilla_runs, boot.law, x=boot.columns, y=boot.y_column)
    assert np.allclose(offsets[:, 1], np.log(dm.y) - np.log(boot.predict(dm.x)))
    assert np.allclose(offsets[:, 0], dm.x["N"] * dm.x["D"], rtol=1e-9)


def test_the_frontier_is_the_compute_optimal_loss(boot, chinchilla_runs):
    ax = plot.frontier(chinchilla_runs, fit=boot, budgets=[1e20, 1e21, 1e22], ax=new_axes())
    line = next(li for li in ax.get_lines() if li.get_label().startswith("compute-optimal"))
    expected = [p["loss"] for p in sl.compute_optimal(boot, [1e20, 1e21, 1e22])]
    assert np.allclose(line.get_ydata(), expected, rtol=1e-12)
    with pytest.raises(InputError, match="model-size column"):
        plot.frontier(pd.DataFrame({"x": [1.0, 2.0], "loss": [1.0, 2.0]}))


def test_bootstrap_pairs_and_candidates_refuse_fits_without_what_they_draw(boot, chinchilla_runs):
    from matplotlib.figure import Figure

    grid = plot.bootstrap_pairs(boot, fig=Figure())
    assert grid.shape == (5, 5)
    assert len(grid[4, 0].collections[0].get_offsets()) == len(boot.bootstrap.params["E"])
    with pytest.raises(InputError, match="--bootstrap"):
        plot.bootstrap_pairs(sl.fit("chinchilla", chinchilla_runs), fig=Figure())
    with pytest.raises(InputError, match="--params must name parameters"):
        plot.bootstrap_pairs(boot, params=["E", "nope"], fig=Figure())
    with pytest.raises(InputError, match="--law auto"):
        plot.candidates(boot, fig=Figure())


def test_backtest_errors_by_cut_and_decades(chinchilla_runs):
    table = errors_by_cut("chinchilla", chinchilla_runs)
    assert list(table.columns) == ["fraction", "cut", "row", "decades", "beyond", "error", "status"]
    assert table.attrs["space"] == "log" and np.isfinite(table["error"]).all() and (table["decades"] >= 0).all()
    # each fold holds out every fitted run beyond its cut-off: the later the cut-off, the fewer
    counts = table.groupby("fraction").size().to_numpy()
    assert np.all(np.diff(counts) < 0) and counts[0] < 240
    ax = plot.backtest_errors(table, ax=new_axes())
    assert sum(len(c.get_offsets()) for c in ax.collections) == len(table)


def test_save_writes_the_format_its_suffix_names(boot, tmp_path):
    ax = plot.fit_curve(boot, ax=new_axes())  # the law alone over the fitted range
    for suffix, magic in ((".png", b"\x89PNG"), (".svg", b"<?xml"), (".pdf", b"%PDF")):
        path = plot.save(ax, tmp_path / f"f{suffix}")
        assert path.read_bytes()[:4] == magic[:4]
    with pytest.raises(InputError, match=r"--out must end in \.png, \.svg, \.pdf"):
        plot.save(ax, tmp_path / "f.txt")


def test_the_plot_command_writes_each_kind(tmp_path, chinchilla_runs):
    runner = CliRunner()
    for kind in ("fit", "residuals", "bootstrap", "frontier", "backtest", "plan"):
        out = tmp_path / f"{kind}.svg"
        extra = {"fit": ["--to", "N=7e10,D=1.4e12"], "plan": ["--compute", "1e22:1e24:3"]}.get(kind, [])
        res = runner.invoke(app, ["plot", "chinchilla", "--law", "chinchilla", "--kind", kind, "--bootstrap", "30",
                                  *extra, "--out", str(out), "--format", "json"])
        assert res.exit_code == 0, res.stderr
        assert json.loads(res.stdout) == {"out": str(out), "kind": kind, "format": "svg"}
        assert out.read_text().count("<svg") == 1


@pytest.mark.parametrize("args, code, message", [
    (["--kind", "pie"], 2, "--kind must be one of fit, residuals"),
    (["--kind", "fit"], 2, "--kind fit needs --law NAME"),
    (["--law", "chinchilla", "--kind", "plan"], 2, "--kind plan needs --compute"),
    (["--kind", "coverage"], 2, "--kind coverage needs --k-max"),
    (["--law", "chinchilla", "--kind", "coverage", "--k-max", "10"], 2, "--law applies to run tables"),
    (["--law", "chinchilla", "--kind", "residuals", "--compute", "1e22"], 2, "--compute applies to --kind plan"),
    (["--law", "chinchilla", "--level", "1.5"], 1, "--level must lie strictly between 0 and 1"),
    (["--law", "chinchilla", "--to", "N=abc"], 1, "--to N must be a number"),
    (["--law", "nope"], 1, "unknown law `nope`"),
])
def test_plot_errors_are_one_line(tmp_path, capsys, args, code, message):
    assert run(["plot", "chinchilla", "--out", str(tmp_path / "f.png"), "--bootstrap", "0", *args]) == code
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert run(["plot", "chinchilla", "--law", "chinchilla", "--out", str(tmp_path / "f.gif")]) == 2
    assert "--out must end in .png, .svg, .pdf" in capsys.readouterr().err


def test_the_report_is_one_page_that_escapes_what_it_is_given_and_fetches_nothing(chinchilla_runs):
    table = chinchilla_runs.table.rename(columns={"loss": "<script>alert(1)</script>"})
    runs = sl.Runs(table, source="<img src=x onerror=alert(2)>", excluded="excluded")
    made = sl.report.build(runs, laws=["chinchilla", "nope"], y="<script>alert(1)</script>", at=TARGET,
                           compute=[5.88e23], bootstrap=30)
    page = made.html
    assert made.not_fitted == {"nope": "unknown law `nope`" + made.not_fitted["nope"][len("unknown law `nope`"):]}
    assert "<script" not in page and "<img" not in page and "&lt;script&gt;" in page
    assert "not fitted: unknown law `nope`" in page  # one law failing does not stop the report
    references = re.findall(r"<[a-zA-Z][^>]*?\s((?:xlink:)?(?:src|href))\s*=\s*\"([^\"]*)\"", page)
    assert references and all(value.startswith(("#", "data:image/png;base64,")) for _, value in references)  # in-page only
    assert "@import" not in page and "url(http" not in page
    for section in ("<h2>Data</h2>", "<h2>Law chinchilla</h2>", "<h2>Backtests</h2>", "<h2>Compute-optimal plan</h2>"):
        assert section in page
    with pytest.raises(InputError, match="no law could be fitted: nope: unknown law"):
        sl.report.build(runs, laws=["nope"], bootstrap=0)


def test_the_report_command_writes_html_and_says_what_it_wrote(tmp_path, capsys):
    out = tmp_path / "r.html"
    res = CliRunner().invoke(app, ["report", "chinchilla", "--law", "chinchilla", "--bootstrap", "0", "--out", str(out),
                                   "--format", "json"])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["figures"] == 3 and doc["bytes"] == len(out.read_bytes())  # fit, residuals, backtest
    assert run(["report", "chinchilla", "--out", str(tmp_path / "r.pdf")]) == 2
    for args, message in ((["--law", "chinchilla,nosuch"], "unknown law `nosuch`"),
                          (["--law", "chinchilla", "--at", "Q=5"], "--at must give the inputs of law chinchilla"),
                          (["--law", "chinchilla", "--compute", "0"], "--compute budgets must be positive")):
        assert run(["report", "chinchilla", *args, "--out", str(tmp_path / "r.html")]) == 1
        assert message in capsys.readouterr().err
    assert run(["plot", "chinchilla", "--law", "chinchilla", "--bootstrap", "0", "--out",
                str(tmp_path / "missing" / "f.png")]) == 1
    assert "--out must be a writable path" in capsys.readouterr().err


def test_jupyter_shows_a_fit_a_backtest_and_a_plan_as_a_table_and_a_figure(boot, chinchilla_runs):
    for shown in (boot, sl.backtest("chinchilla,kaplan_nd", chinchilla_runs, train_where="C < 1e21"),
                  sl.compute_optimal(boot, [1e22, 1e23])):
        html = shown._repr_html_()
        assert "<table>" in html and "<svg" in html
    plans = sl.compute_optimal(boot, [1e22])
    assert isinstance(plans, list) and json.loads(json.dumps(plans))[0]["N"] == plans[0]["N"]


def test_progress_counts_every_bootstrap_lane_and_piped_output_is_one_line_per_stage(monkeypatch, chinchilla_runs):
    from scalinglaws import _progress
    from scalinglaws.cli import commands

    seen = []

    class Record:
        def start(self, name, total):
            seen.append(["start", name, total])
            return len(seen) - 1

        def update(self, handle, done):
            seen[handle].append(done)

        def end(self, handle, done, ok):
            seen.append(["end", seen[handle][1], done, ok])

    with _progress.listen(Record()):
        sl.fit("chinchilla", chinchilla_runs, bootstrap=40, rng=1)
    start = next(s for s in seen if s[0] == "start" and s[1].startswith("bootstrap"))
    assert start[2] >= 40 and start[-1] == start[2]  # every lane counted once
    assert ["end", start[1], start[2], True] in seen
    monkeypatch.setattr(commands, "PIPED_STAGE_SECONDS", 0.0)
    res = CliRunner().invoke(app, ["fit", "chinchilla", "--law", "chinchilla", "--bootstrap", "40", "--format", "json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["law"] == "chinchilla"  # stdout stays one JSON document
    lines = res.stderr.strip().splitlines()
    assert lines and all(line.startswith("scalinglaws: bootstrap: refitting 40 resamples (") for line in lines)
    assert " done in " in lines[0]


class TestWebApi:
    @pytest.fixture(scope="class")
    @classmethod
    def client(cls):
        from starlette.testclient import TestClient

        from scalinglaws.web import create_app

        return TestClient(create_app("chinchilla", max_upload=50_000), base_url="http://127.0.0.1:8765")

    def test_the_first_table_and_a_fit_equal_the_python_api(self, client, chinchilla_runs):
        start = client.get("/api/start").json()
        assert start["table"]["rows"] == 245 and "chinchilla" in [d["name"] for d in start["datasets"]]
        doc = client.post("/api/fit", json={"token": start["table"]["token"], "law": "chinchilla", "at": TARGET,
                                            "bootstrap": 0}).json()
        expected = sl.fit("chinchilla", chinchilla_runs, rng=0)
        assert doc["forecast"]["y"] == pytest.approx(float(expected.predict(POINT)[0]), rel=1e-12)
        assert doc["fit"]["params"] == pytest.approx(expected.params, rel=1e-12)
        assert "no interval" in doc["forecast"]["interval_note"] and doc["figures"]["fit"].startswith("<svg")

    @pytest.mark.parametrize("request_, message", [
        ({"law": "nope"}, "unknown law `nope`"),
        ({"law": "chinchilla", "bootstrap": 5000}, "bootstrap must be a whole number from 0 to 1000"),
        ({"law": "chinchilla", "at": {"N": "big"}}, "target N must be a number"),
        ({"law": "chinchilla", "where": "C <"}, "--where"),
    ])
    def test_refusals_carry_the_clis_message(self, client, request_, message):
        token = client.get("/api/start").json()["table"]["token"]
        res = client.post("/api/fit", json={"token": token, **request_})
        assert res.status_code == 200 and message in res.json()["error"]

    def test_uploads_are_limited_checked_and_never_kept_on_disk(self, client, tmp_path, monkeypatch):
        import tempfile

        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
        res = client.post("/api/upload?name=../../etc/passwd.csv", content=b"N,D,loss\n1e8,1e9,3.0\n")
        assert res.json()["source"] == "../../etc/passwd.csv" and list(tmp_path.iterdir()) == []
        assert "limit is 0.1 MB" in client.post("/api/upload?name=a.csv", content=b"x" * 60_000).json()["error"]
        assert "has no rows" in client.post("/api/upload?name=a.csv", content=b"N,D,loss\n").json()["error"]
        assert "extension `.py`" in client.post("/api/upload?name=a.py", content=b"1").json()["error"]

    def test_only_the_apps_own_files_are_served_with_a_strict_policy(self, client):
        page = client.get("/")
        assert page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
        assert "http" not in page.text.replace("http-equiv", "")  # every asset from this server
        for path in ("/static/__init__.py", "/static/..%2f__init__.py", "/static/work.py"):
            assert client.get(path).status_code == 404

    def test_requests_from_other_sites_and_other_host_names_are_refused(self, client):
        token = client.get("/api/start").json()["table"]["token"]
        body = {"token": token, "law": "chinchilla"}
        assert client.get("/api/start", headers={"host": "rebound.example"}).status_code == 400  # DNS rebinding
        for headers in ({"origin": "http://evil.example"}, {"sec-fetch-site": "cross-site"}):
            assert "refused: a request from" in client.post("/api/fit", json=body, headers=headers).json()["error"]
            assert client.post("/api/upload?name=a.csv", content=b"N\n1\n", headers=headers).status_code == 403
        simple = client.post("/api/fit", content=json.dumps(body), headers={"content-type": "text/plain"})
        assert "Content-Type: application/json" in simple.json()["error"]  # a form cannot post it
        assert "not by a law file" in client.post("/api/fit", json={**body, "law": "/etc/x.toml"}).json()["error"]

    def test_bodies_and_tables_are_bounded(self, client, monkeypatch):
        from scalinglaws.web import work

        huge = {"token": "x", "law": "chinchilla", "pad": "x" * 60_000}
        assert "limit is 0.1 MB" in client.post("/api/fit", json=huge).json()["error"]
        monkeypatch.setattr(work, "MAX_CELLS", 100)
        big = b"N,D,loss\n" + b"1e8,1e9,3.0\n" * 40
        assert "cells" in client.post("/api/upload?name=a.csv", content=big).json()["error"]
        token = client.get("/api/start").json()["table"]["token"]
        many = client.post("/api/fit", json={"token": token, "law": "chinchilla", "compute": [1e22] * 101})
        assert "at most 100 budgets" in many.json()["error"]


def test_a_where_that_hides_a_call_in_a_quoted_name_is_refused_and_runs_nothing(tmp_path, chinchilla_runs):
    target = tmp_path / "written.csv"
    hidden = f"N > 0 or '`' == N.to_csv('{target}') or '`' == 'a'"
    with pytest.raises(InputError, match="may use only columns"):
        sl.fit("chinchilla", chinchilla_runs, where=hidden)
    assert not target.exists()
    table = chinchilla_runs.table.rename(columns={"N": "model size"})
    fit = sl.fit("chinchilla", table, x={"N": "model size"}, where="`model size` > 1e9 and `loss` < 3")
    assert fit.n_points == int(((table["model size"] > 1e9) & (table["loss"] < 3) & ~table["excluded"]).sum())
    with pytest.raises(InputError, match="name `nope` is not defined"):
        sl.fit("chinchilla", table, x={"N": "model size"}, where="`nope` > 1")


def test_an_averaged_auto_forecast_is_labelled_as_the_average(chinchilla_runs):
    auto = sl.fit("auto", chinchilla_runs)
    assert auto.selection.rivals  # chinchilla with kaplan_nd on these runs
    ax = plot.fit_curve(auto, chinchilla_runs, to=TARGET, ax=new_axes())
    label = next(t.get_text() for t in ax.get_legend().get_texts() if t.get_text().startswith("forecast"))
    assert "chinchilla averaged with kaplan_nd (weights" in label
    assert "averaged with" in auto._repr_html_()


def test_dollars_and_backslashes_in_column_names_are_text(chinchilla_runs, tmp_path):
    table = chinchilla_runs.table.rename(columns={"loss": r"loss $\foo$ \input{/etc/passwd}"})
    runs = sl.Runs(table, excluded="excluded")
    page = sl.report.build(runs, laws=["chinchilla"], y=r"loss $\foo$ \input{/etc/passwd}", bootstrap=0).html
    assert "not drawn" not in page and page.count("<figure ") == 3


def test_a_law_of_a_falling_input_backtests_in_its_own_units():
    L = np.linspace(2.4, 6.0, 30)
    err = 0.9 - 4.0 * np.exp(-0.8 * L) + 0.002 * np.sin(7 * L)
    table = errors_by_cut("err_from_loss_exp", pd.DataFrame({"L": L, "err": err}), y="err")
    assert table.attrs["distance"][0] == "beyond" and "own units" in table.attrs["distance"][1]
    # the cut-off is a loss (the fits train on the high losses and forecast the low ones)
    assert table["cut"].between(2.4, 6.0).all() and (table["beyond"] > 0).all()
    plot.backtest_errors(table, ax=new_axes())


def test_lowest_runs_are_marked_only_on_iso_flop_budgets(chinchilla_runs):
    from scalinglaws.plot.scale import _budget_minima

    t = chinchilla_runs.table
    assert _budget_minima(t["C"].to_numpy(), t["N"].to_numpy(), t["loss"].to_numpy()) == []  # not a grid
    C = np.repeat([1e18, 1e19, 1e20], 5)
    N = np.tile(np.geomspace(1e7, 1e9, 5), 3) * np.repeat([1, 3, 10], 5)
    loss = 2 + (np.log(N) - np.log(np.repeat([1e8, 3e8, 1e9], 5))) ** 2
    assert _budget_minima(C, N, loss) == [2, 7, 12]
