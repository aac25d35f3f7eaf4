"""``HealthConfig``: the thresholds and patience of the health checks (``[health]`` in a training TOML)."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from rlvr.errors import ConfigError

__all__ = ["HealthConfig"]


@dataclass(frozen=True)
class HealthConfig:
    """Thresholds of the health checks.

    A threshold set to ``None`` turns its check off, as does one that can never trigger (0 for a
    ``*_min`` or ratio, ``inf`` for ``kl_max``/``*_growth_max``, 1 for a fraction or a ``*_rise``):
    TOML has no None.
    """

    patience: int = 3
    """Consecutive bad observations of a metric before a warning fires (NaN/inf fire at once)."""
    repeat_every: int = 50
    """While a condition persists, repeat its warning every this many steps; 0 warns once."""
    warmup_steps: int = 0
    """The first this many ``update`` calls never warn (NaN/inf excepted); baselines still collect."""
    baseline_steps: int = 5
    """Observations averaged into a metric's starting value for the relative checks."""
    reward_std_min: float | None = 0.1
    """``reward/std`` below this is a reward-variance collapse (every completion scores alike)."""
    entropy_min: float | None = 0.03
    """``policy/entropy`` (nats per token) below this is an entropy collapse."""
    entropy_drop_ratio: float | None = 0.3
    """``policy/entropy`` below this fraction of its starting value is an entropy collapse."""
    kl_max: float | None = 10.0
    """``policy/kl`` above this is a KL explosion."""
    length_growth_max: float | None = 2.0
    """``gen/len_mean`` above this multiple of its starting value is a length explosion."""
    truncated_frac_max: float | None = 0.5
    """``gen/truncated_frac`` above this (most completions hit the max length) is a length explosion."""
    zero_std_frac_max: float | None = 0.8
    """``groups/frac_zero_std`` above this means most groups agreed and carry no learning signal."""
    error_rate_max: float | None = 0.05
    """``verify/error_rate`` above this is a verifier error spike."""
    silent_verifier_patience: int = 10
    """Steps in a row with a pass rate of exactly 0 or exactly 1 before the silent-verifier alarm; 0: off."""
    tool_error_rate_max: float | None = 0.5
    """``tools/error_rate`` above this (most tool calls fail) points at a broken tool, not a clumsy model."""
    parse_failure_rate_max: float | None = 0.2
    """``tools/parse_failure_rate`` above this: the model's tool calls do not parse (format or template)."""
    turns_growth_max: float | None = 2.0
    """``tools/turns_mean`` above this multiple of its starting value is a turn explosion."""
    budget_end_rate_max: float | None = 0.5
    """``tools/budget_end_rate`` above this (most episodes end on a budget, not an answer) is a turn explosion."""
    obs_truncated_rate_max: float | None = 0.3
    """``tools/obs_truncated_rate`` above this: the model acts on tool output cut at the budget's size."""
    forged_obs_rate_max: float | None = 0.1
    """``tools/forged_obs_rate`` above this: the model writes tool results itself instead of calling tools."""
    forged_obs_rise: float | None = 0.0
    """``tools/forged_obs_rate`` more than this above its starting value is forging on the rise (0: any rise)."""
    tool_abandon_rise: float | None = 0.2
    """``tools/answer_without_tool_rate`` this far above its start, while calls per episode fall, is tool abandonment."""

    def __post_init__(self) -> None:
        ints = (
            ("patience", 1), ("repeat_every", 0), ("warmup_steps", 0), ("baseline_steps", 1),
            ("silent_verifier_patience", 0),
        )
        for name, low in ints:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"HealthConfig.{name} must be an integer >= {low}, got {value!r}")
        # (name, lowest allowed, highest allowed, lowest exclusive?, highest exclusive?, example).
        # A bound that can never trigger (0 for a minimum, inf or 1 for a maximum) is allowed: it
        # turns the check off from TOML, which has no None.
        rules = (
            ("reward_std_min", 0.0, math.inf, False, True, "0.1"),
            ("entropy_min", 0.0, math.inf, False, True, "0.03"),
            ("entropy_drop_ratio", 0.0, 1.0, False, True, "0.3 (warn below 30% of the start)"),
            ("kl_max", 0.0, math.inf, True, False, "10"),
            ("length_growth_max", 1.0, math.inf, True, False, "2 (warn when length doubles)"),
            ("truncated_frac_max", 0.0, 1.0, False, False, "0.5"),
            ("zero_std_frac_max", 0.0, 1.0, False, False, "0.8"),
            ("error_rate_max", 0.0, 1.0, False, False, "0.05"),
            ("tool_error_rate_max", 0.0, 1.0, False, False, "0.5"),
            ("parse_failure_rate_max", 0.0, 1.0, False, False, "0.2"),
            ("turns_growth_max", 1.0, math.inf, True, False, "2 (warn when turns double)"),
            ("budget_end_rate_max", 0.0, 1.0, False, False, "0.5"),
            ("obs_truncated_rate_max", 0.0, 1.0, False, False, "0.3"),
            ("forged_obs_rate_max", 0.0, 1.0, False, False, "0.1"),
            ("forged_obs_rise", 0.0, 1.0, False, False, "0 (any rise above the start)"),
            ("tool_abandon_rise", 0.0, 1.0, False, False, "0.2 (20 points above the start)"),
        )
        for name, lo, hi, lo_open, hi_open, example in rules:
            value = getattr(self, name)
            if value is None:
                continue
            bad_type = isinstance(value, bool) or not isinstance(value, (int, float))
            if bad_type or math.isnan(value):
                raise ConfigError(
                    f"HealthConfig.{name} must be a number or None (check off), got {value!r}; e.g. {example}"
                )
            too_low = value <= lo if lo_open else value < lo
            too_high = value >= hi if hi_open else value > hi
            if too_low or too_high:
                interval = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
                raise ConfigError(
                    f"HealthConfig.{name} must be in {interval}, got {value!r}; e.g. {example}, "
                    "or None to turn the check off"
                )

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Names of every threshold and policy field (for command-line overrides)."""
        return tuple(f.name for f in fields(cls))
