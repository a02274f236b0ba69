"""Laws of your own: a formula in plain text, or a TOML law file, parsed into a `Law`.

A formula names its output and inputs, gives the expression, and after a ``;`` the bounds::

    L(N, D) = E + A / N^alpha + B / D^beta; E >= 0, A >= 0, B >= 0, 0 <= alpha <= 3, 0 <= beta <= 3

* Inputs are the names in the head (``L(N, D)``); every other name in the expression is a
  parameter. A parameter without a bound is free on the whole real line.
* ``^`` and ``**`` are powers. Functions: ``exp log log10 log2 log1p sqrt abs tanh sigmoid
  softplus`` (one argument) and ``min max`` (two). Numbers, ``inf`` in bounds.
* ``<`` and ``>`` in bounds read as ``<=`` and ``>=`` (a fit never reaches an open end anyway:
  bounds are mapped to an unconstrained space).
* A bound on the output (``0 <= acc <= 1``) makes it a bounded metric: fitted on ``y - f``
  (linear residuals, which accept 0 and 1) instead of ``log y - log f``.
* Parameters that enter the expression linearly (``E``, ``A``, ``B`` above) are found from the
  expression and solved exactly by the default method's screen.

The text is read with Python's own parser (`ast`) into a syntax tree and only the node kinds above
are accepted; the law is then built from the tree as JAX operations. No text is ever evaluated or
executed: attribute access, subscripts, calls of anything not listed, keywords, strings, names
that start with ``_`` are refused with one line that names what was found.

The law's ``name`` is the formula itself (spaces normalised), so a fit document of a formula law
carries its whole definition and reads back without the file or the command that made it.

A law file (``.toml``) holds the formula and what a formula cannot say::

    formula = "L(N, D) = E + A / N^alpha + B / D^beta; E >= 0, A >= 0, B >= 0, 0 <= alpha <= 3, 0 <= beta <= 3"
    reference = "Hoffmann et al. 2022, eq. (2)"
    [params.alpha]
    start = [0.05, 1.5]        # where the screen looks (default: from the bounds, see `default_start`)
    description = "model-size exponent"
"""

from __future__ import annotations

import ast
import functools
import math
import tomllib
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from .._jax import float64
from ..errors import InputError
from ._law import Law, Param, power

MAX_LENGTH = 2000  # characters of a formula
MAX_NODES = 400  # syntax-tree nodes of a formula (parsing deeper text is refused before it is walked)
MAX_NONLINEAR = 8  # the default method screens a grid of at least 2 values per nonlinear parameter

FUNCTIONS = {
    "exp": jnp.exp, "log": jnp.log, "log10": jnp.log10, "log2": jnp.log2, "log1p": jnp.log1p,
    "sqrt": jnp.sqrt, "abs": jnp.abs, "tanh": jnp.tanh, "sigmoid": jax.nn.sigmoid,
    "softplus": lambda v: jnp.logaddexp(0.0, v), "min": jnp.minimum, "max": jnp.maximum,
}
_ARITY = {"min": 2, "max": 2}
_BINARY = {ast.Add: jnp.add, ast.Sub: jnp.subtract, ast.Mult: jnp.multiply, ast.Div: jnp.divide}
_COMPARE = {ast.LtE: "<=", ast.Lt: "<", ast.GtE: ">=", ast.Gt: ">"}
_TEMPLATE = "L(N, D) = E + A / N^alpha + B / D^beta; E >= 0, 0 <= alpha <= 3"


def is_formula(text: str) -> bool:
    """Whether a ``--law`` value is a formula (it has an ``=``) rather than a registered name."""
    return isinstance(text, str) and "=" in text


def parse_formula(text: str) -> Law:
    """The `Law` a formula defines (see the module docstring); `InputError` naming what is wrong."""
    return _parse(" ".join(str(text).split()))


