"""The verifier protocol and a base class that turns crashes into verdicts.

A verifier is anything with ``verify(sample) -> Verdict``. ``BaseVerifier`` adds the guarantees
every built-in gives: a wrong-typed or oversized output becomes an ``unparsable`` verdict, and an
exception inside the verifier becomes an ``error`` verdict (the verifier's fault, not the model's).
Names (``--verifier NAME``) and plain functions are resolved by ``rlvr.verifiers.registry``.
"""

from __future__ import annotations

import traceback
from typing import Protocol, runtime_checkable

from rlvr.errors import VerifierContractError
from rlvr.types import Sample, Verdict

__all__ = ["DEFAULT_MAX_OUTPUT_CHARS", "BaseVerifier", "Verifier", "safe_verify"]

# A model output longer than this is not a plausible answer; refusing it bounds every verifier.
DEFAULT_MAX_OUTPUT_CHARS = 1_000_000


@runtime_checkable
class Verifier(Protocol):
    """Anything that scores one sample."""

    def verify(self, sample: Sample) -> Verdict: ...


class BaseVerifier:
    """Base class for verifiers: subclasses implement ``check``; ``verify`` never raises.

    ``name`` identifies the verifier in reports and caches.
    """

    name: str = "verifier"
    max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS

    def verify(self, sample: Sample) -> Verdict:
        output = sample.output
        if not isinstance(output, str):
            return Verdict.unparsable(
                f"output must be a string, got {type(output).__name__}", output_type=type(output).__name__
            )
        if len(output) > self.max_output_chars:
            return Verdict.unparsable(
                f"output is {len(output):,} characters, over the {self.max_output_chars:,} limit",
                output_chars=len(output),
            )
        try:
            return self.check(sample)
        except VerifierContractError:  # a setup error (a plain function's wrong return type): loud
            raise
        except Exception as exc:  # a verifier bug must not crash a training run
            return Verdict.error(
                f"{self.name} verifier failed: {type(exc).__name__}: {exc}"[:500],
                traceback=traceback.format_exc(limit=5)[-2000:],
            )

    def check(self, sample: Sample) -> Verdict:  # pragma: no cover - abstract
        raise NotImplementedError("abstract: subclasses implement check()")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def safe_verify(verifier: Verifier, sample: Sample) -> Verdict:
    """``verifier.verify(sample)`` for any verifier, with BaseVerifier's promise: never raises on a
    sample (``VerifierContractError``, a setup error, is the one exception that passes through)."""
    try:
        verdict = verifier.verify(sample)
    except VerifierContractError:
        raise
    except Exception as exc:
        return Verdict.error(f"verifier raised {type(exc).__name__}: {exc}"[:500])
    if not isinstance(verdict, Verdict):
        return Verdict.error(f"verifier returned {type(verdict).__name__}, not a Verdict")
    return verdict
