"""Mutation-based case generation: each operator on prose, code and SQL; never an identical mutant."""

from __future__ import annotations

import json

import pytest

from rlvr.audit import audit, load_mutants, mutate_output
from rlvr.errors import InputError


def mutants(output, kind=None, answer=None):
    return dict(mutate_output(output, kind, answer))


def test_prose_mutations():
    text = "We expand the square.\nThe answer is $\\boxed{x^2 + 2x + 1}$."
    m = mutants(text, answer="(x+1)^2")
    assert m["final_answer"] == "We expand the square.\nThe answer is $\\boxed{x^2 + 2x + 2}$."
    assert m["flip_operator"] == "We expand the square.\nThe answer is $\\boxed{x^2 - 2x + 1}$."
    assert m["truncate"] == "We expand the square."
    # The answer already appears before the cut: truncating would not make it wrong.
    kept = mutants("17 + 25 = 42.\nThe answer is 42.", answer=42)
    assert "truncate" not in kept and kept["final_answer"] == "17 + 25 = 42.\nThe answer is 43."
    # A leading sign is a value, not an operator; nothing to flip in "-3".
    assert "flip_operator" not in mutants("It falls to $\\boxed{-3}$ degrees.", answer=-3)
    assert mutate_output("no numbers here") == [] and mutate_output("") == [] and mutate_output(None) == []


CODE = '''Here is my solution.
```python
def fib(n):
    # n < 0 is not handled
    if n < 2:
        return n
    else:
        return fib(n - 1) + fib(n - 2)
```'''


def test_code_mutations():
    m = mutants(CODE, "code")
    assert "if n <= 2:" in m["flip_operator"] and "# n < 0 is not handled" in m["flip_operator"]
    assert "else" not in m["drop_branch"] and "fib(n - 1)" not in m["drop_branch"]
    assert m["final_answer"].endswith("fib(n - 1) + fib(n - 3)\n```")
    assert m["truncate"].startswith("Here is my solution.\n```python\ndef fib(n):")
    assert "return fib" not in m["truncate"]
    no_else = "def f(x):\n    if x > 0:\n        x = 0\n    return x\n"
    assert mutants(no_else, "code")["drop_branch"] == "def f(x):\n    return x\n"
    strings_only = 'print("a < b")'
    assert "flip_operator" not in mutants(strings_only, "code")


def test_sql_mutations():
    sql = "SELECT name FROM users WHERE age >= 18 AND country = 'US<>' ORDER BY name LIMIT 10"
    m = mutants(sql, "sql")
    assert m["flip_operator"] == sql.replace("age >= 18", "age > 18")
    assert m["drop_branch"] == "SELECT name FROM users WHERE age >= 18 ORDER BY name LIMIT 10"
    assert m["final_answer"].endswith("LIMIT 11")
    assert m["truncate"] == "SELECT name FROM users WHERE age >= 18"
    single = mutants("SELECT id FROM t WHERE id = 3 ORDER BY id", "sql")
    assert single["drop_branch"] == "SELECT id FROM t ORDER BY id"


@pytest.mark.parametrize(
    ("output", "kind"),
    [("The answer is 7.", None), (CODE, "code"), ("SELECT a FROM t WHERE b < 2", "sql"), ("x", "code")],
)
def test_no_mutant_equals_its_original(output, kind):
    out = mutate_output(output, kind)
    assert all(m != output for _, m in out)
    assert len({m for _, m in out}) == len(out)


def test_load_mutants_and_audit_them(tmp_path):
    path = tmp_path / "correct.jsonl"
    rows = [
        {"output": "Tom has 17 + 25 = 42 apples.\nThe answer is $\\boxed{42}$.", "answer": 42, "test": "apples"},
        {"output": "We expand the square.\nExpanding gives $\\boxed{x^2 + 2x + 1}$.", "answer": "(x+1)^2"},
        {"output": "So the probability is $\\boxed{\\frac{3}{4}}$.", "answer": "0.75"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cases = load_mutants(path, "math")
    assert [c.test for c in cases if c.should_pass] == ["apples (original)", "correct.jsonl:2 (original)", "correct.jsonl:3 (original)"]
    bad = [c for c in cases if not c.should_pass]
    assert {c.mutation for c in bad} == {"final_answer", "flip_operator", "truncate"}
    assert all(c.source.startswith(f"mutant of {path}:") for c in bad)
    report = audit("math", mutate=path, suite=False, workers=0, repeat=1)
    assert report.n_good == 3 and report.n_bad == len(bad)
    assert report.coverage == 1.0 and report.false_negative_rate == 0, [c.to_dict() for c in report.misjudged()]


def test_mutate_file_errors(tmp_path):
    path = tmp_path / "correct.jsonl"
    path.write_text(json.dumps({"output": "The answer is 4.", "answer": 4}) + "\n" + json.dumps({"output": "x", "should_pass": False}) + "\n")
    with pytest.raises(InputError, match=r"correct.jsonl:2: a --mutate file holds correct outputs"):
        load_mutants(path, "math")
    path.write_text(json.dumps({"output": 5}) + "\n")
    with pytest.raises(InputError, match=r":1: output must be a string"):
        load_mutants(path, "math")
