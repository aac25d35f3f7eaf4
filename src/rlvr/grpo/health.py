"""Training-health monitor: judge a GRPO-family run's metrics and say what is going wrong.

TRL and verl log entropy, KL and the share of zero-variance groups but never judge them, so users
ask why their loss is 0. ``HealthMonitor`` reads one step's metrics (DESIGN.md §3 keys) and
returns ``HealthWarning`` objects that say what a reading means and what to do about it.

Checks (codes), each skipped when its metric is missing:

==========================  =====================================================================
``reward_variance_collapse``  ``reward/std`` < ``reward_std_min``
``entropy_collapse``          ``policy/entropy`` < ``entropy_min``, or < ``entropy_drop_ratio`` × its
                              starting value (mean of the first ``baseline_steps`` observations)
``kl_explosion``              ``policy/kl`` > ``kl_max``
``length_explosion``          ``gen/len_mean`` > ``length_growth_max`` × its starting value, or
                              ``gen/truncated_frac`` (completions that hit the max length) >
                              ``truncated_frac_max``
``zero_variance_groups``      ``groups/frac_zero_std`` > ``zero_std_frac_max``
``verifier_errors``           ``verify/error_rate`` > ``error_rate_max``
``non_finite``                any checked metric (``reward/*``, ``policy/*``, ``gen/*``, ...) is NaN/inf
==========================  =====================================================================

No spam: a condition must hold on ``patience`` consecutive observations of its metric before it
warns (NaN/inf warn at once). It then stays *active* and is not repeated until one healthy
observation clears it (a new episode warns again), except for a reminder every ``repeat_every``
steps while it persists (0: never remind).

``read_metrics`` loads what other trainers write (our ``metrics.jsonl``, TRL's
``trainer_state.json`` log history, verl's file logger, any JSONL with a key mapping) into the
same keys, so ``rlvr health`` gives TRL and verl users the same warnings. This module does not
import torch.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from rlvr.errors import ConfigError, InputError

__all__ = [
    "CHECKED_PREFIXES",
    "FORMATS",
    "HEALTH_CODES",
    "METRIC_KEYS",
    "PRESETS",
    "HealthConfig",
    "HealthMonitor",
    "HealthWarning",
    "MetricsLog",
    "check_metrics",
    "read_metrics",
]

# The per-step keys a trainer logs (DESIGN.md §3) that the monitor reads or that a mapping may target.
METRIC_KEYS: tuple[str, ...] = (
    "reward/mean",
    "reward/std",
    "groups/frac_zero_std",
    "policy/entropy",
    "policy/kl",
    "loss/clip_frac",
    "optim/grad_norm",
    "gen/len_mean",
    "gen/truncated_frac",
    "verify/error_rate",
)
# NaN/inf in a metric under one of these namespaces is reported (``time/*`` and others are not).
CHECKED_PREFIXES: tuple[str, ...] = ("reward/", "groups/", "policy/", "loss/", "optim/", "gen/", "verify/")

HEALTH_CODES: tuple[str, ...] = (
    "reward_variance_collapse",
    "entropy_collapse",
    "kl_explosion",
    "length_explosion",
    "zero_variance_groups",
    "verifier_errors",
    "non_finite",
)
# Codes whose bad direction is "too low"; the others are "too high" (used for the worst value).
_LOW_IS_BAD = frozenset({"reward_variance_collapse", "entropy_collapse"})


@dataclass(frozen=True)
class HealthConfig:
    """Thresholds of the health checks.

    A threshold set to ``None`` turns its check off, as does one that can never trigger (0 for a
    ``*_min`` or ratio, ``inf`` for ``kl_max``/``length_growth_max``, 1 for a fraction): TOML has
    no None.
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

    def __post_init__(self) -> None:
        for name, low in (("patience", 1), ("repeat_every", 0), ("warmup_steps", 0), ("baseline_steps", 1)):
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


