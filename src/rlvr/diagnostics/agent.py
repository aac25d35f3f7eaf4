"""Agent health: one training step's tool-using episodes turned into ``tools/*`` step metrics.

The trainer produces one ``rlvr.env.Episode`` per completion (B*G of them) and calls
``agent_metrics`` once per step; the ``HealthMonitor`` then judges the ``tools/*`` keys like any
other metric (``rlvr.diagnostics.checks``: tool errors, parse failures, turn explosion, truncated
observations, forged observations, tool abandonment). Pure: episodes in, numbers out.

What counts (so that each rate means one thing):

- a *call* is a well-formed tool call that reached the environment, an unknown tool name
  included; a malformed call is a *parse failure*. ``play_turn`` records a parse failure twice,
  in ``Step.parse_failures`` and as a refused ``ToolCallRecord`` with an empty name (parsed calls
  always have a name), so that record is left out of the calls here;
- an *observation* is what a call returned; it was cut by the budget when it carries
  ``truncate``'s ``…[truncated N chars]`` marker (also inside a JSON error, where ``…`` is
  escaped as ``\\u2026``);
- a *forged observation* is tool-result markup written by the model in its own message (the
  model playing the tool instead of calling it), as ``forged(text)`` decides.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from rlvr.diagnostics import keys
from rlvr.errors import ConfigError

if TYPE_CHECKING:  # rlvr.env pulls in the verifiers; the records are only read here
    from rlvr.env.episode import Episode, ToolCallRecord

__all__ = ["HERMES_OBSERVATION_MARKERS", "agent_metrics", "forged_markup", "is_truncated"]

HERMES_OBSERVATION_MARKERS: tuple[str, ...] = ("<tool_response>", "</tool_response>", "<|im_start|>tool")
"""Markup that only the chat template writes around a tool's result (Hermes/Qwen templates)."""

# ``rlvr.env.episode.truncate``'s marker, raw or JSON-escaped (an error observation is JSON). The
# guard cuts last, so the marker ends the observation (or its error string, before ``"}``): only the
# tail is searched, which keeps a step of long observations cheap.
_TRUNCATED = re.compile(r"(?:…|\\u2026)\[truncated \d+ chars\]")
_TAIL = 64


def forged_markup(markers: Sequence[str]) -> Callable[[str], bool]:
    """A ``forged`` test for ``agent_metrics``: true when the text contains any of ``markers``."""
    found = tuple(m for m in markers if m)
    if not found:
        raise ConfigError("forged_markup needs at least one non-empty marker, e.g. HERMES_OBSERVATION_MARKERS")

    def forged(text: str) -> bool:
        return any(m in text for m in found)

    return forged


def is_truncated(observation: str) -> bool:
    """The observation was cut at the budget's size (it carries the truncation marker)."""
    return _TRUNCATED.search(observation[-_TAIL:]) is not None


def _calls(episode: Episode) -> list[ToolCallRecord]:
    """The episode's calls without the records of parse failures (refused, with an empty name)."""
    return [c for c in episode.calls if c.name != ""]


def _share(count: int, total: int) -> float:
    return count / total if total else 0.0


def agent_metrics(
    episodes: Sequence[Episode], *, forged: Callable[[str], bool] | None = None
) -> dict[str, float]:
    """One step's ``tools/*`` metrics (keys in ``rlvr.diagnostics.keys``) over its episodes.

    Rates over calls are 0.0 when no call was made; ``tools/forged_obs_rate`` is 0.0 without a
    ``forged`` test (``forged_markup(HERMES_OBSERVATION_MARKERS)`` for Hermes/Qwen templates).
    An empty step gives ``{}``: no episodes, nothing to judge.
    """
    n = len(episodes)
    if n == 0:
        return {}
    calls = [_calls(ep) for ep in episodes]
    n_calls = sum(len(c) for c in calls)
    n_errors = sum(1 for cs in calls for c in cs if c.error)
    n_truncated = sum(1 for cs in calls for c in cs if is_truncated(c.observation))
    n_parse = sum(ep.parse_failures for ep in episodes)
    turns = [len(ep.steps) for ep in episodes]
    forged_eps = 0
    if forged is not None:
        forged_eps = sum(1 for ep in episodes if any(forged(s.assistant) for s in ep.steps))
    no_attempt = [len(cs) == 0 and ep.parse_failures == 0 for ep, cs in zip(episodes, calls, strict=True)]
    return {
        keys.TOOLS_CALLS_PER_EPISODE: n_calls / n,
        keys.TOOLS_CALL_RATE: sum(1 for cs in calls if cs) / n,
        keys.TOOLS_ERROR_RATE: _share(n_errors, n_calls),
        keys.TOOLS_PARSE_FAILURE_RATE: _share(n_parse, n_calls + n_parse),
        keys.TOOLS_TURNS_MEAN: sum(turns) / n,
        keys.TOOLS_TURNS_MAX: float(max(turns)),
        keys.TOOLS_OBS_TRUNCATED_RATE: _share(n_truncated, n_calls),
        keys.TOOLS_BUDGET_END_RATE: sum(1 for ep in episodes if ep.ended in ("budget", "max_turns")) / n,
        keys.TOOLS_NO_ANSWER_RATE: sum(1 for ep in episodes if ep.ended == "no_answer") / n,
        keys.TOOLS_FORGED_OBS_RATE: forged_eps / n,
        keys.TOOLS_ANSWER_WITHOUT_TOOL_RATE: sum(
            1 for ep, none in zip(episodes, no_attempt, strict=True) if none and ep.ended == "answer"
        ) / n,
    }
