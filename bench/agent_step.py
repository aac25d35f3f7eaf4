#!/usr/bin/env python
"""One multi-turn (tool-calling) GRPO step: rlvr's trainer against TRL's ``GRPOTrainer(environment_factory=...)``.

What is compared: seconds per optimiser step of GRPO on the same small transformers model (a
Qwen2 fitted to call the calculator, built by ``bench/agent_model.py`` and loaded by both sides from
one checkpoint), the same environment (``rlvr.env.CalculatorEnv`` through ``make_env("calculator",
max_turns=...)``: tool ``calculate``, the math verifier judging the final answer against
``answer``), the same questions (``What is a op b?``), prompts per step × group size, sampling
(temperature 1, top-p 1), optimiser (AdamW, constant learning rate, grad-norm clip 1.0), one
optimiser step per rollout batch, no KL term (beta 0, no reference model; otherwise TRL's defaults,
gradient checkpointing on, as in ``bench/grpo_vs_trl.py``), and the same turn budget: ``--max-turns`` assistant
turns per episode on rlvr's side, ``max_tool_calling_iterations = max_turns - 1`` tool rounds on
TRL's (its first generation plus one regeneration per tool round). ``--max-new-tokens`` is rlvr's
``[rollout] max_new_tokens`` (per assistant turn); TRL's ``max_completion_length`` counts every
token of the episode after the prompt (tool results included), so it gets ``max_turns`` times that.
The fitted model ends its turns long before either cap (its episodes are ~35 tokens), so the caps
do not decide the work; the table shows each side's model tokens per episode. CPU, both sides in one run, each in its own subprocess with
the same thread count; the first ``--warmup`` steps are not timed, the rest are timed one by one
(wall clock per optimiser step). Peak memory is each process's ``VmHWM``.

One difference in the work is the trainers' own: a malformed call (``<tool_call>`` with JSON that
does not parse) gets an error observation from rlvr and the episode goes on to its next turn (the
environment contract in DESIGN.md), while TRL's ``parse_response`` finds no call and ends the
episode there. The fitted model writes one now and then (1 or 2 episodes in 100), and its next turn
can run to the token cap, so rlvr's longest episode per step (``tok max``) is sometimes ~3x TRL's
and that step's update and generation take several times the median: compare medians.

Where each side's step goes (the shares, of the timed steps' wall time; the same five on both sides):

- ``generation``: sampling, every turn. rlvr: its own ``time/rollout`` metric (``policy.continue_ids``
  for all running episodes per turn). TRL: time inside ``GRPOTrainer._generate_single_turn``
  (its first generation and every post-tool regeneration), wrapped from outside.
- ``tools``: time inside ``ToolEnv._invoke``, the budget guard every tool call goes through (TRL
  calls the tool method, rlvr's loop parses the message and calls it; both land there), wrapped
  from outside on both sides; each call is also counted, which gives the tool calls per episode
  each side really made (and the share of episodes with at least one call).
- ``reward``: time inside ``ToolEnv._judge``, the environment's verifier on the final answer (TRL
  reaches it through ``get_reward``, rlvr through ``verdict_of``), wrapped on both sides.
- ``update``: rlvr: its own ``time/update`` (scoring, backward, AdamW). TRL: the step's wall time
  minus ``GRPOTrainer._generate_and_score_completions`` (``compute_loss`` forward, backward,
  optimiser step, Trainer bookkeeping).
- ``other``: the rest of the step. rlvr: parsing turns, observation tokens, assembling the batch,
  advantages, metrics (its ``time/verify`` = tools + reward + parsing/observation tokens is in the
  JSON as reported). TRL: tokenising prompts, ``parse_response``, the tool-suffix rendering,
  ``capture_answers``, advantages and logging inside ``_generate_and_score_completions``.

    PYTHONPATH=src .venv/bin/python bench/agent_step.py                  # defaults: 4 prompts x G=4, 2 turns
    PYTHONPATH=src .venv/bin/python bench/agent_step.py --steps 5 --warmup 1 --prompts 8 --group 8
    PYTHONPATH=src .venv/bin/python bench/agent_step.py --max-turns 3 --threads 1 --json
    PYTHONPATH=src .venv/bin/python bench/agent_step.py --rounds 3        # each side 3 times, alternating
    PYTHONPATH=src .venv/bin/python bench/agent_step.py --sides trl       # one side only
    PYTHONPATH=src .venv/bin/python bench/agent_step.py --save-model /tmp/agent-ckpt   # keep the checkpoint
    PYTHONPATH=src .venv/bin/python bench/agent_step.py --model-dir /tmp/agent-ckpt    # reuse it (no fit)
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _p in (ROOT / "src", ROOT / "bench"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from agent_model import build_checkpoint, make_records  # noqa: E402  (after the path setup)

SIDES = ("rlvr", "trl")
PHASES = ("generation", "tools", "reward", "update", "other")
OWN_TIME_KEYS = ("time/rollout", "time/verify", "time/update", "time/step")  # rlvr's own per-step metrics


# --- measuring from outside ------------------------------------------------------------------------


class Meter:
    """Seconds spent inside wrapped callables, by name, plus tool-call counts."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.tool_calls = 0
        # id -> the Episode itself: holding it keeps its id from being reused by a later episode.
        self.episodes_with_calls: dict[int, Any] = {}

    def wrap(self, owner: Any, attr: str, name: str) -> None:
        """Replace ``owner.attr`` by a timed copy (class attribute: every instance is timed)."""
        fn = getattr(owner, attr)
        meter = self

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                meter.seconds[name] = meter.seconds.get(name, 0.0) + time.perf_counter() - t0

        setattr(owner, attr, timed)

    def watch_env(self) -> None:
        """Time and count every call through ``ToolEnv._invoke`` (the guard every tool call crosses),
        and time ``ToolEnv._judge`` (the verifier on the final answer: the reward)."""
        from rlvr.env import ToolEnv, episode_of

        self.wrap(ToolEnv, "_judge", "reward")
        self.wrap(ToolEnv, "_invoke", "tools")
        timed = ToolEnv._invoke
        meter = self

        def counted(env: Any, fn: Any, args: Any, kwargs: Any) -> str:
            meter.tool_calls += 1
            episode = episode_of(env)
            meter.episodes_with_calls[id(episode)] = episode
            return timed(env, fn, args, kwargs)

        ToolEnv._invoke = counted  # type: ignore[method-assign]

    def snapshot(self) -> dict[str, float]:
        return {**self.seconds, "cpu": time.process_time(), "tool_calls": float(self.tool_calls),
                "episodes_with_calls": float(len(self.episodes_with_calls))}


