"""Relations read as the sets they describe: linear inequalities as intervals, polynomial
equations (lines, planes, conics) up to a constant factor. Pure functions on parsed answers
(see ``parse``); no sympy.

``region(node)`` → ``(variable, (lo_closed, lo, hi, hi_closed))`` for an inequality in one
variable (``-x > -1``, ``-2 \\le x \\le 7``), an interval or a pair; ``None`` otherwise.
``equation_ratio(a, b)`` → ``k`` when equation ``a`` is ``k`` times equation ``b`` (everything
moved to one side), ``None`` when they are not both polynomial or not proportional.
Only exact rational coefficients count, so each decision is a proof, not a sample.
"""

from __future__ import annotations

from fractions import Fraction

from rlvr.verifiers.math.exact import TooLarge, Undefined, exact_value
from rlvr.verifiers.math.parse import Node

__all__ = ["affine", "equation_ratio", "polynomial", "region", "symbols"]

MAX_VARIABLES = 12
_INF: Node = ("const", "inf")
_NEG_INF: Node = ("neg", ("const", "inf"))
_LESS = {"<": False, "<=": True}  # op -> closed end
_GREATER = {">": False, ">=": True}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}


def symbols(node: Node, out: set[str] | None = None) -> set[str]:
    """The variable names in a parsed answer (constants such as pi and e are not variables)."""
    out = set() if out is None else out
    if node[0] == "sym":
        out.add(node[1])
        return out
    for part in node[1:]:
        if isinstance(part, tuple) and part:
            if isinstance(part[0], str):
                symbols(part, out)
            else:
                for item in part:
                    if isinstance(item, tuple) and item and isinstance(item[0], str):
                        symbols(item, out)
    return out


def _constant(node: Node) -> Fraction | None:
    """The exact value of a node with no variables; None when it has some or cannot be evaluated."""
    if symbols(node):
        return None
    try:
        return exact_value(node)
    except (TooLarge, Undefined):
        return None


def affine(node: Node) -> dict[str | None, Fraction] | None:
    """``{variable: coefficient, None: constant}`` for an affine expression with exact rational
    coefficients (``2x + 4y - 3``, ``-\\frac12 x + \\frac34``); None for anything else."""
    kind = node[0]
    if kind == "sym":
        return {node[1]: Fraction(1)}
    if kind in ("add", "neg", "mul", "div"):
        parts = [affine(x) for x in node[1:]]
        if any(p is None for p in parts):
            return None
        if kind == "neg":
            return {k: -v for k, v in parts[0].items()}  # type: ignore[union-attr]
        a, b = parts[0], parts[-1]
        assert a is not None and b is not None
        if kind == "add":
            out = dict(a)
            for k, v in b.items():
                out[k] = out.get(k, Fraction(0)) + v
            return out
        if kind == "div":
            if set(b) != {None} or b[None] == 0:
                return None
            return {k: v / b[None] for k, v in a.items()}
        if set(a) == {None}:
            a, b = b, a
        if set(b) != {None}:
            return None  # a product of two variables is not affine
        return {k: v * b[None] for k, v in a.items()}
    value = _constant(node)
    return None if value is None else {None: value}


Monomial = tuple[tuple[str, int], ...]  # ((variable, power), ...) sorted; () is the constant
MAX_TERMS = 64
MAX_DEGREE = 12


def polynomial(node: Node) -> dict[Monomial, Fraction] | None:
    """``{monomial: coefficient}`` for a polynomial with exact rational coefficients
    (``\\frac{x^2}{4} + y^2 - 1``); None for anything else, or one too big to expand."""
    kind = node[0]
    if kind == "sym":
        return {((node[1], 1),): Fraction(1)}
    if kind == "neg":
        inner = polynomial(node[1])
        return None if inner is None else {m: -c for m, c in inner.items()}
    if kind in ("add", "mul", "div"):
        a, b = polynomial(node[1]), polynomial(node[2])
        if a is None or b is None:
            return None
        if kind == "add":
            return _trim(_plus(a, b))
        if kind == "div":
            if set(b) != {()} or b[()] == 0:
                return None
            return {m: c / b[()] for m, c in a.items()}
        return _times(a, b)
    if kind == "pow" and symbols(node[1]):
        base = polynomial(node[1])
        try:
            exp = exact_value(node[2])
        except (TooLarge, Undefined):
            return None
        if base is None or exp is None or exp.denominator != 1 or not 0 <= exp <= MAX_DEGREE:
            return None
        out: dict[Monomial, Fraction] | None = {(): Fraction(1)}
        for _ in range(int(exp)):
            out = _times(out, base) if out is not None else None
        return out
    value = _constant(node)
    return None if value is None else {(): value}


def _plus(a: dict[Monomial, Fraction], b: dict[Monomial, Fraction]) -> dict[Monomial, Fraction]:
    out = dict(a)
    for m, c in b.items():
        out[m] = out.get(m, Fraction(0)) + c
    return out


def _trim(p: dict[Monomial, Fraction]) -> dict[Monomial, Fraction] | None:
    p = {m: c for m, c in p.items() if c != 0}
    return p if len(p) <= MAX_TERMS else None


