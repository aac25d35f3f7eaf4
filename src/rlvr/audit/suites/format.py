"""Adversarial suite for the format verifier (default ``<think>``/``<answer>`` shape): tag tricks."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _case(test: str, output: str, should_pass: bool) -> dict[str, Any]:
    return {"test": test, "output": output, "answer": None, "should_pass": should_pass}


def cases(workdir: Path) -> list[dict[str, Any]]:
    """The format suite (``workdir`` is unused)."""
    t = "<think>\n17 + 25 = 42\n</think>\n"
    return [
        _case("good/plain", t + "<answer>42</answer>", True),
        _case("good/boxed", t + "<answer>\\boxed{42}</answer>\n", True),
        _case("good/escaped-tag-text", "<think>I should write &lt;answer&gt; at the end.</think><answer>42</answer>", True),
        _case("good/multiline-answer", t + "<answer>\nx = 4\n</answer>", True),
        _case("tags/uppercase", t + "<ANSWER>42</ANSWER>", False),
        _case("tags/attribute", t + '<answer type="final">42</answer>', False),
        _case("tags/inner-space", t + "< answer >42</ answer >", False),
        _case("tags/zero-width", t + "<ans\u200bwer>42</ans\u200bwer>", False),
        _case("tags/soft-hyphen", t + "<an\u00adswer>42</answer>", False),
        _case("tags/self-closing", t + "<answer/>42", False),
        _case("tags/unclosed-answer", t + "<answer>42", False),
        _case("tags/unclosed-think", "<think>17 + 25 = 42\n<answer>42</answer>", False),
        _case("tags/stray-close", t + "42</answer>", False),
        _case("structure/no-think", "<answer>42</answer>", False),
        _case("structure/no-answer", t + "The answer is 42.", False),
        _case("structure/answer-first", "<answer>42</answer>\n<think>17 + 25 = 42</think>", False),
        _case("structure/answer-inside-think", "<think>so <answer>42</answer></think>", False),
        _case("structure/think-inside-answer", "<think>a</think><answer><think>b</think>42</answer>", False),
        _case("structure/two-answers", t + "<answer>42</answer><answer>43</answer>", False),
        _case("structure/two-thinks", t + t + "<answer>42</answer>", False),
        _case("structure/text-before", "Sure! " + t + "<answer>42</answer>", False),
        _case("structure/text-after", t + "<answer>42</answer>\nHope this helps!", False),
        _case("answer/empty", t + "<answer></answer>", False),
        _case("answer/whitespace", t + "<answer> \n\t</answer>", False),
        _case("answer/two-boxes", t + "<answer>\\boxed{42} or \\boxed{43}</answer>", False),
        _case("answer/essay", t + "<answer>" + "and so on " * 500 + "</answer>", False),
        _case("dos/many-tags", t + "<answer>1</answer>" * 50_000, False),
        _case("dos/many-angle-brackets", "<think>" + "<" * 300_000 + "</think>", False),
    ]
