"""The countdown verifier: extraction, the safe parser, exact evaluation, number use, bad data."""

from __future__ import annotations

import json
import random
from fractions import Fraction
from pathlib import Path

import pytest

from rlvr.audit import audit, builtin_cases
from rlvr.audit.suites.countdown import cases as countdown_cases
from rlvr.errors import ConfigError
from rlvr.types import Sample
from rlvr.verifiers import registry
from rlvr.verifiers.countdown import (
    MAX_DEPTH,
    CountdownVerifier,
    ExpressionError,
    analyse,
    check_numbers,
    evaluate_expression,
    extract,
    extract_expression,
)

N = [3, 5, 7]  # with the target 22: 3*5+7


def run(output, numbers=None, target=22, **opts):
    """Verify one output against ``numbers`` (default [3, 5, 7]) and ``target``."""
    meta = {"numbers": N if numbers is None else numbers}
    return CountdownVerifier(**opts).verify(Sample(output, target, meta))


# (output, numbers or None for [3, 5, 7], target, status, fragment of the reason)
HAND_CASES = [
    # correct, in the shapes models write
    ("3*5+7", None, 22, "correct", "reaches the target using each given number exactly once"),
    ("3 * 5 + 7", None, 22, "correct", "reaches the target"),
    ("7 + 3*5", None, 22, "correct", "reaches the target"),
    ("(3*5)+(7)", None, 22, "correct", "reaches the target"),
    ("3*5+7\n", None, 22, "correct", "reaches the target"),
    ("3*5+7.", None, 22, "correct", "reaches the target"),
    ("$3*5+7$", None, 22, "correct", "reaches the target"),
    ("3 × 5 + 7", None, 22, "correct", "reaches the target"),
    ("3\\cdot 5+7", None, 22, "correct", "reaches the target"),
    ("(21 ÷ 7 − 3)*5+22", [21, 7, 3, 5, 22], 22, "correct", "reaches the target"),
    ("<think>15+7</think>\n<answer> 3*5+7 </answer>", None, 22, "correct", "reaches the target"),
    ("<answer>\\boxed{3*5+7}</answer>", None, 22, "correct", "reaches the target"),
    ("Hence \\boxed{3\\times5+7}.", None, 22, "correct", "reaches the target"),
    ("3*5+7 = 22", None, 22, "correct", "reaches the target"),
    ("3*5+7 = 23", None, 22, "correct", "the claimed result 23 is wrong, but only the expression is graded"),
    ("(8/3)*3+6", [8, 3, 3, 6], 14, "correct", "= 14 reaches"),
    ("1/49*49", [1, 49, 49], 1, "correct", "= 1 reaches"),
    ("7/2*2", [7, 2, 2], 7, "correct", "= 7 reaches"),
    ("(3-5)*7", None, -14, "correct", "= -14 reaches"),
    ("(5+5)*2+2", [5, 5, 2, 2], 22, "correct", "reaches"),
    ("0*3+22", [0, 3, 22], 22, "correct", "reaches"),
    ("(" * 100 + "3*5+7" + ")" * 100, None, 22, "correct", "reaches"),
    # wrong value
    ("3*7+5", None, 22, "incorrect", "3*7+5 evaluates to 26, not the target 22"),
    ("3*7+5 = 22", None, 22, "incorrect", "evaluates to 26, not the target 22 (the output claims 22)"),
    ("3*(5+7)", None, 22, "incorrect", "evaluates to 36"),
    ("3/2+7*5", [3, 2, 7, 5], 22, "incorrect", "evaluates to 73/2, not the target 22"),
    ("3*5+7", None, "23", "incorrect", "evaluates to 22, not the target 23"),
    # numbers
    ("5*5-3", None, 22, "incorrect", "5*5-3 uses 5 twice but it is given once"),
    ("5*5*5-3*7-82", [5, 5, 3, 7, 82], 22, "incorrect", "uses 5 3 times but it is given twice"),
    ("3*5+7", [3, 5, 7, 2], 22, "incorrect", "3*5+7 leaves 2 unused"),
    ("3*5+7", [3, 5, 7, 2, 9], 22, "incorrect", "leaves 2 and 9 unused"),
    ("15+7", None, 22, "incorrect", "uses 15, which is not among the numbers [3, 5, 7]"),
    ("57-35", None, 22, "incorrect", "uses 57, which is not among the numbers [3, 5, 7]"),
    ("22", None, 22, "incorrect", "uses 22, which is not among the numbers [3, 5, 7]"),
    ("(22)", None, 22, "incorrect", "uses 22, which is not among"),
    ("9" * 300, None, 22, "incorrect", "uses 99999999... (a 300-digit number), which is not among"),
    # forbidden but parseable constructs
    ("5**2-3", [5, 2, 3], 22, "incorrect", "uses the power operator **"),
    ("45//2+1", [45, 2, 1], 23, "incorrect", "uses floor division //"),
    ("29%7+21", [29, 7, 21], 22, "incorrect", "uses the modulo operator %"),
    ("3<<2+10", [3, 2, 10], 22, "incorrect", "uses the shift operator <<"),
    ("__import__('os').getpid()", None, 22, "incorrect", "uses a function call (getpid(...))"),
    ("eval('3*5+7')", None, 22, "incorrect", "uses a function call (eval(...))"),
    ("x*5+7", None, 22, "incorrect", "uses the name 'x'"),
    ("(3).real*5+7", None, 22, "incorrect", "uses an attribute access (.real)"),
    ("3*5+7.0", None, 22, "incorrect", "uses the non-integer number 7.0"),
    ("2.2e1", None, 22, "incorrect", "uses the non-integer number 22.0"),
    ("3*5+7j", None, 22, "incorrect", "uses the complex number 7j"),
    ("(3*5+7)*True", None, 22, "incorrect", "uses the constant True"),
    ("'3*5+7'", None, 22, "incorrect", "uses a string literal"),
    ("f'{3*5+7}'", None, 22, "incorrect", "uses an f-string"),
    ("3*5+7 == 22", None, 22, "incorrect", "uses a comparison"),
    ("3*5+7 <= 22", None, 22, "incorrect", "uses a comparison"),
    ("(y := 3*5+7)", None, 22, "incorrect", "uses an assignment (:=)"),
    ("[3, 5, 7][0]*5+7", None, 22, "incorrect", "uses indexing"),
    ("lambda: 22", None, 22, "incorrect", "uses a Python Lambda expression"),
    ("3*5+0x7", None, 22, "incorrect", "writes the number '0x7' in a form other than plain decimal digits"),
    ("1_5+7", [15, 7], 22, "incorrect", "writes the number '1_5'"),
    ("3*7+5 # 3*5+7", None, 22, "incorrect", "contains a comment"),
    ("-3-5", [3, 5], -8, "incorrect", "uses unary minus"),
    ("3*5--7", None, 22, "incorrect", "uses unary minus"),
    ("+3*5+7", None, 22, "incorrect", "uses unary plus"),
    ("~3*5+7", None, 22, "incorrect", "uses the bitwise operator ~"),
    ("3*7+5, 3*5+7", None, 22, "incorrect", "uses several expressions separated by commas"),
    ("3*7+5 or 3*5+7", None, 22, "incorrect", "uses 'and'/'or'"),
    ("22+(4-4)/(4-4)", [22, 4, 4, 4, 4], 22, "incorrect", "22+(4-4)/(4-4) divides by zero"),
    ("1+" * 100 + "1", [1] * 12, 22, "incorrect", f"nests more than {MAX_DEPTH} operations"),
    # extraction
    ("<answer>3*7+5</answer>\n3*5+7", None, 22, "incorrect", "evaluates to 26"),
    ("\\boxed{3*5+7} no wait \\boxed{3*7+5}", None, 22, "incorrect", "evaluates to 26"),
    ("3*7+5 is 26.\n3*5+7", None, 22, "correct", "reaches"),
    ("3x5+7", None, 22, "unparsable", "could not parse '3x5+7'"),
    # unparsable
    ("3 5 7", None, 22, "unparsable", "could not parse '3 5 7' as arithmetic"),
    ("The answer is 3*5+7", None, 22, "unparsable", "could not parse"),
    ("3*5+", None, 22, "unparsable", "could not parse"),
    ("", None, 22, "unparsable", "the output is empty"),
    ("  \n\t ", None, 22, "unparsable", "the output is empty"),
    (
        "<think>3*5+7</think><answer> </answer>",
        None,
        22,
        "unparsable",
        "the <answer> block holds no expression",
    ),
    ("\\boxed{}", None, 22, "unparsable", "the \\boxed{} holds no expression"),
    ("3*5+7\x00", None, 22, "unparsable", "contains a NUL byte"),
    ("\x00", None, 22, "unparsable", "contains a NUL byte"),
    ("\uff13*5+7", None, 22, "unparsable", "could not parse"),
    ("3*5+\u0667", None, 22, "unparsable", "could not parse"),  # Arabic-Indic seven
    ("<answer>3*5+7\n3*7+5</answer>", None, 22, "unparsable", "could not parse"),
    (
        "(" * 10_000 + "3*5+7" + ")" * 10_000,
        None,
        22,
        "unparsable",
        "20,005 characters, over the 512-character limit",
    ),
    ("(" * 240 + "3*7+5" + ")" * 240, None, 22, "unparsable", "could not parse"),
]