def _times(a: dict[Monomial, Fraction], b: dict[Monomial, Fraction]) -> dict[Monomial, Fraction] | None:
    if len(a) * len(b) > 4 * MAX_TERMS:
        return None
    out: dict[Monomial, Fraction] = {}
    for ma, ca in a.items():
        for mb, cb in b.items():
            powers = dict(ma)
            for v, e in mb:
                powers[v] = powers.get(v, 0) + e
            if sum(powers.values()) > MAX_DEGREE:
                return None
            m = tuple(sorted(powers.items()))
            out[m] = out.get(m, Fraction(0)) + ca * cb
    return _trim(out)


def _difference(rel: Node) -> dict[Monomial, Fraction] | None:
    """``lhs - rhs`` of a one-link equation, as a polynomial with at least one variable."""
    if rel[0] != "rel" or rel[1] != ("=",):
        return None
    lhs, rhs = polynomial(rel[2][0]), polynomial(rel[2][1])
    if lhs is None or rhs is None:
        return None
    out = _trim(_plus(lhs, {m: -c for m, c in rhs.items()}))
    if not out or all(m == () for m in out) or len({v for m in out for v, _ in m}) > MAX_VARIABLES:
        return None
    return out


def equation_ratio(a: Node, b: Node) -> Fraction | None:
    """``k`` such that equation ``a`` is ``k`` times equation ``b`` (everything moved to one side),
    so both have the same solutions: lines, planes, conics; None if there is no such ``k``."""
    da, db = _difference(a), _difference(b)
    if da is None or db is None or set(da) != set(db):
        return None
    key = next(iter(da))
    k = da[key] / db[key]
    return k if all(da[m] == k * db[m] for m in da) else None


def _bound(lhs: Node, op: str, rhs: Node) -> tuple[str, str, Node] | None:
    """``lhs op rhs`` with one side linear in one variable, solved: ``(variable, op, bound)``.

    A named quantity (``f(x)``, ``P(A)``) on one side is the variable itself."""
    if symbols(lhs) and not symbols(rhs) and _quantity(lhs):
        return _quantity(lhs), op, rhs  # type: ignore[return-value]
    if symbols(rhs) and not symbols(lhs) and _quantity(rhs):
        return _quantity(rhs), _FLIP[op], lhs  # type: ignore[return-value]
    names = symbols(lhs) | symbols(rhs)
    if len(names) != 1:
        return None
    (var,) = names
    if symbols(rhs):  # put the variable on the left: 3 > x  →  x < 3
        lhs, rhs, op = rhs, lhs, _FLIP[op]
        if symbols(rhs):
            return None
    if lhs == ("sym", var):
        return var, op, rhs
    if lhs == ("neg", ("sym", var)):
        return var, _FLIP[op], ("neg", rhs)
    form = affine(lhs)
    c = affine(rhs)
    if form is None or set(form) - {None, var} or not form.get(var) or c is None or set(c) != {None}:
        return None
    bound = (c[None] - form.get(None, Fraction(0))) / form[var]
    return var, (op if form[var] > 0 else _FLIP[op]), ("num", bound)


def _quantity(node: Node) -> str | None:
    """The name of a named quantity (``f(x)``, ``P(A)``), else None. Not ``|x|``: ``|x| < 2`` is
    a condition on ``x`` (the interval (-2, 2)), not the ray (-inf, 2) of a quantity ``|x|``."""
    if node[0] == "mul":
        a, b = _quantity(node[1]) or _sym(node[1]), _quantity(node[2]) or _sym(node[2])
        if a and b:
            return f"{a}({b})" if node[2][0] == "sym" and len(a) == 1 else a + b
    return None


def _sym(node: Node) -> str | None:
    return node[1] if node[0] == "sym" else None


def _interval(op: str, bound: Node) -> tuple[bool, Node, Node, bool]:
    if op in _LESS:
        return False, _NEG_INF, bound, _LESS[op]
    return _GREATER[op], bound, _INF, False


def region(node: Node) -> tuple[str | None, tuple[bool, Node, Node, bool]] | None:
    """The interval an inequality, interval or pair stands for (see the module docstring)."""
    kind = node[0]
    if kind == "interval":
        return None, (node[1], node[2], node[3], node[4])
    if kind == "tuple" and len(node[1]) == 2:
        return None, (False, node[1][0], node[1][1], False)
    if kind != "rel":
        return None
    ops, parts = node[1], node[2]
    if not all(op in _LESS or op in _GREATER for op in ops):
        return None
    if len(ops) == 1:
        solved = _bound(parts[0], ops[0], parts[1])
        if solved is None:
            return None
        var, op, bound = solved
        return var, _interval(op, bound)
    if len(ops) == 2 and (ops[0] in _LESS) == (ops[1] in _LESS):
        # lo < x < hi (or hi > x > lo): both ends must bound the same variable, one from each side.
        lo = _bound(parts[1], _FLIP[ops[0]], parts[0])
        hi = _bound(parts[1], ops[1], parts[2])
        if lo is None or hi is None or lo[0] != hi[0] or symbols(parts[0]) or symbols(parts[2]):
            return None
        a, b = _interval(lo[1], lo[2]), _interval(hi[1], hi[2])
        if (lo[1] in _LESS) == (hi[1] in _LESS):
            return None
        (lo_closed, low, _, _), (_, _, high, hi_closed) = (a, b) if lo[1] in _GREATER else (b, a)
        return lo[0], (lo_closed, low, high, hi_closed)
    return None
