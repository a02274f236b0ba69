"""Fuzz the command line with malformed input (DESIGN.md, "CLI contract").

For every malformed command line, `scalinglaws.cli.run` must return 1 (bad input or a failed fit) or
2 (usage) without raising; stderr must be exactly one non-empty line starting with "error: ",
stdout must be empty, no traceback may appear anywhere, every input file must be byte-for-byte
unchanged and no file other than an explicit ``--out`` target may appear in the working folder.

Most cases fail in validation, before any fit is compiled; the few that fit are kept small.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scalinglaws.cli import run

CHINCHILLA = dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)


def chinchilla_loss(n: float, d: float) -> float:
    p = CHINCHILLA
    return p["E"] + p["A"] / n ** p["alpha"] + p["B"] / d ** p["beta"]


def grid_rows(ns=(1e8, 3e8, 1e9, 3e9), ds=(2e9, 1e10, 5e10)) -> list[list[str]]:
    """A small, valid table of chinchilla runs (N, D, loss) as strings."""
    return [[repr(n), repr(d), repr(chinchilla_loss(n, d))] for n in ns for d in ds]


def csv_text(header, rows) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if header is not None:
        w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def corrupt(column: str, value: str, row: int = 2) -> str:
    """The valid table with one cell replaced."""
    header = ["N", "D", "loss"]
    rows = grid_rows()
    rows[row][header.index(column)] = value
    return csv_text(header, rows)


# --------------------------------------------------------------------------------------------
# the contract


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (relative path -> sha256; directories -> "<dir>")."""
    seen = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            seen[os.path.relpath(os.path.join(root, name), folder)] = "<dir>"
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as fh:
                seen[os.path.relpath(path, folder)] = hashlib.sha256(fh.read()).hexdigest()
    return seen


def check_contract(argv: list[str], capsys, folder: Path, codes=(1, 2), out: str | None = None) -> str:
    """Run ``argv`` in ``folder`` and assert the error contract; returns the error line."""
    argv = [str(a) for a in argv]
    before = snapshot(folder)
    capsys.readouterr()  # drop anything printed before this command
    try:
        code = run(argv)
    except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt included
        captured = capsys.readouterr()
        pytest.fail(f"run({argv!r}) raised {type(exc).__name__}: {exc!r}\nstdout: {captured.out[:500]!r}\n"
                    f"stderr: {captured.err[:2000]!r}")
    captured = capsys.readouterr()
    after = snapshot(folder)
    where = f"run({argv!r}) -> {code!r}\nstdout: {captured.out[:500]!r}\nstderr: {captured.err[:1000]!r}"
    assert code in codes, where
    assert "Traceback" not in captured.out and "Traceback" not in captured.err, where
    assert captured.out == "", where
    lines = captured.err.splitlines()
    assert len(lines) == 1, where
    assert lines[0].startswith("error: ") and lines[0][len("error: "):].strip(), where
    changed = sorted(k for k in before if after.get(k) != before[k])
    assert not changed, f"input files changed or removed: {changed}\n{where}"
    allowed = {out} if out is not None else set()
    created = sorted(k for k in after if k not in before and k not in allowed)
    assert not created, f"files created: {created}\n{where}"
    return lines[0]


@dataclass
class Case:
    id: str
    argv: list[str]
    codes: tuple = (1, 2)
    files: dict = field(default_factory=dict)  # name -> str | bytes | None (a directory)
    out: str | None = None


def materialise(case: Case, folder: Path, fit_doc: dict, boot_doc: dict | None = None) -> None:
    for name, content in case.files.items():
        path = folder / name
        if content is None:
            path.mkdir()
        elif isinstance(content, bytes):
            path.write_bytes(content)
        elif content == "<FIT>":
            path.write_text(json.dumps(fit_doc, indent=2) + "\n")
        elif content == "<BOOT>":
            path.write_text(json.dumps(boot_doc, indent=2) + "\n")
        else:
            path.write_text(content)


@pytest.fixture(scope="module")
def fit_doc(tmp_path_factory) -> dict:
    """One valid fit document (the bundled chinchilla runs), written once through the CLI."""
    path = tmp_path_factory.mktemp("fitdoc") / "fit.json"
    code = run(["fit", "chinchilla", "--law", "chinchilla", "--out", str(path)])
    assert code == 0 and path.is_file()
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def boot_doc(tmp_path_factory) -> dict:
    """A valid fit document with bootstrap replicates (for --interval)."""
    path = tmp_path_factory.mktemp("bootdoc") / "boot.json"
    code = run(["fit", "chinchilla", "--law", "chinchilla", "--bootstrap", "100", "--seed", "0", "--out", str(path)])
    assert code == 0 and path.is_file()
    return json.loads(path.read_text())


# --------------------------------------------------------------------------------------------
# the cases

