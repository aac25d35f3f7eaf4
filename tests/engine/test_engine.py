"""Batch engine: order, per-sample timeouts and crashes, parity with in-process, clean shutdown."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

TESTS_DIR = str(Path(__file__).resolve().parent.parent)
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)

import engine_helpers as h  # noqa: E402
from rlvr.engine import EngineConfig, verify, verify_iter  # noqa: E402
from rlvr.errors import ConfigError  # noqa: E402
from rlvr.types import Sample  # noqa: E402


@pytest.fixture(autouse=True)
def use_helpers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers run ``python -m rlvr.engine.verify_main`` and must be able to import ``engine_helpers``."""
    inherited = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", TESTS_DIR + (os.pathsep + inherited if inherited else ""))


@pytest.fixture
def no_leaked_children():
    """Fail if the test leaves child processes it did not find when it started."""
    before = h.child_pids()
    yield before
    extra = h.child_pids() - before
    assert not extra, "leaked child processes:\n" + "\n".join(h.describe(p) for p in extra)


def samples(n: int, trigger_at: int | None = None) -> list[Sample]:
    """Even indices correct, odd ones wrong; the sample at ``trigger_at`` is the trigger."""
    out = []
    for i in range(n):
        if i == trigger_at:
            out.append(Sample(h.TRIGGER, answer=str(i), id=str(i)))
        else:
            out.append(Sample(str(i) if i % 2 == 0 else f"{i}x", answer=str(i), id=str(i)))
    return out


def statuses(verdicts) -> list[str]:
    return [v.status for v in verdicts]


def expected_status(i: int) -> str:
    return "correct" if i % 2 == 0 else "incorrect"


def test_order_preserved_with_two_workers_and_small_chunks(no_leaked_children) -> None:
    data = samples(200)
    cfg = EngineConfig(workers=2, chunk_size=3, timeout=30)
    verdicts = list(verify_iter(data, h.ExactMatch(), cfg))
    assert len(verdicts) == 200
    # The extracted value ties every verdict to its own sample, not just to a status pattern.
    for i, v in enumerate(verdicts):
        assert v.status == expected_status(i), i
        assert v.details["extracted"] == data[i].output.strip()[:40], i


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs to pin two workers apart")
def test_two_workers_are_pinned_to_a_cpu_each_unless_told_not_to(no_leaked_children) -> None:
    data = [Sample(str(i), answer=str(i), id=str(i)) for i in range(64)]
    cpus_of: dict[int, list[int]] = {}
    for v in verify_iter(data, h.ReportsCpus(), EngineConfig(workers=2, chunk_size=4)):
        cpus_of[v.details["pid"]] = v.details["cpus"]
    assert len(cpus_of) == 2 and all(len(c) == 1 for c in cpus_of.values()), cpus_of
    assert len({c[0] for c in cpus_of.values()}) == 2  # apart
    free = list(verify_iter(data[:8], h.ReportsCpus(), EngineConfig(workers=2, chunk_size=4, pin=False)))
    assert all(v.details["cpus"] == sorted(os.sched_getaffinity(0)) for v in free)
    # More workers than CPUs: nobody is pinned (two on one CPU would wait for each other).
    many = len(os.sched_getaffinity(0)) + 1
    crowd = list(verify_iter(data[:many * 2], h.ReportsCpus(), EngineConfig(workers=many, chunk_size=1)))
    assert all(v.details["cpus"] == sorted(os.sched_getaffinity(0)) for v in crowd)


def test_results_identical_to_in_process(no_leaked_children) -> None:
    data = samples(120)
    in_process = list(verify_iter(data, h.ExactMatch(), EngineConfig(workers=0)))
    pooled = list(verify_iter(data, h.ExactMatch(), EngineConfig(workers=2, chunk_size=5)))
    assert pooled == in_process


def test_on_result_sees_every_verdict_in_order(no_leaked_children) -> None:
    seen = []
    verdicts = list(
        verify_iter(samples(30), h.ExactMatch(), EngineConfig(workers=2, chunk_size=4), on_result=seen.append)
    )
    assert seen == verdicts


