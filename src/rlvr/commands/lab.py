"""`rlvr lab`: the whole base vs RLVR vs random-reward study, end to end (``rlvr.lab``)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from rlvr.commands._common import err_console, fail
from rlvr.errors import RlvrError


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``: ``rlvr lab`` (the study) and ``rlvr lab calibrate``."""
    lab_app = typer.Typer(invoke_without_command=True, no_args_is_help=False)
    lab_app.callback(
        invoke_without_command=True,
        epilog=(
            "Examples:  rlvr lab                      (built-in tiny model, arithmetic, 3 seeds)\n\n"
            "rlvr lab --quick --out runs/lab-quick    (smoke profile, 3 seeds, about 2 min)\n\n"
            "rlvr lab --task countdown --seed 1 --out runs/lab-countdown\n\n"
            "rlvr lab --task tool --quick --out runs/lab-tool\n\n"
            "rlvr lab --model smollm2 --data prompts.jsonl --verifier math --device cuda --out runs/lab-smol\n\n"
            "rlvr lab --off-policy --out runs/lab-offpolicy   (the spurious-rewards paper's update schedule)\n\n"
            "rlvr lab calibrate --quick --out runs/calibration   (planted-truth scenarios, held-out seeds)"
        ),
    )(lab)
    lab_app.command(
        "calibrate",
        epilog="Examples:  rlvr lab calibrate --quick --out runs/cal\n\nrlvr lab calibrate --seeds 5 --only spurious,null\n\n"
        "rlvr lab calibrate --task tool --quick --out runs/cal-tool",
    )(calibrate)
    app.add_typer(lab_app, name="lab")


OFF_POLICY = {"minibatches": 8, "epochs": 2, "kl_beta": 0.0, "random_p": 0.5}
"""``--off-policy``: the update schedule of arXiv 2506.10947 (several optimizer steps per rollout
batch, no KL term, a fair-coin random reward), under which clipping biases a random reward."""


