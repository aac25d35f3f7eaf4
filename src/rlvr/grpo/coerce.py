"""Typed dataclasses from plain dicts (TOML tables, JSON): every value checked against its field's
annotation, unknown keys named with a suggestion, nested dataclasses built section by section.
The machinery behind ``rlvr.grpo.config.config_from_dict``; errors are ``ConfigError`` naming the
``[section] key``."""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Union, get_args, get_origin

from rlvr.errors import ConfigError

__all__ = ["build_dataclass"]

# Names users bring from other trainers (TRL, verl), suggested when a key is unknown.
_SYNONYMS = {
    "lr": "learning_rate",
    "kl_coef": "beta",
    "num_generations": "group_size",
    "n": "group_size",
    "epsilon": "eps_low",
    "epsilon_high": "eps_high",
    "loss_type": "agg",
    "scale_rewards": "scale",
    "max_tokens": "max_new_tokens",
    "max_completion_length": "max_new_tokens",
    "batch_size": "prompts_per_step",
    "num_iterations": "epochs",
}


def _section_name(path: str) -> str:
    return f"[{path}]" if path else "the top level"


def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "none"
    if get_origin(tp) is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against the annotation ``tp``; returns it (ints widened to float)."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{where} = {value!r} has the wrong type; expected "
                          + " or ".join(_type_name(a) for a in args))
    if origin is Literal:
        choices = get_args(tp)
        if value not in choices:
            hint = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            raise ConfigError(f"{where} = {value!r} is not one of {', '.join(repr(c) for c in choices)}{extra}")
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a table of settings, got {value!r}")
        return build_dataclass(tp, value, where.strip("[]"))
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        return value
    if origin in (tuple, list, Sequence):
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        (item_tp, *_rest) = get_args(tp) or (Any,)
        items = [_coerce(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a table, got {value!r}")
        return dict(value)
    return value


def build_dataclass(cls: Any, data: Mapping[str, Any], path: str) -> Any:
    """``cls(**data)`` with every value checked (``path``: the section's dotted name, "" at the top)."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names:
            # A known synonym first (users write lr, kl_coef, num_generations, ...), then spelling.
            hint = [n for s, n in _SYNONYMS.items() if s == key and n in names]
            hint = hint or difflib.get_close_matches(str(key), names, n=1, cutoff=0.5)
            extra = f"; did you mean {hint[0]!r}?" if hint else f"; known keys: {', '.join(names)}"
            raise ConfigError(f"unknown key {key!r} in {_section_name(path)}{extra}")
        where = f"[{path}] {key}" if path else key
        kwargs[key] = _coerce(value, hints[key], where)
    missing = [
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING and f.name not in kwargs
    ]
    if missing:
        raise ConfigError(f"missing section or key {', '.join(repr(m) for m in missing)} in {_section_name(path)}")
    try:
        return cls(**kwargs)
    except TypeError as exc:  # pragma: no cover - guarded by the checks above
        raise ConfigError(f"{_section_name(path)}: {exc}") from None