@dataclass(frozen=True)
class HealthWarning:
    """One health finding: at ``step``, ``metric`` read ``value`` against ``threshold``.

    ``code`` is one of ``HEALTH_CODES``; ``message`` says what it means and what to do.
    """

    step: int
    code: str
    message: str
    metric: str
    value: float
    threshold: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (NaN/inf become the strings ``"nan"``, ``"inf"``, ``"-inf"``)."""
        return {
            "step": self.step,
            "code": self.code,
            "metric": self.metric,
            "value": _json_number(self.value),
            "threshold": _json_number(self.threshold),
            "message": self.message,
        }

    def __str__(self) -> str:
        return f"step {self.step}: {self.code}: {self.message}"


def _json_number(value: float | None) -> float | str | None:
    if value is None or math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _g(value: float) -> str:
    """Three significant digits, the way a person reads a metric."""
    return f"{value:.3g}"


# --- messages: what the reading means, then what to do ---------------------------------------


def _msg_reward_std(value: float, thr: float, mean: float | None) -> str:
    if mean is not None and mean <= 0.05:
        hint = f"the mean reward is {_g(mean)}: the task is too hard for this model; curate easier prompts"
    elif mean is not None and mean >= 0.95:
        hint = f"the mean reward is {_g(mean)}: the task is too easy; curate harder prompts"
    else:
        hint = "curate prompts into a 0.3-0.7 pass-rate band (rlvr curate)"
    return (
        f"reward/std is {_g(value)} < {_g(thr)}: almost every completion gets the same reward, so the "
        f"advantages are ~0 and the policy stops learning; {hint}, or raise the temperature or group size."
    )


def _msg_entropy(value: float, thr: float, start: float | None) -> str:
    what = f"< {_g(thr)}" if start is None else f"< {_g(thr)}, under {_g(thr / start * 100)}% of its start {_g(start)}"
    return (
        f"policy/entropy fell to {_g(value)} ({what}): the policy is turning deterministic and will "
        "stop exploring; lower the learning rate, use clip-higher (a larger upper clip), add an "
        "entropy bonus or raise the sampling temperature."
    )


def _msg_kl(value: float, thr: float) -> str:
    return (
        f"policy/kl is {_g(value)} > {_g(thr)}: the policy has moved far from its reference and "
        "training is likely unstable; lower the learning rate, raise the KL coefficient or tighten "
        "the clip range, and check the reward for hacking."
    )


def _msg_length(value: float, thr: float, start: float) -> str:
    return (
        f"gen/len_mean grew to {_g(value)} tokens (> {_g(thr)}, {_g(value / start)}x its start "
        f"{_g(start)}): completions are getting longer fast, often repetition loops or reward hacking "
        "through length; read some samples, use a length-unbiased loss (Dr. GRPO) or an overlong penalty."
    )


def _msg_truncated(value: float, thr: float) -> str:
    return (
        f"gen/truncated_frac is {_g(value)} > {_g(thr)}: most completions hit the max length, so their "
        "final answers are cut off and score as wrong; raise the max completion length, mask "
        "truncated completions, or look for repetition loops."
    )


def _msg_zero_std(value: float, thr: float) -> str:
    return (
        f"loss is ~0 because every group agreed: {_g(value * 100)}% of groups (> {_g(thr * 100)}%) gave "
        "all their samples the same reward, so their advantages are 0 and they teach nothing; use "
        "dynamic sampling, curate prompts into a 0.3-0.7 pass-rate band, or raise the group size or "
        "temperature."
    )


def _msg_errors(value: float, thr: float) -> str:
    return (
        f"verify/error_rate is {_g(value * 100)}% > {_g(thr * 100)}%: the verifier itself is failing "
        "(status 'error'); those samples are left out of the advantages; run rlvr verify on some "
        "outputs to read the tracebacks, and check timeouts and worker counts."
    )


def _msg_non_finite(metric: str, value: float) -> str:
    return (
        f"{metric} is {_json_number(value)}: training has diverged or the metric is broken; lower the "
        "learning rate, clip gradients, and check for empty groups or zero-length completions."
    )


# --- the monitor --------------------------------------------------------------------------------


@dataclass
class _Episode:
    """Where one (code, metric) condition stands: bad streak, active, last warned step."""

    streak: int = 0
    active: bool = False
    last_warned: int | None = None


@dataclass
class _CodeStats:
    count: int = 0
    first_step: int | None = None
    last_step: int | None = None
    worst: float | None = None
    worst_step: int | None = None
    threshold: float | None = None
    metrics: set[str] = field(default_factory=set)


class HealthMonitor:
    """Feed it every step's metrics; it returns the warnings that step raised.

    >>> mon = HealthMonitor(HealthConfig(patience=1))
    >>> [w.code for w in mon.update(1, {"policy/kl": 12.0})]
    ['kl_explosion']
    >>> mon.update(2, {"policy/kl": 13.0})  # still active: not repeated
    []
    """

    def __init__(self, config: HealthConfig | None = None) -> None:
        self.config = config if config is not None else HealthConfig()
        self._episodes: dict[tuple[str, str], _Episode] = {}
        self._baseline_values: dict[str, list[float]] = {}
        self._stats: dict[str, _CodeStats] = {}
        self._observed: dict[str, int] = {code: 0 for code in HEALTH_CODES}
        self._updates = 0
        self._first_step: int | None = None
        self._last_step: int | None = None
        self._warnings: list[HealthWarning] = []

    @property
    def warnings(self) -> list[HealthWarning]:
        """Every warning raised so far, in order."""
        return list(self._warnings)

    def baseline(self, metric: str) -> float | None:
        """The starting value of ``metric`` (mean of its first observations), once known."""
        values = self._baseline_values.get(metric, [])
        if len(values) < self.config.baseline_steps:
            return None
        return sum(values) / len(values)

    def update(self, step: int, metrics: Mapping[str, float]) -> list[HealthWarning]:
        """Check one step's metrics; returns the warnings that fire now (often none).

        Missing keys skip their check; values that are not numbers are ignored; NaN/inf in a
        checked namespace is a ``non_finite`` warning.
        """
        cfg = self.config
        self._updates += 1
        if self._first_step is None:
            self._first_step = step
        self._last_step = step
        armed = self._updates > cfg.warmup_steps
        out: list[HealthWarning] = []

        values: dict[str, float] = {}
        for key, raw in metrics.items():
            if isinstance(raw, bool) or not isinstance(raw, (int, float)):
                continue
            value = float(raw)
            if not math.isfinite(value):
                if key.startswith(CHECKED_PREFIXES):
                    self._observed["non_finite"] += 1
                    w = HealthWarning(step, "non_finite", _msg_non_finite(key, value), key, value)
                    self._judge(out, step, w, bad=True, patience=1)
                continue
            if key.startswith(CHECKED_PREFIXES):
                self._clear(("non_finite", key))
            values[key] = value

        def observe(code: str, metric: str, bad: bool, warning: HealthWarning | None) -> None:
            self._observed[code] += 1
            if warning is not None and not armed:
                warning = None
            self._judge(out, step, warning, bad=bad and warning is not None, key=(code, metric))

        # reward-variance collapse
        v = values.get("reward/std")
        if v is not None and cfg.reward_std_min is not None:
            bad = v < cfg.reward_std_min
            w = HealthWarning(
                step,
                "reward_variance_collapse",
                _msg_reward_std(v, cfg.reward_std_min, values.get("reward/mean")),
                "reward/std",
                v,
                cfg.reward_std_min,
            )
            observe("reward_variance_collapse", "reward/std", bad, w if bad else None)

        # entropy collapse: absolute floor, or a fast fall relative to the start
        v = values.get("policy/entropy")
        if v is not None and (cfg.entropy_min is not None or cfg.entropy_drop_ratio is not None):
            start = self._baseline_then_collect("policy/entropy", v)
            w = None
            if cfg.entropy_min is not None and v < cfg.entropy_min:
                w = HealthWarning(
                    step, "entropy_collapse", _msg_entropy(v, cfg.entropy_min, None), "policy/entropy", v,
                    cfg.entropy_min,
                )
            elif cfg.entropy_drop_ratio is not None and start is not None and start > 0:
                thr = cfg.entropy_drop_ratio * start
                if v < thr:
                    w = HealthWarning(
                        step, "entropy_collapse", _msg_entropy(v, thr, start), "policy/entropy", v, thr
                    )
            observe("entropy_collapse", "policy/entropy", w is not None, w)

        # KL explosion
        v = values.get("policy/kl")
        if v is not None and cfg.kl_max is not None:
            bad = v > cfg.kl_max
            w = HealthWarning(step, "kl_explosion", _msg_kl(v, cfg.kl_max), "policy/kl", v, cfg.kl_max)
            observe("kl_explosion", "policy/kl", bad, w if bad else None)

        # length explosion: growth against the start, or most completions truncated
        v = values.get("gen/len_mean")
        if v is not None and cfg.length_growth_max is not None:
            start = self._baseline_then_collect("gen/len_mean", v)
            w = None
            if start is not None and start > 0 and v > cfg.length_growth_max * start:
                thr = cfg.length_growth_max * start
                w = HealthWarning(step, "length_explosion", _msg_length(v, thr, start), "gen/len_mean", v, thr)
            observe("length_explosion", "gen/len_mean", w is not None, w)
        v = values.get("gen/truncated_frac")
        if v is not None and cfg.truncated_frac_max is not None:
            bad = v > cfg.truncated_frac_max
            w = HealthWarning(
                step, "length_explosion", _msg_truncated(v, cfg.truncated_frac_max), "gen/truncated_frac", v,
                cfg.truncated_frac_max,
            )
            observe("length_explosion", "gen/truncated_frac", bad, w if bad else None)

        # most groups zero-variance
        v = values.get("groups/frac_zero_std")
        if v is not None and cfg.zero_std_frac_max is not None:
            bad = v > cfg.zero_std_frac_max
            w = HealthWarning(
                step, "zero_variance_groups", _msg_zero_std(v, cfg.zero_std_frac_max), "groups/frac_zero_std",
                v, cfg.zero_std_frac_max,
            )
            observe("zero_variance_groups", "groups/frac_zero_std", bad, w if bad else None)

        # verifier error spikes
        v = values.get("verify/error_rate")
        if v is not None and cfg.error_rate_max is not None:
            bad = v > cfg.error_rate_max
            w = HealthWarning(
                step, "verifier_errors", _msg_errors(v, cfg.error_rate_max), "verify/error_rate", v,
                cfg.error_rate_max,
            )
            observe("verifier_errors", "verify/error_rate", bad, w if bad else None)

        self._warnings.extend(out)
        return out

    def _baseline_then_collect(self, metric: str, value: float) -> float | None:
        """The starting value known *before* this observation; collects it while still forming."""
        start = self.baseline(metric)
        if start is None:
            self._baseline_values.setdefault(metric, []).append(value)
        return start

    def _clear(self, key: tuple[str, str]) -> None:
        episode = self._episodes.get(key)
        if episode is not None:
            episode.streak = 0
            episode.active = False

    def _judge(
        self,
        out: list[HealthWarning],
        step: int,
        warning: HealthWarning | None,
        *,
        bad: bool,
        key: tuple[str, str] | None = None,
        patience: int | None = None,
    ) -> None:
        """Advance one condition's episode; append ``warning`` to ``out`` when it should fire."""
        if warning is not None:
            key = (warning.code, warning.metric)
            self._record_bad(warning)
        assert key is not None
        if not bad or warning is None:
            self._clear(key)
            return
        episode = self._episodes.setdefault(key, _Episode())
        episode.streak += 1
        need = self.config.patience if patience is None else patience
        if episode.streak < need:
            return
        repeat = self.config.repeat_every
        due = not episode.active or (
            repeat > 0 and episode.last_warned is not None and step - episode.last_warned >= repeat
        )
        episode.active = True
        if due:
            episode.last_warned = step
            out.append(warning)
            stats = self._stats.setdefault(warning.code, _CodeStats())
            stats.count += 1
            stats.first_step = step if stats.first_step is None else stats.first_step
            stats.last_step = step

    def _record_bad(self, warning: HealthWarning) -> None:
        """Track the worst reading of a code over every bad observation, fired or not."""
        stats = self._stats.setdefault(warning.code, _CodeStats())
        stats.metrics.add(warning.metric)
        value = warning.value
        if warning.code == "non_finite":
            return
        worse = (
            stats.worst is None
            or (warning.code in _LOW_IS_BAD and value < stats.worst)
            or (warning.code not in _LOW_IS_BAD and value > stats.worst)
        )
        if worse:
            stats.worst, stats.worst_step, stats.threshold = value, warning.step, warning.threshold

    def summary(self) -> dict[str, Any]:
        """Counts per code, first/last warned step, worst readings, and which checks had no data."""
        by_code: dict[str, Any] = {}
        for code in HEALTH_CODES:
            stats = self._stats.get(code)
            if stats is None or stats.count == 0:
                continue
            by_code[code] = {
                "count": stats.count,
                "first_step": stats.first_step,
                "last_step": stats.last_step,
                "worst": stats.worst,
                "worst_step": stats.worst_step,
                "threshold": stats.threshold,
                "metrics": sorted(stats.metrics),
            }
        total = sum(entry["count"] for entry in by_code.values())
        return {
            "healthy": total == 0,
            "updates": self._updates,
            "first_step": self._first_step,
            "last_step": self._last_step,
            "warnings": total,
            "counts": {code: entry["count"] for code, entry in by_code.items()},
            "by_code": by_code,
            "checks_without_data": [
                code for code in HEALTH_CODES if code != "non_finite" and self._observed[code] == 0
            ],
        }