FIT = ["fit", "runs.csv", "--law", "chinchilla"]
BUNDLED = ["fit", "chinchilla", "--law", "chinchilla"]


def table_case(id: str, content, codes=(1, 2), law="chinchilla", name="runs.csv", extra=()):
    return Case(f"table-{id}", ["fit", name, "--law", law, *extra], codes, {name: content})


GOOD = csv_text(["N", "D", "loss"], grid_rows())
# all N equal: A and alpha cannot be identified
ONE_N = csv_text(["N", "D", "loss"], [[repr(1e9), repr(d), repr(chinchilla_loss(1e9, d) * (1 + 0.01 * ((i % 3) - 1)))]
                                      for i, d in enumerate([1e9 * 2 ** k for k in range(12)])])
# 30 rows, only 3 distinct (N, D) configurations, for a law with 5 free parameters
THREE_CONFIGS = csv_text(["N", "D", "loss"], [[repr(n), repr(d), repr(chinchilla_loss(n, d) * (1 + 0.002 * (i % 5 - 2)))]
                                              for i in range(10) for n, d in ((1e8, 2e9), (1e9, 2e10), (1e10, 2e11))])
IDENTICAL = csv_text(["N", "D", "loss"], [[repr(1e9), repr(2e10), repr(chinchilla_loss(1e9, 2e10))]] * 12)

TABLE_CASES = [
    *(table_case(f"{col}-{label}", corrupt(col, value), codes=(1,))
      for col in ("N", "D", "loss")
      for label, value in (("nan", "nan"), ("NaN", "NaN"), ("inf", "inf"), ("-inf", "-inf"), ("zero", "0"),
                           ("negzero", "-0.0"), ("negative", "-1e9"), ("text", "abc"), ("blank", ""),
                           ("1e400", "1e400"), ("-1e400", "-1e400"), ("comma-decimal", "1,5"))),
    table_case("N-all-text", csv_text(["N", "D", "loss"], [["big", r[1], r[2]] for r in grid_rows()]), codes=(1,)),
    table_case("empty-file", "", codes=(1,)),
    table_case("whitespace-file", "\n\n   \n", codes=(1,)),
    table_case("header-only", "N,D,loss\n", codes=(1,)),
    table_case("header-only-no-newline", "N,D,loss", codes=(1,)),
    table_case("binary-garbage", bytes(range(256)) * 8, codes=(1,)),
    table_case("utf16-bom", "\ufeffN,D,loss\n1,2,3\n".encode("utf-16"), codes=(1,)),
    table_case("ragged-rows", "N,D,loss\n1e9,2e10,2.5\n1e9,2e10\n1e9,2e10,2.5,7,8\n", codes=(1,)),
    table_case("unbalanced-quote", 'N,D,loss\n"1e9,2e10,2.5\n1e10,2e11,2.3\n', codes=(1,)),
    table_case("missing-D", csv_text(["N", "loss"], [[r[0], r[2]] for r in grid_rows()]), codes=(1,)),
    table_case("missing-N", csv_text(["D", "loss"], [[r[1], r[2]] for r in grid_rows()]), codes=(1,)),
    table_case("missing-loss", csv_text(["N", "D"], [[r[0], r[1]] for r in grid_rows()]), codes=(1,)),
    table_case("no-header", csv_text(None, grid_rows()), codes=(1,)),
    table_case("too-few-rows", csv_text(["N", "D", "loss"], grid_rows()[:4]), codes=(1,)),
    table_case("identical-rows", IDENTICAL, codes=(1,)),
    table_case("one-distinct-N", ONE_N, codes=(1,)),
    table_case("three-configs-30-rows", THREE_CONFIGS, codes=(1,)),
    table_case("unsupported-extension", GOOD, codes=(1,), name="runs.xlsx"),
    table_case("no-extension", GOOD, codes=(1,), name="runs"),
    table_case("parquet-that-is-csv", GOOD, codes=(1,), name="runs.parquet"),
    table_case("jsonl-garbage", "{not json\n[1,2\n", codes=(1,), name="runs.jsonl"),
    table_case("excluded-not-boolean", csv_text(["N", "D", "loss", "excluded"],
                                                [r + ["maybe"] for r in grid_rows()]), codes=(1,)),
    Case("table-directory", ["fit", "runs.csv", "--law", "chinchilla"], (1,), {"runs.csv": None}),
    Case("table-directory-plain", ["fit", "somedir", "--law", "chinchilla"], (1,), {"somedir": None}),
    Case("table-nonexistent", ["fit", "missing.csv", "--law", "chinchilla"], (1,)),
    Case("table-unknown-dataset", ["fit", "no_such_dataset", "--law", "chinchilla"], (1,)),
    Case("table-empty-name", ["fit", "", "--law", "chinchilla"], (1, 2)),
    table_case("y-not-a-column", GOOD, codes=(1,), extra=("--y", "nope")),
    table_case("x-not-a-column", GOOD, codes=(1,), extra=("--x", "N=nope")),
    table_case("x-not-an-input", GOOD, codes=(1,), extra=("--x", "Q=N")),
    table_case("x-malformed", GOOD, codes=(1, 2), extra=("--x", "N")),
    table_case("by-not-a-column", GOOD, codes=(1,), extra=("--by", "nope")),
]

