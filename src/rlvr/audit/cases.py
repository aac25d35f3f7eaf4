"""Audit cases: known-good and known-bad outputs, from built-in suites, user files and mutation.

A case record is ``{"output", "answer", "should_pass", "test", ...verifier fields}``: ``should_pass``
says whether a correct verifier rewards the output; ``test`` names the case in the report; every
other field (``tests``, ``db``, ``criteria``, ``id``, ...) reaches the verifier as in ``rlvr verify``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlvr.errors import ConfigError, InputError
from rlvr.types import Sample

__all__ = ["AuditCase", "builtin_cases", "case_from_record", "load_cases", "suite_module_name"]

# Keys that describe the case rather than the sample.
_CASE_KEYS = ("should_pass", "test", "mutation")


@dataclass(frozen=True)
class AuditCase:
    """One labelled output for the audit."""

    test: str
    """Name shown in the report (a suite's group/name, or file:line for user cases)."""
    output: Any
    """The model output (usually a string; other types test the verifier's input checks)."""
    answer: Any
    """The reference answer, as in a verification record."""
    should_pass: bool
    """True for a known-good output, False for a known-bad one."""
    fields: Mapping[str, Any] = field(default_factory=dict)
    """Other record fields (``tests``, ``db``, ``criteria``, ``id``, ...)."""
    source: str = "user"
    """Where the case came from: ``suite:<kind>``, ``<file>:<line>``, or ``mutant of <file>:<line>``."""
    mutation: str | None = None
    """The mutation that produced this case, for generated known-bad cases."""
    source_dir: str | None = None
    """Folder that relative paths in the record (a SQL ``db``) resolve against."""

    def to_sample(self) -> Sample:
        """The sample the verifier sees: the record without the case keys, plus ``_source_dir``."""
        record = {**self.fields, "output": self.output, "answer": self.answer}
        sample = Sample.from_record(record)
        if self.source_dir is None:
            return sample
        return Sample(sample.output, sample.answer, {**sample.metadata, "_source_dir": self.source_dir}, sample.id)


def case_from_record(
    record: Mapping[str, Any],
    *,
    default_test: str,
    source: str,
    source_dir: str | None = None,
    force_should_pass: bool | None = None,
    mutation: str | None = None,
) -> AuditCase:
    """Validate one record; raises ``ValueError`` with a message (the caller adds file and line)."""
    if not isinstance(record, Mapping):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    if "output" not in record:
        raise ValueError("missing required field: output")
    should_pass = record.get("should_pass") if force_should_pass is None else force_should_pass
    if not isinstance(should_pass, bool):
        raise ValueError(
            "should_pass must be true (a known-good output) or false (a known-bad one)"
            + ("" if "should_pass" in record else "; the field is missing")
        )
    test = record.get("test", default_test)
    if not isinstance(test, str) or not test.strip():
        raise ValueError("test must be a non-empty string naming the case")
    fields = {k: v for k, v in record.items() if k not in _CASE_KEYS and k not in ("output", "answer")}
    return AuditCase(
        test=test.strip(),
        output=record["output"],
        answer=record.get("answer"),
        should_pass=should_pass,
        fields=fields,
        source=source,
        mutation=mutation if mutation is not None else record.get("mutation"),
        source_dir=source_dir,
    )


def load_cases(path: str | os.PathLike[str]) -> list[AuditCase]:
    """User cases from a JSONL file; a bad line raises ``InputError`` naming the file and line."""
    from rlvr.io import iter_jsonl

    p = Path(path)
    source_dir = str(p.resolve().parent)
    out = []
    for item in iter_jsonl(p, required=("output",)):
        assert item.record is not None
        try:
            out.append(
                case_from_record(
                    item.record, default_test=f"{p.name}:{item.line}", source=f"{p}:{item.line}", source_dir=source_dir
                )
            )
        except ValueError as exc:
            raise InputError(str(exc), str(p), item.line) from None
    if not out:
        raise InputError("no cases (the file is empty)", str(p))
    return out


_KIND_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def suite_module_name(kind: str | None) -> str | None:
    """``rlvr.audit.suites.<kind>`` when that module exists, else None."""
    if not kind or not _KIND_RE.match(kind):
        return None
    name = f"rlvr.audit.suites.{kind}"
    try:
        return name if importlib.util.find_spec(name) is not None else None
    except (ImportError, ValueError):
        return None


def available_suites() -> list[str]:
    """Verifier kinds that have a built-in suite."""
    folder = Path(__file__).resolve().parent / "suites"
    return sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("_"))


def builtin_cases(kind: str | None, workdir: Path) -> list[AuditCase] | None:
    """The built-in suite's cases for ``kind``, or None when the kind has no suite."""
    module_name = suite_module_name(kind)
    if module_name is None:
        return None
    module = importlib.import_module(module_name)
    make = getattr(module, "cases", None)
    if not callable(make):
        raise ConfigError(f"built-in suite {module_name} has no cases(workdir) function")
    records: Iterable[Any] = make(workdir)
    out = []
    for i, record in enumerate(records):
        try:
            out.append(
                case_from_record(
                    record, default_test=f"{kind}#{i + 1}", source=f"suite:{kind}", source_dir=str(workdir)
                )
            )
        except ValueError as exc:
            raise ConfigError(f"built-in suite {module_name}, case {i + 1}: {exc}") from None
    return out