def check_metrics(
    rows: Iterable[tuple[int, Mapping[str, float]]], config: HealthConfig | None = None
) -> HealthMonitor:
    """Run every ``(step, metrics)`` row through a fresh monitor and return it."""
    monitor = HealthMonitor(config)
    for step, metrics in rows:
        monitor.update(step, metrics)
    return monitor


# --- reading other trainers' logs ---------------------------------------------------------------

FORMATS: tuple[str, ...] = ("auto", "rlvr", "trl", "verl", "jsonl")

# theirs -> ours, in preference order (the first present key wins for each of ours).
PRESETS: dict[str, tuple[tuple[str, str], ...]] = {
    "rlvr": (),
    "jsonl": (),
    # TRL GRPOTrainer (trl/trainer/grpo_trainer.py, checked against trl 1.16): ``reward`` and
    # ``reward_std`` are over the whole batch, ``kl`` only when beta != 0.
    "trl": (
        ("reward", "reward/mean"),
        ("reward_std", "reward/std"),
        ("frac_reward_zero_std", "groups/frac_zero_std"),
        ("entropy", "policy/entropy"),
        ("kl", "policy/kl"),
        ("clip_ratio/region_mean", "loss/clip_frac"),
        ("grad_norm", "optim/grad_norm"),
        ("completions/mean_length", "gen/len_mean"),
        ("completions/clipped_ratio", "gen/truncated_frac"),
    ),
    # verl (verl/trainer/ppo/metric_utils.py, workers/actor/dp_actor.py): ``critic/score`` is the
    # verifier score before any KL penalty; ``actor/kl_loss`` is the KL to the reference (when
    # use_kl_loss), ``critic/kl`` the in-reward KL. verl logs no reward std or zero-std fraction.
    "verl": (
        ("critic/score/mean", "reward/mean"),
        ("critic/rewards/mean", "reward/mean"),
        ("actor/entropy", "policy/entropy"),
        ("actor/kl_loss", "policy/kl"),
        ("critic/kl", "policy/kl"),
        ("actor/pg_clipfrac", "loss/clip_frac"),
        ("actor/grad_norm", "optim/grad_norm"),
        ("response_length/mean", "gen/len_mean"),
        ("response_length/clip_ratio", "gen/truncated_frac"),
    ),
}
_STEP_KEYS = ("step", "global_step", "_step", "iteration")


