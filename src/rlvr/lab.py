"""The end-to-end study behind ``rlvr lab``: does RLVR make the model smarter, or faster at search?

One run, top to bottom (``run_lab``), each phase timed:

1. **data**: disjoint splits of a generated task: worked solutions for warm-up, an RL prompt pool,
   an in-distribution test set and a *shifted* test set (a harder level never trained on);
2. **base**: the built-in tiny model, warmed up by supervised learning on the worked solutions
   (cached by a hash of everything that shapes it), so it is right *sometimes*;
3. **curate**: keep the pool prompts whose base pass rate lies in a band (they carry signal);
4. **sample base** on both test sets (n per problem);
5. **train** with GRPO and the real verifier, then **sample** the trained model;
6. **random control**: the same run (same seed, same budget) with the ``random`` verifier paying
   1 with probability p = the base's pass rate on the curated prompts, then **sample** it;
7. **evaluate**: pass@k per arm and set, compression ratio and capability gain (trained vs base),
   crossover, transitions, the spurious-reward flag, health warnings, a verdict;
8. **write** ``summary.json`` and ``report.html`` (plus every sample, the splits and both runs).

``--model PATH --data FILE --verifier NAME`` runs the same study on a transformers model and the
user's prompts (no warm-up; ``--shifted FILE`` adds a shifted set).
"""

from __future__ import annotations

import json
import math
import random
import shutil
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rlvr.data.prompts import write_records
from rlvr.errors import ConfigError
from rlvr.io import write_json

__all__ = ["PROFILES", "TASK_SPECS", "LabConfig", "TaskSpec", "lab_config", "run_lab"]


@dataclass(frozen=True)
class TaskSpec:
    """How a built-in task becomes a lab study."""

    generator: str
    """Name in ``rlvr.data.tasks.TASKS``."""
    verifier: str
    """Registry name of the exact verifier."""
    train_options: dict[str, Any]
    """Generator options of the training / in-distribution problems."""
    shifted_options: dict[str, Any]
    """Generator options of the shifted test problems."""
    shifted_description: str
    """One line saying what the shift is."""
    block_size: int
    """Tiny model positions: the longest prompt + solution + BOS/EOS fits."""
    max_new_tokens: int
    """Longest solution + EOS."""
    pretrain_noise: float
    """Share of warm-up solutions with a slip, tuned so the base is right 30-60% of the time."""


TASK_SPECS: dict[str, TaskSpec] = {
    "arithmetic": TaskSpec(
        generator="multidigit",
        verifier="math",
        train_options={"level": 2},
        shifted_options={"level": 3},
        shifted_description="3-digit operands (warm-up and RL saw only 2-digit ones)",
        block_size=16,
        max_new_tokens=5,
        pretrain_noise=0.5,
    ),
    "countdown": TaskSpec(
        generator="countdown",
        verifier="countdown",
        train_options={"level": 3},
        shifted_options={"level": 4},
        shifted_description="4 numbers to combine (warm-up and RL saw only 3)",
        block_size=32,
        max_new_tokens=14,
        pretrain_noise=0.1,
    ),
}


