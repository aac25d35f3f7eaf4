"""Batch verification: many samples, a pool of killable workers, results in input order.

``verify_iter`` streams: it reads samples lazily and keeps at most a bounded window in flight,
so a multi-gigabyte JSONL file verifies in constant memory. Each sample has a hard per-sample
deadline: a worker that overruns it is killed (with everything it started) and replaced, the
sample gets a ``timeout`` verdict, and the rest of that worker's chunk is re-queued. A worker
that dies (segfault, OOM) costs its current sample an ``error`` verdict, nothing else. Results are
deterministic: the same input gives the same verdicts in the same order, whatever the scheduling.

``workers=0`` verifies in the calling thread (the verifier's own timeouts still apply).

``executor="ray"`` runs the same chunks on Ray actors instead (``rlvr.engine.ray``): same
verdicts, same order, same per-sample deadlines, each enforced by the actor's own killable worker.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from rlvr.engine.config import EngineConfig, default_workers
from rlvr.engine.local import run_pool
from rlvr.errors import ConfigError
from rlvr.types import Sample, Verdict
from rlvr.verifiers.base import Verifier, safe_verify
from rlvr.verifiers.registry import get_verifier

__all__ = ["verify", "verify_iter"]


def verify_iter(
    samples: Iterable[Sample],
    verifier: Verifier | str,
    config: EngineConfig | None = None,
    *,
    on_result: Callable[[Verdict], None] | None = None,
    **verifier_options: Any,
) -> Iterator[Verdict]:
    """Verify ``samples`` and yield one verdict per sample, in input order."""
    cfg = config or EngineConfig()
    v = verifier if isinstance(verifier, Verifier) else get_verifier(verifier, **verifier_options)
    if cfg.workers == 0 and cfg.executor == "local":
        for sample in samples:
            verdict = safe_verify(v, sample)
            if on_result:
                on_result(verdict)
            yield verdict
        return
    try:
        payload = pickle.dumps(v, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        raise ConfigError(
            f"verifier {v!r} cannot be sent to worker processes ({exc}); "
            "use workers=0 or make it picklable (define it at module level)"
        ) from exc
    if cfg.executor == "ray":
        from rlvr.engine.ray import run_ray  # here: only Ray runs need it

        yield from run_ray(iter(samples), payload, cfg, on_result)
        return
    yield from run_pool(iter(samples), payload, cfg, on_result)


def verify(
    samples: Iterable[Sample | dict[str, Any]],
    verifier: Verifier | str,
    *,
    workers: int | None = None,
    timeout: float = 30.0,
    **verifier_options: Any,
) -> list[Verdict]:
    """Verify a batch and return its verdicts in order.

    ``samples`` are ``Sample`` objects or JSONL-style dicts; ``verifier`` is a verifier or a
    registry name (``"math"``) or a plain function, with ``verifier_options`` passed to its factory.
    ``workers=None`` verifies small batches in this thread and large ones on a process pool (in this
    thread too when the verifier cannot be sent to one, such as a function defined in a notebook).
    """
    items = [s if isinstance(s, Sample) else Sample.from_record(s) for s in samples]
    v = verifier if isinstance(verifier, Verifier) else get_verifier(verifier, **verifier_options)
    if workers is None:
        workers = 0 if len(items) < 256 or not _can_ship(v) else default_workers()
    cfg = EngineConfig(workers=workers, timeout=timeout)
    return list(verify_iter(items, v, cfg))


def _can_ship(v: Verifier) -> bool:
    try:
        pickle.dumps(v, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return False
    return True
