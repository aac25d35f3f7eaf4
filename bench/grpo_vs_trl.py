#!/usr/bin/env python
"""GRPO seconds per step and peak memory: rlvr's trainer against TRL's ``GRPOTrainer``, same work.

Both sides train the same randomly initialised transformers model — a small Llama-architecture
config (~10M parameters) with a byte-level BPE tokenizer trained offline with ``tokenizers`` on
generated arithmetic text and saved as a ``PreTrainedTokenizerFast`` — on the same prompts, with
the same group size, completion length, sampling settings (temperature 1, top-p 1), optimiser
(AdamW, constant learning rate, grad-norm clip 1.0), one optimiser step per rollout batch, one
inner epoch, no KL term and no reference model (beta = 0), and the same reward: one rlvr verifier
(``ParityMatch``: is the last digit of the completion of the answer's parity; ~50/50 on a random
model, so groups almost never agree and both sides always do a full update) wrapped as a TRL reward function.

Each side runs in its own subprocess with the same thread count; the first ``--warmup`` steps are
excluded from timing, the rest are timed one by one (wall clock per optimiser step, rollout +
reward + update + logging). Peak memory is the process's RSS high-water mark (``VmHWM``), which
includes the Python libraries each side imports.

    .venv/bin/python bench/grpo_vs_trl.py                       # CPU, 2 threads, 1 warm-up + 5 timed
    .venv/bin/python bench/grpo_vs_trl.py --steps 10 --prompts 8 --group 8 --max-new-tokens 64
    .venv/bin/python bench/grpo_vs_trl.py --json                # one JSON object
    .venv/bin/python bench/grpo_vs_trl.py --device cuda --hidden 1024 --layers 16   # a GPU run

A random model almost never samples EOS (about 1 in vocab size per token), so nearly every
completion runs to ``--max-new-tokens`` on both sides; the table reports the mean completion
length each side actually produced so the work can be compared.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from rlvr.types import Sample, Verdict  # noqa: E402  (after the path setup, for running uninstalled)
from rlvr.verifiers.base import BaseVerifier  # noqa: E402

SIDES = ("rlvr", "trl")


# --- the shared task: prompts, verifier, model ---------------------------------------------------


class ParityMatch(BaseVerifier):
    """Reward 1 when the last number in the completion has the parity of the true answer.

    A cheap arithmetic-flavoured check whose reward is ~50/50 on a random model, so groups almost
    never agree (P = 2 / 2^G) and both trainers always do a full update.
    """

    name = "parity_match"

    def check(self, sample: Sample) -> Verdict:
        digits = [c for c in sample.output if c.isdigit()]
        if not digits:
            return Verdict.unparsable("no digit in the completion")
        if int(digits[-1]) % 2 == int(str(sample.answer)[-1]) % 2:
            return Verdict.correct("last digit has the answer's parity")
        return Verdict.incorrect("last digit has the wrong parity")


def make_prompts(n: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        op = rng.choice("+-*")
        value = a + b if op == "+" else a - b if op == "-" else a * b
        out.append({"id": f"p{i}", "prompt": f"Question: what is {a} {op} {b}? Answer:", "answer": str(value)})
    return out


def _corpus(lines: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    words = ("the", "answer", "is", "what", "question", "sum", "of", "and", "plus", "minus", "times",
             "so", "we", "get", "first", "then", "result", "number", "step", "check", "add", "carry")
    out = []
    for _ in range(lines):
        a, b = rng.randint(0, 999), rng.randint(0, 999)
        op = rng.choice("+-*")
        text = " ".join(rng.choice(words) for _ in range(rng.randint(3, 12)))
        out.append(f"Question: what is {a} {op} {b}? Answer: {text} {a}{op}{b} = {rng.randint(0, 99999)}.")
    return out


def build_model(out_dir: Path, *, vocab: int, hidden: int, layers: int, heads: int, seed: int) -> dict[str, Any]:
    """Train a byte-level BPE tokenizer, build a random Llama model, save both to ``out_dir``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab,
        special_tokens=["<|endoftext|>", "<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(20000), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>", pad_token="<pad>"
    )
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=hidden,
        intermediate_size=4 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=512,
        tie_word_embeddings=False,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    model.save_pretrained(str(out_dir))
    fast.save_pretrained(str(out_dir))
    return {"params": sum(p.numel() for p in model.parameters()), "vocab": len(fast)}