@pytest.mark.parametrize(("output", "numbers", "target", "status", "fragment"), HAND_CASES)
def test_hand_cases(output, numbers, target, status, fragment):
    verdict = run(output, numbers, target)
    assert verdict.status == status, verdict
    assert fragment in verdict.reason, verdict.reason
    assert verdict.score == (1.0 if status == "correct" else 0.0)
    json.dumps(verdict.to_dict())  # details are JSON-ready for the output record


def test_details_of_a_correct_answer():
    v = run("<answer>(8/3)*3+6 = 14</answer>", [8, 3, 3, 6], "14")
    assert v.passed
    assert dict(v.details) == {
        "target": 14,
        "numbers": [8, 3, 3, 6],
        "expression": "(8/3)*3+6",
        "source": "answer",
        "claimed": "14",
        "numbers_used": [8, 3, 3, 6],
        "value": "14",
        "claim_matches": True,
    }


def test_details_show_fractions_and_a_wrong_claim():
    v = run("3/2+7*5 = 22", [3, 2, 7, 5], 22)
    assert v.status == "incorrect"
    assert v.details["value"] == "73/2"
    assert v.details["claimed"] == "22" and v.details["claim_matches"] is False
    assert v.details["numbers_used"] == [3, 2, 7, 5]
    assert v.details["source"] == "last_line"


