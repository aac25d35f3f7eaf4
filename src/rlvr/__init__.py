"""rlvr: reinforcement learning with verifiable rewards — verifiers you can trust, a trainer that
watches its own health, and diagnostics that tell you what RL actually bought.

The core (types, errors, the verifier registry, extraction, the batch engine) is imported eagerly;
everything else is resolved on first use, so ``import rlvr`` stays light (no sympy, torch, sqlglot).
"""

from __future__ import annotations

from rlvr.engine import EngineConfig, verify, verify_iter
from rlvr.errors import (
    ConfigError,
    InputError,
    IsolationUnavailableError,
    MissingExtraError,
    RlvrError,
    VerifierContractError,
    VerifierNotFoundError,
)
from rlvr.lazy import lazy_exports
from rlvr.types import STATUSES, UNJUDGED, Sample, Status, Verdict
from rlvr.verifiers.base import BaseVerifier, Verifier
from rlvr.verifiers.extract import Extraction, extract_code, extract_final_answer, extract_sql
from rlvr.verifiers.registry import available_verifiers, get_verifier, register

__version__ = "0.1.0"

# Public names resolved lazily: name -> module that defines it.
_LAZY = {
    # verifiers
    "CodeVerifier": "rlvr.verifiers.code",
    "SqlVerifier": "rlvr.verifiers.sql",
    "RubricVerifier": "rlvr.verifiers.rubric",
    "FormatVerifier": "rlvr.verifiers.format",
    "RemoteVerifier": "rlvr.verifiers.remote",
    "RandomVerifier": "rlvr.verifiers.random",
    "CountdownVerifier": "rlvr.verifiers.countdown",
    "all_of": "rlvr.verifiers.compose",
    "any_of": "rlvr.verifiers.compose",
    "weighted": "rlvr.verifiers.compose",
    "route": "rlvr.verifiers.compose",
    # audit (the function itself is rlvr.audit.audit: the name `audit` is the subpackage)
    "AuditReport": "rlvr.audit",
    # evaluation
    "pass_at_k": "rlvr.evaluate",
    "load_samples": "rlvr.evaluate",
    "compare": "rlvr.evaluate",
    "ComparisonResult": "rlvr.evaluate",
    "spurious_analysis": "rlvr.evaluate",
    "SpuriousResult": "rlvr.evaluate",
    # training
    "GRPOConfig": "rlvr.grpo",
    "Trainer": "rlvr.grpo",
    "train": "rlvr.grpo",
    "load_policy": "rlvr.policy",
    "HealthConfig": "rlvr.diagnostics",
    "HealthMonitor": "rlvr.diagnostics",
    # the end-to-end study and planning
    "LabConfig": "rlvr.lab",
    "lab_config": "rlvr.lab",
    "run_lab": "rlvr.lab",
    "CostInputs": "rlvr.cost",
    "estimate_cost": "rlvr.cost",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())


__all__ = [
    "STATUSES",
    "UNJUDGED",
    "BaseVerifier",
    "ConfigError",
    "EngineConfig",
    "Extraction",
    "InputError",
    "IsolationUnavailableError",
    "MissingExtraError",
    "RlvrError",
    "Sample",
    "Status",
    "Verdict",
    "Verifier",
    "VerifierContractError",
    "VerifierNotFoundError",
    "__version__",
    "available_verifiers",
    "extract_code",
    "extract_final_answer",
    "extract_sql",
    "get_verifier",
    "register",
    "verify",
    "verify_iter",
    *_LAZY,
]
