"""Laws of your own: formulas and law files, parsed safely, fitted like registered laws."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl
from scalinglaws.cli import run
from scalinglaws.errors import InputError
from scalinglaws.laws.formula import default_start, parse_formula

CHINCHILLA = "L(N, D) = E + A / N^alpha + B / D^beta; E >= 0, A >= 0, B >= 0, 0 <= alpha <= 3, 0 <= beta <= 3"


def _curve(tmp_path: Path) -> Path:
    x = np.geomspace(1e3, 1e7, 14)
    path = tmp_path / "curve.csv"
    pd.DataFrame({"tokens": x, "loss": (0.4 + 20 * x**-0.3) * np.exp(0.002 * np.sin(np.arange(14)))}).to_csv(path, index=False)
    return path


def test_a_formula_fits_the_chinchilla_table_to_the_registered_laws_optimum(chinchilla_runs):
    mine, registered = sl.fit(CHINCHILLA, chinchilla_runs), sl.fit("chinchilla", chinchilla_runs)
    assert mine.law.linear == ("E", "A", "B") and mine.law.inputs == ("N", "D")
    assert mine.status == "converged" and mine.objective == pytest.approx(registered.objective, rel=1e-9)
    for name, value in registered.params.items():
        assert mine.params[name] == pytest.approx(value, rel=1e-5)
    # the document carries the whole law: it reads back and forecasts the same without the text at hand
    back = sl.FitResult.from_dict(json.loads(json.dumps(mine.to_dict())))
    point = {"N": 7e10, "D": 1.4e12}
    assert back.predict(point) == pytest.approx(registered.predict(point), rel=1e-6)


@pytest.mark.parametrize("formula, linear", [
    ("y(x) = a + b * x^c", ("a", "b")),
    ("y(x) = a * b * x", ("a",)),  # affine in a and in b, not in both: the first is kept
    ("y(x) = (a + b) / x + exp(c) * x", ("a", "b")),
    ("y(x) = a / (b + x)", ("a",)),
    ("y(x) = -a * log(x) + 2 * c - x / d", ("a", "c")),
    ("y(x) = a * x + a^2", ()),
])
def test_linear_parameters_are_found_from_the_expression(formula, linear):
    assert parse_formula(formula).linear == linear


@pytest.mark.parametrize("text", [
    "y(x, z) = a + b * x^c / z",
    "y(x) = max(a, b * log10(x)) + min(c, sqrt(x)) - abs(-a) + log2(x) * log1p(x)",
    "y(x) = sigmoid(a * log(x) + b) + softplus(c - x / 1e3) + tanh(x) ** 2",
    "y(x) = (x - 3)^2 * a + b ** -1.5",
])
def test_a_formula_computes_what_its_text_says(text):
    law = parse_formula(text)
    rng = np.random.default_rng(0)
    x = {name: rng.uniform(0.5, 50.0, 9) for name in law.inputs}
    p = {name: float(v) for name, v in zip(law.param_names, rng.uniform(0.2, 2.0, len(law.params)))}
    namespace = {"max": np.maximum, "min": np.minimum, "log10": np.log10, "sqrt": np.sqrt, "abs": np.abs,
                 "log2": np.log2, "log1p": np.log1p, "log": np.log, "exp": np.exp, "tanh": np.tanh,
                 "sigmoid": lambda v: 1 / (1 + np.exp(-v)), "softplus": lambda v: np.log1p(np.exp(v))}
    expected = eval(text.partition("=")[2].replace("^", "**"), namespace, {**p, **x})  # the test's own text
    np.testing.assert_allclose(law.predict(p, x), expected, rtol=1e-12)


def test_bounds_read_either_way_and_a_bounded_output_is_fitted_on_y_itself():
    law = parse_formula("acc(C) = top * sigmoid(k * (log(C) - m)); 0 <= acc <= 1, top <= 1, top >= 0, 3 >= k, k > 0, "
                        "-inf < m <= 100")
    bounds = {p.name: p.bounds for p in law.params}
    assert bounds == {"top": (0.0, 1.0), "k": (0.0, 3.0), "m": (-math.inf, 100.0)}
    assert law.y_range == (0.0, 1.0) and law.space == "linear" and law.output == "acc"
    assert parse_formula("L(x) = a * x^-b").space == "log"
    assert default_start((0.0, math.inf)) == ((1e-3, 1e3), "log") and default_start((-math.inf, math.inf))[0] == (-2, 2)


@pytest.mark.parametrize("text, says", [
    ("L(N) = __import__('os').system('touch PWNED') * N", "may call"),
    ("L(N) = a * N.__class__", "cannot hold"),
    ("L(N) = a * N.real", "Attribute"),
    ("L(N) = a * N[0]", "Subscript"),
    ("L(N) = (lambda: a)() * N", "may call"),
    ("L(N) = [a for a in N]", "ListComp"),
    ("L(N) = a * 'N'", "numbers only"),
    ("L(N) = exp(x=N) * a", "may call"),
    ("L(N) = (a := 3) * N", "NamedExpr"),
    ("L(N) = a if N else b", "IfExp"),
    ("L(N) = a * N; __class__ >= 0", "not a parameter"),
    ("L(N) = _a * N", "cannot start with"),
    ("L(N) = a * N; open('x') >= 0", "a bound"),
    ("L(N) = a * N; a >= b", "one parameter between numbers"),
    ("L(N) = a * N; 2 <= a <= 1", "leaves no room"),
    ("L(N) = a * N; c >= 0", "not a parameter"),
    ("L(N) = a % N", "+ - * / and ^"),
    ("L(N) = a * N^", "invalid syntax in `a * N^`"),  # quoted as written, not as rewritten for the parser
    ("L(N) = a * N; a >= 0, a >= 2", "bounded twice"),
    ("L(N) = a * N; a <= 1e400", "numbers (or inf)"),
    ("chinchilla,L(N) = a * N", "its own --law"),
    ("L(N) = a * N; a >= 0 # , a <= 1", "cannot hold `#`"),
    ("L(N) = a * N * 1e999", "must be finite"),
    ("L(N) = a * N; L >= 0", "both ends"),
    ("L(N) = a * N; 0 <= L <= 1, L <= 2", "bounded twice"),
    ("L(N) = a * N; a <= 1" + "0" * 400, "numbers (or inf)"),
    ("y(x) = " + " + ".join(f"exp(-b{i} * x)" for i in range(9)), "at most 8 parameters that enter nonlinearly"),
    ("N * a", "starts with its output"),
    ("L(N) = a * x", "does not appear"),
    ("L(N) = N * 2", "at least one parameter"),
    ("L(N) = L * N", "its own expression"),
    ("L(N) = a * N * 1" + "0" * 400, "must be finite"),
    ("L(N) = a * N" + " + a" * 500, "at most"),
])
def test_unsafe_or_wrong_formulas_are_refused_with_one_line_and_never_run(tmp_path, monkeypatch, capsys, text, says):
    monkeypatch.chdir(tmp_path)
    curve = _curve(tmp_path)
    with pytest.raises(InputError, match=None) as err:
        parse_formula(text)
    assert says in str(err.value)
    assert run(["fit", str(curve), "--law", text, "--x", "N=tokens"]) == 1
    captured = capsys.readouterr()
    assert says in captured.err and "Traceback" not in captured.err and len(captured.err.strip().splitlines()) == 1
    assert not (tmp_path / "PWNED").exists()


def test_a_law_file_fits_like_its_formula_and_carries_its_reference_and_descriptions(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    curve = _curve(tmp_path)
    (tmp_path / "mine.toml").write_text(
        'formula = "L(x) = E + A * x^-alpha; E >= 0, A >= 0, 0 <= alpha <= 2"\n'
        'reference = "my notes, eq. 3"\n'
        '[params.alpha]\nstart = [0.05, 1.0]\ndescription = "the exponent"\n')
    law = sl.get_law(str(tmp_path / "mine.toml"))
    assert law.reference == "my notes, eq. 3" and law.param("alpha").description == "the exponent"
    assert law.param("alpha").start == (0.05, 1.0) and law.linear == ("E", "A")
    fit = sl.fit(law, pd.read_csv(curve), x={"x": "tokens"})
    assert fit.status == "converged" and fit.params["alpha"] == pytest.approx(0.3, rel=0.05)
    assert run(["laws", "mine.toml", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["reference"] == "my notes, eq. 3" and doc["params"][2]["description"] == "the exponent"
    assert run(["laws", "mine.toml"]) == 0
    assert "the exponent" in capsys.readouterr().out
    for body, says in [('formula = "L(x) = a * x"\ncolour = 1\n', "unknown key `colour`"),
                       ('formula = "L(x) = a * x"\n[params.b]\ndescription = "?"\n', "describes `b`"),
                       ('formula = "L(x) = a * x"\n[params.a]\nstart = [1]\n', "two finite numbers"),
                       ('formula = 3\n', "needs `formula"), ('formula = "L(x) = a * x\n', "not TOML")]:
        (tmp_path / "bad.toml").write_text(body)
        assert run(["fit", str(curve), "--law", "bad.toml", "--x", "x=tokens"]) == 1
        err = capsys.readouterr().err
        assert says in err and "Traceback" not in err
    assert run(["fit", str(curve), "--law", "missing.toml", "--x", "x=tokens"]) == 1
    assert "could not be read" in capsys.readouterr().err


def test_the_command_line_fits_predicts_and_backtests_a_formula_in_both_output_modes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    curve = _curve(tmp_path)
    formula = "L(x) = E + A * x^-alpha; E >= 0, A >= 0, 0 <= alpha <= 2"
    for fmt in ("json", "table"):
        assert run(["fit", str(curve), "--law", formula, "--x", "x=tokens", "--out", "fit.json", "--format", fmt]) == 0
        out = capsys.readouterr().out
        assert "alpha" in out
        assert run(["predict", "fit.json", "--at", "x=1e9", "--format", fmt]) == 0
        out = capsys.readouterr().out
        if fmt == "json":
            assert json.loads(out)["law"] == formula
        assert run(["backtest", str(curve), "--law", "power_law_offset", "--law", formula, "--x", "x=tokens",
                    "--train-where", "tokens < 2e5", "--format", fmt]) == 0
        out = capsys.readouterr().out
        if fmt == "json":
            assert [s["law"] for s in json.loads(out)["laws"]] == ["power_law_offset", formula]


def test_a_bounded_formula_refuses_forecasts_out_of_its_range_and_plans(tmp_path):
    law = sl.get_law("acc(C) = a + b * log(C); 0 <= acc <= 1")
    c = np.geomspace(1e18, 1e21, 12)
    fit = sl.fit(law, pd.DataFrame({"C": c, "acc": 0.05 * np.log(c / 1e17) + 0.01 * np.sin(np.arange(12))}), y="acc")
    assert 0 < fit.predict({"C": 1e20})[0] < 1
    with pytest.raises(sl.FitError, match="outside its output's range"):
        fit.predict({"C": 1e40})
    with pytest.raises(InputError, match="bounded metric"):
        sl.compute_optimal("acc(N, D) = 1 - A / N^a - B / D^b; 0 <= acc <= 1", 1e21,
                           params={"A": 400, "B": 400, "a": 0.34, "b": 0.28})


def test_names_from_files_and_documents_are_text_not_markup_or_paths(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "odd.toml").write_text('formula = "L(N) = a * N^-b; a >= 0, 0 <= b <= 2"\nreference = "[/x] [bold]"\n')
    assert run(["laws", "odd.toml"]) == 0
    assert "[/x] [bold]" in capsys.readouterr().out
    with pytest.raises(InputError, match="not by a law file"):
        sl.FitResult.from_dict({"law": "odd.toml", "params": {}})
    assert sl.backtest([sl.get_law("power_law")], pd.DataFrame({"x": np.geomspace(1, 1e4, 12), "y": np.geomspace(1, 1e4, 12) ** -0.3}),
                       train_where="x < 1e3").n_test > 0  # a Law object in a list is one law, not text