@functools.lru_cache(maxsize=64)
def _parse(text: str, reference: str = "", extras: tuple = ()) -> Law:
    """`parse_formula` of normalised ``text``; one `Law` per text, so its compiled programs are reused.
    ``extras``: per-parameter ``(name, start or None, description)`` from a law file."""
    if len(text) > MAX_LENGTH:
        raise InputError(f"a formula law must be at most {MAX_LENGTH} characters; got {len(text)}")
    if "#" in text:  # Python's parser would drop the rest of the line: a bound written there would not hold
        raise InputError("a formula law cannot hold `#` (a comment would hide what follows it)")
    head, sep, rest = text.partition("=")
    if not sep or not head.strip():
        raise InputError(f"a formula law starts with its output and inputs, as `{_TEMPLATE}`; got `{text}`")
    body, _, bounds_text = rest.partition(";")
    output, inputs = _head(head.strip())
    expr = _tree(body.replace("^", "**"), "expression", shown=body)
    names = _checked_names(expr)
    if output in names:
        raise InputError(f"the output `{output}` of a formula law cannot appear in its own expression")
    missing = [n for n in inputs if n not in names]
    if missing:
        raise InputError(f"formula law input `{missing[0]}` does not appear in the expression `{body.strip()}`")
    params = [n for n in names if n not in inputs]
    if not params:
        raise InputError(f"a formula law needs at least one parameter (a name that is not an input); "
                         f"`{body.strip()}` has none")
    bounds, y_range = _bounds(bounds_text, output, params)
    extra = {name: (start, description) for name, start, description in extras}
    linear = linear_parameters(expr, params)
    nonlinear = [n for n in params if n not in linear]
    if len(nonlinear) > MAX_NONLINEAR:  # the screen grids them: at least 2^k points
        raise InputError(f"a formula law may have at most {MAX_NONLINEAR} parameters that enter nonlinearly; "
                         f"got {len(nonlinear)} ({', '.join(nonlinear)})")
    return Law(
        name=text,
        inputs=inputs,
        params=tuple(_param(n, bounds.get(n, (-math.inf, math.inf)), *extra.get(n, (None, "")), linear=n in linear)
                     for n in params),
        fn=_function(expr),
        equation=text.partition(";")[0].strip(),
        reference=reference or "a formula given by the user",
        linear=tuple(n for n in params if n in linear),
        output=output,
        y_range=y_range,
        space="linear" if y_range is not None else "log",
        family="yours",
    )


def parse_expression(text: str, inputs: tuple[str, ...], what: str):
    """A plain expression of ``inputs`` only (no parameters, no head), checked as a formula law's
    expression is, as a function of a mapping of arrays: e.g. FLOPs per token ``6*N + 12*2048*N^0.5``.
    ``what`` names the option in errors."""
    text = " ".join(str(text).split())
    if not text or len(text) > MAX_LENGTH or "#" in text:
        raise InputError(f"{what} must be an expression of {', '.join(inputs)} of at most {MAX_LENGTH} characters "
                         f"without `#`; got {text[:60]!r}")
    expr = _tree(text.replace("^", "**"), what, shown=text)
    unknown = [n for n in _checked_names(expr) if n not in inputs]
    if unknown:
        raise InputError(f"{what} may name only {', '.join(inputs)}; `{text}` names `{unknown[0]}`")
    build = _builder(expr)
    return float64(lambda x: np.asarray(build({k: np.asarray(v, dtype=np.float64) for k, v in x.items()}),
                                        dtype=np.float64))


