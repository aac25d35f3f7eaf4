"""``rlvr sample``: n samples per prompt into a samples JSONL, resumable.

Each finished prompt's n lines are appended in one write, so the file only ever grows by whole
groups. Re-running with the same ``out`` keeps every complete group, drops a group cut short by a
crash (and a torn last line), and samples only the prompts still missing: no duplicates, no lost
lines. Each line carries the prompt record's fields (``prompt``, ``answer``, ...), ``problem_id``
(the prompt's ``id`` or ``problem_id``), ``sample_index`` (0..n−1), ``output``, ``model`` and,
when the source reports it, ``finish_reason``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlvr.errors import ConfigError, InputError

__all__ = ["PromptRecord", "ResumeState", "read_prompts", "scan_existing", "write_samples"]

# Fields a sample line owns; a prompt record's own values for these are replaced.
_SAMPLE_FIELDS = ("problem_id", "sample_index", "output", "model", "finish_reason", "reward", "status", "reason", "details")


@dataclass(frozen=True)
class PromptRecord:
    """One prompt to sample."""

    line: int
    problem_id: str
    prompt: str
    record: dict[str, Any]


def read_prompts(path: str | os.PathLike[str]) -> list[PromptRecord]:
    """Prompts JSONL: ``prompt`` (string) and ``id`` or ``problem_id`` per line; ids unique."""
    from rlvr.io import iter_jsonl

    src = str(path)
    out: list[PromptRecord] = []
    seen: dict[str, int] = {}
    for item in iter_jsonl(path, required=("prompt",)):
        rec = item.record
        assert rec is not None
        pid = rec.get("problem_id", rec.get("id"))
        if pid is None:
            raise InputError("missing an id: give each prompt an 'id' or 'problem_id'", src, item.line)
        if isinstance(pid, bool) or not isinstance(pid, (str, int)):
            raise InputError(f"id must be a string or integer, got {type(pid).__name__}", src, item.line)
        pid = str(pid)
        if pid in seen:
            raise InputError(f"duplicate id {pid!r} (first at line {seen[pid]})", src, item.line)
        seen[pid] = item.line
        if not isinstance(rec["prompt"], str):
            raise InputError(f"prompt must be a string, got {type(rec['prompt']).__name__}", src, item.line)
        out.append(PromptRecord(item.line, pid, rec["prompt"], rec))
    if not out:
        raise InputError("no prompts (empty file)", src)
    return out


@dataclass(frozen=True)
class ResumeState:
    """What an existing output file already holds."""

    complete: frozenset[str]
    """Problem ids with all n samples."""
    dropped_lines: int
    """Lines of incomplete groups (or a torn last line) removed on resume."""


def scan_existing(out: str | os.PathLike[str], n: int, model: str) -> ResumeState:
    """Check ``out`` for resumption; rewrite it (atomically) without incomplete groups if needed.

    Raises ``ConfigError`` when the file holds samples of another model or a larger n, since
    mixing them would corrupt the result silently.
    """
    p = Path(out)
    if not p.exists():
        return ResumeState(frozenset(), 0)
    groups: dict[str, list[tuple[int, bytes]]] = {}
    torn = 0
    unterminated = False
    with p.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
                pid = str(rec["problem_id"])
                idx = int(rec["sample_index"])
            except (ValueError, KeyError, TypeError):
                if raw.endswith(b"\n"):  # a complete line we cannot read is not ours to delete
                    raise InputError(
                        "not a sample line written by rlvr sample; use another --out", str(out), lineno
                    ) from None
                torn += 1  # the last line, cut off by a crash mid-write
                continue
            if rec.get("model") != model:
                raise ConfigError(
                    f"{out}:{lineno}: holds samples of model {rec.get('model')!r}, not {model!r}; "
                    "use another --out"
                )
            if idx >= n:
                raise ConfigError(
                    f"{out}:{lineno}: holds sample_index {idx} but -n is {n}; use the same -n or another --out"
                )
            unterminated = not raw.endswith(b"\n")  # parsed, but the next append would glue onto it
            groups.setdefault(pid, []).append((idx, raw if raw.endswith(b"\n") else raw + b"\n"))
    complete = {pid for pid, g in groups.items() if sorted(i for i, _ in g) == list(range(n))}
    dropped = sum(len(g) for pid, g in groups.items() if pid not in complete) + torn
    if dropped or unterminated:
        tmp = p.with_name(p.name + ".resume")
        with tmp.open("wb") as fh:
            for pid, g in groups.items():
                if pid in complete:
                    for _, raw in g:
                        fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    return ResumeState(frozenset(complete), dropped)


def sample_lines(prompt: PromptRecord, completions: list[dict[str, Any]], model: str) -> str:
    """The JSONL text of one prompt's group of samples."""
    base = {k: v for k, v in prompt.record.items() if k not in _SAMPLE_FIELDS and k != "id"}
    lines = []
    for i, comp in enumerate(completions):
        line = {**base, "problem_id": prompt.problem_id, "sample_index": i, "output": comp["text"], "model": model}
        if comp.get("finish_reason") is not None:
            line["finish_reason"] = comp["finish_reason"]
        lines.append(json.dumps(line, ensure_ascii=False, allow_nan=False, default=str))
    return "\n".join(lines) + "\n"


def write_samples(
    out: str | os.PathLike[str],
    prompts: list[PromptRecord],
    n: int,
    model: str,
    generate: Callable[[list[PromptRecord]], Iterable[tuple[str, list[dict[str, Any]]]]],
    *,
    on_group: Callable[[str], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Sample the prompts ``out`` does not hold yet and append each finished group.

    ``generate(todo)`` yields ``(problem_id, completions)`` in any order, each completion a dict
    with ``text`` (and optionally ``finish_reason``), exactly n per prompt. ``on_start(done)`` gets
    the number of prompts already complete; ``on_group(problem_id)`` runs after each group is saved.
    """
    if n < 1:
        raise ConfigError(f"-n must be >= 1, got {n}")
    state = scan_existing(out, n, model)
    todo = [p for p in prompts if p.problem_id not in state.complete]
    by_id = {p.problem_id: p for p in todo}
    if on_start is not None:
        on_start(len(prompts) - len(todo))
    written = 0
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with open(out, "a", encoding="utf-8") as fh:
        for pid, comps in _checked(generate(todo), by_id, n):
            fh.write(sample_lines(by_id[pid], comps, model))  # one write per group
            fh.flush()
            written += 1
            if on_group is not None:
                on_group(pid)
        os.fsync(fh.fileno())
    return {
        "prompts": len(prompts),
        "already_complete": len(prompts) - len(todo),
        "sampled": written,
        "dropped_partial_lines": state.dropped_lines,
        "n": n,
        "samples_written": written * n,
    }


def _checked(
    groups: Iterable[tuple[str, list[dict[str, Any]]]], by_id: dict[str, PromptRecord], n: int
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    done: set[str] = set()
    for pid, comps in groups:
        if pid not in by_id or pid in done:
            raise ConfigError(f"sampler returned an unexpected or repeated prompt id {pid!r}")
        if len(comps) != n:
            raise ConfigError(f"sampler returned {len(comps)} completions for {pid!r}, expected {n}")
        done.add(pid)
        yield pid, comps
