"""``ToolEnv``: the environment protocol, in TRL's ``environment_factory`` shape exactly.

A subclass is constructible with no arguments (configure it with ``functools.partial`` or a
subclass), ``reset(**row)`` starts an episode from a dataset row, every public method is a tool
(type hints and a Google docstring give its schema), and ``get_reward()`` scores the episode's
final answer with the environment's verifier, in this process. Everything else is private: TRL
offers every public method to the model, so there is no public ``close``; resources (the python
tool's sandbox session) are released at the next ``reset``, when the instance is collected, or
at exit (``weakref.finalize``).

Every public method a subclass defines is wrapped once, at class creation, by the budget guard:
the call is charged to the episode (time, count), an exception or a refused call becomes an
``{"error": ...}`` observation, and the observation is cut at the budget's size with a visible
marker. The same path serves TRL (which calls the methods directly) and rlvr's own loop
(``play_turn``, which parses the assistant message and calls them).

The ground truth (``answer``) is kept in the instance's private state: it is never passed to a
tool and the reward is computed here, from the final answer, by a verifier the agent cannot reach.
"""

from __future__ import annotations

import functools
import inspect
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rlvr.env.episode import Budget, Episode, Step, ToolCallRecord, truncate
from rlvr.env.parse import parse_tool_calls
from rlvr.env.schema import RESERVED, tool_schema, tools_of
from rlvr.types import Sample, Verdict
from rlvr.verifiers.base import safe_verify
from rlvr.verifiers.registry import get_verifier

__all__ = [
    "ToolEnv",
    "ToolError",
    "budget_of",
    "capture_answers",
    "episode_of",
    "finish",
    "play_script",
    "play_turn",
    "schemas_of",
    "verdict_of",
]


class ToolError(Exception):
    """A tool's refusal with a message meant for the model (no exception type in front of it)."""