def lab(
    ctx: typer.Context,
    out: Path = typer.Option(
        Path("runs/lab"), "--out", "-o", help="Run folder (must not hold a previous lab run, unless --resume)."
    ),
    task: str = typer.Option("arithmetic", "--task", help="Built-in task: arithmetic, countdown, or tool (products with the calculator: multi-turn tool-use RL)."),
    seed: int = typer.Option(0, "--seed", help="First seed: seed+i drives replicate i (data, warm-up, RL, sampling)."),
    seeds: int | None = typer.Option(None, "--seeds", help="Independent replicates (default 3; --quick 3; --model 1)."),
    workers: int | None = typer.Option(None, "--workers", help="Processes running the seeds' jobs (default: one per CPU core)."),
    quick: bool = typer.Option(False, "--quick", help="Smoke profile: smaller data, 100 RL steps, n=8, 3 seeds."),
    model: str | None = typer.Option(
        None, "--model", help="A transformers model (folder, GGUF file or alias such as smollm2) instead of the tiny one."
    ),
    data: Path | None = typer.Option(None, "--data", help="JSONL prompts with 'answer' for --model (split into RL and test)."),
    shifted: Path | None = typer.Option(None, "--shifted", help="JSONL of shifted test prompts for --model (optional)."),
    verifier: str | None = typer.Option(None, "--verifier", help="Verifier of --data (default: the task's)."),
    device: str = typer.Option("cpu", "--device", help="Torch device: cpu, cuda, cuda:1, mps."),
    steps: int | None = typer.Option(None, "--steps", help="RL steps per arm (default: the profile's)."),
    samples: int | None = typer.Option(None, "--samples", "-n", help="Samples per test problem (pass@k up to this k)."),
    max_new_tokens: int | None = typer.Option(None, "--max-new-tokens", help="Completion length limit."),
    prompts_per_step: int | None = typer.Option(None, "--prompts-per-step", help="Prompts per RL step."),
    group_size: int | None = typer.Option(None, "--group-size", help="Completions per prompt in RL (G)."),
    learning_rate: float | None = typer.Option(None, "--lr", help="RL learning rate of every arm (--model default 1e-6)."),
    kl_beta: float | None = typer.Option(None, "--kl-beta", help="KL-to-base coefficient of every RL arm."),
    n_test: int | None = typer.Option(None, "--n-test", help="Test problems per set (with --data: at most 20%)."),
    margin: float | None = typer.Option(
        None, "--margin", help="Equivalence margin (fraction, default 0.02): a change is flat only inside ±margin."
    ),
    epochs: int | None = typer.Option(None, "--epochs", help="Passes over each rollout batch (> 1: off-policy updates)."),
    minibatches: int | None = typer.Option(None, "--minibatches", help="Optimizer steps per pass over a rollout batch."),
    clip_high: float | None = typer.Option(None, "--clip-high", help="Upper ratio clip eps_high (> 0.2: asymmetric)."),
    random_p: float | None = typer.Option(
        None, "--random-p", help="Probability the random-reward control pays 1 (default: the base's pass rate)."
    ),
    off_policy: bool = typer.Option(
        False, "--off-policy",
        help="Every arm trains off-policy as arXiv 2506.10947 did (8 minibatches x 2 epochs per rollout, no KL, "
        "random reward p=0.5), so the clip acts and the random control can test the clipping-bias mechanism.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print summary.json's content instead of the verdict table."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    resume: bool = typer.Option(
        False, "--resume", help="Finish the interrupted run in --out: reuse its finished jobs (same options), rerun the rest."
    ),
    executor: str = typer.Option("local", "--executor", help="Where the jobs run: local (processes) or ray (a local Ray)."),
) -> None:
    """Run the study on several seeds: warm up a base model, curate prompts, train with GRPO on the
    real verifier and on two controls (a random reward at the same hit rate, a format-only reward),
    sample every arm on in-distribution and shifted test sets, and report pooled pass@k with
    intervals over seeds, compression vs capability gain, each control's call (spurious gain / none /
    unstable), health and a verdict (summary.json and a self-contained report.html in --out)."""
    if ctx.invoked_subcommand is not None:
        return
    from rlvr.lab import lab_config

    _check_executor(executor)
    profile = "custom" if model is not None else ("quick" if quick else "default")
    try:
        cfg = lab_config(
            profile,
            task=task,
            seed=seed,
            seeds=seeds,
            workers=workers,
            out_dir=str(out),
            model=model,
            data=None if data is None else str(data),
            shifted_data=None if shifted is None else str(shifted),
            verifier=verifier,
            device=device,
            steps=steps,
            n_samples=samples,
            max_new_tokens=max_new_tokens,
            prompts_per_step=prompts_per_step,
            group_size=group_size,
            learning_rate=learning_rate,
            n_test=n_test,
            n_shifted=n_test,
            progress=not (quiet or as_json),
            margin=margin,
            eps_high=clip_high,
            **{**(OFF_POLICY if off_policy else {}),
               **{k: v for k, v in (("epochs", epochs), ("minibatches", minibatches), ("random_p", random_p),
                                    ("kl_beta", kl_beta)) if v is not None}},
        )
    except RlvrError as exc:
        raise fail(str(exc)) from None
    if data is not None and not data.is_file():
        raise fail(f"{data}: no such file")
    try:
        from rlvr.lab import run_lab
    except ImportError as exc:
        raise fail(f"rlvr lab needs torch: pip install 'rlvr[train]' ({exc})") from None
    try:
        summary = run_lab(cfg, quiet=quiet or as_json, resume=resume, executor=executor)
    except RlvrError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(summary, default=str))
        return
    from rlvr.report.lab import print_lab_summary

    print_lab_summary(summary, console=err_console, report_path=str(out / "report.html"))