def test_sample_that_hangs_times_out_alone(no_leaked_children) -> None:
    data = samples(40, trigger_at=7)
    cfg = EngineConfig(workers=2, chunk_size=4, timeout=1.0)
    t0 = time.monotonic()
    verdicts = list(verify_iter(data, h.SleepsForever(), cfg))
    elapsed = time.monotonic() - t0
    assert verdicts[7].status == "timeout"
    assert verdicts[7].score == 0.0
    for i, v in enumerate(verdicts):
        if i != 7:
            assert v.status == expected_status(i), (i, v)
    # One timeout costs about one timeout, not one per remaining sample of its chunk.
    assert elapsed < 15, elapsed


def test_two_hanging_samples_in_one_chunk(no_leaked_children) -> None:
    data = samples(12)
    data[4] = Sample(h.TRIGGER, answer="4")
    data[5] = Sample(h.TRIGGER, answer="5")
    verdicts = list(verify_iter(data, h.SleepsForever(), EngineConfig(workers=1, chunk_size=6, timeout=0.5)))
    assert statuses(verdicts)[4:6] == ["timeout", "timeout"]
    assert [v.status for i, v in enumerate(verdicts) if i not in (4, 5)] == [
        expected_status(i) for i in range(12) if i not in (4, 5)
    ]


@pytest.mark.parametrize("how", ["exit", "kill9"])
def test_worker_that_dies_costs_one_error(how: str, no_leaked_children) -> None:
    data = samples(40, trigger_at=13)
    verdicts = list(verify_iter(data, h.Exits(how), EngineConfig(workers=2, chunk_size=4, timeout=30)))
    assert verdicts[13].status == "error"
    assert "died" in verdicts[13].reason
    for i, v in enumerate(verdicts):
        if i != 13:
            assert v.status == expected_status(i), (i, v)


def test_worker_dies_on_first_and_last_sample(no_leaked_children) -> None:
    data = samples(10)
    data[0] = Sample(h.TRIGGER, answer="0")
    data[9] = Sample(h.TRIGGER, answer="9")
    verdicts = list(verify_iter(data, h.Exits("kill9"), EngineConfig(workers=2, chunk_size=3, timeout=30)))
    assert verdicts[0].status == verdicts[9].status == "error"
    assert [v.status for v in verdicts[1:9]] == [expected_status(i) for i in range(1, 9)]


def test_verifier_that_raises_gets_error(no_leaked_children) -> None:
    data = samples(20, trigger_at=3)
    for workers in (0, 2):
        verdicts = list(verify_iter(data, h.Raises(), EngineConfig(workers=workers, chunk_size=4)))
        assert verdicts[3].status == "error", workers
        assert "ValueError" in verdicts[3].reason
        assert [v.status for i, v in enumerate(verdicts) if i != 3] == [
            expected_status(i) for i in range(20) if i != 3
        ]


def test_plain_verifier_that_raises_gets_error_in_workers(no_leaked_children) -> None:
    data = samples(20, trigger_at=3)
    verdicts = list(verify_iter(data, h.PlainRaises(), EngineConfig(workers=2, chunk_size=4)))
    assert verdicts[3].status == "error"
    assert "plain verifier bug" in verdicts[3].reason


def test_plain_verifier_that_raises_gets_error_in_process() -> None:
    data = samples(5, trigger_at=3)
    verdicts = list(verify_iter(data, h.PlainRaises(), EngineConfig(workers=0)))
    assert verdicts[3].status == "error"


def test_no_children_after_exhaustion(no_leaked_children) -> None:
    before = no_leaked_children
    it = verify_iter(samples(50), h.ExactMatch(), EngineConfig(workers=2, chunk_size=3))
    first = next(it)
    assert first.status == "correct"
    assert len(h.child_pids() - before) >= 1  # the pool really started
    rest = list(it)
    assert len(rest) == 49
    assert not (h.child_pids() - before)


def test_no_children_after_break(no_leaked_children) -> None:
    before = no_leaked_children
    got = []
    for v in verify_iter(samples(500), h.ExactMatch(), EngineConfig(workers=2, chunk_size=3)):
        got.append(v)
        if len(got) == 5:
            break
    # The for loop held the only reference: the generator is finalized here and closes its pool.
    assert not (h.child_pids() - before)


