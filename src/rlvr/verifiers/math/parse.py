"""A small, bounded parser for math answers (plain text and the LaTeX that models write).

It turns an answer string into a tree of tuples — plain data, safe to pickle to a worker — and
never calls ``eval`` (sympy's ``parse_expr`` does, so it never sees model text). Bounds on
length, nesting and token count make every input cheap to reject.

Node shapes::

    ("num", Fraction)                 exact literal (decimals and 1e-5 are exact too)
    ("sym", name) | ("const", "pi"|"e"|"i"|"inf")
    ("add", a, b) ("mul", a, b) ("div", a, b) ("pow", a, b) ("neg", a) ("fact", a) ("pct", a)
    ("func", name, a)                 sin cos tan ... sqrt abs ln exp
    ("root", n, a) ("log", base, a)
    ("tuple", items) ("set", items) ("interval", lo_closed, a, b, hi_closed) ("union", items)
    ("binom", n, k)  ("or", relations)          x < -2 or x > 7
    ("matrix", rows)  ("rel", ops, parts)  ("pm", a, b_or_None)  ("text", s)
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

__all__ = ["MathParseError", "Node", "normalize", "parse_answer", "plain_number"]

Node = tuple[Any, ...]

MAX_CHARS = 1500
MAX_TOKENS = 600
MAX_DEPTH = 60


class MathParseError(ValueError):
    """The answer is not an expression we can read (or is too big to read safely)."""


# -- normalisation -------------------------------------------------------------------------------

_UNICODE = {
    "−": "-",
    "–": "-",
    "×": "*",
    "·": "*",
    "÷": "/",
    "π": "\\pi ",
    "∞": "\\infty ",
    "√": "\\sqrt",
    "≤": "\\le ",
    "≥": "\\ge ",
    "≠": "\\ne ",
    "∪": "\\cup ",
    "°": "^\\circ",
    "±": "\\pm ",
}
_DROP = re.compile(
    r"\\(?:left|right|big|Big|bigg|Bigg)(?![a-zA-Z])\.?|\\displaystyle|(?<!\\)\\[,;:! ]|\\quad|\\qquad|\\limits|~"
)
_TEXT_CMD = re.compile(r"\\(?:text|textbf|textit|textrm|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
_LATEX_THOUSANDS = re.compile(r"(?<=\d)(?:,\\[!,]? ?|\{,\} ?|\\[,!;: ])(?=\d{3}(?!\d))")
_THOUSANDS = re.compile(r"(?<![\d.,])(\d{1,3}(?:,\d{3})+)(?![\d,])")


def normalize(s: str) -> str:
    """Canonical spelling: math delimiters, spacing commands and \\left/\\right go; \\dfrac → \\frac."""
    s = s.strip()
    for k, v in _UNICODE.items():
        if k in s:
            s = s.replace(k, v)
    # LaTeX thousands separators: "11,\\!111,\\!100", "16{,}386", thin space "1\\,073".
    if "\\" in s or "{,}" in s:
        s = _LATEX_THOUSANDS.sub("", s)
    s = s.replace("$", " ").replace("\\(", " ").replace("\\)", " ").replace("\\[", " ").replace("\\]", " ")
    s = _DROP.sub(" ", s)
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("\\cfrac", "\\frac")
    s = s.replace("\\dbinom", "\\binom").replace("\\tbinom", "\\binom")
    s = s.replace("{,}", ",").replace("\\%", "%").replace("\\$", " ")
    s = s.replace("^{\\circ}", "^\\circ").replace("\\circ", " deg ").replace("^ deg", " deg")
    s = s.replace("\\dots", " ").replace("\\ldots", " ").replace("\\cdots", " ")
    # \text{...} becomes its plain content; units and words are handled by the caller.
    for _ in range(8):
        new = _TEXT_CMD.sub(lambda m: " " + m.group(1) + " ", s)
        if new == s:
            break
        s = new
    s = s.strip().rstrip(".").strip()
    if not (s.startswith(("(", "[", "\\{")) and "," in s):
        s = _THOUSANDS.sub(lambda m: m.group(1).replace(",", ""), s)
    return re.sub(r"\s+", " ", s).strip()


_PLAIN_NUM = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d{1,4})?")
_PLAIN_FRAC = re.compile(r"([+-]?\d+)\s*/\s*(\d+)")


def plain_number(s: str) -> Fraction | None:
    """Exact value of a plain number ("-3.50", "1e-5", "3/4"), else None. The fast path."""
    if len(s) > MAX_CHARS:
        return None
    if _PLAIN_NUM.fullmatch(s):
        return Fraction(s)
    m = _PLAIN_FRAC.fullmatch(s)
    if m and int(m.group(2)) != 0:
        return Fraction(int(m.group(1)), int(m.group(2)))
    return None


# -- tokens --------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+(?![a-zA-Z]))?)"
    r"|(?P<cmd>\\[a-zA-Z]+|\\\{|\\\}|\\\\)"
    r"|(?P<word>[a-zA-Z]+)"
    r"|(?P<op>\*\*|<=|>=|!=|[-+*/^_()\[\]{},=!|<>&%:;'])"
    r")"
)
_FUNCS = {
    "sin",
    "cos",
    "tan",
    "cot",
    "sec",
    "csc",
    "arcsin",
    "arccos",
    "arctan",
    "sinh",
    "cosh",
    "tanh",
    "ln",
    "log",
    "exp",
    "sqrt",
    "abs",
}
_RELS = {
    "=": "=",
    "<": "<",
    ">": ">",
    "<=": "<=",
    ">=": ">=",
    "!=": "!=",
    "\\le": "<=",
    "\\leq": "<=",
    "\\ge": ">=",
    "\\geq": ">=",
    "\\ne": "!=",
    "\\neq": "!=",
    "\\lt": "<",
    "\\gt": ">",
    "\\approx": "~",
    "\\equiv": "=",
    "\\in": "in",
}
_CONSTS = {
    "\\pi": "pi",
    "\\infty": "inf",
    "\\infinity": "inf",
    "pi": "pi",
    "inf": "inf",
    "infty": "inf",
    "e": "e",
    "i": "i",
}


def _tokenize(s: str) -> list[tuple[str, str]]:
    toks: list[tuple[str, str]] = []
    pos = 0
    n = len(s)
    while pos < n:
        m = _TOKEN.match(s, pos)
        if not m or m.end() == pos:
            if s[pos:].strip() == "":
                break
            raise MathParseError(f"unexpected character {s[pos]!r}")
        pos = m.end()
        kind = m.lastgroup
        if kind is None:
            continue
        val = m.group(kind)
        if kind == "word":
            low = val.lower()
            if low in _FUNCS or low in ("pi", "inf", "infty", "or", "and"):
                toks.append(("word", low))
            else:
                # "xy" is x*y: single letters; words of 3+ letters are text (units, names).
                if len(val) <= 2:
                    toks.extend(("word", ch) for ch in val)
                else:
                    toks.append(("text", val))
        else:
            toks.append((kind, val))  # type: ignore[arg-type]
        if len(toks) > MAX_TOKENS:
            raise MathParseError("answer has too many tokens to be a final answer")
    return toks


# -- parser --------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, toks: list[tuple[str, str]]) -> None:
        self.toks = toks
        self.i = 0
        self.depth = 0

    # token helpers
    def peek(self, k: int = 0) -> tuple[str, str] | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def at(self, *vals: str) -> bool:
        t = self.peek()
        return t is not None and t[1] in vals

    def take(self) -> tuple[str, str]:
        t = self.peek()
        if t is None:
            raise MathParseError("unexpected end of answer")
        self.i += 1
        return t

    def expect(self, val: str) -> None:
        t = self.take()
        if t[1] != val:
            raise MathParseError(f"expected {val!r}, found {t[1]!r}")

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise MathParseError("answer is nested too deeply")

    # grammar
    def parse(self) -> Node:
        node = self.list_or_rel(stop=())
        if self.peek() is not None:
            raise MathParseError(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return node

    def list_or_rel(self, stop: tuple[str, ...]) -> Node:
        items = [self.relation(stop)]
        while self.at(",", ";") or (self.peek() == ("word", "and")):
            self.take()
            if self.peek() is None or self.at(*stop):
                break
            items.append(self.relation(stop))
        return items[0] if len(items) == 1 else ("list", tuple(items))

    def relation(self, stop: tuple[str, ...]) -> Node:
        node = self.one_relation(stop)
        if self.peek() != ("word", "or"):
            return node
        # "x < -2 or x > 7", "x = 2 or x = 3": relations joined by "or" describe one set of
        # solutions. "42 or 43" joins values: a hedge.
        items = [node]
        while self.peek() == ("word", "or"):
            self.take()
            items.append(self.one_relation(stop))
            if len(items) > MAX_TOKENS:
                raise MathParseError("answer has too many alternatives")
        if any(item[0] != "rel" for item in items):
            raise MathParseError("hedged answer ('or')")
        return ("or", tuple(items))

    def one_relation(self, stop: tuple[str, ...]) -> Node:
        parts = [self.expr(0)]
        ops: list[str] = []
        while (t := self.peek()) is not None and t[1] in _RELS and t[1] not in stop:
            self.take()
            ops.append(_RELS[t[1]])
            parts.append(self.expr(0))
        return parts[0] if not ops else ("rel", tuple(ops), tuple(parts))

    def expr(self, min_bp: int) -> Node:
        self.enter()
        try:
            t = self.peek()
            if t is None:
                raise MathParseError("unexpected end of answer")
            if t[1] in ("-", "+"):
                self.take()
                operand = self.expr(25)
                left: Node = ("neg", operand) if t[1] == "-" else operand
            elif t[1] == "\\pm":
                self.take()
                left = ("pm", None, self.expr(25))
            else:
                left = self.primary()
            while True:
                t = self.peek()
                if t is None:
                    break
                op = t[1]
                if op in ("+", "-") and min_bp < 10:
                    self.take()
                    right = self.expr(11)
                    left = ("add", left, right) if op == "+" else ("add", left, ("neg", right))
                elif op == "\\pm" and min_bp < 10:
                    self.take()
                    left = ("pm", left, self.expr(11))
                elif op in ("*", "\\cdot", "\\times", "/", "\\div") and min_bp < 20:
                    self.take()
                    right = self.expr(21)
                    left = ("mul", left, right) if op in ("*", "\\cdot", "\\times") else ("div", left, right)
                elif op in ("^", "**") and min_bp < 30:
                    self.take()
                    left = ("pow", left, self.expr(29))  # right-associative
                elif op == "!" and not (self.peek(1) and self.peek(1)[1] == "="):  # type: ignore[index]
                    self.take()
                    left = ("fact", left)
                elif op == "%":
                    self.take()
                    left = ("pct", left)
                elif op == "\\cup" and min_bp < 3:
                    self.take()
                    right = self.expr(4)
                    items = (left[1] if left[0] == "union" else (left,)) + (right,)
                    left = ("union", items)
                elif min_bp < 20 and self.starts_primary(t):
                    # Implicit multiplication: 2x, 2\pi, (a)(b); "2\frac{1}{2}" is a mixed number.
                    right = self.expr(21)
                    if (
                        left[0] == "num"
                        and left[1].denominator == 1
                        and right[0] == "div"
                        and t[1] == "\\frac"
                        and right[1][0] == "num"
                        and right[2][0] == "num"
                        and 0 < right[1][1] < right[2][1]
                    ):
                        left = ("add", left, right)
                    else:
                        left = ("mul", left, right)
                else:
                    break
            return left
        finally:
            self.depth -= 1

    def starts_primary(self, t: tuple[str, str]) -> bool:
        kind, val = t
        if kind in ("num", "word"):
            return val not in ("or", "and")
        if kind == "cmd":
            return (
                val in ("\\frac", "\\binom", "\\sqrt", "\\pi", "\\infty", "\\{", "\\begin", "\\log", "\\ln", "\\exp")
                or val[1:] in _FUNCS
            )
        return val in ("(", "[")

    def group(self) -> Node:
        """A brace group {…} or a single token (``\\frac12``)."""
        t = self.peek()
        if t is None:
            raise MathParseError("missing argument")
        if t[1] == "{":
            self.take()
            node = self.list_or_rel(stop=("}",))
            self.expect("}")
            return node
        if t[0] == "num" and len(t[1]) > 1 and t[1].isdigit():
            # \frac12: the first digit is one argument, the rest stays in the stream.
            self.toks[self.i] = ("num", t[1][1:])
            return ("num", Fraction(int(t[1][0])))
        return self.primary()

    def primary(self) -> Node:
        self.enter()
        try:
            return self._primary()
        finally:
            self.depth -= 1

    def _primary(self) -> Node:
        kind, val = self.take()
        if kind == "num":
            mantissa, _, exponent = val.lower().partition("e")
            if len(exponent.lstrip("+-")) > 4:
                raise MathParseError("scientific-notation exponent too large to evaluate")
            return ("num", Fraction(val))
        if kind == "text":
            raise MathParseError(f"word {val!r} in answer")
        if kind == "word":
            if val in _CONSTS:
                return ("const", _CONSTS[val])
            if val in _FUNCS:
                return self.function(val)
            if val in ("or",):
                raise MathParseError("hedged answer ('or')")
            return ("sym", val + self.subscript())
        if val == "(" or val == "[":
            return self.bracketed(val)
        if val == "{":
            node = self.list_or_rel(stop=("}",))
            self.expect("}")
            return node
        if val == "\\{":
            items = [] if self.at("\\}") else list(_items(self.list_or_rel(stop=("\\}",))))
            self.expect("\\}")
            return ("set", tuple(items))
        if val == "|":
            node = self.expr(0)
            self.expect("|")
            return ("func", "abs", node)
        if kind == "cmd":
            name = val[1:]
            if val in _CONSTS:
                return ("const", _CONSTS[val])
            if name == "frac":
                num = self.group()
                den = self.group()
                return ("div", num, den)
            if name == "binom":
                n = self.group()
                return ("binom", n, self.group())
            if name == "sqrt":
                if self.at("["):
                    self.take()
                    n = self.expr(0)
                    self.expect("]")
                    return ("root", n, self.group())
                return ("func", "sqrt", self.group())
            if name == "log":
                base: Node | None = None
                if self.at("_"):
                    self.take()
                    base = self.group()
                arg = self.fn_arg()
                return ("log", base, arg) if base is not None else ("func", "ln", arg)
            if name in _FUNCS:
                return self.function(name)
            if name == "begin":
                return self.matrix()
            if name in ("mathbb", "mathcal", "emptyset", "varnothing"):
                if name in ("emptyset", "varnothing"):
                    return ("set", ())
                g = self.group()
                return ("sym", "set_" + (g[1] if g[0] == "sym" else repr(g)))
        raise MathParseError(f"unexpected {val!r}")

    def subscript(self) -> str:
        if not self.at("_"):
            return ""
        self.take()
        t = self.take()
        if t[1] == "{":
            parts = []
            while not self.at("}"):
                parts.append(self.take()[1])
                if len(parts) > 20:
                    raise MathParseError("subscript too long")
            self.take()
            return "_" + "".join(parts)
        return "_" + t[1]

    def function(self, name: str) -> Node:
        name = {"log": "ln"}.get(name, name)
        if self.at("^"):  # \sin^2 x
            self.take()
            power = self.group()
            return ("pow", ("func", name, self.fn_arg()), power)
        return ("func", name, self.fn_arg())

    def fn_arg(self) -> Node:
        if self.at("{"):
            return self.group()
        if self.at("("):
            self.take()
            node = self.list_or_rel(stop=(")",))
            self.expect(")")
            return node
        return self.expr(21)

    def bracketed(self, open_: str) -> Node:
        close_any = (")", "]")
        if self.at(*close_any):
            self.take()
            return ("tuple", ())
        inner = self.list_or_rel(stop=close_any)
        close = self.take()[1]
        if close not in close_any:
            raise MathParseError(f"expected a closing bracket, found {close!r}")
        items = _items(inner) if inner[0] == "list" else (inner,)
        if len(items) == 1:
            if open_ == "(" and close == ")":
                return inner
            if inner[0] == "matrix" and open_ == "[" and close == "]":
                return inner  # \\left[ \\begin{array}...\\end{array} \\right]
            raise MathParseError("mismatched brackets")
        if len(items) == 2 and (open_ != "(" or close != ")"):
            return ("interval", open_ == "[", items[0], items[1], close == "]")
        if open_ == "[" and close == "]":
            return ("tuple", items)
        if open_ == "(" and close == ")":
            return ("tuple", items)
        raise MathParseError("mismatched brackets")

    def matrix(self) -> Node:
        self.expect("{")
        env = self.take()[1]
        self.expect("}")
        if env == "array" and self.at("{"):
            # The column spec ("{cc}", "{c|c}") is layout, not an entry.
            self.take()
            while not self.at("}"):
                self.take()
            self.take()
        rows: list[list[Node]] = [[]]
        while True:
            if self.at("\\end"):
                self.take()
                self.expect("{")
                self.take()
                self.expect("}")
                break
            rows[-1].append(self.expr(0))
            if self.at("&"):
                self.take()
            elif self.at("\\\\"):
                self.take()
                if not self.at("\\end"):
                    rows.append([])
            elif not self.at("\\end"):
                raise MathParseError(f"unexpected {self.peek()} in {env}")
        if len({len(r) for r in rows}) != 1:
            raise MathParseError("matrix rows have different lengths")
        return ("matrix", tuple(tuple(r) for r in rows))


def _items(node: Node) -> tuple[Node, ...]:
    return node[1] if node[0] == "list" else (node,)


def parse_answer(s: str) -> Node:
    """Parse a normalised answer string; raises MathParseError when it cannot."""
    if len(s) > MAX_CHARS:
        raise MathParseError(f"answer is {len(s)} characters, too long to be a final answer")
    if not s:
        raise MathParseError("empty answer")
    m = re.fullmatch(r"([+-]?\d+)\s+(\d+)\s*/\s*(\d+)", s)  # "2 1/2" mixed number
    if m and int(m.group(3)) != 0:
        whole, frac = int(m.group(1)), Fraction(int(m.group(2)), int(m.group(3)))
        return ("num", whole - frac if whole < 0 else whole + frac)
    toks = _tokenize(s)
    if not toks:
        raise MathParseError("empty answer")
    return _Parser(toks).parse()
