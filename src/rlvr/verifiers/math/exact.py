"""Exact values of parsed math answers: rationals only, with hard limits on what is evaluated.

The second step after ``parse``: ``exact_value`` turns a numeric expression into a ``Fraction``
(or says it is not rational-only), refusing power towers and huge factorials (``TooLarge``) and
division by zero (``Undefined``). ``Tolerance`` and ``Outcome`` are the vocabulary every later
step (relations, symbolic, compare) shares.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from rlvr.verifiers.math.parse import Node

__all__ = ["MAX_BINOM", "MAX_BITS", "MAX_EXPONENT", "MAX_FACTORIAL", "NeedSymbolic", "Outcome", "Tolerance", "TooLarge", "Undefined", "exact_value"]

MAX_EXPONENT = 10_000
MAX_BITS = 200_000
MAX_FACTORIAL = 2_000
MAX_BINOM = 20_000


class NeedSymbolic(Exception):
    """A scalar comparison needs sympy; rerun with ``symbolic=True`` in a killable process."""


class TooLarge(ValueError):
    """The expression would be too large to evaluate safely (power towers, huge factorials)."""


class Undefined(ValueError):
    """The expression has no value (division by zero, 0 to a negative power)."""


@dataclass(frozen=True)
class Tolerance:
    """When two numbers count as equal: |a - b| <= abs_tol + rel_tol * max(|a|, |b|)."""

    rel_tol: float = 1e-9
    abs_tol: float = 0.0
    percent: str = "strip"  # "strip": 50% is 50; "both": 50% also equals 0.5

    def close(self, a: Fraction, b: Fraction) -> bool:
        if a == b:
            return True
        bound = Fraction(self.abs_tol) + Fraction(self.rel_tol) * max(abs(a), abs(b))
        return abs(a - b) <= bound


@dataclass(frozen=True)
class Outcome:
    """The result of a comparison: equal or not, how it was decided, and why not."""

    equal: bool
    how: str
    why: str = ""


def exact_value(node: Node) -> Fraction | None:
    """The exact rational value of a numeric expression, or None when it is not rational-only.

    Raises TooLarge / Undefined for expressions that must not or cannot be evaluated.
    """
    kind = node[0]
    if kind == "num":
        return node[1]
    if kind == "neg":
        v = exact_value(node[1])
        return None if v is None else -v
    if kind == "pct":
        return exact_value(node[1])
    if kind in ("add", "mul", "div"):
        a = exact_value(node[1])
        if a is None:
            return None
        b = exact_value(node[2])
        if b is None:
            return None
        if kind == "add":
            return a + b
        if kind == "mul":
            return a * b
        if b == 0:
            raise Undefined("division by zero")
        return a / b
    if kind == "pow":
        base = exact_value(node[1])
        if base is None:
            return None
        exp = exact_value(node[2])
        if exp is None or exp.denominator != 1:
            return None
        e = exp.numerator
        if base in (0, 1, -1):
            if base == 0 and e < 0:
                raise Undefined("zero to a negative power")
            return base**e if e >= 0 or base != 0 else base
        size = max(base.numerator.bit_length(), base.denominator.bit_length())
        if abs(e) > MAX_EXPONENT or abs(e) * size > MAX_BITS:
            raise TooLarge("power too large to evaluate")
        return base**e
    if kind == "binom":
        n, k = exact_value(node[1]), exact_value(node[2])
        if n is None or k is None or n.denominator != 1 or k.denominator != 1 or n < 0:
            return None
        if n > MAX_BINOM:
            raise TooLarge("binomial coefficient too large to evaluate")
        return Fraction(math.comb(int(n), int(k))) if k >= 0 else Fraction(0)
    if kind == "fact":
        n = exact_value(node[1])
        if n is None or n.denominator != 1 or n < 0:
            return None
        if n > MAX_FACTORIAL:
            raise TooLarge("factorial too large to evaluate")
        return Fraction(math.factorial(int(n)))
    return None
