"""The format verifier: strict think/answer structure, one final answer, length limits."""

from __future__ import annotations

import time

import pytest

from rlvr.errors import ConfigError
from rlvr.types import Sample
from rlvr.verifiers.format import FormatVerifier, parse_tagged

GOOD = "<think>\n7 * 6 = 42\n</think>\n<answer>\\boxed{42}</answer>\n"


@pytest.mark.parametrize(
    ("output", "fragment"),
    [
        ("<think>x</think><Answer>42</Answer>", "malformed tag '<Answer>'"),
        ("<think>x</think><answer id='1'>42</answer>", "malformed tag"),
        ("<think>x</think>< answer>42</answer>", "malformed tag"),
        ("<think>x</think><ans\u200bwer>42</answer>", "malformed tag"),
        ("<think>x</think><answer>42</answer><answer>43</answer>", "2 <answer> blocks"),
        ("<think>x</think><think>y</think><answer>42</answer>", "2 <think> blocks"),
        ("<answer>42</answer><think>x</think>", "comes before"),
        ("<think>x<answer>42</answer></think>", "may not nest"),
        ("<think>x</think><answer>42", "never closed"),
        ("<think>x</think>42</answer>", "without a matching"),
        ("<think>x</think>The answer is 42.", "no <answer>"),
        ("<answer>42</answer>", "no <think>"),
        ("<think>x</think><answer>42</answer> Also 43.", "outside the tagged blocks"),
        ("Sure! <think>x</think><answer>42</answer>", "outside the tagged blocks"),
        ("<think>x</think><answer>  </answer>", "is empty"),
        ("<think>x</think><answer>\\boxed{4} or \\boxed{2}</answer>", "2 \\boxed{} answers"),
        ("<think>x</think><answer>&lt;answer&gt;42</answer>", None),  # escaped text is just text
    ],
)
def test_structure_tricks(output, fragment):
    verdict = FormatVerifier().verify(Sample(output))
    if fragment is None:
        assert verdict.status == "correct", verdict.reason
    else:
        assert verdict.status == "incorrect" and verdict.score == 0.0
        assert fragment in verdict.reason, verdict.reason


def test_good_output_and_details():
    verdict = FormatVerifier().verify(Sample(GOOD))
    assert verdict.status == "correct" and verdict.score == 1.0
    assert verdict.details["answer"] == "\\boxed{42}" and verdict.details["boxed"] == 1
    assert verdict.details["think_chars"] == len("7 * 6 = 42")


def test_length_limits():
    assert FormatVerifier(max_chars=20).verify(Sample(GOOD)).reason.startswith("output is")
    assert "over the 5 limit" in FormatVerifier(max_words=5).verify(Sample(GOOD + " a b c d e")).reason
    assert "under the 20 minimum" in FormatVerifier(min_think_chars=20).verify(Sample(GOOD)).reason
    assert "over the 3 limit" in FormatVerifier(max_think_chars=3).verify(Sample(GOOD)).reason
    long_answer = "<think>x</think><answer>" + "9" * 3000 + "</answer>"
    assert "over the 2,000 limit" in FormatVerifier().verify(Sample(long_answer)).reason
    assert FormatVerifier(max_answer_chars=None).verify(Sample(long_answer)).status == "correct"


def test_options():
    answer_only = FormatVerifier(think_tag=None)
    assert answer_only.verify(Sample("<answer>5</answer>")).status == "correct"
    assert answer_only.verify(Sample("<think>x</think><answer>5</answer>")).status == "incorrect"
    lenient = FormatVerifier(allow_outside_text=True)
    assert lenient.verify(Sample("Here: <think>x</think><answer>5</answer> done")).status == "correct"
    boxed = FormatVerifier(require_boxed=True)
    assert "no \\boxed" in boxed.verify(Sample("<think>x</think><answer>5</answer>")).reason
    custom = FormatVerifier(think_tag="reasoning", answer_tag="final")
    assert custom.verify(Sample("<reasoning>r</reasoning><final>5</final>")).status == "correct"


def test_hostile_sizes_are_linear():
    big = "<think>" + "<" * 200_000 + "</think><answer>1</answer>"
    many = "<think>x</think>" + "<answer>1</answer>" * 50_000
    t0 = time.perf_counter()
    assert FormatVerifier().verify(Sample(big)).status == "correct"
    assert FormatVerifier().verify(Sample(many)).status == "incorrect"
    assert time.perf_counter() - t0 < 5


def test_parse_tagged():
    parsed = parse_tagged(GOOD)
    assert parsed.problem is None and parsed.think.strip() == "7 * 6 = 42" and parsed.answer == "\\boxed{42}"


def test_bad_config():
    with pytest.raises(ConfigError):
        FormatVerifier(think_tag="a b")
    with pytest.raises(ConfigError):
        FormatVerifier(think_tag="x", answer_tag="x")
    with pytest.raises(ConfigError):
        FormatVerifier(max_chars=-1)
    with pytest.raises(ConfigError):
        FormatVerifier(require_boxed=True, max_boxed=0)


def test_answer_format_rewards_the_shape_never_the_value():
    from rlvr.verifiers.registry import get_verifier

    v = get_verifier("answer_format")
    assert v.verify(Sample(output=" 85\n", answer="12")).status == "correct"  # wrong value, right shape
    assert v.verify(Sample(output="a85", answer="85")).status == "incorrect"  # right digits, malformed
    assert v.verify(Sample(output="", answer="85")).status == "incorrect"
    expr = get_verifier("answer_format", pattern=r"[0-9+\-*() ]+")
    assert expr.verify(Sample(output="(13-3)*2", answer=99)).score == 1.0
    with pytest.raises(ConfigError, match="bad pattern"):
        get_verifier("answer_format", pattern="(")
