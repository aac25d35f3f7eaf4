"""The shared starting point of ``bench/agent_step.py``: a small Qwen2 that already calls ``calculate``.

A random model never writes a well-formed tool call, and steering only one trainer's sampler would
make the two sides do different work. So both sides start from one checkpoint built here:

1. a byte-level BPE tokenizer trained on chat transcripts rendered with Qwen2.5's chat template
   (the template TRL recognises, so it parses Hermes ``<tool_call>`` blocks); ``<|im_start|>``,
   ``<|im_end|>`` (EOS: end of turn) and ``<|endoftext|>`` (pad) are special, the tool tags are plain
   added tokens (a decode that skips special tokens keeps them);
2. a randomly initialised ``Qwen2ForCausalLM``;
3. a short supervised fit on transcripts in which the assistant calls
   ``calculate`` with ``{"expression": "a op b"}``, reads the ``tool`` turn and answers
   ``The answer is <value>.``. Each training sequence is assembled the way a multi-turn rollout is
   (prompt ids + first assistant turn + EOS + the tool turn's suffix + answer + EOS), and the loss is
   on the assistant tokens only. Half the prompts carry the tool schemas in the system message (what
   TRL renders), half do not, so the model calls the tool under either rendering.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
TOOL_TAGS = ["<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>"]


def make_records(n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` arithmetic questions ``{"id", "prompt", "answer"}`` (2-digit operands, + - *)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        a, b, op = rng.randint(2, 99), rng.randint(2, 99), rng.choice("+-*")
        value = a + b if op == "+" else a - b if op == "-" else a * b
        out.append({"id": f"q{i}", "prompt": f"What is {a} {op} {b}?", "answer": str(value),
                    "expression": f"{a} {op} {b}"})
    return out


CALL_HEAD = '{"name": "calculate", "arguments": {"expression": "'
CALL_TAIL = '"}}'


def call_text(expression: str) -> str:
    """The assistant's tool-call turn, exactly as Qwen2.5's template renders a call."""
    return f"<tool_call>\n{CALL_HEAD}{expression}{CALL_TAIL}\n</tool_call>"


def answer_text(value: str) -> str:
    return f"The answer is {value}."


def tool_schemas() -> list[dict[str, Any]]:
    from rlvr.env import CalculatorEnv, schemas_of

    return schemas_of(CalculatorEnv())


def conversation(rec: dict[str, Any]) -> list[dict[str, Any]]:
    """The worked episode the fit teaches: user question, calculate call, tool result, answer."""
    call = {"type": "function", "function": {"name": "calculate", "arguments": {"expression": rec["expression"]}}}
    return [
        {"role": "user", "content": rec["prompt"]},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "name": "calculate", "content": rec["answer"]},
        {"role": "assistant", "content": answer_text(rec["answer"])},
    ]


def build_tokenizer(records: list[dict[str, Any]], vocab: int) -> Any:
    """Byte-level BPE trained on the rendered transcripts, with Qwen2.5's chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast
    from trl.chat_template_utils import qwen2_5_chat_template

    tools = tool_schemas()
    texts = [render(conversation(r), tools if i % 2 else None) for i, r in enumerate(records)]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=SPECIAL, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    fast.add_special_tokens({"additional_special_tokens": SPECIAL})
    fast.add_tokens(TOOL_TAGS + fixed_chunks(tools))
    fast.chat_template = qwen2_5_chat_template
    return fast


def render(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None, generation_prompt: bool = False) -> str:
    """A conversation through Qwen2.5's template, as ``apply_chat_template`` renders it."""
    from transformers.utils.chat_template_utils import render_jinja_template
    from trl.chat_template_utils import qwen2_5_chat_template

    rendered, _ = render_jinja_template(conversations=[messages], tools=tools, chat_template=qwen2_5_chat_template,
                                        add_generation_prompt=generation_prompt)
    return rendered[0]


def fixed_chunks(tools: list[dict[str, Any]]) -> list[str]:
    """The template's fixed text (system messages, the tool schema block, the call's JSON head) as
    single tokens: a 200-token system prompt would make the fit and every step mostly prefill."""
    sys_default = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
    with_tools = render([{"role": "user", "content": "Q"}], tools)
    tools_block = with_tools.split("<|im_start|>system\n", 1)[1].split("<|im_end|>", 1)[0]
    pieces = [c for c in tools_block.replace(sys_default, "\x00").split("\x00") if c]
    return [sys_default, *pieces, CALL_HEAD, CALL_TAIL, "The answer is "]


