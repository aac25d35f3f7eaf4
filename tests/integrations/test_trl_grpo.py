"""A real TRL GRPOTrainer run (2 steps, CPU, tiny random Llama built offline) scored by rlvr."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("tokenizers")
trl = pytest.importorskip("trl")
datasets = pytest.importorskip("datasets")

from rlvr.diagnostics import HealthConfig  # noqa: E402
from rlvr.integrations.trl import HealthCallback, reward_function  # noqa: E402

CORPUS = [f"{a}+{b}={a + b}" for a in range(20) for b in range(20)] + ["the answer is", "boxed"]


def build_model(folder: Path) -> Path:
    """A byte-level BPE tokenizer trained on arithmetic text and a random 2-layer Llama, saved."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(
        CORPUS,
        trainers.BpeTrainer(
            vocab_size=300,
            special_tokens=["<pad>", "<s>", "</s>", "<unk>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )
    cfg = transformers.LlamaConfig(
        vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=2, max_position_embeddings=128, bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id, tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    transformers.LlamaForCausalLM(cfg).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_grpo_trainer_with_an_rlvr_reward_and_health_callback(tmp_path):
    torch.set_num_threads(1)
    model_dir = build_model(tmp_path / "model")
    # An answer a random model will not produce: every reward is 0, so the groups have no variance.
    rows = [{"prompt": f"{a}+{a}=", "answer": "987654321", "topic": f"t{a}"} for a in range(4)]
    dataset = datasets.Dataset.from_list(rows)
    reward = reward_function("math")
    stream = io.StringIO()
    callback = HealthCallback(HealthConfig(patience=1), stream=stream)
    args = trl.GRPOConfig(
        output_dir=str(tmp_path / "out"),
        per_device_train_batch_size=4,
        num_generations=2,
        max_completion_length=8,
        max_steps=2,
        logging_steps=1,
        learning_rate=1e-4,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        bf16=False,
        seed=0,
        disable_tqdm=True,
        log_completions=False,
        dataloader_num_workers=0,
    )
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True, dtype=torch.float32)
    trainer = trl.GRPOTrainer(
        model=model,
        reward_funcs=reward,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=[callback],
    )
    trainer.train()

    # The reward saw TRL's decoded completions (strings), the answer column and the other columns.
    assert sum(reward.counts.values()) == 2 * 4  # 2 steps x 4 completions
    assert len(reward.last_samples) == 4
    assert all(isinstance(s.output, str) for s in reward.last_samples)
    assert all(s.answer == "987654321" for s in reward.last_samples)
    assert {s.metadata["topic"] for s in reward.last_samples} <= {f"t{a}" for a in range(4)}
    assert all(s.metadata["prompt"].endswith("=") for s in reward.last_samples)
    assert set(reward.counts) <= {"incorrect", "unparsable"}

    # TRL named the metrics after the reward and logged the status fractions.
    steps = [e for e in trainer.state.log_history if "reward" in e]
    assert len(steps) == 2
    for entry in steps:
        assert entry["rewards/rlvr_math/mean"] == 0.0
        fracs = entry["rewards/rlvr_math/frac_incorrect"] + entry["rewards/rlvr_math/frac_unparsable"]
        assert fracs == pytest.approx(1.0)
        assert entry["verify/error_rate"] == 0.0

    # The callback read both training logs and warned the way rlvr's own trainer would.
    assert callback.logs_seen == 2
    codes = [w.code for w in callback.warnings]
    assert "reward_variance_collapse" in codes and "zero_variance_groups" in codes
    assert callback.warnings[0].step == 1
    assert "[health] step 1: reward_variance_collapse" in stream.getvalue()
