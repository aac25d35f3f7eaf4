"""A verdict cache for deterministic verifiers: the same output for the same problem is checked once.

RL and evaluation sample the same prompt many times (G completions per step, the same prompt again
on later steps, n test samples per problem) and a sharpening policy repeats itself: most outputs
are exact repeats. For a verifier whose verdict is a pure function of the sample's output, answer
and metadata (math, countdown, answer-shape), ``Memoized`` returns the cached verdict of an
identical earlier sample instead of checking it again; the verdicts are the same objects a fresh
check would produce (``Verdict`` is frozen), so results are unchanged.

Never wrap a verifier whose verdict depends on the sample id, the step or the clock: the random
control (a coin per sample id and step), a code sandbox (timeouts), a remote judge.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from rlvr.types import Sample, Verdict
from rlvr.verifiers.base import safe_verify

__all__ = ["Memoized", "memo_key"]

_IGNORED_METADATA = ("_step",)
"""Metadata rlvr adds per sample that a deterministic verifier does not read."""


def memo_key(sample: Sample) -> str | None:
    """What a deterministic verdict depends on: output, answer and metadata (without ``_step``), as
    one JSON string; None when they are not JSON-able (such a sample is checked, never cached)."""
    try:
        meta = {k: v for k, v in sample.metadata.items() if k not in _IGNORED_METADATA}
        return json.dumps([sample.output, sample.answer, meta], sort_keys=True, allow_nan=True)
    except (TypeError, ValueError):
        return None


class Memoized:
    """``verifier`` with an LRU cache of at most ``maxsize`` verdicts keyed by ``memo_key``.

    ``hits`` / ``misses`` count cache use (a hit rate near 0 means the wrapper only costs a key).
    """

    def __init__(self, verifier: Any, maxsize: int = 100_000) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        self.verifier = verifier
        self.maxsize = maxsize
        self.name = getattr(verifier, "name", type(verifier).__name__)
        self._cache: OrderedDict[str, Verdict] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def verify(self, sample: Sample) -> Verdict:
        key = memo_key(sample)
        if key is not None:
            got = self._cache.get(key)
            if got is not None:
                self._cache.move_to_end(key)
                self.hits += 1
                return got
        self.misses += 1
        verdict = safe_verify(self.verifier, sample)
        if key is not None and verdict.status != "error":  # a verifier failure may be transient: retry it
            self._cache[key] = verdict
            if len(self._cache) > self.maxsize:
                self._cache.popitem(last=False)
        return verdict

    def __repr__(self) -> str:
        return f"Memoized({self.verifier!r})"