def load_law_file(path: str | Path) -> Law:
    """The `Law` of a TOML law file (see the module docstring)."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text())
    except OSError as exc:
        raise InputError(f"law file `{path}` could not be read: {exc.strerror}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"law file `{path}` is not TOML: {exc}") from None
    unknown = sorted(set(doc) - {"formula", "reference", "params"})
    if unknown:
        raise InputError(f"law file `{path}` has unknown key `{unknown[0]}` (keys: formula, reference, params)")
    formula = doc.get("formula")
    if not isinstance(formula, str):
        raise InputError(f"law file `{path}` needs `formula = \"{_TEMPLATE}\"`")
    reference = doc.get("reference", "")
    if not isinstance(reference, str):
        raise InputError(f"law file `{path}`: `reference` must be text; got {reference!r}")
    params = doc.get("params", {})
    if not isinstance(params, dict):
        raise InputError(f"law file `{path}`: `params` must be a table of parameters")
    extras = []
    for name, spec in params.items():
        if not isinstance(spec, dict) or set(spec) - {"start", "description"}:
            raise InputError(f"law file `{path}`: [params.{name}] takes `start = [lo, hi]` and `description` only")
        start = spec.get("start")
        if start is not None and not (isinstance(start, list) and len(start) == 2 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in start)):
            raise InputError(f"law file `{path}`: [params.{name}] start must be two finite numbers [lo, hi]; "
                             f"got {start!r}")
        description = spec.get("description", "")
        if not isinstance(description, str):
            raise InputError(f"law file `{path}`: [params.{name}] description must be text")
        extras.append((name, None if start is None else (float(start[0]), float(start[1])), description))
    law = _parse(" ".join(formula.split()), reference, tuple(extras))
    stray = [name for name, _, _ in extras if name not in law.param_names]
    if stray:
        raise InputError(f"law file `{path}` describes `{stray[0]}`, which is not a parameter of its formula "
                         f"(parameters: {', '.join(law.param_names)})")
    return law


def linear_parameters(expr: ast.AST, params: list[str]) -> set[str]:
    """The parameters the expression is affine in, jointly (``f = f0 + sum_j c_j g_j`` with no
    ``c`` in ``f0`` or ``g_j``): each one affine on its own, then dropped from the last until the
    set is affine together (``A * B`` is affine in each but not in both)."""
    chosen = [p for p in params if _dependence(expr, {p}) == "affine"]
    while chosen and _dependence(expr, set(chosen)) != "affine":
        chosen.pop()
    return set(chosen)


def default_start(bounds: tuple[float, float], linear: bool = False) -> tuple[tuple[float, float], str]:
    """Where the screen looks for a parameter given only its bounds: ``(start, scale)``.

    Both bounds finite: the whole interval (on a log scale when it is positive and spans three
    decades or more). Only a lower bound: ten units (or its own size) above it, or ``1e-3`` to
    ``1e3`` on a log scale above 0 (amplitudes). Only an upper bound: the mirror. None: ``-2`` to ``2``.
    """
    lo, hi = bounds
    if math.isfinite(lo) and math.isfinite(hi):
        return ((lo, hi), "log") if lo > 0 and hi / lo >= 1e3 else ((lo, hi), "linear")
    if math.isfinite(lo):
        return ((lo + 1e-3, lo + 1e3), "log") if lo == 0 and not linear else ((lo, lo + max(10.0, abs(lo))), "linear")
    if math.isfinite(hi):
        return ((hi - max(10.0, abs(hi)), hi), "linear")
    return (-2.0, 2.0), "linear"


def _param(name, bounds, start, description, *, linear):
    default, scale = default_start(bounds, linear)
    if start is None:
        start = default
    else:
        scale = "log" if start[0] > 0 and start[1] / start[0] >= 1e3 else "linear"
    try:
        return Param(name, bounds, start, scale, description)
    except ValueError as exc:
        raise InputError(f"parameter `{name}` of the formula law: {str(exc).partition(': ')[2]}") from None


def _tree(text: str, what: str, shown: str | None = None) -> ast.AST:
    """The syntax tree of ``text``; an error quotes ``shown`` (what the user wrote), shortened."""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        msg = exc.msg if isinstance(exc, SyntaxError) else type(exc).__name__
        quoted = (shown if shown is not None else text).strip()
        quoted = quoted if len(quoted) <= 120 else quoted[:117] + "..."
        raise InputError(f"the {what} of a formula law: {msg} in `{quoted}`") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise InputError(f"the {what} of a formula law has more than {MAX_NODES} terms")
    return tree


def _head(head: str) -> tuple[str, tuple[str, ...]]:
    tree = _tree(head, "head")
    if not (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and not tree.keywords
            and tree.args and all(isinstance(a, ast.Name) for a in tree.args)):
        hint = " (to compare laws, give each its own --law)" if "," in head.split("(")[0] else ""
        raise InputError(f"a formula law starts with its output and inputs, as `L(N, D) = ...`; got `{head}`{hint}")
    names = [tree.func.id] + [a.id for a in tree.args]
    for n in names:
        _check_name(n)
    inputs = tuple(a.id for a in tree.args)
    if len(set(inputs)) != len(inputs) or tree.func.id in inputs:
        raise InputError(f"the head `{head}` of a formula law names an input twice")
    return tree.func.id, inputs


def _check_name(name: str) -> None:
    if name.startswith("_"):
        raise InputError(f"names in a formula law cannot start with `_`; got `{name}`")
    if name in ("inf", "nan"):
        raise InputError(f"`{name}` in a formula law is a number, not a name; use it in bounds only")


def _checked_names(expr: ast.AST) -> list[str]:
    """The expression's names (inputs and parameters) in the order they first appear in the text;
    every node kind but numbers, names, + - * / **, unary signs and the listed functions is refused."""
    called = {id(n.func) for n in ast.walk(expr) if isinstance(n, ast.Call)}
    names = []
    for node in ast.walk(expr):
        if isinstance(node, ast.Name):
            if id(node) in called:
                continue  # a function's own name: checked with its call
            _check_name(node.id)
            names.append(node)
            if node.id in FUNCTIONS:
                raise InputError(f"`{node.id}` in a formula law is a function; call it as `{node.id}(...)`")
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise InputError(f"a formula law holds numbers only; got {node.value!r}")
            try:
                finite = math.isfinite(float(node.value))
            except OverflowError:
                finite = False
            if not finite:
                raise InputError(f"a number in a formula law must be finite in float64; got `{ast.unparse(node)}`")
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY and not isinstance(node.op, ast.Pow):
                raise InputError(f"a formula law allows + - * / and ^ (or **) only; got `{ast.unparse(node)}`")
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd)):
                raise InputError(f"a formula law allows the signs + and - only; got `{ast.unparse(node)}`")
        elif isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else None
            if name not in FUNCTIONS or node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
                raise InputError(f"a formula law may call {', '.join(FUNCTIONS)} only; got `{ast.unparse(node)}`")
            if len(node.args) != _ARITY.get(name, 1):
                raise InputError(f"`{name}` in a formula law takes {_ARITY.get(name, 1)} argument(s); "
                                 f"got `{ast.unparse(node)}`")
        elif not isinstance(node, (ast.operator, ast.unaryop, ast.Load)):
            raise InputError(f"a formula law cannot hold `{ast.unparse(node)}` ({type(node).__name__}); "
                             "it takes numbers, names, + - * / ^ and the functions " + ", ".join(FUNCTIONS))
    in_text_order = sorted(names, key=lambda n: (n.lineno, n.col_offset))
    return list(dict.fromkeys(n.id for n in in_text_order))


def _bounds(text: str, output: str, params: list[str]):
    """``{param: (lo, hi)}`` and the output's range (or None) from ``lo <= p <= hi, p >= lo, ...``."""
    bounds, y_range = {}, None
    if not text.strip():
        return bounds, y_range
    tree = _tree(text, "bounds")
    items = tree.elts if isinstance(tree, ast.Tuple) else [tree]
    for item in items:
        lo, hi, name = _one_bound(item)
        if name == output:
            if y_range is not None:
                raise InputError(f"the output `{output}` is bounded twice; give its range once, as `0 <= {output} <= 1`")
            if not (math.isfinite(lo) and math.isfinite(hi)):
                raise InputError(f"a bound on the output gives its range, both ends (a bounded metric, fitted on y "
                                 f"itself), as `0 <= {output} <= 1`; got `{ast.unparse(item)}`")
            y_range = (lo, hi)
            continue
        if name not in params:
            raise InputError(f"bound `{ast.unparse(item)}` names `{name}`, which is not a parameter of the formula "
                             f"law (parameters: {', '.join(params)})")
        old_lo, old_hi = bounds.get(name, (-math.inf, math.inf))
        if (math.isfinite(lo) and math.isfinite(old_lo)) or (math.isfinite(hi) and math.isfinite(old_hi)):
            raise InputError(f"`{name}` is bounded twice on one side in the formula law; give each bound once, "
                             f"as `lo <= {name} <= hi`")
        bounds[name] = (max(lo, old_lo), min(hi, old_hi))
        if not bounds[name][0] < bounds[name][1]:
            raise InputError(f"the bounds of `{name}` leave no room (lower {bounds[name][0]}, upper {bounds[name][1]})")
    return bounds, y_range


