"""A planted-truth scenario of ``rlvr lab calibrate``: a study whose answer is known by construction
(the arithmetic study's are in ``rlvr.lab.calibrate``, the tool task's in ``rlvr.lab.tool_calibration``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Scenario"]


@dataclass(frozen=True)
class Scenario:
    """A study whose answer is known by construction."""

    name: str
    why: str
    """How the answer is planted (one sentence)."""
    verdict: str | None
    """Planted verdict label (None: not judged)."""
    spurious: str | None
    """Planted label of ``control`` (None: not judged)."""
    control: str = "random_control"
    """The control arm whose label is the observed ``spurious``."""
    overrides: Mapping[str, Any] = field(default_factory=dict)
    """LabConfig fields changed from the profile."""
    ood: tuple[str, bool] | None = None
    """(arm, fires): whether the entropy/transfer warning fires for that arm (None: not judged)."""
    impossible: str | None = None
    """A tool task: the planted call of the impossible-task control (None: not judged, not trained)."""
    audit: bool | None = None
    """A tool task: whether ``rlvr audit --env`` must flag the scenario's environment (None: not run)."""

    def planted(self) -> dict[str, Any]:
        out: dict[str, Any] = {"verdict": self.verdict, "spurious": self.spurious}
        if self.ood is not None:
            out["ood_warning"] = self.ood[1]
        if self.impossible is not None:
            out["impossible"] = self.impossible
        if self.audit is not None:
            out["audit_flags"] = self.audit
        return out
