"""The countdown verifier: does the model's expression reach the target with the given numbers?

A countdown problem gives ``numbers`` (the JSONL field) and a target (the sample's ``answer``); a
correct output is an arithmetic expression that uses each given number exactly once, combined with
binary ``+ - * /`` and parentheses, whose exact value is the target.

Pipeline, each step a small pure function:

1. ``extract`` (extraction is not grading): the content of the last ``<answer>...</answer>``
   block, else the last ``\\boxed{...}``, else the last non-empty line. Whitespace is collapsed,
   one sentence-ending ``.`` and ``$...$`` / ``\\(...\\)`` wrappers are dropped, the operator
   look-alikes ``×`` ``·`` ``⋅`` ``\\times`` ``\\cdot`` (→ ``*``), ``÷`` ``\\div`` (→ ``/``) and
   ``−`` (U+2212, → ``-``) are rewritten. A letter ``x`` is *not* read as times: ``3x5`` is ambiguous
   with a name. A trailing ``= <number>`` is split off as the output's *claimed* result; grading
   always uses the evaluated value, the claim only appears in the details and the reason.
2. ``analyse``: ``ast.parse(mode="eval")`` under a length cap — the text is parsed, never
   evaluated by Python. The tree is walked without recursion and may contain only ``BinOp`` with
   ``+ - * /`` and non-negative ``int`` constants written as plain decimal digits. Syntax errors are
   ``unparsable``; parseable but forbidden constructs (names, calls, ``**``, ``//``, ``%``,
   comparisons, floats, booleans, strings, commas, unary minus or plus, ``0x16``, comments) are
   ``incorrect`` with a reason naming the construct. Unary minus is refused because the numbers
   must be used as given: ``-3-5`` would invent the number -3.
3. ``check_numbers``: the literals must be exactly the given multiset (``use_all=True``, default)
   or a sub-multiset of it (``use_all=False``).
4. ``evaluate``: exact rational arithmetic, returned as a ``fractions.Fraction`` (``7/2*2`` is exactly 7, and
   ``1/49*49`` is exactly 1 where floats give 0.9999999999999999); dividing by zero is incorrect.

Nothing is executed, so no subprocess or timeout is needed: a check takes tens of microseconds.
A malformed ``numbers`` or target is the dataset's fault: an ``error`` verdict naming the field.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from math import gcd
from typing import Any

from rlvr.errors import ConfigError
from rlvr.types import Sample, Verdict
from rlvr.verifiers.base import BaseVerifier
from rlvr.verifiers.extract import find_boxed

__all__ = [
    "Analysis",
    "CountdownVerifier",
    "ExpressionError",
    "Extraction",
    "analyse",
    "check_numbers",
    "evaluate",
    "evaluate_expression",
    "extract",
    "extract_expression",
    "normalize_expression",
]

MAX_NUMBERS = 12
"""A problem may give at most this many numbers."""
MAX_MAGNITUDE = 10**6
"""Given numbers and the target must be at most this large in absolute value."""
DEFAULT_MAX_EXPRESSION_CHARS = 512
# A valid expression over <= 12 numbers is at most 11 operations deep; these bound hostile trees
# that fit under the length cap (the walk is iterative, so they bound work, not the C stack).
MAX_DEPTH = 64
MAX_NODES = 512
# Reasons and details quote at most this much of the expression.
_QUOTE_CHARS = 60

_OPERATOR_LOOKALIKES = (
    ("\\times", "*"),
    ("\\cdot", "*"),
    ("\\div", "/"),
    ("\\left(", "("),
    ("\\right)", ")"),
    ("\u00d7", "*"),  # ×
    ("\u00b7", "*"),  # ·
    ("\u22c5", "*"),  # ⋅
    ("\u00f7", "/"),  # ÷
    ("\u2212", "-"),  # − (minus sign)
)
_MATH_WRAPPERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
_CLAIM = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:/[0-9]+)?", re.ASCII)
_PLAIN = re.compile(r"[0-9+\-*/()\s]*", re.ASCII)
_ODD_NUMBER = re.compile(r"[0-9][0-9A-Za-z_.]*")
_INT_TEXT = re.compile(r"[+-]?[0-9]{1,16}", re.ASCII)

_ALLOWED_OPS: dict[type[ast.operator], str] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_FORBIDDEN_OPS: dict[type[ast.operator], str] = {
    ast.Pow: "the power operator **",
    ast.FloorDiv: "floor division //",
    ast.Mod: "the modulo operator %",
    ast.MatMult: "the operator @",
    ast.LShift: "the shift operator <<",
    ast.RShift: "the shift operator >>",
    ast.BitOr: "the bitwise operator |",
    ast.BitXor: "the bitwise operator ^",
    ast.BitAnd: "the bitwise operator &",
}


# -- extraction ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Extraction:
    """What the grader reads from an output."""

    expression: str
    """The normalised expression, without a trailing ``= <number>`` claim ('' for an empty block)."""
    claimed: Fraction | None
    """The output's own claimed result (``3*5+7 = 22`` → 22), or None."""
    source: str
    """Where it came from: ``answer`` (an ``<answer>`` block), ``boxed`` or ``last_line``."""


