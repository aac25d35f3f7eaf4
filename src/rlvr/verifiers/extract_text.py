"""Text-level helpers for answer extraction: where an anchored answer ends, what value a
one-sentence answer states, whether a number really ends an output, and the unanchored readings
(an output that is one bare expression; a concluding sentence that ends in math).

Pure functions on bounded windows of text (``MAX_ANSWER_CHARS``); linear-time and safe on
hostile input. ``extract`` builds the anchors on top of these.
"""

from __future__ import annotations

import re
from collections import deque

__all__ = [
    "MATH_SPAN",
    "MAX_ANSWER_CHARS",
    "NOT_BEFORE",
    "NUMBER_RE",
    "POSES",
    "REFUSAL_RE",
    "SENTENCE_HEDGE",
    "WORD",
    "bare_answer",
    "clean_answer",
    "clip_phrase_answer",
    "concluding_math",
    "sentence_answer",
    "strip_trailer",
    "unfinished_reasoning",
]

MAX_ANSWER_CHARS = 2000

# Where an anchored answer's sentence ends.
_SENTENCE_END = re.compile(
    r"\.(?=\s|$)|(?<!\d)\.(?!\d)|\n|\s(?:because|since|as|which|so that|where)\s|;|,\s*(?:so|which|since|because)\s"
)
# A number as models write them: "-1,250.50", "3/4", "1e-5", "50%".
NUMBER_RE = re.compile(
    r"(?<![\w.])[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s*/\s*\d+)?(?:[eE][-+]?\d+)?%?"
)
_CLOSING_DOLLAR = re.compile(r"(?<!\\)\$")


def clip_phrase_answer(text: str, start: int) -> tuple[int, str]:
    """The answer text that follows an anchor phrase: up to the end of its sentence."""
    window = text[start : start + MAX_ANSWER_CHARS]
    window = window.lstrip()
    offset = start + (len(text[start : start + MAX_ANSWER_CHARS]) - len(window))
    if window.startswith("$$"):
        close = window.find("$$", 2)
        if close > 0:
            return offset + close + 2, window[2:close]
    elif window.startswith("$"):
        m = _CLOSING_DOLLAR.search(window, 1)  # "$\$84$": an escaped dollar does not close
        if m:
            return offset + m.end(), window[1 : m.start()]
    elif window.startswith("\\("):
        close = window.find("\\)", 2)
        if close > 0:
            return offset + close + 2, window[2:close]
    m = _SENTENCE_END.search(window)
    end = m.start() if m else len(window)
    end = _cut_at_closer(window, end)
    return offset + end, window[:end]


_TAG_RE = re.compile(r"</?[A-Za-z][\w-]*>")


def _cut_at_closer(window: str, end: int) -> int:
    """Where an answer inside tags, parentheses or quotes stops: at a tag (``</answer>``), a quote,
    or a ``)``/``]`` that closes something opened before the anchor ("(The answer is 240)").
    Brackets opened inside the answer are its own ("[0, 1)", "f(x)"); escaped ones are LaTeX."""
    depth = 0
    i = 0
    while i < end:
        ch = window[i]
        if ch == "\\":
            i += 2
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                return i
            depth -= 1
        elif ch in '"\u201c\u201d' or ch == "<" and _TAG_RE.match(window, i):
            return i
        i += 1
    return end


def clean_answer(answer: str, keep_bang: bool = False) -> str:
    a = answer.strip()
    for _ in range(4):
        before = a
        a = a.strip().strip("*").strip()
        if len(a) >= 2 and a[0] == "$" and a[-1] == "$":
            a = a.strip("$")
        elif len(_CLOSING_DOLLAR.findall(a)) == 1 and (a[0] == "$" or (a[-1] == "$" and a[-2:] != "\\$")):
            a = a.strip("$")  # a stray delimiter: "$5" or "5$" is 5
        a = re.sub(r"(?<!\\right)(?<!\\left)[.。" + ("" if keep_bang else "!") + "]+$", "", a).strip()
        if a.startswith("\\(") and a.endswith("\\)"):
            a = a[2:-2]
        if a.startswith("\\[") and a.endswith("\\]"):
            a = a[2:-2]
        if a == before:
            break
    return a[:MAX_ANSWER_CHARS]


# Words outside math: three or more make the answer a sentence rather than an expression.
MATH_SPAN = re.compile(r"\$[^$]*\$|\\\(.*?\\\)|\\[a-zA-Z]+(?:\{[^{}]*\})?")
WORD = re.compile(r"[A-Za-z]{2,}")
_IS_RE = re.compile(r"\s(?:is|are|was|equals|=|be)\s+(?:equal\s+to\s+|exactly\s+)?", re.I)
# A sentence with these is a hedge, a condition or a denial, never a plain statement of a value.
SENTENCE_HEDGE = re.compile(
    r"\b(?:or|either|maybe|possibly|perhaps|between|if|unless|assuming|suppose|when|not|no|"
    r"never|wrong|incorrect|except|without)\b|n't\b",
    re.I,
)


