"""Tool schemas (OpenAI function JSON) from a method's type hints and Google docstring.

``transformers.utils.get_json_schema`` is what TRL and verl use; when transformers is importable
it is used, else ``fallback_schema`` builds the same shape for the simple signatures tools have
(str, int, float, bool, list[...], dict, optional). ``tools_of`` lists an environment's tools
exactly as TRL finds them: every public function of the class but ``reset`` and ``get_reward``.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable
from typing import Any

__all__ = ["RESERVED", "fallback_schema", "tool_schema", "tools_of"]

RESERVED = ("reset", "get_reward")
"""Public names of the protocol that are not tools."""

_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", dict: "object", list: "array"}


def tools_of(env: Any) -> dict[str, Callable[..., Any]]:
    """The bound tool methods of an environment, by name (TRL's rule: public functions of its
    class, less ``reset`` and ``get_reward``)."""
    return {
        name: getattr(env, name)
        for name, _ in inspect.getmembers(type(env), predicate=inspect.isfunction)
        if name not in RESERVED and not name.startswith("_")
    }


def _type_schema(hint: Any) -> dict[str, Any]:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        out = _type_schema(args[0]) if len(args) == 1 else {"type": [_type_schema(a)["type"] for a in args]}
        if len(args) < len(typing.get_args(hint)):
            out = {**out, "nullable": True}
        return out
    if origin in (list, tuple, set):
        args = typing.get_args(hint)
        return {"type": "array", "items": _type_schema(args[0])} if args else {"type": "array"}
    if origin is dict:
        return {"type": "object"}
    if hint in _JSON_TYPES:
        return {"type": _JSON_TYPES[hint]}
    return {"type": "object"}


def _docstring_parts(doc: str) -> tuple[str, dict[str, str]]:
    """The description (before ``Args:``) and each argument's description."""
    doc = inspect.cleandoc(doc or "")
    head, _, rest = doc.partition("\nArgs:")
    args: dict[str, str] = {}
    current = None
    for line in rest.splitlines():
        if re.match(r"^\S", line):  # Returns:, Raises: ... end the Args section
            break
        m = re.match(r"^\s+(\w+)(?:\s*\([^)]*\))?:\s*(.*)$", line)
        if m:
            current = m.group(1)
            args[current] = m.group(2).strip()
        elif current and line.strip():
            args[current] += " " + line.strip()
    return head.strip(), args


def fallback_schema(func: Callable[..., Any]) -> dict[str, Any]:
    """The schema ``get_json_schema`` builds, from type hints and the docstring's ``Args:``."""
    hints = typing.get_type_hints(func)
    desc, arg_docs = _docstring_parts(func.__doc__ or "")
    props: dict[str, Any] = {}
    required = []
    for name, param in inspect.signature(func).parameters.items():
        if name == "self":
            continue
        prop = _type_schema(hints.get(name, str))
        if name in arg_docs:
            prop["description"] = arg_docs[name]
        props[name] = prop
        if param.default is inspect.Parameter.empty:
            required.append(name)
    params: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        params["required"] = required
    out: dict[str, Any] = {"name": func.__name__, "description": desc, "parameters": params}
    if "return" in hints:
        out["return"] = _type_schema(hints["return"])
    return {"type": "function", "function": out}


def tool_schema(func: Callable[..., Any]) -> dict[str, Any]:
    """transformers' schema when it is importable (what TRL renders), else ``fallback_schema``."""
    try:
        from transformers.utils import get_json_schema
    except ImportError:
        return fallback_schema(func)
    return get_json_schema(func)