OPTION_CASES = [
    Case("law-unknown", ["fit", "chinchilla", "--law", "nope"], (1,)),
    Case("law-empty", ["fit", "chinchilla", "--law", ""], (1, 2)),
    Case("backtest-law-unknown", ["backtest", "chinchilla", "--law", "chinchilla,nope", "--train-where", "C < 1e21"], (1,)),
    Case("backtest-train-where-unknown-column", ["backtest", "chinchilla", "--law", "chinchilla", "--train-where", "Q > 1"], (1,)),
    Case("backtest-train-where-syntax", ["backtest", "chinchilla", "--law", "chinchilla", "--train-where", "C <"], (1,)),
    Case("laws-unknown", ["laws", "nope"], (1,)),
    Case("datasets-unknown", ["datasets", "nope"], (1,)),
    *(Case(f"where-{label}", [*BUNDLED, "--where", expr], (1,))
      for label, expr in (("unknown-column", "Q > 1"), ("dangling", "N >"), ("constant", "1"), ("bare-column", "N"),
                          ("empty-selection", "N > 1e30"), ("garbage", "))(("))),
    *(Case(f"fix-{label}", [*BUNDLED, "--fix", fix], (1,))
      for label, fix in (("empty-value", "alpha="), ("text", "alpha=abc"), ("unknown-param", "nope=1"),
                         ("out-of-bounds", "alpha=99"), ("negative-amplitude", "A=-5"), ("nan", "alpha=nan"),
                         ("inf", "E=inf"), ("no-key", "=0.3"), ("no-equals", "alpha"),
                         ("all-params", "E=1.7,A=400,B=400,alpha=0.3,beta=0.3"))),
    Case("format-xml", [*BUNDLED, "--format", "xml"], (2,)),
    Case("method-unknown", [*BUNDLED, "--method", "nope"], (2,)),
    Case("loss-unknown", [*BUNDLED, "--loss", "nope"], (2,)),
    Case("backtest-loss-unknown", ["backtest", "chinchilla", "--law", "chinchilla", "--train-where", "C < 1e21",
                                   "--loss", "nope"], (2,)),
    # options that would have no effect are refused, not ignored
    Case("delta-with-mse", [*BUNDLED, "--loss", "mse", "--delta", "0.01"], (2,)),
    Case("resample-without-bootstrap", [*BUNDLED, "--resample", "clusters"], (2,)),
    Case("cluster-without-bootstrap", [*BUNDLED, "--cluster", "N"], (2,)),
    Case("x-given-twice", [*BUNDLED, "--x", "N=N", "--x", "N=D"], (1,)),
    Case("fix-given-twice", [*BUNDLED, "--fix", "alpha=0.3,alpha=0.4"], (1,)),
    Case("backtest-train-fraction-without-along", ["backtest", "chinchilla", "--law", "chinchilla", "--train-where",
                                                   "C < 1e21", "--train-fraction", "0.3"], (2,)),
    Case("backtest-by-missing-column", ["backtest", "chinchilla", "--law", "chinchilla", "--train-where",
                                        "C < 1e21", "--by", "nope"], (1,)),
    Case("backtest-where-selects-none", ["backtest", "chinchilla", "--law", "chinchilla", "--train-where",
                                         "C < 1e21", "--where", "C < 0"], (1,)),
    Case("delta-negative", [*BUNDLED, "--delta", "-1"], (1,)),
    Case("delta-zero", [*BUNDLED, "--delta", "0"], (1,)),
    Case("delta-nan", [*BUNDLED, "--delta", "nan"], (1, 2)),
    Case("starts-zero", [*BUNDLED, "--starts", "0"], (1,)),
    Case("starts-negative", [*BUNDLED, "--starts", "-3"], (1,)),
    Case("starts-unused-by-hoffmann", [*BUNDLED, "--method", "hoffmann2022", "--starts", "10"], (2,)),
    Case("prune-unused-by-varpro", [*BUNDLED, "--no-prune"], (2,)),
    Case("cluster-with-rows-resample", [*BUNDLED, "--bootstrap", "20", "--resample", "rows", "--cluster", "N"], (2,)),
    Case("bootstrap-negative", [*BUNDLED, "--bootstrap", "-1"], (1,)),
    Case("bootstrap-too-few", [*BUNDLED, "--bootstrap", "3"], (1,)),
    Case("level-2", [*BUNDLED, "--level", "2"], (2,)),  # without --bootstrap, a level is refused first
    Case("level-2-with-bootstrap", [*BUNDLED, "--bootstrap", "100", "--level", "2"], (1,)),
    Case("level-zero-with-bootstrap", [*BUNDLED, "--bootstrap", "100", "--level", "0"], (1,)),
    Case("resample-unknown", [*BUNDLED, "--bootstrap", "100", "--resample", "nope"], (2,)),
    Case("resample-clusters-no-cluster-column", [*BUNDLED, "--bootstrap", "100", "--resample", "clusters",
                                                 "--cluster", "nope"], (1,)),
    # usage errors: missing required arguments/options, unknown options, values of the wrong type
    Case("usage-fit-no-law", ["fit", "chinchilla"], (2,)),
    Case("usage-fit-no-data", ["fit", "--law", "chinchilla"], (2,)),
    Case("usage-fit-law-no-value", ["fit", "chinchilla", "--law"], (2,)),
    Case("usage-predict-no-fit", ["predict", "--at", "N=1e9,D=1e9"], (2,)),
    Case("usage-plan-no-compute", ["plan", "fit.json"], (2,), {"fit.json": "<FIT>"}),
    Case("usage-backtest-no-law", ["backtest", "chinchilla", "--train-where", "C < 1e21"], (2,)),
    Case("usage-unknown-option", [*BUNDLED, "--bogus"], (2,)),
    Case("usage-unknown-option-value", [*BUNDLED, "--bogus", "3"], (2,)),
    Case("usage-unknown-predict-option", ["predict", "fit.json", "--at", "N=1e9,D=1e9", "--nope", "3"], (2,),
         {"fit.json": "<FIT>"}),
    Case("usage-unknown-command", ["frobnicate"], (2,)),
    Case("usage-extra-argument", [*BUNDLED, "extra"], (2,)),
    Case("usage-bootstrap-text", [*BUNDLED, "--bootstrap", "abc"], (2,)),
    Case("usage-bootstrap-float", [*BUNDLED, "--bootstrap", "1.5"], (2,)),
    Case("usage-starts-text", [*BUNDLED, "--starts", "many"], (2,)),
    Case("usage-delta-text", [*BUNDLED, "--delta", "abc"], (2,)),
    Case("usage-level-text", [*BUNDLED, "--level", "high"], (2,)),
    Case("usage-seed-text", [*BUNDLED, "--seed", "x"], (2,)),
]

