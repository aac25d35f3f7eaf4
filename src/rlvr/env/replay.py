"""Scripted and policy-driven episodes over JSONL files, writing the episode records.

Replay input: one ``{"id", "prompt", "answer", "db"?, "turns": [assistant messages]}`` per line;
``rlvr env run`` needs no ``turns`` (a policy writes them). Output: every input field plus
``reward``, ``status``, ``reason``, ``details``, ``steps``, ``n_tool_calls``, ``n_tool_errors``,
``parse_failures``, ``ended``, ``final_answer``, and ``problem_id`` (the ``id`` when absent) and
``output`` (the final answer when absent), so ``rlvr eval``/``compare`` read them like samples.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rlvr.env.base import (
    ToolEnv,
    budget_of,
    episode_of,
    finish,
    play_script,
    play_turn,
    schemas_of,
    verdict_of,
)
from rlvr.env.builtin import SqlEnv
from rlvr.errors import InputError
from rlvr.io import iter_jsonl

__all__ = ["check_row", "episode_record", "load_rows", "run_episode", "transcript_prompt"]


def check_row(row: dict[str, Any], env: ToolEnv, scripted: bool, src: str, line: int) -> None:
    """Raise ``InputError`` naming file and line for a row this environment cannot play."""
    if scripted:
        turns = row.get("turns")
        if not isinstance(turns, list) or not all(isinstance(t, str) for t in turns):
            raise InputError("'turns' must be a list of assistant messages (strings)", src, line)
    elif not isinstance(row.get("prompt"), str):
        raise InputError("'prompt' must be a string", src, line)
    if isinstance(env, SqlEnv) and (not isinstance(row.get("db"), str) or not row["db"].strip()):
        raise InputError("the sql environment needs a 'db' field (the path of a SQLite file)", src, line)


def load_rows(path: Path, env: ToolEnv, scripted: bool) -> list[tuple[int, dict[str, Any]]]:
    """Every row, validated before any episode runs (a bad line stops the command before it writes)."""
    rows = []
    for item in iter_jsonl(path):
        assert item.record is not None
        check_row(item.record, env, scripted, str(path), item.line)
        rows.append((item.line, item.record))
    return rows


def episode_record(row: dict[str, Any], env: ToolEnv) -> dict[str, Any]:
    """The output record of the episode ``env`` just played for ``row``."""
    ep, verdict = episode_of(env), verdict_of(env)
    rec = dict(row)
    rec.update(ep.record())
    rec.update(reward=verdict.score, status=verdict.status, reason=verdict.reason, details=verdict.details)
    if ep.reason:
        rec["ended_reason"] = ep.reason
    if "problem_id" not in rec and "id" in rec:
        rec["problem_id"] = rec["id"]
    rec.setdefault("output", ep.final_answer or "")
    return rec


def _row_for_env(row: dict[str, Any], source_dir: str) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "turns"} | {"_source_dir": source_dir}


def replay_rows(env: ToolEnv, rows: list[tuple[int, dict[str, Any]]], path: Path) -> Iterator[dict[str, Any]]:
    """One record per scripted row, in order."""
    src = os.path.dirname(os.path.abspath(path))
    for _, row in rows:
        play_script(env, _row_for_env(row, src), row["turns"])
        yield episode_record(row, env)


def transcript_prompt(system: str, messages: list[dict[str, str]]) -> str:
    """A plain-text chat transcript in the Hermes layout (for policies that take text)."""
    parts = [f"<|im_start|>system\n{system}<|im_end|>"]
    for m in messages:
        parts.append(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>")
    parts.append("<|im_start|>assistant\n")
    return "\n".join(parts)


def run_episode(env: ToolEnv, row: dict[str, Any], generate: Callable[[str], str], source_dir: str = "") -> dict[str, Any]:
    """One episode with a policy: ``generate(prompt_text) -> assistant message`` is called until a
    message without a tool call or a budget; tool observations are appended as ``tool`` turns."""
    extra = env.reset(**_row_for_env(row, source_dir))
    ep = episode_of(env)
    tools = json.dumps(schemas_of(env))
    system = ("You may call tools. Call one as <tool_call>{\"name\": NAME, \"arguments\": {...}}</tool_call>; "
              f"answer without a call when done. Tools: {tools}")
    user = str(row.get("prompt", "")) + (f"\n\n{extra}" if extra else "")
    messages = [{"role": "user", "content": user}]
    while not ep.over:
        if len(ep.steps) >= budget_of(env).max_turns:
            ep.ended, ep.reason = "max_turns", f"more than {budget_of(env).max_turns} assistant turns"
            break
        text = generate(transcript_prompt(system, messages))
        step = play_turn(env, text)
        messages.append({"role": "assistant", "content": text})
        for call in step.tool_calls:
            messages.append({"role": "tool", "content": f"<tool_response>\n{call.observation}\n</tool_response>"})
        if not step.tool_calls and not ep.over:
            finish(env, text)
    return episode_record(row, env)
