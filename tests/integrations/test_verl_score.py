"""rlvr.integrations.verl against verl's documented custom-reward contract (verl not installed).

verl's reward managers call ``compute_score(data_source, solution_str, ground_truth, extra_info)``
per response and accept a float or a dict with ``score``; every other key is appended to
``reward_extra_info[key]`` per response, so every call must return the same keys.
"""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from rlvr.errors import ConfigError, VerifierNotFoundError
from rlvr.integrations import verl
from rlvr.integrations.verl import compute_score, register_source, resolve_source, verl_tests
from rlvr.types import Sample, Verdict
from rlvr.verifiers.base import BaseVerifier
from rlvr.verifiers.registry import REGISTRY, register

KEYS = {"score", "acc", "status", "reason"}


@pytest.fixture(autouse=True)
def _restore_routes():
    sources, cache = dict(verl.SOURCES), dict(verl._CACHE)
    yield
    verl.SOURCES.clear()
    verl.SOURCES.update(sources)
    verl._CACHE.clear()
    verl._CACHE.update(cache)


class LengthIs(BaseVerifier):
    """Correct when the output has ``extra_info["length"]`` characters; skips without it."""

    built = 0

    def __init__(self, bonus: float = 1.0) -> None:
        type(self).built += 1
        self.bonus = bonus

    def check(self, sample: Sample) -> Verdict:
        if "length" not in sample.metadata:
            return Verdict.skipped("no length given")
        if len(sample.output) == sample.metadata["length"]:
            return Verdict.correct(score=self.bonus)
        return Verdict.incorrect(f"length {len(sample.output)}, expected {sample.metadata['length']}")


@pytest.fixture
def length_is():
    LengthIs.built = 0
    register("test_length_is", LengthIs, replace=True)
    yield "test_length_is"
    REGISTRY.pop("test_length_is", None)


def test_gsm8k_and_math_sources_use_the_math_verifier():
    ok = compute_score("openai/gsm8k", "She pays 3 * 24 = 72.\n#### 72", "72")
    assert ok == {"score": 1.0, "acc": 1.0, "status": "correct", "reason": ok["reason"]}
    assert isinstance(ok["reason"], str) and ok["reason"]
    wrong = compute_score("lighteval/MATH", "so the answer is \\boxed{\\frac{1}{3}}", "\\frac{1}{2}")
    assert (wrong["score"], wrong["acc"], wrong["status"]) == (0.0, 0.0, "incorrect")
    assert compute_score("HuggingFaceH4/MATH-500", "\\boxed{\\frac{2}{4}}", "\\frac{1}{2}")["score"] == 1.0
    none = compute_score("math_dapo", "I don't know.", "5")
    assert (none["score"], none["status"]) == (0.0, "unparsable")
    assert set(ok) == set(wrong) == set(none) == KEYS


def test_prefix_routes_and_numpy_ground_truth():
    np = pytest.importorskip("numpy")
    assert resolve_source("aime2024")[:2] == ("aime*", "math")
    assert resolve_source("numina_olympiads")[:2] == ("numina_*", "math")
    assert resolve_source("apps")[:2] == ("apps", "code")
    # verl reads parquet rows into numpy values.
    assert compute_score("aime2025", "\\boxed{7}", np.int64(7))["status"] == "correct"
    assert compute_score("gsm8k", "#### 7", np.str_("7"), extra_info={"index": np.int64(3)})["score"] == 1.0


def test_unknown_source_is_a_loud_setup_error():
    with pytest.raises(ConfigError, match=r"no rlvr verifier for verl data_source 'my/dataset'.*register_source"):
        compute_score("my/dataset", "#### 1", "1")


