"""The built-in tiny GPT: tokenizer, KV-cache sampling, log-probs, padding, seeds, save/load."""

from __future__ import annotations

import pytest
import torch

from rlvr.errors import ConfigError
from rlvr.policy import load_policy
from rlvr.policy.base import Policy, TokenBatch
from rlvr.policy.tiny import CharTokenizer, TinyConfig, TinyPolicy, pretrain


@pytest.fixture(scope="module")
def policy() -> TinyPolicy:
    torch.set_num_threads(1)
    return TinyPolicy(TinyConfig(n_layer=2, n_head=2, n_embd=32, block_size=24), seed=0)


def test_tokenizer_round_trip_and_unknowns():
    tok = CharTokenizer()
    text = "12+7= x\nZ!"
    assert tok.decode(tok.encode(text)) == text
    assert tok.decode(tok.encode("é")) == "?"
    assert tok.decode([*tok.encode("ab"), tok.eos_id, *tok.encode("cd")]) == "ab"


def test_protocol_and_generate_shape(policy):
    assert isinstance(policy, Policy)
    out = policy.generate(["1+2=", "10+10="], n=3, max_new_tokens=5, seed=0)
    assert len(out) == 2 and all(len(o) == 3 for o in out)
    assert all(isinstance(t, str) and len(t) <= 5 for o in out for t in o)


def test_sample_masks_and_sampling_logprobs_match_a_full_forward(policy):
    r = policy.sample(["1+2=", "13+9=", "0+0="], n=4, temperature=0.8, top_p=0.9, max_new_tokens=6, seed=3)
    n, t = r.sample_logprobs.shape
    assert n == 12 and r.tokens.completion_mask.shape == (12, t)
    assert r.prompt_index == [0] * 4 + [1] * 4 + [2] * 4
    # mask = tokens up to and including the first EOS; padding after it
    for row in range(n):
        ids = r.tokens.completion_ids[row].tolist()
        m = r.tokens.completion_mask[row].tolist()
        length = int(sum(m))
        assert m == [1.0] * length + [0.0] * (t - length)
        if not r.truncated[row]:
            assert ids[length - 1] == policy.eos_id
    # the KV-cache sampler and a full forward agree on the log-probs (tempered, before top-p)
    lp, ent = policy.logprobs(r.tokens, temperature=0.8, with_entropy=True)
    assert torch.allclose(lp, r.sample_logprobs, atol=1e-5)
    assert (ent >= 0).all() and ent.requires_grad is False


def test_left_padding_does_not_change_results(policy):
    alone = policy.sample(["7+8="], n=2, max_new_tokens=4, seed=5)
    lp_alone, _ = policy.logprobs(alone.tokens)
    # the same sequences scored inside a batch with a much longer prompt (more left padding)
    other = policy.sample(["123456+654321="], n=2, max_new_tokens=4, seed=6)
    both = TokenBatch.cat([alone.tokens, other.tokens], policy.pad_id)
    lp_both, _ = policy.logprobs(both)
    t = lp_alone.shape[1]
    assert torch.allclose(lp_both[:2, :t], lp_alone, atol=1e-5)


def test_seeded_sampling_is_reproducible_and_private(policy):
    torch.manual_seed(0)
    state = torch.get_rng_state()
    a = policy.generate(["3+4="], n=8, max_new_tokens=4, seed=11)
    b = policy.generate(["3+4="], n=8, max_new_tokens=4, seed=11)
    c = policy.generate(["3+4="], n=8, max_new_tokens=4, seed=12)
    assert a == b and a != c
    assert torch.equal(state, torch.get_rng_state())  # the global RNG is untouched


def test_greedy_is_deterministic(policy):
    a = policy.generate(["5+5="], n=3, temperature=0.0, max_new_tokens=4)
    assert len(set(a[0])) == 1


def test_too_long_prompt_is_a_config_error(policy):
    with pytest.raises(ConfigError, match="block_size"):
        policy.sample(["9" * 30], max_new_tokens=4)


def test_pretrain_learns_and_save_load_round_trip(tmp_path):
    torch.set_num_threads(1)
    p = TinyPolicy(TinyConfig(n_layer=1, n_head=2, n_embd=32, block_size=12), seed=0)
    pairs = [(f"{a}+{b}=", str(a + b)) for a in range(4) for b in range(4)]
    losses = pretrain(p, pairs, steps=300, batch_size=16, lr=3e-3)
    assert losses[-1] < losses[0] / 3
    greedy = p.generate([q for q, _ in pairs], temperature=0.0, max_new_tokens=3)
    acc = sum(g[0] == a for g, (_, a) in zip(greedy, pairs)) / len(pairs)
    assert acc >= 0.9
    p.save(tmp_path / "m")
    q = load_policy(tmp_path / "m")
    assert isinstance(q, TinyPolicy)
    assert q.generate(["1+2="], temperature=0.0, max_new_tokens=3) == p.generate(["1+2="], temperature=0.0, max_new_tokens=3)


def test_pretrain_batches_cover_completions_only_at_each_batchs_own_width():
    """The first step's loss is the cross-entropy of the batch built by hand: the drawn pairs, padded
    to the widest of them (not of all pairs), the loss on completion + EOS positions only."""
    import torch.nn.functional as F

    from rlvr.policy.base import make_generator

    torch.set_num_threads(1)
    pairs = [("1+1=", "2"), ("12+30=", "42"), ("7=", "7"), ("99+99=", "198"), ("3+4=", "7")]
    p = TinyPolicy(TinyConfig(n_layer=1, n_head=2, n_embd=16, block_size=12), seed=0)
    ref = TinyPolicy(TinyConfig(n_layer=1, n_head=2, n_embd=16, block_size=12), seed=0)
    (loss,) = pretrain(p, pairs, steps=1, batch_size=3, seed=5)
    tok = ref.tokenizer
    idx = torch.randint(len(pairs), (3,), generator=make_generator(5, "cpu")).tolist()
    rows = [([tok.bos_id, *tok.encode(q)], [*tok.encode(a), tok.eos_id]) for q, a in (pairs[i] for i in idx)]
    width = max(len(q) + len(a) for q, a in rows)
    ids = torch.full((3, width), tok.pad_id)
    mask, target = torch.zeros_like(ids), torch.full_like(ids, -100)
    for r, (q, a) in enumerate(rows):
        ids[r, : len(q) + len(a)] = torch.tensor(q + a)
        mask[r, : len(q) + len(a)] = 1
        target[r, len(q) - 1 : len(q) + len(a) - 1] = torch.tensor(a)
    ref.model.train()
    logits = ref.model(ids, mask)
    expected = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=-100)
    assert loss == float(expected.detach())


def test_load_policy_errors(tmp_path):
    with pytest.raises(ConfigError, match="no such model folder"):
        load_policy(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no config.json"):
        load_policy(tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "rlvr_tiny.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not a valid tiny model"):
        load_policy(bad)