PREDICT = ["predict", "fit.json"]
HAS_FIT = {"fit.json": "<FIT>"}

AT_CASES = [
    Case(f"at-{label}", [*PREDICT, "--at", at], codes, HAS_FIT)
    for label, at, codes in (
        ("empty-value", "N=", (1,)),
        ("empty-key", "=3", (1,)),
        ("empty", "", (1, 2)),
        ("only-comma", ",", (1, 2)),
        ("text", "N=abc", (1,)),
        ("text-with-D", "N=abc,D=1e9", (1,)),
        ("extra-variable", "N=1e9,D=1e9,Q=3", (1,)),
        ("missing-D", "N=1e9", (1,)),
        ("zero-N", "N=0,D=1e9", (1,)),
        ("zero-D", "N=1e9,D=0", (1,)),
        ("negative-N", "N=-1,D=1e9", (1,)),
        ("inf-N", "N=inf,D=1", (1,)),
        ("-inf-D", "N=1e9,D=-inf", (1,)),
        ("nan-N", "N=nan,D=1e9", (1,)),
        ("overflow-N", "N=1e400,D=1e9", (1,)),
        ("no-equals", "N", (1,)),
        ("double-equals", "N==1e9,D=1e9", (1,)),
    )
]

PREDICT_CASES = [
    *AT_CASES,
    Case("predict-at-and-points", [*PREDICT, "--at", "N=1e9,D=1e9", "--points", "points.csv"], (1, 2),
         {**HAS_FIT, "points.csv": "N,D\n1e9,1e9\n"}),
    Case("predict-neither-at-nor-points", PREDICT, (1, 2), HAS_FIT),
    Case("predict-interval-1.5", [*PREDICT, "--at", "N=1e9,D=1e9", "--interval", "1.5"], (1,), HAS_FIT),
    *(Case(f"predict-interval-{label}-bootstrapped", ["predict", "boot.json", "--at", "N=1e9,D=1e9", "--interval", v],
           (1,), {"boot.json": "<BOOT>"})
      for label, v in (("1.5", "1.5"), ("zero", "0"), ("one", "1"), ("negative", "-0.5"), ("nan", "nan"),
                       ("inf", "inf"))),
    Case("predict-interval-text", [*PREDICT, "--at", "N=1e9,D=1e9", "--interval", "wide"], (2,), HAS_FIT),
    Case("predict-interval-no-bootstrap", [*PREDICT, "--at", "N=1e9,D=1e9", "--interval", "0.9"], (1,), HAS_FIT),
    Case("predict-format-xml", [*PREDICT, "--at", "N=1e9,D=1e9", "--format", "xml"], (1, 2), HAS_FIT),
    *(Case(f"predict-points-{label}", [*PREDICT, "--points", name], (1,), {**HAS_FIT, name: content})
      for label, name, content in (
          ("nan", "points.csv", "N,D\n1e9,nan\n"),
          ("zero", "points.csv", "N,D\n0,1e9\n"),
          ("negative", "points.csv", "N,D\n1e9,-2\n"),
          ("text", "points.csv", "N,D\nabc,1e9\n"),
          ("missing-column", "points.csv", "N\n1e9\n"),
          ("header-only", "points.csv", "N,D\n"),
          ("empty", "points.csv", ""),
          ("binary", "points.csv", bytes(range(256))),
          ("unsupported-extension", "points.txt", "N,D\n1e9,1e9\n"),
      )),
    Case("predict-points-directory", [*PREDICT, "--points", "pts.csv"], (1,), {**HAS_FIT, "pts.csv": None}),
    Case("predict-points-missing", [*PREDICT, "--points", "absent.csv"], (1,), HAS_FIT),
    Case("predict-fit-missing", ["predict", "absent.json", "--at", "N=1e9,D=1e9"], (1,)),
    Case("predict-fit-directory", ["predict", "fitdir", "--at", "N=1e9,D=1e9"], (1,), {"fitdir": None}),
]