def test_no_children_after_close(no_leaked_children) -> None:
    before = no_leaked_children
    it = verify_iter(samples(500), h.ExactMatch(), EngineConfig(workers=2, chunk_size=3))
    for _ in range(5):
        next(it)
    assert h.child_pids() - before
    it.close()
    assert not (h.child_pids() - before)


def test_no_children_after_close_while_a_worker_hangs(no_leaked_children) -> None:
    before = no_leaked_children
    it = verify_iter(
        samples(40, trigger_at=6), h.SleepsForever(), EngineConfig(workers=2, chunk_size=2, timeout=60)
    )
    for _ in range(5):
        next(it)
    t0 = time.monotonic()
    it.close()
    assert time.monotonic() - t0 < 10
    assert not (h.child_pids() - before)


def test_no_children_after_source_raises(no_leaked_children) -> None:
    before = no_leaked_children

    def source():
        yield from samples(20)
        raise RuntimeError("input broke")

    with pytest.raises(RuntimeError, match="input broke"):
        list(verify_iter(source(), h.ExactMatch(), EngineConfig(workers=2, chunk_size=3)))
    assert not (h.child_pids() - before)


def test_lazy_reading_is_bounded() -> None:
    """The engine reads ahead a bounded window, not the whole (possibly endless) source."""
    read = 0

    def endless():
        nonlocal read
        i = 0
        while True:
            read += 1
            yield Sample(str(i), answer=str(i))
            i += 1

    it = verify_iter(endless(), h.ExactMatch(), EngineConfig(workers=1, chunk_size=2, window=10))
    got = [next(it) for _ in range(3)]
    it.close()
    assert all(v.status == "correct" for v in got)
    assert read <= 3 + 10 + 2


def test_unpicklable_verifier_is_a_config_error() -> None:
    class Local(h.ExactMatch):  # defined in a function: pickle cannot find it by name
        pass

    with pytest.raises(ConfigError, match="workers=0"):
        list(verify_iter(samples(3), Local(), EngineConfig(workers=1)))


def test_verifier_workers_cannot_import_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, no_leaked_children
) -> None:
    monkeypatch.delenv("PYTHONPATH")  # workers can no longer import engine_helpers
    with pytest.raises(ConfigError):
        list(verify_iter(samples(3), h.ExactMatch(), EngineConfig(workers=1, start_timeout=20)))


def test_empty_input(no_leaked_children) -> None:
    assert list(verify_iter([], h.ExactMatch(), EngineConfig(workers=2))) == []


def test_verify_accepts_records_and_registry_objects() -> None:
    verdicts = verify([{"output": "1", "answer": 1}, {"output": "2", "answer": 3}], h.ExactMatch(), workers=0)
    assert statuses(verdicts) == ["correct", "incorrect"]


@pytest.mark.parametrize(
    "kwargs", [{"workers": -1}, {"timeout": 0}, {"chunk_size": 0}], ids=["workers", "timeout", "chunk"]
)
def test_config_rejects_bad_values(kwargs) -> None:
    with pytest.raises(ConfigError):
        EngineConfig(**kwargs)


def _worker_pids() -> set[int]:
    """Every live rlvr worker process on the machine, orphans included (ppid 1)."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"rlvr.engine." in cmd and h.proc_state(int(entry.name)) not in (None, "Z"):
                pids.add(int(entry.name))
    return pids


def test_killing_an_engine_worker_also_ends_the_symbolic_worker_it_started() -> None:
    from rlvr.verifiers.math import MathVerifier

    before = _worker_pids()
    slow = Sample(r"\boxed{(x+y+z+w)^{40}}", "(x+y+z+w+1)^{40}")  # sympy needs far more than 2 s
    verdicts = list(verify_iter([slow], MathVerifier(timeout=120), EngineConfig(workers=1, timeout=2.0)))
    assert verdicts[0].status == "timeout"
    deadline = time.monotonic() + 5
    while _worker_pids() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not (_worker_pids() - before), "an orphaned sympy worker outlived its engine worker"
