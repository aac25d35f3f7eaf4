"""Exact arithmetic for the ``calculate`` tool, without ``eval``: the expression is parsed with
``ast`` and only numeric literals, + - * / // % **, unary signs and parentheses are evaluated,
on ``int`` and ``Fraction`` (so 1/3*3 is exactly 1). Exponents and results are bounded before
they are computed, so no expression can make the evaluator hang or eat memory."""

from __future__ import annotations

import ast
import math
import operator
from fractions import Fraction

__all__ = ["MAX_DIGITS", "MAX_EXPONENT", "CalcError", "evaluate", "format_number"]

MAX_EXPONENT = 1000
"""Largest |exponent| of ``**``."""
MAX_DIGITS = 2000
"""Most decimal digits in any intermediate numerator or denominator."""
MAX_CHARS = 2000
"""Longest expression."""

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod}


class CalcError(ValueError):
    """The expression is not plain arithmetic, or its value is out of bounds."""


def _digits(n: int) -> int:
    return max(1, math.ceil(abs(n).bit_length() * 0.30103))


def _check(x: Fraction) -> Fraction:
    if _digits(x.numerator) > MAX_DIGITS or _digits(x.denominator) > MAX_DIGITS:
        raise CalcError(f"the result has more than {MAX_DIGITS} digits")
    return x


def _power(base: Fraction, exp: Fraction) -> Fraction:
    if exp.denominator != 1:
        raise CalcError("only integer exponents are exact; use a rational base and an integer power")
    e = exp.numerator
    if abs(e) > MAX_EXPONENT:
        raise CalcError(f"the exponent {e} is larger than {MAX_EXPONENT}")
    if base == 0 and e < 0:
        raise CalcError("division by zero")
    size = max(_digits(base.numerator), _digits(base.denominator)) * abs(e)
    if size > MAX_DIGITS + 1:
        raise CalcError(f"the result has more than {MAX_DIGITS} digits")
    return base**e


def _eval(node: ast.AST) -> Fraction:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return _check(Fraction(str(node.value)) if isinstance(node.value, float) else Fraction(node.value))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
        v = _eval(node.operand)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow):
            return _check(_power(left, right))
        op = _BINARY.get(type(node.op))
        if op is None:
            raise CalcError(f"operator {type(node.op).__name__} is not supported")
        if right == 0 and op in (operator.truediv, operator.floordiv, operator.mod):
            raise CalcError("division by zero")
        return _check(Fraction(op(left, right)))
    raise CalcError(f"only numbers and + - * / // % ** ( ) are allowed, not {type(node).__name__}")


def evaluate(expression: str) -> Fraction:
    """The exact value of an arithmetic expression (``^`` is read as ``**``)."""
    if not isinstance(expression, str):
        raise CalcError("the expression must be a string")
    if len(expression) > MAX_CHARS:
        raise CalcError(f"the expression is longer than {MAX_CHARS} characters")
    text = expression.replace("^", "**").replace("×", "*").replace("÷", "/").strip()
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError) as exc:
        raise CalcError(f"not an arithmetic expression: {getattr(exc, 'msg', exc)}") from None
    try:
        return _eval(tree)
    except RecursionError:
        raise CalcError("the expression is nested too deeply") from None


def format_number(x: Fraction) -> str:
    """An integer as itself, a fraction as ``p/q`` with its decimal value when that is short."""
    if x.denominator == 1:
        return str(x.numerator)
    dec = f"{float(x):.12g}" if _digits(x.numerator) < 300 and _digits(x.denominator) < 300 else ""
    return f"{x.numerator}/{x.denominator}" + (f" (≈ {dec})" if dec else "")