@dataclass(frozen=True)
class MetricsLog:
    """Metric rows read from a file, renamed to our keys: ``rows`` is ``[(step, {key: value})]``."""

    path: str
    format: str
    rows: list[tuple[int, dict[str, float]]]
    keys: dict[str, str]
    """Which of their keys fed each of ours (ours -> theirs), for the report."""
    skipped_rows: int = 0
    """Rows with none of the mapped keys (TRL's eval and end-of-training entries, ...)."""


def parse_key_map(pairs: Sequence[str]) -> dict[str, str]:
    """``["theirs=ours", ...]`` -> ``{theirs: ours}``; ``ours`` is one of ``METRIC_KEYS`` or ``step``."""
    out: dict[str, str] = {}
    for pair in pairs:
        theirs, sep, ours = pair.partition("=")
        theirs, ours = theirs.strip(), ours.strip()
        if not sep or not theirs or not ours:
            raise ConfigError(f"--map expects theirs=ours (e.g. reward_std=reward/std), got {pair!r}")
        if ours not in METRIC_KEYS and ours != "step":
            raise ConfigError(
                f"--map {pair!r}: {ours!r} is not a metric rlvr checks; use one of "
                f"{', '.join(METRIC_KEYS)} (or step)"
            )
        out[theirs] = ours
    return out


