"""Answer extraction — finding what the model claims, never judging it (Math-Verify's lesson).

Every function here is pure, linear-time in the output length and safe on hostile input
(unbalanced braces, thousands of boxes, megabytes of text).

Final answers are looked for by anchor, strongest first: R1-style ``<answer>…</answer>`` blocks
after the reasoning, ``\\boxed{...}``/``\\fbox{...}``, a "final answer" phrase, GSM8K's ``####``,
"the answer is", "``$X$`` is the answer", markdown bold near the end, and, if enabled, the
fallbacks: an output that is one bare expression, a concluding sentence that ends the output
with math, or a number that ends the output. All answers found by the strongest anchor present
are returned, so a grader can refuse hedges (two *different* final answers). An answer followed
by a retraction ("that's wrong", "scratch that") is dropped; if nothing follows it, the
extraction says so. Chat-template tokens (``<|im_end|>``) end the reply.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

from rlvr.verifiers.extract_text import (
    MATH_SPAN,
    MAX_ANSWER_CHARS,
    NOT_BEFORE,
    NUMBER_RE,
    POSES,
    REFUSAL_RE,
    SENTENCE_HEDGE,
    WORD,
    bare_answer,
    clean_answer,
    clip_phrase_answer,
    concluding_math,
    sentence_answer,
    strip_trailer,
    unfinished_reasoning,
)

__all__ = [
    "Extraction",
    "extract_code",
    "extract_fenced",
    "extract_final_answer",
    "extract_sql",
    "find_boxed",
    "match_braces",
    "sentence_answer",
]

# Bounds that keep extraction linear and small on hostile outputs (and MAX_ANSWER_CHARS).
MAX_CANDIDATES = 64

_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*")
_BRACE_RE = re.compile(r"(?<!\\)[{}]")


def match_braces(text: str) -> dict[int, int]:
    """Map each ``{`` index to its matching ``}`` index; unmatched braces are left out.

    Escaped braces (``\\{``) are literal text, not structure. One pass with a stack: O(n).
    """
    pairs: dict[int, int] = {}
    stack: list[int] = []
    for m in _BRACE_RE.finditer(text):
        if m.group() == "{":
            stack.append(m.start())
        elif stack:
            pairs[stack.pop()] = m.start()
    return pairs


def find_boxed(text: str) -> list[tuple[int, int, str]]:
    """Top-level ``\\boxed{...}`` / ``\\fbox{...}`` contents as ``(start, end, content)``.

    Boxes nested inside another box are not separate answers; an inner box that fills its outer
    box is unwrapped (``\\boxed{\\boxed{5}}`` → ``5``). ``\\boxed 5`` (no braces) takes the
    next token. An unclosed box is ignored.
    """
    if "\\boxed" not in text and "\\fbox" not in text:
        return []
    pairs = match_braces(text)
    found: list[tuple[int, int, str]] = []
    covered_until = -1
    for m in _BOX_RE.finditer(text):
        if m.start() < covered_until:
            continue  # nested inside a box we already took
        i = m.end()
        if i < len(text) and text[i] == "{":
            close = pairs.get(i)
            if close is None:
                continue
            covered_until = close + 1
            lo, hi = i + 1, close
            # Unwrap \boxed{\boxed{...}} using the pairs already computed: O(1) per level.
            while True:
                while lo < hi and text[lo].isspace():
                    lo += 1
                inner = _BOX_RE.match(text, lo)
                if not inner or inner.end() >= hi or text[inner.end()] != "{":
                    break
                inner_close = pairs.get(inner.end())
                if inner_close is None or text[inner_close + 1 : hi].strip():
                    break
                lo, hi = inner.end() + 1, inner_close
            found.append((m.start(), close + 1, text[lo:hi][:MAX_ANSWER_CHARS]))
        else:
            tok = re.match(r"[^\s$.,;]+", text[i : i + MAX_ANSWER_CHARS])
            if tok and m.group().endswith((" ", "\t")):
                found.append((m.start(), i + tok.end(), tok.group()))
    return found


@dataclass(frozen=True)
class Extraction:
    """What a model output claims as its final answer.

    ``answers`` are the final answers found by the strongest anchor present (in order, retracted
    ones removed); ``method`` names that anchor. ``problem`` is ``None`` when extraction succeeded,
    or ``"none"`` (no answer found), ``"retracted"`` (the only answers were taken back),
    ``"empty"`` (an anchor with nothing in it).
    """

    answers: tuple[str, ...]
    method: str
    problem: str | None = None
    spans: tuple[tuple[int, int], ...] = field(default=(), repr=False)

    @property
    def answer(self) -> str | None:
        """The last final answer, or None."""
        return self.answers[-1] if self.answers else None


_FINAL_RE = re.compile(r"final\s+answer\s*(?:is|:|=)?\s*:?", re.I)
_HASH_RE = re.compile(r"^\s*####\s*", re.M)
_ANSWER_IS_RE = re.compile(
    r"\b(?:the\s+)?(?:correct\s+|final\s+)?(?:answer|result|solution)\s*(?:is|=|:)\s*:?\s*", re.I
)
_BOLD_RE = re.compile(r"\*\*([^*\n]{1,200})\*\*")
# Phrases that withdraw an answer just given. Plain "wait" is not enough: models say it and confirm.
_RETRACT_RE = re.compile(
    r"\b(?:(?:that|this|my\s+(?:answer|result))(?:'s|\s+is|\s+was)\s+(?:wrong|incorrect|not\s+(?:right|correct))|"
    r"i\s+made\s+(?:a|an)\s+(?:mistake|error)|"
    r"scratch\s+that|disregard\s+(?:that|this|the\s+above)|ignore\s+(?:that|the\s+above)|"
    r"never\s*mind|not\s+the\s+(?:right|correct)\s+answer|let\s+me\s+(?:redo|recompute|recalculate))",
    re.I,
)


def _phrase_candidates(text: str, regex: re.Pattern[str]) -> list[tuple[int, int, str]]:
    out: list[tuple[int, int, str]] = []
    # Only the last anchors matter; keeping just them keeps a text of 50,000 anchors linear.
    for m in deque(regex.finditer(text), maxlen=MAX_CANDIDATES):
        end, ans = clip_phrase_answer(text, m.end())
        boxed = find_boxed(ans)
        if boxed:
            ans = boxed[-1][2]
        if out and out[-1][1] > m.start():
            out.pop()  # "Final Answer: the final answer is X": the inner anchor is the answer
        out.append((m.start(), end, ans))
    return out


def _drop_retracted(text: str, cands: list[tuple[int, int, str]]) -> tuple[list[tuple[int, int, str]], bool]:
    """Remove answers taken back later; report whether the last answer itself was taken back."""
    kept: list[tuple[int, int, str]] = []
    for i, (s, e, a) in enumerate(cands):
        nxt = cands[i + 1][0] if i + 1 < len(cands) else len(text)
        if _RETRACT_RE.search(text, e, nxt):
            if i + 1 == len(cands):
                return kept, True
            kept = []  # everything up to here was withdrawn
            continue
        kept.append((s, e, a))
    return kept, False


def extract_final_answer(text: str, *, fallback: str | None = "last_number") -> Extraction:
    """Find the final answer(s) a model output commits to.

    ``fallback="last_number"`` takes the last number in the text when no anchor is present;
    ``fallback=None`` reports ``problem="none"`` instead.
    """
    if not isinstance(text, str):
        return Extraction((), "none", "none")
    text = _end_of_turn(text)
    tag = _answer_tag(text)
    if tag is not None:
        return tag
    methods: list[tuple[str, list[tuple[int, int, str]]]] = []
    boxed = find_boxed(text)
    if boxed:
        methods.append(("boxed", boxed))
    else:
        for name, regex in (("final_answer", _FINAL_RE), ("hash", _HASH_RE), ("answer_is", _ANSWER_IS_RE)):
            cands = _phrase_candidates(text, regex)
            if cands:
                methods.append((name, cands))
                break
        else:
            named = _named_answers(text)
            if named:
                methods.append(("is_the_answer", named))
        if not methods:
            tail_start = max(text.rfind("\n\n"), len(text) - 600, 0)
            bold = [
                (tail_start + m.start(), tail_start + m.end(), m.group(1))
                for m in _BOLD_RE.finditer(text[tail_start:])
            ]
            bold = [b for b in bold if NUMBER_RE.search(b[2]) or len(b[2]) <= 40]
            if bold:
                methods.append(("bold", bold))
    if not methods:
        if fallback == "last_number":
            return _fallback_answer(text)
        return Extraction((), "none", "none")
    method, cands = methods[0]
    kept, retracted_last = _drop_retracted(text, cands)
    if retracted_last:
        # The final answer was withdrawn with nothing after it: no answer stands.
        return Extraction((), method, "retracted")
    # Inside a box "5!" is a factorial; after "the answer is" it is more likely an exclamation.
    answers = [clean_answer(a, keep_bang=method == "boxed") for _, _, a in kept][-MAX_CANDIDATES:]
    if method != "boxed":
        answers = [sentence_answer(a) for a in answers]
    spans = tuple((s, e) for s, e, _ in kept)[-MAX_CANDIDATES:]
    if not any(answers):
        return Extraction((), method, "empty", spans)
    if method == "boxed" and len(set(answers)) > 1:
        # Several different boxes, then "Final Answer: …" after all of them: the boxes were
        # highlighted steps ("= \\boxed{200}", "= \\boxed{255}"); the closing statement is the answer.
        end = kept[-1][1]
        closing = _phrase_candidates(text[end : end + _TAIL_CHARS], _FINAL_RE)
        if closing:
            s, e, a = closing[-1]
            final = sentence_answer(clean_answer(a))
            if final:
                return Extraction((final,), "final_answer", None, ((end + s, end + e),))
    if kept:
        # What comes after the last answer can revise it: a weaker anchor ("\boxed{42} ... #### 43"),
        # an "or 43" hedge, or a change of mind ("actually, I think it's 43"). Such answers join the
        # list, so the grader sees two different final answers and refuses the hedge.
        revised = _revisions(text, kept[-1][1], method)
        answers += [clean_answer(a) for a in revised]
    return Extraction(tuple(a for a in answers if a), method, None, spans)


# Chat-template tokens: what follows the first one after the reply began (often a hallucinated
# next turn, "<|im_start|>user ...") is not the model's answer.
_TURN_TOKEN = re.compile(r"<\|(?:im_start|im_end|endoftext|eot_id|end|start_header_id|end_header_id|user|assistant)\|>|</s>")


def _end_of_turn(text: str) -> str:
    if "<|" not in text and "</s>" not in text:
        return text
    start = 0
    while (m := _TURN_TOKEN.match(text, start)) or text[start : start + 1].isspace():
        start = m.end() if m else start + 1
        if m and text.startswith("assistant", start):  # "<|im_start|>assistant\n…"
            start += len("assistant")
    m = _TURN_TOKEN.search(text, start)
    return text[:m.start()] if m else text


_ANSWER_OPEN, _ANSWER_CLOSE = "<answer>", "</answer>"
# An unclosed last <answer> is read only when it is short: "</answer>" is a common stop sequence
# (so the closer is missing from the output), but a long unclosed block is a mention or a ramble.
MAX_UNCLOSED_TAG_CHARS = 300


def _answer_blocks(lower: str) -> list[tuple[int, int, int, int]]:
    """``(start, content_start, content_end, end)`` of the ``<answer>`` blocks that count: those
    after the last ``</think>`` (all of them, so that two different ones are seen as a hedge).
    Blocks inside the reasoning are scratch work ("I'll write <answer>5</answer>... no, 6"), as
    is anything before a closed ``</think>``. At most MAX_CANDIDATES, the last ones."""
    think_end = lower.rfind("</think>")
    return _blocks_in(lower, think_end + len("</think>") if think_end >= 0 else 0, len(lower))


def _blocks_in(lower: str, pos: int, stop: int) -> list[tuple[int, int, int, int]]:
    blocks: deque[tuple[int, int, int, int]] = deque(maxlen=MAX_CANDIDATES)
    while True:
        close = lower.find(_ANSWER_CLOSE, pos, stop)
        # The opener nearest the closer: "<answer><answer>5</answer>" is one block holding 5.
        open_ = lower.rfind(_ANSWER_OPEN, pos, close if close >= 0 else stop)
        if close < 0:
            lo = open_ + len(_ANSWER_OPEN)
            if open_ >= 0 and stop - lo <= MAX_UNCLOSED_TAG_CHARS:
                blocks.append((open_, lo, stop, stop))
            break
        if open_ >= 0:
            blocks.append((open_, open_ + len(_ANSWER_OPEN), close, close + len(_ANSWER_CLOSE)))
        elif not blocks and close - pos <= MAX_UNCLOSED_TAG_CHARS:
            # The first closer with no opener: "<answer>" was in the prompt (a prefilled
            # template), so the block starts where the reasoning ended (or at the start).
            blocks.append((pos, pos, close, close + len(_ANSWER_CLOSE)))
        pos = close + len(_ANSWER_CLOSE)
    return list(blocks)


def _answer_tag(text: str) -> Extraction | None:
    """R1-style ``<answer>…</answer>``: the final answer, graded like a box.

    A block's content may itself hold an anchor ("The answer is 12", ``\\boxed{12}``), be the
    answer (``\\frac{3}{4}``, ``2 × 2 × 233``) or a sentence ("The volume is 120 cubic units.").
    """
    if "<" not in text:
        return None
    lower = text.lower() if len(text) < 100_000 else text[-100_000:].lower()
    base = len(text) - len(lower)
    blocks = _answer_blocks(lower)
    if not blocks:
        return None
    cands = [(base + s, base + e, text[base + lo : base + hi][:MAX_ANSWER_CHARS]) for s, lo, hi, e in blocks]
    kept, retracted_last = _drop_retracted(text, cands)
    spans = tuple((s, e) for s, e, _ in cands)
    answers: list[str] = []
    for i, (_, _, content) in enumerate(kept):
        inner = extract_final_answer(content, fallback=None)
        if inner.problem == "retracted" or (not inner.answers and _RETRACT_RE.search(content)):
            if i + 1 == len(kept):
                retracted_last = True
            continue
        answers += list(inner.answers) if inner.answers else [_block_value(content)]
    if retracted_last:
        return Extraction((), "answer_tag", "retracted", spans)
    if not any(answers):
        return Extraction((), "answer_tag", "empty", spans)
    # An anchor after the last block ("</answer> ... \\boxed{43}") revises it: both are graded.
    end = cands[-1][1]
    tail = text[end : end + _TAIL_CHARS]
    answers += [b[2] for b in find_boxed(tail)] + _revisions(text, end, "answer_tag")
    return Extraction(tuple(a for a in (clean_answer(x) for x in answers) if a), "answer_tag", None, spans)


def _block_value(content: str) -> str:
    """An answer block without an inner anchor: the value its sentence states, else (for a
    derivation, "…giving away 3 leaves 39, and eating 1 leaves 38.") the number that ends it,
    else the content itself, for the grader to read or refuse."""
    cleaned = clean_answer(content)
    value = sentence_answer(cleaned)
    if value != cleaned:
        return value
    plain = MATH_SPAN.sub(" ", cleaned)
    if len(WORD.findall(plain)) >= 3 and not SENTENCE_HEDGE.search(plain):
        ending = _last_number(cleaned)
        if len(ending.answers) == 1:
            return ending.answers[0]
    return cleaned


_TAIL_CHARS = 2000
# "(or 43 if we round)", "or maybe 43": an alternative right after the answer, in the same sentence.
_OR_ALTERNATIVE_RE = re.compile(
    r"^[^.\n;]{0,40}?\bor\s+(?:maybe\s+|possibly\s+|perhaps\s+|else\s+|rather\s+)?\$?(?=[-−]?\d)", re.I
)
# A change of mind that restates a value. Plain "wait" or "actually" is not enough: models say them
# and then confirm ("wait, 6 x 7 = 42, yes"); the phrase must put a new value forward.
_REVISE_RE = re.compile(
    r"\b(?:i\s+think\s+it(?:'s|\s+is)|it\s+should\s+(?:be|have\s+been)|"
    r"(?:actually|wait|hmm|oops|no|correction)[,!.:\s]+(?:i\s+think\s+)?(?:it(?:'s|\s+is)|the\s+answer\s+is|"
    r"the\s+answer\s+should\s+be|i\s+get|we\s+get)|the\s+(?:correct|real|true|right)\s+answer\s+is)"
    r"\s*(?:actually\s+)?\$?(?=[-−]?\d)",
    re.I,
)


def _revisions(text: str, end: int, method: str) -> list[str]:
    """Answers put forward after the final answer that ends at ``end`` (see the caller)."""
    tail = text[end : end + _TAIL_CHARS]
    out: list[str] = []
    m = _OR_ALTERNATIVE_RE.search(tail)
    if m:
        num = NUMBER_RE.match(tail, m.end())
        if num:
            out.append(num.group())
    for m in _REVISE_RE.finditer(tail):
        num = NUMBER_RE.match(tail, m.end())
        if num:
            out.append(num.group())
    if method == "boxed":
        for regex in (_FINAL_RE, _HASH_RE, _ANSWER_IS_RE):
            out += [a for _, _, a in _phrase_candidates(tail, regex)]
    return [a.replace("−", "-") for a in out]


# "$x \\le 2$ is our answer", "Therefore $x \\ge 5$ is the solution": the answer named after it.
_NAMED_RE = re.compile(
    r"(?<!\\)(\$\$?)([^$]{1,300}?)(?<!\\)\1\s*(?:is|are)\s+(?:the|our|my)\s+(?:final\s+|only\s+)?"
    r"(?:answer|solution|result)s?\b",
    re.I,
)


def _named_answers(text: str) -> list[tuple[int, int, str]]:
    tail_start = max(0, len(text) - 4000)
    found = deque(_NAMED_RE.finditer(text, tail_start), maxlen=MAX_CANDIDATES)
    return [(m.start(), m.end(), m.group(2)) for m in found]


def _fallback_answer(text: str) -> Extraction:
    """No anchor: a bare expression, a concluding sentence ending in math, or the ending number."""
    for method, found in (("bare", bare_answer(text)), ("concluding", concluding_math(text))):
        if found is not None:
            answer, start, end = found
            return Extraction((answer,), method, None, ((start, end),))
    return _last_number(text)


def _last_number(text: str) -> Extraction:
    """The fallback: a number that ends the output ("85", "47+38=85", "So x = 5.").

    A number followed by anything else (a refusal that mentions one, a restated problem cut off
    mid-sentence, the last digit of "-[0,1)" or "\\frac{1+\\sqrt{5}}{2}") is not an answer.
    """
    tail_start = max(0, len(text) - 4000)
    tail = text[tail_start:]
    body = strip_trailer(tail)
    found = deque(NUMBER_RE.finditer(body), maxlen=1)
    last = found[0] if found else None
    before = body[: last.start()].rstrip() if last else ""
    if before.endswith(("\\(", "\\[")):
        before = before[:-2]  # "Answer \\( 9 \\)": the math opener is not an operator
    if last is None or last.end() != len(body) or NOT_BEFORE.search(before[-12:]):
        return Extraction((), "last_number", "none")
    if REFUSAL_RE.search(tail) or unfinished_reasoning(text):
        return Extraction((), "last_number", "none")
    s, e = tail_start + last.start(), tail_start + last.end()
    # "5 if open, or 6 if closed": a number, then "or", then the last number, in one sentence, is
    # a hedge; report both so the grader refuses it. ("either A or B ... = 6" is not: no number
    # comes before the "or".)
    sent_start = max(text.rfind(sep, 0, s) for sep in (". ", "\n", "? ", "! ", "; ")) + 1
    sentence = text[max(sent_start, s - 400) : e]
    if POSES.match(sentence):
        return Extraction((), "last_number", "none")  # "If the total is 5", "Let x = 5": posed, not concluded
    for m in re.finditer(r"\bor\b", sentence, re.I):
        earlier = NUMBER_RE.findall(sentence, 0, m.start())
        if earlier and earlier[-1] != last.group():
            return Extraction((earlier[-1], last.group()), "last_number", None, ((s, e),))
    return Extraction((last.group().replace("−", "-"),), "last_number", None, ((s, e),))


_FENCE_RE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+#.-]*)[^\n]*\n", re.M)


def extract_fenced(text: str, languages: tuple[str, ...] | None = None) -> str | None:
    """The last fenced code block whose language is in ``languages`` (any block if None).

    Without a block of a listed language, the last block with no language tag is used. An
    unclosed final fence runs to the end of the text.
    """
    if not isinstance(text, str):
        return None
    blocks: list[tuple[str, str]] = []
    pos = 0
    while len(blocks) < 10_000:
        m = _FENCE_RE.search(text, pos)
        if not m:
            break
        fence, lang = m.group(1), m.group(2).lower()
        close = re.compile(r"^[ \t]*" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}[ \t]*$", re.M)
        c = close.search(text, m.end())
        body = text[m.end() : c.start()] if c else text[m.end() :]
        blocks.append((lang, body))
        pos = c.end() if c else len(text)
    if not blocks:
        return None
    if languages is None:
        return blocks[-1][1]
    wanted = {lang.lower() for lang in languages}
    for lang, body in reversed(blocks):
        if lang in wanted:
            return body
    for lang, body in reversed(blocks):
        if not lang:
            return body
    return None


def extract_code(text: str, language: str = "python") -> str | None:
    """The candidate program in a model output: a fenced block if present, else the whole text."""
    if not isinstance(text, str):
        return None
    aliases = {"python": ("python", "python3", "py"), "sql": ("sql", "sqlite", "duckdb")}
    block = extract_fenced(text, aliases.get(language, (language,)))
    if block is not None:
        return block
    if "```" in text or "~~~" in text:
        block = extract_fenced(text)
        if block is not None:
            return block
    return text


_SQL_START = re.compile(r"^\s*(?:WITH|SELECT)\b", re.I | re.M)


def extract_sql(text: str) -> str | None:
    """The candidate SQL in a model output: a ```sql block, else any block, else from the first
    line that starts with SELECT or WITH, else the whole text (stripped)."""
    if not isinstance(text, str):
        return None
    block = extract_fenced(text, ("sql", "sqlite", "duckdb", "postgresql", "mysql"))
    if block is None and ("```" in text or "~~~" in text):
        block = extract_fenced(text)
    if block is not None:
        return block.strip()
    m = _SQL_START.search(text)
    return (text[m.start() :] if m else text).strip()
