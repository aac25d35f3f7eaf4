"""The episode record shared by replay, ``rlvr env run``, the audit and training, and the budgets.

An episode is a list of steps (one assistant message and the tool calls it made, each with its
arguments, observation and error), how it ended, and the verdict on its final answer. ``ended``:
``answer`` (a message without a tool call), ``max_turns``, ``budget`` (tool time or tool calls
spent) or ``no_answer`` (the script or the policy stopped while still calling tools).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from rlvr.errors import ConfigError

__all__ = ["ENDINGS", "Budget", "Episode", "Step", "ToolCallRecord", "truncate"]

ENDINGS = ("answer", "max_turns", "budget", "no_answer")


@dataclass(frozen=True)
class Budget:
    """What one episode may spend. Tool time is wall-clock time inside tool calls."""

    max_turns: int = 8
    """Assistant messages per episode; the next one is not played."""
    tool_timeout_s: float = 5.0
    """Seconds one tool call may run (the python tool is stopped, the SQL query interrupted)."""
    episode_tool_s: float = 30.0
    """Seconds of tool time per episode; a call after that is refused and ends the episode."""
    max_tool_calls: int = 32
    """Tool calls per episode; the next one is refused and ends the episode."""
    max_observation_chars: int = 4000
    """Longest observation; the rest is cut with a visible ``…[truncated N chars]`` marker."""

    def __post_init__(self) -> None:
        if self.max_turns < 1 or self.max_tool_calls < 1:
            raise ConfigError("max_turns and max_tool_calls must be >= 1")
        if not 0 < self.tool_timeout_s <= self.episode_tool_s:
            raise ConfigError(
                f"tool_timeout_s must be > 0 and <= episode_tool_s ({self.episode_tool_s:g}); got {self.tool_timeout_s:g}"
            )
        if self.max_observation_chars < 64:
            raise ConfigError("max_observation_chars must be >= 64")


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters plus a marker naming how many were dropped."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…[truncated {len(text) - limit} chars]"


@dataclass
class ToolCallRecord:
    """One tool call: what the model asked and what it got back."""

    name: str
    arguments: Any
    observation: str
    error: str | None = None
    elapsed_s: float = 0.0


@dataclass
class Step:
    """One assistant message and the calls it made."""

    assistant: str
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    parse_failures: list[str] = field(default_factory=list)


@dataclass
class Episode:
    """Everything one episode did; ``record()`` is the JSON form replay and run write."""

    steps: list[Step] = field(default_factory=list)
    final_answer: str | None = None
    ended: str = "no_answer"
    reason: str = ""
    """Why the episode ended when it was not an answer (the budget spent, the turn limit)."""
    tool_time_s: float = 0.0
    calls: list[ToolCallRecord] = field(default_factory=list)
    """Every tool call in order, including those made outside a scripted step (TRL calls tools directly)."""

    @property
    def n_tool_calls(self) -> int:
        return len(self.calls)

    @property
    def n_tool_errors(self) -> int:
        return sum(1 for c in self.calls if c.error)

    @property
    def parse_failures(self) -> int:
        return sum(len(s.parse_failures) for s in self.steps)

    @property
    def over(self) -> bool:
        return self.ended in ("budget", "max_turns") or self.final_answer is not None

    def record(self) -> dict[str, Any]:
        return {
            "steps": [asdict(s) for s in self.steps],
            "final_answer": self.final_answer,
            "ended": self.ended,
            "n_tool_calls": self.n_tool_calls,
            "n_tool_errors": self.n_tool_errors,
            "parse_failures": self.parse_failures,
            "tool_time_s": round(self.tool_time_s, 4),
        }
