"""The batch engine on Ray: parity and order with the local pool, per-sample timeouts and crashes,
sandboxed code inside Ray workers, bounded streaming, the CLI, and a Ray instance the engine owns.

One local Ray instance (``ray.init(num_cpus=2)``) serves the module; the last test stops it and
lets the engine start and stop its own.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")  # the ray extra; CI installs it with the test extra

TESTS_DIR = str(Path(__file__).resolve().parent.parent)
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)

import engine_helpers as h  # noqa: E402
import ray_helpers  # noqa: E402
from rlvr.engine import EngineConfig, verify_iter  # noqa: E402
from rlvr.errors import ConfigError, MissingExtraError  # noqa: E402
from rlvr.types import Sample  # noqa: E402

pytestmark = pytest.mark.slow  # two Ray start-ups and a sandbox: ~30-40 s on 2 cores

RAY = dict(executor="ray", workers=2)


@pytest.fixture(scope="module", autouse=True)
def ray_cluster():
    """A local 2-CPU Ray whose workers can import the test helpers (env set before start-up)."""
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = TESTS_DIR + (os.pathsep + old if old else "")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    try:
        yield
    finally:
        if ray.is_initialized():
            ray.shutdown()
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


def samples(n: int, trigger_at: tuple[int, ...] = ()) -> list[Sample]:
    """Even indices correct, odd ones wrong; indices in ``trigger_at`` are the trigger."""
    return [
        Sample(h.TRIGGER if i in trigger_at else (str(i) if i % 2 == 0 else f"{i}x"), answer=str(i), id=str(i))
        for i in range(n)
    ]


def expected_status(i: int) -> str:
    return "correct" if i % 2 == 0 else "incorrect"


MATH = [
    ("so the answer is \\boxed{4}", "4", "correct"),
    ("\\boxed{\\frac{1}{2}}", "0.5", "correct"),
    ("The answer is \\boxed{7}", "8", "incorrect"),
    ("I cannot tell.", "3", "unparsable"),
    ("\\boxed{2\\sqrt{2}}", "\\sqrt{8}", "correct"),
    ("\\boxed{x+1}", "1+x", "correct"),
]


def test_math_parity_and_order_with_local_pool() -> None:
    data = [Sample(o, answer=a, id=str(i)) for i, (o, a, _) in enumerate(MATH * 4)]
    local = list(verify_iter(data, "math", EngineConfig(workers=2, chunk_size=3)))
    on_ray = list(verify_iter(data, "math", EngineConfig(chunk_size=3, **RAY)))
    assert [v.status for v in on_ray] == [s for _, _, s in MATH * 4]
    assert on_ray == local


def test_helper_verifier_parity_order_and_on_result() -> None:
    data = samples(150)
    seen = []
    on_ray = list(verify_iter(data, h.ExactMatch(), EngineConfig(chunk_size=4, **RAY), on_result=seen.append))
    assert seen == on_ray and len(on_ray) == 150
    for i, v in enumerate(on_ray):  # extracted ties each verdict to its own sample
        assert v.status == expected_status(i) and v.details["extracted"] == data[i].output, i
    assert on_ray == list(verify_iter(data, h.ExactMatch(), EngineConfig(workers=2, chunk_size=4)))


def test_timeout_only_hits_the_overrunning_sample() -> None:
    data = samples(12, trigger_at=(3,))
    verdicts = list(verify_iter(data, h.SleepsForever(), EngineConfig(timeout=1.5, chunk_size=4, **RAY)))
    assert verdicts[3].status == "timeout"
    assert verdicts[3].reason == "verification took longer than 1.5s and was stopped"
    assert verdicts[3].details["timeout_s"] == 1.5
    # Samples after the trigger in its chunk (4, 5) were re-run on a fresh worker.
    assert [v.status for i, v in enumerate(verdicts) if i != 3] == [expected_status(i) for i in range(12) if i != 3]


@pytest.mark.parametrize("how", ["exit", "kill9"])
def test_crash_costs_only_its_sample(how: str) -> None:
    data = samples(10, trigger_at=(1, 6))
    verdicts = list(verify_iter(data, h.Exits(how), EngineConfig(chunk_size=3, **RAY)))
    for i, v in enumerate(verdicts):
        if i in (1, 6):
            assert v.status == "error" and "worker died while checking this sample" in v.reason, v
        else:
            assert v.status == expected_status(i), i
    local = list(verify_iter(data, h.Exits(how), EngineConfig(workers=2, chunk_size=3)))
    assert verdicts == local


def test_sandboxed_code_runs_inside_ray_workers() -> None:
    from rlvr.verifiers.code import CodeVerifier

    tests = "assert add(1, 2) == 3\nassert add(2, 2) == 4\n"
    outputs = [
        "def add(a, b):\n    return a + b\n",  # correct
        "import time\ndef add(a, b):\n    time.sleep(60)\n",  # hangs: the sandbox's deadline stops it
        "import os\nos._exit(0)\n",  # exploit: exit 0 before any assert runs
    ]
    data = [Sample(o, None, {"tests": tests}) for o in outputs]
    inner = CodeVerifier(isolation="auto", timeout=2.0, total_timeout=4.0)
    verdicts = list(verify_iter(data, ray_helpers.RecordsParent(inner), EngineConfig(timeout=15, **RAY)))
    assert [v.status for v in verdicts] == ["correct", "timeout", "incorrect"], [v.reason for v in verdicts]
    assert verdicts[0].score == 1.0 and verdicts[2].score == 0.0
    # The checking process was started by a Ray actor process, not by this test process.
    for v in verdicts:
        assert v.details["parent"].startswith("ray::ChunkRunner"), v.details["parent"]


def test_streams_with_a_bounded_window() -> None:
    read = 0

    def source():
        nonlocal read
        for s in samples(400):
            read += 1
            yield s

    cfg = EngineConfig(chunk_size=2, window=10, **RAY)
    consumed = 0
    for i, v in enumerate(verify_iter(source(), h.ExactMatch(), cfg)):
        consumed += 1
        assert v.status == expected_status(i)
        # Never more than the window read ahead of what has been handed out.
        assert read - consumed < 10 + 1, (read, consumed)
    assert consumed == read == 400


def test_plain_function_from_a_folder_only_the_driver_has_on_sys_path(tmp_path: Path, monkeypatch) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "verifiers"))
    from user_functions import write_user_module

    from rlvr.errors import VerifierContractError

    name = write_user_module(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    data = [Sample(f"so {i % 3}", answer=1, id=str(i)) for i in range(20)]
    local = list(verify_iter(data, f"{name}:verifier", EngineConfig(workers=0)))
    on_ray = list(verify_iter(data, f"{name}:verifier", EngineConfig(chunk_size=3, **RAY)))
    assert on_ray == local and [v.status for v in on_ray].count("correct") == 7
    with pytest.raises(VerifierContractError, match=f"verifier '{name}:returns_str' returned str"):
        list(verify_iter(data, f"{name}:returns_str", EngineConfig(chunk_size=3, **RAY)))


def test_cli_verify_with_ray_matches_local(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from rlvr.cli import app

    src = tmp_path / "answers.jsonl"
    src.write_text("".join(json.dumps({"output": o, "answer": a}) + "\n" for o, a, _ in MATH))
    runner = CliRunner()
    outs = {}
    for executor in ("local", "ray"):
        out = tmp_path / f"{executor}.jsonl"
        args = ["verify", str(src), "--verifier", "math", "--executor", executor, "--workers", "2"]
        result = runner.invoke(app, [*args, "--json", "--out", str(out)])
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout.strip().splitlines()[-1])
        assert summary["n"] == 6 and summary["counts"] == {"correct": 4, "incorrect": 1, "unparsable": 1}
        outs[executor] = out.read_text()
    assert outs["ray"] == outs["local"]


def test_cli_rejects_bad_executor_and_stray_address(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from rlvr.cli import app

    src = tmp_path / "a.jsonl"
    src.write_text('{"output": "1", "answer": "1"}\n')
    runner = CliRunner()
    bad = runner.invoke(app, ["verify", str(src), "--verifier", "math", "--executor", "spark"])
    assert bad.exit_code == 1 and "executor must be 'local' or 'ray'" in bad.output
    stray = runner.invoke(app, ["verify", str(src), "--verifier", "math", "--address", "auto"])
    assert stray.exit_code == 1 and "address only applies to executor='ray'" in stray.output


def test_missing_ray_is_a_missing_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` raise ImportError
    with pytest.raises(MissingExtraError, match=r"pip install 'rlvr\[ray\]'"):
        list(verify_iter(samples(2), h.ExactMatch(), EngineConfig(**RAY)))


def test_engine_starts_and_stops_its_own_ray() -> None:
    ray.shutdown()  # the module's instance is done; the engine must start one itself
    data = samples(20, trigger_at=(7,))
    verdicts = list(verify_iter(data, h.SleepsForever(), EngineConfig(timeout=1.5, chunk_size=4, **RAY)))
    assert [v.status for v in verdicts] == ["timeout" if i == 7 else expected_status(i) for i in range(20)]
    assert not ray.is_initialized()


def test_config_rules_name_the_fix() -> None:
    with pytest.raises(ConfigError, match="executor must be 'local' or 'ray'"):
        EngineConfig(executor="dask")
    with pytest.raises(ConfigError, match="set executor='ray' or drop address"):
        EngineConfig(address="auto")
    assert EngineConfig(executor="ray", address="ray://head:10001").address == "ray://head:10001"
