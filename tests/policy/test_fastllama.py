"""The lean Llama forward against the transformers forward: same logits, gradients and samples."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

transformers = pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

sys.path.insert(0, str(Path(__file__).parent))
from test_hf import build_model  # noqa: E402

from rlvr.policy import load_policy  # noqa: E402
from rlvr.policy.fastllama import FastLlama, unsupported_reason  # noqa: E402

VOCAB = 97


def make(arch: str, *, heads: int = 4, kv_heads: int = 2, tied: bool = False, **extra) -> torch.nn.Module:
    config_cls = getattr(transformers, arch.replace("ForCausalLM", "Config"))
    cfg = config_cls(
        vocab_size=VOCAB, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=heads,
        num_key_value_heads=kv_heads, max_position_embeddings=64, tie_word_embeddings=tied, **extra,
    )
    torch.manual_seed(0)
    model = getattr(transformers, arch)(cfg).eval()
    with torch.no_grad():  # random biases too (Qwen2 initialises them to zero)
        for name, p in model.named_parameters():
            if name.endswith("bias") or "norm" in name:
                p.add_(torch.randn_like(p) * 0.1)
    return model


def left_padded(rows: int = 3, width: int = 9) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    ids = torch.randint(0, VOCAB, (rows, width), generator=gen)
    mask = torch.ones(rows, width, dtype=torch.long)
    mask[1, :3] = 0  # left padding of different lengths
    mask[2, :5] = 0
    pos = (mask.cumsum(1) - 1).clamp(min=0)
    return ids, mask, pos


CASES = [
    ("LlamaForCausalLM", {"tied": True}),  # GQA, tied embeddings
    ("LlamaForCausalLM", {"kv_heads": 4}),  # MHA, untied
    ("Qwen2ForCausalLM", {}),  # q/k/v biases
    ("MistralForCausalLM", {"sliding_window": None}),
    ("LlamaForCausalLM", {"rope_parameters": {"rope_type": "linear", "factor": 2.0, "rope_theta": 10000.0}}),
]


@pytest.mark.parametrize(("arch", "kw"), CASES)
def test_logits_and_gradients_match_transformers(arch, kw):
    model = make(arch, **kw)
    assert unsupported_reason(model) is None
    fast = FastLlama(model)
    ids, mask, pos = left_padded()
    ref = model(input_ids=ids, attention_mask=mask, position_ids=pos).logits
    got = fast.logits(fast.hidden(ids, mask, pos))
    real = mask.bool()
    assert torch.allclose(got[real], ref[real], atol=1e-5), (got[real] - ref[real]).abs().max()
    # Gradients land in the HF parameters and equal the HF forward's.
    weights = torch.randn_like(ref)
    (ref * weights)[real].sum().backward()
    ref_grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    (fast.logits(fast.hidden(ids, mask, pos)) * weights)[real].sum().backward()
    for n, p in model.named_parameters():
        assert torch.allclose(p.grad, ref_grads[n], atol=1e-5), n


@pytest.mark.parametrize(("arch", "kw"), CASES[:3])
def test_cached_steps_match_a_full_forward(arch, kw):
    model = make(arch, **kw)
    fast = FastLlama(model)
    ids, mask, pos = left_padded()
    extra = torch.randint(0, VOCAB, (3, 70 - ids.shape[1]), generator=torch.Generator().manual_seed(2))
    cache = fast.new_cache(3, 4)  # too small on purpose: the cache has to grow
    logits = fast.step(ids, mask, pos, cache)
    full_ids = torch.cat([ids, extra], 1)[:, :42]
    full_mask = torch.cat([mask, torch.ones_like(extra)], 1)[:, :42]
    full_pos = (full_mask.cumsum(1) - 1).clamp(min=0)
    ref = model(input_ids=full_ids, attention_mask=full_mask, position_ids=full_pos).logits
    assert torch.allclose(logits, ref[:, ids.shape[1] - 1], atol=1e-5)
    t = ids.shape[1]
    while t < 42:
        s = 1 if t < 30 else 3  # single tokens, then several at once
        logits = fast.step(full_ids[:, t : t + s], full_mask[:, : t + s], full_pos[:, t : t + s], cache)
        t += s
        assert torch.allclose(logits, ref[:, t - 1], atol=1e-5), t
    assert cache.length == 42


def test_unsupported_models_fall_back():
    mistral = make("MistralForCausalLM", sliding_window=16)
    assert "sliding" in unsupported_reason(mistral)
    dynamic = make("LlamaForCausalLM", rope_parameters={"rope_type": "dynamic", "factor": 2.0, "rope_theta": 1e4})
    assert "rope" in unsupported_reason(dynamic)
    gpt2 = transformers.GPT2LMHeadModel(transformers.GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=VOCAB))
    assert "GPT2LMHeadModel" in unsupported_reason(gpt2)
    with pytest.raises(ValueError, match="sliding"):
        FastLlama(mistral)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return build_model(tmp_path_factory.mktemp("llama"))


def test_policy_samples_and_scores_identically_with_and_without_the_fast_path(model_dir):
    fast = load_policy(model_dir)
    slow = load_policy(model_dir, fast=False)
    assert fast.fast_path() is not None and slow.fast_path() is None
    prompts = ["1+2=", "12+13=", "the answer is"]
    a = fast.sample(prompts, n=3, max_new_tokens=12, seed=5, temperature=1.0, top_p=0.9)
    b = slow.sample(prompts, n=3, max_new_tokens=12, seed=5, temperature=1.0, top_p=0.9)
    assert torch.equal(a.tokens.input_ids, b.tokens.input_ids)
    assert torch.equal(a.tokens.completion_mask, b.tokens.completion_mask)
    assert a.texts == b.texts
    assert torch.allclose(a.sample_logprobs, b.sample_logprobs, atol=1e-5)
    lp_fast, ent_fast = fast.logprobs(a.tokens, with_entropy=True)
    lp_slow, ent_slow = slow.logprobs(a.tokens, with_entropy=True)
    assert torch.allclose(lp_fast, lp_slow, atol=1e-5)
    assert torch.allclose(ent_fast, ent_slow, atol=1e-5)
    assert torch.allclose(lp_fast, a.sample_logprobs, atol=1e-5)  # sampler and scorer agree


def test_frozen_copy_gets_its_own_fast_path(model_dir):
    policy = load_policy(model_dir)
    ref = policy.frozen_copy()
    assert ref.fast_path().model is ref.model
    assert policy.fast_path().model is policy.model
    with torch.no_grad():
        for p in policy.model.parameters():
            p.add_(0.5)
    out = policy.sample(["1+2="], n=2, max_new_tokens=4, seed=0)
    assert not torch.allclose(policy.logprobs(out.tokens)[0], ref.logprobs(out.tokens)[0])


def test_prefill_runs_repeated_prompts_once_and_matches_per_row_prefill():
    model = make("LlamaForCausalLM")
    fast = FastLlama(model)
    ids, mask, pos = left_padded()
    rep = torch.tensor([0, 0, 1, 2, 2, 2])  # groups of repeated prompts, as ``sample`` builds them
    logits, cache = fast.prefill(ids[rep], mask[rep], pos[rep], 8)
    assert cache.k.shape[1] == 6 and cache.length == ids.shape[1]
    ref_cache = fast.new_cache(6, 20)
    ref = fast.step(ids[rep], mask[rep], pos[rep], ref_cache)
    assert torch.allclose(logits, ref, atol=1e-5)
    end = cache.length
    assert torch.allclose(cache.k[:, :, :, :end], ref_cache.k[:, :, :, :end], atol=1e-5)
    # Decoding on from the shared cache still matches.
    tok = torch.arange(6)[:, None]
    m2 = torch.cat([mask[rep], torch.ones(6, 1, dtype=torch.long)], 1)
    p2 = pos[rep][:, -1:] + 1
    assert torch.allclose(fast.step(tok, m2, p2, cache), fast.step(tok, m2, p2, ref_cache), atol=1e-5)


@pytest.mark.parametrize(("arch", "kw"), CASES[:3])
def test_shared_prompt_pass_matches_the_full_forward_and_its_gradients(arch, kw):
    model = make(arch, **kw)
    fast = FastLlama(model)
    ids, mask, pos = left_padded(width=6)
    rep = torch.tensor([0, 0, 0, 1, 2, 2])  # groups sharing prompts
    gen = torch.Generator().manual_seed(3)
    comp = torch.randint(0, VOCAB, (6, 5), generator=gen)
    comp_mask = torch.ones(6, 5, dtype=torch.long)
    comp_mask[1, 3:] = 0  # a completion that ended early (after EOS: masked)
    full_ids, full_mask = torch.cat([ids[rep], comp], 1), torch.cat([mask[rep], comp_mask], 1)
    full_pos = (full_mask.cumsum(1) - 1).clamp(min=0)
    weights = torch.randn(6, 5, VOCAB, generator=gen) * comp_mask[..., None]
    ref = fast.logits(fast.hidden(full_ids, full_mask, full_pos)[:, 5:-1])
    (ref * weights).sum().backward()
    ref_grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    got = fast.logits(fast.completion_hidden(full_ids, full_mask, full_pos, 6))
    assert got.shape == (6, 5, VOCAB)
    live = comp_mask.bool()
    assert torch.allclose(got[live], ref[live], atol=1e-5)
    (got * weights).sum().backward()
    for n, p in model.named_parameters():
        assert torch.allclose(p.grad, ref_grads[n], atol=1e-5), n
