"""One exception tree for rlvr.

Setup problems fail loudly with one of these; problems with a *sample* never raise — they become a
``Verdict`` (status ``unparsable``, ``timeout`` or ``error``) instead.

::

    RlvrError                      base of everything rlvr raises on purpose
    ├── ConfigError                a bad option or config value; the message names the fix
    │   ├── MissingExtraError      an optional dependency is not installed; message has the pip line
    │   └── VerifierContractError  a verifier returned something that is not a score (a plain
    │                              function returning a str, None, NaN, 1.5, a list of the wrong length)
    ├── VerifierNotFoundError      ``--verifier NAME`` names nothing we can load
    ├── InputError                 bad input data; carries ``path`` and ``line`` when known
    └── IsolationUnavailableError  the kernel lacks what a sandbox tier needs (and no unsafe flag)
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "InputError",
    "IsolationUnavailableError",
    "MissingExtraError",
    "RlvrError",
    "VerifierContractError",
    "VerifierNotFoundError",
]


class RlvrError(Exception):
    """Base class of every error rlvr raises on purpose."""


class ConfigError(RlvrError, ValueError):
    """An option or configuration value is wrong; the message says how to fix it."""


class MissingExtraError(ConfigError, ImportError):
    """An optional dependency is missing; the message carries the install command."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(f"{purpose} needs the '{package}' package: pip install 'rlvr[{extra}]'")
        self.package = package
        self.extra = extra


class VerifierContractError(ConfigError):
    """A verifier broke the verifier contract: it returned something that is not a score or a
    ``Verdict``. This is a setup error (the function is not the verifier it was taken for), so it
    is raised at the first sample that shows it, not turned into an ``error`` verdict."""


class VerifierNotFoundError(RlvrError, LookupError):
    """A verifier name could not be resolved to a verifier."""


class InputError(RlvrError, ValueError):
    """Input data is malformed. ``str(err)`` is one line naming the file and line when known."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(f"{where}{message}")


class IsolationUnavailableError(RlvrError, RuntimeError):
    """The kernel or machine lacks a feature that the requested isolation tier needs."""
