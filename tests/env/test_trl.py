"""TRL adapter: examples/trl_env.py runs 2 GRPO steps with tool calls; pooled instances reset
cleanly; the python tool's sandbox is released when the process exits."""

from __future__ import annotations

import functools
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rlvr.env import Budget, CalculatorEnv, PythonEnv, capture_answers, episode_of

ROOT = Path(__file__).resolve().parents[2]


def test_trl_example_two_steps_with_tool_calls(tmp_path):
    pytest.importorskip("trl")
    pytest.importorskip("datasets")
    import transformers

    if int(transformers.__version__.split(".")[0]) < 5:
        pytest.skip("TRL's environment_factory needs transformers >= 5.2 (the 'env' extra)")
    spec = importlib.util.spec_from_file_location("trl_env_example", ROOT / "examples" / "trl_env.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    summary = module.main(str(tmp_path), steps=2)
    assert summary["steps"] == 2
    assert summary["completions"] >= 8
    assert summary["with_tool_calls"] >= 1
    assert '"name": "calculate"' in summary["example"]


def test_pooled_instance_resets_cleanly_and_capture_answers():
    env = functools.partial(CalculatorEnv, budget=Budget(max_tool_calls=3))()
    env.reset(prompt="p", answer="42")
    env.calculate("6*7")
    capture_answers([[{"role": "assistant", "content": "\\boxed{42}"}]], [env])
    assert env.get_reward() == 1.0
    env.reset(prompt="p", answer="7")
    assert episode_of(env).n_tool_calls == 0 and episode_of(env).final_answer is None
    assert env.get_reward() == 0.0  # no final answer in the new episode
    capture_answers([[{"role": "assistant", "content": '<tool_call>{"name": "calculate", "arguments": {}}</tool_call>'}]], [env])
    assert episode_of(env).final_answer is None  # a completion that ends on a call is no answer


def test_python_env_sandbox_released_at_exit(isolation_ok):
    code = ("import os\nfrom rlvr.env import PythonEnv\ne = PythonEnv()\ne.reset(answer='1')\nprint(e.run_python('1+1'))\n"
            "kids = [p for p in os.listdir('/proc') if p.isdigit() and open(f'/proc/{p}/stat').read().split(')')[1].split()[1] == str(os.getpid())]\n"
            "print(' '.join(kids))\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "2"
    zygotes = [int(p) for p in lines[1].split()]
    assert zygotes
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}") for p in zygotes):
        time.sleep(0.1)
    assert not any(os.path.exists(f"/proc/{p}") for p in zygotes)


def test_python_env_finalizer_closes_the_session(isolation_ok):
    env = PythonEnv()
    env.reset(answer="1")
    assert env.run_python("3") == "3"
    session = env._session_box[0]
    del env
    import gc

    gc.collect()
    assert not session.thread.is_alive() and session.outcome is not None and session.outcome.token_ok