def _unwrap_math(text: str) -> str:
    for _ in range(3):  # "$\(...\)$" and the like; each pass removes one layer
        for left, right in _MATH_WRAPPERS:
            if len(text) >= len(left) + len(right) and text.startswith(left) and text.endswith(right):
                text = text[len(left) : len(text) - len(right)].strip()
                break
        else:
            return text
    return text


def normalize_expression(text: str) -> str:
    """Collapse whitespace, drop a final ``.`` and math wrappers, rewrite operator look-alikes."""
    text = " ".join(text.split())
    if text.endswith("."):
        text = text[:-1].rstrip()
    text = _unwrap_math(text)
    if not text.isascii():
        for old, new in _OPERATOR_LOOKALIKES:
            text = text.replace(old, new)
    elif "\\" in text:
        for old, new in _OPERATOR_LOOKALIKES[:5]:
            text = text.replace(old, new)
    return text


def _split_claim(text: str) -> tuple[str, Fraction | None]:
    head, sep, tail = text.rpartition("=")
    if not sep or len(tail) > 64:
        return text, None
    head = head.rstrip()
    if not head or head[-1] in "=<>!":  # "==", "<=", ">=", "!=" are comparisons, not claims
        return text, None
    tail = tail.replace(" ", "")
    if not _CLAIM.fullmatch(tail):
        return text, None
    try:
        return head, Fraction(tail)
    except (ValueError, ZeroDivisionError):  # "= 1/0"
        return text, None


def _last_line(text: str) -> str | None:
    text = text.rstrip()
    if not text:
        return None
    cut = max(text.rfind("\n"), text.rfind("\r"))
    return text[cut + 1 :]


def extract(text: str) -> Extraction | None:
    """The expression an output commits to, or None when there is nothing to read.

    Linear time in the output's length (a few ``rfind`` calls and one brace scan).
    """
    candidate: str | None = None
    source = "answer"
    close = text.rfind("</answer>")
    if close != -1:
        open_ = text.rfind("<answer>", 0, close)
        if open_ != -1:
            candidate = text[open_ + len("<answer>") : close]
            if "\\boxed" in candidate or "\\fbox" in candidate:
                boxes = find_boxed(candidate)
                if boxes:
                    candidate = boxes[-1][2]
    if candidate is None and ("\\boxed" in text or "\\fbox" in text):
        boxes = find_boxed(text)
        if boxes:
            candidate, source = boxes[-1][2], "boxed"
    if candidate is None:
        candidate, source = _last_line(text), "last_line"
        if candidate is None:
            return None
    expression, claimed = _split_claim(normalize_expression(candidate))
    return Extraction(expression, claimed, source)


def extract_expression(text: str) -> str | None:
    """The normalised expression an output commits to (claim stripped), or None."""
    found = extract(text)
    return None if found is None else found.expression


# -- parsing and evaluation ----------------------------------------------------------------------


