"""Compatibility shim: the health monitor lives in ``rlvr.diagnostics`` (import it from there)."""

from __future__ import annotations

from rlvr.diagnostics import (
    CHECKED_PREFIXES,
    FORMATS,
    HEALTH_CODES,
    METRIC_KEYS,
    PRESETS,
    HealthConfig,
    HealthMonitor,
    HealthWarning,
    MetricsLog,
    check_metrics,
    parse_key_map,
    read_metrics,
)

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
    "parse_key_map",
    "read_metrics",
]
