"""`rlvr health`: training-health checks on our metrics, TRL's logs or any metrics JSONL."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import typer

from rlvr.commands._common import fail
from rlvr.errors import RlvrError

# Exit status when at least one warning fired (0: healthy, 1: bad input or option, 2: usage).
EXIT_WARNINGS = 3

_EPILOG = (
    "Examples:  rlvr health runs/tiny  |  rlvr health out/checkpoint-500/trainer_state.json  |  "
    "rlvr health verl_exp.jsonl --format verl  |  "
    "rlvr health my_log.jsonl --map rstd=reward/std --map ent=policy/entropy --set patience=1  |  "
    "rlvr health runs/tiny --verifier math --set silent_verifier_patience=5.  "
    "Exit status: 0 healthy, 1 bad input or option, 2 usage error, 3 warnings fired (0 with --no-fail)."
)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""

    @app.command(epilog=_EPILOG)
    def health(
        path: Path = typer.Argument(
            ...,
            metavar="PATH",
            help="A run dir or metrics file: rlvr metrics.jsonl, TRL trainer_state.json (or its output "
            "dir), verl's file-logger JSONL, or any JSONL of metrics.",
        ),
        fmt: str = typer.Option(
            "auto", "--format", "-f", help="auto, rlvr, trl, verl or jsonl (generic: our keys or --map)."
        ),
        key_map: list[str] = typer.Option(
            [], "--map", help="Rename a key, theirs=ours (repeatable), e.g. --map reward_std=reward/std."
        ),
        overrides: list[str] = typer.Option(
            [],
            "--set",
            help=_SET_HELP,
        ),
        verifier: str | None = typer.Option(
            None,
            "--verifier",
            "-v",
            help="The verifier that scored the run, named in the silent-verifier alarm (default: the "
            "run dir's config.json, or TRL's single rlvr reward function).",
        ),
        env: str | None = typer.Option(
            None,
            "--env",
            help="The tool environment of a multi-turn run (python, sql, calculator, module:Class), named in "
            "the agent checks' commands (rlvr audit --env NAME).",
        ),
        no_fail: bool = typer.Option(False, "--no-fail", help="Exit 0 even when warnings fired."),
        max_rows: int = typer.Option(40, "--max-rows", min=0, help="Warnings shown in the table (all go to --json)."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object: warnings and summary."),
    ) -> None:
        """Judge a training run's metrics: reward-variance, entropy and KL collapse, length, dead groups,
        a silent verifier, and (tools/* metrics) a tool-using agent's tool errors, turns and habits."""
        from rlvr.diagnostics import FORMATS, HealthConfig, check_metrics, parse_key_map, read_metrics

        if fmt not in FORMATS:
            raise fail(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        try:
            config = HealthConfig(**_parse_overrides(overrides))
            log = read_metrics(path, fmt, parse_key_map(key_map))
        except RlvrError as exc:
            raise fail(str(exc)) from None
        named = verifier.strip() if verifier and verifier.strip() else log.verifier
        env_name = env.strip() if env and env.strip() else None
        monitor = check_metrics(log.rows, config, verifier=named, env=env_name)
        summary = monitor.summary()
        warnings = monitor.warnings
        if as_json:
            report = {
                "path": log.path,
                "format": log.format,
                "rows": len(log.rows),
                "skipped_rows": log.skipped_rows,
                "keys": log.keys,
                "verifier": named,
                "env": env_name,
                "config": asdict(config),
                "healthy": summary["healthy"],
                "summary": summary,
                "warnings": [w.to_dict() for w in warnings],
            }
            typer.echo(json.dumps(report, allow_nan=False))
        else:
            _print_report(log, summary, warnings, max_rows, named)
        if warnings and not no_fail:
            raise typer.Exit(EXIT_WARNINGS)


def _config_fields() -> list[str]:
    from rlvr.diagnostics import HealthConfig  # torch-free and light

    return [f.name for f in fields(HealthConfig)]


_SET_HELP = (
    "Threshold override field=value (repeatable; 'none' turns a check off), e.g. --set kl_max=5 "
    "--set patience=1. Fields: " + ", ".join(_config_fields()) + "."
)


# Integer fields whose 0 turns their check off, so --set NAME=none means 0.
_ZERO_IS_OFF = frozenset({"silent_verifier_patience"})


def _parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``field=value`` pairs for ``HealthConfig``; ints for the step counts, floats or None otherwise."""
    from rlvr.diagnostics import HealthConfig
    from rlvr.errors import ConfigError
    from rlvr.options import split_pair

    types = {f.name: f.type for f in fields(HealthConfig)}
    out: dict[str, Any] = {}
    for pair in pairs:
        name, raw = split_pair(pair, option="--set", form="field=value (e.g. kl_max=5)", empty_value=False)
        name, raw = name.replace("-", "_"), raw.strip()
        if name not in types:
            raise ConfigError(f"--set {pair!r}: unknown field {name!r}; fields: {', '.join(types)}")
        is_int = str(types[name]).strip() == "int"
        if raw.lower() in ("none", "off", "null"):
            if name in _ZERO_IS_OFF:
                out[name] = 0
                continue
            if is_int:
                raise ConfigError(f"--set {pair!r}: {name} cannot be turned off; give an integer")
            out[name] = None
            continue
        try:
            out[name] = int(raw) if is_int else float(raw)
        except ValueError:
            kind = "an integer" if is_int else "a number or none"
            raise ConfigError(f"--set {pair!r}: {name} takes {kind}") from None
    return out


def _fmt_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _print_report(
    log: Any, summary: dict[str, Any], warnings: list[Any], max_rows: int, verifier: str | None
) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    first, last = summary["first_step"], summary["last_step"]
    mapped = ", ".join(f"{ours} <- {theirs}" if ours != theirs else ours for ours, theirs in sorted(log.keys.items()))
    scored = f"; verifier {verifier}" if verifier else ""
    console.print(
        f"{log.path}: {len(log.rows)} steps ({first}-{last}), format {log.format}{scored}; read {mapped}",
        highlight=False,
        markup=False,
    )
    if warnings:
        table = Table(title="health warnings", show_lines=True)
        for col, kw in (("step", {"justify": "right"}), ("check", {}), ("metric", {}),
                        ("value", {"justify": "right"}), ("threshold", {"justify": "right"}),
                        ("what it means / what to do", {"ratio": 1})):
            table.add_column(col, **kw)
        for w in warnings[:max_rows]:
            table.add_row(str(w.step), w.code, w.metric, _fmt_value(w.value), _fmt_value(w.threshold), w.message)
        console.print(table)
        if len(warnings) > max_rows:
            console.print(f"... and {len(warnings) - max_rows} more warnings (see --json)", highlight=False)
        counts = Table(title="summary")
        for col in ("check", "warnings", "first step", "last step", "worst", "at step"):
            counts.add_column(col, justify="left" if col == "check" else "right")
        for code, entry in summary["by_code"].items():
            counts.add_row(
                code, str(entry["count"]), str(entry["first_step"]), str(entry["last_step"]),
                _fmt_value(entry["worst"]), _fmt_value(entry["worst_step"]),
            )
        console.print(counts)
    if summary["checks_without_data"]:
        console.print(
            "not checked (metric missing): " + ", ".join(summary["checks_without_data"]),
            highlight=False,
            markup=False,
        )
    if warnings:
        console.print(
            f"{summary['warnings']} warning(s): " + ", ".join(f"{c} x{n}" for c, n in summary["counts"].items()),
            style="bold red",
            highlight=False,
        )
    else:
        console.print(f"healthy: no warnings in {len(log.rows)} steps", style="bold green", highlight=False)
