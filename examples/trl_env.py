"""TRL's GRPOTrainer with an rlvr tool environment: 2 GRPO steps on CPU, offline, tiny random model.

    PYTHONPATH=src python examples/trl_env.py [--out DIR] [--steps 2]

``environment_factory=rlvr.env.CalculatorEnv`` is passed to TRL as is: TRL builds instances with
no arguments, offers ``calculate`` as a tool, calls ``reset(**row)`` per rollout and adds
``get_reward`` as a reward column. ``rlvr.env.capture_answers`` (first in ``reward_funcs``, it
scores 0.0) hands each completion's final message to its environment, which TRL never does.

The model is a 2-layer random Qwen2 with a word-level tokenizer built here, and the chat template
is Qwen2.5's (so TRL recognises it and parses Hermes ``<tool_call>`` blocks). A random model never
writes a well-formed call by itself, so generation is steered with ``sequence_bias`` (a
generation option): ``<tool_call>``, then the call's JSON (one token here), then ``</tool_call>``,
then end of turn. Every completion therefore calls ``calculate`` at least once; the tool result
comes back in a ``tool`` turn, masked from the loss by TRL. Tested with TRL 1.16 / transformers 5.25.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

CALL_JSON = '{"name": "calculate", "arguments": {"expression": "6*7"}}'


def build_tokenizer(folder: str):
    """A word-level tokenizer with Qwen2.5's chat template and the tool tags as tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    from trl.chat_template_utils import qwen2_5_chat_template

    words = ["<unk>", "system", "user", "assistant", "tool", "You", "are", "a", "helpful", "What", "is", "6*7", "?",
             "The", "answer", "42", "Answer", "with", "calculate", "\n", " "] + [str(i) for i in range(10)]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(pattern=" ", behavior="isolated")
    tok.decoder = decoders.Fuse()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", eos_token="<|im_end|>", pad_token="<|endoftext|>")
    fast.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>", "<|endoftext|>"]})
    fast.add_tokens(["<tool_call>", "</tool_call>", CALL_JSON, "<tool_response>", "</tool_response>", "\n"])
    fast.chat_template = qwen2_5_chat_template
    fast.save_pretrained(folder)
    return fast


def build_model(tokenizer, folder: str):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    cfg = Qwen2Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=2048,
                      eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True)
    model = Qwen2ForCausalLM(cfg)
    model.save_pretrained(folder)
    return model


def steering(tokenizer) -> list:
    """``sequence_bias`` that makes a random model write one Hermes tool call, then end its turn."""
    t = tokenizer.convert_tokens_to_ids
    open_, body, close, end = t("<tool_call>"), t(CALL_JSON), t("</tool_call>"), t("<|im_end|>")
    return [[[open_], 30.0], [[open_, body], 60.0], [[body, close], 90.0], [[close, end], 120.0]]


def main(out: str | None = None, steps: int = 2) -> dict:
    from trl import GRPOConfig, GRPOTrainer

    import rlvr.env
    from datasets import Dataset

    work = out or tempfile.mkdtemp(prefix="rlvr-trl-env-")
    tokenizer = build_tokenizer(os.path.join(work, "model"))
    model = build_model(tokenizer, os.path.join(work, "model"))
    data = Dataset.from_list([{"prompt": [{"role": "user", "content": "What is 6*7 ?"}], "answer": "42"}] * 8)
    config = GRPOConfig(
        output_dir=os.path.join(work, "run"), max_steps=steps, per_device_train_batch_size=4, num_generations=4,
        max_completion_length=48, max_tool_calling_iterations=2, learning_rate=1e-4, logging_steps=1,
        report_to="none", use_cpu=True, bf16=False, save_strategy="no", seed=0,
        generation_kwargs={"sequence_bias": steering(tokenizer)},
    )
    seen: list[dict] = []

    def log_completions(completions, environments=None, **_):
        for c, env in zip(completions, environments or []):
            seen.append({"completion": c, "n_tool_calls": rlvr.env.episode_of(env).n_tool_calls})
        return [0.0 for _ in completions]

    trainer = GRPOTrainer(model=model, processing_class=tokenizer, args=config, train_dataset=data,
                          reward_funcs=[rlvr.env.capture_answers, log_completions],
                          environment_factory=rlvr.env.CalculatorEnv)
    trainer.train()
    with_calls = sum(1 for s in seen if s["n_tool_calls"] > 0)
    summary = {"steps": trainer.state.global_step, "completions": len(seen), "with_tool_calls": with_calls,
               "tool_calls": sum(s["n_tool_calls"] for s in seen),
               "example": json.dumps(seen[0]["completion"], default=str)[:400] if seen else ""}
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=None)
    ap.add_argument("--steps", type=int, default=2)
    a = ap.parse_args()
    main(a.out, a.steps)