def test_use_all_false_allows_a_sub_multiset_but_not_reuse():
    assert run("3*7+1", [3, 7, 1, 9], 22, use_all=False).passed
    assert not run("3*7+1", [3, 7, 1, 9], 22).passed
    reused = run("7*3+1*1", [3, 7, 1, 9], 22, use_all=False)
    assert reused.status == "incorrect" and "uses 1 twice but it is given once" in reused.reason
    assert "only given numbers, none twice" in run("3*7+1", [3, 7, 1, 9], 22, use_all=False).reason


@pytest.mark.parametrize(
    ("answer", "numbers", "fragment", "field"),
    [
        (None, N, "answer (the target) must be an integer or a string of one, got nothing", "answer"),
        (22.0, N, "got float", "answer"),
        (True, N, "got bool", "answer"),
        ([22], N, "got list", "answer"),
        ("twenty-two", N, "must be a whole number, got 'twenty-two'", "answer"),
        ("22.5", N, "must be a whole number", "answer"),
        ("\uff12\uff12", N, "must be a whole number", "answer"),  # fullwidth "22": int() would accept it
        (10**6 + 1, N, "over the 1,000,000 limit", "answer"),
        ("-2000000", N, "over the 1,000,000 limit", "answer"),
        (22, None, "has no numbers field", "numbers"),
        (22, "3 5 7", "must be a list of integers, got str", "numbers"),
        (22, [], "numbers list is empty", "numbers"),
        (22, list(range(13)), "has 13 entries, over the limit of 12", "numbers"),
        (22, [3, "5", 7], "numbers[1] must be an integer, got '5'", "numbers"),
        (22, [3, 5.0, 7], "numbers[1] must be an integer", "numbers"),
        (22, [3, True, 7], "numbers[1] must be an integer", "numbers"),
        (22, [3, -5, 7], "numbers[1] is -5; numbers must be non-negative", "numbers"),
        (22, [3, 5, 10**7], "numbers[2] is 10000000, over the 1,000,000 limit", "numbers"),
    ],
)
def test_malformed_samples_are_the_datasets_fault(answer, numbers, fragment, field):
    meta = {} if numbers is None else {"numbers": numbers}
    v = CountdownVerifier().verify(Sample("3*5+7", answer, meta))
    assert v.status == "error", v
    assert fragment in v.reason, v.reason
    assert v.details["field"] == field


def test_accepted_target_forms():
    for answer in (22, "22", " 22 ", "+22"):
        assert CountdownVerifier().verify(Sample("3*5+7", answer, {"numbers": N})).passed, answer
    assert CountdownVerifier().verify(Sample("3*5+7", 22, {"numbers": (3, 5, 7)})).passed