def test_register_source_exact_prefix_longest_prefix_and_catch_all(length_is):
    register_source("lens/*", length_is)
    register_source("lens/long/*", length_is, bonus=0.5)
    register_source("lens/exact", "math")
    assert resolve_source("lens/a")[0] == "lens/*"
    assert resolve_source("lens/long/b")[0] == "lens/long/*"
    assert resolve_source("lens/exact")[0] == "lens/exact"
    assert compute_score("lens/a", "abc", None, extra_info={"length": 3})["score"] == 1.0
    assert compute_score("lens/long/b", "abc", None, extra_info={"length": 3})["score"] == 0.5
    assert compute_score("lens/exact", "\\boxed{2}", "2")["status"] == "correct"
    with pytest.raises(ConfigError):
        resolve_source("elsewhere")
    register_source("*", length_is)
    assert resolve_source("elsewhere")[0] == "*"
    assert resolve_source("openai/gsm8k")[1] == "math"  # named routes still win over the catch-all


def test_extra_info_becomes_metadata_and_verifiers_are_cached(length_is):
    register_source("lens", length_is)
    built_at_registration = LengthIs.built
    assert built_at_registration == 1  # built once to fail early on a bad name or option
    results = [compute_score("lens", "x" * n, None, extra_info={"length": 2}) for n in (1, 2, 3)]
    assert [r["status"] for r in results] == ["incorrect", "correct", "incorrect"]
    assert results[0]["reason"] == "length 1, expected 2"
    assert LengthIs.built == built_at_registration  # reused, not rebuilt per call
    compute_score("lens", "xx", None, extra_info={"length": 2}, bonus=0.25)  # reward_kwargs: a new instance
    assert LengthIs.built == built_at_registration + 1
    compute_score("lens", "xx", None, bonus=0.25)
    assert LengthIs.built == built_at_registration + 1


def test_skipped_and_bad_outputs_score_zero_with_the_same_keys(length_is):
    register_source("lens", length_is)
    skipped = compute_score("lens", "abc", None)  # verl has no "skip": 0.0, status says why
    assert skipped == {"score": 0.0, "acc": 0.0, "status": "skipped", "reason": "no length given"}
    bad = compute_score("openai/gsm8k", None, "1")
    assert (bad["score"], bad["status"]) == (0.0, "unparsable")


def test_results_stack_like_verls_naive_reward_manager():
    # What verl's NaiveRewardManager does with dict results: score -> reward, rest -> extra info.
    rewards, extra = [], defaultdict(list)
    for solution, gt in [("#### 1", "1"), ("#### 2", "1"), ("nothing", "1")]:
        result = compute_score("openai/gsm8k", solution, gt, extra_info={"split": "train", "index": 0})
        rewards.append(result["score"])
        for key, value in result.items():
            extra[key].append(value)
    assert rewards == [1.0, 0.0, 0.0]
    assert extra["acc"] == [1.0, 0.0, 0.0]
    assert extra["status"] == ["correct", "incorrect", "unparsable"]
    assert all(len(v) == 3 for v in extra.values())


def test_register_source_validates_at_setup():
    with pytest.raises(VerifierNotFoundError):
        register_source("x", "no_such_verifier")
    with pytest.raises(ConfigError, match="prefix"):
        register_source("a*b", "math")
    with pytest.raises(ConfigError, match="already routed"):
        register_source("openai/gsm8k", "math", replace=False)
    with pytest.raises(ConfigError, match="bad options"):
        register_source("x", "math", no_such_option=1)


def test_verl_code_ground_truth_becomes_stdin_tests():
    gt = {"inputs": ["3\n", "5\n"], "outputs": ["6\n", "10\n"]}
    assert verl_tests(gt) == [{"input": "3\n", "output": "6\n"}, {"input": "5\n", "output": "10\n"}]
    assert verl_tests(json.dumps(gt)) == verl_tests(gt)
    assert verl_tests("not json") is None
    assert verl_tests({"inputs": ["1"], "outputs": []}) is None


def test_code_source_runs_the_sandboxed_code_verifier():
    gt = json.dumps({"inputs": ["3\n", "5\n"], "outputs": ["6\n", "10\n"]})
    good = compute_score("codeforces", "```python\nprint(int(input()) * 2)\n```", gt)
    assert (good["score"], good["status"]) == (1.0, "correct")
    bad = compute_score("codeforces", "```python\nprint(int(input()) * 3)\n```", gt)
    assert (bad["score"], bad["status"]) == (0.0, "incorrect")
    assert "expected '6'" in bad["reason"]
