"""Batch execution: killable worker processes, the in-order window, the local pool, Ray.

Read in this order: ``worker`` (a killable Python process and its wire protocol; below the
verifiers), ``verify_main`` (the batch worker's main, the one module here that imports
``safe_verify``), ``window`` (in-order read-ahead, shared by both executors), ``config``,
``local`` (the process pool), ``ray`` (the same chunks on Ray actors), ``batch`` (``verify_iter``
and ``verify``, which pick one).
"""

from rlvr.engine.batch import verify, verify_iter
from rlvr.engine.config import EngineConfig, default_workers

__all__ = ["EngineConfig", "default_workers", "verify", "verify_iter"]
