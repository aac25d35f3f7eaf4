"""The format verifier: is the output in the agreed shape, whatever its content?

The default shape is the R1 style ``<think>...</think><answer>...</answer>``: exactly one think
block, then exactly one non-empty answer block, nothing but whitespace around them, and length
limits. Tag look-alikes are refused rather than ignored: ``<Answer>``, ``<answer id=1>``,
``< answer>``, tags hidden with zero-width characters, nested or unclosed tags all fail, so a
policy cannot earn the format reward with a near-miss the downstream parser would read
differently. Inside the answer block, at most ``max_boxed`` ``\\boxed{}`` answers are allowed
(exactly one final answer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rlvr.errors import ConfigError
from rlvr.types import Sample, Verdict
from rlvr.verifiers.base import BaseVerifier
from rlvr.verifiers.extract import find_boxed

__all__ = ["AnswerShapeVerifier", "FormatVerifier", "TaggedOutput", "parse_tagged"]

# Characters that render as nothing; a tag containing one looks right but is not a tag.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_TAG_NAME = re.compile(r"^[A-Za-z][\w-]*$")


@dataclass(frozen=True)
class TaggedOutput:
    """The blocks of a tagged output, or the first structural problem found."""

    think: str | None
    answer: str | None
    problem: str | None
    outside: str = ""


def _tag_like(tag: str) -> re.Pattern[str]:
    # Anything a lenient reader might take for the tag: any case, inner spaces, attributes,
    # invisible characters between the letters.
    letters = f"[{re.escape(_INVISIBLE)}]*".join(re.escape(c) for c in tag)
    return re.compile(rf"<\s*/?\s*[{re.escape(_INVISIBLE)}]*{letters}[{re.escape(_INVISIBLE)}]*\b[^<>]{{0,200}}>", re.I)


def parse_tagged(text: str, *, think_tag: str | None = "think", answer_tag: str = "answer") -> TaggedOutput:
    """Split ``text`` into its think and answer blocks, strictly (linear time).

    ``think_tag=None`` means no think block is expected (and none is allowed).
    """
    tags = [t for t in (think_tag, answer_tag) if t]
    events: list[tuple[int, int, str, bool]] = []  # (start, end, tag, closing)
    for tag in tags:
        exact_open, exact_close = f"<{tag}>", f"</{tag}>"
        for m in _tag_like(tag).finditer(text):
            raw = m.group()
            if raw == exact_open:
                events.append((m.start(), m.end(), tag, False))
            elif raw == exact_close:
                events.append((m.start(), m.end(), tag, True))
            else:
                return TaggedOutput(None, None, f"malformed tag {raw[:40]!r} (expected exactly {exact_open} or {exact_close})")
    events.sort()
    blocks: dict[str, list[tuple[int, int]]] = {t: [] for t in tags}
    open_tag: tuple[str, int] | None = None
    outside: list[str] = []
    pos = 0
    for start, end, tag, closing in events:
        if not closing:
            if open_tag is not None:
                return TaggedOutput(None, None, f"<{tag}> opened inside <{open_tag[0]}>; blocks may not nest")
            outside.append(text[pos:start])
            open_tag = (tag, end)
        else:
            if open_tag is None or open_tag[0] != tag:
                return TaggedOutput(None, None, f"</{tag}> without a matching <{tag}>")
            blocks[tag].append((open_tag[1], start))
            open_tag = None
        pos = end
    if open_tag is not None:
        return TaggedOutput(None, None, f"<{open_tag[0]}> is never closed")
    outside.append(text[pos:])
    for tag in tags:
        if len(blocks[tag]) > 1:
            return TaggedOutput(None, None, f"{len(blocks[tag])} <{tag}> blocks; exactly one is allowed")
    if not blocks[answer_tag]:
        return TaggedOutput(None, None, f"no <{answer_tag}>...</{answer_tag}> block")
    answer_span = blocks[answer_tag][0]
    think = None
    if think_tag:
        if not blocks[think_tag]:
            return TaggedOutput(None, None, f"no <{think_tag}>...</{think_tag}> block")
        think_span = blocks[think_tag][0]
        if think_span[0] > answer_span[0]:
            return TaggedOutput(None, None, f"the <{answer_tag}> block comes before the <{think_tag}> block")
        think = text[think_span[0] : think_span[1]]
    return TaggedOutput(think, text[answer_span[0] : answer_span[1]], None, "".join(outside))


class FormatVerifier(BaseVerifier):
    """Checks think/answer tag structure, a single final answer and length limits.

    Status ``correct`` (score 1) when every check passes, else ``incorrect`` with the first
    problem as the reason. The sample's ``answer`` is not used.
    """

    name = "format"
    required_fields = ("output",)
    audit_kind = "format"

    def __init__(
        self,
        *,
        think_tag: str | None = "think",
        answer_tag: str = "answer",
        allow_outside_text: bool = False,
        max_boxed: int | None = 1,
        require_boxed: bool = False,
        max_chars: int | None = None,
        max_think_chars: int | None = None,
        min_think_chars: int = 0,
        max_answer_chars: int | None = 2000,
        max_words: int | None = None,
    ) -> None:
        """
        think_tag: name of the reasoning block, or None for answer-only outputs.
        answer_tag: name of the final-answer block.
        allow_outside_text: allow text other than whitespace outside the blocks.
        max_boxed: most \\boxed{} answers inside the answer block (None: no limit).
        require_boxed: the answer block must contain a \\boxed{} answer.
        max_chars, max_words: limits on the whole output.
        max_think_chars, min_think_chars: limits on the think block.
        max_answer_chars: limit on the answer block (a final answer is short).
        """
        for label, tag in (("think_tag", think_tag), ("answer_tag", answer_tag)):
            if tag is not None and (not isinstance(tag, str) or not _TAG_NAME.match(tag)):
                raise ConfigError(f"{label} must be a tag name like 'think', got {tag!r}")
        if think_tag == answer_tag:
            raise ConfigError("think_tag and answer_tag must differ")
        for label, value in (
            ("max_boxed", max_boxed),
            ("max_chars", max_chars),
            ("max_think_chars", max_think_chars),
            ("max_answer_chars", max_answer_chars),
            ("max_words", max_words),
        ):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ConfigError(f"{label} must be a non-negative integer or None, got {value!r}")
        if isinstance(min_think_chars, bool) or not isinstance(min_think_chars, int) or min_think_chars < 0:
            raise ConfigError(f"min_think_chars must be a non-negative integer, got {min_think_chars!r}")
        if min_think_chars and think_tag is None:
            raise ConfigError("min_think_chars needs a think_tag")
        if require_boxed and max_boxed == 0:
            raise ConfigError("require_boxed=True contradicts max_boxed=0")
        self.think_tag = think_tag
        self.answer_tag = answer_tag
        self.allow_outside_text = allow_outside_text
        self.max_boxed = max_boxed
        self.require_boxed = require_boxed
        self.max_chars = max_chars
        self.max_think_chars = max_think_chars
        self.min_think_chars = min_think_chars
        self.max_answer_chars = max_answer_chars
        self.max_words = max_words

    def check(self, sample: Sample) -> Verdict:
        text = sample.output
        details: dict[str, Any] = {"chars": len(text)}
        if self.max_chars is not None and len(text) > self.max_chars:
            return Verdict.incorrect(f"output is {len(text):,} characters, over the {self.max_chars:,} limit", **details)
        if self.max_words is not None:
            words = len(text.split())
            details["words"] = words
            if words > self.max_words:
                return Verdict.incorrect(f"output has {words:,} words, over the {self.max_words:,} limit", **details)
        parsed = parse_tagged(text, think_tag=self.think_tag, answer_tag=self.answer_tag)
        if parsed.problem:
            return Verdict.incorrect(f"bad structure: {parsed.problem}", **details)
        assert parsed.answer is not None
        answer = parsed.answer.strip()
        details["answer"] = answer[:200]
        if parsed.think is not None:
            think_len = len(parsed.think.strip())
            details["think_chars"] = think_len
            if think_len < self.min_think_chars:
                return Verdict.incorrect(
                    f"the <{self.think_tag}> block has {think_len} characters, under the {self.min_think_chars} minimum",
                    **details,
                )
            if self.max_think_chars is not None and think_len > self.max_think_chars:
                return Verdict.incorrect(
                    f"the <{self.think_tag}> block has {think_len:,} characters, over the {self.max_think_chars:,} limit",
                    **details,
                )
        if not self.allow_outside_text and parsed.outside.strip():
            stray = parsed.outside.strip()
            return Verdict.incorrect(f"text outside the tagged blocks: {stray[:60]!r}", **details)
        if not answer:
            return Verdict.incorrect(f"the <{self.answer_tag}> block is empty", **details)
        if self.max_answer_chars is not None and len(answer) > self.max_answer_chars:
            return Verdict.incorrect(
                f"the <{self.answer_tag}> block has {len(answer):,} characters, over the {self.max_answer_chars:,} limit",
                **details,
            )
        if self.max_boxed is not None or self.require_boxed:
            boxes = find_boxed(answer)
            details["boxed"] = len(boxes)
            if self.max_boxed is not None and len(boxes) > self.max_boxed:
                return Verdict.incorrect(
                    f"the answer block has {len(boxes)} \\boxed{{}} answers; at most {self.max_boxed} allowed", **details
                )
            if self.require_boxed and not boxes:
                return Verdict.incorrect("the answer block has no \\boxed{} answer", **details)
        return Verdict.correct("the output has the expected format", **details)

    def __repr__(self) -> str:
        return f"FormatVerifier(think_tag={self.think_tag!r}, answer_tag={self.answer_tag!r})"


class AnswerShapeVerifier(BaseVerifier):
    """Format-only reward: ``correct`` (score 1) when the whole output, stripped, matches ``pattern``
    (e.g. a bare integer), ``incorrect`` otherwise. The sample's ``answer`` is never read, so this
    is a control: training on it can teach the answer's shape, never its correctness.
    """

    name = "answer_format"
    required_fields = ("output",)
    audit_kind = "format"

    def __init__(self, pattern: str = r"-?\d+") -> None:
        try:
            self.pattern = re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"answer_format: bad pattern {pattern!r}: {exc}") from None

    def check(self, sample: Sample) -> Verdict:
        text = sample.output.strip()
        if text and self.pattern.fullmatch(text):
            return Verdict(1.0, "correct", "the output is a well-formed answer (its value is not checked)")
        return Verdict(0.0, "incorrect", f"the output is not a well-formed answer (pattern {self.pattern.pattern!r})")

    def __repr__(self) -> str:
        return f"AnswerShapeVerifier({self.pattern.pattern!r})"
