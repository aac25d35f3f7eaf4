"""How a policy's tool turns look in tokens: the prompt (with the tools offered), where an assistant
turn ends, and how tool observations are appended, for multi-turn rollouts (``rlvr.rollout``).

- ``CompactTurns`` (the built-in tiny character model, 64 characters of context): a call is the whole
  turn ``{calculate:12*34}`` (``rlvr.env.parse``'s compact form), the turn ends at its ``}``, and the
  observation follows as ``[408]``; the final answer ends at EOS.
- ``ChatTurns`` (transformers models with a chat template): the prompt is the template's rendering of
  the user message with the tools' schemas; a turn ends at EOS (the template's end of turn); the
  observations are the template's own rendering of ``tool`` messages and the next assistant header,
  cut from a rendered conversation, so what the model sees in training is what it would see in chat.

Observation tokens are context, never trained on; a model that writes observation markup itself
(``markers``) is forging a tool result, which ``forged`` flags for the agent health checks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from rlvr.errors import ConfigError

__all__ = ["ChatTurns", "CompactTurns", "TurnFormat", "turn_format"]


class TurnFormat(Protocol):
    """What a multi-turn rollout needs to know about a policy's tool-call format."""

    markers: tuple[str, ...]
    """Observation markup; the model writing one itself is a forged observation."""

    def prompt_ids(self, policy: Any, prompt: str, schemas: Sequence[dict[str, Any]]) -> list[int]:
        """The first context: the prompt, offering ``schemas`` (none: no tools offered)."""
        ...

    def stop_ids(self, policy: Any) -> list[int]:
        """Tokens besides EOS that end an assistant turn."""
        ...

    def observation_ids(self, policy: Any, observations: Sequence[str]) -> list[int]:
        """The tokens appended after a turn that called tools: its observations, then whatever
        opens the next assistant turn."""
        ...

    def forged(self, text: str) -> bool:
        """The assistant text contains observation markup."""
        ...


class CompactTurns:
    """The tiny model's form: ``{name:arg}`` calls, ``[observation]`` results (cut to ``max_chars``)."""

    markers = ("[", "]")

    def __init__(self, max_chars: int = 12) -> None:
        self.max_chars = max_chars

    def prompt_ids(self, policy: Any, prompt: str, schemas: Sequence[dict[str, Any]]) -> list[int]:
        return list(policy.encode_prompts([prompt])[0])

    def stop_ids(self, policy: Any) -> list[int]:
        return policy.tokenizer.encode("}")

    def observation_text(self, observations: Sequence[str]) -> str:
        """``[obs1;obs2]``, brackets inside replaced so the markup stays unambiguous, cut to ``max_chars``."""
        text = ";".join(o.replace("[", "(").replace("]", ")") for o in observations)
        return "[" + text[: self.max_chars] + "]"

    def observation_ids(self, policy: Any, observations: Sequence[str]) -> list[int]:
        return policy.tokenizer.encode(self.observation_text(observations))

    def forged(self, text: str) -> bool:
        return any(m in text for m in self.markers)

    def transcript(self, tool: str, argument: str, observation: str, answer: str) -> list[tuple[str, bool]]:
        """A worked tool-using solution in this form, as ``(text, supervised)`` segments for the
        tiny warm-up: the call, the observation exactly as a rollout appends it (unsupervised), the answer."""
        return [("{" + f"{tool}:{argument}" + "}", True), (self.observation_text([observation]), False), (answer, True)]

    def worked(self, env_factory: Callable[[], Any]) -> Callable[[Mapping[str, Any]], list[tuple[str, bool]]]:
        """Record -> the worked tool-using solution of a record with a ``tool_input``: the
        environment's one tool called on it for real (the observation is the tool's own output),
        then the record's answer. What ``worked_examples(transcript=...)`` shows the tiny warm-up."""
        from rlvr.env.schema import tools_of

        env = env_factory()
        tools = tools_of(env)
        if len(tools) != 1:
            raise ConfigError(f"tool transcripts need an environment with one tool, this one has {len(tools)}")
        (name, tool), = tools.items()

        def transcript(record: Mapping[str, Any]) -> list[tuple[str, bool]]:
            env.reset(**record)
            arg = str(record["tool_input"])
            return self.transcript(name, arg, tool(arg), str(record.get("answer")))

        return transcript


_SENTINEL = "rlvr-sentinel-7c1f"


class ChatTurns:
    """A chat template's tool turns (Hermes ``<tool_response>`` for Qwen-style templates)."""

    markers = ("<tool_response>", "</tool_response>", "<|im_start|>tool")

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        eos = getattr(tokenizer, "eos_token", None)
        if not eos:
            raise ConfigError("multi-turn rollouts need a tokenizer with an eos token (the end of an assistant turn)")
        self._eos = eos

    def _render(self, messages: list[dict[str, Any]], schemas: Sequence[dict[str, Any]], gen: bool) -> str:
        # ``schemas_of`` already gives OpenAI tool entries ({"type": "function", "function": ...}),
        # which is what TRL passes to the template too: wrapping them again renders a nested schema.
        tools = list(schemas) or None
        try:
            return self.tokenizer.apply_chat_template(messages, tools=tools, tokenize=False, add_generation_prompt=gen)
        except Exception as exc:  # a template without tool support raises its own error types
            raise ConfigError(f"the chat template cannot render tool turns: {exc}") from None

    def prompt_ids(self, policy: Any, prompt: str, schemas: Sequence[dict[str, Any]]) -> list[int]:
        text = self._render([{"role": "user", "content": prompt}], schemas, True)
        return self.tokenizer.encode(text, add_special_tokens=False)

    def stop_ids(self, policy: Any) -> list[int]:
        return []

    def observation_ids(self, policy: Any, observations: Sequence[str]) -> list[int]:
        # Render user → assistant (a sentinel) → tool messages → the next assistant header, and keep
        # what follows the sentinel's end of turn: the model's sampled turn already ends with EOS.
        messages = [{"role": "user", "content": "q"}, {"role": "assistant", "content": _SENTINEL}]
        messages += [{"role": "tool", "content": o} for o in observations]
        text = self._render(messages, [], True)
        at = text.find(_SENTINEL)
        end = text.find(self._eos, at) if at >= 0 else -1
        if end < 0:
            raise ConfigError("the chat template does not end an assistant turn with the tokenizer's eos token")
        return self.tokenizer.encode(text[end + len(self._eos):], add_special_tokens=False)

    def forged(self, text: str) -> bool:
        return any(m in text for m in self.markers)


def turn_format(policy: Any) -> TurnFormat:
    """The tool-turn format of ``policy``: compact for the tiny model, the chat template's otherwise."""
    from rlvr.policy.tiny import TinyPolicy

    if isinstance(policy, TinyPolicy):
        return CompactTurns()
    tokenizer = getattr(policy, "tokenizer", None)
    if tokenizer is not None and getattr(policy, "chat_template", False):
        return ChatTurns(tokenizer)
    raise ConfigError(
        f"{type(policy).__name__} has no tool-turn format: multi-turn rollouts need the built-in tiny model "
        "or a transformers model with a chat template (model.chat_template = true)"
    )
