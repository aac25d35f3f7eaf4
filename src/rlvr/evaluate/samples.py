"""Sample files (the README's file formats) → per-problem outcomes, verifying lines that carry no reward yet.

A samples JSONL has one sampled output per line with ``problem_id``. A line that already carries
``status`` (or, without it, ``reward``) is used as is; any other line is verified with the given
verifier through ``rlvr.engine.verify_iter``. Which samples count:

- a sample with a ``status`` is correct iff ``status == "correct"``; ``error`` (the verifier
  failed) and ``skipped`` (the verifier does not apply) samples are *excluded* from n and counted,
  because they say nothing about the model; ``unparsable``/``timeout`` count as incorrect;
- a sample with only a ``reward`` is correct iff ``reward >= threshold`` (default 1.0);
- ``reasoning_correct`` (bool), when present, is the sample's reasoning verdict for CoT-pass@k;
- the extracted answer for majority vote is ``details.extracted``, else ``answer_extracted``,
  else the final answer found in ``output`` by ``extract_final_answer``.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rlvr.errors import ConfigError, InputError
from rlvr.types import STATUSES, UNJUDGED, Sample

__all__ = ["ProblemOutcomes", "SampleSet", "as_problem_map", "load_samples", "samples_from_records"]


@dataclass(frozen=True)
class ProblemOutcomes:
    """The usable samples of one problem, in file order."""

    problem_id: str
    """The problem's id (``problem_id`` in the file)."""
    correct: tuple[bool, ...]
    """Per usable sample: judged correct."""
    answers: tuple[Any, ...] = ()
    """Per usable sample: hashable extracted final answer or None (only when answers were loaded)."""
    reasoning: tuple[bool | None, ...] = ()
    """Per usable sample: the reasoning verdict (``reasoning_correct``), None where absent."""
    excluded: int = 0
    """Samples left out of n: verifier ``error`` or ``skipped``."""
    unparsable: int = 0
    """Usable samples with status ``unparsable`` (no answer could be extracted)."""

    @property
    def n(self) -> int:
        """Usable samples."""
        return len(self.correct)

    @property
    def c(self) -> int:
        """Correct samples."""
        return sum(self.correct)

    @property
    def has_reasoning(self) -> bool:
        """Whether any sample carries a reasoning verdict."""
        return any(r is not None for r in self.reasoning)

    @property
    def d(self) -> int:
        """Samples whose answer is correct *and* whose reasoning is judged correct (CoT-pass@k)."""
        if not self.reasoning:
            return 0
        return sum(1 for ok, r in zip(self.correct, self.reasoning) if ok and r is True)


