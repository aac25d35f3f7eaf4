"""Plain-function verifiers in the TRL and verl adapters (neither library needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from rlvr.errors import VerifierContractError
from rlvr.integrations import verl
from rlvr.integrations.trl import reward_function
from rlvr.integrations.verl import compute_score, register_source

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "verifiers"))
from user_functions import write_user_module  # noqa: E402


@pytest.fixture
def mod(tmp_path, monkeypatch):
    monkeypatch.delenv("PYTHONPATH", raising=False)
    name = write_user_module(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


@pytest.fixture
def routes():
    sources, cache = dict(verl.SOURCES), dict(verl._CACHE)
    yield
    verl.SOURCES.clear()
    verl.SOURCES.update(sources)
    verl._CACHE.clear()
    verl._CACHE.update(cache)


def _batch(**extra):
    return dict(
        prompts=["2+2?", "2+2?", "9-2?"],
        completions=["= 4", "= 5", [{"role": "assistant", "content": "#### 7"}]],
        completion_ids=[[1], [2], [3]],
        answer=["4", "4", 7],
        trainer_state=None,
        **extra,
    )


@pytest.mark.parametrize("workers", [0, 2])
def test_trl_reward_from_an_output_ground_truth_function(mod, workers):
    reward = reward_function(f"{mod}:verifier", workers=workers)
    assert reward(**_batch()) == [1.0, 0.0, 1.0]  # the conversational completion's text is verified
    assert [v.reason for v in reward.last_verdicts] == [f"{mod}:verifier returned {x}" for x in ("1.0", "0.0", "1.0")]
    assert reward.__name__ == f"rlvr_{mod}_verifier"


def test_trl_reward_from_a_function_object_is_named_after_it(mod):
    fn = __import__(mod).verifier_bool
    reward = reward_function(fn)
    assert reward.__name__ == "rlvr_verifier_bool"
    assert reward(**_batch()) == [1.0, 0.0, 1.0]


def test_trl_style_function_is_called_once_per_batch_with_what_trl_passed(mod):
    seen = []
    logged = {}

    def trl_fn(completions, answer, task, trainer_state, log_metric, **kwargs):
        seen.append((list(completions), list(task), trainer_state, kwargs.get("completion_ids")))
        return [None if t == "other" else float(c == f"= {a}") for c, a, t in zip(completions, answer, task)]

    reward = reward_function(trl_fn)
    out = reward(**_batch(task=["mine", "mine", "other"], log_metric=lambda k, v: logged.__setitem__(k, v)))
    assert out == [1.0, 0.0, None]
    assert len(seen) == 1 and seen[0][1] == ["mine", "mine", "other"] and seen[0][3] == [[1], [2], [3]]
    assert seen[0][0][2] == [{"role": "assistant", "content": "#### 7"}]  # raw, as TRL gives it
    assert reward.last_counts == {"correct": 1, "incorrect": 1, "skipped": 1}
    assert logged["rewards/rlvr_trl_fn/frac_skipped"] == pytest.approx(1 / 3)


def test_trl_style_function_with_a_wrong_length_is_a_setup_error(mod):
    reward = reward_function(f"{mod}:trl_wrong_length")
    with pytest.raises(VerifierContractError, match="returned 3 rewards for 2 completion"):
        reward(completions=["a", "b"], answer=["1", "2"])


def test_verl_routes_a_source_to_a_plain_function(mod, routes):
    register_source("my_numbers", f"{mod}:verifier")
    out = compute_score("my_numbers", "so it is 12", "12", {"split": "train"})
    assert out == {"score": 1.0, "acc": 1.0, "status": "correct", "reason": f"{mod}:verifier returned 1.0"}
    assert compute_score("my_numbers", "so it is 13", "12")["acc"] == 0.0
    register_source("my_samples", __import__(mod).by_sample)
    assert compute_score("my_samples", "about 9.5", 10, {"tol": 1})["status"] == "correct"  # extra_info -> metadata
    register_source("my_crash", f"{mod}:raises")
    crashed = compute_score("my_crash", "crash", 1)
    assert crashed["status"] == "error" and crashed["reason"] == f"{mod}:raises raised KeyError: 'b'"


def test_verl_wrong_return_type_raises(mod, routes):
    register_source("bad", f"{mod}:returns_nan")
    with pytest.raises(VerifierContractError, match="returned nan"):
        compute_score("bad", "x", 1)


@pytest.mark.slow
def test_a_real_grpo_trainer_with_plain_function_rewards(mod, tmp_path):
    """Both shapes inside TRL's GRPOTrainer: an (output, ground_truth) function by name and a
    TRL-style function object, each called the way rlvr promises."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    trl = pytest.importorskip("trl")
    datasets = pytest.importorskip("datasets")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_trl_grpo import build_model

    torch.set_num_threads(1)
    model_dir = build_model(tmp_path / "model")
    rows = [{"prompt": f"{a}+{a}=", "answer": str(2 * a), "task": "mine" if a % 2 else "other"} for a in range(4)]
    calls = []

    def digits_or_skip(completions, task, **kwargs):
        calls.append(list(task))
        return [None if t == "other" else float(any(ch.isdigit() for ch in c)) for c, t in zip(completions, task)]

    by_name = reward_function(f"{mod}:verifier", workers=2)
    batched = reward_function(digits_or_skip)
    args = trl.GRPOConfig(
        output_dir=str(tmp_path / "out"), per_device_train_batch_size=4, num_generations=2, max_completion_length=6,
        max_steps=1, logging_steps=1, learning_rate=1e-4, save_strategy="no", report_to="none", use_cpu=True,
        bf16=False, seed=0, disable_tqdm=True, log_completions=False, dataloader_num_workers=0,
    )
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True, dtype=torch.float32)
    trainer = trl.GRPOTrainer(
        model=model, reward_funcs=[by_name, batched], args=args, train_dataset=datasets.Dataset.from_list(rows),
        processing_class=tokenizer,
    )
    trainer.train()
    assert sum(by_name.counts.values()) == 4 and set(by_name.counts) <= {"correct", "incorrect"}
    assert all(v.reason.startswith(f"{mod}:verifier returned ") for v in by_name.last_verdicts)
    assert len(calls) == 1 and len(calls[0]) == 4  # one call for the whole batch, as TRL would make it
    assert batched.counts["skipped"] == calls[0].count("other")
    assert [v.status == "skipped" for v in batched.last_verdicts] == [t == "other" for t in calls[0]]
    logged = [e for e in trainer.state.log_history if "rewards/rlvr_digits_or_skip/mean" in e]
    assert len(logged) == 1 and f"rewards/rlvr_{mod}_verifier/mean" in logged[0]