def test_non_string_and_oversized_outputs_are_unparsable():
    assert CountdownVerifier().verify(Sample(None, 22, {"numbers": N})).status == "unparsable"  # type: ignore[arg-type]
    assert CountdownVerifier().verify(Sample(22, 22, {"numbers": N})).status == "unparsable"  # type: ignore[arg-type]
    big = CountdownVerifier().verify(Sample("3*5+7\n" * 200_000, 22, {"numbers": N}))
    assert big.status == "unparsable" and "over the 1,000,000 limit" in big.reason


@pytest.mark.parametrize(
    "output",
    [
        "3*5+" * 249_000 + "7",  # a ~1 MB last line
        "x" * 999_990 + "\n3*7+5",  # ~1 MB of junk before a short wrong answer
        "<answer>3*7+5</answer>" * 45_000,
        "\\boxed{" * 100_000,  # unclosed boxes
        "{" * 500_000 + "}" * 499_999,
        "(" * 999_990,
        "\x00" * 1_000_000,
        "\uff13" * 1_000_000,
    ],
)
def test_hostile_megabyte_outputs_get_a_verdict(output):
    assert len(output) <= 1_000_000
    v = run(output)
    assert v.status in ("incorrect", "unparsable"), v
    assert v.score == 0.0


@pytest.mark.parametrize(
    "expr",
    [
        "(" * 10_000 + "3" + ")" * 10_000,
        "1" + "+1" * 30_000,
        "1" + "/1" * 30_000,
        "-" * 50_000 + "1",
        "1*(" * 5_000 + "1" + ")" * 5_000,
    ],
)
def test_deep_nesting_under_a_raised_cap_is_refused_not_a_crash(expr):
    v = run(expr, max_expression_chars=100_000)
    assert v.status in ("incorrect", "unparsable"), v
    with pytest.raises(ExpressionError):
        analyse(expr, 100_000)


def test_the_expression_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    payload = f"open({str(marker)!r}, 'w').write('x')"
    v = run(payload)
    assert v.status == "incorrect" and "function call (write(...))" in v.reason
    v = run(f"__import__('pathlib').Path({str(marker)!r}).touch()")
    assert v.status == "incorrect"
    assert not marker.exists()


# -- extraction ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3*5+7", "3*5+7"),
        ("  3 *  5\t+ 7  \n\n", "3 * 5 + 7"),
        ("3*5+7 = 22", "3*5+7"),
        ("3*5+7=22.", "3*5+7"),
        ("3*5+7 = 43/2", "3*5+7"),
        ("3*5+7 == 22", "3*5+7 == 22"),  # a comparison, not a claim
        ("3*5+7 = x", "3*5+7 = x"),
        ("22 = 3*5+7", "22 = 3*5+7"),
        ("first try 3*7+5\nsecond: 3*5+7\n\n", "second: 3*5+7"),
        ("<answer>3*5+7</answer> trailing words", "3*5+7"),
        ("<answer>1+1</answer> then <answer>3*5+7</answer>", "3*5+7"),
        ("<answer>3*5+7", "<answer>3*5+7"),  # unclosed: no block, so the last line
        ("\\boxed{1+1} and \\boxed{3*5+7}", "3*5+7"),
        ("\\boxed{\\left(3 \\times 5\\right) + 7}", "(3 * 5) + 7"),
        ("<answer>\\boxed{3 \\div 5}</answer>", "3 / 5"),
        ("\\(3 · 5 ⋅ 7\\)", "3 * 5 * 7"),
        ("3 − 5", "3 - 5"),
        ("$$3*5+7$$.", "3*5+7"),
        ("3x5+7", "3x5+7"),  # a letter x is not a times sign
        ("<answer></answer>", ""),
        ("", None),
        (" \n ", None),
    ],
)
def test_extract_expression(text, expected):
    assert extract_expression(text) == expected


def test_extract_reports_the_claim_and_the_source():
    found = extract("<answer>3*5+7 = 22</answer>")
    assert found is not None and found.claimed == 22 and found.source == "answer"
    found = extract("so \\boxed{3/2 = 3/2}")
    assert found is not None and found.claimed == Fraction(3, 2) and found.source == "boxed"
    found = extract("3*5+7 = 1/0")
    assert found is not None and found.claimed is None and found.expression == "3*5+7 = 1/0"


# -- exact evaluation and number checks ----------------------------------------------------------


def _random_tree(rng: random.Random, numbers: list[int]) -> tuple[str, Fraction | None]:
    """A random fully parenthesised expression over ``numbers`` and its value computed with
    Fraction directly (None when it divides by zero)."""
    if len(numbers) == 1:
        return str(numbers[0]), Fraction(numbers[0])
    cut = rng.randint(1, len(numbers) - 1)
    (ls, lv), (rs, rv) = _random_tree(rng, numbers[:cut]), _random_tree(rng, numbers[cut:])
    op = rng.choice("+-*/")
    text = f"({ls}{op}{rs})"
    if lv is None or rv is None or (op == "/" and rv == 0):
        return text, None
    return text, {"+": lv + rv, "-": lv - rv, "*": lv * rv, "/": lv / rv if rv else None}[op]