# --- measuring -------------------------------------------------------------------------------------


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


def current_rss_mib() -> float | None:
    """This process's resident memory now (VmRSS) in MiB, where /proc exists."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _setup_threads(threads: int, seed: int) -> None:
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    random.seed(seed)


def worker_trl(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from datasets import Dataset

    _setup_threads(args.threads, args.seed)
    verifier = ParityMatch()

    def parity_reward(completions: list[str], answer: list[str], **_: Any) -> list[float]:
        return [verifier.verify(Sample(output=c, answer=a)).score for c, a in zip(completions, answer)]

    total_steps = args.warmup + args.steps
    prompts = make_prompts(args.prompts * total_steps, seed=args.seed)
    dataset = Dataset.from_list([{"prompt": p["prompt"], "answer": p["answer"]} for p in prompts])
    tokenizer = AutoTokenizer.from_pretrained(args.model_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(args.model_dir, local_files_only=True, dtype=torch.float32)
    stamps: list[tuple[float, float]] = []
    setup_rss: list[float] = []

    class StepTimer(TrainerCallback):
        def on_train_begin(self, *_: Any, **__: Any) -> None:
            setup_rss.append(current_rss_mib())
            stamps.append((time.perf_counter(), time.process_time()))

        def on_step_end(self, *_: Any, **__: Any) -> None:
            stamps.append((time.perf_counter(), time.process_time()))

    with tempfile.TemporaryDirectory() as out:
        config = GRPOConfig(
            output_dir=out,
            per_device_train_batch_size=args.prompts * args.group,  # completions per optimiser step
            gradient_accumulation_steps=1,
            num_generations=args.group,
            max_completion_length=args.max_new_tokens,
            num_iterations=1,
            beta=0.0,
            learning_rate=args.lr,
            lr_scheduler_type="constant",
            warmup_steps=0,
            optim="adamw_torch",
            max_grad_norm=1.0,
            temperature=1.0,
            top_p=1.0,
            max_steps=total_steps,
            logging_steps=1,
            save_strategy="no",
            report_to="none",
            use_cpu=args.device == "cpu",
            bf16=False,
            seed=args.seed,
            shuffle_dataset=False,
            dataloader_num_workers=0,
            log_completions=False,
            disable_tqdm=True,
        )
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=parity_reward,
            args=config,
            train_dataset=dataset,
            processing_class=tokenizer,
            callbacks=[StepTimer()],
        )
        trainer.train()
        if args.save_trl_state:
            trainer.state.save_to_json(args.save_trl_state)
    history = [e for e in trainer.state.log_history if "reward" in e]
    return {
        "side": "trl",
        "step_s": [b[0] - a[0] for a, b in zip(stamps, stamps[1:])],
        "cpu_s": [b[1] - a[1] for a, b in zip(stamps, stamps[1:])],
        "setup_rss_mib": setup_rss[0] if setup_rss else None,
        "len_mean": [e.get("completions/mean_length") for e in history],
        "reward_mean": [e.get("reward") for e in history],
        "peak_rss_mib": peak_rss_mib(),
        "completions_per_step": args.prompts * args.group,
    }


def worker_rlvr(args: argparse.Namespace) -> dict[str, Any]:
    from rlvr.grpo import Trainer, load_config
    from rlvr.policy import load_policy

    _setup_threads(args.threads, args.seed)
    total_steps = args.warmup + args.steps
    prompts = make_prompts(args.prompts * total_steps, seed=args.seed)
    policy = load_policy(args.model_dir, device=args.device)
    # TRL's defaults mirrored: loss_type "dapo" = token-mean, epsilon 0.2 both sides, scale_rewards
    # "group", AdamW(0.9, 0.999), no weight decay, beta 0 (no reference model), one epoch/minibatch.
    config = load_config(
        None,
        model={"path": args.model_dir},
        data={"task": "arithmetic"},  # required by the config; the prompts below are what trains
        run={"steps": total_steps, "seed": args.seed, "out_dir": None, "progress": False, "threads": args.threads,
             "checkpoint_every": 0, "save_final": False, "device": args.device},
        verifier={"workers": 0},
        rollout={"prompts_per_step": args.prompts, "group_size": args.group, "temperature": 1.0,
                 "top_p": 1.0, "max_new_tokens": args.max_new_tokens},
        advantage={"baseline": "mean", "scale": "group"},
        # kl_every 0 (the default here) matches TRL at beta 0: no reference copy, no KL reading.
        # --kl-every 1 is rlvr's own default and measures what logging policy/kl costs.
        loss={"agg": "token-mean", "eps_low": 0.2, "eps_high": 0.2, "beta": 0.0, "kl_every": args.kl_every},
        optim={"learning_rate": args.lr, "beta1": 0.9, "beta2": 0.999, "weight_decay": 0.0,
               "grad_clip": 1.0, "epochs": 1, "minibatches": 1,
               # Same update in smaller forward/backward passes: rlvr's memory knob, as gradient
               # checkpointing (on by default) is TRL's.
               "micro_batch_size": args.micro_batch_size or max(1, args.prompts * args.group // 2)},
    )
    trainer = Trainer(config, policy=policy, verifier=ParityMatch(), prompts=prompts, run_dir=None, quiet=True)
    step_s, cpu_s, lens, rewards, phases = [], [], [], [], []
    prompt_tokens = sum(len(ids) for ids in policy.encode_prompts([p["prompt"] for p in prompts])) / len(prompts)
    setup_rss = current_rss_mib()
    for _ in range(total_steps):
        t0, c0 = time.perf_counter(), time.process_time()
        metrics = trainer.step()
        step_s.append(time.perf_counter() - t0)
        cpu_s.append(time.process_time() - c0)
        lens.append(metrics.get("gen/len_mean"))
        rewards.append(metrics.get("reward/mean"))
        phases.append({k: metrics[k] for k in ("time/rollout", "time/verify", "time/update") if k in metrics})
    return {
        "side": "rlvr",
        "step_s": step_s,
        "cpu_s": cpu_s,
        "setup_rss_mib": setup_rss,
        "len_mean": lens,
        "reward_mean": rewards,
        # Where the timed steps went (rollout = sampling, update = scoring + backward + AdamW).
        "phases_s": {k: _median([p[k] for p in phases[args.warmup:]]) for k in (phases[-1] if phases else {})},
        "peak_rss_mib": peak_rss_mib(),
        "completions_per_step": args.prompts * args.group,
        "prompt_tokens": prompt_tokens,
    }


def run_worker(args: argparse.Namespace) -> None:
    result = worker_trl(args) if args.worker == "trl" else worker_rlvr(args)
    print("RESULT " + json.dumps(result))


# --- the parent: build, run each side in a subprocess, compare ----------------------------------


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def run_side(side: str, args: argparse.Namespace, model_dir: Path) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", side, "--model-dir", str(model_dir)]
    for name in ("steps", "warmup", "prompts", "group", "max_new_tokens", "threads", "seed", "lr", "device",
                 "micro_batch_size", "kl_every"):
        cmd += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    if side == "trl" and args.save_trl_state:
        cmd += ["--save-trl-state", args.save_trl_state]
    env = dict(os.environ)
    # Same thread count for every pool a side might use.
    env.update(OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads), TOKENIZERS_PARALLELISM="false")
    # Idle OpenMP threads sleep instead of spinning: on a shared machine spinning burns the CPU
    # the other processes need and inflates CPU-time readings (same setting for both sides).
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    env["PYTHONPATH"] = str(ROOT / "src") + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout)[-3000:]
        return {"side": side, "error": f"exit {proc.returncode}: {tail}"}
    return json.loads(lines[-1][len("RESULT "):])


def summarise(runs: list[dict[str, Any]], warmup: int) -> dict[str, Any]:
    """Pool the timed steps of every round of one side (warm-up steps of each round dropped)."""
    errors = [r["error"] for r in runs if "error" in r]
    if errors:
        return {"side": runs[0]["side"], "error": errors[0]}
    timed = [t for r in runs for t in r["step_s"][warmup:]]
    cpu = [t for r in runs for t in r.get("cpu_s", [])[warmup:]]
    lens = [x for r in runs for x in r.get("len_mean", [])[warmup:] if x is not None]
    return {
        "side": runs[0]["side"],
        "rounds": len(runs),
        "step_s": [r["step_s"] for r in runs],
        "round_median_s": [_median(r["step_s"][warmup:]) for r in runs if r["step_s"][warmup:]],
        "timed_steps": len(timed),
        "median_step_s": _median(timed) if timed else None,
        "mean_step_s": sum(timed) / len(timed) if timed else None,
        # The least-disturbed step (timeit's rule): the most stable estimate on a shared machine.
        "min_step_s": min(timed) if timed else None,
        # CPU seconds (all threads) per step: far less sensitive than wall time to other load.
        "median_cpu_s": _median(cpu) if cpu else None,
        "setup_rss_mib": max((r.get("setup_rss_mib") or 0.0) for r in runs),
        "mean_len": sum(lens) / len(lens) if lens else None,
        "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
        "completions_per_step": runs[0]["completions_per_step"],
        **({"prompt_tokens": runs[0]["prompt_tokens"]} if "prompt_tokens" in runs[0] else {}),
        **({"phases_s": runs[-1]["phases_s"]} if "phases_s" in runs[-1] else {}),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=5, help="timed optimiser steps per side")
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    ap.add_argument("--prompts", type=int, default=4, help="prompts per step")
    ap.add_argument("--group", type=int, default=8, help="completions per prompt (G)")
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=1e-6)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--micro-batch-size", type=int, default=0,
                    help="rlvr's [optim] micro_batch_size (0: half the completions per step)")
    ap.add_argument("--kl-every", type=int, default=0,
                    help="rlvr's [loss] kl_every (0: no reference, like TRL at beta 0; 1: rlvr's default)")
    ap.add_argument("--vocab", type=int, default=2048)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--sides", default="rlvr,trl", help="comma-separated: rlvr,trl")
    ap.add_argument("--rounds", type=int, default=1, help="run each side this many times, alternating")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per side")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--save-trl-state", default=None, help="also write TRL's trainer_state.json here")
    ap.add_argument("--worker", choices=SIDES, help=argparse.SUPPRESS)
    ap.add_argument("--model-dir", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        run_worker(args)
        return 0
    sides = [s.strip() for s in args.sides.split(",") if s.strip()]
    if not sides or any(s not in SIDES for s in sides):
        ap.error(f"--sides takes a comma-separated subset of {','.join(SIDES)}")
    with tempfile.TemporaryDirectory(prefix="rlvr-bench-") as tmp:
        model_dir = Path(tmp) / "model"
        info = build_model(
            model_dir, vocab=args.vocab, hidden=args.hidden, layers=args.layers, heads=args.heads, seed=args.seed
        )
        raw: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
        for _ in range(args.rounds):  # alternate sides so a load change on a shared machine hits both
            for side in sides:
                raw[side].append(run_side(side, args, model_dir))
        results = {side: summarise(runs, args.warmup) for side, runs in raw.items()}
    report = {
        "model": {"arch": "LlamaForCausalLM", **info, "hidden": args.hidden, "layers": args.layers},
        "setup": {k: getattr(args, k) for k in ("steps", "warmup", "rounds", "prompts", "group",
                                                  "max_new_tokens", "threads", "device", "lr", "kl_every")},
        "results": results,
    }
    ok = all("error" not in r for r in results.values())
    if ok and {"rlvr", "trl"} <= set(results):
        r, t = results["rlvr"], results["trl"]
        report["speedup_median"] = t["median_step_s"] / r["median_step_s"]
        report["speedup_min"] = t["min_step_s"] / r["min_step_s"]
        report["memory_ratio"] = r["peak_rss_mib"] / t["peak_rss_mib"]
        if r["median_cpu_s"] and t["median_cpu_s"]:
            report["speedup_cpu_time"] = t["median_cpu_s"] / r["median_cpu_s"]
    if ok and "rlvr" in results and args.device == "cpu":
        report["matmul"] = matmul_utilisation(results["rlvr"], info, args)
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report)
    return 0 if ok else 1


def peak_matmul_gflops(threads: int, n: int = 1024, reps: int = 20) -> float:
    """The machine's float32 matmul throughput at ``threads`` threads (best of 3), in GFLOP/s."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(reps):
            a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 * reps / best / 1e9