# corrupt fit documents: name -> a function of the valid document giving the file's content


def _doc_with(**changes):
    def make(doc):
        doc = json.loads(json.dumps(doc))
        for key, value in changes.items():
            if value is _DROP:
                doc.pop(key, None)
            else:
                doc[key] = value
        return json.dumps(doc)
    return make


def _params_with(**changes):
    def make(doc):
        doc = json.loads(json.dumps(doc))
        for key, value in changes.items():
            if value is _DROP:
                doc["params"].pop(key, None)
            else:
                doc["params"][key] = value
        return json.dumps(doc)  # allow_nan: writes NaN / Infinity literals
    return make


_DROP = object()

CORRUPT_FITS = {
    "not-json": lambda doc: "this is not json {",
    "empty": lambda doc: "",
    "binary": lambda doc: bytes(range(256)),
    "truncated": lambda doc: json.dumps(doc)[: len(json.dumps(doc)) // 2],
    "json-list": lambda doc: json.dumps([doc]),
    "json-number": lambda doc: "3",
    "json-null": lambda doc: "null",
    "json-string": lambda doc: json.dumps("chinchilla"),
    "empty-object": lambda doc: "{}",
    "only-law": lambda doc: json.dumps({"law": "chinchilla"}),
    "no-params": _doc_with(params=_DROP),
    "no-law": _doc_with(law=_DROP),
    "wrong-law": _doc_with(law="no_such_law"),
    "law-number": _doc_with(law=3),
    "other-law": _doc_with(law="kaplan_nd"),
    "params-list": _doc_with(params=[1, 2, 3]),
    "params-null": _doc_with(params=None),
    "params-string-values": lambda doc: _params_with(**{k: "abc" for k in doc["params"]})(doc),
    "param-string": _params_with(alpha="0.3x"),
    "param-nan": _params_with(alpha=float("nan")),
    "param-inf": _params_with(E=float("inf")),
    "param-null": _params_with(beta=None),
    "param-missing": _params_with(beta=_DROP),
    "param-extra": _params_with(gamma=1.0),
    # a grouped document (fit --by) is answered group by group (tests/test_groups.py); broken ones are refused
    "no-fits": lambda doc: json.dumps({"by": "g", "fits": []}),
    "fits-not-documents": lambda doc: json.dumps({"by": "g", "fits": [1, 2]}),
    "fits-every-one-broken": lambda doc: json.dumps({"by": "g", "fits": [{**doc, "group": "a", "params": None},
                                                                      {**doc, "group": "b", "law": 3}]}),
}

def _boot_with(**changes):
    def make(doc):
        doc = json.loads(json.dumps(doc))
        for key, value in changes.items():
            doc["bootstrap"][key] = value
        return json.dumps(doc)
    return make


CORRUPT_BOOTS = {
    "bootstrap-null": lambda doc: json.dumps({**doc, "bootstrap": None}),
    "bootstrap-list": lambda doc: json.dumps({**doc, "bootstrap": [1, 2]}),
    "bootstrap-empty": lambda doc: json.dumps({**doc, "bootstrap": {}}),
    "bootstrap-params-text": _boot_with(params={"E": ["a", "b"]}),
    "bootstrap-params-nan": lambda doc: _boot_with(params={k: [float("nan")] * len(v)
                                                           for k, v in doc["bootstrap"]["params"].items()})(doc),
    "bootstrap-level-text": _boot_with(level="high"),
    "bootstrap-residuals-inf": lambda doc: _boot_with(
        residuals=[float("inf")] * max(1, len(doc["bootstrap"].get("residuals", []))))(doc),
}

FIT_DOC_CASES = [
    *(Case(f"bootdoc-{label}", ["predict", "boot.json", "--at", "N=7e10,D=1.4e12", "--interval", "0.9"], (1,),
           {"boot.json": ("<CORRUPT-BOOT>", label)})
      for label in CORRUPT_BOOTS),
    *(Case(f"fitdoc-{label}-{cmd}", argv, (1,), {"fit.json": ("<CORRUPT>", label)})
      for label in CORRUPT_FITS
      for cmd, argv in (("predict", ["predict", "fit.json", "--at", "N=7e10,D=1.4e12"]),
                        ("plan", ["plan", "fit.json", "--compute", "1e24"]))),
]

PLAN_CASES = [
    *(Case(f"plan-compute-{label}", ["plan", "fit.json", "--compute", value], (1,), HAS_FIT)
      for label, value in (("empty", ""), ("only-comma", ","), ("blank", "  "), ("text", "abc"), ("negative", "-1"),
                           ("zero", "0"), ("inf", "inf"), ("nan", "nan"), ("overflow", "1e400"),
                           ("one-bad-of-two", "1e24,abc"), ("pair", "C=1e24"))),
    Case("plan-fit-and-law", ["plan", "fit.json", "--law", "chinchilla", "--compute", "1e24"], (1, 2), HAS_FIT),
    Case("plan-neither", ["plan", "--compute", "1e24"], (1, 2)),
    Case("plan-law-no-params", ["plan", "--law", "chinchilla", "--compute", "1e24"], (1,)),
    Case("plan-law-missing-params", ["plan", "--law", "chinchilla", "--params", "E=1.7,A=400", "--compute", "1e24"], (1,)),
    Case("plan-law-unknown", ["plan", "--law", "nope", "--params", "E=1", "--compute", "1e24"], (1,)),
    Case("plan-law-param-text", ["plan", "--law", "chinchilla", "--params", "E=1.7,A=400,B=400,alpha=abc,beta=0.3",
                                 "--compute", "1e24"], (1,)),
    Case("plan-law-param-unknown", ["plan", "--law", "chinchilla", "--params",
                                    "E=1.7,A=400,B=400,alpha=0.3,beta=0.3,Q=1", "--compute", "1e24"], (1,)),
    Case("plan-law-without-N-D", ["plan", "--law", "power_law", "--params", "a=1,b=0.3", "--compute", "1e24"], (1,)),
    Case("plan-format-xml", ["plan", "fit.json", "--compute", "1e24", "--format", "xml"], (1, 2), HAS_FIT),
    Case("plan-fit-missing", ["plan", "absent.json", "--compute", "1e24"], (1,)),
]

# a failed fit must not leave its --out target behind half-written; the target itself is allowed
OUT_CASES = [
    Case("out-with-bad-table", [*FIT, "--out", "fit.json"], (1,), {"runs.csv": corrupt("loss", "nan")}, out="fit.json"),
    Case("out-into-missing-folder", [*FIT, "--fix", "alpha=abc", "--out", "no/such/dir/fit.json"], (1,),
         {"runs.csv": GOOD}, out="no/such/dir/fit.json"),
]

ALL_CASES = TABLE_CASES + OPTION_CASES + PREDICT_CASES + FIT_DOC_CASES + PLAN_CASES + OUT_CASES


def test_case_ids_are_unique():
    ids = [c.id for c in ALL_CASES]
    assert len(ids) == len(set(ids))


def prepare(case: Case, folder: Path, fit_doc: dict, boot_doc: dict) -> None:
    files = dict(case.files)
    for name, content in list(files.items()):
        if isinstance(content, tuple) and content[0] == "<CORRUPT>":
            files[name] = CORRUPT_FITS[content[1]](fit_doc)
        elif isinstance(content, tuple) and content[0] == "<CORRUPT-BOOT>":
            files[name] = CORRUPT_BOOTS[content[1]](boot_doc)
    materialise(Case(case.id, case.argv, case.codes, files, case.out), folder, fit_doc, boot_doc)


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.id)
def test_malformed_command_line(case: Case, fit_doc, boot_doc, tmp_path, monkeypatch, capsys):
    prepare(case, tmp_path, fit_doc, boot_doc)
    monkeypatch.chdir(tmp_path)
    check_contract(case.argv, capsys, tmp_path, codes=case.codes, out=case.out)
    if case.out is not None:  # a failed command must not leave a fit document behind
        assert not (tmp_path / case.out).exists(), f"{case.out} written by a failed command"


