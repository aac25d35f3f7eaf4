"""`rlvr env replay` and `rlvr env run`: episodes through a real tool environment, written as one
JSON record per line (the README's "Tool environments" gives the record)."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import typer

from rlvr.commands._common import err_console, fail, parse_options, progress_bar
from rlvr.errors import RlvrError

_REPLAY_EPILOG = (
    "Example:  rlvr env replay examples/env/python_episodes.jsonl --env python --out episodes.jsonl\n\n"
    "Each line: {\"id\", \"prompt\", \"answer\", \"db\" (sql), \"turns\": [assistant messages]}."
)
_RUN_EPILOG = (
    "Example:  rlvr env run tasks.jsonl --env calculator --policy tiny --out episodes.jsonl\n\n"
    "--policy: tiny (a random built-in model), a local model folder, or an OpenAI-compatible URL (with --model)."
)

env_app = typer.Typer(help="Tool-using environments: replay scripted episodes or run a policy.",
                      no_args_is_help=True, rich_markup_mode=None)


def register(app: typer.Typer) -> None:
    """Add ``rlvr env`` to ``app``."""
    app.add_typer(env_app, name="env")


def _make(env: str, verifier: str | None, opt: list[str]) -> Any:
    from rlvr.env import make_env

    options = parse_options(opt)
    if verifier:
        options["verifier"] = verifier
    return make_env(env, **options)()


def _summary(records: list[dict[str, Any]], out: Path | None, elapsed: float) -> dict[str, Any]:
    n = len(records)
    return {
        "episodes": n,
        "mean_reward": round(sum(float(r["reward"]) for r in records) / n, 4) if n else 0.0,
        "statuses": dict(Counter(r["status"] for r in records)),
        "ended": dict(Counter(r["ended"] for r in records)),
        "tool_calls": sum(r["n_tool_calls"] for r in records),
        "tool_errors": sum(r["n_tool_errors"] for r in records),
        "parse_failures": sum(r["parse_failures"] for r in records),
        "elapsed_s": round(elapsed, 3),
        "out": str(out) if out else None,
    }


def _write(records_iter: Any, total: int, out: Path | None, quiet: bool, as_json: bool, label: str) -> None:
    t0 = time.monotonic()
    records: list[dict[str, Any]] = []
    fh = out.open("w", encoding="utf-8") if out else None
    try:
        with progress_bar(disable=quiet or as_json) as bar:
            task = bar.add_task(label, total=total)
            for rec in records_iter:
                records.append(rec)
                if fh:
                    fh.write(json.dumps(rec, ensure_ascii=False, default=str) + "\n")
                    fh.flush()
                bar.advance(task)
    finally:
        if fh:
            fh.close()
    summary = _summary(records, out, time.monotonic() - t0)
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        err_console.print(
            f"{summary['episodes']} episodes, mean reward {summary['mean_reward']}, statuses {summary['statuses']}, "
            f"ended {summary['ended']}, {summary['tool_calls']} tool calls ({summary['tool_errors']} errors)"
            + (f" → {out}" if out else ""), highlight=False, markup=False)


@env_app.command("replay", epilog=_REPLAY_EPILOG)
def replay(
    file: Path = typer.Argument(..., metavar="FILE", help="JSONL of scripted episodes."),
    env: str = typer.Option(..., "--env", "-e", help="Environment: python, sql, calculator, or module:Class."),
    verifier: str | None = typer.Option(None, "--verifier", "-v", help="Verifier of the final answer (default: the environment's)."),
    opt: list[str] = typer.Option([], "--opt", help="Environment/budget/verifier option key=value (repeatable), e.g. --opt max_turns=4."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write episode records here (JSONL)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Play scripted episodes through a real environment: tool calls run, observations and the verdict recorded."""
    from rlvr.env.replay import load_rows, replay_rows

    try:
        instance = _make(env, verifier, opt)
        rows = load_rows(file, instance, scripted=True)
        _write(replay_rows(instance, rows, file), len(rows), out, quiet, as_json, "replay")
    except RlvrError as exc:
        raise fail(str(exc)) from None