@dataclass(frozen=True)
class LabConfig:
    """Every knob of a lab run (``rlvr lab`` fills it from a profile and its options)."""

    task: str = "arithmetic"
    """Built-in task: arithmetic or countdown (ignored with ``data``)."""
    seed: int = 0
    """Seeds the data, the warm-up, both RL runs and all sampling."""
    out_dir: str = "runs/lab"
    """Run folder: summary.json, report.html, samples/, data/, train_real/, train_random/."""
    profile: str = "default"
    """Name of the profile these values came from (recorded in the summary)."""
    n_pretrain: int = 2000
    """Worked solutions the tiny model is warmed up on."""
    pretrain_steps: int = 1500
    """Warm-up optimizer steps (batch 64)."""
    pretrain_noise: float | None = None
    """Share of worked solutions shown with a slip (``rlvr.data.tasks.slip``; None: the task's): the
    base learns the method but is sloppy, right only sometimes, so RL has something to sharpen."""
    pretrain_lr: float = 3e-3
    """Warm-up learning rate."""
    n_layer: int = 2
    """Tiny model blocks."""
    n_embd: int = 64
    """Tiny model width."""
    n_pool: int = 1024
    """RL prompts generated before curation."""
    n_test: int = 300
    """In-distribution test problems."""
    n_shifted: int = 200
    """Shifted test problems (0: none)."""
    curate_k: int = 8
    """Samples per pool prompt when measuring its base pass rate."""
    band: tuple[float, float] = (0.05, 0.95)
    """Pass-rate band kept by curation (inclusive)."""
    algorithm: str = "grpo"
    """GRPO-family preset of both RL runs."""
    steps: int = 200
    """RL steps of each arm (real and random control: the same budget)."""
    prompts_per_step: int = 32
    """Prompts per RL step."""
    group_size: int = 8
    """Completions per prompt (G)."""
    learning_rate: float = 2e-4
    """RL learning rate (the tiny model tolerates far more than LLM recipes' ~1e-6)."""
    temperature: float = 1.0
    """Sampling temperature for RL and evaluation."""
    n_samples: int = 32
    """Samples per test problem; pass@k is reported for k = 1, 2, 4, ... up to it."""
    max_new_tokens: int | None = None
    """Completion length limit (default: the task's, or 256 for a transformers model)."""
    spurious_threshold: float = 0.05
    """Random-control gain at pass@1 (fraction) above which the spurious flag is raised."""
    n_boot: int = 1000
    """Bootstrap replicates for the intervals."""
    model: str | None = None
    """A transformers model (folder, hub cache id, GGUF file or alias) instead of the tiny one."""
    data: str | None = None
    """JSONL prompts with answers for ``model`` (split into RL pool and test set)."""
    shifted_data: str | None = None
    """Optional JSONL of shifted test prompts for ``model``."""
    verifier: str | None = None
    """Verifier of the user's data (default: the task's)."""
    test_fraction: float = 0.2
    """Share of ``data`` held out for testing (at most ``n_test`` problems)."""
    device: str = "cpu"
    """Torch device for the policy."""
    threads: int | None = None
    """Torch CPU threads (0: torch's default; None: 1 for the tiny model, whose ops are too small
    to gain from more, and torch's default for a transformers model)."""
    progress: bool = True
    """Progress bars per phase."""
    cache_dir: str | None = None
    """Where warmed-up base models are cached (default ``$RLVR_CACHE_DIR/lab`` or ``~/.cache/rlvr/lab``)."""

    def __post_init__(self) -> None:
        if self.data is None and self.task not in TASK_SPECS:
            raise ConfigError(f"unknown task {self.task!r}; built-in tasks: {', '.join(sorted(TASK_SPECS))}")
        if (self.model is None) != (self.data is None):
            raise ConfigError("--model and --data go together: a transformers model needs your prompts, and vice versa")
        if self.shifted_data is not None and self.data is None:
            raise ConfigError("--shifted needs --model and --data")
        for name in ("n_pretrain", "n_pool", "n_test", "curate_k", "steps", "prompts_per_step", "n_samples"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.group_size < 2:
            raise ConfigError("group_size must be >= 2: GRPO compares completions within a group")
        if self.n_shifted < 0 or self.pretrain_steps < 0:
            raise ConfigError("n_shifted and pretrain_steps must be >= 0")
        if self.pretrain_noise is not None and not 0.0 <= self.pretrain_noise < 1.0:
            raise ConfigError("pretrain_noise must be in [0, 1)")
        lo, hi = self.band
        if not 0.0 <= lo <= hi <= 1.0:
            raise ConfigError(f"band must satisfy 0 <= low <= high <= 1, got {self.band}")
        if not 0.0 < self.test_fraction < 1.0:
            raise ConfigError("test_fraction must be in (0, 1)")
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise ConfigError("max_new_tokens must be >= 1")

    @property
    def custom(self) -> bool:
        return self.model is not None

    def spec(self) -> TaskSpec | None:
        return None if self.custom else TASK_SPECS[self.task]

    def new_tokens(self) -> int:
        if self.max_new_tokens is not None:
            return self.max_new_tokens
        spec = self.spec()
        return spec.max_new_tokens if spec is not None else 256

    def ks(self) -> list[int]:
        ks, k = [], 1
        while k <= self.n_samples:
            ks.append(k)
            k *= 2
        return ks


# Profiles (targets: default <= 10 min and 2 GB on 2 CPU cores, quick <= 90 s). Measured cold-cache:
# default 1 min 49 s and 484 MB, quick 60 s and 392 MB.
PROFILES: dict[str, dict[str, Any]] = {
    "default": {},
    "quick": {
        "pretrain_steps": 1000, "n_pool": 512, "n_test": 100, "n_shifted": 50,
        "steps": 100, "n_samples": 8, "n_boot": 400,
    },
    "custom": {"steps": 50, "prompts_per_step": 8, "group_size": 8, "learning_rate": 1e-6, "n_samples": 8,
               "n_test": 100, "curate_k": 4, "n_boot": 500},
}


def lab_config(profile: str = "default", **overrides: Any) -> LabConfig:
    """A ``LabConfig`` from a profile, with ``overrides`` (None values are ignored) winning."""
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; profiles: {', '.join(PROFILES)}")
    values = {**PROFILES[profile], **{k: v for k, v in overrides.items() if v is not None}}
    return LabConfig(profile=profile, **values)


# -- the study ---------------------------------------------------------------------------------------


class _Phases:
    """Times each phase and shows a progress bar per phase (rich), or nothing when quiet."""

    def __init__(self, enabled: bool) -> None:
        self.timings: dict[str, float] = {}
        self.progress: Any = None
        if enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            from rlvr.commands._common import err_console

            self.progress = Progress(
                TextColumn("{task.description:<26}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                TextColumn("{task.fields[info]}"), console=err_console, transient=False,
            )
            self.progress.start()

    def run(self, name: str, label: str, total: int, fn: Callable[[Callable[..., None]], Any]) -> Any:
        """Run ``fn(advance)`` as phase ``name``; ``advance(n=1, info="")`` moves its bar."""
        task = None
        if self.progress is not None:
            task = self.progress.add_task(label, total=total, info="")

        def advance(n: int = 1, info: str = "") -> None:
            if task is not None:
                self.progress.update(task, advance=n, info=info)

        t0 = time.perf_counter()
        try:
            return fn(advance)
        finally:
            self.timings[name] = round(self.timings.get(name, 0.0) + time.perf_counter() - t0, 3)
            if task is not None:
                self.progress.update(task, completed=total)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def run_lab(config: LabConfig, *, quiet: bool = False) -> dict[str, Any]:
    """Run the whole study; returns the summary (also written to ``<out_dir>/summary.json``)."""
    import torch

    from rlvr.verifiers.base import get_verifier

    cfg = config
    out = Path(cfg.out_dir)
    _claim_out_dir(out)
    threads = cfg.threads if cfg.threads is not None else (0 if cfg.custom else 1)
    threads_before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    t_start = time.perf_counter()
    phases = _Phases(cfg.progress and not quiet)
    try:
        splits, shifted_description = phases.run("data", "data", 1, lambda adv: _splits(cfg))
        for name, records in splits.items():
            write_records(out / "data" / f"{name}.jsonl", records)
        spec = cfg.spec()
        verifier_name = cfg.verifier or (spec.verifier if spec is not None else "math")
        verifier = get_verifier(verifier_name)

        base_dir = out / "base"
        total_pre = cfg.pretrain_steps if not cfg.custom else 1
        base = phases.run("pretrain", "base model", total_pre, lambda adv: _base_policy(cfg, splits, base_dir, adv))

        from rlvr.data.curate import curate

        pool = splits["pool"]
        cur = phases.run(
            "curate", "curate (base pass rate)", len(pool),
            lambda adv: curate(
                base, pool, verifier, k=cfg.curate_k, band=cfg.band, temperature=cfg.temperature,
                max_new_tokens=cfg.new_tokens(), seed=cfg.seed, on_batch=lambda n: adv(n),
            ),
        )
        if not cur.kept:
            s = cur.summary()
            raise ConfigError(
                f"curation kept no prompt: of {s['prompts']}, {s['too_easy']} are too easy and {s['too_hard']} too "
                f"hard for the base model in the band {list(cfg.band)}; widen the band or change the data"
            )
        hit_rate = statistics.fmean(r["pass_rate"] for r in cur.kept)
        write_records(out / "data" / "curated.jsonl", cur.kept)

        test_sets = {"in_distribution": splits["test"], "shifted": splits.get("shifted") or []}
        outcomes: dict[str, dict[str, dict[str, list[bool]]]] = {}
        outcomes["base"] = _sample_arm(phases, cfg, "base", base, test_sets, verifier, out)
        base = None  # each arm loads its own copy; a large base need not stay in memory meanwhile

        runs: dict[str, Any] = {}
        for arm, run_name, arm_verifier in (
            ("trained", "train_real", verifier),
            ("random_control", "train_random", get_verifier("random", p=round(hit_rate, 6), seed=cfg.seed)),
        ):
            policy = _fresh_copy(cfg, base_dir)
            runs[arm] = phases.run(
                run_name, f"GRPO ({'real' if arm == 'trained' else 'random'} reward)", cfg.steps,
                lambda adv, p=policy, v=arm_verifier, r=run_name: _train(cfg, p, v, cur.kept, out / r, adv),
            )
            outcomes[arm] = _sample_arm(phases, cfg, arm, policy, test_sets, verifier, out)
            del policy

        summary = phases.run(
            "evaluate", "evaluate", 1,
            lambda adv: _evaluate(cfg, outcomes, runs, cur, hit_rate, splits, shifted_description, verifier_name),
        )
        phases.timings["total"] = round(time.perf_counter() - t_start, 3)
        summary["timings"] = dict(phases.timings)
        summary["files"] = {
            "summary": "summary.json", "report": "report.html", "samples": "samples/", "data": "data/",
            "base_model": cfg.model if cfg.custom else "base/", "trained_run": "train_real/",
            "random_control_run": "train_random/",
        }
        t0 = time.perf_counter()
        from rlvr.report.lab import write_lab_report

        write_json(out / "summary.json", summary)
        write_lab_report(out / "report.html", summary)
        summary["timings"]["report"] = round(time.perf_counter() - t0, 3)
        summary["timings"]["total"] = round(time.perf_counter() - t_start, 3)
        write_json(out / "summary.json", summary)
        write_lab_report(out / "report.html", summary)
        return summary
    finally:
        phases.stop()
        torch.set_num_threads(threads_before)


def _claim_out_dir(out: Path) -> None:
    """A lab folder holds one run: refuse to mix a new run into an old one (no data lost)."""
    if (out / "summary.json").exists() or (out / "train_real" / "metrics.jsonl").exists():
        raise ConfigError(f"{out} already holds a lab run; choose another --out or delete it")
    for sub in ("train_real", "train_random", "samples", "data"):
        shutil.rmtree(out / sub, ignore_errors=True)  # leftovers of an interrupted run
    out.mkdir(parents=True, exist_ok=True)


def _splits(cfg: LabConfig) -> tuple[dict[str, list[dict[str, Any]]], str | None]:
    """Disjoint data splits: pretrain, pool, test and shifted (built-in task or the user's files)."""
    if not cfg.custom:
        from rlvr.data.tasks import disjoint_splits

        spec = TASK_SPECS[cfg.task]
        sizes = [
            ("pretrain", cfg.n_pretrain, spec.train_options),
            ("pool", cfg.n_pool, spec.train_options),
            ("test", cfg.n_test, spec.train_options),
        ]
        if cfg.n_shifted:
            sizes.append(("shifted", cfg.n_shifted, spec.shifted_options))
        return disjoint_splits(spec.generator, sizes, seed=cfg.seed), spec.shifted_description
    from rlvr.data.prompts import load_prompts

    assert cfg.data is not None
    records = [r for r in load_prompts(cfg.data) if r.get("answer") is not None]
    if len(records) < 4:
        raise ConfigError(f"{cfg.data}: the lab needs at least 4 prompts with an 'answer' (found {len(records)})")
    order = list(range(len(records)))
    random.Random(cfg.seed).shuffle(order)
    n_test = max(1, min(cfg.n_test, round(len(records) * cfg.test_fraction)))
    test = [records[i] for i in order[:n_test]]
    pool = [records[i] for i in order[n_test:]][: cfg.n_pool]
    splits = {"pool": pool, "test": test}
    description = None
    if cfg.shifted_data is not None:
        shifted = load_prompts(cfg.shifted_data)
        splits["shifted"] = shifted[: cfg.n_shifted or len(shifted)]
        description = f"the prompts of {cfg.shifted_data}"
    return splits, description


def _tiny_config(cfg: LabConfig) -> Any:
    from rlvr.policy.tiny import TinyConfig

    spec = TASK_SPECS[cfg.task]
    return TinyConfig(n_layer=cfg.n_layer, n_head=4, n_embd=cfg.n_embd, block_size=spec.block_size)


def _base_policy(cfg: LabConfig, splits: Mapping[str, Any], base_dir: Path, advance: Callable[..., None]) -> Any:
    """The base model: the user's, or the tiny model warmed up on worked solutions (cached)."""
    from rlvr.policy import load_policy

    if cfg.custom:
        assert cfg.model is not None
        policy = load_policy(cfg.model, device=cfg.device)
        advance(1, info=str(cfg.model))
        return policy
    from rlvr.grpo.build import cache_root
    from rlvr.policy.tiny import TinyPolicy, cache_key, cached_model, pretrain

    tcfg = _tiny_config(cfg)
    noise = cfg.pretrain_noise if cfg.pretrain_noise is not None else TASK_SPECS[cfg.task].pretrain_noise
    pairs = _worked_pairs(splits["pretrain"], noise, cfg.seed)
    key = cache_key(tiny=asdict(tcfg), steps=cfg.pretrain_steps, lr=cfg.pretrain_lr, seed=cfg.seed, pairs=pairs)
    folder = Path(cfg.cache_dir) if cfg.cache_dir else cache_root() / "lab"

    def build() -> Any:
        policy = TinyPolicy(tcfg, seed=cfg.seed)
        pretrain(
            policy, pairs, steps=cfg.pretrain_steps, lr=cfg.pretrain_lr, seed=cfg.seed,
            on_step=lambda step, loss: advance(1, info=f"loss {loss:.3f}"),
        )
        return policy

    cached, hit = cached_model(folder, key, build)
    if hit:
        advance(cfg.pretrain_steps, info="cached")
    shutil.rmtree(base_dir, ignore_errors=True)
    shutil.copytree(cached, base_dir)
    return TinyPolicy.load(base_dir, device=cfg.device)


def _worked_pairs(records: Sequence[Mapping[str, Any]], noise: float, seed: int) -> list[tuple[str, str]]:
    """(prompt, solution) warm-up pairs, a ``noise`` share of them with a slip."""
    from rlvr.data.tasks import slip

    rng = random.Random(seed)
    return [
        (r["prompt"], slip(str(r["solution"]), rng) if rng.random() < noise else str(r["solution"]))
        for r in records
    ]


def _fresh_copy(cfg: LabConfig, base_dir: Path) -> Any:
    """A trainable copy of the base (each RL arm starts from the same weights)."""
    from rlvr.policy import load_policy

    if cfg.custom:
        assert cfg.model is not None
        return load_policy(cfg.model, device=cfg.device)
    return load_policy(str(base_dir), device=cfg.device)


def _train_config(cfg: LabConfig, run_dir: Path) -> Any:
    from rlvr.grpo.config import config_from_dict

    spec = cfg.spec()
    model: dict[str, Any] = {"path": cfg.model} if cfg.custom else {"name": "tiny"}
    data: dict[str, Any] = {"path": cfg.data} if cfg.custom else {"task": spec.generator}  # type: ignore[union-attr]
    return config_from_dict({
        "algorithm": cfg.algorithm,
        "run": {"steps": cfg.steps, "seed": cfg.seed, "out_dir": str(run_dir), "checkpoint_every": 0,
                "keep_checkpoints": 1, "device": cfg.device, "threads": cfg.threads or 0, "progress": False},
        "model": model,
        "data": data,
        "rollout": {"prompts_per_step": cfg.prompts_per_step, "group_size": cfg.group_size,
                    "temperature": cfg.temperature, "max_new_tokens": cfg.new_tokens()},
        "optim": {"learning_rate": cfg.learning_rate},
    })


def _train(
    cfg: LabConfig, policy: Any, verifier: Any, prompts: list[dict[str, Any]], run_dir: Path,
    advance: Callable[..., None],
) -> dict[str, Any]:
    """One RL arm: the trainer's run folder, summary, per-step curves and health warnings."""
    from rlvr.grpo.trainer import Trainer

    def on_step(step: int, m: dict[str, Any]) -> None:
        advance(1, info=f"reward {m.get('reward/mean', float('nan')):.2f}  entropy {m.get('policy/entropy', float('nan')):.2f}")

    trainer = Trainer(
        _train_config(cfg, run_dir), policy=policy, verifier=verifier, prompts=prompts, run_dir=run_dir,
        quiet=True, callbacks=[on_step],
    )
    summary = trainer.train()
    # A metric the run never logs (policy/kl without a KL term) is left out, not drawn as missing.
    curves = {}
    for key in ("reward/mean", "policy/entropy", "policy/kl", "groups/frac_zero_std"):
        values = [m.get(key) for m in trainer.history]
        if any(v is not None for v in values):
            curves[key] = values
    warnings = []
    health_file = run_dir / "health.jsonl"
    if health_file.is_file():
        for line in health_file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                warnings.append(json.loads(line))
    return {"summary": summary, "curves": curves, "warnings": warnings}


def _sample_arm(
    phases: _Phases, cfg: LabConfig, arm: str, policy: Any, test_sets: Mapping[str, list[dict[str, Any]]],
    verifier: Any, out: Path,
) -> dict[str, dict[str, list[bool]]]:
    """n samples per test problem, verified, written to ``samples/<arm>_<set>.jsonl``."""
    total = sum(len(v) for v in test_sets.values())
    return phases.run(
        f"sample_{arm}", f"sample {arm.replace('_', ' ')}", total,
        lambda adv: {
            name: _sample_set(cfg, arm, policy, records, verifier, out / "samples" / f"{arm}_{name}.jsonl", adv)
            for name, records in test_sets.items() if records
        },
    )


def _sample_set(
    cfg: LabConfig, arm: str, policy: Any, records: list[dict[str, Any]], verifier: Any, path: Path,
    advance: Callable[..., None], batch: int = 64,
) -> dict[str, list[bool]]:
    from rlvr.engine import EngineConfig, verify_iter
    from rlvr.rollout import make_samples

    outcomes: dict[str, list[bool]] = {}
    path.parent.mkdir(parents=True, exist_ok=True)
    n = cfg.n_samples
    with path.open("w", encoding="utf-8") as fh:
        for start in range(0, len(records), batch):
            chunk = records[start : start + batch]
            texts = policy.generate(
                [r["prompt"] for r in chunk], n=n, temperature=cfg.temperature,
                max_new_tokens=cfg.new_tokens(), seed=cfg.seed * 7919 + start + 1,
            )
            flat = [t for group in texts for t in group]
            samples = make_samples(chunk, flat, n, step=0)
            verdicts = list(verify_iter(samples, verifier, EngineConfig(workers=0)))
            for i, (text, verdict) in enumerate(zip(flat, verdicts)):
                rec = chunk[i // n]
                outcomes.setdefault(str(rec["id"]), [])
                if verdict.status in ("error", "skipped"):
                    continue  # excluded from n, like rlvr eval does
                outcomes[str(rec["id"])].append(verdict.status == "correct")
                fh.write(json.dumps({
                    "problem_id": rec["id"], "prompt": rec["prompt"], "answer": rec.get("answer"), "model": arm,
                    "output": text, "reward": verdict.score, "status": verdict.status, "reason": verdict.reason,
                }) + "\n")
            advance(len(chunk))
    # Problems whose every sample was excluded cannot be scored; pass@k needs n >= k.
    return {pid: flags for pid, flags in outcomes.items() if len(flags) >= n}


def _evaluate(
    cfg: LabConfig,
    outcomes: Mapping[str, Mapping[str, Mapping[str, list[bool]]]],
    runs: Mapping[str, Mapping[str, Any]],
    cur: Any,
    hit_rate: float,
    splits: Mapping[str, list[dict[str, Any]]],
    shifted_description: str | None,
    verifier_name: str,
) -> dict[str, Any]:
    from rlvr.evaluate.compare import compare
    from rlvr.evaluate.spurious import spurious_analysis
    from rlvr.evaluate.summary import summarize

    ks = cfg.ks()
    kw = {"n_boot": cfg.n_boot, "seed": cfg.seed}
    arms: dict[str, Any] = {}
    for arm in ("base", "trained", "random_control"):
        entry: dict[str, Any] = {"pass_at_k": {}, "pass_at_k_ci": {}}
        for set_name in ("in_distribution", "shifted"):
            problems = outcomes[arm].get(set_name)
            if not problems:
                entry["pass_at_k"][set_name] = entry["pass_at_k_ci"][set_name] = None
                continue
            s = summarize(problems, ks, **kw).to_dict()
            entry["pass_at_k"][set_name] = s["pass_at_k"]
            entry["pass_at_k_ci"][set_name] = s["pass_at_k_ci"]
        arms[arm] = entry

    ind = {arm: outcomes[arm].get("in_distribution") or {} for arm in arms}
    if not all(ind.values()):
        raise ConfigError("no in-distribution test problem could be scored (every verdict was error/skipped)")
    comparison = compare(ind["base"], ind["trained"], ks, **kw)
    comp = comparison.to_dict()
    comp_shift = None
    if all(outcomes[arm].get("shifted") for arm in arms):
        comp_shift = compare(outcomes["base"]["shifted"], outcomes["trained"]["shifted"], ks, **kw).to_dict()
    sp = spurious_analysis(ind["base"], ind["trained"], ind["random_control"], ks,
                           threshold=cfg.spurious_threshold, **kw)

    warnings = [
        {"arm": arm, **w} for arm in ("trained", "random_control") for w in runs[arm]["warnings"]
    ]
    entropy = {arm: _start_end(runs[arm]["curves"].get("policy/entropy", [])) for arm in ("trained", "random_control")}
    summary: dict[str, Any] = {
        "kind": "lab",
        "version": 1,
        "task": "custom" if cfg.custom else cfg.task,
        "model": cfg.model or "tiny",
        "verifier": verifier_name,
        "seed": cfg.seed,
        "profile": cfg.profile,
        "device": cfg.device,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "config": _jsonable(asdict(cfg)),
        "data": {
            "pretrain": len(splits.get("pretrain") or []),
            "train": len(splits["pool"]),
            "curated": len(cur.kept),
            "test_in_distribution": len(ind["base"]),
            "test_shifted": len(outcomes["base"].get("shifted") or {}),
            "shifted_description": shifted_description,
        },
        "curation": cur.summary(),
        "hit_rate": round(hit_rate, 6),
        "ks": ks,
        "arms": arms,
        "compression_ratio": comp["compression_ratio"],
        "capability_gain": comp["capability_gain"],
        "crossover_k": comp["crossover_k"],
        "comparison": comp,
        "comparison_shifted": comp_shift,
        "spurious": {
            "real_improvement": sp.real.capability_gain[1],
            "random_improvement": sp.random.capability_gain[1],
            "flag": sp.flagged,
            "threshold": sp.threshold,
            "message": sp.message,
            "detail": sp.to_dict(),
        },
        "health": {
            "warnings": warnings,
            "trained": runs["trained"]["summary"].get("health"),
            "random_control": runs["random_control"]["summary"].get("health"),
        },
        "training": {arm: runs[arm]["curves"] for arm in ("trained", "random_control")},
        "entropy": entropy,
    }
    summary["verdict"] = lab_verdict(summary)
    return summary


def lab_verdict(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The verdict: the comparison's label, a headline and one reason per angle of the study."""
    comp = summary["comparison"]
    ks = summary["ks"]
    k_max = str(ks[-1])
    base, trained = comp["pass_at_k"]["base"], comp["pass_at_k"]["trained"]
    d1 = trained["1"] - base["1"]
    dk = trained[k_max] - base[k_max]
    label = comp["verdict"]
    headline = {
        "pure_compression": "RLVR compressed search: pass@1 {d1}, pass@{k} {dk} (no new capability)",
        "capability_gain_and_compression": "RLVR compressed search and added capability: pass@1 {d1}, pass@{k} {dk}",
        "mode_collapse": "RLVR traded breadth for pass@1 (mode collapse): pass@1 {d1}, pass@{k} {dk}",
        "no_significant_change": "No significant change from RLVR: pass@1 {d1}, pass@{k} {dk}",
        "regression": "RLVR made the model worse: pass@1 {d1}, pass@{k} {dk}",
    }.get(label, "pass@1 {d1}, pass@{k} {dk}")
    headline = headline.format(d1=_points(d1), dk=_points(dk), k=k_max)
    reasons = [f"{comp['verdict_meaning']} In-distribution: {comp['verdict_reason']}."]
    shifted = summary.get("comparison_shifted")
    if shifted:
        sb, st = shifted["pass_at_k"]["base"], shifted["pass_at_k"]["trained"]
        reasons.append(
            f"Shifted set ({summary['data'].get('shifted_description') or 'held out'}): pass@1 "
            f"{100 * sb['1']:.1f}% → {100 * st['1']:.1f}%, pass@{k_max} {100 * sb[k_max]:.1f}% → "
            f"{100 * st[k_max]:.1f}% ({shifted['verdict'].replace('_', ' ')})."
        )
    reasons.append(summary["spurious"]["message"][:1].upper() + summary["spurious"]["message"][1:])
    ent = summary["entropy"]["trained"]
    n_warn = len(summary["health"]["warnings"])
    if ent["start"] is not None and ent["end"] is not None:
        reasons.append(
            f"Entropy of the trained policy went {ent['start']:.3f} → {ent['end']:.3f} nats/token; "
            f"{n_warn} health warning{'s' if n_warn != 1 else ''} across both runs."
        )
    return {"label": label, "headline": headline, "reasons": reasons}


# -- small helpers -----------------------------------------------------------------------------------


def _points(x: float) -> str:
    return f"{100 * x:+.1f} points"


def _start_end(values: Sequence[Any], k: int = 5) -> dict[str, float | None]:
    """Mean of the first and last ``k`` finite readings (k shrinks for short runs)."""
    vals = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not vals:
        return {"start": None, "end": None}
    k = max(1, min(k, len(vals) // 4 or 1))
    return {"start": round(statistics.fmean(vals[:k]), 6), "end": round(statistics.fmean(vals[-k:]), 6)}


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=str))
