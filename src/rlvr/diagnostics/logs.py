"""Reading other trainers' logs into rlvr's metric keys, and checking them.

``read_metrics`` loads what trainers write (our ``metrics.jsonl``, TRL's ``trainer_state.json``
log history, verl's file logger, any JSONL with a key mapping) into the same keys
(``rlvr.diagnostics.keys``), so ``rlvr health`` gives TRL and verl users the same warnings;
``check_metrics`` runs the rows through a ``HealthMonitor``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rlvr.diagnostics import keys
from rlvr.diagnostics.config import HealthConfig
from rlvr.diagnostics.keys import CHECKED_PREFIXES, METRIC_KEYS
from rlvr.diagnostics.monitor import HealthMonitor
from rlvr.errors import ConfigError, InputError
from rlvr.options import split_pair

__all__ = [
    "FORMATS",
    "PRESETS",
    "MetricsLog",
    "check_metrics",
    "parse_key_map",
    "read_metrics",
    "trl_pass_rate",
    "trl_verifier",
]


def check_metrics(
    rows: Iterable[tuple[int, Mapping[str, float]]],
    config: HealthConfig | None = None,
    *,
    verifier: str | None = None,
    env: str | None = None,
) -> HealthMonitor:
    """Run every ``(step, metrics)`` row through a fresh monitor (naming ``verifier`` and ``env``) and return it."""
    monitor = HealthMonitor(config, verifier=verifier, env=env)
    for step, metrics in rows:
        monitor.update(step, metrics)
    return monitor


FORMATS: tuple[str, ...] = ("auto", "rlvr", "trl", "verl", "jsonl")

# theirs -> ours, in preference order (the first present key wins for each of ours).
PRESETS: dict[str, tuple[tuple[str, str], ...]] = {
    "rlvr": (),
    "jsonl": (),
    # TRL GRPOTrainer (trl/trainer/grpo_trainer.py, checked against trl 1.16): ``reward`` and
    # ``reward_std`` are over the whole batch, ``kl`` only when beta != 0.
    "trl": (
        ("reward", keys.REWARD_MEAN),
        ("reward_std", keys.REWARD_STD),
        ("frac_reward_zero_std", keys.GROUPS_FRAC_ZERO_STD),
        ("entropy", keys.POLICY_ENTROPY),
        ("kl", keys.POLICY_KL),
        ("clip_ratio/region_mean", keys.LOSS_CLIP_FRAC),
        ("grad_norm", keys.OPTIM_GRAD_NORM),
        ("completions/mean_length", keys.GEN_LEN_MEAN),
        ("completions/clipped_ratio", keys.GEN_TRUNCATED_FRAC),
        # With tools (``tools=`` / ``environment_factory=``), per batch: ``tools/call_frequency`` is
        # tool calls / completions, our calls per episode (TRL counts an unknown tool name as a call,
        # as we do); ``tools/failure_frequency`` is calls that raised / calls, our error rate. An rlvr
        # ``ToolEnv`` never raises (its guard turns a failure into an ``{"error": ...}`` observation),
        # so under TRL its tools' errors are not counted there. TRL logs no counterpart of our other
        # ``tools/*`` keys (call rate, parse failures, turns, truncated or forged observations,
        # endings, answers without a tool): on a TRL log those checks report "metric missing".
        ("tools/call_frequency", keys.TOOLS_CALLS_PER_EPISODE),
        ("tools/failure_frequency", keys.TOOLS_ERROR_RATE),
    ),
    # verl (verl/trainer/ppo/metric_utils.py, workers/actor/dp_actor.py): ``critic/score`` is the
    # verifier score before any KL penalty; ``actor/kl_loss`` is the KL to the reference (when
    # use_kl_loss), ``critic/kl`` the in-reward KL. verl logs no reward std or zero-std fraction.
    "verl": (
        ("critic/score/mean", keys.REWARD_MEAN),
        ("critic/rewards/mean", keys.REWARD_MEAN),
        ("actor/entropy", keys.POLICY_ENTROPY),
        ("actor/kl_loss", keys.POLICY_KL),
        ("critic/kl", keys.POLICY_KL),
        ("actor/pg_clipfrac", keys.LOSS_CLIP_FRAC),
        ("actor/grad_norm", keys.OPTIM_GRAD_NORM),
        ("response_length/mean", keys.GEN_LEN_MEAN),
        ("response_length/clip_ratio", keys.GEN_TRUNCATED_FRAC),
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
    verifier: str | None = None
    """The verifier that scored the run, when the log says: the run dir's ``summary.json`` /
    ``config.json``, or TRL's single reward function (``rlvr_math`` -> ``math``)."""


def parse_key_map(pairs: Sequence[str]) -> dict[str, str]:
    """``["theirs=ours", ...]`` -> ``{theirs: ours}``; ``ours`` is one of ``METRIC_KEYS`` or ``step``."""
    out: dict[str, str] = {}
    for pair in pairs:
        theirs, ours = split_pair(pair, option="--map", form="theirs=ours (e.g. reward_std=reward/std)", empty_value=False)
        ours = ours.strip()
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
    log = _apply_mapping(str(p), fmt, records, user_map)
    if log.verifier is None and fmt == "rlvr":
        log = replace(log, verifier=_run_dir_verifier(p.parent))
    return log


def _run_dir_verifier(d: Path) -> str | None:
    """The verifier named by a run dir: ``summary.json``'s ``verifier``, else ``config.json``'s
    ``[verifier] name``; None when neither says (these files are context, not the data checked)."""
    for name, path in (("summary.json", ("verifier",)), ("config.json", ("verifier", "name"))):
        try:
            value: Any = json.loads((d / name).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError):
            continue
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


_TRL_REWARD = re.compile(r"rewards/(?P<name>.+)/(?P<stat>mean|frac_correct)")


def trl_pass_rate(logs: Mapping[str, Any]) -> tuple[str, float] | None:
    """``(key, value)`` of the pass rate in one TRL log entry, when exactly one reward function
    logged it (rlvr's ``reward_function`` logs ``rewards/<name>/frac_correct``); else None."""
    found = [
        (key, float(value)) for key, value in logs.items()
        if (m := _TRL_REWARD.fullmatch(key)) and m["stat"] == "frac_correct"
        and isinstance(value, (int, float)) and not isinstance(value, bool)
    ]
    return found[0] if len(found) == 1 else None


def trl_verifier(logs: Mapping[str, Any]) -> str | None:
    """The verifier behind a TRL log entry's single reward function: ``rlvr_math`` -> ``math`` (a
    registered name), any other function as a description; None with zero or several functions."""
    names = {m["name"] for key in logs if (m := _TRL_REWARD.fullmatch(key))}
    if len(names) != 1:
        return None
    (name,) = names
    from rlvr.verifiers.registry import available_verifiers

    if name.startswith("rlvr_") and name[len("rlvr_"):] in available_verifiers():
        return name[len("rlvr_"):]
    return f"TRL reward function {name!r}"


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
    verifiers: set[str | None] = set()
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
        if fmt == "trl":
            verifiers.add(trl_verifier(rec))
            found = trl_pass_rate(rec) if keys.REWARD_CORRECT_FRAC not in metrics else None
            if found is not None:
                metrics[keys.REWARD_CORRECT_FRAC] = found[1]
                used.setdefault(keys.REWARD_CORRECT_FRAC, found[0])
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
    verifiers.discard(None)  # entries without reward columns (eval, end of training)
    verifier = next(iter(verifiers)) if len(verifiers) == 1 else None
    return MetricsLog(path, fmt, rows, used, skipped, verifier)


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
