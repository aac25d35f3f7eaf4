"""Transformers policies from a local folder: a tiny random Llama and a locally trained tokenizer."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from rlvr.errors import ConfigError  # noqa: E402
from rlvr.policy import load_policy  # noqa: E402
from rlvr.policy.base import TokenBatch  # noqa: E402
from rlvr.policy.hf import HFPolicy  # noqa: E402

CORPUS = [f"{a}+{b}={a + b}" for a in range(30) for b in range(30)] + ["the answer is", "hello world"]
TEMPLATE = "{% for m in messages %}<user>{{ m['content'] }}</user>{% endfor %}{% if add_generation_prompt %}<bot>{% endif %}"


def build_model(folder: Path, *, chat_template: bool = False) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = __import__("tokenizers").decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<pad>", "<s>", "</s>", "<unk>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(CORPUS, trainer)
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )
    if chat_template:
        fast.chat_template = TEMPLATE
    cfg = transformers.LlamaConfig(
        vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=2, max_position_embeddings=128, bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id, tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(cfg)
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    torch.set_num_threads(1)
    return build_model(tmp_path_factory.mktemp("llama"))


def test_load_and_generate(model_dir):
    policy = load_policy(model_dir)
    assert isinstance(policy, HFPolicy)
    assert policy.chat_template is False  # the tokenizer has no template
    out = policy.generate(["1+2=", "12+13="], n=3, max_new_tokens=6, seed=0)
    assert len(out) == 2 and all(len(o) == 3 and all(isinstance(t, str) for t in o) for o in out)
    assert out == policy.generate(["1+2=", "12+13="], n=3, max_new_tokens=6, seed=0)


def test_sampling_logprobs_match_a_full_forward(model_dir):
    policy = load_policy(model_dir)
    r = policy.sample(["1+2=", "12+13=", "7+7="], n=2, temperature=0.7, top_p=0.95, max_new_tokens=6, seed=1)
    lp, ent = policy.logprobs(r.tokens, temperature=0.7, with_entropy=True)
    assert torch.allclose(lp, r.sample_logprobs, atol=1e-4)
    assert ent.shape == lp.shape and (ent >= 0).all()
    # gradients flow for training
    lp, _ = policy.logprobs(r.tokens)
    lp.sum().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in policy.model.parameters())


def test_left_padding_does_not_change_logprobs(model_dir):
    policy = load_policy(model_dir)
    short = policy.sample(["1+1="], n=2, max_new_tokens=5, seed=2)
    long = policy.sample(["10+11=21 12+13=25 14+15="], n=2, max_new_tokens=5, seed=3)
    both = TokenBatch.cat([short.tokens, long.tokens], policy.pad_id)
    assert both.prompt_len > short.tokens.prompt_len
    t = short.sample_logprobs.shape[1]
    lp_both, _ = policy.logprobs(both)
    lp_alone, _ = policy.logprobs(short.tokens)
    assert torch.allclose(lp_both[:2, :t], lp_alone, atol=1e-4)


def test_chat_template_and_dtype(tmp_path):
    folder = build_model(tmp_path / "chat", chat_template=True)
    policy = load_policy(folder)
    assert policy.chat_template is True
    assert policy.format_prompt("2+2=") == "<user>2+2=</user><bot>"
    plain = load_policy(folder, chat_template=False)
    assert plain.format_prompt("2+2=") == "2+2="
    assert len(policy.encode_prompts(["2+2="])[0]) > len(plain.encode_prompts(["2+2="])[0])
    half = load_policy(folder, dtype="bfloat16")
    assert next(half.model.parameters()).dtype == torch.bfloat16
    assert len(half.generate(["1+1="], n=2, max_new_tokens=3, seed=0)[0]) == 2


def test_bad_options(model_dir):
    with pytest.raises(ConfigError, match="no chat template"):
        load_policy(model_dir, chat_template=True)
    with pytest.raises(ConfigError, match="unknown dtype"):
        load_policy(model_dir, dtype="float8")


def test_trainer_runs_on_a_transformers_model(model_dir, tmp_path):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "grpo"))
    from grpo_helpers import DigitShare

    from rlvr.grpo import Trainer
    from rlvr.grpo.config import config_from_dict

    cfg = config_from_dict(
        {
            "model": {"path": str(model_dir)},
            "data": {"task": "arithmetic", "n_prompts": 8},
            "run": {"steps": 2, "out_dir": None, "progress": False},
            "rollout": {"prompts_per_step": 2, "group_size": 4, "max_new_tokens": 4},
            "loss": {"beta": 0.05},
            "optim": {"learning_rate": 1e-3},
        }
    )
    tr = Trainer(cfg, verifier=DigitShare(), run_dir=None, quiet=True)
    m1 = tr.step()
    assert m1["policy/kl"] == 0.0 and m1["loss/clip_frac"] == 0.0
    assert tr.step()["policy/kl"] >= 0.0
