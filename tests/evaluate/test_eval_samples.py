"""Loading sample files: statuses, reward-only lines, exclusions, verification, one-line errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from rlvr.errors import InputError
from rlvr.evaluate import load_samples, samples_from_records, summarize

TESTS_DIR = str(Path(__file__).resolve().parent.parent)
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)


def write(path: Path, records: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")
    return path


def test_statuses_rewards_and_exclusions(tmp_path):
    f = write(
        tmp_path / "s.jsonl",
        [
            {"problem_id": "a", "status": "correct", "reward": 1.0},
            {"problem_id": "a", "status": "incorrect", "reward": 0.0},
            {"problem_id": "a", "status": "error", "reward": 0.0},  # the verifier's fault: excluded
            {"problem_id": "a", "status": "unparsable", "reward": 0.0},  # the model's fault: wrong
            {"problem_id": 7, "reward": 1.0},  # no status: reward >= threshold
            {"problem_id": 7, "reward": 0.6},
            {"problem_id": 7, "status": "skipped", "reward": 0.0},
        ],
    )
    s = load_samples(f)
    a, b = s.problems["a"], s.problems["7"]
    assert (a.n, a.c, a.excluded, a.unparsable) == (3, 1, 1, 1)
    assert (b.n, b.c, b.excluded) == (2, 1, 1)
    assert s.statuses == {"correct": 1, "incorrect": 1, "error": 1, "unparsable": 1, "reward_only": 2, "skipped": 1}
    assert load_samples(f, threshold=0.5).problems["7"].c == 2
    assert s.name == "s" and s.excluded == 2


def test_unverified_line_without_verifier_names_file_and_line(tmp_path):
    f = write(tmp_path / "s.jsonl", [{"problem_id": "a", "reward": 1}, {"problem_id": "a", "output": "4"}])
    with pytest.raises(InputError, match=r"s\.jsonl:2: no reward or status.*--verifier"):
        load_samples(f)


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ('{"problem_id": "a", "status": "great"}', "status 'great' is not one of"),
        ('{"problem_id": "a", "reward": 2}', "reward must be a number in [0, 1]"),
        ('{"problem_id": "a", "reward": "1"}', "reward must be a number"),
        ('{"problem_id": ["a"], "reward": 1}', "problem_id must be a string or integer"),
        ('{"reward": 1}', "missing required field(s): problem_id"),
        ('{"problem_id": "a", "reward": 1, "reasoning_correct": "yes"}', "reasoning_correct must be"),
        ("{not json", "invalid JSON"),
    ],
)
def test_bad_lines_are_one_line_errors_with_location(tmp_path, line, needle):
    f = write(tmp_path / "s.jsonl", ['{"problem_id": "ok", "reward": 1}', line])
    with pytest.raises(InputError) as info:
        load_samples(f)
    msg = str(info.value)
    assert msg.startswith(f"{f}:2: ") and needle in msg and "\n" not in msg


def test_duplicate_sample_index_is_caught(tmp_path):
    rec = {"problem_id": "a", "sample_index": 0, "reward": 1}
    f = write(tmp_path / "s.jsonl", [rec, {**rec, "sample_index": 1}, rec])
    with pytest.raises(InputError, match=r":3: duplicate sample_index 0 for problem_id 'a' \(first at line 1\)"):
        load_samples(f)


def test_empty_file_is_an_error(tmp_path):
    with pytest.raises(InputError, match="no samples"):
        load_samples(write(tmp_path / "e.jsonl", []))
    with pytest.raises(InputError, match="no such file"):
        load_samples(tmp_path / "missing.jsonl")


def test_verifies_lines_without_reward(tmp_path):
    from engine_helpers import ExactMatch

    f = write(
        tmp_path / "s.jsonl",
        [
            {"problem_id": "a", "output": "4", "answer": "4"},
            {"problem_id": "a", "output": "5", "answer": "4"},
            {"problem_id": "a", "reward": 1.0, "status": "correct"},  # already verified: used as is
            {"problem_id": "b", "output": "x", "answer": "y"},
        ],
    )
    s = load_samples(f, verifier=ExactMatch(), answers=True)
    assert (s.problems["a"].n, s.problems["a"].c) == (3, 2)
    assert (s.problems["b"].n, s.problems["b"].c) == (1, 0)
    # Extracted answers come from the verdict's details.
    assert s.problems["a"].answers[:2] == ("4", "5")


def test_verification_needs_the_verifiers_fields(tmp_path):
    from engine_helpers import ExactMatch

    f = write(tmp_path / "s.jsonl", [{"problem_id": "a", "output": "4"}])
    with pytest.raises(InputError, match=r":1: missing required field\(s\): answer"):
        load_samples(f, verifier=ExactMatch())


def test_answers_for_majority_vote(tmp_path):
    f = write(
        tmp_path / "s.jsonl",
        [
            {"problem_id": "a", "status": "correct", "details": {"extracted": "12"}},
            {"problem_id": "a", "status": "correct", "answer_extracted": " 12 "},
            {"problem_id": "a", "status": "incorrect", "output": "so the answer is \\boxed{13}"},
            {"problem_id": "a", "status": "unparsable", "output": ""},
        ],
    )
    s = load_samples(f, answers=True)
    assert s.problems["a"].answers == ("12", "12", "13", None)
    summary = summarize(s, [1, 2, 4], cons=True, n_boot=50)
    assert summary.cons_at_k[4] == 1.0  # "12" wins 2:1 with everything drawn
    assert summary.cons_at_k[1] == pytest.approx(0.5)  # one draw: "12" half the time


def test_cot_verdicts(tmp_path):
    f = write(
        tmp_path / "s.jsonl",
        [
            {"problem_id": "a", "status": "correct", "reasoning_correct": True},
            {"problem_id": "a", "status": "correct", "reasoning_correct": False},
            {"problem_id": "a", "status": "incorrect", "reasoning_correct": True},
            {"problem_id": "a", "status": "correct"},
        ],
    )
    s = load_samples(f)
    assert s.problems["a"].d == 1
    summary = summarize(s, [1, 2], n_boot=50)
    assert summary.cot_pass_at_k[1] == pytest.approx(0.25)
    assert summary.pass_at_k[1] == pytest.approx(0.75)
    assert summary.cot_coverage == pytest.approx(0.75)


def test_summarize_default_ks_and_unusable_problem(tmp_path):
    recs = [{"problem_id": "a", "reward": 1.0}] * 5 + [{"problem_id": "b", "reward": 0.0}] * 5
    s = load_samples(write(tmp_path / "s.jsonl", recs))
    assert summarize(s, n_boot=20).ks == (1, 2, 4, 5)
    recs.append({"problem_id": "c", "status": "error"})
    s = load_samples(write(tmp_path / "s.jsonl", recs))
    with pytest.raises(Exception, match=r"problem 'c' has 0 usable sample\(s\) \(1 excluded"):
        summarize(s, [1])


def test_in_memory_records_for_library_callers():
    from engine_helpers import ExactMatch

    recs = [
        {"problem_id": "a", "status": "correct"},
        {"problem_id": "a", "output": "1", "answer": "2"},
        {"problem_id": "b", "reward": 1.0, "model": "m"},
    ]
    s = samples_from_records(recs, name="run", verifier=ExactMatch())
    assert (s.problems["a"].n, s.problems["a"].c, s.problems["b"].c) == (2, 1, 1)
    assert s.model == "m" and s.name == "run"
    with pytest.raises(InputError, match=r"^run:2: missing required field\(s\): problem_id"):
        samples_from_records([{"problem_id": "a", "reward": 1}, {"reward": 0}], name="run")
