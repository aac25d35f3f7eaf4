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
