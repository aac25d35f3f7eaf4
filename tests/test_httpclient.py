"""The shared HTTP client: backoff arithmetic, Retry-After, what is retried and what is not."""

from __future__ import annotations

import random

import pytest

from rlvr.httpclient import (
    HttpFailure,
    RetriesExhausted,
    RetryPolicy,
    is_loopback,
    parse_retry_after,
    post,
    with_retries,
)


class Fixed:
    """An rng whose draws are fixed: uniform(a, b) -> b, random() -> 1.0 (no jitter)."""

    def uniform(self, a: float, b: float) -> float:
        return b

    def random(self) -> float:
        return 1.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("3", 3.0), ("0.5", 0.5), ("-2", 0.0), ("Wed, 21 Oct 2015 07:28:00 GMT", None)],
)
def test_retry_after_is_seconds_or_nothing(value, expected):
    assert parse_retry_after(value) == expected


def test_backoff_doubles_up_to_the_cap_and_retry_after_wins_within_it():
    p = RetryPolicy(retries=5, backoff=0.5, max_backoff=3.0)
    assert [p.delay(n, None, Fixed()) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 3.0]
    assert p.delay(1, 2.5, Fixed()) == 2.5  # the server asked for longer
    assert p.delay(1, 60.0, Fixed()) == 3.0  # ... but never past the cap
    half = RetryPolicy(retries=1, backoff=2.0, max_backoff=30.0, jitter="half")
    rng = random.Random(0)
    assert all(1.0 <= half.delay(1, None, rng) <= 2.0 for _ in range(100))
    full = RetryPolicy(retries=1, backoff=2.0, max_backoff=30.0)
    assert all(0.0 <= full.delay(1, None, rng) <= 2.0 for _ in range(100))


def test_with_retries_retries_transient_failures_and_counts_attempts():
    answers = [HttpFailure("timeout", "slow"), HttpFailure("transient", "503", retry_after=1.5), "ok"]
    slept: list[float] = []
    retries: list[int] = []

    def attempt() -> str:
        a = answers.pop(0)
        if isinstance(a, Exception):
            raise a
        return a

    p = RetryPolicy(retries=3, backoff=0.25, max_backoff=10.0)
    out = with_retries(attempt, p, sleep=slept.append, rng=Fixed(), on_retry=lambda: retries.append(1))
    assert out == ("ok", 3)
    assert slept == [0.25, 1.5] and len(retries) == 2


def test_fatal_failures_are_not_retried_and_exhaustion_keeps_every_failure():
    calls = []

    def fatal() -> None:
        calls.append(1)
        raise HttpFailure("fatal", "HTTP 400", status=400)

    with pytest.raises(HttpFailure, match="HTTP 400"):
        with_retries(fatal, RetryPolicy(3, 0.0, 0.0), sleep=lambda s: None)
    assert len(calls) == 1

    def down() -> None:
        raise HttpFailure("transient", f"down {len(calls)}")

    with pytest.raises(RetriesExhausted) as info:
        with_retries(down, RetryPolicy(2, 0.0, 0.0), sleep=lambda s: calls.append(1))
    assert [f.kind for f in info.value.failures] == ["transient"] * 3


def test_loopback_hosts():
    assert is_loopback("localhost") and is_loopback("127.0.0.1") and is_loopback("::1")
    assert not is_loopback("example.com") and not is_loopback("10.0.0.1")


def test_an_unreachable_port_is_a_transient_failure_with_its_cause():
    with pytest.raises(HttpFailure) as info:
        post("http://127.0.0.1:9/x", b"{}", {}, timeout=5, max_bytes=100, retry_status=lambda c: True)
    assert info.value.kind == "transient" and info.value.status is None and info.value.cause is not None
    assert "cannot reach http://127.0.0.1:9/x" in str(info.value)
