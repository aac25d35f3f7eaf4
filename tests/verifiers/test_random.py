"""The random control verifier: Bernoulli(p), a pure function of (seed, sample id, step)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rlvr.engine import EngineConfig, verify_iter
from rlvr.errors import ConfigError
from rlvr.types import Sample
from rlvr.verifiers.random import RandomVerifier, bernoulli_draw
from rlvr.verifiers.registry import get_verifier


def rewards(v: RandomVerifier, step: int = 0, n: int = 2000) -> list[float]:
    return [v.verify(Sample("x", id=str(i), metadata={"_step": step})).score for i in range(n)]


def test_rate_matches_p():
    for p in (0.0, 0.2, 0.5, 1.0):
        mean = sum(rewards(RandomVerifier(p=p, seed=3))) / 2000
        # Binomial(2000, p): 5 standard deviations is at most 0.056.
        assert abs(mean - p) < 0.056, (p, mean)


def test_deterministic_given_seed_id_and_step():
    v = RandomVerifier(p=0.5, seed=7)
    assert rewards(v) == rewards(RandomVerifier(p=0.5, seed=7))
    assert rewards(v) != rewards(RandomVerifier(p=0.5, seed=8))
    assert rewards(v, step=0) != rewards(v, step=1)
    # The output is not read: the same id and step give the same reward for any text.
    a = v.verify(Sample("right answer", id="q1", metadata={"_step": 3}))
    b = v.verify(Sample("garbage", id="q1", metadata={"_step": 3}))
    assert a.score == b.score and "random control" in a.reason


def test_known_value_pins_the_hash():
    # blake2b(b"0|0|a", digest_size=8, person=b"rlvr-random") as a fraction of 2**64: pinned so a
    # change of hashing scheme (which would change every control run) cannot go unnoticed.
    import hashlib

    expected = int.from_bytes(hashlib.blake2b(b"0|0|a", digest_size=8, person=b"rlvr-random").digest(), "big") / 2**64
    assert bernoulli_draw(0, "a", 0) == expected
    v = RandomVerifier(p=expected + 1e-12, seed=0)
    assert v.verify(Sample("x", id="a")).status == "correct"
    assert RandomVerifier(p=expected, seed=0).verify(Sample("x", id="a")).status == "incorrect"


def test_same_across_processes():
    samples = [Sample("x", id=str(i), metadata={"_step": i % 3}) for i in range(40)]
    v = RandomVerifier(p=0.5, seed=11)
    here = [x.score for x in verify_iter(samples, v, EngineConfig(workers=0))]
    pooled = [x.score for x in verify_iter(samples, v, EngineConfig(workers=2))]
    code = (
        "from rlvr.verifiers.random import RandomVerifier; from rlvr.types import Sample\n"
        "v = RandomVerifier(p=0.5, seed=11)\n"
        "print([v.verify(Sample('x', id=str(i), metadata={'_step': i % 3})).score for i in range(40)])"
    )
    # A fresh interpreter has a different PYTHONHASHSEED: hash() would differ, blake2b does not.
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "123", "PATH": ""}).stdout
    assert here == pooled == eval(out)  # noqa: S307 - our own list literal
    assert 5 < sum(here) < 35


def test_missing_id_uses_a_content_hash():
    v = RandomVerifier(p=0.5, seed=0)
    a = [v.verify(Sample(f"out {i}", answer=1)).score for i in range(200)]
    assert a == [v.verify(Sample(f"out {i}", answer=1)).score for i in range(200)]
    assert 50 < sum(a) < 150  # different content, different draws


def test_bad_config_and_bad_step():
    for bad in (-0.1, 1.5, "0.5", True):
        with pytest.raises(ConfigError):
            RandomVerifier(p=bad)
    with pytest.raises(ConfigError):
        RandomVerifier(seed=1.5)
    assert RandomVerifier().verify(Sample("x", metadata={"_step": "3"})).status == "error"
    assert isinstance(get_verifier("random", p=0.3, seed=2), RandomVerifier)