def read_metrics(
    path: str | Path, fmt: str = "auto", key_map: Mapping[str, str] | None = None
) -> MetricsLog:
    """Load metric rows from a run dir or file and rename them to our keys.

    ``fmt``: ``rlvr`` (our ``metrics.jsonl``), ``trl`` (``trainer_state.json`` or a JSONL of TRL
    logs), ``verl`` (its file logger's ``{"step", "data"}`` lines or flat JSONL), ``jsonl`` (any
    JSONL already using our keys or renamed by ``key_map``), ``auto`` (guess from the content).
    ``key_map`` (theirs -> ours) wins over the preset. Raises ``InputError`` naming file and line.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    p = Path(path)
    if not p.exists():
        raise InputError("no such file or directory", str(path))
    if p.is_dir():
        p = _find_in_dir(p, fmt)
    user_map = dict(key_map or {})
    if p.suffix == ".json":
        if fmt not in ("auto", "trl"):
            raise InputError(f"a .json file is read as TRL's trainer_state.json, not as --format {fmt}", str(p))
        records = _trl_state_records(p)
        fmt = "trl"
    else:
        records = _jsonl_records(p)
        if fmt == "auto":
            fmt = _guess_format(records, user_map)
    return _apply_mapping(str(p), fmt, records, user_map)


def _find_in_dir(d: Path, fmt: str) -> Path:
    """The metrics file inside a run dir: our ``metrics.jsonl`` or TRL's (latest) ``trainer_state.json``."""
    ours = d / "metrics.jsonl"
    trl = d / "trainer_state.json"
    if fmt in ("auto", "rlvr", "jsonl") and ours.is_file():
        return ours
    if fmt in ("auto", "trl"):
        if trl.is_file():
            return trl
        # TRL writes one trainer_state.json per checkpoint; the latest holds the whole history.
        ckpts = [c for c in d.glob("checkpoint-*/trainer_state.json") if re.fullmatch(r"checkpoint-\d+", c.parent.name)]
        if ckpts:
            return max(ckpts, key=lambda c: int(c.parent.name.split("-")[1]))
    raise InputError(
        "no metrics.jsonl (rlvr) or trainer_state.json (TRL) in this folder; pass the metrics file itself",
        str(d),
    )


