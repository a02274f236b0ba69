"""Conditions on columns (``--where "C < 1e21 and model == 'a'"``), evaluated by walking their
syntax tree: columns, numbers and strings, arithmetic, comparisons and logic, and nothing else. No
text is handed to an evaluator, so nothing in a condition can call a method or read a file.

The language is pandas' ``DataFrame.eval`` subset the package has always taken: `quoted column
names` for names with spaces, ``&``, ``|`` and ``~`` with the precedence of ``and``, ``or`` and
``not`` (so ``C < 1e21 & N > 1e8`` means what it reads), ``in`` and ``not in`` with a list.
"""

from __future__ import annotations

import ast
import functools
import operator

import numpy as np
import pandas as pd

from ..errors import InputError

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_COMPARE = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
            ast.Gt: operator.gt, ast.GtE: operator.ge}
_LOGIC = {"&": " and ", "|": " or ", "~": " not "}


def evaluate_condition(table: pd.DataFrame, where: str, option: str = "--where"):
    """The condition's value over ``table`` (a boolean Series for a condition; the caller checks).
    Errors name ``option`` and the condition as the user wrote it."""
    text, names = _plain(where, [str(c) for c in table.columns])
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise InputError(f"{option} `{where}` could not be evaluated: it is not a condition on columns "
                         "(e.g. \"C < 1e21\")") from None
    try:
        return _value(tree.body, table, names)
    except _Refused as exc:
        raise InputError(f"{option} `{where}` may use only columns, numbers, comparisons, arithmetic and "
                         f"and/or/not (&, |, ~); it has {exc.kind} `{ast.get_source_segment(text, exc.node) or exc.kind}`"
                         ) from None
    except _Undefined as exc:
        raise InputError(f"{option} `{where}` could not be evaluated: name `{exc.args[0]}` is not defined; "
                         f"columns are {', '.join(str(c) for c in table.columns)}") from None
    except (TypeError, ValueError, ZeroDivisionError, OverflowError) as exc:
        raise InputError(f"{option} `{where}` could not be evaluated: {exc}") from None


class _Refused(Exception):
    def __init__(self, node):
        super().__init__()
        self.node, self.kind = node, type(node).__name__.lower()


class _Undefined(Exception):
    pass


def _plain(where: str, columns: list[str]) -> tuple[str, dict[str, str]]:
    """``where`` with each `quoted column name` replaced by a plain name no column has (and the map
    back), and ``&``, ``|``, ``~`` by ``and``, ``or``, ``not``; string literals are kept as they are
    (a backtick or an ampersand inside one is a character)."""
    taken = set(columns)
    out, names, i = [], {}, 0
    while i < len(where):
        ch = where[i]
        if ch in "'\"":
            j = i + 1
            while j < len(where) and where[j] != ch:
                j += 2 if where[j] == "\\" else 1
            out.append(where[i:j + 1])
            i = j + 1
        elif ch == "`":
            j = where.find("`", i + 1)
            if j < 0:
                out.append(where[i:])  # unbalanced: left for the parser to refuse
                break
            name = next(f"_quoted_{k}" for k in range(len(taken) + len(names) + 1)
                        if f"_quoted_{k}" not in taken and f"_quoted_{k}" not in names)
            names[name] = where[i + 1:j]
            out.append(name)
            i = j + 1
        else:
            out.append(_LOGIC.get(ch, ch))
            i += 1
    return "".join(out), names


def _value(node, table: pd.DataFrame, names: dict[str, str]):
    value = functools.partial(_value, table=table, names=names)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
        return node.value
    if isinstance(node, ast.Name):
        column = names.get(node.id, node.id)
        if column not in table.columns:
            raise _Undefined(column)
        return table[column]
    if isinstance(node, (ast.List, ast.Tuple)):
        return [value(e) for e in node.elts]
    if isinstance(node, ast.BoolOp) and isinstance(node.op, (ast.And, ast.Or)):
        parts = [_truth(value(v)) for v in node.values]
        return functools.reduce(np.logical_and if isinstance(node.op, ast.And) else np.logical_or, parts)
    if isinstance(node, ast.UnaryOp):
        v = value(node.operand)
        if isinstance(node.op, ast.Not):
            return np.logical_not(_truth(v))
        if isinstance(node.op, (ast.USub, ast.UAdd)):
            return -v if isinstance(node.op, ast.USub) else +v
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](value(node.left), value(node.right))
    if isinstance(node, ast.Compare):
        left, result = value(node.left), True
        for op, right_node in zip(node.ops, node.comparators):
            right = value(right_node)
            if isinstance(op, (ast.In, ast.NotIn)):
                if not isinstance(right, list):
                    raise _Refused(right_node)
                found = left.isin(right) if isinstance(left, pd.Series) else np.isin(left, right)
                step = found if isinstance(op, ast.In) else np.logical_not(found)
            elif type(op) in _COMPARE:
                step = _COMPARE[type(op)](left, right)
            else:
                raise _Refused(op)
            result = step if result is True else np.logical_and(result, step)
            left = right
        return result
    raise _Refused(node)


def _truth(v):
    """A logical operand: a true/false Series or value (``and`` of numbers is not a condition)."""
    if isinstance(v, pd.Series) and not pd.api.types.is_bool_dtype(v):
        raise TypeError("and/or/not take true/false conditions, not values of a column")
    return v
