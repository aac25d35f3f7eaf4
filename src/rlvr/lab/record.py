"""``summary.json`` of a lab run as a typed record: ``LabSummary`` with ``to_dict`` / ``from_dict``.

The file's keys are a contract (bars and scripts read them), so the record's
fields *are* those keys, in the file's order, and ``to_dict`` writes exactly them: ``from_dict(d)
.to_dict() == d`` for any summary the lab writes. Nested sections stay plain JSON objects (their
shapes are documented where they are built, in ``rlvr.lab.summary``); keys a newer writer added
are kept in ``extra`` and written back after the known ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from rlvr.errors import ConfigError

__all__ = ["LabSummary"]

_OPTIONAL = ("timings", "files", "tool")
"""Absent when unset: added by the study after the summary is computed (``rlvr.lab.study.finish_lab``),
or only a tool task's (``tool``)."""


@dataclass
class LabSummary:
    """One lab run's summary (see ``rlvr.lab.summary.lab_summary`` for each section's shape)."""

    kind: str
    version: int
    task: str
    model: str
    verifier: str
    seed: int
    seeds: list[int]
    profile: str
    device: str
    date: str
    config: dict[str, Any]
    data: dict[str, Any]
    curation: dict[str, Any]
    hit_rate: float
    ks: list[int]
    arms: dict[str, Any]
    """arm -> {"pass_at_k", "pass_at_k_ci"} -> test set -> k (a string) -> value (None: no such set)."""
    informative: dict[str, bool]
    compression_ratio: dict[str, Any]
    capability_gain: dict[str, Any]
    crossover_k: int | None
    comparison: dict[str, Any]
    comparison_shifted: dict[str, Any] | None
    spurious: dict[str, Any]
    """``label`` (spurious_gain / no_spurious_gain / control_unstable), ``controls`` per control arm."""
    per_seed: list[dict[str, Any]]
    """One object per seed: ``seed``, ``verdict``, ``pass_at_k`` shaped like ``arms``, ``spurious``."""
    health: dict[str, Any]
    training: dict[str, Any]
    entropy: dict[str, Any]
    trajectory: dict[str, Any]
    """arm -> points ``{"step", "entropy", "pass1_in_distribution", "pass1_shifted", ...}``."""
    trajectory_stats: dict[str, Any]
    trajectory_warnings: list[Any]
    verdict: dict[str, Any]
    """``label``, ``headline``, ``reasons``."""
    timings: dict[str, Any] | None = None
    files: dict[str, Any] | None = None
    tool: dict[str, Any] | None = None
    """A tool task: tool use per arm, the tool-vs-no-tool difference, the impossible-task control."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Keys this version does not know (kept, written back)."""

    @property
    def label(self) -> str:
        """The verdict's label."""
        return str(self.verdict.get("label"))

    def to_dict(self) -> dict[str, Any]:
        """The ``summary.json`` object: every field in order (``timings``/``files`` once set), then ``extra``."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if f.name in _OPTIONAL and value is None:
                continue
            out[f.name] = value
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LabSummary:
        """Read a ``summary.json`` object; one clear error when it is not a lab summary."""
        if not isinstance(data, Mapping) or data.get("kind") != "lab":
            got = data.get("kind") if isinstance(data, Mapping) else type(data).__name__
            raise ConfigError(f"not a lab summary (kind {got!r}, expected 'lab'): was it written by rlvr lab?")
        known = [f.name for f in fields(cls) if f.name != "extra"]
        missing = [k for k in known if k not in data and k not in _OPTIONAL]
        if missing:
            raise ConfigError(f"lab summary lacks {', '.join(missing)}: written by an older rlvr? re-run rlvr lab")
        return cls(
            **{k: data[k] for k in known if k in data},
            extra={k: v for k, v in data.items() if k not in known},
        )
