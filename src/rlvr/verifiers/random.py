"""The random control verifier: a Bernoulli(p) reward that ignores the output entirely.

It is the spurious-reward control (papers.md): if training on it "improves" a model as much as the
real verifier does, the real verifier's gains are not evidence of learning the task. The draw is a
pure function of ``(seed, sample id, step)`` — a blake2b hash, never Python's ``hash()`` or global
random state — so the same sample at the same step gets the same reward in every process and run.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from rlvr.errors import ConfigError
from rlvr.types import Sample, Verdict
from rlvr.verifiers.base import BaseVerifier

__all__ = ["RandomVerifier", "bernoulli_draw"]

_SCALE = float(2**64)


def bernoulli_draw(seed: int, sample_id: str, step: int) -> float:
    """A uniform number in [0, 1) determined by ``(seed, sample_id, step)`` alone."""
    key = f"{seed}|{step}|{sample_id}".encode("utf-8", "surrogatepass")
    digest = hashlib.blake2b(key, digest_size=8, person=b"rlvr-random").digest()
    return int.from_bytes(digest, "big") / _SCALE


def stable_sample_id(sample: Sample) -> str:
    """``sample.id``, or a content hash of output + answer + prompt when the sample has no id."""
    if sample.id is not None:
        return str(sample.id)
    content = json.dumps(
        [sample.output, sample.answer, sample.metadata.get("prompt")], default=repr, ensure_ascii=False
    )
    return "h:" + hashlib.blake2b(content.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


class RandomVerifier(BaseVerifier):
    """Rewards 1 with probability ``p``, independently of the output (a control, not a judge).

    The training step is read from ``sample.metadata["_step"]`` (default 0); the sample id from
    ``sample.id`` (a content hash when it is None).
    """

    name = "random"
    required_fields = ("output",)
    audit_kind = "random"

    def __init__(self, p: float = 0.5, seed: int = 0) -> None:
        """p: probability of reward 1. seed: picks one fixed, reproducible reward pattern."""
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= float(p) <= 1.0:
            raise ConfigError(f"p must be a probability in [0, 1], got {p!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigError(f"seed must be an integer, got {seed!r}")
        self.p = float(p)
        self.seed = seed

    def check(self, sample: Sample) -> Verdict:
        step = sample.metadata.get("_step", 0)
        if isinstance(step, bool) or not isinstance(step, int):
            return Verdict.error(f"metadata _step must be an integer training step, got {step!r}")
        sample_id = stable_sample_id(sample)
        u = bernoulli_draw(self.seed, sample_id, step)
        details: dict[str, Any] = {"control": "random", "p": self.p, "seed": self.seed, "step": step, "draw": u}
        if u < self.p:
            return Verdict.correct(f"random control: rewarded with probability {self.p:g} (draw {u:.3f})", **details)
        return Verdict.incorrect(
            f"random control: not rewarded (probability {self.p:g}, draw {u:.3f}); the output was not read",
            **details,
        )

    def __repr__(self) -> str:
        return f"RandomVerifier(p={self.p!r}, seed={self.seed!r})"
