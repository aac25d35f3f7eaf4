"""Tool-call parsing: case tables of realistic assistant messages (rlvr.env.parse)."""

from __future__ import annotations

import pytest

from rlvr.env.parse import MAX_PARSE_CHARS, ParsedCall, parse_tool_calls

CALLS = [
    # Hermes/Qwen JSON, with the newlines Qwen templates put inside the tags
    ('<tool_call>\n{"name": "run_python", "arguments": {"code": "print(1)"}}\n</tool_call>',
     [ParsedCall("run_python", {"code": "print(1)"})], "hermes"),
    # two calls and thinking text around them
    ('Let me check.\n<tool_call>{"name": "calculate", "arguments": {"expression": "2+2"}}</tool_call>\n'
     '<tool_call>{"name": "calculate", "arguments": {"expression": "3*3"}}</tool_call>',
     [ParsedCall("calculate", {"expression": "2+2"}), ParsedCall("calculate", {"expression": "3*3"})], "hermes"),
    # braces and tags inside a JSON string
    ('<tool_call>{"name": "run_python", "arguments": {"code": "d = {\\"a\\": 1}\\nprint(\\"</tool\\")"}}</tool_call>',
     [ParsedCall("run_python", {"code": 'd = {"a": 1}\nprint("</tool")'})], "hermes"),
    # arguments double-encoded as a JSON string (some templates)
    ('<tool_call>{"name": "sql", "arguments": "{\\"query\\": \\"SELECT 1\\"}"}</tool_call>',
     [ParsedCall("sql", {"query": "SELECT 1"})], "hermes"),
    # generation stopped at </tool_call> (stop string): the closing tag is missing but the body parses
    ('<tool_call>{"name": "calculate", "arguments": {"expression": "1+1"}}',
     [ParsedCall("calculate", {"expression": "1+1"})], "hermes"),
    # Qwen3-Coder / Nemotron XML parameters
    ("<tool_call>\n<function=run_python>\n<parameter=code>\nx = 1\nprint(x)\n</parameter>\n</function>\n</tool_call>",
     [ParsedCall("run_python", {"code": "x = 1\nprint(x)"})], "xml"),
    ("<tool_call><function=f><parameter=n>3</parameter><parameter=flag>true</parameter></function></tool_call>",
     [ParsedCall("f", {"n": 3, "flag": True})], "xml"),
    # Llama 3.x: the whole message, or after <|python_tag|>
    ('{"name": "calculate", "parameters": {"expression": "6*7"}}', [ParsedCall("calculate", {"expression": "6*7"})], "llama"),
    ('<|python_tag|>{"name": "sql", "parameters": {"query": "SELECT 2"}}', [ParsedCall("sql", {"query": "SELECT 2"})], "llama"),
]


@pytest.mark.parametrize(("text", "calls", "form"), CALLS)
def test_well_formed_calls(text, calls, form):
    msg = parse_tool_calls(text)
    assert msg.calls == calls
    assert msg.failures == []
    assert msg.form == form


FAILURES = [
    ('<tool_call>{"name": "run_python", "arguments": {"code": "print(1)"}</tool_call>', "not valid JSON"),
    ("<tool_call></tool_call>", "empty"),
    ('<tool_call>{"arguments": {}}</tool_call>', "needs a string 'name'"),
    ('<tool_call>{"name": "f", "arguments": [1, 2]}</tool_call>', "must be an object"),
    ('<tool_call>["f", {}]</tool_call>', "must be a JSON object"),
    ('<tool_call>{"name": "f", "arguments": {"x": 1}', "unclosed"),
    ('<tool_call>{"name": "f", "arguments": "not json"}</tool_call>', "string that is not JSON"),
    ('{"name": "calculate", "parameters": {"expression": "1+"', None),  # not closed: plain text, no call
    ('{"name": "calculate", "parameters": {"expression": }}', "Llama-style"),
]


@pytest.mark.parametrize(("text", "needle"), FAILURES)
def test_malformed_calls_are_failures_never_exceptions(text, needle):
    msg = parse_tool_calls(text)
    assert msg.calls == []
    if needle is None:
        assert not msg.attempted
    else:
        assert len(msg.failures) == 1 and needle in msg.failures[0]
        assert msg.attempted


def test_one_bad_call_does_not_hide_a_good_one():
    text = ('<tool_call>{bad}</tool_call> and <tool_call>{"name": "f", "arguments": {}}</tool_call>')
    msg = parse_tool_calls(text)
    assert msg.calls == [ParsedCall("f", {})]
    assert len(msg.failures) == 1


@pytest.mark.parametrize("text", ["The answer is \\boxed{42}.", "", "x = {1: 2}", "I would call <tool>"])
def test_plain_text_is_an_answer(text):
    msg = parse_tool_calls(text)
    assert not msg.attempted and msg.content == text.strip()


def test_non_text_and_huge_inputs():
    assert parse_tool_calls(None).failures == ["the assistant message is not text (NoneType)"]
    huge = "<tool_call>" + '{"name": "f", "arguments": {"x": "' + "a" * (MAX_PARSE_CHARS * 2) + '"}}</tool_call>'
    msg = parse_tool_calls(huge)
    assert msg.calls == []
    assert any("longer than" in f for f in msg.failures)
    nested = "<tool_call>" + "[" * 100_000 + "</tool_call>"
    assert "nested too deeply" in parse_tool_calls(nested).failures[0]


def test_content_outside_tags_is_kept():
    msg = parse_tool_calls('Thinking. <tool_call>{"name": "f", "arguments": {}}</tool_call> Done.')
    assert msg.content == "Thinking.  Done."


@pytest.mark.parametrize(
    "text, calls, failures",
    [
        ("{calculate:12*34}", [ParsedCall("calculate", {}, ("12*34",))], 0),
        ("  {calculate:(1+2)*3}\n", [ParsedCall("calculate", {}, ("(1+2)*3",))], 0),
        ("{calculate:}", [ParsedCall("calculate", {}, ("",))], 0),
        ("{calculate:12*3", [], 1),  # cut off before the closing brace
    ],
)
def test_compact_form(text, calls, failures):
    msg = parse_tool_calls(text)
    assert msg.calls == calls
    assert len(msg.failures) == failures
    assert msg.form == "compact" and msg.content == ""


def test_compact_form_is_whole_message_only():
    # Text around it, or a JSON object, is not the compact form.
    assert parse_tool_calls("408 {calculate:1}").calls == []
    assert not parse_tool_calls("{1:2}").attempted
    assert parse_tool_calls('{"name": "calculate", "parameters": {"expression": "1"}}').form == "llama"


def test_compact_call_runs_the_tool_positionally():
    from rlvr.env import CalculatorEnv, episode_of, play_turn

    env = CalculatorEnv()
    env.reset(prompt="12*34=", answer="408")
    step = play_turn(env, "{calculate:12*34}")
    assert [c.observation for c in step.tool_calls] == ["408"]
    step = play_turn(env, "{calculate:12*34}", tools={})
    assert "unknown tool" in step.tool_calls[0].observation
    play_turn(env, "408")
    assert env.get_reward() == 1.0 and episode_of(env).n_tool_calls == 2
