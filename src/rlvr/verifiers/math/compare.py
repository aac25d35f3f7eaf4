"""Equivalence of parsed math answers: exact rationals first, structure next, sympy last.

``compare(candidate, reference, tol)`` decides whether two parsed answers (see ``parse``) are the
same mathematical object, building on ``exact`` (rational values), ``relations`` (equations,
inequalities, solution sets) and ``symbolic`` (sympy). Plain numbers never reach sympy. When a
scalar needs symbolic work, ``compare`` raises ``NeedSymbolic`` unless called with
``symbolic=True`` — the caller then reruns it through ``compare_nodes`` somewhere it can be killed
(a worker process), because sympy can take unbounded time.
"""

from __future__ import annotations

from rlvr.verifiers.math.exact import NeedSymbolic, Outcome, Tolerance, TooLarge, Undefined, exact_value
from rlvr.verifiers.math.parse import Node
from rlvr.verifiers.math.relations import equation_ratio, region, symbols

__all__ = ["Outcome", "Tolerance", "compare", "compare_nodes", "solution_sets"]


def _label(node: Node) -> bool:
    """A left-hand side that names the answer: ``k``, ``f(x)``, ``|AB|``, ``(p, q)``, ``P(A)``,
    ``\\frac{NO}{BO}``."""
    kind = node[0]
    if kind == "sym":
        return True
    if kind == "func":
        return _label(node[2])
    if kind in ("mul", "div"):  # AB, f(x), NO/BO
        return _label(node[1]) and _label(node[2])
    if kind == "tuple":
        return bool(node[1]) and all(_label(x) for x in node[1])
    return False


def compare(cand: Node, ref: Node, tol: Tolerance, *, symbolic: bool = False) -> Outcome:
    """Is ``cand`` the same answer as ``ref``? Raises NeedSymbolic when sympy is needed."""
    if cand == ref:
        return Outcome(True, "identical")
    cand, ref = _membership_value(cand), _membership_value(ref)
    if cand[0] == "or" or ref[0] == "or":
        c, r = _alternatives(cand), _alternatives(ref)
        if c is None or r is None:
            return Outcome(False, "structure", "relations joined by 'or' must all be inequalities or equations")
        return compare(c, r, tol, symbolic=symbolic)
    if cand[0] == "rel" or ref[0] == "rel":
        out = solution_sets(cand, ref, tol, symbolic)
        if out is not None:
            return out
    # Equation chains: a leading lone variable is a label; every link must hold.
    if ref[0] == "rel":
        ref = _chain_value(ref, tol, symbolic, side="reference")
        if ref[0] == "rel":
            return _compare_relation(cand, ref, tol, symbolic)
    if cand[0] == "rel":
        cand_val = _chain_value(cand, tol, symbolic, side="answer")
        if cand_val[0] == "rel":
            if any(op not in ("=", "~") for op in cand_val[1]):
                return Outcome(False, "structure", "the answer is an inequality, the reference is not")
            return Outcome(False, "chain", "the equation chain in the answer is false")
        claim = _exact_claim(cand)
        if claim is not None and claim != cand_val:
            # "x = \\frac{1}{3} \\approx 0.33": the exact value is the claim; the rounding after
            # "≈" is an aside (it is still graded below, for a reference written in decimals).
            first = compare(claim, ref, tol, symbolic=symbolic)
            if first.equal:
                return first
        cand = cand_val
    if ref[0] == "pm" or cand[0] == "pm":
        return compare(_expand_pm(cand), _expand_pm(ref), tol, symbolic=symbolic)
    rk, ck = ref[0], cand[0]
    if rk in ("set", "list") or ck in ("set", "list"):
        if rk not in ("set", "list") or ck not in ("set", "list"):
            return Outcome(False, "structure", "one side is a collection of values, the other is not")
        return _compare_unordered(cand[1], ref[1], tol, symbolic)
    if rk == "union" or ck == "union":
        if rk != ck:
            return Outcome(False, "structure", "one side is a union of intervals, the other is not")
        return _compare_unordered(cand[1], ref[1], tol, symbolic)
    if rk == "interval" or ck == "interval":
        a, b = _as_interval(cand), _as_interval(ref)
        if a is None or b is None:
            return Outcome(False, "structure", "one side is an interval, the other is not")
        if a[0] != b[0] or a[3] != b[3]:
            return Outcome(False, "interval", "the interval's open/closed ends differ")
        return _all_equal(((a[1], b[1]), (a[2], b[2])), tol, symbolic, "interval endpoints differ")
    if rk == "tuple" or ck == "tuple":
        if rk != ck or len(cand[1]) != len(ref[1]):
            return Outcome(False, "structure", "tuples differ in shape")
        return _all_equal(tuple(zip(cand[1], ref[1])), tol, symbolic, "tuple entries differ (order matters)")
    if rk == "matrix" or ck == "matrix":
        if rk != ck or len(cand[1]) != len(ref[1]) or any(len(x) != len(y) for x, y in zip(cand[1], ref[1])):
            return Outcome(False, "structure", "matrices differ in shape")
        pairs = tuple((x, y) for rc, rr in zip(cand[1], ref[1]) for x, y in zip(rc, rr))
        return _all_equal(pairs, tol, symbolic, "matrix entries differ")
    return _scalar(cand, ref, tol, symbolic)


