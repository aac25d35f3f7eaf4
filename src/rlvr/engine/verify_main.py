"""The batch worker's main: ``python -m rlvr.engine.verify_main``.

The one module of the engine that imports the verifiers (for ``safe_verify``): the killable worker
itself (``rlvr.engine.worker``) sits below them. Answers ``("init", verifier)`` with ``("ready",)``
and ``("verify", [(idx, sample), ...])`` with one ``("result", idx, verdict)`` per sample, or
``("setup", message)`` when the verifier broke its contract (the rest of the chunk is not checked).
"""

from __future__ import annotations

from typing import Any

from rlvr.engine.worker import serve, write_message
from rlvr.errors import VerifierContractError
from rlvr.types import Verdict
from rlvr.verifiers.base import Verifier, safe_verify


class _VerifyHandler:
    """Holds the verifier between ``init`` and the ``verify`` requests."""

    def __init__(self) -> None:
        self.verifier: Verifier | None = None

    def __call__(self, msg: Any, out: Any) -> bool:
        if msg[0] == "init":
            self.verifier = msg[1]
            write_message(out, ("ready",))
            return True
        if msg[0] != "verify":
            return False
        for idx, sample in msg[1]:
            try:
                verdict = safe_verify(self.verifier, sample)  # type: ignore[arg-type]
            except VerifierContractError as exc:
                write_message(out, ("setup", str(exc)))
                break
            try:
                write_message(out, ("result", idx, verdict))
            except Exception as exc:  # unpicklable details
                write_message(out, ("result", idx, Verdict.error(f"verdict could not be sent: {exc}"[:300])))
        return True


def main() -> None:  # pragma: no cover - exercised through WorkerProcess in tests
    serve(_VerifyHandler())


if __name__ == "__main__":
    main()
