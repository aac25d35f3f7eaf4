"""The symbolic slow path: parsed answers → sympy, with size guards, then equivalence.

Only ever runs where it can be killed (a worker process), because sympy has no time limits.
Numbers stay exact rationals. Exactly written answers are equal only if their difference is zero
(proved by expansion, or indistinguishable from zero at 100 digits at several deterministic
sample points); answers with decimals are compared within the user's tolerance — never by
rounding to a fixed number of decimals.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import sympy
from sympy.core.evalf import PrecisionExhausted

from rlvr.verifiers.math.exact import (
    MAX_BINOM,
    MAX_BITS,
    MAX_EXPONENT,
    MAX_FACTORIAL,
    Tolerance,
    TooLarge,
    Undefined,
)
from rlvr.verifiers.math.parse import Node

__all__ = ["symbolic_equal", "to_sympy", "warm"]

_DIGITS = 50
_FUNCS: dict[str, Any] = {
    "sqrt": sympy.sqrt,
    "abs": sympy.Abs,
    "ln": sympy.log,
    "exp": sympy.exp,
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
    "cot": sympy.cot,
    "sec": sympy.sec,
    "csc": sympy.csc,
    "arcsin": sympy.asin,
    "arccos": sympy.acos,
    "arctan": sympy.atan,
    "sinh": sympy.sinh,
    "cosh": sympy.cosh,
    "tanh": sympy.tanh,
}
_CONSTS = {"pi": sympy.pi, "e": sympy.E, "i": sympy.I, "inf": sympy.oo}


def warm() -> bool:
    """Imported for its side effect: a worker calls this once so sympy loads before any deadline."""
    return True


def _guard_number(x: Any) -> None:
    if isinstance(x, sympy.Rational) and max(abs(x.p).bit_length(), abs(x.q).bit_length()) > MAX_BITS:
        raise TooLarge("number too large to evaluate")


def to_sympy(node: Node) -> Any:
    """Convert a parsed scalar to sympy, refusing what would explode (towers, huge factorials)."""
    kind = node[0]
    if kind == "num":
        v: Fraction = node[1]
        return sympy.Rational(v.numerator, v.denominator)
    if kind == "sym":
        return sympy.Symbol(node[1])
    if kind == "const":
        return _CONSTS[node[1]]
    if kind == "neg":
        return -to_sympy(node[1])
    if kind == "pct":
        return to_sympy(node[1])
    if kind in ("add", "mul", "div"):
        a, b = to_sympy(node[1]), to_sympy(node[2])
        if kind == "add":
            out = a + b
        elif kind == "mul":
            out = a * b
        else:
            if b == 0:
                raise Undefined("division by zero")
            out = a / b
        _guard_number(out)
        return out
    if kind == "pow":
        base, exp = to_sympy(node[1]), to_sympy(node[2])
        if exp.is_number and base.is_number and base not in (0, 1, -1):
            mag = abs(sympy.N(exp, 15)) if not exp.has(sympy.oo, sympy.zoo) else sympy.oo
            if mag == sympy.oo or mag > MAX_EXPONENT:
                raise TooLarge("power too large to evaluate")
            if exp.is_Integer and base.is_Rational:
                size = max(abs(base.p).bit_length(), abs(base.q).bit_length())
                if abs(int(exp)) * size > MAX_BITS:
                    raise TooLarge("power too large to evaluate")
        elif exp.is_number and exp.is_Rational and abs(exp) > MAX_EXPONENT and base not in (0, 1, -1):
            raise TooLarge("power too large to evaluate")
        return base**exp
    if kind == "binom":
        n, k = to_sympy(node[1]), to_sympy(node[2])
        if n.is_number and (not n.is_Integer or n > MAX_BINOM):
            raise TooLarge("binomial coefficient too large to evaluate")
        return sympy.binomial(n, k)
    if kind == "fact":
        n = to_sympy(node[1])
        if n.is_number and (not n.is_Integer or n > MAX_FACTORIAL):
            raise (
                TooLarge("factorial too large to evaluate")
                if n.is_Integer
                else Undefined("factorial of a non-integer")
            )
        return sympy.factorial(n)
    if kind == "func":
        return _FUNCS[node[1]](to_sympy(node[2]))
    if kind == "root":
        n, a = to_sympy(node[1]), to_sympy(node[2])
        if n.is_Integer and int(n) % 2 == 1 and a.is_number and a.is_negative:
            return sympy.real_root(a, n)
        return a ** (1 / n)
    if kind == "log":
        return sympy.log(to_sympy(node[2]), to_sympy(node[1]))
    raise TooLarge(f"cannot evaluate a {kind} as a number")


def _close(a: Any, b: Any, tol: Tolerance) -> bool:
    """Numeric closeness within the user's tolerance (for answers written as decimals)."""
    va, vb = sympy.N(a, _DIGITS), sympy.N(b, _DIGITS)
    if va.has(sympy.nan) or vb.has(sympy.nan):
        return False
    if va.is_infinite or vb.is_infinite or va.has(sympy.zoo) or vb.has(sympy.zoo):
        return bool(va == vb)
    return bool(abs(va - vb) <= tol.abs_tol + tol.rel_tol * max(abs(va), abs(vb)))


def _is_zero(expr: Any) -> bool:
    """Whether a constant expression is zero, judged on its *own* value, never relative to the
    size of the things that cancelled: (x+1)^300 and (x+1)^300 + 1 differ by 1 however large they
    are. ``strict`` evaluation gives 30 correct digits of a nonzero value, or raises when the value
    cannot be told from zero even at 100 digits — which is what an identity like sin²+cos²-1 gives.
    """
    if expr == 0:
        return True
    if expr.has(sympy.nan, sympy.zoo, sympy.oo, -sympy.oo):
        return False
    try:
        value = expr.evalf(30, strict=True)
    except PrecisionExhausted:
        return True
    except (TypeError, ValueError):
        return False
    return bool(value == 0)


def symbolic_equal(cand: Node, ref: Node, tol: Tolerance) -> bool:
    """Equivalence of two scalar expressions (constants or with variables).

    With an exact tolerance (both answers written exactly) the *difference* must be zero; with
    a tolerance (decimals involved) the two values must be close at every sample point.
    """
    a, b = to_sympy(cand), to_sympy(ref)
    if a == b:
        return True
    exact = tol.rel_tol == 0 and tol.abs_tol == 0
    diff = sympy.expand(a - b)
    if diff == 0:
        return True
    symbols = sorted(a.free_symbols | b.free_symbols, key=lambda s: s.name)
    if not diff.free_symbols:
        return _is_zero(diff) if exact else _close(a, b, tol)
    if exact and diff.is_polynomial(*symbols):
        return False  # an expanded nonzero polynomial is not identically zero
    # Deterministic sample points away from 0 and 1, where identities most often fail to separate.
    checked = 0
    for k in range(5):
        subs = {
            s: sympy.Rational(7, 5) + sympy.Rational(k, 3) + sympy.Rational(2 * i, 7)
            for i, s in enumerate(symbols)
        }
        try:
            same = _is_zero(diff.subs(subs)) if exact else _close(a.subs(subs), b.subs(subs), tol)
        except TypeError:
            continue  # not comparable at this point (e.g. outside a domain)
        if not same:
            return False
        checked += 1
    return checked >= 3
