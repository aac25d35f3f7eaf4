"""The math verifier: is the model's final answer the same mathematical object as the reference?

Pipeline: extract the final answer(s) (``extract``) → normalise, split off units and percent →
parse (``parse``, bounded, no eval) → compare (``compare``): exact rationals with a
relative + absolute tolerance, then structure (sets, tuples, intervals, matrices, equation
chains), then sympy (``symbolic``) for what needs it. Plain numbers never touch sympy. The sympy
step runs in a killable worker process with a hard deadline — never an alarm signal — so
``verify`` is safe from any thread.
"""

from __future__ import annotations

import atexit
import os
import re
import threading
from fractions import Fraction
from functools import lru_cache
from typing import Any

from rlvr.engine.worker import CALL_MAIN, WorkerDied, WorkerProcess, WorkerTimeout, call_in_worker
from rlvr.errors import ConfigError
from rlvr.types import Sample, Verdict
from rlvr.verifiers.base import BaseVerifier
from rlvr.verifiers.extract import extract_final_answer
from rlvr.verifiers.math.compare import compare
from rlvr.verifiers.math.exact import NeedSymbolic, Outcome, Tolerance, TooLarge, Undefined
from rlvr.verifiers.math.form import form_problem
from rlvr.verifiers.math.parse import MathParseError, Node, normalize, parse_answer, plain_number
from rlvr.verifiers.math.units import UNITS, canonical_unit, multiplier, percent_words, split_unit

__all__ = ["MathVerifier", "split_unit"]

# More distinct final answers than this is a shotgun, not an answer; no need to grade each.
MAX_DISTINCT_ANSWERS = 8

# -- the slow path's workers ---------------------------------------------------------------------


class _SymbolicPool:
    """Warm worker processes for sympy; each call checks one out, so threads never share one."""

    def __init__(self) -> None:
        self._idle: list[WorkerProcess] = []
        self._lock = threading.Lock()

    def run(self, args: tuple[Any, ...], timeout: float) -> tuple[bool, str, str]:
        with self._lock:
            worker = self._idle.pop() if self._idle else None
        try:
            if worker is None or not worker.alive():
                worker = WorkerProcess(main=CALL_MAIN)
                # Loading sympy takes a while; it does not count against the check's deadline.
                call_in_worker(worker, "rlvr.verifiers.math.symbolic:warm", (), 120.0)
            result = call_in_worker(worker, "rlvr.verifiers.math.compare:compare_nodes", args, timeout)
        except BaseException:
            if worker is not None:
                worker.kill()  # never hand a worker in an unknown state to the next caller
            raise
        with self._lock:
            if len(self._idle) < 8:
                self._idle.append(worker)
                worker = None
        if worker is not None:
            worker.close()
        return result

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for w in idle:
            w.close()

    def forget(self) -> None:
        """In a forked child: drop the parent's workers without touching them (their pipes are the
        parent's), and the lock, which another thread may have held at the fork."""
        self._idle = []
        self._lock = threading.Lock()


_POOL = _SymbolicPool()
atexit.register(_POOL.close)
# A forked child must not share the parent's worker pipes: it starts with an empty pool.
os.register_at_fork(after_in_child=_POOL.forget)


@lru_cache(maxsize=4096)
def _parse_cached(text: str) -> Node:
    return parse_answer(text)


_INEXACT = re.compile(r"\d?\.\d|\d[eE][-+]?\d")
_HEDGE = re.compile(r"\b(?:or|either|maybe|possibly|perhaps)\b", re.I)
# "x < -2 or x > 7": "or" right after a relation joins solution sets; the parser decides the rest.
_RELATION_OR = re.compile(r"(?:[<>=]|\\[lg]eq?\b)[^,;<>=]{1,80}?\bor\b", re.I)
_STRAY = re.compile(r"(?<!\\)\$|\s+")
# A text answer: words only ("No", "even", "Monday"), compared without case.
_WORDS = re.compile(r"[A-Za-z][A-Za-z' -]*[A-Za-z]")
# A multiple-choice label at the start of an answer: "(C)", "C)", "C.", "C:", "Option C".
_CHOICE = re.compile(
    r"(?:(?:option|choice|answer)\s*)?(?:\(([A-Ja-j])\)|([A-J])(?:[).:]|(?=\s)|$))\s*(.*)", re.I | re.S
)


