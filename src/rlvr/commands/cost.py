"""`rlvr cost`: what an RLVR run costs, as a table of cost lines and totals (see ``rlvr.cost``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from rlvr.commands._common import fail
from rlvr.errors import RlvrError

_EPILOG = (
    "Examples:  rlvr cost --tokens-per-rollout 512 --k 8 --prompts-per-step 64 --steps 500 "
    "--gpu-hour-rate 2.5 --throughput 2500 --verifier-seconds 0.05 --workers 16 --eng-hours 40 "
    "--eng-rate 120 --label-cost 0.5\n\n"
    "rlvr cost --from-config examples/train_tiny.toml --usd-per-1k-tokens 0.0006 "
    "--train-usd-per-1k-tokens 0.003 --json"
)

_HELP = """Estimate what an RLVR run costs: inference, training updates, verifier compute and
engineering, with totals, a wall-clock estimate and, given --label-cost, a comparison with buying
preference labels. Directional, not precise; every assumption:

Rollouts R = K x prompts-per-step x steps; generated tokens G = R x tokens-per-rollout (with
--from-config, [rollout] max_new_tokens: an upper bound); prompt tokens P = R x prompt-tokens
(billed per rollout); trained tokens T = (G + P) x epochs.

Price with either --usd-per-1k-tokens (API: G and P at that price, training only with
--train-usd-per-1k-tokens) or --gpu-hour-rate and --throughput (generated tokens/s per GPU):
inference GPU-hours = G / throughput / 3600; training GPU-hours = T / train-throughput / 3600,
where train-throughput defaults to throughput / 3 (forward+backward ~ 6N FLOPs per token vs 2N
for a forward, Kaplan et al. 2020; conservative, since decoding runs at lower utilisation than
training: pass a measured --train-throughput; add 1 to --train-factor per extra forward such as
a KL reference model). Wall-clock = GPU-hours / gpus.

Verifier: one check per rollout, CPU-hours = R x verifier-seconds / 3600 at --cpu-hour-rate
(0: own hardware), wall-clock = CPU-hours / workers. Engineering = eng-hours x eng-rate.
Compute total = inference + training + verifier; all-in = compute + engineering; $/step and
$/1K rollouts are of compute. Wall-clock adds generation, training and verification (no overlap).