class ExpressionError(ValueError):
    """An expression that cannot be graded as correct; ``status`` is the verdict status to give."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Analysis:
    """A validated expression: its integer literals left to right, and the same expression in
    prefix (Polish) order, literals as ``int`` and operators as ``"+" "-" "*" "/"``."""

    literals: tuple[int, ...]
    prefix: tuple[int | str, ...]


def _quote(text: str) -> str:
    return text if len(text) <= _QUOTE_CHARS else text[: _QUOTE_CHARS - 3] + "..."


def _describe(node: ast.AST) -> str:
    """A short phrase naming a forbidden construct."""
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.USub):
            return "unary minus (a '-' with no number before it)"
        if isinstance(node.op, ast.UAdd):
            return "unary plus (a '+' with no number before it)"
        return "the operator 'not'" if isinstance(node.op, ast.Not) else "the bitwise operator ~"
    if isinstance(node, ast.BinOp):
        return _FORBIDDEN_OPS.get(type(node.op), f"the operator {type(node.op).__name__}")
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or value is None or value is ...:
            return f"the constant {value!r}"
        if isinstance(value, float):
            return f"the non-integer number {value!r}"
        if isinstance(value, complex):
            return f"the complex number {value!r}"
        if isinstance(value, (str, bytes)):
            return "a string literal"
        return f"the constant {type(value).__name__}"
    if isinstance(node, ast.Name):
        return f"the name {_quote(node.id)!r}"
    if isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        return f"a function call ({_quote(name)}(...))" if name else "a function call"
    if isinstance(node, ast.Attribute):
        return f"an attribute access (.{_quote(node.attr)})"
    if isinstance(node, ast.Compare):
        return "a comparison"
    if isinstance(node, ast.BoolOp):
        return "'and'/'or'"
    if isinstance(node, ast.Tuple):
        return "several expressions separated by commas"
    if isinstance(node, ast.NamedExpr):
        return "an assignment (:=)"
    if isinstance(node, ast.Subscript):
        return "indexing ([...])"
    if isinstance(node, ast.JoinedStr):
        return "an f-string"
    return f"a Python {type(node).__name__} expression"


def _parse(expr: str, max_chars: int) -> ast.expr:
    if not expr:
        raise ExpressionError("unparsable", "the expression is empty")
    if len(expr) > max_chars:
        raise ExpressionError(
            "unparsable",
            f"the expression is {len(expr):,} characters, over the {max_chars:,}-character limit",
        )
    if "\x00" in expr:
        raise ExpressionError("unparsable", "the expression contains a NUL byte")
    try:
        return ast.parse(expr, mode="eval").body
    except SyntaxError as exc:
        raise ExpressionError(
            "unparsable", f"could not parse {_quote(expr)!r} as arithmetic: {exc.msg}"
        ) from None
    except (RecursionError, MemoryError):  # parser limits on hostile input
        raise ExpressionError(
            "unparsable", f"could not parse {_quote(expr)!r} as arithmetic: it is nested too deeply"
        ) from None
    except ValueError as exc:  # NUL bytes on some Python versions
        raise ExpressionError(
            "unparsable", f"could not parse {_quote(expr)!r} as arithmetic: {exc}"
        ) from None


def _plain_text_problem(expr: str) -> str | None:
    """Why text that parsed into allowed nodes is still not plain arithmetic (``0x16``, comments)."""
    if _PLAIN.fullmatch(expr):
        return None
    if "#" in expr:
        return "contains a comment ('#'), which is not part of an arithmetic expression"
    for m in _ODD_NUMBER.finditer(expr):
        if not m.group().isdigit():
            return f"writes the number {_quote(m.group())!r} in a form other than plain decimal digits"
    bad = next(c for c in expr if not _PLAIN.fullmatch(c))
    return f"contains the character {bad!r}, which is not part of an arithmetic expression"


def analyse(expr: str, max_chars: int = DEFAULT_MAX_EXPRESSION_CHARS) -> Analysis:
    """Parse ``expr`` and check it contains only ``+ - * /``, parentheses and plain integers.

    Raises ``ExpressionError`` (status ``unparsable`` for syntax, ``incorrect`` for a forbidden
    construct). The walk is iterative, with depth and size limits.
    """
    tree = _parse(expr, max_chars)
    literals: list[int] = []
    prefix: list[int | str] = []
    stack: list[tuple[ast.expr, int]] = [(tree, 1)]
    nodes = 0
    short = _quote(expr)
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if depth > MAX_DEPTH or nodes > MAX_NODES:
            raise ExpressionError(
                "incorrect", f"{short} nests more than {MAX_DEPTH} operations or has over {MAX_NODES} parts"
            )
        if isinstance(node, ast.BinOp) and type(node.op) in _ALLOWED_OPS:
            prefix.append(_ALLOWED_OPS[type(node.op)])
            stack.append((node.right, depth + 1))  # right first: the left side is walked first
            stack.append((node.left, depth + 1))
        elif isinstance(node, ast.Constant) and type(node.value) is int and node.value >= 0:
            literals.append(node.value)
            prefix.append(node.value)
        else:
            raise ExpressionError(
                "incorrect",
                f"{short} uses {_describe(node)}; only the given numbers, + - * / and parentheses are allowed",
            )
    problem = _plain_text_problem(expr)
    if problem is not None:
        raise ExpressionError("incorrect", f"{short} {problem}")
    return Analysis(tuple(literals), tuple(prefix))


def evaluate(analysis: Analysis) -> Fraction:
    """The exact value of an expression ``analyse`` accepted; raises ``ZeroDivisionError``.

    Exact rational arithmetic on reduced (numerator, denominator) integer pairs — the same numbers
    ``Fraction`` would give, at a fraction of its per-operation cost — read right to left from the
    prefix form, so no recursion is needed.
    """
    stack: list[tuple[int, int]] = []
    for tok in reversed(analysis.prefix):
        if type(tok) is int:
            stack.append((tok, 1))
            continue
        an, ad = stack.pop()  # the left operand: prefix read backwards pops it first
        bn, bd = stack.pop()
        if tok == "+":
            n, d = an * bd + bn * ad, ad * bd
        elif tok == "-":
            n, d = an * bd - bn * ad, ad * bd
        elif tok == "*":
            n, d = an * bn, ad * bd
        elif tok == "/":
            if bn == 0:
                raise ZeroDivisionError("division by zero")
            n, d = (an * bd, ad * bn) if bn > 0 else (-an * bd, -ad * bn)
        else:  # pragma: no cover - analyse() emits only the four operators
            raise ValueError(f"operator {tok!r} is not allowed")
        g = gcd(n, d)
        stack.append((n // g, d // g))
    n, d = stack[0]
    return Fraction(n, d)


def evaluate_expression(expr: str, max_chars: int = DEFAULT_MAX_EXPRESSION_CHARS) -> Fraction:
    """``evaluate(analyse(expr))``: the exact value of a countdown expression (never ``eval``)."""
    return evaluate(analyse(expr, max_chars))


def _num(n: int) -> str:
    text = str(n)
    return text if len(text) <= 20 else f"{text[:8]}... (a {len(text)}-digit number)"


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def _join(items: Sequence[Any]) -> str:
    words = [str(x) for x in items]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def check_numbers(used: Sequence[int], given: Sequence[int], *, use_all: bool = True) -> str | None:
    """Why ``used`` is not the given multiset (or a sub-multiset, ``use_all=False``), else None.

    The reason starts with a verb: "uses 9, which is not among the numbers [3, 5, 7]".
    """
    if sorted(used) == sorted(given):  # the common case, without building Counters
        return None
    need = Counter(given)
    have = Counter(used)
    for n in have:
        if n not in need:
            return f"uses {_num(n)}, which is not among the numbers {list(given)}"
    for n, count in have.items():
        if count > need[n]:
            return f"uses {n} {_times(count)} but it is given {_times(need[n])}"
    if use_all:
        left = sorted((need - have).elements())
        if left:
            return f"leaves {_join(left)} unused"
    return None


def _fmt(value: Fraction) -> str:
    text = str(value)
    return text if len(text) <= 100 else f"<a {len(text)}-character number>"


# -- dataset fields ------------------------------------------------------------------------------


def _target(answer: Any) -> int | str:
    """The target as an int, or a reason why the sample's ``answer`` is not one."""
    if isinstance(answer, bool) or not isinstance(answer, (int, str)):
        got = "nothing" if answer is None else type(answer).__name__
        return f"the sample's answer (the target) must be an integer or a string of one, got {got}"
    if isinstance(answer, str):
        if not _INT_TEXT.fullmatch(answer.strip()):
            return f"the sample's answer (the target) must be a whole number, got {_quote(answer)!r}"
        answer = int(answer.strip())
    if abs(answer) > MAX_MAGNITUDE:
        return f"the sample's answer (the target) {answer} is over the {MAX_MAGNITUDE:,} limit"
    return answer