# --------------------------------------------------------------------------------------------
# extreme but finite values: a command may accept them (exit 0, one finite JSON document on stdout)
# or refuse them under the error contract; it may never raise, print a traceback or touch the files

BOUNDARY_CASES = [
    *(table_case(f"huge-{col}-{label}", corrupt(col, value), extra=("--format", "json"))
      for col in ("N", "D", "loss") for label, value in (("1e308", "1e308"), ("max-float", "1.7976931348623157e308"))),
    Case("huge-at-1e308", [*PREDICT, "--at", "N=1e308,D=1e308", "--format", "json"], files=HAS_FIT),
    Case("tiny-at-1e-308", [*PREDICT, "--at", "N=1e-308,D=1e-308", "--format", "json"], files=HAS_FIT),
    Case("tiny-at-denormal", [*PREDICT, "--at", "N=5e-324,D=1e9", "--format", "json"], files=HAS_FIT),
    Case("huge-compute-1e308", ["plan", "fit.json", "--compute", "1e308", "--format", "json"], files=HAS_FIT),
    Case("tiny-compute-1", ["plan", "fit.json", "--compute", "1", "--format", "json"], files=HAS_FIT),
    Case("tiny-compute-1e-300", ["plan", "fit.json", "--compute", "1e-300", "--format", "json"], files=HAS_FIT),
    Case("seed-negative", [*BUNDLED, "--seed", "-1", "--format", "json"]),
    Case("seed-negative-bootstrap", [*BUNDLED, "--seed", "-1", "--bootstrap", "20", "--format", "json"]),
    Case("delta-huge", [*BUNDLED, "--delta", "1e300", "--format", "json"]),
]