@dataclass(frozen=True)
class SampleSet:
    """A model's samples grouped by problem."""

    name: str
    """Display name (the file stem unless given)."""
    problems: Mapping[str, ProblemOutcomes]
    """Problem id → outcomes, in first-seen order."""
    model: str | None = None
    """The ``model`` field of the samples, when they carry one."""
    source: str | None = None
    """The file the samples came from."""
    statuses: Mapping[str, int] = field(default_factory=dict)
    """Sample counts per status (``reward_only`` for lines without a status)."""
    invalid_lines: int = 0
    """Malformed lines skipped (only with ``skip_invalid``)."""

    @property
    def n_samples(self) -> int:
        return sum(p.n for p in self.problems.values())

    @property
    def excluded(self) -> int:
        return sum(p.excluded for p in self.problems.values())

    @property
    def min_n(self) -> int:
        """The fewest usable samples any problem has (the largest k every problem supports)."""
        return min((p.n for p in self.problems.values()), default=0)

    @property
    def unparsable_rate(self) -> float | None:
        """Share of usable samples that were unparsable (None when no sample had a status)."""
        total = self.n_samples
        if total == 0 or not any(s in self.statuses for s in STATUSES):
            return None
        return sum(p.unparsable for p in self.problems.values()) / total

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description for summaries."""
        return {
            "name": self.name,
            "source": self.source,
            "model": self.model,
            "problems": len(self.problems),
            "samples": self.n_samples,
            "excluded_samples": self.excluded,
            "statuses": dict(sorted(self.statuses.items())),
            "unparsable_rate": self.unparsable_rate,
            "invalid_lines": self.invalid_lines,
        }


def as_problem_map(obj: Any) -> Mapping[str, ProblemOutcomes]:
    """Accept a ``SampleSet``, a mapping to ``ProblemOutcomes``, or a mapping to sequences of
    correctness flags (bools or 0/1 rewards) and return problem id → ``ProblemOutcomes``."""
    if isinstance(obj, SampleSet):
        return obj.problems
    if not isinstance(obj, Mapping):
        raise ConfigError(f"expected a SampleSet or a mapping of problem id to samples, got {type(obj).__name__}")
    out: dict[str, ProblemOutcomes] = {}
    for pid, v in obj.items():
        if isinstance(v, ProblemOutcomes):
            out[str(pid)] = v
        else:
            flags = tuple(bool(x) if isinstance(x, bool) else float(x) >= 1.0 for x in v)
            out[str(pid)] = ProblemOutcomes(str(pid), flags)
    return out


def _answer_key(value: Any) -> Any:
    """A hashable, normalised form of an extracted answer (None when there is none)."""
    if value is None:
        return None
    if isinstance(value, str):
        v = " ".join(value.split())
        return v or None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def _extracted(record: Mapping[str, Any], details: Any) -> Any:
    if isinstance(details, Mapping) and details.get("extracted") is not None:
        return _answer_key(details["extracted"])
    if record.get("answer_extracted") is not None:
        return _answer_key(record["answer_extracted"])
    output = record.get("output")
    if isinstance(output, str):
        from rlvr.verifiers.extract import extract_final_answer

        return _answer_key(extract_final_answer(output[:200_000]).answer)
    return None


class _Acc:
    """Per-problem accumulators while reading a file."""

    __slots__ = ("correct", "answers", "reasoning", "excluded", "unparsable", "indices")

    def __init__(self) -> None:
        self.correct: list[bool] = []
        self.answers: list[Any] = []
        self.reasoning: list[bool | None] = []
        self.excluded = 0
        self.unparsable = 0
        self.indices: dict[Any, int] = {}


def load_samples(
    path: str | os.PathLike[str],
    *,
    verifier: Any = None,
    verifier_options: Mapping[str, Any] | None = None,
    engine: Any = None,
    threshold: float = 1.0,
    answers: bool = False,
    name: str | None = None,
    skip_invalid: bool = False,
    on_line: Callable[[], None] | None = None,
    on_invalid: Callable[[InputError], None] | None = None,
) -> SampleSet:
    """Read a samples JSONL into a ``SampleSet``.

    ``verifier`` (a verifier or registry name) scores lines without ``reward``/``status``; without
    one such a line is an ``InputError`` naming the file and line. ``engine`` is an
    ``EngineConfig`` for that verification (default: in-process). ``answers`` also collects the
    extracted answers needed by cons@k. ``on_line`` is called once per line read (progress bars).
    """
    from rlvr.io import iter_jsonl

    p = Path(path)
    invalid = 0

    def lines() -> Iterator[tuple[int, dict[str, Any]]]:
        nonlocal invalid
        for item in iter_jsonl(p, required=("problem_id",), skip_invalid=skip_invalid):
            if on_line is not None:
                on_line()
            if item.error is not None:
                invalid += 1
                if on_invalid is not None:
                    on_invalid(item.error)
                continue
            assert item.record is not None
            yield item.line, item.record

    result = _build(
        lines(),
        src=str(path),
        name=name or p.stem,
        source_dir=str(p.resolve().parent),
        verifier=verifier,
        verifier_options=verifier_options,
        engine=engine,
        threshold=threshold,
        answers=answers,
    )
    return replace(result, invalid_lines=invalid)


def samples_from_records(
    records: Iterable[Mapping[str, Any]],
    *,
    name: str = "samples",
    verifier: Any = None,
    verifier_options: Mapping[str, Any] | None = None,
    engine: Any = None,
    threshold: float = 1.0,
    answers: bool = False,
) -> SampleSet:
    """A ``SampleSet`` from in-memory sample records (the same fields and rules as a samples file;
    errors name ``name`` and the record's 1-based position)."""
    rows = []
    for i, rec in enumerate(records, 1):
        if not isinstance(rec, Mapping):
            raise InputError(f"expected a mapping, got {type(rec).__name__}", name, i)
        if "problem_id" not in rec:
            raise InputError("missing required field(s): problem_id", name, i)
        rows.append((i, dict(rec)))
    return _build(
        rows,
        src=name,
        name=name,
        source_dir=None,
        verifier=verifier,
        verifier_options=verifier_options,
        engine=engine,
        threshold=threshold,
        answers=answers,
    )


def _build(
    lines: Iterable[tuple[int, dict[str, Any]]],
    *,
    src: str,
    name: str,
    source_dir: str | None,
    verifier: Any,
    verifier_options: Mapping[str, Any] | None,
    engine: Any,
    threshold: float,
    answers: bool,
) -> SampleSet:
    if not 0 <= threshold <= 1 or math.isnan(threshold):
        raise ConfigError(f"threshold must be in [0, 1], got {threshold}")
    accs: dict[str, _Acc] = {}
    statuses: Counter[str] = Counter()
    model: str | None = None

    def add(record: Mapping[str, Any], lineno: int, status: str | None, reward: Any, details: Any) -> None:
        pid = str(record["problem_id"])
        acc = accs.get(pid)
        if acc is None:
            acc = accs[pid] = _Acc()
        statuses[status or "reward_only"] += 1
        if status in UNJUDGED:
            acc.excluded += 1
            return
        ok = status == "correct" if status is not None else float(reward) >= threshold
        if status == "unparsable":
            acc.unparsable += 1
        acc.correct.append(ok)
        if answers:
            acc.answers.append(_extracted(record, details))
        rc = record.get("reasoning_correct")
        acc.reasoning.append(rc if isinstance(rc, bool) else None)

    def check(record: dict[str, Any], lineno: int) -> bool:
        """Validate a line; True when it still needs verification."""
        nonlocal model
        pid = record["problem_id"]
        if isinstance(pid, bool) or not isinstance(pid, (str, int)):
            raise InputError(f"problem_id must be a string or integer, got {type(pid).__name__}", src, lineno)
        status = record.get("status")
        if status is not None and status not in STATUSES:
            raise InputError(f"status {status!r} is not one of {', '.join(STATUSES)}", src, lineno)
        reward = record.get("reward")
        if reward is not None and (
            isinstance(reward, bool) or not isinstance(reward, (int, float)) or not 0 <= reward <= 1
        ):
            raise InputError(f"reward must be a number in [0, 1], got {reward!r}", src, lineno)
        rc = record.get("reasoning_correct")
        if rc is not None and not isinstance(rc, bool):
            raise InputError(f"reasoning_correct must be true, false or null, got {rc!r}", src, lineno)
        idx = record.get("sample_index")
        if idx is not None:
            acc = accs.get(str(pid))
            if acc is None:
                acc = accs[str(pid)] = _Acc()
            key = idx if isinstance(idx, (int, str)) else json.dumps(idx)
            if key in acc.indices:
                raise InputError(
                    f"duplicate sample_index {idx!r} for problem_id {pid!r} (first at line {acc.indices[key]})",
                    src,
                    lineno,
                )
            acc.indices[key] = lineno
        if model is None and isinstance(record.get("model"), str):
            model = record["model"]
        return status is None and reward is None

    if verifier is None:
        for lineno, record in lines:
            if check(record, lineno):
                raise InputError("no reward or status on this sample; pass --verifier NAME to verify", src, lineno)
            add(record, lineno, record.get("status"), record.get("reward"), record.get("details"))
    else:
        from rlvr.engine import EngineConfig, verify_iter
        from rlvr.verifiers.base import Verifier
        from rlvr.verifiers.registry import get_verifier

        v = verifier if isinstance(verifier, Verifier) else get_verifier(verifier, **dict(verifier_options or {}))
        required = tuple(getattr(v, "required_fields", ("output",)))
        pending: deque[tuple[int, dict[str, Any]]] = deque()

        def to_verify() -> Iterator[Sample]:
            for lineno, record in lines:
                if not check(record, lineno):
                    add(record, lineno, record.get("status"), record.get("reward"), record.get("details"))
                    continue
                missing = [f for f in required if f not in record]
                if missing:
                    raise InputError(f"missing required field(s): {', '.join(missing)}", src, lineno)
                pending.append((lineno, record))
                sample = Sample.from_record(record)
                if source_dir is not None:  # relative paths in a record resolve against its file's folder
                    sample = replace(sample, metadata={**sample.metadata, "_source_dir": source_dir})
                yield sample

        for verdict in verify_iter(to_verify(), v, engine or EngineConfig(workers=0)):
            lineno, record = pending.popleft()
            add(record, lineno, verdict.status, verdict.score, verdict.details)

    problems: dict[str, ProblemOutcomes] = {}
    for pid, acc in accs.items():
        if not acc.correct and not acc.excluded:
            continue  # only ever seen through sample_index bookkeeping of an invalid line
        problems[pid] = ProblemOutcomes(
            problem_id=pid,
            correct=tuple(acc.correct),
            answers=tuple(acc.answers),
            reasoning=tuple(acc.reasoning),
            excluded=acc.excluded,
            unparsable=acc.unparsable,
        )
    if not problems:
        raise InputError("no samples (the file is empty or every line was invalid)", src)
    return SampleSet(name=name, problems=problems, model=model, source=src, statuses=dict(statuses))