Labels = prompts x comparisons-per-prompt x label-cost, prompts defaulting to
prompts-per-step x steps (capped at the dataset size when known; prompts repeat across epochs),
against the RLVR all-in total; labels only (the preference route's training is not counted).

--from-config reads K, prompts per step, steps, max new tokens, PPO epochs and the dataset size
from an rlvr training config (as rlvr train would: presets and defaults apply); flags win."""


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command(epilog=_EPILOG, help=_HELP, short_help="Estimate an RLVR run's cost: lines, totals, vs preference labels.")(cost)


def cost(
    from_config: Path | None = typer.Option(
        None, "--from-config", metavar="FILE", help="rlvr training config (TOML/YAML) to read K, prompts, steps, tokens from."
    ),
    tokens_per_rollout: int | None = typer.Option(
        None, "--tokens-per-rollout", help="Generated tokens per rollout (default with --from-config: max_new_tokens)."
    ),
    prompt_tokens: int | None = typer.Option(None, "--prompt-tokens", help="Prompt tokens per rollout [default: 0]."),
    k: int | None = typer.Option(None, "--k", "-k", help="K: completions sampled per prompt [default: 8]."),
    prompts_per_step: int | None = typer.Option(None, "--prompts-per-step", help="Prompts per training step."),
    steps: int | None = typer.Option(None, "--steps", help="Training steps."),
    usd_per_1k_tokens: float | None = typer.Option(
        None, "--usd-per-1k-tokens", help="$/1K-token mode: $ per 1K generated tokens."
    ),
    usd_per_1k_prompt_tokens: float | None = typer.Option(
        None, "--usd-per-1k-prompt-tokens", help="$/1K-token mode: $ per 1K prompt tokens [default: as generated]."
    ),
    gpu_hour_rate: float | None = typer.Option(None, "--gpu-hour-rate", help="GPU-hour mode: $ per GPU-hour."),
    throughput: float | None = typer.Option(
        None, "--throughput", help="Generated tokens/s per GPU (GPU-hour mode; else only for wall-clock)."
    ),
    gpus: int | None = typer.Option(None, "--gpus", help="GPUs (wall-clock only) [default: 1]."),
    train_throughput: float | None = typer.Option(
        None, "--train-throughput", help="GPU-hour mode: trained tokens/s per GPU [default: throughput / train-factor]."
    ),
    train_factor: float | None = typer.Option(
        None, "--train-factor", help="Training cost per token in forward passes [default: 3, forward+backward]."
    ),
    train_usd_per_1k_tokens: float | None = typer.Option(
        None, "--train-usd-per-1k-tokens", help="$/1K-token mode: $ per 1K trained tokens [default: not priced]."
    ),
    epochs: int | None = typer.Option(None, "--epochs", help="Update passes over each rollout batch [default: 1]."),
    verifier_seconds: float | None = typer.Option(
        None, "--verifier-seconds", help="CPU-seconds per verifier check [default: 0]."
    ),
    workers: int | None = typer.Option(None, "--workers", help="Verifier workers in parallel [default: 1]."),
    cpu_hour_rate: float | None = typer.Option(
        None, "--cpu-hour-rate", help="$ per verifier CPU-hour [default: 0, own hardware]."
    ),
    eng_hours: float | None = typer.Option(None, "--eng-hours", help="Engineering hours [default: 0]."),
    eng_rate: float | None = typer.Option(None, "--eng-rate", help="$ per engineering hour [default: 0]."),
    label_cost: float | None = typer.Option(
        None, "--label-cost", help="$ per preference comparison: adds the RLVR-vs-labels block."
    ),
    comparisons_per_prompt: float | None = typer.Option(
        None, "--comparisons-per-prompt", help="Preference comparisons per prompt [default: 1]."
    ),
    label_prompts: int | None = typer.Option(
        None, "--label-prompts", help="Prompts to label [default: prompts-per-step x steps, capped at the dataset]."
    ),
    dataset_prompts: int | None = typer.Option(
        None, "--dataset-prompts", help="Distinct prompts in the dataset (caps the default prompts to label)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the estimate as one JSON object."),
) -> None:
    from rlvr.cost import CostInputs, estimate

    given: dict[str, Any] = {
        name: value
        for name, value in {
            "tokens_per_rollout": tokens_per_rollout,
            "prompt_tokens": prompt_tokens,
            "k": k,
            "prompts_per_step": prompts_per_step,
            "steps": steps,
            "usd_per_1k_tokens": usd_per_1k_tokens,
            "usd_per_1k_prompt_tokens": usd_per_1k_prompt_tokens,
            "gpu_hour_rate": gpu_hour_rate,
            "throughput": throughput,
            "gpus": gpus,
            "train_throughput": train_throughput,
            "train_factor": train_factor,
            "train_usd_per_1k_tokens": train_usd_per_1k_tokens,
            "epochs": epochs,
            "verifier_seconds": verifier_seconds,
            "workers": workers,
            "cpu_hour_rate": cpu_hour_rate,
            "eng_hours": eng_hours,
            "eng_rate": eng_rate,
            "label_cost": label_cost,
            "comparisons_per_prompt": comparisons_per_prompt,
            "label_prompts": label_prompts,
            "dataset_prompts": dataset_prompts,
        }.items()
        if value is not None
    }
    config_notes: list[str] = []
    values: dict[str, Any] = {}
    try:
        if from_config is not None:
            values, config_notes = plan_from_config(from_config)
            if tokens_per_rollout is None:
                config_notes.insert(0, f"{from_config}: tokens per rollout = [rollout] max_new_tokens, "
                                    "an upper bound (give --tokens-per-rollout for the mean length)")
        values.update(given)  # explicit flags win
        missing = [n for n in ("tokens_per_rollout", "prompts_per_step", "steps") if n not in values]
        if missing:
            flags = ", ".join("--" + n.replace("_", "-") for n in missing)
            raise fail(f"give {flags} (or --from-config FILE with an rlvr training config)")
        result = estimate(CostInputs(**values))
    except RlvrError as exc:
        raise fail(str(exc)) from None
    if as_json:
        report = result.to_dict()
        report["notes"] = [*config_notes, *report["notes"]]
        report["from_config"] = str(from_config) if from_config is not None else None
        typer.echo(json.dumps(report, allow_nan=False))
    else:
        _print_estimate(result, config_notes)


def plan_from_config(path: Path) -> tuple[dict[str, Any], list[str]]:
    """The plan an rlvr training config implies, as ``CostInputs`` keywords, and caveats about it."""
    from rlvr.commands._common import count_lines
    from rlvr.grpo.config import load_config

    cfg = load_config(path)  # ConfigError names the file: missing, malformed or invalid
    values: dict[str, Any] = {
        "tokens_per_rollout": cfg.rollout.max_new_tokens,
        "k": cfg.rollout.group_size,
        "prompts_per_step": cfg.rollout.prompts_per_step,
        "steps": cfg.run.steps,
        "epochs": cfg.optim.epochs,
    }
    notes: list[str] = []
    if cfg.data.task is not None:
        values["dataset_prompts"] = cfg.data.n_prompts
    elif cfg.data.path is not None:
        n = count_lines(Path(cfg.data.path))
        if n:
            values["dataset_prompts"] = n
        else:
            notes.append(f"{path}: dataset size unknown ({cfg.data.path} unreadable); give --dataset-prompts")
    if cfg.rollout.dynamic_sampling:
        notes.append(
            f"{path}: dynamic sampling is on; refilling dropped groups samples more rollouts than counted "
            f"(up to {cfg.rollout.max_refill_rounds} more rounds per step)"
        )
    if cfg.loss.beta > 0:
        notes.append(f"{path}: [loss] beta > 0 runs a KL reference model: add 1 to --train-factor for its forward")
    return values, notes


def _qty(x: float) -> str:
    if float(x).is_integer() or abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:,.2f}" if abs(x) >= 1 else f"{x:.3g}"


def _usd(x: float | None) -> str:
    if x is None:
        return "-"
    if abs(x) >= 1 or x == 0:
        return f"${x:,.2f}"
    digits = f"{x:.4g}"  # small amounts keep 4 significant digits, and at least cents
    return f"${x:.2f}" if len(digits.partition(".")[2]) < 2 else f"${digits}"


def _hours(x: float | None) -> str:
    return "unknown" if x is None else f"{_qty(x)} h"


def _print_estimate(result: Any, config_notes: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    mode = "GPU-hour pricing" if result.inputs.mode == "gpu_hours" else "$/1K-token pricing"
    table = Table(title=f"RLVR cost estimate ({mode})", show_header=True)
    table.add_column("item")
    table.add_column("quantity", justify="right")
    table.add_column("unit")
    table.add_column("rate $/unit", justify="right")
    table.add_column("cost", justify="right")
    table.add_column("note", overflow="fold")
    for line in result.lines:
        rate = "-" if line.rate is None else f"{line.rate:,.6g}"
        table.add_row(line.name, _qty(line.quantity), line.unit, rate, _usd(line.cost), line.note)
    table.add_section()
    rollouts = result.rollouts
    table.add_row("compute total", "", "", "", _usd(result.compute_usd), "inference + training + verifier")
    table.add_row("all-in total", "", "", "", _usd(result.total_usd), "compute + engineering")
    table.add_row("$ per step", _qty(result.inputs.steps), "steps", "", _usd(result.usd_per_step), "compute")
    table.add_row("$ per 1K rollouts", _qty(rollouts), "rollouts", "", _usd(result.usd_per_1k_rollouts), "compute")
    table.add_row(
        "wall-clock",
        _qty(result.wall_clock_hours),
        "hours",
        "",
        "",
        f"generation {_hours(result.generation_hours)} + training {_hours(result.training_hours)} + "
        f"verification {_hours(result.verification_hours)}, one after the other"
        + ("; unknown parts left out" if None in (result.generation_hours, result.training_hours) else ""),
    )
    console = Console()
    console.print(table)
    cmp_ = result.comparison
    if cmp_ is not None:
        block = Table(title="RLVR vs preference labels", show_header=True)
        block.add_column("")
        block.add_column("value", justify="right")
        block.add_column("note", overflow="fold")
        block.add_row(
            "labels",
            _usd(cmp_.label_usd),
            f"{_qty(cmp_.prompts)} prompts x {cmp_.comparisons / cmp_.prompts:g} comparisons x {_usd(cmp_.label_cost)}",
        )
        block.add_row("RLVR all-in", _usd(cmp_.rlvr_usd), "compute + engineering")
        cheaper = {"rlvr": "RLVR is cheaper", "labels": "labels are cheaper", "equal": "they cost the same"}[cmp_.cheaper]
        block.add_row("labels / RLVR", f"{cmp_.ratio:.2f}x", cheaper)
        block.add_row("break-even label cost", _usd(cmp_.break_even_label_cost), "$ per comparison at which both cost the same")
        block.add_row("break-even prompts", _qty(cmp_.break_even_prompts), f"prompts labelled at {_usd(cmp_.label_cost)} that cost as much as RLVR")
        console.print(block)
        console.print(f"note: {cmp_.note}", highlight=False, markup=False)
    for note in [*config_notes, *result.notes]:
        console.print(f"note: {note}", highlight=False, markup=False)