def _no_constants(name):
    raise ValueError(f"non-finite number {name} in the JSON output")


@pytest.mark.parametrize("case", BOUNDARY_CASES, ids=lambda c: c.id)
def test_extreme_values(case: Case, fit_doc, boot_doc, tmp_path, monkeypatch, capsys):
    prepare(case, tmp_path, fit_doc, boot_doc)
    monkeypatch.chdir(tmp_path)
    argv = [str(a) for a in case.argv]
    before = snapshot(tmp_path)
    capsys.readouterr()
    try:
        code = run(argv)
    except BaseException as exc:  # noqa: BLE001
        pytest.fail(f"run({argv!r}) raised {type(exc).__name__}: {exc!r}")
    captured = capsys.readouterr()
    where = f"run({argv!r}) -> {code!r}\nstdout: {captured.out[:500]!r}\nstderr: {captured.err[:1000]!r}"
    if code != 0:  # refused: the error contract, checked on the same output
        assert code in (1, 2), where
        assert captured.out == "" and "Traceback" not in captured.err, where
        lines = captured.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and lines[0][7:].strip(), where
    else:
        assert captured.err == "", where
        json.loads(captured.out, parse_constant=_no_constants)
    after = snapshot(tmp_path)
    assert after == before, f"files changed or created: {sorted(set(after.items()) ^ set(before.items()))}\n{where}"


# --------------------------------------------------------------------------------------------
# random malformed tables

BAD_TOKENS = ["nan", "NaN", "NA", "", " ", "inf", "-inf", "Infinity", "-Infinity", "1e400", "-1e400", "0", "-0",
              "0.0", "-1", "-2.5e9", "-1e-300", "abc", "1e9x", "0x1F", "1,5", "--3", "N/A", "none", "\t", "\u00e9",
              "1e9 1e9", "'1e9'", "[1]", "{}"]
GOOD_NUMBER = st.floats(min_value=1e3, max_value=1e13, allow_nan=False, allow_infinity=False).map(repr)
HEADERS = ["N", "D", "loss"]


DEFECTS = ["missing-column", "too-few-rows", "no-header", "separator", "excluded-column", "garbage", "wrong-format"]
JUNK_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=8)