def _chain_value(node: Node, tol: Tolerance, symbolic: bool, side: str) -> Node:
    ops, parts = list(node[1]), list(node[2])
    if any(op not in ("=", "~") for op in ops):
        return node
    if len(parts) >= 2 and _label(parts[0]):
        parts, ops = parts[1:], ops[1:]
    if len(parts) >= 2 and _has_symbol(parts[0]) and not _has_symbol(parts[-1]):
        # "x - x = 0", "0x = 0": an equation in a variable, not a computation that ends in a value.
        return ("rel", ("=",), (parts[0], parts[-1]))
    for op, a, b in zip(ops, parts, parts[1:]):
        # "=" links must hold; "≈" links are approximations the model announced, not claims.
        if op == "=" and not compare(a, b, tol, symbolic=symbolic).equal:
            return ("rel", ("=",), (a, b))  # a false link: the caller reports it
    return parts[-1]


def _exact_claim(node: Node) -> Node | None:
    """The part just before the first "≈" of an equation chain, if there is one."""
    ops, parts = node[1], node[2]
    if "~" not in ops or any(op not in ("=", "~") for op in ops):
        return None
    i = ops.index("~")
    return None if i == 0 and _label(parts[0]) else parts[i]


def _compare_relation(cand: Node, ref: Node, tol: Tolerance, symbolic: bool) -> Outcome:
    if cand[0] != "rel":
        return Outcome(False, "structure", "the reference is a relation, the answer is not")
    flip = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "=", "!=": "!=", "~": "~"}
    c_ops, c_parts = cand[1], cand[2]
    for ops, parts in ((c_ops, c_parts), (tuple(flip[o] for o in reversed(c_ops)), tuple(reversed(c_parts)))):
        if ops == ref[1] and len(parts) == len(ref[2]):
            out = _all_equal(tuple(zip(parts, ref[2])), tol, symbolic, "relation sides differ")
            if out.equal:
                return out
    return Outcome(False, "relation", "the relation differs from the reference")


def _expand_pm(node: Node) -> Node:
    if node[0] != "pm":
        return node
    a, b = node[1], node[2]
    if a is None:
        return ("set", (b, ("neg", b)))
    return ("set", (("add", a, b), ("add", a, ("neg", b))))


def _as_interval(node: Node) -> tuple[bool, Node, Node, bool] | None:
    if node[0] == "interval":
        return node[1], node[2], node[3], node[4]
    if node[0] == "tuple" and len(node[1]) == 2:
        return False, node[1][0], node[1][1], False
    return None


def _all_equal(pairs: tuple[tuple[Node, Node], ...], tol: Tolerance, symbolic: bool, why: str) -> Outcome:
    how = "exact"
    for x, y in pairs:
        out = compare(x, y, tol, symbolic=symbolic)
        if not out.equal:
            return Outcome(False, out.how, why)
        if out.how == "symbolic":
            how = "symbolic"
    return Outcome(True, how)


def _compare_unordered(
    cands: tuple[Node, ...], refs: tuple[Node, ...], tol: Tolerance, symbolic: bool
) -> Outcome:
    # Duplicates do not change a set: {1, 1, 2} is {1, 2}.
    def dedupe(items: tuple[Node, ...]) -> list[Node]:
        kept: list[Node] = []
        for it in items:
            if not any(compare(it, k, tol, symbolic=symbolic).equal for k in kept):
                kept.append(it)
        return kept

    c, r = dedupe(cands), dedupe(refs)
    if len(c) != len(r):
        return Outcome(False, "set", f"the answer has {len(c)} distinct values, the reference {len(r)}")
    unused = list(range(len(c)))
    for ref_item in r:
        for j in unused:
            if compare(c[j], ref_item, tol, symbolic=symbolic).equal:
                unused.remove(j)
                break
        else:
            return Outcome(False, "set", "the collections have different elements")
    return Outcome(True, "set")