def _guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` behind the episode's budget guard (``ToolEnv._invoke``); same name, signature, hints
    and docstring, so its schema is unchanged."""

    @functools.wraps(fn)
    def tool(*args: Any, **kwargs: Any) -> str:
        # The instance comes positionally; an argument named "self" from the model stays in kwargs
        # and is refused as malformed, instead of a TypeError before the guard.
        return args[0]._invoke(fn, args[1:], kwargs)

    tool.__rlvr_guarded__ = True  # type: ignore[attr-defined]
    return tool


class ToolEnv:
    """Base class of tool environments (see the module docstring)."""

    _default_verifier: str | Callable[..., Any] = "math"
    _default_budget = Budget()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, member in list(vars(cls).items()):
            if (inspect.isfunction(member) and not name.startswith("_") and name not in RESERVED
                    and not getattr(member, "__rlvr_guarded__", False)
                    and not inspect.iscoroutinefunction(member)):  # async tools (TRL awaits them) run unguarded
                setattr(cls, name, _guarded(member))

    def __init__(self, *, verifier: str | Callable[..., Any] | None = None, budget: Budget | None = None,
                 **verifier_options: Any) -> None:
        self._verifier_spec = verifier or self._default_verifier
        self._verifier_options = verifier_options
        self._verifier: Any = None
        self._limits = budget or self._default_budget
        self._row: dict[str, Any] = {}
        self._answer: Any = None
        self._episode = Episode()
        self._verdict: Verdict | None = None

    # -- the protocol ----------------------------------------------------------------------------
    def reset(self, **row: Any) -> str | None:
        """Start an episode from a dataset row (every column); returns text to add to the prompt."""
        self._release()
        self._answer = row.get("answer")
        self._row = {k: v for k, v in row.items() if k != "answer"}
        self._episode = Episode()
        self._verdict = None
        return self._begin(self._row)

    def get_reward(self) -> float:
        """The verifier's score of the episode's final answer (0.0 without one)."""
        return float(self._judge().score)

    # -- hooks for subclasses --------------------------------------------------------------------
    def _begin(self, row: dict[str, Any]) -> str | None:
        """Prepare the episode's tools; the text returned is added to the prompt."""
        return None

    def _release(self) -> None:
        """Release what the last episode's tools hold (a sandbox session)."""

    # -- internals -------------------------------------------------------------------------------
    def _invoke(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        ep, b = self._episode, self._limits
        name = fn.__name__
        t0 = time.monotonic()
        error = None
        observation = ""
        if ep.over:
            error = f"the episode is over ({ep.ended}); no more tool calls"
        elif ep.n_tool_calls >= b.max_tool_calls:
            error = f"tool-call budget spent ({b.max_tool_calls} calls per episode)"
            ep.ended, ep.reason = "budget", error
        elif ep.tool_time_s >= b.episode_tool_s:
            error = f"tool-time budget spent ({b.episode_tool_s:g} s per episode)"
            ep.ended, ep.reason = "budget", error
        else:
            try:
                inspect.signature(fn).bind(self, *args, **kwargs)
            except TypeError as exc:
                error = f"malformed arguments for {name}: {exc}"
            else:
                try:
                    result = fn(self, *args, **kwargs)
                    observation = result if isinstance(result, str) else json.dumps(result, default=str)
                except ToolError as exc:
                    error = str(exc)
                except Exception as exc:  # a tool's bug is an observation, never a crash
                    error = f"{type(exc).__name__}: {exc}"
        elapsed = time.monotonic() - t0
        ep.tool_time_s += elapsed
        if error is not None:
            error = truncate(error, b.max_observation_chars)
            observation = json.dumps({"error": error})
        else:
            observation = truncate(observation, b.max_observation_chars)
        arguments = dict(kwargs) if not args else {"args": list(args), **kwargs}
        ep.calls.append(ToolCallRecord(name, arguments, observation, error, round(elapsed, 4)))
        return observation

    def _refuse(self, name: str, arguments: Any, error: str) -> ToolCallRecord:
        """A call that never reached a tool (unknown name, unparsable): recorded, answered."""
        rec = ToolCallRecord(name, arguments, json.dumps({"error": error}), error)
        self._episode.calls.append(rec)
        return rec

    def _judge(self) -> Verdict:
        if self._verdict is None:
            ep = self._episode
            if ep.final_answer is None:
                why = ep.reason or "the episode ended without a final answer"
                self._verdict = Verdict.unparsable(f"no final answer ({ep.ended}): {why}")
            else:
                if self._verifier is None:
                    self._verifier = get_verifier(self._verifier_spec, **self._verifier_options)
                rid = self._row.get("id", self._row.get("problem_id"))
                sample = Sample(output=ep.final_answer, answer=self._answer, metadata=dict(self._row),
                                id=None if rid is None else str(rid))
                self._verdict = safe_verify(self._verifier, sample)
        return self._verdict


def episode_of(env: ToolEnv) -> Episode:
    """The current episode's record."""
    return env._episode


def budget_of(env: ToolEnv) -> Budget:
    """The environment's budget."""
    return env._limits


def verdict_of(env: ToolEnv) -> Verdict:
    """The verdict on the current episode's final answer (computed once)."""
    return env._judge()


def finish(env: ToolEnv, text: str) -> None:
    """End the episode with ``text`` as its final answer (an assistant message without a call)."""
    ep = env._episode
    if ep.final_answer is None and ep.ended not in ("budget", "max_turns"):
        ep.final_answer, ep.ended = text, "answer"
        env._verdict = None


def schemas_of(env: ToolEnv) -> list[dict[str, Any]]:
    """The OpenAI function schemas of the environment's tools (what a chat template renders)."""
    return [tool_schema(fn) for fn in tools_of(env).values()]


def play_turn(env: ToolEnv, text: str, *, tools: Mapping[str, Callable[..., Any]] | None = None) -> Step:
    """One assistant message through the environment: its calls run (in order, each through the
    budget guard), unknown names and unparsable calls get error observations, and a message that
    attempts no call ends the episode as its final answer. ``tools``: the tools offered (default:
    all of the environment's; ``{}`` withholds them, so every call is answered "unknown tool")."""
    ep = env._episode
    parsed = parse_tool_calls(text)
    step = Step(assistant=text if isinstance(text, str) else str(text), parse_failures=list(parsed.failures))
    ep.steps.append(step)
    if not parsed.attempted:
        finish(env, parsed.content)
        return step
    tools = tools_of(env) if tools is None else tools
    for failure in parsed.failures:
        step.tool_calls.append(env._refuse("", None, f"unparsable tool call: {failure}"))
    for call in parsed.calls:
        fn = tools.get(call.name)
        if fn is None:
            known = ", ".join(sorted(tools)) or "none"
            step.tool_calls.append(env._refuse(call.name, call.arguments, f"unknown tool {call.name!r}; tools: {known}"))
            continue
        before = len(ep.calls)
        fn(*call.positional, **call.arguments)
        step.tool_calls.extend(ep.calls[before:])
        if ep.ended == "budget":
            break
    return step


def play_script(env: ToolEnv, row: dict[str, Any], turns: Sequence[Any]) -> Episode:
    """A scripted episode: ``reset(**row)``, then each assistant message in order until one
    without a call, a budget, or the end of ``turns`` (nothing is fed back to the script)."""
    env.reset(**row)
    ep = env._episode
    for i, text in enumerate(turns):
        if ep.over:
            break
        if i >= budget_of(env).max_turns:
            ep.ended, ep.reason = "max_turns", f"more than {budget_of(env).max_turns} assistant turns"
            break
        play_turn(env, text)
    if not ep.over:
        ep.ended = "no_answer"
        ep.reason = ep.reason or "the script ended while the agent was still calling tools"
    return ep


def capture_answers(completions: list[Any], environments: list[ToolEnv] | None = None, **_: Any) -> list[float]:
    """A TRL reward function that scores nothing (0.0 each) and hands each completion's last
    assistant message to its environment as the final answer, so the environment's own
    ``get_reward`` column (which TRL adds after ``reward_funcs``) can judge it. TRL passes no
    completion text to ``get_reward``; put this first in ``reward_funcs``."""
    for completion, env in zip(completions, environments or [], strict=False):
        if isinstance(completion, list):
            texts = [m.get("content") for m in completion if isinstance(m, dict) and m.get("role") == "assistant"]
            text = texts[-1] if texts else ""
        else:
            text = completion
        if isinstance(env, ToolEnv):
            parsed = parse_tool_calls(text if isinstance(text, str) else "")
            if not parsed.attempted:
                finish(env, parsed.content)
    return [0.0 for _ in completions]
