"""The optional form check (``MathVerifier(form="simplified")``): for tasks that ask for a form.

Equality is decided elsewhere; this only says why an *equal* answer is not in the form asked
for, or returns None. Pure functions on parsed answers (see ``parse``).

- a fraction of integers must be in lowest terms with a positive denominator other than 1
  (``\\frac{6}{8}``, ``4/2`` and ``\\frac{3}{-4}`` fail);
- a square root of an integer must have no square factor (``\\sqrt{8}`` fails; ``2\\sqrt{2}``
  passes);
- where the reference is a factorisation into primes (``2^2 \\cdot 233``, ``2 × 2 × 233``), the
  answer must be one too (``932`` and ``4 \\cdot 233`` fail);
- an equation must be the reference's up to sides and sign, not a multiple of it
  (``4x + 8y = 6`` fails against ``2x + 4y = 3``).
"""

from __future__ import annotations

from fractions import Fraction

from rlvr.verifiers.math.parse import Node
from rlvr.verifiers.math.relations import equation_ratio

__all__ = ["form_problem"]

# Beyond this, primality and square-freeness are not checked (trial division must stay cheap).
MAX_CHECKED = 10**10


def _integer(node: Node) -> int | None:
    if node[0] == "num" and node[1].denominator == 1:
        return int(node[1])
    if node[0] == "neg":
        inner = _integer(node[1])
        return None if inner is None else -inner
    return None


def _is_prime(n: int) -> bool | None:
    if n > MAX_CHECKED:
        return None
    if n < 2:
        return False
    d = 2
    while d * d <= n:
        if n % d == 0:
            return False
        d += 1
    return True


def _square_factor(n: int) -> int | None:
    """The largest k > 1 with k² dividing n, or None (n square-free, or too large to check)."""
    if n > MAX_CHECKED or n < 4:
        return None
    best, d = None, 2
    while d * d <= n:
        if n % (d * d) == 0:
            best = d
        d += 1
    return best


def _prime_factors(node: Node) -> list[int] | None:
    """The bases of a product of integer powers (``2^2 \\cdot 233`` → ``[2, 233]``), else None."""
    kind = node[0]
    if kind == "mul":
        a, b = _prime_factors(node[1]), _prime_factors(node[2])
        return None if a is None or b is None else a + b
    if kind == "pow":
        base, exp = _integer(node[1]), _integer(node[2])
        return None if base is None or exp is None or exp < 1 else [base]
    n = _integer(node)
    return None if n is None else [n]


def _walk(node: Node):
    yield node
    for part in node[1:]:
        if isinstance(part, tuple) and part:
            if isinstance(part[0], str):
                yield from _walk(part)
            else:
                for item in part:
                    if isinstance(item, tuple) and item and isinstance(item[0], str):
                        yield from _walk(item)


def form_problem(cand: Node, ref: Node) -> str | None:
    """Why the answer ``cand`` (already equal to ``ref``) is not in simplified form, or None."""
    for node in _walk(cand):
        if node[0] == "div":
            p, q = _integer(node[1]), _integer(node[2])
            if p is not None and q is not None and q != 0:
                if q < 0:
                    return f"the fraction {p}/{q} has a negative denominator"
                if q == 1 or Fraction(p, q).denominator != q:
                    return f"the fraction {p}/{q} is not in lowest terms"
        elif node[0] == "func" and node[1] == "sqrt":
            n = _integer(node[2])
            k = None if n is None else _square_factor(n)
            if k is not None:
                return f"\\sqrt{{{n}}} has the square factor {k * k}"
    ref_factors = _prime_factors(ref)
    factorised = ref_factors is not None and (len(ref_factors) > 1 or ref[0] == "pow")
    if factorised and all(_is_prime(abs(f)) for f in ref_factors):  # type: ignore[union-attr]
        cand_factors = _prime_factors(cand)
        if cand_factors is None or not all(_is_prime(abs(f)) for f in cand_factors):
            return "the reference is a prime factorisation and the answer is not"
    if cand[0] == "rel" and ref[0] == "rel":
        ratio = equation_ratio(cand, ref)
        if ratio is not None and abs(ratio) != 1:
            return f"the equation is {ratio} times the reference's"
    return None
