"""Task generation, prompt files and the prompt schedule (data order, curricula, resume)."""

from __future__ import annotations

import json

import pytest

from rlvr.data.prompts import load_prompts, write_records
from rlvr.data.schedule import PromptSampler
from rlvr.data.tasks import arithmetic, make_task, worked_examples
from rlvr.errors import ConfigError, InputError


def test_arithmetic_answers_are_right_and_distinct():
    recs = arithmetic(60, seed=1, max_operand=9, ops="+-*")
    assert len({r["prompt"] for r in recs}) == 60
    for r in recs:
        a, op, b = r["prompt"][:-1].partition("+") if "+" in r["prompt"] else (
            r["prompt"][:-1].partition("-") if "-" in r["prompt"] else r["prompt"][:-1].partition("*")
        )
        assert r["answer"] == str(eval(f"{int(a)}{op}{int(b)}"))  # noqa: S307 - digits and one operator
        assert int(r["answer"]) >= 0 and 0.0 <= r["difficulty"] <= 1.0
    assert arithmetic(10, seed=1) == arithmetic(10, seed=1) != arithmetic(10, seed=2)
    easy = {r["prompt"]: r["difficulty"] for r in arithmetic(100, seed=0, max_operand=9)}
    assert easy["1+1="] < easy["9+9="]


def test_task_errors():
    with pytest.raises(ConfigError, match="unknown task"):
        make_task("chess", 3)
    with pytest.raises(ConfigError, match="ops"):
        arithmetic(3, ops="/")


def test_worked_examples_draws_carry_drops_then_slips_in_record_order():
    recs = [
        {"prompt": "17+25=", "solution": "42", "carry_dropped": "32"},
        {"prompt": "3*4=", "answer": "12"},  # no solution: the answer is shown
        {"prompt": "x"},  # nothing to show: skipped, no draw
        {"prompt": "8+1=", "solution": "9"},
    ]
    assert worked_examples(recs) == [("17+25=", "42"), ("3*4=", "12"), ("8+1=", "9")]
    # random.Random(3) draws 0.238, 0.544, 0.370, then choice((-1, 1)) = +1: record 1's carry-drop draw
    # 0.238 < 0.5 shows "32"; record 2's slip draw 0.544 >= 0.5 keeps "12"; record 4's slip draw
    # 0.370 < 0.5 slips its last digit 9 by +1 to 0.
    assert worked_examples(recs, noise=0.5, carry_drop=0.5, seed=3) == [("17+25=", "32"), ("3*4=", "12"), ("8+1=", "0")]


def test_worked_examples_noise_gives_slips_and_copies():
    recs = arithmetic(50, seed=0, max_operand=9)
    noisy = worked_examples(recs, noise=0.5, copies=4, seed=0)
    assert len(noisy) == 200
    assert [p for p, _ in noisy[:4]] == [recs[0]["prompt"]] * 4
    answers = {r["prompt"]: r["answer"] for r in recs}
    wrong = [(p, a) for p, a in noisy if a != answers[p]]
    assert 0.35 < len(wrong) / len(noisy) < 0.65
    # A slip moves the last digit by one (mod 10) and keeps the rest.
    assert all(a[:-1] == answers[p][:-1] and (int(a[-1]) - int(answers[p][-1])) % 10 in (1, 9) for p, a in wrong)
    malformed = worked_examples(recs, malformed=0.5, seed=0)
    share = sum(a.startswith("a") for _, a in malformed) / len(malformed)
    assert 0.3 < share < 0.7
    with pytest.raises(ConfigError, match="copies"):
        worked_examples(recs, copies=0)


def test_load_prompts_and_errors(tmp_path):
    f = tmp_path / "p.jsonl"
    f.write_text('{"prompt": "a", "answer": 1}\n\n{"id": "x", "prompt": "b", "answer": 2, "tests": []}\n')
    recs = load_prompts(f)
    assert [r["id"] for r in recs] == ["line1", "x"] and recs[1]["tests"] == []
    assert recs[0]["_source_dir"] == str(tmp_path)
    f.write_text('{"prompt": "a"}\n{"answer": 2}\n')
    with pytest.raises(InputError, match=r"p.jsonl:2: .*prompt"):
        load_prompts(f)
    f.write_text('{"prompt": ""}\n')
    with pytest.raises(InputError, match="non-empty string"):
        load_prompts(f)
    f.write_text('{"id": 1, "prompt": "a"}\n{"id": 1, "prompt": "b"}\n')
    with pytest.raises(InputError, match="duplicate id"):
        load_prompts(f)
    f.write_text("")
    with pytest.raises(InputError, match="no prompts"):
        load_prompts(f)