def test_evaluation_is_exact_on_random_expressions():
    rng = random.Random(8)
    checked = 0
    for _ in range(400):
        numbers = [rng.randint(0, 30) for _ in range(rng.randint(1, 6))]
        text, expected = _random_tree(rng, numbers)
        if expected is None:
            with pytest.raises(ZeroDivisionError):
                evaluate_expression(text)
            continue
        assert evaluate_expression(text) == expected, text
        assert analyse(text).literals == tuple(numbers)
        v = run(text, numbers, int(expected) if expected.denominator == 1 else 10**6)
        assert v.passed == (expected.denominator == 1), (text, v)
        checked += 1
    assert checked > 300


def test_precedence_and_associativity_follow_arithmetic():
    assert evaluate_expression("2+3*4") == 14
    assert evaluate_expression("8-3-2") == 3
    assert evaluate_expression("64/8/2") == 4
    assert evaluate_expression("8/(4/2)") == 4
    assert evaluate_expression("6/4") == Fraction(3, 2)
    assert evaluate_expression("1/3+1/6") == Fraction(1, 2)
    assert evaluate_expression("0/7") == 0


@pytest.mark.parametrize(
    ("used", "given", "use_all", "expected"),
    [
        ([3, 5, 7], [7, 3, 5], True, None),
        ([3, 5], [3, 5, 7], True, "leaves 7 unused"),
        ([3, 5], [3, 5, 7, 2], True, "leaves 2 and 7 unused"),
        ([3], [3, 5, 7, 2], True, "leaves 2, 5 and 7 unused"),
        ([3, 5], [3, 5, 7], False, None),
        ([5, 5], [5, 5, 7], False, None),
        ([5, 5], [5, 7], False, "uses 5 twice but it is given once"),
        ([9, 5], [3, 5, 7], True, "uses 9, which is not among the numbers [3, 5, 7]"),
    ],
)
def test_check_numbers(used, given, use_all, expected):
    assert check_numbers(used, given, use_all=use_all) == expected


# -- options, registry, audit --------------------------------------------------------------------


@pytest.mark.parametrize(
    "opts", [{"use_all": "yes"}, {"max_expression_chars": 0}, {"max_expression_chars": 1.5}]
)
def test_bad_options_are_config_errors(opts):
    with pytest.raises(ConfigError):
        CountdownVerifier(**opts)


def test_the_length_cap_is_an_option():
    assert run("3*5+7", max_expression_chars=5).passed
    v = run("3*5+7", max_expression_chars=4)
    assert v.status == "unparsable" and "over the 4-character limit" in v.reason


def test_get_verifier_by_name(monkeypatch):
    monkeypatch.setitem(registry.REGISTRY, "countdown", "rlvr.verifiers.countdown:CountdownVerifier")
    v = registry.get_verifier("countdown", use_all=False)
    assert isinstance(v, CountdownVerifier) and v.use_all is False
    assert v.required_fields == ("output", "answer", "numbers")
    assert v.verify(Sample.from_record({"output": "3*7+1", "answer": 22, "numbers": [3, 7, 1, 2]})).passed


def test_suite_shape():
    records = countdown_cases(Path("."))
    assert len(records) >= 30
    assert len({r["test"] for r in records}) == len(records)
    groups = {r["test"].split("/")[0] for r in records}
    assert groups == {"good", "value", "numbers", "syntax", "unary", "answers", "format", "dos"}
    assert sum(r["should_pass"] for r in records) >= 10
    assert builtin_cases("countdown", Path(".")) is not None


def test_audit_of_the_countdown_suite(monkeypatch):
    monkeypatch.setitem(registry.REGISTRY, "countdown", "rlvr.verifiers.countdown:CountdownVerifier")
    report = audit("countdown", workers=1, repeat=2, timeout=60)
    assert report.kind == "countdown"
    assert report.n_bad >= 30 and report.n_good >= 10
    assert report.coverage == 1.0 and report.not_judged_rate == 0, [c.to_dict() for c in report.misjudged()]
    assert report.false_positive_rate == 0
    assert report.false_negative_rate == 0, [c.to_dict() for c in report.misjudged()]
    assert report.deterministic and report.cross_process is True