def _scalar(cand: Node, ref: Node, tol: Tolerance, symbolic: bool) -> Outcome:
    if cand[0] == "sym" and ref[0] == "sym":
        # A single capital letter A-J is a multiple-choice label: "d" answers "D".
        same = cand[1] == ref[1] or (
            len(ref[1]) == 1 and ref[1] in "ABCDEFGHIJ" and cand[1].upper() == ref[1]
        )
        return Outcome(same, "exact", "" if same else "different variables")
    a = exact_value(cand)
    b = exact_value(ref)
    if a is not None and b is not None:
        if tol.close(a, b):
            return Outcome(True, "exact")
        if tol.percent == "both" and (cand[0] == "pct") != (ref[0] == "pct"):
            a2 = a / 100 if cand[0] == "pct" else a
            b2 = b / 100 if ref[0] == "pct" else b
            if tol.close(a2, b2):
                return Outcome(True, "percent")
        return Outcome(False, "exact", "the value differs from the reference")
    if not symbolic:
        raise NeedSymbolic()
    from rlvr.verifiers.math.symbolic import symbolic_equal  # here: sympy loads only when needed

    equal = symbolic_equal(cand, ref, tol)
    return Outcome(equal, "symbolic", "" if equal else "not equivalent to the reference")


def _membership_value(node: Node) -> Node:
    """``x \\in S`` names the answer ``S`` (an interval or set), as ``k = 1`` names ``1``."""
    if node[0] == "rel" and node[1] == ("in",) and _label(node[2][0]):
        return node[2][1]
    return node


def solution_sets(cand: Node, ref: Node, tol: Tolerance, symbolic: bool) -> Outcome | None:
    """Relations compared as the sets they describe, or None when that reading does not apply.

    A linear inequality is the interval it solves to (``-x > -1`` is ``x < 1`` is
    ``(-\\infty, 1)``); two polynomial equations are the same line, plane or conic when one is a
    non-zero multiple of the other (``y = -x/2 + 3/4`` is ``2x + 4y - 3 = 0``).
    """

    if cand[0] == "rel" and ref[0] == "rel" and equation_ratio(cand, ref) is not None:
        return Outcome(True, "equation")
    rc, rr = region(cand), region(ref)
    if rc is None or rr is None or (rc[0] is None and rr[0] is None):
        return None  # not an inequality on either side: the other readings apply
    if rc[0] is not None and rr[0] is not None and rc[0] != rr[0]:
        return Outcome(False, "interval", f"the inequality is in {rc[0]}, the reference in {rr[0]}")
    out = compare(("interval", *rc[1]), ("interval", *rr[1]), tol, symbolic=symbolic)
    return Outcome(out.equal, "interval" if out.equal else out.how, out.why)


def _has_symbol(node: Node) -> bool:

    return bool(symbols(node))


def _alternatives(node: Node) -> Node | None:
    """``x < -2 or x > 7`` → the union of the two intervals; ``x = 2 or x = 3`` → the list of
    both; anything else unchanged. None for a mix, or inequalities in different variables."""

    if node[0] != "or":
        return node
    items = node[1]
    if all(i[1] == ("=",) for i in items):
        return ("list", items)
    regions = [region(i) for i in items]
    if any(r is None or r[0] is None for r in regions) or len({r[0] for r in regions}) != 1:  # type: ignore[index]
        return None
    return ("union", tuple(("interval", *r[1]) for r in regions))  # type: ignore[index]


def compare_nodes(cand: Node, ref: Node, tol: Tolerance) -> tuple[bool, str, str]:
    """Entry point for worker processes: the full comparison, sympy allowed.

    Returns ``(equal, how, why)``; ``how`` is ``"too_large"`` or ``"undefined"`` when the answer
    could not be evaluated safely.
    """
    try:
        out = compare(cand, ref, tol, symbolic=True)
    except TooLarge as exc:
        return False, "too_large", str(exc)
    except Undefined as exc:
        return False, "undefined", str(exc)
    except (RecursionError, OverflowError, MemoryError) as exc:
        return False, "too_large", f"expression too complex to evaluate ({type(exc).__name__})"
    return out.equal, out.how, out.why
