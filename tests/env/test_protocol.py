"""The protocol (TRL's environment_factory shape), schemas, budgets and the episode record."""

from __future__ import annotations

import functools
import inspect
import json
import time

import pytest

from rlvr.env import Budget, CalculatorEnv, PythonEnv, SqlEnv, ToolEnv, episode_of, play_script, verdict_of
from rlvr.env.calc import CalcError, evaluate, format_number
from rlvr.env.episode import truncate
from rlvr.env.schema import fallback_schema, tool_schema, tools_of
from rlvr.errors import ConfigError


def trl_tools(env):
    """Exactly TRL's discovery rule (grpo_trainer.py): public functions of the class, less reset/get_reward."""
    return sorted(n for n, _ in inspect.getmembers(type(env), predicate=inspect.isfunction)
                  if n not in ("reset", "get_reward") and not n.startswith("_"))


@pytest.mark.parametrize(("cls", "tools"), [(PythonEnv, ["run_python"]), (SqlEnv, ["sql"]), (CalculatorEnv, ["calculate"])])
def test_builtins_expose_exactly_their_tool(cls, tools):
    env = cls()  # constructible with no arguments
    assert trl_tools(env) == tools
    assert sorted(tools_of(env)) == tools
    assert callable(env.reset) and callable(env.get_reward)
    assert not hasattr(env, "close")  # a public close() would be a tool


@pytest.mark.parametrize("cls", [PythonEnv, SqlEnv, CalculatorEnv])
def test_fallback_schema_equals_transformers(cls):
    pytest.importorskip("transformers")
    from transformers.utils import get_json_schema

    for fn in tools_of(cls()).values():
        assert fallback_schema(fn) == get_json_schema(fn) == tool_schema(fn)


def test_fallback_schema_types():
    def f(a: int, b: list[str], c: float = 1.0, d: bool | None = None) -> str:
        """Do f.

        Args:
            a: An int.
            b: Some
                strings.
            c: A float.
            d: Maybe.
        """
        return ""

    s = fallback_schema(f)["function"]
    assert s["description"] == "Do f."
    assert s["parameters"]["required"] == ["a", "b"]
    assert s["parameters"]["properties"]["b"] == {"type": "array", "items": {"type": "string"}, "description": "Some strings."}
    assert s["parameters"]["properties"]["d"] == {"type": "boolean", "nullable": True, "description": "Maybe."}
    assert s["return"] == {"type": "string"}


def test_partial_is_a_factory_and_subclass_tools_are_guarded():
    class Echo(ToolEnv):
        def echo(self, text: str) -> str:
            """Echo.

            Args:
                text: what to echo
            """
            if text == "boom":
                raise RuntimeError("exploded")
            return text * 3

    factory = functools.partial(Echo, budget=Budget(max_observation_chars=64))
    env = factory()
    env.reset(prompt="p", answer="secret")
    assert env.echo("ab") == "ababab"
    assert json.loads(env.echo("boom")) == {"error": "RuntimeError: exploded"}
    assert json.loads(env.echo())["error"].startswith("malformed arguments for echo")
    long = env.echo("x" * 100)
    assert long == "x" * 64 + "…[truncated 236 chars]"
    ep = episode_of(env)
    assert ep.n_tool_calls == 4 and ep.n_tool_errors == 2
    assert tool_schema(Echo.echo)["function"]["parameters"]["properties"]["text"]["type"] == "string"


def test_budgets_end_the_episode_with_a_reason():
    env = CalculatorEnv(budget=Budget(max_tool_calls=2))
    call = '<tool_call>{"name": "calculate", "arguments": {"expression": "1+1"}}</tool_call>'
    ep = play_script(env, {"id": "1", "answer": "2"}, [call, call, call, "\\boxed{2}"])
    assert ep.ended == "budget" and "2 calls" in ep.reason
    assert ep.n_tool_calls == 3 and ep.calls[-1].error
    assert env.get_reward() == 0.0 and verdict_of(env).status == "unparsable"

    env = CalculatorEnv(budget=Budget(max_turns=2))
    ep = play_script(env, {"id": "1", "answer": "2"}, [call, call, "\\boxed{2}"])
    assert ep.ended == "max_turns" and len(ep.steps) == 2

    ep = play_script(env, {"id": "1", "answer": "2"}, [call])
    assert ep.ended == "no_answer"


def test_unknown_reserved_and_private_names_are_refused():
    env = CalculatorEnv()
    turns = ['<tool_call>{"name": "' + n + '", "arguments": {}}</tool_call>'
             for n in ("reset", "get_reward", "_judge", "__init__", "nope")]
    ep = play_script(env, {"id": "1", "answer": "2"}, [*turns, "\\boxed{2}"])
    assert ep.n_tool_calls == 5 and ep.n_tool_errors == 5
    assert all("unknown tool" in c.error for c in ep.calls)
    assert ep.ended == "answer" and env.get_reward() == 1.0


def test_budget_validation():
    with pytest.raises(ConfigError):
        Budget(tool_timeout_s=10, episode_tool_s=5)
    with pytest.raises(ConfigError):
        Budget(max_turns=0)
    assert truncate("abc", 10) == "abc"
    assert truncate("abcdef", 2) == "ab…[truncated 4 chars]"


CALC = [("1/3*3", "1"), ("(3+4)*12/7", "12"), ("2**10", "1024"), ("-2**-1", "-1/2 (≈ -0.5)"), ("7//2", "3"),
        ("7 % 3", "1"), ("0.1+0.2", "3/10 (≈ 0.3)"), ("2^3", "8")]


@pytest.mark.parametrize(("expr", "value"), CALC)
def test_calculator_is_exact(expr, value):
    assert format_number(evaluate(expr)) == value


@pytest.mark.parametrize("expr", ["__import__('os')", "x", "2**100000", "9**9**9", "1/0", "(" * 500 + "1" + ")" * 500,
                                  "[1]*10", "'a'*3", "2**0.5", "10**1999*10**1999"])
def test_calculator_refuses_and_is_fast(expr):
    t0 = time.monotonic()
    with pytest.raises(CalcError):
        evaluate(expr)
    assert time.monotonic() - t0 < 0.5


def test_async_tools_stay_async():
    class Slow(ToolEnv):
        async def fetch(self, key: str) -> str:
            """Fetch.

            Args:
                key: the key
            """
            return key

    assert inspect.iscoroutinefunction(Slow.fetch)
    assert trl_tools(Slow()) == ["fetch"]


@pytest.mark.parametrize("args", [{"self": 1}, {"self": 1, "expression": "1"}, {"": 2}, {"expression": "1", "x": 2},
                                  {"expression": ["1"]}, {"expression": None}])
def test_hostile_arguments_are_observations(args):
    env = CalculatorEnv()
    env.reset(answer="1")
    out = json.loads(env.calculate(**args))
    assert "error" in out
    text = '<tool_call>' + json.dumps({"name": "calculate", "arguments": args}) + '</tool_call>'
    ep = play_script(env, {"id": "1", "answer": "1"}, [text, "\\boxed{1}"])
    assert ep.n_tool_errors == 1 and env.get_reward() == 1.0
