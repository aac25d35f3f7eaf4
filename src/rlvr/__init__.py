"""rlvr: reinforcement learning with verifiable rewards — verifiers you can trust, a trainer that
watches its own health, and diagnostics that tell you what RL actually bought."""

from rlvr.engine import EngineConfig, verify, verify_iter
from rlvr.errors import (
    ConfigError,
    InputError,
    IsolationUnavailableError,
    MissingExtraError,
    RlvrError,
    VerifierNotFoundError,
)
from rlvr.types import STATUSES, Sample, Status, Verdict
from rlvr.verifiers.base import BaseVerifier, Verifier, available_verifiers, get_verifier, register
from rlvr.verifiers.extract import Extraction, extract_code, extract_final_answer, extract_sql

__version__ = "0.1.0"

__all__ = [
    "STATUSES",
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
]
