"""Training health: judge a GRPO-family run's metrics and say what is going wrong.

TRL and verl log entropy, KL and the share of zero-variance groups but never judge them, so users
ask why their loss is 0. ``HealthMonitor`` reads one step's metrics (``diagnostics.keys``) and
returns ``HealthWarning`` objects that say what a reading means and what to do about it::

    from rlvr.diagnostics import HealthConfig, HealthMonitor, keys

    monitor = HealthMonitor(HealthConfig(patience=3))
    for warning in monitor.update(step, {keys.POLICY_KL: 12.0, keys.REWARD_STD: 0.3}):
        print(warning)

Modules: ``keys`` (metric-key constants), ``checks`` (the checks as a table, with their
messages), ``config`` (``HealthConfig``), ``monitor`` (``HealthMonitor``, ``HealthWarning``),
``logs`` (TRL / verl / JSONL log readers, ``check_metrics``), ``agent`` (``agent_metrics``: a
step's tool-using episodes as ``tools/*`` metrics). Nothing here imports torch.
"""

from __future__ import annotations

from rlvr.diagnostics import keys
from rlvr.diagnostics.agent import HERMES_OBSERVATION_MARKERS, agent_metrics, forged_markup
from rlvr.diagnostics.checks import AGENT_CODES, CHECKS, HEALTH_CODES, Check
from rlvr.diagnostics.config import HealthConfig
from rlvr.diagnostics.keys import CHECKED_PREFIXES, METRIC_KEYS
from rlvr.diagnostics.logs import FORMATS, PRESETS, MetricsLog, check_metrics, parse_key_map, read_metrics
from rlvr.diagnostics.monitor import HealthMonitor, HealthWarning

__all__ = [
    "AGENT_CODES",
    "CHECKED_PREFIXES",
    "CHECKS",
    "FORMATS",
    "HEALTH_CODES",
    "HERMES_OBSERVATION_MARKERS",
    "METRIC_KEYS",
    "PRESETS",
    "Check",
    "HealthConfig",
    "HealthMonitor",
    "HealthWarning",
    "MetricsLog",
    "agent_metrics",
    "check_metrics",
    "forged_markup",
    "keys",
    "parse_key_map",
    "read_metrics",
]