def _numbers(raw: Any) -> list[int] | str:
    """The given numbers, or a reason why the sample's ``numbers`` field is malformed."""
    if raw is None:
        return "the sample has no numbers field (the list of numbers to use)"
    if not isinstance(raw, (list, tuple)):
        return f"the sample's numbers must be a list of integers, got {type(raw).__name__}"
    if not raw:
        return "the sample's numbers list is empty"
    if len(raw) > MAX_NUMBERS:
        return f"the sample's numbers list has {len(raw)} entries, over the limit of {MAX_NUMBERS}"
    for i, n in enumerate(raw):
        if isinstance(n, bool) or not isinstance(n, int):
            return f"the sample's numbers[{i}] must be an integer, got {_quote(repr(n))}"
        if n < 0:
            return (
                f"the sample's numbers[{i}] is {n}; numbers must be non-negative (unary minus is not allowed)"
            )
        if n > MAX_MAGNITUDE:
            return f"the sample's numbers[{i}] is {n}, over the {MAX_MAGNITUDE:,} limit"
    return list(raw)


# -- the verifier --------------------------------------------------------------------------------


class CountdownVerifier(BaseVerifier):
    """Checks that an expression uses the given numbers once each and equals the target exactly.

    Sample: ``answer`` is the target, metadata ``numbers`` the list of numbers. Score 1
    (``correct``) or 0 (``incorrect`` / ``unparsable``); ``error`` when the sample itself is
    malformed. Details: ``expression``, ``value`` ("22", "43/2"), ``numbers_used``, ``target``,
    ``numbers``, ``source`` and, when the output wrote ``= N``, ``claimed``.
    """

    name = "countdown"
    required_fields = ("output", "answer", "numbers")
    audit_kind = "countdown"

    def __init__(
        self, *, use_all: bool = True, max_expression_chars: int = DEFAULT_MAX_EXPRESSION_CHARS
    ) -> None:
        """
        use_all: every given number must be used (True), or any sub-multiset of them (False).
        max_expression_chars: longer expressions are unparsable (bounds parsing time).
        """
        if not isinstance(use_all, bool):
            raise ConfigError(f"use_all must be true or false, got {use_all!r}")
        if (
            isinstance(max_expression_chars, bool)
            or not isinstance(max_expression_chars, int)
            or not (1 <= max_expression_chars <= 100_000)
        ):
            raise ConfigError(
                f"max_expression_chars must be an integer in [1, 100000], got {max_expression_chars!r}"
            )
        self.use_all = use_all
        self.max_expression_chars = max_expression_chars

    def check(self, sample: Sample) -> Verdict:
        target = _target(sample.answer)
        if isinstance(target, str):
            return Verdict.error(target, field="answer")
        numbers = _numbers(sample.metadata.get("numbers"))
        if isinstance(numbers, str):
            return Verdict.error(numbers, field="numbers")
        details: dict[str, Any] = {"target": target, "numbers": numbers}
        found = extract(sample.output)
        if found is None:
            return Verdict.unparsable("the output is empty; there is no expression to check", **details)
        expr = found.expression
        details.update(expression=_quote(expr), source=found.source)
        if found.claimed is not None:
            details["claimed"] = _fmt(found.claimed)
        if not expr:
            where = {"answer": "<answer> block", "boxed": "\\boxed{}"}.get(found.source, "output")
            return Verdict.unparsable(f"the {where} holds no expression", **details)
        try:
            analysis = analyse(expr, self.max_expression_chars)
        except ExpressionError as exc:
            return Verdict(0.0, exc.status, exc.reason, details)  # type: ignore[arg-type]
        details["numbers_used"] = list(analysis.literals)
        short = _quote(expr)
        try:
            value: Fraction | None = evaluate(analysis)
        except ZeroDivisionError:
            value = None
        if value is not None:
            details["value"] = _fmt(value)
            if found.claimed is not None:
                details["claim_matches"] = found.claimed == value
        problem = check_numbers(analysis.literals, numbers, use_all=self.use_all)
        if problem is not None:
            return Verdict.incorrect(f"{short} {problem}", **details)
        if value is None:
            return Verdict.incorrect(f"{short} divides by zero", **details)
        if value != target:
            claim = ""
            if found.claimed is not None and found.claimed != value:
                claim = f" (the output claims {_fmt(found.claimed)})"
            return Verdict.incorrect(
                f"{short} evaluates to {_fmt(value)}, not the target {target}{claim}", **details
            )
        uses = "each given number exactly once" if self.use_all else "only given numbers, none twice"
        reason = f"{short} = {target} reaches the target using {uses}"
        if found.claimed is not None and found.claimed != value:
            reason += (
                f"; the claimed result {_fmt(found.claimed)} is wrong, but only the expression is graded"
            )
        return Verdict.correct(reason, **details)

    def __repr__(self) -> str:
        return (
            f"CountdownVerifier(use_all={self.use_all!r}, max_expression_chars={self.max_expression_chars!r})"
        )
