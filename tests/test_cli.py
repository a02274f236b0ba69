"""The CLI contract (DESIGN.md), through typer's CliRunner."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scalinglaws.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def fit_doc(tmp_path_factory):
    path = tmp_path_factory.mktemp("fit") / "fit.json"
    res = run("fit", "chinchilla", "--law", "chinchilla", "--format", "json", "--out", path)
    assert res.exit_code == 0, res.output
    return path, json.loads(res.stdout)


def test_fit_json_document(fit_doc):
    path, doc = fit_doc
    for key in ("law", "params", "objective", "n_points", "status", "n_starts", "n_at_best"):
        assert key in doc
    assert doc["law"] == "chinchilla" and doc["n_points"] == 240 and doc["status"] == "converged"
    assert set(doc["params"]) == {"E", "A", "B", "alpha", "beta"}
    assert json.loads(path.read_text()) == doc  # --out writes the same document


def test_fit_hoffmann2022_json_reproduces_epoch():
    res = run("fit", "chinchilla", "--law", "chinchilla", "--method", "hoffmann2022", "--format", "json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert f"{doc['objective']:.6e}" == "1.018274e-03" and doc["n_starts"] == 4500
    assert doc["params"]["alpha"] == pytest.approx(0.347313, rel=5e-4)


def test_fit_table_output(fit_doc):
    res = run("fit", "chinchilla", "--law", "chinchilla")
    assert res.exit_code == 0
    assert "alpha" in res.stdout and "status converged" in res.stdout and "5 rows marked excluded" in res.stdout


def test_predict_at_one_and_several_points(fit_doc, tmp_path):
    path, doc = fit_doc
    res = run("predict", path, "--at", "N=7e10,D=1.4e12", "--at", "N=1e9,D=2e10", "--format", "json")
    assert res.exit_code == 0, res.output
    preds = json.loads(res.stdout)["predictions"]
    assert [p["N"] for p in preds] == [7e10, 1e9]
    assert preds[0]["decades_beyond"] > 0 and preds[1]["decades_beyond"] == 0  # 7e10 lies beyond the fitted N
    p = doc["params"]
    expect = p["E"] + p["A"] / 7e10 ** p["alpha"] + p["B"] / 1.4e12 ** p["beta"]
    assert preds[0]["y"] == pytest.approx(expect, rel=1e-12)
    points = tmp_path / "points.csv"
    points.write_text("N,D\n7e10,1.4e12\n1e9,2e10\n")
    res2 = run("predict", path, "--points", points, "--format", "json")
    assert [q["y"] for q in json.loads(res2.stdout)["predictions"]] == [q["y"] for q in preds]
    observed = tmp_path / "observed.csv"  # a points table that carries the observed loss too
    observed.write_text("N,D,loss\n7e10,1.4e12,1.9\n")
    res3 = run("predict", path, "--points", observed)
    assert res3.exit_code == 0, res3.output
    assert "loss (forecast)" in res3.stdout


def test_fit_with_x_mapping_fix_where_and_by(tmp_path):
    csv = tmp_path / "curve.csv"
    rows = ["steps,val,run"] + [f"{s},{1.5 + 30 * s ** -0.3:.12g},{r}" for r in ("a", "b") for s in (1e3, 3e3, 1e4, 3e4, 1e5, 3e5)]
    csv.write_text("\n".join(rows) + "\n")
    res = run("fit", csv, "--law", "power_law_offset", "--x", "x=steps", "--y", "val", "--by", "run", "--format", "json")
    assert res.exit_code == 0, res.output
    fits = json.loads(res.stdout)["fits"]
    assert [f["group"] for f in fits] == ["a", "b"]
    assert fits[0]["params"]["b"] == pytest.approx(0.3, rel=1e-4)
    assert json.loads(res.stdout)["skipped"] == []
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("\n".join(rows + ["1e3,2.0,short", "1e4,1.9,short"]) + "\n")  # a group too small for the law
    for fmt in ("json", "table"):
        res = run("fit", mixed, "--law", "power_law_offset", "--x", "x=steps", "--y", "val", "--by", "run", "--format", fmt)
        assert res.exit_code == 0, res.output
        if fmt == "json":
            doc = json.loads(res.stdout)
            assert [f["group"] for f in doc["fits"]] == ["a", "b"]
            assert [s["group"] for s in doc["skipped"]] == ["short"] and "only 2 runs" in doc["skipped"][0]["reason"]
        else:
            assert "not fitted: `run` = 'short':" in res.stdout
    res = run("fit", mixed, "--law", "power_law_offset", "--x", "x=steps", "--y", "val", "--by", "run", "--where",
              "run == 'short'")
    assert res.exit_code == 1 and "no `run` group could be fitted: `run` = 'short'" in res.output
    res = run("fit", csv, "--law", "power_law_offset", "--x", "x=steps", "--y", "val", "--fix", "E=1.5",
              "--where", "steps > 2e3", "--format", "json")
    doc = json.loads(res.stdout)
    assert doc["params"]["E"] == 1.5 and doc["fixed"] == ["E"] and doc["n_points"] == 10


def test_plan_from_fit(fit_doc):
    path, _ = fit_doc
    res = run("plan", path, "--compute", "5.88e23,1e24", "--format", "json")
    assert res.exit_code == 0, res.output
    plans = json.loads(res.stdout)["plans"]
    assert len(plans) == 2 and 15 < plans[0]["tokens_per_param"] < 25
    repeated = run("plan", path, "--compute", "5.88e23", "--compute", "1e24", "--format", "json")
    assert json.loads(repeated.stdout)["plans"] == plans  # a repeated option adds budgets, it does not replace them


def test_laws_and_datasets():
    laws = json.loads(run("laws", "--format", "json").stdout)
    assert {"chinchilla", "power_law", "power_law_offset", "kaplan_n", "kaplan_d", "kaplan_nd"} <= {d["name"] for d in laws}
    assert all({"name", "inputs", "params", "equation", "reference"} <= set(d) for d in laws)
    one = json.loads(run("laws", "chinchilla", "--format", "json").stdout)
    assert one["inputs"] == ["N", "D"] and one["family"] == "pretraining" and one["auto"] is True
    listing = run("laws").stdout  # by family
    assert all(f"{family} laws" in listing for family in ("pretraining", "curves", "dynamics", "data", "downstream",
                                                            "inference"))
    assert listing.index("pretraining laws") < listing.index("kaplan_cmin") < listing.index("curves laws")
    ds = json.loads(run("datasets", "--format", "json").stdout)
    assert ds[0]["name"] == "chinchilla" and ds[0]["rows"] == 245
    assert "Epoch" in run("datasets", "chinchilla").stdout


ERRORS = [
    (["fit", "chinchilla", "--law", "nope"], "unknown law `nope`"),
    (["fit", "nowhere.csv", "--law", "chinchilla"], "DATA `nowhere.csv` is neither a file nor a bundled dataset"),
    (["fit", "chinchilla", "--law", "chinchilla", "--x", "N"], "--x must look like NAME=VALUE; got 'N'"),
    (["fit", "chinchilla", "--law", "chinchilla", "--fix", "alpha=abc"], "--fix alpha must be a number; got 'abc'"),
    (["fit", "chinchilla", "--law", "chinchilla", "--where", "Q > 1"], "--where `Q > 1` could not be evaluated"),
    (["fit", "chinchilla", "--law", "chinchilla", "--by", "nope"], "--by must name a column"),
    (["fit", "chinchilla", "--law", "chinchilla", "--where", "C > 1e30"], "the condition `C > 1e30` (--where"),
    (["fit", "chinchilla", "--law", "kaplan_nd", "--method", "hoffmann2022"], "hoffmann2022 is the published procedure"),
    (["predict", "missing.json", "--at", "N=1,D=1"], "FIT `missing.json` could not be read"),
    (["plan", "--law", "chinchilla", "--params", "E=1", "--compute", "1e20"], "--params lacks `A`"),
    (["laws", "nope"], "unknown law `nope`"),
    (["datasets", "nope"], "unknown dataset `nope`"),
]


@pytest.mark.parametrize("args,message", ERRORS, ids=[" ".join(a[:3]) for a, _ in ERRORS])
def test_errors_exit_1_with_one_line_and_no_traceback(args, message):
    res = run(*args)
    assert res.exit_code == 1
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert "Traceback" not in res.output


def test_predict_errors(fit_doc, tmp_path):
    path, _ = fit_doc
    res = run("predict", path, "--at", "N=1e9")
    assert res.exit_code == 1 and "must give every input of law chinchilla" in res.stderr
    res = run("predict", path)
    assert res.exit_code == 2 and "exactly one of --at or --points" in res.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    res = run("predict", bad, "--at", "N=1,D=1")
    assert res.exit_code == 1 and "is not JSON" in res.stderr
    doc = json.loads(Path(path).read_text())
    bad.write_text(json.dumps({**doc, "space": "cubic"}))  # a hand-edited residual space
    res = run("predict", bad, "--at", "N=1,D=1")
    assert res.exit_code == 1 and "fit document space must be one of log, linear; got 'cubic'" in res.stderr


def test_usage_errors_exit_2():
    assert run("fit", "chinchilla").exit_code == 2  # --law is required
    assert run("fit", "chinchilla", "--law", "chinchilla", "--starts", "many").exit_code == 2
    res = run("fit", "chinchilla", "--law", "chinchilla", "--format", "xml")  # a value outside the option's choices
    assert res.exit_code == 2 and "--format must be one of table, json; got 'xml'" in res.stderr
    res = run("fit", "chinchilla", "--law", "chinchilla", "--space", "cubic")
    assert res.exit_code == 2 and "--space must be one of log, linear; got 'cubic'" in res.stderr
    res = run("fit", "chinchilla", "--law", "auto", "--space", "linear")
    assert res.exit_code == 2 and "--space sets the residuals of one law" in res.stderr
    res = run("backtest", "chinchilla", "--law", "chinchilla", "--train-where", "N < 1e9", "--space", "cubic")
    assert res.exit_code == 2 and "--space must be one of log, linear; got 'cubic'" in res.stderr


@pytest.mark.parametrize("args,code,stream,text", [
    (["laws", "chinchilla", "--format", "json"], 0, "stdout", '"name": "chinchilla"'),
    (["fit", "chinchilla", "--law", "nope"], 1, "stderr", "error: unknown law `nope`"),
    (["fit"], 2, "stderr", "Missing argument"),
])
def test_the_console_script_keeps_exit_codes_and_output(args, code, stream, text):
    """``main`` leaves the process with ``os._exit``: the code and the flushed output must survive."""
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-c", "from scalinglaws.cli import main; main()", *args],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == code, res.stderr[-2000:]
    assert text in getattr(res, stream)
    assert "Traceback" not in res.stderr
