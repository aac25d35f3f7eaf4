"""``HealthMonitor``: feed it each step's metrics, get back the ``HealthWarning``s that step raised.

No spam: a condition must hold on ``patience`` consecutive observations of its metric before it
warns (NaN/inf warn at once). It then stays *active* and is not repeated until one healthy
observation clears it (a new episode warns again), except for a reminder every ``repeat_every``
steps while it persists (0: never remind). Missing keys skip their check.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rlvr.diagnostics.checks import (
    AGENT_CODES,
    CHECKS,
    HEALTH_CODES,
    LOW_IS_BAD,
    Check,
    Reading,
    json_number,
    msg_non_finite,
)
from rlvr.diagnostics.config import HealthConfig
from rlvr.diagnostics.keys import AGENT_KEYS, CHECKED_PREFIXES

__all__ = ["HealthMonitor", "HealthWarning"]


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
            "value": json_number(self.value),
            "threshold": json_number(self.threshold),
            "message": self.message,
        }

    def __str__(self) -> str:
        return f"step {self.step}: {self.code}: {self.message}"


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


# Rules sharing a code and metrics are one condition (see rlvr.diagnostics.checks).
_CONDITIONS: tuple[tuple[Check, ...], ...] = tuple(
    tuple(group) for _, group in itertools.groupby(CHECKS, key=lambda c: (c.code, c.metrics))
)
# Metrics whose starting value some rule needs: collected once per step, shared by every rule.
_BASELINED: tuple[str, ...] = tuple(
    dict.fromkeys(m for c in CHECKS for m in (*(c.metrics if c.relative else ()), *c.falling))
)


class HealthMonitor:
    """Feed it every step's metrics; it returns the warnings that step raised.

    ``verifier``: the name of the verifier that scored the run (``"math"``, ``"pkg.mod:MyCheck"``),
    used by the verifier checks' messages and the commands they suggest; ``env``: the tool
    environment of a multi-turn run (``"python"``), likewise for the agent checks; both optional.

    >>> mon = HealthMonitor(HealthConfig(patience=1))
    >>> [w.code for w in mon.update(1, {"policy/kl": 12.0})]
    ['kl_explosion']
    >>> mon.update(2, {"policy/kl": 13.0})  # still active: not repeated
    []
    """

    def __init__(
        self, config: HealthConfig | None = None, *, verifier: str | None = None, env: str | None = None
    ) -> None:
        self.config = config if config is not None else HealthConfig()
        self.verifier = verifier
        """The verifier's registry name (or ``module:object``, or a description) named in its warnings."""
        self.env = env
        """The tool environment's name (``python``, ``module:Class``) named in the agent checks' commands."""
        self._runs: dict[tuple[str, str], tuple[float, int]] = {}
        self._episodes: dict[tuple[str, str], _Episode] = {}
        self._baseline_values: dict[str, list[float]] = {}
        self._stats: dict[str, _CodeStats] = {}
        self._observed: dict[str, int] = {code: 0 for code in HEALTH_CODES}
        self._updates = 0
        self._agent_run = False
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
        self._updates += 1
        if self._first_step is None:
            self._first_step = step
        self._last_step = step
        armed = self._updates > self.config.warmup_steps
        out: list[HealthWarning] = []

        values: dict[str, float] = {}
        for key, raw in metrics.items():
            if isinstance(raw, bool) or not isinstance(raw, (int, float)):
                continue
            value = float(raw)
            if not math.isfinite(value):
                if key.startswith(CHECKED_PREFIXES):
                    self._observed["non_finite"] += 1
                    w = HealthWarning(step, "non_finite", msg_non_finite(key, value), key, value)
                    self._judge(out, step, w, bad=True, patience=1)
                continue
            if key.startswith(CHECKED_PREFIXES):
                self._clear(("non_finite", key))
            values[key] = value
        self._agent_run = self._agent_run or any(key in AGENT_KEYS for key in metrics)

        # Starting values known *before* this step's observation (which still forms them).
        starts = {m: self._baseline_then_collect(m, values[m]) for m in _BASELINED if m in values}
        for rules in _CONDITIONS:
            self._check(out, step, rules, values, starts, armed)

        self._warnings.extend(out)
        return out

    def _check(
        self,
        out: list[HealthWarning],
        step: int,
        rules: tuple[Check, ...],
        values: Mapping[str, float],
        starts: Mapping[str, float | None],
        armed: bool,
    ) -> None:
        """Judge one condition (rules sharing a code and metric) on this step's values."""
        cfg = self.config
        live = [
            r for r in rules
            if (r.threshold is None or getattr(cfg, r.threshold) is not None) and getattr(cfg, r.patience) > 0
        ]
        metric = next((m for m in rules[0].metrics if m in values), None)
        if not live or metric is None:
            return
        code, v = rules[0].code, values[metric]
        start = starts.get(metric) if any(r.relative for r in rules) else None
        warning, patience = None, None
        for rule in live:
            reading = self._bad_reading(code, rule, metric, v, start, values, starts)
            if reading is not None:
                warning = HealthWarning(step, code, rule.message(reading), metric, v, reading.threshold)
                patience = getattr(cfg, rule.patience)
                break
        self._observed[code] += 1
        if not armed:
            warning = None
        self._judge(out, step, warning, bad=warning is not None, key=(code, metric), patience=patience)

    def _bad_reading(
        self,
        code: str,
        rule: Check,
        metric: str,
        v: float,
        start: float | None,
        values: Mapping[str, float],
        starts: Mapping[str, float | None],
    ) -> Reading | None:
        """The reading for ``rule``'s message when ``v`` is bad under it, else None."""
        if rule.bad == "at_0_or_1":
            fallback = metric != rule.metrics[0]
            run = self._extreme_run((code, metric), v, rule, fallback=fallback, values=values)
            return Reading(metric, v, None, None, values, self.verifier, run) if run else None
        assert rule.threshold is not None
        thr = getattr(self.config, rule.threshold)
        if rule.relative:
            if start is None or (start <= 0 and rule.bad != "rise"):
                return None  # no starting value yet: a relative rule cannot judge
            thr = start + thr if rule.bad == "rise" else thr * start
        if not (v < thr if rule.bad == "below" else v > thr):
            return None
        fell: dict[str, float] = {}
        for key in rule.falling:
            key_start = starts.get(key)
            if key not in values or key_start is None or not values[key] < key_start:
                return None
            fell[key] = key_start
        return Reading(
            metric, v, thr, start if rule.relative else None, values, self.verifier, starts=fell, env=self.env
        )

    def _extreme_run(
        self, key: tuple[str, str], value: float, rule: Check, *, fallback: bool, values: Mapping[str, float]
    ) -> int:
        """How many observations in a row ``key``'s metric has read this same 0 or 1 (0: neither).

        A switch from 0 to 1 (or back) starts a new condition: it ends the previous episode.
        """
        stuck = value in (0.0, 1.0) and not (fallback and any(values.get(k, 0.0) != 0 for k in rule.fallback_if_zero))
        previous = self._runs.pop(key, None)
        if not stuck:
            return 0
        if previous is not None and previous[0] != value:
            self._clear(key)
            previous = None
        run = 1 if previous is None else previous[1] + 1
        self._runs[key] = (value, run)
        return run

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
            or (warning.code in LOW_IS_BAD and value < stats.worst)
            or (warning.code not in LOW_IS_BAD and value > stats.worst)
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
            # A single-turn run logs no agent metric: its agent checks are not missing data.
            "checks_without_data": [
                code for code in HEALTH_CODES
                if code != "non_finite" and self._observed[code] == 0
                and (self._agent_run or code not in AGENT_CODES)
            ],
        }