def _trl_state_records(p: Path) -> list[tuple[str | int, dict[str, Any]]]:
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read: {exc}", str(p)) from None
    try:
        state = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON ({exc.msg} at column {exc.colno})", str(p), exc.lineno) from None
    except RecursionError:
        raise InputError("JSON nested too deeply", str(p)) from None
    history = state.get("log_history") if isinstance(state, dict) else None
    if not isinstance(history, list):
        raise InputError("not a TRL trainer_state.json: no 'log_history' list", str(p))
    out: list[tuple[str | int, dict[str, Any]]] = []
    for i, entry in enumerate(history):
        if not isinstance(entry, dict):
            raise InputError(f"log_history[{i}] is not an object", str(p))
        out.append((f"log_history[{i}]", entry))
    return out


def _jsonl_records(p: Path) -> list[tuple[str | int, dict[str, Any]]]:
    from rlvr.io import iter_jsonl

    return [(item.line, item.record) for item in iter_jsonl(p) if item.record is not None]


def _guess_format(records: list[tuple[str | int, dict[str, Any]]], user_map: Mapping[str, str]) -> str:
    for _, rec in records[:5]:
        if isinstance(rec.get("data"), dict) and "step" in rec:
            return "verl"
        keys = set(rec)
        if keys & set(METRIC_KEYS) or keys & set(user_map):
            return "rlvr" if keys & set(METRIC_KEYS) else "jsonl"
        for name in ("trl", "verl"):
            if keys & {theirs for theirs, _ in PRESETS[name]}:
                return name
    return "jsonl"


