"""Core data types shared by every part of rlvr."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

__all__ = ["STATUSES", "UNJUDGED", "Sample", "Status", "Verdict"]

Status = Literal["correct", "incorrect", "unparsable", "timeout", "error", "skipped"]
STATUSES: tuple[str, ...] = get_args(Status)
# The statuses that are not the model's fault: the verifier failed (``error``) or does not apply
# (``skipped``). Trainers, curation, pass@k and the audit leave these samples out; this is the one
# definition they all import.
UNJUDGED: tuple[Status, ...] = ("error", "skipped")

# Fields of a verification record that are not verifier metadata.
_RECORD_CORE = ("id", "output", "answer")
# Fields that rlvr writes into a record; they are never passed on as metadata.
_RESULT_FIELDS = ("reward", "status", "reason", "details")


@dataclass(frozen=True)
class Sample:
    """One model output to check.

    ``output`` is the model's text, ``answer`` the ground truth (a reference answer, gold SQL, ...),
    ``metadata`` everything else a verifier may need (``tests``, ``db``, ``criteria``, ...).
    Keys starting with ``_`` are set by rlvr itself: ``_source_dir`` is the folder of the JSONL
    file a sample came from, for resolving relative paths.
    """

    output: str
    answer: Any = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Sample:
        """Build a sample from a JSONL record (``output``, ``answer``, ``id``, ...); unknown keys become metadata."""
        meta = {k: v for k, v in record.items() if k not in _RECORD_CORE and k not in _RESULT_FIELDS}
        rid = record.get("id")
        return cls(
            output=record.get("output"),  # type: ignore[arg-type]  # checked by verifiers
            answer=record.get("answer"),
            metadata=meta,
            id=None if rid is None else str(rid),
        )


@dataclass(frozen=True)
class Verdict:
    """A verifier's judgement of one sample.

    ``score`` is in [0, 1]; ``status`` says what happened (one of ``STATUSES``); ``reason`` is one
    sentence a person can act on; ``details`` holds the evidence (extracted answer, failing test, ...).
    """

    score: float
    status: Status
    reason: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown verdict status {self.status!r}; expected one of {STATUSES}")
        score = float(self.score)
        if not (math.isfinite(score) and 0.0 <= score <= 1.0):
            raise ValueError(f"verdict score must be a finite number in [0, 1], got {self.score!r}")
        object.__setattr__(self, "score", score)

    @property
    def reward(self) -> float:
        """The score, under the name trainers use."""
        return self.score

    @property
    def judged(self) -> bool:
        """False for ``error`` and ``skipped`` (``UNJUDGED``): the verifier did not judge the output."""
        return self.status not in UNJUDGED

    @property
    def passed(self) -> bool:
        """True when the verifier judged the sample correct."""
        return self.status == "correct"

    def to_dict(self) -> dict[str, Any]:
        """The fields rlvr writes into an output record."""
        return {
            "reward": self.score,
            "status": self.status,
            "reason": self.reason,
            "details": dict(self.details),
        }

    # Constructors for the common cases keep call sites short and uniform.
    @classmethod
    def correct(cls, reason: str = "matches the reference", score: float = 1.0, **details: Any) -> Verdict:
        return cls(score, "correct", reason, details)

    @classmethod
    def incorrect(cls, reason: str, score: float = 0.0, **details: Any) -> Verdict:
        return cls(score, "incorrect", reason, details)

    @classmethod
    def unparsable(cls, reason: str, **details: Any) -> Verdict:
        return cls(0.0, "unparsable", reason, details)

    @classmethod
    def timeout(cls, reason: str, **details: Any) -> Verdict:
        return cls(0.0, "timeout", reason, details)

    @classmethod
    def error(cls, reason: str, **details: Any) -> Verdict:
        return cls(0.0, "error", reason, details)

    @classmethod
    def skipped(cls, reason: str, **details: Any) -> Verdict:
        return cls(0.0, "skipped", reason, details)