def _one_bound(item: ast.AST) -> tuple[float, float, str]:
    text = ast.unparse(item)
    if not (isinstance(item, ast.Compare) and 1 <= len(item.ops) <= 2 and all(type(o) in _COMPARE for o in item.ops)):
        raise InputError(f"a bound is written `lo <= name <= hi`, `name >= lo` or `name <= hi`; got `{text}`")
    terms = [item.left, *item.comparators]
    names = [i for i, t in enumerate(terms) if isinstance(t, ast.Name) and t.id != "inf"]
    if len(names) != 1:
        raise InputError(f"a bound names one parameter between numbers; got `{text}`")
    at = names[0]
    lo, hi = -math.inf, math.inf
    for i, op in enumerate(item.ops):
        left, right = terms[i], terms[i + 1]
        less = _COMPARE[type(op)] in ("<=", "<")  # left < right
        if i + 1 == at:  # number OP name
            value = _number(left, text)
            lo, hi = (max(lo, value), hi) if less else (lo, min(hi, value))
        elif i == at:  # name OP number
            value = _number(right, text)
            lo, hi = (lo, min(hi, value)) if less else (max(lo, value), hi)
        else:
            raise InputError(f"a bound names one parameter between numbers; got `{text}`")
    if not lo < hi:
        raise InputError(f"bound `{text}` leaves no room (lower {lo}, upper {hi})")
    return lo, hi, terms[at].id


