"""`rlvr sample`, `rlvr eval`, `rlvr compare`, `rlvr report`: what training bought."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer

from rlvr.commands._common import count_lines, err_console, fail, parse_options, progress_bar
from rlvr.errors import RlvrError

_K_HELP = "Comma-separated k values, e.g. 1,2,4,8 (default: powers of two up to the samples per problem)."


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command(
        "sample",
        epilog=(
            "Examples:  rlvr sample prompts.jsonl -n 16 --endpoint http://localhost:8000 --model Qwen/Qwen2.5-0.5B "
            "--out samples.jsonl   |   rlvr sample prompts.jsonl -n 8 --model runs/exp1/checkpoints/final --out s.jsonl"
        ),
    )(sample)
    app.command("eval", epilog="Example:  rlvr eval samples.jsonl --verifier math --k 1,4,16")(eval_)
    app.command(
        "compare",
        epilog=(
            "Examples:  rlvr compare base.jsonl trained.jsonl --k 1,4,16,64 --random random_run.jsonl --json   |   "
            "rlvr compare base.jsonl run0.jsonl run1.jsonl run2.jsonl --margin 0.02 --html runs.html"
        ),
    )(compare_)
    app.command(
        "report",
        epilog=(
            "Examples:  rlvr compare base.jsonl trained.jsonl --json > cmp.json && rlvr report cmp.json --out report.html"
            "   |   rlvr report base.jsonl trained.jsonl --out report.html"
        ),
    )(report)


# -- shared options ---------------------------------------------------------------------------------

_VERIFIER = typer.Option(
    None, "--verifier", "-v", help="Verify samples that carry no reward/status with this verifier (math, ...)."
)
_OPT = typer.Option([], "--opt", help="Verifier option key=value (repeatable).")
_WORKERS = typer.Option(None, help="Verifier worker processes (default: CPU count; 0 = in-process).")
_TIMEOUT = typer.Option(30.0, help="Hard time limit per verified sample, seconds.")
_THRESHOLD = typer.Option(1.0, help="A sample with a reward but no status counts as correct when reward >= this.")
_BOOT = typer.Option(1000, "--bootstrap", help="Bootstrap resamples over problems for the intervals.")
_SEED = typer.Option(0, help="Seed of the bootstrap (and of cons@k sampling).")
_CONF = typer.Option(0.95, help="Confidence level of the intervals.")
_JSON = typer.Option(False, "--json", help="Print the result as one JSON object.")
_QUIET = typer.Option(False, "--quiet", "-q", help="No progress bar.")


def _load(path: Path, *, verifier: str | None, opt: list[str], workers: int | None, timeout: float,
          threshold: float, answers: bool, quiet: bool) -> Any:
    """Load (and verify where needed) one samples file with a progress bar."""
    from rlvr.engine import EngineConfig, default_workers
    from rlvr.evaluate.samples import load_samples

    v = None
    engine = None
    if verifier is not None:
        from rlvr.verifiers.registry import get_verifier

        v = get_verifier(verifier, **parse_options(opt))
        engine = EngineConfig(workers=default_workers() if workers is None else workers, timeout=timeout)
    total = count_lines(path)
    with progress_bar(disable=quiet) as bar:
        task = bar.add_task(f"reading {path.name}", total=total)
        return load_samples(
            path,
            verifier=v,
            engine=engine,
            threshold=threshold,
            answers=answers,
            on_line=lambda: bar.advance(task),
        )


def _emit(obj: dict[str, Any]) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False, allow_nan=False))


# -- rlvr sample ------------------------------------------------------------------------------------


def sample(
    prompts: Path = typer.Argument(..., metavar="PROMPTS", help="JSONL with 'prompt' and 'id' (or 'problem_id') per line."),
    n: int = typer.Option(..., "-n", "--n", help="Samples per prompt."),
    out: Path = typer.Option(..., "--out", "-o", help="Samples JSONL to write; re-running resumes it."),
    model: str = typer.Option(..., "--model", "-m", help="Served model name (with --endpoint) or a local model path."),
    endpoint: str | None = typer.Option(None, help="OpenAI-compatible server URL (http://host:8000 or .../v1)."),
    api: str = typer.Option("auto", help="Endpoint API: chat, completions, or auto (from the URL; chat)."),
    temperature: float = typer.Option(1.0, help="Sampling temperature."),
    top_p: float = typer.Option(1.0, "--top-p", help="Nucleus sampling mass."),
    max_tokens: int = typer.Option(1024, "--max-tokens", help="Most new tokens per sample."),
    seed: int | None = typer.Option(None, help="Seed (per prompt, so a resumed run samples the same way)."),
    concurrency: int = typer.Option(4, help="Endpoint requests in flight at once."),
    n_per_request: int = typer.Option(
        16, "--n-per-request", help="Most samples asked for in one request (1 for servers without 'n')."
    ),
    retries: int = typer.Option(5, help="Retries per endpoint request (exponential backoff)."),
    backoff: float = typer.Option(1.0, help="First retry delay in seconds (doubles per retry, capped at 30)."),
    request_timeout: float = typer.Option(300.0, "--request-timeout", help="Seconds per endpoint request."),
    api_key_env: str = typer.Option(
        "OPENAI_API_KEY", "--api-key-env", help="Environment variable holding the endpoint's API key (if set)."
    ),
    device: str = typer.Option("cpu", help="Local model device (cpu, cuda, ...)."),
    dtype: str | None = typer.Option(None, help="Local model dtype (float32, bfloat16, ...)."),
    batch_size: int = typer.Option(8, "--batch-size", help="Local model: prompts per generate call."),
    as_json: bool = _JSON,
    quiet: bool = _QUIET,
) -> None:
    """Draw n samples per prompt from an endpoint or a local model into a samples JSONL."""
    from rlvr.evaluate.sampling import read_prompts, write_samples

    if n < 1:
        raise fail(f"-n must be >= 1, got {n}", 2)
    if batch_size < 1:
        raise fail(f"--batch-size must be >= 1, got {batch_size}", 2)
    t0 = time.perf_counter()
    try:
        items = read_prompts(prompts)
        if endpoint is not None:
            generate, closer, model_name = _endpoint_source(
                endpoint, model, api, temperature, top_p, max_tokens, seed, concurrency, n_per_request,
                retries, backoff, request_timeout, api_key_env, n,
            )
        else:
            generate, closer, model_name = _local_source(
                model, device, dtype, temperature, top_p, max_tokens, seed, batch_size, n
            )
    except RlvrError as exc:
        raise fail(" ".join(str(exc).split())) from None  # library messages may span lines
    done = 0
    try:
        with progress_bar(disable=quiet or as_json) as bar:
            task = bar.add_task("sampling", total=len(items))

            def on_group(_pid: str) -> None:
                nonlocal done
                done += 1
                bar.advance(task)

            summary = write_samples(
                out, items, n, model_name, generate, on_group=on_group,
                on_start=lambda already: bar.advance(task, already),
            )
    except RlvrError as exc:
        closer()
        raise fail(f"{exc} ({done} prompt(s) finished and saved in {out}; re-run the same command to resume)") from None
    except KeyboardInterrupt:
        closer()
        err_console.print(f"interrupted: {done} prompt(s) saved in {out}; re-run the same command to resume")
        raise typer.Exit(130) from None
    summary.update({"out": str(out), "model": model_name, "seconds": round(time.perf_counter() - t0, 3)})
    if as_json:
        _emit(summary)
    else:
        typer.echo(
            f"{summary['sampled']} prompt(s) sampled ({summary['samples_written']} samples), "
            f"{summary['already_complete']} already complete"
            + (f", {summary['dropped_partial_lines']} partial line(s) dropped" if summary["dropped_partial_lines"] else "")
            + f" → {out}"
        )


def _endpoint_source(endpoint: str, model: str, api: str, temperature: float, top_p: float, max_tokens: int,
                     seed: int | None, concurrency: int, n_per_request: int, retries: int, backoff: float,
                     timeout: float,
                     api_key_env: str, n: int):
    from rlvr.policy.endpoint import EndpointConfig, EndpointSampler, api_key_from_env

    cfg = EndpointConfig(
        url=endpoint,
        model=model,
        api=api,
        temperature=temperature,
        top_p=top_p,
        max_tokens=max_tokens,
        seed=seed,
        concurrency=concurrency,
        max_n_per_request=n_per_request,
        max_retries=retries,
        backoff=backoff,
        timeout=timeout,
        api_key=api_key_from_env(api_key_env),
    )
    sampler = EndpointSampler(cfg)

    def generate(todo: list[Any]):
        return sampler.sample_many(((p.problem_id, p.prompt) for p in todo), n)

    return generate, sampler.stop, model


def _local_source(path: str, device: str, dtype: str | None, temperature: float, top_p: float,
                  max_tokens: int, seed: int | None, batch_size: int, n: int):
    from rlvr.errors import ConfigError

    # The trainer's policy package (built-in tiny model, transformers models).
    try:
        from rlvr.policy import load_policy
    except ImportError as exc:
        raise ConfigError(
            f"sampling a local model needs rlvr.policy.load_policy, which is not available ({exc}); "
            "use --endpoint URL to sample from a server"
        ) from None
    try:
        policy = load_policy(path, device=device, dtype=dtype)
    except RlvrError:
        raise
    except Exception as exc:  # a broken model folder: say which, not a traceback
        raise ConfigError(f"{path}: cannot load the model ({type(exc).__name__}: {exc})") from None
    model_name = str(path)

    def generate(todo: list[Any]):
        from rlvr.policy.endpoint import prompt_seed

        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            texts = policy.generate(
                [p.prompt for p in batch],
                n=n,
                temperature=temperature,
                top_p=top_p,
                max_new_tokens=max_tokens,
                seed=prompt_seed(seed, batch[0].problem_id),
            )
            if len(texts) != len(batch):
                raise ConfigError(f"the policy returned {len(texts)} groups for {len(batch)} prompts")
            for p, group in zip(batch, texts):
                yield p.problem_id, [{"text": t} for t in group]

    return generate, (lambda: None), model_name


# -- rlvr eval --------------------------------------------------------------------------------------


def eval_(
    samples: list[Path] = typer.Argument(..., metavar="SAMPLES...", help="Samples JSONL file(s), one per model."),
    verifier: str | None = _VERIFIER,
    opt: list[str] = _OPT,
    k: str | None = typer.Option(None, "--k", help=_K_HELP),
    cons: bool = typer.Option(
        False, "--cons", help="Also majority-vote cons@k (exact for small n, else a seeded Monte Carlo estimate)."
    ),
    workers: int | None = _WORKERS,
    timeout: float = _TIMEOUT,
    threshold: float = _THRESHOLD,
    bootstrap: int = _BOOT,
    seed: int = _SEED,
    confidence: float = _CONF,
    html: Path | None = typer.Option(None, "--html", help="Also write an HTML report here."),
    as_json: bool = _JSON,
    quiet: bool = _QUIET,
) -> None:
    """pass@k table and curve per model (with bootstrap intervals over problems), pass^k, cons@k, CoT-pass@k."""
    from rlvr.evaluate.summary import parse_ks, summarize
    from rlvr.report import print_evaluation, write_report

    try:
        ks = parse_ks(k)
        results = []
        for path in samples:
            s = _load(path, verifier=verifier, opt=opt, workers=workers, timeout=timeout, threshold=threshold,
                      answers=cons, quiet=quiet or as_json)
            results.append(summarize(s, ks, n_boot=bootstrap, seed=seed, confidence=confidence, cons=cons))
        doc = {"kind": "eval", "ks": sorted({x for r in results for x in r.ks}), "sets": [r.to_dict() for r in results]}
        if html is not None:
            write_report(html, doc)
            doc["html"] = str(html)
    except RlvrError as exc:
        raise fail(str(exc)) from None
    if as_json:
        _emit(doc)
    else:
        print_evaluation(doc)
        if html is not None:
            typer.echo(f"report → {html}")


# -- rlvr compare -----------------------------------------------------------------------------------


def compare_(
    base: Path = typer.Argument(..., metavar="BASE", help="Samples JSONL of the base model."),
    trained: list[Path] = typer.Argument(
        ..., metavar="TRAINED...",
        help="Samples JSONL of the trained model; several files = independent RL runs (seeds) from BASE, pooled.",
    ),
    k: str | None = typer.Option(None, "--k", help=_K_HELP),
    random: list[Path] = typer.Option(
        [], "--random",
        help="Samples of a random-reward run from the same base: adds the spurious-reward control (repeatable: "
        "several runs are pooled).",
    ),
    spurious_threshold: float = typer.Option(
        0.05, "--spurious-threshold", help="Flag the random arm when its pass@1 gain exceeds this (0.05 = 5 points)."
    ),
    min_effect: float = typer.Option(0.0, "--min-effect", help="Smallest change (fraction) a verdict counts."),
    margin: float = typer.Option(
        0.02, "--margin",
        help="Equivalence margin (fraction, 0.02 = 2 points): a change is 'flat' only when its whole interval is "
        "inside ±margin.",
    ),
    verifier: str | None = _VERIFIER,
    opt: list[str] = _OPT,
    workers: int | None = _WORKERS,
    timeout: float = _TIMEOUT,
    threshold: float = _THRESHOLD,
    bootstrap: int = _BOOT,
    seed: int = _SEED,
    confidence: float = _CONF,
    html: Path | None = typer.Option(None, "--html", help="Also write an HTML report here."),
    as_json: bool = _JSON,
    quiet: bool = _QUIET,
) -> None:
    """Base vs trained: pass@k of both, capability gain, compression ratio, crossover, transitions, verdict.
    Several TRAINED files are pooled as runs of one base: intervals include the run-to-run spread."""
    doc = _comparison_doc(base, trained, random, k=k, spurious_threshold=spurious_threshold, min_effect=min_effect,
                          margin=margin, verifier=verifier, opt=opt, workers=workers, timeout=timeout,
                          threshold=threshold, bootstrap=bootstrap, seed=seed, confidence=confidence,
                          quiet=quiet or as_json)
    from rlvr.report import print_comparison, write_report

    if html is not None:
        try:
            write_report(html, doc)
        except (RlvrError, OSError) as exc:
            raise fail(f"{html}: cannot write report ({exc})") from None
        doc["html"] = str(html)
    if as_json:
        _emit(doc)
    else:
        print_comparison(doc)
        if html is not None:
            typer.echo(f"report → {html}")


def _comparison_doc(base: Path, trained: list[Path], random: list[Path], *, k: str | None,
                    spurious_threshold: float, min_effect: float, verifier: str | None, opt: list[str],
                    workers: int | None, timeout: float, threshold: float, bootstrap: int, seed: int,
                    confidence: float, quiet: bool, margin: float = 0.02) -> dict[str, Any]:
    """One trained file: the single-run comparison. Several: the pooled comparison over runs (the
    lab's code path), with a per-run table. ``--random`` files are pooled the same way."""
    from rlvr.evaluate.compare import compare
    from rlvr.evaluate.pooled import pooled_compare, spurious_doc
    from rlvr.evaluate.spurious import spurious_analysis
    from rlvr.evaluate.summary import default_ks, parse_ks

    load = {"verifier": verifier, "opt": opt, "workers": workers, "timeout": timeout, "threshold": threshold,
            "answers": False, "quiet": quiet}
    kw: dict[str, Any] = {"n_boot": bootstrap, "seed": seed, "confidence": confidence}
    try:
        ks = parse_ks(k)
        b = _load(base, **load)
        ts = [_load(t, **load) for t in trained]
        if len(ts) == 1 and len(random) <= 1:
            result = compare(b, ts[0], ks, min_effect=min_effect, margin=margin, **kw)
            doc = result.to_dict()
            if random:
                r = _load(random[0], **load)
                sp = spurious_analysis(b, ts[0], r, list(result.ks), threshold=spurious_threshold, **kw)
                doc["spurious"] = sp.to_dict()
            return doc
        rs = [_load(r, **load) for r in random]
        if ks is None:
            ks = default_ks(min(p.n for s in [b, *ts, *rs] for p in s.problems.values()))
        result = pooled_compare([b], ts, ks, min_effect=min_effect, margin=margin, names=_short(trained), **kw)
        doc = result.to_dict()
        doc["trained"] = {"name": f"{len(ts)} runs", "files": [str(t) for t in trained]}
        doc["base"] = b.describe()
        if rs:
            rand = pooled_compare([b], rs, list(result.ks), min_effect=min_effect, margin=margin,
                                  names=_short(random), **kw)
            doc["spurious"] = spurious_doc(result, rand, spurious_threshold)
    except RlvrError as exc:
        raise fail(str(exc)) from None
    return doc


def _short(paths: list[Path]) -> list[str]:
    """Run labels: file names, or full paths where two names collide."""
    names = [p.name for p in paths]
    return names if len(set(names)) == len(names) else [str(p) for p in paths]


# -- rlvr report ------------------------------------------------------------------------------------


def report(
    inputs: list[Path] = typer.Argument(
        ..., metavar="INPUT...",
        help="A JSON result of rlvr compare/eval or a lab summary.json, or samples JSONL: one or more (eval), "
        "or BASE TRAINED (compare).",
    ),
    out: Path = typer.Option(Path("report.html"), "--out", "-o", help="HTML file to write."),
    random: Path | None = typer.Option(None, "--random", help="Random-reward run samples (with BASE TRAINED)."),
    compare_sets: bool = typer.Option(
        True, "--compare/--no-compare", help="With two samples files: compare them (default) or evaluate each."
    ),
    k: str | None = typer.Option(None, "--k", help=_K_HELP),
    title: str | None = typer.Option(None, help="Page title."),
    verifier: str | None = _VERIFIER,
    opt: list[str] = _OPT,
    workers: int | None = _WORKERS,
    timeout: float = _TIMEOUT,
    threshold: float = _THRESHOLD,
    bootstrap: int = _BOOT,
    seed: int = _SEED,
    confidence: float = _CONF,
    as_json: bool = _JSON,
    quiet: bool = _QUIET,
) -> None:
    """Write a self-contained HTML report (inline SVG plots, no network) from results or samples."""
    from rlvr.report import write_report

    quiet = quiet or as_json
    if len(inputs) == 1 and inputs[0].suffix.lower() == ".json":
        if random is not None:
            raise fail("--random needs samples files (BASE TRAINED), not a JSON result; use rlvr compare --random", 2)
        doc = _read_json(inputs[0])
    elif len(inputs) == 2 and compare_sets:
        doc = _comparison_doc(inputs[0], [inputs[1]], [random] if random else [], k=k, spurious_threshold=0.05,
                              min_effect=0.0,
                              verifier=verifier, opt=opt, workers=workers, timeout=timeout, threshold=threshold,
                              bootstrap=bootstrap, seed=seed, confidence=confidence, quiet=quiet)
    else:
        if random is not None:
            raise fail("--random needs exactly two samples files: BASE TRAINED", 2)
        from rlvr.evaluate.summary import parse_ks, summarize

        try:
            ks = parse_ks(k)
            sets = [
                summarize(_load(p, verifier=verifier, opt=opt, workers=workers, timeout=timeout,
                                threshold=threshold, answers=False, quiet=quiet),
                          ks, n_boot=bootstrap, seed=seed, confidence=confidence).to_dict()
                for p in inputs
            ]
        except RlvrError as exc:
            raise fail(str(exc)) from None
        doc = {"kind": "eval", "ks": sorted({x for s in sets for x in s["ks"]}), "sets": sets}
    try:
        if doc.get("kind") == "lab":
            from rlvr.report.lab import write_lab_report

            write_lab_report(out, doc)
            doc = {"kind": "lab", "verdict": (doc.get("verdict") or {}).get("label")}
        else:
            write_report(out, doc, title=title)
    except RlvrError as exc:
        raise fail(f"{inputs[0]}: {exc}") from None
    except OSError as exc:
        raise fail(f"{out}: cannot write report ({exc.strerror or exc})") from None
    summary = {"out": str(out), "kind": doc.get("kind"), "verdict": doc.get("verdict"), "bytes": out.stat().st_size}
    if as_json:
        _emit(summary)
    else:
        typer.echo(f"report → {out}" + (f" (verdict: {doc['verdict']})" if doc.get("verdict") else ""))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise fail(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"{path}: cannot read ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail(f"{path}:{exc.lineno}: invalid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(data, dict) or data.get("kind") not in ("comparison", "eval", "spurious", "lab"):
        raise fail(f"{path}: not an rlvr result (expected the JSON printed by rlvr compare or rlvr eval, "
                   "or a lab summary.json)")
    return data