def test_write_records_is_atomic_and_drops_private_keys(tmp_path):
    out = tmp_path / "sub" / "o.jsonl"
    write_records(out, [{"id": "a", "_source_dir": "/x", "pass_rate": 0.5}])
    assert json.loads(out.read_text()) == {"id": "a", "pass_rate": 0.5}
    assert not list(out.parent.glob("*.tmp"))


def _records(n, with_difficulty=True):
    return [{"id": str(i), "prompt": str(i), **({"difficulty": float(i)} if with_difficulty else {})} for i in range(n)]


def test_shuffled_epochs_cover_every_prompt_and_resume_exactly():
    s = PromptSampler(_records(10), seed=3)
    first = s.next_batch(4, 1) + s.next_batch(4, 2) + s.next_batch(4, 3)
    assert sorted(first[:10]) == list(range(10))  # one full epoch before any repeat
    state = json.loads(json.dumps(s.state_dict()))  # survives JSON/pickle
    ahead = [s.next_batch(4, k) for k in range(4, 8)]
    t = PromptSampler(_records(10), seed=3)
    t.load_state_dict(state)
    assert [t.next_batch(4, k) for k in range(4, 8)] == ahead
    assert PromptSampler(_records(10), seed=4).next_batch(10, 1) != PromptSampler(_records(10), seed=3).next_batch(10, 1)


def test_difficulty_curriculum_goes_easy_to_hard():
    s = PromptSampler(_records(100), seed=0, schedule="difficulty", start=0.2, ramp_steps=10)
    early = s.next_batch(10, 1)
    assert max(early) < 20  # only the easiest 20% at step 1
    assert s.available_fraction(6) == pytest.approx(0.2 + 0.8 * 0.5)
    late = [i for k in range(11, 21) for i in s.next_batch(10, k)]
    assert max(late) >= 90  # the hardest are available once the ramp is over
    # least recently drawn first: no repeats while unseen prompts remain in the pool
    s2 = PromptSampler(_records(100), seed=0, schedule="difficulty", start=0.2, ramp_steps=1000)
    assert sorted(s2.next_batch(10, 1) + s2.next_batch(10, 1)) == list(range(20))


def test_difficulty_schedule_needs_the_field():
    with pytest.raises(InputError, match="difficulty"):
        PromptSampler(_records(3, with_difficulty=False), schedule="difficulty")


def test_pass_rate_curriculum_prefers_measured_easy_prompts():
    s = PromptSampler(_records(10, with_difficulty=False), seed=0, schedule="pass_rate", start=0.3, ramp_steps=100)
    for i in range(10):
        s.observe(i, [1.0] * 4 if i in (7, 8, 9) else [0.0] * 4)
    assert sorted(s.next_batch(3, 1)) == [7, 8, 9]
    assert s.pass_rate(7) == 1.0 and s.pass_rate(0) == 0.0
    fresh = PromptSampler(_records(4, with_difficulty=False), schedule="pass_rate")
    assert fresh.pass_rate(0) == 0.5  # the prior before any sample


def test_products_draw_the_leading_digit_from_lead_and_carry_the_tool_call():
    from rlvr.data.tasks import products

    recs = products(200, seed=1, lead="9")
    assert all(r["prompt"].startswith("9") and len(r["prompt"]) == len("123*45=") for r in recs)
    a, b = recs[0]["tool_input"].split("*")
    assert recs[0]["answer"] == str(int(a) * int(b)) and recs[0]["prompt"] == f"{a}*{b}="
    assert {r["prompt"][0] for r in products(300, seed=2, lead="12345678")} == set("12345678")
    with pytest.raises(ConfigError, match="lead"):
        products(3, lead="0")
