"""Adversarial suite for the countdown verifier: expressions that must fail, look-alikes that must pass.

Most cases use the numbers ``[3, 5, 7]`` and the target 22 (``3*5+7``). Groups (the ``test``
name's prefix): ``good`` (correct expressions in the shapes models write them, exact fractions
included), ``value`` (wrong value, or a claimed ``= 22`` the expression does not reach),
``numbers`` (a number reused, left out, foreign or made by gluing digits; the bare target),
``syntax`` (Python beyond ``+ - * /``: ``**``, ``//``, ``%``, names, calls, floats, booleans, hex),
``unary`` (sign tricks that invent a number), ``answers`` (several answers at once, or the wrong
block), ``format`` (empty, NUL bytes, non-ASCII digits), ``dos`` (inputs built to exhaust time,
memory or the stack; they must fail fast).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_NUMS = [3, 5, 7]
_TARGET = 22


def _case(
    test: str, output: str, should_pass: bool, numbers: list[int] | None = None, target: Any = _TARGET
) -> dict[str, Any]:
    return {
        "test": test,
        "output": output,
        "answer": target,
        "numbers": list(_NUMS if numbers is None else numbers),
        "should_pass": should_pass,
    }


def cases(workdir: Path) -> list[dict[str, Any]]:
    """The countdown suite (``workdir`` is unused: no files needed)."""
    good = [
        _case("good/bare", "3*5+7", True),
        _case("good/spaced", "3 * 5 + 7", True),
        _case("good/reordered", "7+5*3", True),
        _case("good/parenthesised", "((3*5))+(7)", True),
        _case("good/target-as-string", "3*5+7", True, target="22"),
        _case("good/claimed", "3*5+7 = 22", True),
        _case("good/answer-tag", "<think>3*5 is 15 and 15+7 is 22</think>\n<answer>3*5+7</answer>", True),
        _case("good/boxed-latex", "So the expression is $\\boxed{3 \\times 5 + 7}$.", True),
        _case("good/unicode-times", "3×5+7", True),
        _case("good/exact-fraction", "(8/3)*3+6", True, [8, 3, 3, 6], 14),
        _case("good/float-trap", "1/49*49", True, [1, 49, 49], 1),
        _case("good/division", "6*2/4", True, [2, 4, 6], 3),
        _case("good/negative-target", "(3-5)*7", True, target=-14),
        _case("good/repeated-number", "(5+5)*2+2", True, [5, 5, 2, 2], 22),
        _case("good/last-line-wins", "3*7+5 is 26, too big.\n3*5+7", True),
    ]
    bad = [
        _case("value/wrong", "3*7+5", False),
        _case("value/operator-swapped", "3*5-7", False),
        _case("value/claims-target", "3*7+5 = 22", False),
        _case("value/precedence", "3*(5+7)", False),
        _case("value/fraction", "3/5+7", False),
        _case("numbers/reused", "5*5-3", False),
        _case("numbers/unused", "3*5+7", False, [3, 5, 7, 2]),
        _case("numbers/foreign", "15+7", False),
        _case("numbers/glued-digits", "57-35", False),
        _case("numbers/target-only", "22", False),
        _case("numbers/target-in-parens", "(22)", False),
        _case("numbers/target-plus-zero", "22+3-3", False),
        _case("syntax/power", "5**2-3", False, [5, 2, 3]),
        _case("syntax/floor-division", "45//2+1", False, [45, 2, 1], 23),
        _case("syntax/modulo", "29%7+21", False, [29, 7, 21]),
        _case("syntax/import", "__import__('os').getpid()", False),
        _case("syntax/eval-call", "eval('3*5+7')", False),
        _case("syntax/name", "x", False),
        _case("syntax/attribute", "(3).real*5+7", False),
        _case("syntax/float-literal", "3*5+7.0", False),
        _case("syntax/scientific", "2.2e1", False),
        _case("syntax/boolean", "(3*5+7)*True", False),
        _case("syntax/hex-literal", "3*5+0x7", False),
        _case("syntax/comparison", "3*5+7 == 22", False),
        _case("syntax/string", "'3*5+7'", False),
        _case("syntax/comment", "3*7+5 # 3*5+7", False),
        _case("unary/minus-needed", "-3-5", False, [3, 5], -8),
        _case("unary/double-minus", "3*5--7", False),
        _case("unary/plus", "+3*5+7", False),
        _case("answers/comma", "3*7+5, 3*5+7", False),
        _case("answers/or", "3*7+5 or 3*5+7", False),
        _case("answers/two-lines-in-tag", "<answer>3*5+7\n3*7+5</answer>", False),
        _case("answers/tag-beats-last-line", "<answer>3*7+5</answer>\n3*5+7", False),
        _case("answers/last-box-counts", "\\boxed{3*5+7} or maybe \\boxed{3*7+5}", False),
        _case("answers/prose", "I am not sure; maybe 3*5+7 works", False),
        _case("format/empty", "", False),
        _case("format/empty-answer-tag", "<think>3*5+7</think><answer></answer>", False),
        _case("format/nul-byte", "3*5+7\x00", False),
        _case("format/fullwidth-digit", "\uff13*5+7", False),
        _case("format/divide-by-zero", "22+(4-4)/(4-4)", False, [22, 4, 4, 4, 4]),
        _case("dos/deep-parentheses", "(" * 10_000 + "3*5+7" + ")" * 10_000, False),
        _case("dos/nesting-under-cap", "(" * 240 + "3*7+5" + ")" * 240, False),
        _case("dos/power-tower", "9**9**9**9", False, [9, 9, 9, 9]),
        _case("dos/huge-literal", "9" * 500, False),
        _case("dos/huge-line", "3*5+" * 249_000 + "7", False),
        _case("dos/over-output-cap", "3*5+7\n" * 200_000, False),
        _case("dos/many-tags", "<answer>3*7+5</answer>" * 40_000, False),
    ]
    return good + bad