def _apply_mapping(
    path: str, fmt: str, records: list[tuple[str | int, dict[str, Any]]], user_map: Mapping[str, str]
) -> MetricsLog:
    step_keys = [theirs for theirs, ours in user_map.items() if ours == "step"]
    mapping = [(theirs, ours) for theirs, ours in user_map.items() if ours != "step"]
    mapping += list(PRESETS[fmt]) + [(k, k) for k in METRIC_KEYS]
    rows: list[tuple[int, dict[str, float]]] = []
    used: dict[str, str] = {}
    skipped = 0
    seen_keys: set[str] = set()
    for index, (where, raw) in enumerate(records, start=1):
        rec = raw
        if fmt == "verl" and isinstance(raw.get("data"), dict):
            rec = {**raw["data"], "step": raw.get("step")}  # verl's file logger nests the metrics
        for theirs in step_keys:
            if theirs in rec:
                rec = {**rec, "step": rec[theirs]}
        seen_keys.update(rec)
        line = where if isinstance(where, int) else None
        prefix = "" if line is not None else f"{where}: "
        metrics: dict[str, float] = {}
        for theirs, ours in mapping:
            if ours in metrics or theirs not in rec or rec[theirs] is None:
                continue  # TRL writes None for a metric with no valid value this step
            value = rec[theirs]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InputError(
                    f"{prefix}metric {theirs!r} is {json.dumps(value)[:40]}, expected a number", path, line
                )
            metrics[ours] = float(value)
            used.setdefault(ours, theirs)
        # NaN/inf anywhere in a checked namespace is worth a warning even when not mapped.
        for key, value in rec.items():
            if (
                key not in metrics
                and isinstance(value, float)
                and not math.isfinite(value)
                and key.startswith(CHECKED_PREFIXES)
            ):
                metrics[key] = value
        if not metrics:
            skipped += 1
            continue
        rows.append((_step_of(rec, index, path, line, prefix), metrics))
    if not rows:
        if {"code", "message", "metric"} <= seen_keys:
            raise InputError("this is a health.jsonl of warnings; pass the run's metrics.jsonl (or its folder)", path)
        sample = ", ".join(sorted(seen_keys)[:8]) or "none"
        raise InputError(
            f"no known metric keys (saw: {sample}); read as --format {fmt}; rename yours with "
            f"--map theirs=ours (ours: {', '.join(METRIC_KEYS)})",
            path,
        )
    return MetricsLog(path, fmt, rows, used, skipped)


def _step_of(rec: Mapping[str, Any], index: int, path: str, line: int | None, prefix: str) -> int:
    for key in _STEP_KEYS:
        value = rec.get(key)
        if value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value != int(value)
        ):
            raise InputError(f"{prefix}{key!r} is {json.dumps(value)[:40]}, expected an integer step", path, line)
        return int(value)
    return index
