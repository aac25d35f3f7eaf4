"""Tool calls in an assistant message: the forms the chat templates of small open models emit.

Pure: text in, calls and failures out, never an exception. Forms, tried in this order:

- Hermes/Qwen JSON (Qwen2.5, Qwen3, verl's ``hermes``): ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``,
  several per message;
- XML parameters inside the same tags (Qwen3.5/3.6, Qwen3-Coder, Nemotron-3):
  ``<tool_call><function=NAME><parameter=K>V</parameter></function></tool_call>``;
- Llama 3.x JSON: the whole message is ``{"name": ..., "parameters": {...}}`` (optionally after
  ``<|python_tag|>``), one call, no text alongside;
- compact (rlvr's tiny character model, whose 64-character context has no room for JSON): the whole
  message is ``{NAME:TEXT}``, one call whose TEXT is the tool's first argument, e.g. ``{calculate:12*34}``.

Every malformed call (bad JSON, an unclosed tag, a missing name, arguments that are not an
object) is a ``failure`` string: the episode records it as a health signal and the model gets it
back as an error observation. Text outside the tags is kept as ``content``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MAX_PARSE_CHARS", "ParsedCall", "ParsedMessage", "parse_tool_calls"]

MAX_PARSE_CHARS = 200_000
"""Messages longer than this are parsed on their first MAX_PARSE_CHARS characters only (and say so)."""

_OPEN, _CLOSE = "<tool_call>", "</tool_call>"
_FUNC = re.compile(r"<function=([^>\s]+)>(.*?)(?:</function>|$)", re.S)
_PARAM = re.compile(r"<parameter=([^>\s]+)>(.*?)(?:</parameter>|(?=<parameter=)|$)", re.S)
_PYTHON_TAG = "<|python_tag|>"
_COMPACT = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*):(.*)", re.S)


@dataclass(frozen=True)
class ParsedCall:
    """One well-formed call: a tool name and its keyword arguments."""

    name: str
    arguments: dict[str, Any]
    positional: tuple[Any, ...] = ()
    """Arguments by position (the compact form's one text argument)."""


@dataclass
class ParsedMessage:
    """What one assistant message holds."""

    content: str
    """The text outside any tool-call block."""
    calls: list[ParsedCall] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    """One sentence per call that could not be parsed."""
    form: str = ""
    """"hermes", "xml", "llama", "compact" or "" (no call)."""

    @property
    def attempted(self) -> bool:
        """The message tried to call a tool (well-formed or not)."""
        return bool(self.calls or self.failures)


def _call_from_obj(obj: Any, args_key: str) -> ParsedCall | str:
    """A call from a decoded JSON object, or the reason it is not one."""
    if not isinstance(obj, dict):
        return f"a tool call must be a JSON object, got {type(obj).__name__}"
    name = obj.get("name")
    if not isinstance(name, str) or not name.strip():
        return "a tool call needs a string 'name'"
    args = obj.get(args_key, obj.get("arguments", obj.get("parameters", {})))
    if isinstance(args, str):  # some templates double-encode the arguments
        try:
            args = json.loads(args)
        except (json.JSONDecodeError, RecursionError):
            return f"the arguments of {name!r} are a string that is not JSON"
    if args is None:
        args = {}
    if not isinstance(args, dict):
        return f"the arguments of {name!r} must be an object, got {type(args).__name__}"
    return ParsedCall(name.strip(), args)


def _xml_value(raw: str) -> Any:
    """A parameter's text: JSON when it parses as a number, bool, list or object, else the text
    with the template's surrounding newlines removed."""
    text = raw.strip("\n")
    stripped = text.strip()
    if stripped[:1] in "[{" or stripped in ("true", "false", "null") or re.fullmatch(r"-?\d+(\.\d+)?", stripped):
        try:
            return json.loads(stripped)
        except json.JSONDecodeError:
            pass
    return text


def _parse_block(body: str) -> ParsedCall | str:
    """One ``<tool_call>`` body: JSON first, then the XML-parameter form."""
    text = body.strip()
    if text.startswith("<function="):
        m = _FUNC.match(text)
        if not m:
            return "a <function=...> block without a name"
        params = {k: _xml_value(v) for k, v in _PARAM.findall(m.group(2))}
        return ParsedCall(m.group(1), params)
    if not text:
        return "an empty <tool_call> block"
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"the tool call is not valid JSON ({exc.msg} at char {exc.pos})"
    except RecursionError:
        return "the tool call's JSON is nested too deeply"
    return _call_from_obj(obj, "arguments")


def _parse_tagged(text: str, msg: ParsedMessage) -> None:
    outside: list[str] = []
    pos = 0
    while True:
        start = text.find(_OPEN, pos)
        if start < 0:
            outside.append(text[pos:])
            break
        outside.append(text[pos:start])
        end = text.find(_CLOSE, start + len(_OPEN))
        if end < 0:
            body = text[start + len(_OPEN):]
            # A template that stops generation at </tool_call> leaves it off: parse what is there,
            # and call it unclosed only if that does not parse either.
            got = _parse_block(body)
            if isinstance(got, ParsedCall):
                msg.calls.append(got)
            else:
                msg.failures.append(f"an unclosed <tool_call> tag ({got})")
            break
        got = _parse_block(text[start + len(_OPEN):end])
        if isinstance(got, ParsedCall):
            msg.calls.append(got)
        else:
            msg.failures.append(got)
        pos = end + len(_CLOSE)
    msg.content = "".join(outside).strip()
    msg.form = "xml" if "<function=" in text else "hermes"


def parse_tool_calls(text: Any) -> ParsedMessage:
    """The tool calls in one assistant message (see the module docstring); never raises."""
    if not isinstance(text, str):
        return ParsedMessage(content="", failures=[f"the assistant message is not text ({type(text).__name__})"])
    msg = ParsedMessage(content=text)
    if len(text) > MAX_PARSE_CHARS:
        text = text[:MAX_PARSE_CHARS]
        msg.failures.append(f"the message is longer than {MAX_PARSE_CHARS:,} characters; parsed its start only")
    if _OPEN in text:
        _parse_tagged(text, msg)
        return msg
    stripped = text.strip()
    compact = _COMPACT.fullmatch(stripped)
    if compact:
        msg.form, msg.content = "compact", ""
        if stripped.endswith("}"):
            msg.calls.append(ParsedCall(compact.group(1), {}, (compact.group(2)[:-1],)))
        else:
            msg.failures.append(f"an unclosed compact call {{{compact.group(1)}:...")
        return msg
    if stripped.startswith(_PYTHON_TAG):
        stripped = stripped[len(_PYTHON_TAG):].strip()
    elif not (stripped.startswith("{") and stripped.endswith("}") and '"name"' in stripped):
        return msg  # plain text: a final answer
    try:
        obj = json.loads(stripped)
    except (json.JSONDecodeError, RecursionError) as exc:
        why = f"{exc.msg} at char {exc.pos}" if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        msg.failures.append(f"the Llama-style tool call is not valid JSON ({why})")
        msg.form = "llama"
        return msg
    got = _call_from_obj(obj, "parameters")
    if isinstance(got, ParsedCall):
        msg.calls.append(got)
        msg.content = ""
    else:
        msg.failures.append(got)
    msg.form = "llama"
    return msg