def tool_suffix_ids(tokenizer: Any, observation: str) -> list[int]:
    """The ids between an assistant turn's EOS and the next assistant turn's first token."""
    text = f"\n<|im_start|>user\n<tool_response>\n{observation}\n</tool_response><|im_end|>\n<|im_start|>assistant\n"
    return tokenizer.encode(text, add_special_tokens=False)


def episode_ids(tokenizer: Any, rec: dict[str, Any], tools: list[dict[str, Any]] | None) -> tuple[list[int], list[int]]:
    """(ids, loss mask) of one whole episode, assembled as a multi-turn rollout assembles it."""
    enc, eos = (lambda s: tokenizer.encode(s, add_special_tokens=False)), tokenizer.eos_token_id
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": rec["prompt"]}], tools=tools,
                                           add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
    turn1 = enc(call_text(rec["expression"])) + [eos]
    suffix = tool_suffix_ids(tokenizer, rec["answer"])
    turn2 = enc(answer_text(rec["answer"])) + [eos]
    ids = list(prompt) + turn1 + suffix + turn2
    mask = [0] * len(prompt) + [1] * len(turn1) + [0] * len(suffix) + [1] * len(turn2)
    return ids, mask


def fit(model: Any, sequences: list[tuple[list[int], list[int]]], *, steps: int, batch: int, lr: float, pad_id: int,
        seed: int) -> float:
    """``steps`` AdamW steps of next-token cross-entropy on the masked tokens; the last loss."""
    import torch

    gen = random.Random(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    loss_value = float("nan")
    for step in range(steps):
        chosen = [sequences[gen.randrange(len(sequences))] for _ in range(batch)]
        width = max(len(ids) for ids, _ in chosen)
        ids = torch.full((batch, width), pad_id, dtype=torch.long)
        labels = torch.full((batch, width), -100, dtype=torch.long)
        attn = torch.zeros((batch, width), dtype=torch.long)
        for i, (seq, mask) in enumerate(chosen):  # right-padded (B, T)
            ids[i, : len(seq)] = torch.tensor(seq)
            attn[i, : len(seq)] = 1
            labels[i, : len(seq)] = torch.tensor([t if m else -100 for t, m in zip(seq, mask)])
        for group in opt.param_groups:  # linear decay to 10%: a clean finish in few steps
            group["lr"] = lr * (1.0 - 0.9 * step / max(1, steps))
        loss = model(input_ids=ids, attention_mask=attn, labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss_value = float(loss.detach())
    model.eval()
    return loss_value


def build_checkpoint(folder: Path, *, seed: int, hidden: int, layers: int, vocab: int, fit_steps: int,
                     fit_batch: int = 16, fit_lr: float = 3e-3) -> dict[str, Any]:
    """Tokenizer + random Qwen2 + the supervised fit, saved to ``folder``; what was built."""
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    t0 = time.perf_counter()
    records = make_records(2000, seed=seed + 10_000)  # never the benchmark's own questions' seed
    tokenizer = build_tokenizer(records, vocab)
    cfg = Qwen2Config(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=4 * hidden,
                      num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                      max_position_embeddings=1024, eos_token_id=tokenizer.eos_token_id,
                      pad_token_id=tokenizer.pad_token_id, bos_token_id=None, tie_word_embeddings=True)
    # Fit with the tokenizer exactly as both sides will load it: next to a qwen2 config.json,
    # AutoTokenizer rebuilds Qwen2's pre-tokenizer (one token per digit), not the one trained here.
    folder.mkdir(parents=True, exist_ok=True)
    cfg.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    tools = tool_schemas()
    sequences = [episode_ids(tokenizer, r, tools if i % 2 else None) for i, r in enumerate(records)]
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(cfg)
    loss = fit(model, sequences, steps=fit_steps, batch=fit_batch, lr=fit_lr, pad_id=tokenizer.pad_token_id,
               seed=seed)
    model.save_pretrained(str(folder))
    return {"arch": "Qwen2ForCausalLM", "params": sum(p.numel() for p in model.parameters()), "vocab": len(tokenizer),
            "hidden": hidden, "layers": layers, "fit_steps": fit_steps, "fit_loss": loss,
            "fit_s": time.perf_counter() - t0, "episode_tokens": sum(len(s) for s, _ in sequences) / len(sequences)}