def _generator(policy: str, model: str | None, max_new_tokens: int, seed: int) -> Any:
    if policy.startswith(("http://", "https://")):
        from rlvr.policy.endpoint import EndpointConfig, EndpointSampler

        sampler = EndpointSampler(EndpointConfig(url=policy, model=model or "default", max_tokens=max_new_tokens,
                                                 seed=seed))

        def ask(prompt: str) -> str:
            out = sampler.sample(prompt, 1)
            return str(out[0].get("text", out[0].get("output", ""))) if out else ""

        return ask
    if policy == "tiny":
        from rlvr.policy.tiny import TinyPolicy

        pol: Any = TinyPolicy(seed=seed)
    else:
        from rlvr.policy import load_policy

        pol = load_policy(policy)
    limit = pol.max_positions() if hasattr(pol, "max_positions") else None

    def gen(prompt: str) -> str:
        if limit:
            prompt = prompt[-max(1, limit - max_new_tokens - 2):]
        return pol.generate([prompt], n=1, max_new_tokens=max_new_tokens, seed=seed)[0][0]

    return gen


@env_app.command("run", epilog=_RUN_EPILOG)
def run(
    file: Path = typer.Argument(..., metavar="FILE", help="JSONL of tasks: {\"id\", \"prompt\", \"answer\", \"db\"?}."),
    env: str = typer.Option(..., "--env", "-e", help="Environment: python, sql, calculator, or module:Class."),
    policy: str = typer.Option("tiny", "--policy", "-p", help="tiny, a local model folder, or an endpoint URL."),
    model: str | None = typer.Option(None, "--model", help="Model name for an endpoint."),
    verifier: str | None = typer.Option(None, "--verifier", "-v", help="Verifier of the final answer."),
    opt: list[str] = typer.Option([], "--opt", help="Environment/budget/verifier option key=value (repeatable)."),
    max_new_tokens: int = typer.Option(128, help="Tokens per assistant turn."),
    seed: int = typer.Option(0, help="Sampling seed."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write episode records here (JSONL)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Run a policy through a tool environment and record its episodes like replay does."""
    from rlvr.env.replay import load_rows, run_episode

    try:
        instance = _make(env, verifier, opt)
        rows = load_rows(file, instance, scripted=False)
        generate = _generator(policy, model, max_new_tokens, seed)
        src = os.path.dirname(os.path.abspath(file))
        _write((run_episode(instance, row, generate, src) for _, row in rows), len(rows), out, quiet, as_json, "run")
    except RlvrError as exc:
        raise fail(str(exc)) from None


def audit_env_command(env: str, verifier: str | None, options: dict[str, Any], pass_threshold: float,
                      as_json: bool, quiet: bool) -> None:
    """``rlvr audit --env NAME``: the exploit catalogue, reported like a verifier audit."""
    from rich.console import Console
    from rich.table import Table

    from rlvr.audit.env import audit_env
    from rlvr.audit.env_cases import env_cases
    from rlvr.audit.report import render

    if not env_cases(env):
        raise fail(f"no exploit catalogue for environment {env!r}; built in: python, sql, calculator")
    if verifier:
        options = {**options, "verifier": verifier}
    try:
        with progress_bar(disable=quiet or as_json) as bar:
            task = bar.add_task("auditing", total=None)
            result = audit_env(env, pass_threshold=pass_threshold, options=options,
                               progress=lambda done, total: bar.update(task, completed=done, total=total))
    except RlvrError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(result.to_dict(), default=str))
    else:
        console = Console()
        render(result.report, console, show="all")
        table = Table(title=f"exploit classes of env {env}")
        for col in ("class", "cases", "as expected", "paid", "leaks", "side effects"):
            table.add_column(col, justify="left" if col == "class" else "right")
        for name, row in result.classes.items():
            table.add_row(name, *(str(row[k]) for k in ("cases", "as_expected", "paid", "leaks", "side_effects")))
        console.print(table)
        for item in result.side_effects:
            console.print(f"side effect: {item}", markup=False, highlight=False)
        console.print(result.verdict(), markup=False, highlight=False)
    if not result.ok:
        raise typer.Exit(1)
