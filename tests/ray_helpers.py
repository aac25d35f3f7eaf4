"""Picklable helpers for the Ray engine tests (worker processes import this module by name)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rlvr.types import Sample, Verdict
from rlvr.verifiers.base import safe_verify


def parent_cmdline() -> str:
    """Command line of this process's parent (Ray names actor processes ``ray::Class...``)."""
    raw = Path(f"/proc/{os.getppid()}/cmdline").read_bytes()
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


class RecordsParent:
    """Wraps a verifier; each verdict's details gain ``parent``: who started the checking process."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def verify(self, sample: Sample) -> Verdict:
        v = safe_verify(self.inner, sample)
        return Verdict(v.score, v.status, v.reason, {**v.details, "parent": parent_cmdline()})
