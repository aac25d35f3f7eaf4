"""Verifier audit: measure a verifier's coverage, false-positive and false-negative rates.

``audit(verifier, cases=..., mutate=...)`` runs the built-in adversarial suite for the verifier's
kind (``rlvr.audit.suites.<kind>``), your own labelled cases and mutants of your correct outputs,
and returns an ``AuditReport`` (``to_dict()`` is what ``rlvr audit --json`` prints). Definitions of
"caught", coverage and the rates are in ``rlvr.audit.report``.
"""

from rlvr.audit.cases import AuditCase, available_suites, builtin_cases, load_cases
from rlvr.audit.mutate import MUTATIONS, load_mutants, mutate_output
from rlvr.audit.report import AuditReport, CaseResult
from rlvr.audit.runner import audit, verifier_kind

__all__ = [
    "MUTATIONS",
    "AuditCase",
    "AuditReport",
    "CaseResult",
    "audit",
    "available_suites",
    "builtin_cases",
    "load_cases",
    "load_mutants",
    "mutate_output",
    "verifier_kind",
]