class MathVerifier(BaseVerifier):
    """Checks a model's final answer against a reference answer, exactly and safely."""

    name = "math"
    required_fields = ("output", "answer")

    def __init__(
        self,
        *,
        rel_tol: float = 1e-9,
        abs_tol: float = 0.0,
        percent: str = "strip",
        units: str = "lenient",
        fallback: str | None = "last_number",
        timeout: float = 5.0,
        form: str | None = None,
    ) -> None:
        """
        rel_tol, abs_tol: numbers are equal when |a-b| <= abs_tol + rel_tol*max(|a|,|b|).
        percent: "strip" (50% is 50) or "both" (50% also equals 0.5).
        units: "lenient" (a unit on one side is ignored; on both sides they must match),
            "convert" (also convert known units: 5 km == 5000 m), or "strict" (units must match
            exactly, including presence).
        fallback: "last_number" to use the last number when no answer is marked, or None.
        timeout: seconds allowed for the symbolic (sympy) check.
        form: None (any equivalent form) or "simplified": an equal answer must also be in lowest
            terms (no 6/8, no \\sqrt{8}, no equation scaled from the reference's) and factored
            where the reference is a factorisation (2^2 \\cdot 233, not 932).
        """
        if form in ("", "any", "none"):
            form = None
        if form not in (None, "simplified"):
            raise ConfigError(f"form must be 'simplified' or None, got {form!r}")
        if percent not in ("strip", "both"):
            raise ConfigError(f"percent must be 'strip' or 'both', got {percent!r}")
        if units not in ("lenient", "convert", "strict"):
            raise ConfigError(f"units must be 'lenient', 'convert' or 'strict', got {units!r}")
        if fallback not in ("last_number", None):
            raise ConfigError(f"fallback must be 'last_number' or None, got {fallback!r}")
        if not (rel_tol >= 0 and abs_tol >= 0):
            raise ConfigError("rel_tol and abs_tol must be >= 0")
        if not timeout > 0:
            raise ConfigError(f"timeout must be > 0 seconds, got {timeout}")
        self.tol = Tolerance(float(rel_tol), float(abs_tol), percent)
        self._exact = Tolerance(0.0, 0.0, percent)
        self.units = units
        self.fallback = fallback
        self.timeout = float(timeout)
        self.form = form

    def close(self) -> None:
        """Stop the warm sympy workers this process started (they also stop at exit)."""
        _POOL.close()

    # -- BaseVerifier --------------------------------------------------------------------------
    def check(self, sample: Sample) -> Verdict:
        ref = sample.answer
        if ref is None or isinstance(ref, bool) or not isinstance(ref, (str, int, float)):
            return Verdict.error(
                f"the sample's reference answer must be a string or number, got {type(ref).__name__}"
            )
        ref_text = repr(ref) if isinstance(ref, float) else str(ref)
        ext = extract_final_answer(sample.output, fallback=self.fallback)
        details: dict[str, Any] = {"method": ext.method, "reference": ref_text}
        if ext.problem == "retracted":
            return Verdict.incorrect("the output retracted its final answer and gave no new one", **details)
        if ext.problem == "empty":
            return Verdict.unparsable("the final answer is empty", **details)
        if ext.problem or not ext.answers:
            return Verdict.unparsable(
                "no final answer found (no \\boxed{}, 'answer is', '####' or number)", **details
            )
        # The same answer twice, once with a stray "$" or other spacing, is one answer.
        distinct: dict[str, str] = {}
        for a in ext.answers:
            distinct.setdefault(_STRAY.sub("", a), a)
        answers = list(distinct.values())
        details["extracted"] = answers[-1] if len(answers) == 1 else answers[:MAX_DISTINCT_ANSWERS]
        if len(answers) > MAX_DISTINCT_ANSWERS:
            return Verdict.incorrect(f"the output gives {len(answers)} different final answers", **details)
        if len(answers) > 1 and _is_collection(ref_text) and _listed_together(sample.output, ext.spans, ext.answers):
            # "\boxed{1}, \boxed{2} and \boxed{3}" for the reference {1, 2, 3}: one answer in parts.
            together = self._check_one(", ".join(f"{{{a}}}" for a in answers), ref_text, details)
            if together.status == "correct":
                return together
        # Every distinct final answer must match; stop as soon as the outcome is known.
        passed: Verdict | None = None
        failed: Verdict | None = None
        for answer in answers:
            verdict = self._check_one(answer, ref_text, details)
            if verdict.status == "correct":
                passed = verdict
            else:
                failed = failed or verdict
                if verdict.status in ("timeout", "error"):
                    return verdict
            if passed and failed:
                break
        if failed is None:
            return passed  # type: ignore[return-value]
        if passed is not None:
            return Verdict.incorrect(
                f"the output gives several different final answers ({', '.join(a[:40] for a in answers[:4])})",
                **details,
            )
        return failed

    # -- one candidate answer ------------------------------------------------------------------
    def _check_one(self, answer: str, ref_text: str, details: dict[str, Any]) -> Verdict:
        # Tolerance is for inexact values: two exact integers or fractions must be equal exactly.
        tol = self.tol if (_INEXACT.search(answer) or _INEXACT.search(ref_text)) else self._exact
        cand_fast, ref_fast = plain_number(answer.strip()), plain_number(ref_text.strip())
        if cand_fast is not None and ref_fast is not None:
            if not tol.close(cand_fast, ref_fast):
                return Verdict.incorrect(f"{answer} is not the reference {ref_text}", **details, match="exact")
            if self.form and "/" in answer:
                return self._form_verdict(answer, ref_text, details, "exact")
            return Verdict.correct(f"{answer} equals the reference {ref_text}", **details, match="exact")
        cand_norm, ref_norm = normalize(answer), normalize(ref_text)
        if _is_text(ref_norm) and _text_key(cand_norm) == _text_key(ref_norm):
            return Verdict.correct(f"{answer[:80]} matches the reference text", **details, match="text")
        if _HEDGE.search(cand_norm) and not _HEDGE.search(ref_norm) and not _RELATION_OR.search(cand_norm):
            return Verdict.incorrect(f"hedged final answer: {answer[:80]!r}", **details)
        choice = _choice_verdict(cand_norm, ref_norm)
        if choice is not None:
            ok, label = choice
            if ok:
                return Verdict.correct(f"{answer[:80]} picks choice {label}", **details, match="choice")
            return Verdict.incorrect(
                f"{answer[:80]} does not pick choice {label} (the reference {ref_text[:80]})",
                **details,
                match="choice",
            )
        cand_val, cand_unit = split_unit(percent_words(cand_norm))
        ref_val, ref_unit = split_unit(percent_words(ref_norm))
        cand_mult, cand_unit = multiplier(cand_unit)
        ref_mult, ref_unit = multiplier(ref_unit)
        scale, unit_problem = self._units(cand_unit, ref_unit)
        scale *= cand_mult / ref_mult
        if unit_problem:
            return Verdict.incorrect(unit_problem, **details, unit=cand_unit, reference_unit=ref_unit)
        try:
            ref_node = _parse_cached(ref_val)
        except MathParseError:
            ref_node = None
        try:
            cand_node = _parse_cached(cand_val)
        except MathParseError as exc:
            if ref_node is None or _text_key(cand_norm) == _text_key(ref_norm):
                return self._text_verdict(cand_norm, ref_norm, answer, ref_text, details)
            if "hedged" in str(exc):
                return Verdict.incorrect(f"hedged final answer: {answer[:80]!r}", **details)
            return Verdict.unparsable(
                f"could not read the final answer {answer[:80]!r} as math: {exc}", **details
            )
        if ref_node is None:
            return self._text_verdict(cand_norm, ref_norm, answer, ref_text, details)
        if scale != 1:
            cand_node = ("mul", cand_node, ("num", scale))
        try:
            outcome = self._compare(cand_node, ref_node, tol)
        except WorkerTimeout:
            return Verdict.timeout(
                f"the symbolic check took longer than {self.timeout:g}s and was stopped", **details
            )
        except WorkerDied as exc:
            return Verdict.error(f"the symbolic checker died: {exc}", **details)
        if outcome.how == "too_large":
            return Verdict.unparsable(
                f"the final answer is too large to evaluate safely ({outcome.why})", **details
            )
        if outcome.how == "undefined":
            return Verdict.incorrect(f"the final answer is undefined ({outcome.why})", **details)
        if outcome.equal and self.form:
            problem = form_problem(cand_node, ref_node)
            if problem:
                return Verdict.incorrect(f"{answer[:80]} is equal but not in simplified form: {problem}", **details)
        if outcome.equal:
            return Verdict.correct(
                f"{answer[:80]} is equivalent to the reference {ref_text[:80]}", **details, match=outcome.how
            )
        return Verdict.incorrect(
            f"{answer[:80]} does not match the reference {ref_text[:80]}: {outcome.why}",
            **details,
            match=outcome.how,
        )

    def _compare(self, cand: Node, ref: Node, tol: Tolerance) -> Outcome:
        try:
            return compare(cand, ref, tol)
        except TooLarge as exc:
            return Outcome(False, "too_large", str(exc))
        except Undefined as exc:
            return Outcome(False, "undefined", str(exc))
        except NeedSymbolic:
            pass
        # Always in a killable worker, even inside an engine worker: the verifier's own timeout
        # then holds everywhere, and a slow sympy call never costs the engine worker itself.
        equal, how, why = _POOL.run((cand, ref, tol), self.timeout)
        return Outcome(equal, how, why)

    def _units(self, cand: str | None, ref: str | None) -> tuple[Fraction, str | None]:
        """Scale factor to apply to the candidate, or a reason the units disagree."""
        if cand is None and ref is None:
            return Fraction(1), None
        if cand is None or ref is None:
            if self.units == "strict":
                return Fraction(
                    1
                ), f"unit mismatch: answer has {cand or 'no unit'}, reference has {ref or 'no unit'}"
            return Fraction(1), None
        cu, ru = canonical_unit(cand), canonical_unit(ref)
        if cu == ru:
            return Fraction(1), None
        if self.units == "convert" and cu in UNITS and ru in UNITS and UNITS[cu][0] == UNITS[ru][0]:
            return UNITS[cu][1] / UNITS[ru][1], None
        return Fraction(1), f"unit mismatch: the answer is in {cand}, the reference in {ref}"

    def _form_verdict(self, answer: str, ref_text: str, details: dict[str, Any], how: str) -> Verdict:
        try:
            problem = form_problem(_parse_cached(normalize(answer)), _parse_cached(normalize(ref_text)))
        except MathParseError:
            problem = None
        if problem:
            return Verdict.incorrect(f"{answer[:80]} is equal but not in simplified form: {problem}", **details)
        return Verdict.correct(f"{answer} equals the reference {ref_text}", **details, match=how)

    def _text_verdict(
        self, cand: str, ref: str, answer: str, ref_text: str, details: dict[str, Any]
    ) -> Verdict:
        if _text_key(cand) == _text_key(ref) and _text_key(ref):
            return Verdict.correct(f"{answer[:80]} matches the reference text", **details, match="text")
        return Verdict.incorrect(
            f"{answer[:80]!r} does not match the reference {ref_text[:80]!r}", **details, match="text"
        )