def diff(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    return {k: b.get(k, 0.0) - a.get(k, 0.0) for k in set(a) | set(b)}


def peak_rss_mib() -> float:
    """This process's RSS high-water mark (VmHWM) in MiB; ru_maxrss where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _setup(threads: int, seed: int) -> None:
    import random

    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    random.seed(seed)


# --- the two sides ---------------------------------------------------------------------------------


def worker_trl(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from datasets import Dataset
    from rlvr.env import capture_answers, make_env

    _setup(args.threads, args.seed)
    meter = Meter()
    meter.watch_env()
    meter.wrap(GRPOTrainer, "_generate_single_turn", "generation")
    meter.wrap(GRPOTrainer, "_generate_and_score_completions", "rollout")

    total = args.warmup + args.steps
    records = make_records(args.prompts * total, seed=args.seed)
    rows = [{"id": r["id"], "prompt": [{"role": "user", "content": r["prompt"]}], "answer": r["answer"]}
            for r in records]
    tokenizer = AutoTokenizer.from_pretrained(args.model_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(args.model_dir, local_files_only=True, dtype=torch.float32)
    marks: list[tuple[float, dict[str, float]]] = []

    class StepTimer(TrainerCallback):
        def on_train_begin(self, *_: Any, **__: Any) -> None:
            marks.append((time.perf_counter(), meter.snapshot()))

        def on_step_end(self, *_: Any, **__: Any) -> None:
            marks.append((time.perf_counter(), meter.snapshot()))

    with tempfile.TemporaryDirectory() as out:
        config = GRPOConfig(
            output_dir=out, per_device_train_batch_size=args.prompts * args.group, gradient_accumulation_steps=1,
            num_generations=args.group, max_completion_length=args.max_turns * args.max_new_tokens,
            max_tool_calling_iterations=max(0, args.max_turns - 1), num_iterations=1, beta=0.0,
            learning_rate=args.lr, lr_scheduler_type="constant", warmup_steps=0, optim="adamw_torch",
            max_grad_norm=1.0, temperature=1.0, top_p=1.0, max_steps=total, logging_steps=1, save_strategy="no",
            report_to="none", use_cpu=True, bf16=False, seed=args.seed, shuffle_dataset=False,
            dataloader_num_workers=0, log_completions=False, disable_tqdm=True,
        )
        trainer = GRPOTrainer(
            model=model, reward_funcs=[capture_answers], args=config, train_dataset=Dataset.from_list(rows),
            processing_class=tokenizer, callbacks=[StepTimer()],
            environment_factory=make_env("calculator", max_turns=args.max_turns),
        )
        trainer.train()
    logs = [e for e in trainer.state.log_history if "reward" in e]
    steps = []
    for (t0, m0), (t1, m1) in zip(marks, marks[1:]):
        d = diff(m0, m1)
        wall = t1 - t0
        phases = {"generation": d.get("generation", 0.0), "tools": d.get("tools", 0.0),
                  "reward": d.get("reward", 0.0), "update": wall - d.get("rollout", 0.0)}
        phases["other"] = wall - sum(phases.values())
        steps.append({"wall_s": wall, "cpu_s": d["cpu"], "phases_s": phases, "tool_calls": d["tool_calls"],
                      "episodes_with_calls": d["episodes_with_calls"]})
    return {"side": "trl", "steps": steps, "episodes_per_step": args.prompts * args.group,
            "reward_mean": [e.get("reward") for e in logs],
            "len_mean": [e.get("completions/mean_length") for e in logs],
            "len_max": [e.get("completions/max_length") for e in logs],
            "own_calls_per_episode": [e.get("tools/call_frequency") for e in logs],
            "peak_rss_mib": peak_rss_mib()}


def worker_rlvr(args: argparse.Namespace) -> dict[str, Any]:
    from rlvr.grpo import Trainer, load_config
    from rlvr.policy.hf import HFPolicy

    _setup(args.threads, args.seed)
    meter = Meter()
    meter.watch_env()
    total = args.warmup + args.steps
    records = [{k: r[k] for k in ("id", "prompt", "answer")} for r in make_records(args.prompts * total, seed=args.seed)]
    policy = HFPolicy.from_pretrained(args.model_dir, chat_template=True)
    # TRL's defaults mirrored, as bench/grpo_vs_trl.py does: token-mean loss, eps 0.2 both sides,
    # group scaling, AdamW(0.9, 0.999), no weight decay, beta 0 and no reference, one epoch/minibatch.
    config = load_config(
        None,
        model={"path": args.model_dir, "chat_template": True},
        data={"task": "arithmetic"},  # required by the config; the records below are what trains
        run={"steps": total, "seed": args.seed, "out_dir": None, "progress": False, "threads": args.threads,
             "checkpoint_every": 0, "save_final": False, "device": "cpu"},
        verifier={"workers": 0},
        rollout={"prompts_per_step": args.prompts, "group_size": args.group, "temperature": 1.0, "top_p": 1.0,
                 "max_new_tokens": args.max_new_tokens},
        env={"name": "calculator", "max_turns": args.max_turns, "options": {}},
        advantage={"baseline": "mean", "scale": "group"},
        loss={"agg": "token-mean", "eps_low": 0.2, "eps_high": 0.2, "beta": 0.0, "kl_every": 0},
        optim={"learning_rate": args.lr, "beta1": 0.9, "beta2": 0.999, "weight_decay": 0.0, "grad_clip": 1.0,
               "epochs": 1, "minibatches": 1},
    )
    trainer = Trainer(config, policy=policy, prompts=records, run_dir=None, quiet=True)
    steps, rewards, lens, longest, own_calls = [], [], [], [], []
    for _ in range(total):
        m0, t0 = meter.snapshot(), time.perf_counter()
        metrics = trainer.step()
        wall = time.perf_counter() - t0
        d = diff(m0, meter.snapshot())
        phases = {"generation": float(metrics.get("time/rollout", 0.0)), "tools": d.get("tools", 0.0),
                  "reward": d.get("reward", 0.0), "update": float(metrics.get("time/update", 0.0))}
        phases["other"] = wall - sum(phases.values())
        steps.append({"wall_s": wall, "cpu_s": d["cpu"], "phases_s": phases,
                      "own_s": {k: metrics.get(k) for k in OWN_TIME_KEYS},
                      "tool_calls": d["tool_calls"], "episodes_with_calls": d["episodes_with_calls"]})
        rewards.append(metrics.get("reward/mean"))
        lens.append(metrics.get("gen/len_mean"))
        longest.append(metrics.get("gen/len_max"))
        own_calls.append(metrics.get("tools/calls_per_episode"))
    return {"side": "rlvr", "steps": steps, "episodes_per_step": args.prompts * args.group,
            "reward_mean": rewards, "len_mean": lens, "len_max": longest, "own_calls_per_episode": own_calls,
            "peak_rss_mib": peak_rss_mib()}


# --- the parent ------------------------------------------------------------------------------------


def run_side(side: str, args: argparse.Namespace, model_dir: Path) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", side, "--model-dir", str(model_dir)]
    for name in ("steps", "warmup", "prompts", "group", "max_turns", "max_new_tokens", "threads", "seed", "lr"):
        cmd += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads), TOKENIZERS_PARALLELISM="false",
               TRL_EXPERIMENTAL_SILENCE="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # idle OpenMP threads sleep: same for both sides
    env["PYTHONPATH"] = str(ROOT / "src") + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"side": side, "error": f"timed out after {args.timeout:g} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        return {"side": side, "error": f"exit {proc.returncode}: {(proc.stderr or proc.stdout)[-3000:]}"}
    return json.loads(lines[-1][len("RESULT "):])


def median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def summarise(runs: list[dict[str, Any]], warmup: int) -> dict[str, Any]:
    """The timed steps of one side, pooled over its rounds (each round's warm-up dropped):
    median/min/mean seconds, median phase seconds, shares of the wall time, calls per episode."""
    for r in runs:
        if "error" in r:
            return r
    timed = [s for r in runs for s in r["steps"][warmup:]]
    if not timed:
        return {"side": runs[0]["side"], "error": "no timed step (steps must be >= 1)"}

    def pooled(key: str) -> list[float]:
        return [x for r in runs for x in r.get(key, [])[warmup:] if x is not None]

    def mean(xs: list[float]) -> float | None:
        return sum(xs) / len(xs) if xs else None

    walls = [s["wall_s"] for s in timed]
    total = sum(walls)
    episodes = runs[0]["episodes_per_step"] * len(timed)
    return {
        "side": runs[0]["side"], "rounds": len(runs), "timed_steps": len(timed),
        "step_s": [[s["wall_s"] for s in r["steps"]] for r in runs],
        "median_step_s": median(walls), "min_step_s": min(walls), "mean_step_s": total / len(timed),
        # CPU seconds (all threads) per step: far less sensitive than wall time to other load.
        "median_cpu_s": median([s.get("cpu_s", 0.0) for s in timed]),
        "phases_s": {p: median([s["phases_s"].get(p, 0.0) for s in timed]) for p in PHASES},
        "shares": {p: sum(s["phases_s"].get(p, 0.0) for s in timed) / total for p in PHASES},
        "tool_calls_per_episode": sum(s["tool_calls"] for s in timed) / episodes,
        "episodes_with_calls": sum(s["episodes_with_calls"] for s in timed) / episodes,
        "own_calls_per_episode": mean(pooled("own_calls_per_episode")),
        "reward_mean": mean(pooled("reward_mean")),
        "completion_tokens_mean": mean(pooled("len_mean")),
        # The longest episode's model tokens, per step: one run-on turn widens the whole batch.
        "completion_tokens_max": mean(pooled("len_max")),
        "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
    }


def compare(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    r, t = results.get("rlvr", {}), results.get("trl", {})
    if not r or not t or "error" in r or "error" in t:
        return {}
    return {"ratio_median": t["median_step_s"] / r["median_step_s"], "ratio_min": t["min_step_s"] / r["min_step_s"],
            "ratio_cpu": t["median_cpu_s"] / r["median_cpu_s"] if r["median_cpu_s"] else None}


def print_report(report: dict[str, Any]) -> None:
    m, s = report["model"], report["setup"]
    print(f"model: {m['arch']} {m['params'] / 1e6:.2f}M params (hidden {m['hidden']}, {m['layers']} layers, "
          f"vocab {m['vocab']}), fitted {m['fit_steps']} steps to loss {m['fit_loss']:.3f}; {s['prompts']} prompts x "
          f"G={s['group']} = {s['prompts'] * s['group']} episodes/step, max {s['max_turns']} turns, "
          f"{s['max_new_tokens']} new tokens a turn; cpu, {s['threads']} threads; {s['warmup']} warm-up + "
          f"{s['steps']} timed steps, {s['rounds']} round(s) per side, alternating")
    head = f"{'side':5} {'median s/step':>13} {'min s/step':>10} {'CPU s/step':>10} " + " ".join(f"{p:>10}" for p in PHASES)
    print(head + f" {'calls/ep':>8} {'ep w/call':>9} {'reward':>6} {'tok/ep':>6} {'tok max':>7} {'peak MiB':>8}")
    for side, r in report["results"].items():
        if "error" in r:
            print(f"{side:5} ERROR {r['error']}")
            continue
        shares = " ".join(f"{r['shares'][p]:>10.0%}" for p in PHASES)
        print(f"{side:5} {r['median_step_s']:13.3f} {r['min_step_s']:10.3f} {r['median_cpu_s']:10.3f} {shares} "
              f"{r['tool_calls_per_episode']:8.2f} {r['episodes_with_calls']:9.0%} {(r['reward_mean'] or 0):6.2f} "
              f"{(r['completion_tokens_mean'] or 0):6.1f} {(r['completion_tokens_max'] or 0):7.1f} "
              f"{r['peak_rss_mib']:8.0f}")
    if "ratio_median" in report:
        print(f"TRL / rlvr seconds per step: {report['ratio_median']:.2f}x (median), {report['ratio_min']:.2f}x (fastest), "
              f"{report['ratio_cpu']:.2f}x (median CPU seconds)")
    print("shares: of the timed steps' wall time (see --help); tok/ep: the model's own tokens per episode, "
          "tok max: the longest episode's, mean over steps")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n")[-1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=10, help="timed optimiser steps per side")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    ap.add_argument("--prompts", type=int, default=4, help="prompts per step")
    ap.add_argument("--group", type=int, default=4, help="episodes per prompt (G)")
    ap.add_argument("--max-turns", type=int, default=2, help="assistant turns per episode (TRL: max-turns - 1 tool rounds)")
    ap.add_argument("--max-new-tokens", type=int, default=64, help="tokens per assistant turn (rlvr); TRL gets max-turns x this per episode, tool results included")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=1e-6)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--vocab", type=int, default=1024)
    ap.add_argument("--fit-steps", type=int, default=400, help="supervised steps that teach the tool call")
    ap.add_argument("--model-dir", help="reuse a checkpoint saved by --save-model (no fit)")
    ap.add_argument("--save-model", help="keep the fitted checkpoint in this folder")
    ap.add_argument("--sides", default="rlvr,trl", help="comma-separated: rlvr,trl")
    ap.add_argument("--rounds", type=int, default=1, help="run each side this many times, alternating; steps pooled")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per side")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--worker", choices=SIDES, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        result = worker_trl(args) if args.worker == "trl" else worker_rlvr(args)
        print("RESULT " + json.dumps(result))
        return 0
    sides = [s.strip() for s in args.sides.split(",") if s.strip()]
    if not sides or any(s not in SIDES for s in sides):
        ap.error(f"--sides takes a comma-separated subset of {','.join(SIDES)}")
    if min(args.steps, args.prompts, args.group, args.max_turns, args.rounds) < 1 or args.warmup < 0:
        ap.error("--steps, --prompts, --group, --max-turns and --rounds must be >= 1, --warmup >= 0")
    with tempfile.TemporaryDirectory(prefix="rlvr-agent-bench-") as tmp:
        if args.model_dir:
            model_dir = Path(args.model_dir)
            info_file = model_dir / "bench_model.json"
            if not info_file.is_file():
                ap.error(f"{model_dir}: no bench_model.json; save a checkpoint with --save-model first")
            info = json.loads(info_file.read_text())
        else:
            import torch

            torch.set_num_threads(args.threads)
            model_dir = Path(args.save_model) if args.save_model else Path(tmp) / "model"
            info = build_checkpoint(model_dir, seed=args.seed, hidden=args.hidden, layers=args.layers,
                                    vocab=args.vocab, fit_steps=args.fit_steps)
            (model_dir / "bench_model.json").write_text(json.dumps(info))
        raw: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
        for _ in range(args.rounds):  # alternate sides so a load change on a shared machine hits both
            for side in sides:
                raw[side].append(run_side(side, args, model_dir))
    results = {side: summarise(runs, args.warmup) for side, runs in raw.items()}
    report = {"model": info, "setup": {k: getattr(args, k) for k in ("steps", "warmup", "prompts", "group", "max_turns",
                                                                        "max_new_tokens", "threads", "lr")},
              "results": results, **compare(results)}
    report["setup"]["rounds"] = args.rounds
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report)
    return 0 if all("error" not in r for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