@st.composite
def malformed_tables(draw, defects=DEFECTS):
    """A small run table with at least one defect that must stop `fit --law chinchilla` in validation.

    Returns (file name, file bytes, extra argv). Defects: bad cells in N, D or the loss (NaN, inf,
    zero, negative, text, blank, overflow); a missing column; fewer runs than free parameters; no
    header line; the wrong separator; a non-boolean `excluded` column; binary garbage; a CSV under
    another format's extension. A column the law does not use holds random text, which must not matter.
    """
    defect = draw(st.sampled_from(defects))
    n_rows = draw(st.integers(min_value=0, max_value=3) if defect == "too-few-rows" else st.integers(6, 14))
    columns = list(HEADERS)
    if draw(st.booleans()):
        columns.append(draw(st.sampled_from(["junk", "note", "C", "excluded_x"])))
    rows = [[draw(GOOD_NUMBER) if col in HEADERS or draw(st.booleans()) else draw(JUNK_TEXT) for col in columns]
            for _ in range(n_rows)]
    if defect == "cell":
        for _ in range(draw(st.integers(min_value=1, max_value=4))):
            i = draw(st.integers(min_value=0, max_value=n_rows - 1))
            j = draw(st.integers(min_value=0, max_value=2))
            rows[i][j] = draw(st.sampled_from(BAD_TOKENS))
    elif defect == "missing-column":
        j = draw(st.integers(min_value=0, max_value=2))
        columns.pop(j)
        for r in rows:
            r.pop(j)
    elif defect == "excluded-column":
        columns.append("excluded")
        for r in rows:
            r.append(draw(st.sampled_from(["true", "false", "0", "1"])))
        rows[draw(st.integers(0, n_rows - 1))][-1] = draw(st.sampled_from(["maybe", "2", "-1", "yes?", "0.5"]))
    if defect == "garbage":
        content = draw(st.binary(min_size=0, max_size=300))
        if b"N" in content and b"loss" in content:  # keep it garbage
            content = content.replace(b"N", b"\x00")
    else:
        content = csv_text(None if defect == "no-header" else columns, rows).encode()
        if defect == "separator":
            content = content.replace(b",", b";")  # one column named "N;D;loss"
    if defect == "wrong-format":
        name = draw(st.sampled_from(["runs.jsonl", "runs.parquet", "runs.ndjson", "runs.pq"]))
    else:
        name = draw(st.sampled_from(["runs.csv", "RUNS.CSV"]))
    extra = draw(st.sampled_from([[], [], [], ["--format", "json"], ["--y", "loss"], ["--fix", "E=1.5"],
                                  ["--loss", "mse"], ["--bootstrap", "50"], ["--out", "fit.json"]]))
    return name, content, extra


_counter = iter(range(10 ** 9))


def _check_table(table, tmp_path, monkeypatch, capsys):
    name, content, extra = table
    folder = tmp_path / f"example{next(_counter)}"
    folder.mkdir()
    (folder / name).write_bytes(content)
    monkeypatch.chdir(folder)
    out = "fit.json" if "--out" in extra else None
    check_contract(["fit", name, "--law", "chinchilla", *extra], capsys, folder, codes=(1,), out=out)
    if out is not None:
        assert not (folder / out).exists()


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], max_examples=60)
@given(table=malformed_tables(defects=["cell"]))
def test_random_bad_cells(table, tmp_path, monkeypatch, capsys):
    """A valid table with 1-4 cells of N, D or the loss replaced by NaN, inf, 0, a negative number, text..."""
    _check_table(table, tmp_path, monkeypatch, capsys)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], max_examples=60)
@given(table=malformed_tables())
def test_random_malformed_tables(table, tmp_path, monkeypatch, capsys):
    _check_table(table, tmp_path, monkeypatch, capsys)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
@given(at=st.lists(st.tuples(st.sampled_from(["N", "D", "Q", "n", "", " N"]),
                             st.sampled_from(["", "abc", "0", "-1", "inf", "-inf", "nan", "1e400", "1e9", "7e10",
                                              "1.4e12", "1e9e9"])),
                   min_size=1, max_size=4))
def test_random_malformed_at(at, fit_doc, tmp_path, monkeypatch, capsys):
    """--at with at least one defect: an unknown or missing variable, or a value that is not a positive number."""
    pairs = [f"{k}={v}" for k, v in at]
    names = [k.strip() for k, _ in at]
    good = (sorted(set(names)) == ["D", "N"] and len(names) == 2
            and all(v in ("1e9", "7e10", "1.4e12") for _, v in at))
    if good:  # a valid point: break it by adding an input the law does not take
        pairs.append("Q=1")
    folder = tmp_path / f"at{next(_counter)}"
    folder.mkdir()
    (folder / "fit.json").write_text(json.dumps(fit_doc))
    monkeypatch.chdir(folder)
    check_contract(["predict", "fit.json", "--at", ",".join(pairs)], capsys, folder, codes=(1,))


def test_valid_commands_still_work(fit_doc, tmp_path, monkeypatch, capsys):
    """Control: the same harness accepts valid predict and plan commands (exit 0, output, no error)."""
    (tmp_path / "fit.json").write_text(json.dumps(fit_doc))
    monkeypatch.chdir(tmp_path)
    for argv in (["predict", "fit.json", "--at", "N=7e10,D=1.4e12", "--format", "json"],
                 ["plan", "fit.json", "--compute", "5.88e23", "--format", "json"]):
        capsys.readouterr()
        assert run(argv) == 0
        captured = capsys.readouterr()
        doc = json.loads(captured.out)
        assert doc and captured.err == ""
        assert all(math.isfinite(v) for p in doc.get("predictions", doc.get("plans", []))
                   for v in p.values() if isinstance(v, float))