def _text_key(s: str) -> str:
    """Comparison key for non-math answers: case, spacing, braces and wrapping punctuation ignored."""
    s = re.sub(r"\\text\w*|\\mathrm|[{}\s]", "", s).lower()
    s = s.strip(".:")
    if re.fullmatch(r"\(([a-z])\)|([a-z])\)", s):
        s = s.strip("()")
    return s


def _listed_together(output: str, spans: tuple[tuple[int, int], ...], answers: tuple[str, ...]) -> bool:
    """Several answers given as one list ("\\boxed{1}, \\boxed{2} and \\boxed{3}"): each from its
    own anchor, with no hedge ("or", "maybe") between them and no later revision."""
    if len(spans) != len(answers) or len(spans) > MAX_DISTINCT_ANSWERS:
        return False
    return not any(_HEDGE.search(output, a[1], b[0]) for a, b in zip(spans, spans[1:]))


def _is_collection(ref_text: str) -> bool:
    """Whether the reference is several values (a list or set), so several answers may form it."""
    try:
        return _parse_cached(normalize(ref_text))[0] in ("list", "set")
    except MathParseError:
        return False


def _is_text(s: str) -> bool:
    """A words-only answer ("No", "even", "Monday"): compared as text, without case."""
    return bool(_WORDS.fullmatch(s)) and re.search("[A-Za-z]{2}", s) is not None


