"""`rlvr train` and `rlvr curate`: the GRPO-family trainer and data curation."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from rlvr.commands._common import err_console, fail, parse_options, progress_bar
from rlvr.errors import RlvrError
from rlvr.report.format import number


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command(
        epilog=(
            "Examples:  rlvr train examples/train_tiny.toml\n\n"
            "rlvr train examples/train_tiny.toml --set algorithm=dr_grpo --set optim.learning_rate=3e-4 --out runs/b\n\n"
            "rlvr train examples/train_tiny.toml --resume"
        )
    )(train)
    app.command(
        epilog=(
            "Examples:  rlvr curate prompts.jsonl --model runs/base/final --verifier math -k 8 --out kept.jsonl\n\n"
            "rlvr curate --task arithmetic --n 200 --model runs/tiny/final --verifier math --out kept.jsonl"
        )
    )(curate)


def train(
    config: Path = typer.Argument(..., metavar="CONFIG", help="Training config (TOML, or YAML with PyYAML)."),
    set_: list[str] = typer.Option(
        [], "--set", help="Override a config value: section.key=value (repeatable), e.g. --set run.steps=20."
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in the run directory from its newest checkpoint."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Run directory (overrides [run] out_dir)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or health lines on the console."),
) -> None:
    """Train a policy with GRPO-family RL; writes config.json, metrics.jsonl, health.jsonl,
    checkpoints/, final/ and summary.json to the run directory."""
    from rlvr.grpo.config import load_config

    overrides = list(set_)
    if out is not None:
        overrides.append(f"run.out_dir={json.dumps(str(out))}")
    try:
        cfg = load_config(config, overrides)
    except RlvrError as exc:
        raise fail(str(exc)) from None
    if cfg.run.out_dir is None:
        raise fail("[run] out_dir is not set; give --out DIR")
    try:
        from rlvr.grpo.trainer import train as run_training
    except ImportError as exc:
        raise fail(f"training needs torch: pip install 'rlvr[train]' ({exc})") from None
    try:
        summary = run_training(cfg, resume=resume, quiet=quiet or as_json)
    except RlvrError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(summary, default=str))
        return
    health = summary["health"]
    verdict = "no warnings" if health["healthy"] else f"{health['warnings']} warning(s) {health['counts']}"
    err_console.print(
        f"{summary['steps']} steps in {summary.get('seconds', 0):.1f}s; reward "
        f"{number(summary['reward_start'])} -> {number(summary['reward_end'])} (first/last steps); "
        f"health: {verdict}; run dir {summary['run_dir']}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def _parse_band(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in text.split(","))
    except ValueError:
        raise fail(f"--band expects LOW,HIGH such as 0.3,0.7, got {text!r}", 2) from None
    return lo, hi


def curate(
    file: Path | None = typer.Argument(
        None, metavar="[FILE]", help="JSONL of {'prompt', 'answer', ...} records (or use --task)."
    ),
    model: Path = typer.Option(..., "--model", "-m", help="Local model folder (tiny checkpoint or transformers)."),
    verifier: str = typer.Option(..., "--verifier", "-v", help="Verifier name (math, ...), module:object or file.py:function (a plain function works)."),
    out: Path = typer.Option(..., "--out", "-o", help="Write the kept prompts here (JSONL, with pass_rate)."),
    k: int = typer.Option(8, "-k", help="Samples per prompt."),
    band: str = typer.Option("0.3,0.7", help="Keep prompts whose pass rate is in LOW,HIGH (inclusive)."),
    task: str | None = typer.Option(None, help="Generate prompts with a built-in task instead of FILE."),
    n: int = typer.Option(100, help="With --task: how many prompts."),
    temperature: float = typer.Option(1.0, help="Sampling temperature."),
    max_new_tokens: int = typer.Option(64, help="Longest completion in tokens."),
    seed: int = typer.Option(0, help="Sampling seed."),
    device: str = typer.Option("cpu", help="Torch device."),
    opt: list[str] = typer.Option([], "--opt", help="Verifier option key=value (repeatable)."),
    workers: int = typer.Option(0, help="Verification worker processes (0 = in-process)."),
    timeout: float = typer.Option(30.0, help="Hard time limit per verification, seconds."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Keep the prompts a model solves sometimes: sample k per prompt, keep pass rates inside a band,
    write the kept set (OUT) and a summary with the pass-rate histogram (OUT.summary.json)."""
    from rlvr.engine import EngineConfig
    from rlvr.verifiers.registry import get_verifier

    lo, hi = _parse_band(band)
    try:
        if (file is None) == (task is None):
            raise fail("give a prompts FILE or --task NAME (one of them)")
        if file is not None:
            from rlvr.data.prompts import load_prompts

            records = load_prompts(file)
        else:
            from rlvr.data.tasks import make_task

            records = make_task(task, n, seed=seed)  # type: ignore[arg-type]
        v = get_verifier(verifier, **parse_options(opt))
        engine = EngineConfig(workers=workers, timeout=timeout)
        from rlvr.policy import load_policy

        policy = load_policy(model, device=device)
        from rlvr.data.curate import curate as run_curate
        from rlvr.data.prompts import write_records

        with progress_bar(disable=quiet or as_json) as bar:
            task_id = bar.add_task("sampling", total=len(records))
            result = run_curate(
                policy, records, v, k=k, band=(lo, hi), temperature=temperature, max_new_tokens=max_new_tokens,
                seed=seed, engine=engine, on_batch=lambda m: bar.advance(task_id, m),
            )
        write_records(out, result.kept)
        summary = {**result.summary(), "out": str(out)}
        summary_path = out.with_name(out.stem + ".summary.json")
        summary_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        summary["summary_file"] = str(summary_path)
    except RlvrError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(summary))
        return
    width = max((b["count"] for b in summary["histogram"]), default=0) or 1
    for b in summary["histogram"]:
        bar_text = "#" * round(30 * b["count"] / width)
        err_console.print(
            f"pass {b['pass_rate']:.3f} {'keep' if b['kept'] else '    '} {b['count']:6d} {bar_text}",
            markup=False, highlight=False,
        )
    err_console.print(
        f"kept {summary['kept']}/{summary['prompts']} prompts with pass rate in [{lo:g}, {hi:g}] "
        f"({summary['too_easy']} too easy, {summary['too_hard']} too hard) -> {out}",
        markup=False, highlight=False,
    )
