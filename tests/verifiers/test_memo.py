"""The verdict cache: a repeat of the same output for the same problem is checked once, with the
same verdict a fresh check gives; what the verdict may depend on is in the key."""

from __future__ import annotations

from rlvr.types import Sample, Verdict
from rlvr.verifiers.base import get_verifier
from rlvr.verifiers.memo import Memoized, memo_key


class Counting:
    """Scores 1 when output == answer; counts its calls; fails on the output 'boom'."""

    name = "counting"

    def __init__(self) -> None:
        self.calls = 0

    def verify(self, sample: Sample) -> Verdict:
        self.calls += 1
        if sample.output == "boom":
            raise RuntimeError("broken")
        ok = sample.output == str(sample.answer)
        return Verdict(1.0 if ok else 0.0, "correct" if ok else "incorrect", "compared")


def test_repeats_are_checked_once_with_the_same_verdicts():
    inner, memo = Counting(), Memoized(Counting())
    samples = [Sample(output=o, answer=7, metadata={"_step": s}) for s, o in enumerate(["7", "8", "7", "7", "8"])]
    fresh = [inner.verify(s) for s in samples]
    cached = [memo.verify(s) for s in samples]
    assert cached == fresh
    assert memo.verifier.calls == 2 and (memo.hits, memo.misses) == (3, 2)  # _step is not in the key


def test_the_key_holds_answer_and_metadata():
    memo = Memoized(Counting())
    a = Sample(output="7", answer=7, metadata={"numbers": [3, 4]})
    assert memo.verify(a).status == "correct"
    assert memo.verify(Sample(output="7", answer=8, metadata={"numbers": [3, 4]})).status == "incorrect"
    memo.verify(Sample(output="7", answer=7, metadata={"numbers": [2, 5]}))
    assert memo.verifier.calls == 3 and memo.hits == 0
    assert memo_key(a) != memo_key(Sample(output="7", answer="7", metadata={"numbers": [3, 4]}))


def test_errors_and_unkeyable_samples_are_never_cached():
    memo = Memoized(Counting())
    boom = Sample(output="boom", answer=1)
    assert memo.verify(boom).status == "error" and memo.verify(boom).status == "error"
    odd = Sample(output="7", answer=7, metadata={"obj": object()})
    assert memo_key(odd) is None
    assert memo.verify(odd).status == "correct" and memo.verify(odd).status == "correct"
    assert memo.verifier.calls == 4 and memo.hits == 0


def test_the_cache_is_bounded_and_the_wrapper_keeps_the_name():
    memo = Memoized(Counting(), maxsize=2)
    for o in ("1", "2", "3", "1"):
        memo.verify(Sample(output=o, answer=1))
    assert memo.verifier.calls == 4  # "1" was evicted by "3"
    assert memo.name == "counting"
    wrapped = get_verifier(Memoized(get_verifier("math")))
    assert wrapped.verify(Sample(output="12", answer="12")).status == "correct"
