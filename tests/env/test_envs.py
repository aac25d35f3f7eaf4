"""Honest episodes and failure modes of each built-in environment."""

from __future__ import annotations

import hashlib
import json

from rlvr.env import Budget, CalculatorEnv, PythonEnv, SqlEnv, episode_of, play_script


def call(name, **args):
    return f'<tool_call>{json.dumps({"name": name, "arguments": args})}</tool_call>'


def test_python_session_persists_within_an_episode_not_across(isolation_ok):
    env = PythonEnv()
    ep = play_script(env, {"id": "1", "answer": "385"},
                     [call("run_python", code="s = sum(i*i for i in range(11))"), call("run_python", code="s"),
                      "\\boxed{385}"])
    assert [c.observation for c in ep.calls] == ["(no output)", "385"]
    assert env.get_reward() == 1.0
    env.reset(id="2", answer="1")
    out = env.run_python("s")
    assert "NameError" in out
    assert "385" not in out


def test_python_errors_timeouts_and_exits_are_observations(isolation_ok):
    env = PythonEnv(budget=Budget(tool_timeout_s=1.0, episode_tool_s=10.0))
    env.reset(id="1", answer="secret-answer-9137")
    assert "ZeroDivisionError" in env.run_python("1/0")
    assert env.run_python("x = 5") == "(no output)"
    assert "[stderr]\nwarn" in env.run_python("import sys; print('warn', file=sys.stderr)")
    out = json.loads(env.run_python("while True: pass"))
    assert "1 s limit" in out["error"]
    assert "NameError" in env.run_python("x")  # a new session after the timeout
    assert "exited" in json.loads(env.run_python("import os; os._exit(0)"))["error"]
    assert env.run_python("print(2)") == "2"
    ep = episode_of(env)
    assert ep.n_tool_errors == 2
    assert all("secret-answer-9137" not in c.observation for c in ep.calls)


def test_python_output_is_cut_with_a_marker(isolation_ok):
    env = PythonEnv(budget=Budget(max_observation_chars=500))
    env.reset(answer="1")
    out = env.run_python("print('a' * 100000)")
    assert out.startswith("a" * 100) and "…[truncated " in out and len(out) < 600


def test_sql_episode_and_read_only(shop_db):
    env = SqlEnv()
    before = hashlib.sha256(shop_db.read_bytes()).hexdigest()
    row = {"id": "s", "db": str(shop_db), "answer": "SELECT name FROM items WHERE price > 0.6"}
    schema = env.reset(**row)
    assert "CREATE TABLE items" in schema
    assert env.sql("SELECT name FROM items ORDER BY id") == "name\napple\npear\nmelon\n(3 rows)"
    for bad in ("DELETE FROM items", "DROP TABLE items", "UPDATE items SET qty = 0", "ATTACH 'x.db' AS x",
                "INSERT INTO items VALUES (9,'x',1,1)", "SELECT load_extension('x')"):
        assert "error" in json.loads(env.sql(bad))
    ep = play_script(env, row, [call("sql", query="SELECT * FROM items"), "SELECT name FROM items WHERE price > 0.6"])
    assert ep.ended == "answer" and env.get_reward() == 1.0
    ep = play_script(env, row, ["DELETE FROM items"])  # destructive SQL as the answer
    assert env.get_reward() == 0.0
    assert hashlib.sha256(shop_db.read_bytes()).hexdigest() == before


def test_sql_missing_db_is_an_error_observation(tmp_path):
    env = SqlEnv()
    assert env.reset(id="1", db=str(tmp_path / "nope.db"), answer="SELECT 1") is None
    assert "not found" in json.loads(env.sql("SELECT 1"))["error"]


def test_calculator_episode():
    env = CalculatorEnv()
    ep = play_script(env, {"id": "c", "answer": "12"}, [call("calculate", expression="(3+4)*12/7"), "\\boxed{12}"])
    assert ep.calls[0].observation == "12" and env.get_reward() == 1.0
    ep = play_script(env, {"id": "c", "answer": "12"}, [call("calculate", expression="open('x')"), "\\boxed{13}"])
    assert ep.n_tool_errors == 1 and env.get_reward() == 0.0
