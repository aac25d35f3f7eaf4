"""Typed records of one lab replicate, from its prep job to the summary.

A seed's *prep* job (``rlvr.lab.arms.prepare_seed``) gives a ``SeedPrep``; each RL arm's job
(``run_arm``) an ``ArmRun`` holding its ``TrainingRun``; ``assemble_seed`` joins them into the
``SeedResult`` that ``rlvr.lab.summary``, ``controls``, ``mutants`` and ``calibrate`` read by
attribute. Records are frozen; a changed record is a ``dataclasses.replace`` copy.

``to_dict`` / ``from_dict`` exist for one boundary only: the job store (``rlvr.lab.store``), which
writes a finished job as JSON under ``<out>/seed<s>/jobs/<job>.json`` and reads it back (the keys
are those of the job files older versions wrote, so their studies still resume). A fresh job goes
through that same JSON text before the study uses it, so a resumed study and an uninterrupted one
read identical values. The nested data (outcomes, curves, records) stays JSON-shaped: test set ->
problem id -> correctness flags, metric name -> per-step values, prompt records as dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from rlvr.errors import ConfigError

__all__ = ["ArmRun", "SeedPrep", "SeedResult", "TrainingRun", "job_record"]

Outcomes = dict[str, dict[str, Any]]
"""Test set (in_distribution / shifted) -> problem id -> correctness flags of its samples."""


def _get(data: Mapping[str, Any], key: str, what: str) -> Any:
    try:
        return data[key]
    except (KeyError, TypeError):
        raise ConfigError(f"a stored {what} lacks {key!r}: not a lab job result of this rlvr version") from None


def _without_empty_tool_use(data: dict[str, Any]) -> dict[str, Any]:
    """A job's JSON without ``tool_use`` when it has none (a single-turn task): its job files keep
    the keys they had before tool tasks existed."""
    if not data.get("tool_use"):
        data.pop("tool_use", None)
    return data


@dataclass(frozen=True)
class TrainingRun:
    """One RL arm's training: the trainer's summary, per-step curves, health warnings and the
    trajectory of probes (step, pass rates on both test sets, entropy since the last probe)."""

    summary: dict[str, Any]
    curves: dict[str, list[Any]]
    """Metric name -> one value per step (metrics the run never logs are left out)."""
    warnings: list[dict[str, Any]] = field(default_factory=list)
    trajectory: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingRun:
        return cls(summary=_get(data, "summary", "training run"), curves=_get(data, "curves", "training run"),
                   warnings=list(data.get("warnings") or []), trajectory=list(data.get("trajectory") or []))


@dataclass(frozen=True)
class SeedPrep:
    """A seed's prep job: what every RL arm of the seed starts from."""

    seed: int
    base_outcomes: Outcomes
    kept: list[dict[str, Any]]
    """The curated RL prompts (records with the base's ``pass_rate``)."""
    curation: dict[str, Any]
    """``Curation.summary()``: prompts, kept, too easy, too hard."""
    hit_rate: float
    """The base's mean pass rate on the kept prompts (the random control's default p)."""
    verifier: str
    test_sets: dict[str, list[dict[str, Any]]]
    data: dict[str, Any]
    """Split sizes and the shifted set's description (summary.json's ``data``)."""
    timings: dict[str, float]
    seconds: float = 0.0
    """Wall seconds of the prep job (set by the job runner)."""
    tool_use: dict[str, Any] = field(default_factory=dict)
    """A tool task: test set -> how the base's episodes used the tool (``rlvr.rollout.tool_use``)."""

    def to_dict(self) -> dict[str, Any]:
        return _without_empty_tool_use(asdict(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SeedPrep:
        g = lambda key: _get(data, key, "seed prep")  # noqa: E731
        return cls(seed=g("seed"), base_outcomes=g("base_outcomes"), kept=g("kept"), curation=g("curation"),
                   hit_rate=g("hit_rate"), verifier=g("verifier"), test_sets=g("test_sets"), data=g("data"),
                   timings=g("timings"), seconds=data.get("seconds", 0.0), tool_use=dict(data.get("tool_use") or {}))


@dataclass(frozen=True)
class ArmRun:
    """One RL arm's job: its samples on the test sets and its training."""

    arm: str
    outcomes: Outcomes
    run: TrainingRun
    timings: dict[str, float]
    seconds: float
    tool_use: dict[str, Any] = field(default_factory=dict)
    """A tool task: test set -> how the arm's episodes used the tool."""

    def to_dict(self) -> dict[str, Any]:
        return _without_empty_tool_use(asdict(self))  # ``run`` becomes its TrainingRun's dict

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ArmRun:
        g = lambda key: _get(data, key, "arm run")  # noqa: E731
        return cls(arm=g("arm"), outcomes=g("outcomes"), run=TrainingRun.from_dict(g("run")), timings=g("timings"),
                   seconds=g("seconds"), tool_use=dict(data.get("tool_use") or {}))


@dataclass(frozen=True)
class SeedResult:
    """One replicate, whole: every arm's outcomes (``base`` included) and every RL arm's training."""

    seed: int
    outcomes: dict[str, Outcomes]
    """Arm -> test set -> problem id -> correctness flags."""
    runs: dict[str, TrainingRun]
    """RL arm -> its training."""
    curation: dict[str, Any]
    curated: int
    hit_rate: float
    verifier: str
    data: dict[str, Any]
    timings: dict[str, float]
    """Every part's phases; ``total``: the seconds the parts took, wherever they ran."""
    tool_use: dict[str, dict[str, Any]] = field(default_factory=dict)
    """A tool task: arm -> test set -> how its episodes used the tool."""


def job_record(job: str, data: Mapping[str, Any]) -> SeedPrep | ArmRun:
    """The typed record of a stored job's JSON result (``prep``, else an arm's name)."""
    return SeedPrep.from_dict(data) if job == "prep" else ArmRun.from_dict(data)