def _number(node: ast.AST, text: str) -> float:
    sign = 1.0
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign, node = (-1.0 if isinstance(node.op, ast.USub) else 1.0), node.operand
    if isinstance(node, ast.Name) and node.id == "inf":
        return sign * math.inf
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        try:
            value = sign * float(node.value)
        except OverflowError:
            value = math.inf
        if math.isfinite(value):
            return value
    raise InputError(f"a bound's limits are numbers (or inf); got `{ast.unparse(node)}` in `{text}`")


def _dependence(node: ast.AST, on: set[str]) -> str:
    """``"free"`` of the names ``on``, ``"affine"`` in them, or ``"nonlinear"``."""
    if isinstance(node, ast.Name):
        return "affine" if node.id in on else "free"
    if isinstance(node, ast.Constant):
        return "free"
    if isinstance(node, ast.UnaryOp):
        return _dependence(node.operand, on)
    if isinstance(node, ast.BinOp):
        a, b = _dependence(node.left, on), _dependence(node.right, on)
        if "nonlinear" in (a, b):
            return "nonlinear"
        if isinstance(node.op, (ast.Add, ast.Sub)):
            return "free" if a == b == "free" else "affine"
        if isinstance(node.op, ast.Mult):
            return a if b == "free" else (b if a == "free" else "nonlinear")
        if isinstance(node.op, ast.Div):
            return a if b == "free" else "nonlinear"
        return "free" if a == b == "free" else "nonlinear"  # a power
    if isinstance(node, ast.Call):
        return "free" if all(_dependence(a, on) == "free" for a in node.args) else "nonlinear"
    return "nonlinear"


def _function(expr: ast.AST):
    """``fn(params, x)`` of the checked tree, as nested JAX operations (nothing evaluated from text)."""
    build = _builder(expr)

    def fn(p, x):
        return build({**p, **x})

    return fn


def _builder(node: ast.AST):
    if isinstance(node, ast.Constant):
        value = float(node.value)
        return lambda env: value
    if isinstance(node, ast.Name):
        name = node.id
        return lambda env: env[name]
    if isinstance(node, ast.UnaryOp):
        inner = _builder(node.operand)
        return (lambda env: -inner(env)) if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp):
        left, right = _builder(node.left), _builder(node.right)
        if isinstance(node.op, ast.Pow):
            if isinstance(node.right, ast.Constant) or (isinstance(node.right, ast.UnaryOp)
                                                        and isinstance(node.right.operand, ast.Constant)):
                return lambda env: jnp.power(left(env), right(env))  # a number exponent: any base
            return lambda env: power(left(env), right(env))  # a parameter exponent: exp(p log x), x > 0
        op = _BINARY[type(node.op)]
        return lambda env: op(left(env), right(env))
    if isinstance(node, ast.Call):
        f = FUNCTIONS[node.func.id]
        args = [_builder(a) for a in node.args]
        return lambda env: f(*(a(env) for a in args))
    raise InputError(f"a formula law cannot hold `{ast.unparse(node)}`")  # unreachable: `_checked_names` ran first


__all__ = ["FUNCTIONS", "default_start", "is_formula", "linear_parameters", "load_law_file", "parse_expression", "parse_formula"]
