"""``key=value`` arguments (``--opt``, ``--set``, ``--map``): one splitter, one error message shape.

Each option gives its values their own meaning (JSON for verifier options, TOML for config
overrides, typed fields for health thresholds, metric names for log keys); what they share is the
split at the first ``=`` and the one-line error naming the option and the form it expects.
"""

from __future__ import annotations

from rlvr.errors import ConfigError

__all__ = ["split_pair"]


def split_pair(pair: str, *, option: str, form: str, empty_value: bool = True) -> tuple[str, str]:
    """``"a.b = 1"`` -> ``("a.b", " 1")``: the stripped key and the raw value after the first ``=``.

    Raises ``ConfigError("{option} expects {form}, got '...'")`` when there is no ``=`` or no key,
    or no value when ``empty_value`` is False.
    """
    key, sep, raw = pair.partition("=")
    key = key.strip()
    if not sep or not key or (not empty_value and not raw.strip()):
        raise ConfigError(f"{option} expects {form}, got {pair!r}")
    return key, raw