def sentence_answer(answer: str) -> str:
    """The value a one-sentence answer states ("The volume of $ABCDEFGH$ is 120" → ``120``).

    Not a sentence (an expression, "12 apples"): unchanged. Otherwise what follows its last
    "is"/"equals"/"=" (with no number before it), else the sentence's only number; a sentence
    with none of these, or a hedge or condition, is returned unchanged (the grader refuses it).
    """
    plain = MATH_SPAN.sub(" ", answer)
    if len(WORD.findall(plain)) < 3 or SENTENCE_HEDGE.search(plain):
        return answer
    links = deque(_IS_RE.finditer(answer), maxlen=1)
    # The last "is", with no number before it: "The volume of $ABCDEFGH$ is 120". Not "36 and
    # the remainder is 2" (two quantities; the first may be the answer).
    if links and not NUMBER_RE.search(MATH_SPAN.sub(" ", answer[: links[0].start()])):
        raw = answer[links[0].end() :]
        rest = clean_answer(raw)
        rest_plain = MATH_SPAN.sub(" ", rest)
        several = len(NUMBER_RE.findall(rest_plain)) > 1 and len(WORD.findall(rest_plain)) > 1
        if rest and not several and (NUMBER_RE.search(rest) or "$" in raw or "\\" in rest):
            return rest
    numbers = NUMBER_RE.findall(plain)
    if len(numbers) == 1:
        return numbers[0].replace("−", "-")
    return answer


# What may follow the number that ends an output: a full stop, closing math, bold, spaces.
_TRAILER_CHARS = " \t\r\n.!。*$"
# What may come right before it: start, "=", ":", a word, a newline. Not an operator or a
# sub/superscript ("2^5", "3 * 14", "\\frac{1}{2}"), where the number is part of an expression.
NOT_BEFORE = re.compile(
    r"(?:[-+*/^_×·÷{}(\[|<>≤≥,#]|\\(?:cdot|times|div|pm|le|ge|leq|geq)|\d|"
    r"\b(?:step|part|problem|question|exercise|case|page|chapter|section|item|line|option|no)\.?)\Z",
    re.I,
)


def strip_trailer(text: str) -> str:
    end = len(text)
    while end > 0:
        if text[end - 1] in _TRAILER_CHARS:
            end -= 1
        elif end >= 2 and text[end - 2] == "\\" and text[end - 1] in "])":
            end -= 2
        else:
            break
    return text[:end]


REFUSAL_RE = re.compile(
    r"\b(?:I\s*(?:can(?:'|’)?t|cannot|can\s+not|am\s+(?:unable|not\s+able)|'m\s+(?:unable|not\s+able|sorry)|"
    r"won(?:'|’)t)|I\s+am\s+sorry|as\s+an\s+AI|unable\s+to\s+(?:solve|answer|help|determine))\b",
    re.I,
)


def unfinished_reasoning(text: str) -> bool:
    """An open ``<think>`` never closed: the output stopped mid-reasoning (the token limit), so
    its last number is a step, not an answer."""
    opened = text.rfind("<think>")
    return opened >= 0 and text.find("</think>", opened) < 0


_CONCLUSION_CUE = re.compile(
    r"\b(?:therefore|thus|hence|so|finally|we\s+(?:find|get|obtain|have|conclude)|gives?|is|are|equals?|becomes)\b",
    re.I,
)
# A sentence that poses or assumes rather than concludes: a restated problem, a definition.
_NOT_CONCLUSION = re.compile(
    r"\b(?:compute|calculate|find|evaluate|simplify|determine|solve|what|how|which|show|prove|express|"
    r"let|if|suppose|assume|given|when|whether|need|want|asks?)\b|\?",
    re.I,
)


POSES = re.compile(
    r"\s*(?:if|suppose|assume|assuming|let|given|when|what|how|find|compute|calculate|evaluate|determine|solve)\b",
    re.I,
)


def concluding_math(text: str) -> tuple[str, int, int] | None:
    """A concluding sentence that ends the output with math ("So the ordered pair is $(7, 6)$.",
    "We find that $x < 3$."): the math is the answer. Not a restated problem ("Compute $2+3$."),
    a question, or a definition ("Let $x = 5$.")."""
    body = text.rstrip().rstrip(".").rstrip()
    if body.endswith("$$") and not body.endswith("\\$$"):
        opener, closer = "$$", "$$"
    elif body.endswith("$") and not body.endswith("\\$"):
        opener, closer = "$", "$"
    elif body.endswith(("\\)", "\\]")):
        opener, closer = "\\" + {")": "(", "]": "["}[body[-1]], body[-2:]
    else:
        return None
    end = len(body) - len(closer)
    start = body.rfind(opener, max(0, end - MAX_BARE_CHARS), end)
    if start < 0 or (opener == "$" and start > 0 and body[start - 1] in "\\$"):
        return None
    content = body[start + len(opener) : end].strip()
    sentence_start = max(body.rfind(sep, 0, start) for sep in (". ", ".\n", "\n", "? ", "! ", "; ")) + 1
    sentence = re.sub(r"\bwe\s+find\b", "we get", body[sentence_start:start], flags=re.I)
    if (
        not content
        or "$" in content
        or not _CONCLUSION_CUE.search(sentence)
        or _NOT_CONCLUSION.search(sentence)
    ):
        return None
    if REFUSAL_RE.search(text[-4000:]) or unfinished_reasoning(text):
        return None
    return clean_answer(content), start, len(body)


MAX_BARE_CHARS = 300


def bare_answer(text: str) -> tuple[str, int, int] | None:
    """An output that is nothing but one expression ("85", "$\\frac13$", "\\[ x \\ge 5 \\]"):
    the whole output is the answer, graded like a box. Any prose, and it is not."""
    stripped = text.strip()
    if not stripped or len(stripped) > MAX_BARE_CHARS or "?" in stripped:
        return None
    answer = clean_answer(stripped)
    prose = WORD.findall(MATH_SPAN.sub(" ", answer))
    # One word is an answer only on its own ("odd", "$Even$"), never "I think 5".
    if not answer or len(prose) > 1 or (prose and answer != prose[0]) or "$" in answer or "\n\n" in answer:
        return None
    return answer, 0, len(text)