def matmul_utilisation(r: dict[str, Any], info: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """How close rlvr's median step gets to the matmul peak: an estimate from parameter counts.

    Per completion, with ``P`` the matmul parameters (all but the input embedding), ``L`` the
    completion length and ``p`` the prompt length in tokens: sampling ≈ 2·P·L FLOPs (one cached
    forward per new token), the update ≈ 6·P·(p + L) (forward + backward over the whole sequence),
    a KL reading 2·P·(p + L) more. Attention's own FLOPs are left out (short sequences).
    """
    p_mm = info["params"] - info["vocab"] * args.hidden
    length, prompt = r["mean_len"] or 0.0, r.get("prompt_tokens", 0.0)
    per_completion = 2 * p_mm * length + (6 + (2 if args.kl_every else 0)) * p_mm * (prompt + length)
    flops = per_completion * r["completions_per_step"]
    peak = peak_matmul_gflops(args.threads)
    achieved = flops / r["median_step_s"] / 1e9
    return {"peak_gflops": peak, "step_gflops": achieved, "fraction_of_peak": achieved / peak,
            "step_gflop": flops / 1e9}


def print_report(report: dict[str, Any]) -> None:
    m, s = report["model"], report["setup"]
    print(
        f"model: {m['arch']} {m['params'] / 1e6:.1f}M params (hidden {m['hidden']}, {m['layers']} layers, "
        f"vocab {m['vocab']}); {s['prompts']} prompts x G={s['group']} = {s['prompts'] * s['group']} "
        f"completions/step, max {s['max_new_tokens']} new tokens; device {s['device']}, "
        f"{s['threads']} threads; {s['warmup']} warm-up + {s['steps']} timed steps"
    )
    print(f"rounds: {s['rounds']} per side, alternating (pooled timed steps)")
    print(
        f"{'side':6} {'median s/step':>14} {'min s/step':>11} {'mean s/step':>12} {'CPU s/step':>11} {'mean len':>9} "
        f"{'RSS at start MiB':>17} {'peak RSS MiB':>13}"
    )
    for side, r in report["results"].items():
        if "error" in r:
            print(f"{side:6} ERROR {r['error']}")
            continue
        print(
            f"{side:6} {r['median_step_s']:14.3f} {r['min_step_s']:11.3f} {r['mean_step_s']:12.3f} "
            f"{(r['median_cpu_s'] or 0):11.3f} "
            f"{(r['mean_len'] or 0):9.1f} {r['setup_rss_mib']:17.0f} {r['peak_rss_mib']:13.0f}"
        )
        if "phases_s" in r:
            print("       median phases: " + ", ".join(f"{k} {v:.3f}s" for k, v in r["phases_s"].items()))
    if "speedup_median" in report:
        print(
            f"rlvr is {report['speedup_median']:.2f}x faster per step than TRL (median wall time; target >= 3x); "
            f"peak memory rlvr/TRL = {report['memory_ratio']:.2f} (target <= 1)"
        )
    if "speedup_min" in report:
        print(f"fastest step TRL/rlvr: {report['speedup_min']:.2f}x")
    if "speedup_cpu_time" in report:
        print(f"CPU-time ratio TRL/rlvr per step (median): {report['speedup_cpu_time']:.2f}x")
    if "matmul" in report:
        mm = report["matmul"]
        print(
            f"rlvr step: ~{mm['step_gflop']:.1f} GFLOP in the median step = {mm['step_gflops']:.1f} GFLOP/s, "
            f"{mm['fraction_of_peak']:.0%} of this machine's {mm['peak_gflops']:.1f} GFLOP/s float32 matmul peak "
            f"at {report['setup']['threads']} threads"
        )
    print("note: wall times on a shared, loaded machine vary between steps; compare runs made together")


if __name__ == "__main__":
    raise SystemExit(main())