def calibrate(
    out: Path = typer.Option(Path("runs/calibration"), "--out", "-o", help="Folder for calibration.json and the runs."),
    quick: bool = typer.Option(False, "--quick", help="Quick profile (4 seeds per scenario); default: full (5 seeds)."),
    seeds: int | None = typer.Option(None, "--seeds", help="Seeds per scenario."),
    seed: int | None = typer.Option(
        None, "--seed", help="First seed (default 9000: held out from every seed the scenarios were tuned on)."
    ),
    only: str | None = typer.Option(None, "--only", help="Comma-separated scenarios (default: all)."),
    task: str = typer.Option(
        "arithmetic", "--task", help="Which study to calibrate: arithmetic (the default study's scenarios) or tool "
        "(tool capability, tool compression, a planted environment hack)."
    ),
    workers: int | None = typer.Option(None, "--workers", help="Processes running the jobs (default: one per CPU core)."),
    as_json: bool = typer.Option(False, "--json", help="Print calibration.json's content."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    resume: bool = typer.Option(
        False, "--resume", help="Finish an interrupted calibration in --out, reusing every finished job."
    ),
    executor: str = typer.Option("local", "--executor", help="Where the jobs run: local (processes) or ray (a local Ray)."),
) -> None:
    """Planted-truth calibration: run scenarios whose answer is known by construction on several
    seeds each, judge the pooled call the user is shown and each seed's, and check that every
    deliberately broken lab (constant verdict, dead control, ...) fails the bar. Exits 1 when the bar
    is not met (DIR/calibration.json: "passed")."""
    _check_executor(executor)
    from rlvr.lab.calibrate import DEFAULT_SEED, run_calibration

    names = [n.strip() for n in only.split(",") if n.strip()] if only else None
    try:
        result = run_calibration(
            out, profile="quick" if quick else "full", seeds=seeds, names=names,
            seed=DEFAULT_SEED if seed is None else seed,
            base={"workers": workers, "progress": not (quiet or as_json)} if workers else
            {"progress": not (quiet or as_json)},
            quiet=quiet or as_json, resume=resume, executor=executor, task=task,
        )
    except RlvrError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(result, default=str))
    else:
        _print_calibration(result, out)
    if not result["passed"]:
        raise typer.Exit(1)


def _print_calibration(result: dict, out: Path) -> None:
    def fields(o: dict) -> str:
        return " / ".join(str(v) for k, v in o.items() if k != "seed")

    for sc in result["scenarios"]:
        planted = ", ".join(f"{k}={v}" for k, v in sc["planted"].items() if v is not None)
        seen = "; ".join(f"seed {o['seed']}: {fields(o)}" for o in sc["observed"])
        mark = "[green]ok[/]" if sc["met"] else "[bold red]MISSED[/]"
        err_console.print(
            f"{mark} {sc['name']:<13} pooled: {fields(sc['pooled'])} "
            f"({'recovered' if sc['pooled_recovered'] else 'NOT recovered'}); seeds recovered "
            f"{sc['recovered']}/{sc['seeds']} (need {sc['needed']})  [planted {planted}; {seen}; {sc['seconds']:.0f} s]",
            highlight=False,
        )
    for m in result["mutants"]:
        mark = "[green]caught[/]" if m["caught"] else "[bold red]NOT CAUGHT[/]"
        by = ", ".join(m["caught_by"]) or "no scenario"
        err_console.print(f"{mark} broken lab {m['name']} ({m['why']}): fails {by}", highlight=False)
    verdict = "[bold green]PASSED[/]" if result["passed"] else "[bold red]FAILED[/]"
    err_console.print(
        f"calibration {verdict} on seeds {result['seed']}+: {out / 'calibration.json'} ({result.get('seconds', 0):.0f} s "
        f"wall on {result.get('workers', 1)} processes; a scenario's seconds are its share)", highlight=False,
    )


def _check_executor(executor: str) -> None:
    from rlvr.lab.executors import EXECUTORS

    if executor not in EXECUTORS:
        raise fail(f"--executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