def _choice(s: str) -> tuple[str, str] | None:
    """``"(C) 12"`` → ``("C", "12")``; ``"C"`` → ``("C", "")``; None without a leading label."""
    m = _CHOICE.fullmatch(s.strip())
    if not m:
        return None
    letter, rest = m.group(1) or m.group(2), m.group(3).strip()
    if m.group(2) and not m.group(2).isupper():
        return None
    if m.group(2) and rest and s.strip()[1:2].isspace() and not re.match(r"-?\d", rest):
        return None  # "A \\cup B", "C x": a bare letter then math is an expression, not a label
    return letter.upper(), rest


def _choice_verdict(cand: str, ref: str) -> tuple[bool, str] | None:
    """Multiple choice: when the reference is a choice label, the answer's label decides.

    ``(C) 12`` answers ``C``; ``C`` answers ``(C) 12``; when both give a value after the label,
    the value is graded as usual (None), as it is when the reference is not a label.
    """
    ref_choice = _choice(ref)
    if ref_choice is None or (ref_choice[1] and not re.match(r"[-\d(\\]", ref_choice[1])):
        return None  # "A is the set..." is a sentence, not a labelled choice
    cand_choice = _choice(cand)
    if cand_choice is None:
        return None
    if re.search(r"(?:^|[\s(])[A-J](?:\)|$|\s)", cand_choice[1]):
        return False, ref_choice[0]  # "(B) and (C)": more than one choice
    if cand_choice[1] and ref_choice[1]:
        return None if cand_choice[0] == ref_choice[0] else (False, ref_choice[0])
    return cand_choice[0] == ref_choice[0], ref_choice[0]
