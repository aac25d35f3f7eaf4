"""Verifiers: the protocol and registry (``base``), answer extraction (``extract``) and the
built-in verifier kinds, each in its own module and loaded only when asked for."""

from rlvr.verifiers.base import BaseVerifier, Verifier
from rlvr.verifiers.registry import available_verifiers, get_verifier, register

__all__ = ["BaseVerifier", "Verifier", "available_verifiers", "get_verifier", "register"]
