"""`rlvr audit`: measure a verifier's coverage, false-positive and false-negative rates."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from rlvr.commands._common import err_console, fail, parse_options, progress_bar
from rlvr.errors import RlvrError


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command(
        name="audit",
        epilog=(
            "Examples:  rlvr audit --verifier math   |   "
            "rlvr audit --verifier sql --cases my_cases.jsonl --min-coverage 0.95   |   "
            "rlvr audit --verifier code --mutate correct_solutions.jsonl --json   |   "
            "rlvr audit --verifier mymod:verifier --kind math   |   "
            "rlvr audit --env python (the environment exploit catalogue)"
        ),
    )(audit)


def audit(
    verifier: str | None = typer.Option(
        None, "--verifier", "-v", help="Verifier name (math, rubric, format, code, sql, ...), module:object or file.py:function."
    ),
    env: str | None = typer.Option(
        None, "--env", help="Audit a tool environment instead (python, sql, calculator): its exploit catalogue."
    ),
    cases: Path | None = typer.Option(
        None, "--cases", help="JSONL of labelled cases: {'output', 'answer', 'should_pass', 'test', ...}."
    ),
    mutate: Path | None = typer.Option(
        None, "--mutate", help="JSONL of CORRECT outputs; known-bad mutants are derived from each line."
    ),
    min_coverage: float = typer.Option(
        0.9, "--min-coverage", help="Exit with status 1 when coverage of known-bad cases is below this."
    ),
    pass_threshold: float = typer.Option(
        0.5, "--pass-threshold", help="A score at or above this counts as the verifier passing the output."
    ),
    suite: bool = typer.Option(True, "--suite/--no-suite", help="Include the built-in suite for the verifier's kind."),
    kind: str | None = typer.Option(
        None,
        "--kind",
        help="Built-in suite to run (math, code, sql, ...); default: the verifier's kind "
        "(a plain function without one: math, unless --cases/--mutate are given).",
    ),
    opt: list[str] = typer.Option([], "--opt", help="Verifier option key=value (repeatable)."),
    workers: int = typer.Option(
        2, help="Worker processes for the cross-process determinism run (0 skips it)."
    ),
    repeat: int = typer.Option(2, help="In-process runs per case (latency and determinism)."),
    timeout: float = typer.Option(30.0, help="Hard time limit per case on the worker processes, seconds."),
    show: str = typer.Option("all", help="Per-case rows to print: all or failures."),
    as_json: bool = typer.Option(False, "--json", help="Print the full report as one JSON object."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Audit a verifier against known-good and known-bad outputs before training on it."""
    from rich.console import Console

    from rlvr.audit import audit as run_audit
    from rlvr.audit import verifier_kind
    from rlvr.audit.report import render
    from rlvr.verifiers.registry import get_verifier

    if show not in ("all", "failures"):
        raise fail(f"--show must be 'all' or 'failures', got {show!r}", 2)
    if not 0 <= min_coverage <= 1:
        raise fail(f"--min-coverage must be between 0 and 1, got {min_coverage}", 2)
    options = parse_options(opt)
    if env is not None:
        from rlvr.commands.env import audit_env_command

        audit_env_command(env, verifier, options, pass_threshold, as_json, quiet)
        return
    if verifier is None:
        raise fail("give --verifier NAME (or --env NAME to audit a tool environment)", 2)
    try:
        v = get_verifier(verifier, **options)  # setup errors surface before any progress output
    except RlvrError as exc:
        raise fail(str(exc)) from None
    try:
        with progress_bar(disable=quiet or as_json) as bar:
            task = bar.add_task("auditing", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = run_audit(
                v,
                cases=cases,
                mutate=mutate,
                suite=suite,
                kind=kind or verifier_kind(v, verifier),
                label=verifier,
                workers=workers,
                repeat=repeat,
                timeout=timeout,
                pass_threshold=pass_threshold,
                progress=progress,
            )
    except RlvrError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps({**report.to_dict(), "min_coverage": min_coverage, "ok": report.meets(min_coverage)}))
    else:
        render(report, Console(), show=show)
    if not report.meets(min_coverage):
        cov = report.coverage
        if cov is None:
            raise fail("no known-bad cases to measure coverage on; add cases with should_pass: false or use --mutate")
        err_console.print(
            f"error: coverage {cov:.1%} is below --min-coverage {min_coverage:.1%}",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(1)
