"""Isolation for untrusted model code: warm zygotes, one fresh sandboxed candidate process per check.

Tiers (``isolation=``): ``"namespaces"`` (default when the kernel has it; ``"auto"`` picks it,
else ``"bwrap"`` if bubblewrap is installed, else refuses with ``IsolationUnavailableError``),
``"bwrap"`` (the same zygote inside ``bwrap --unshare-all --die-with-parent --cap-drop ALL``,
with only the Python install, /usr and /lib mounted), ``"none"`` (no namespaces, Landlock or seccomp:
rlimits, a per-run unprivileged uid when root, process-group kills and the harness/candidate
split still apply; only for trusted code).

What one check looks like (``namespaces``): each warm zygote keeps a *pair* of processes, a
long-lived sandboxed *harness* that runs the checks' tests, and a small clean *candidate
zygote* (pid 1 of its own PID namespace) that forks one fresh *candidate* per check, which runs
the model's code. The verifier sends the code, tests and token straight to the harness; the
harness sends the code to the candidate and calls into it over RPC; the candidate zygote kills
the candidate and everything it started before the results go back (and reaps them, and removes
their files, before it forks its next candidate). The invariant
that makes this safe: no process that has ever held a check's tests, token, expected outputs or
another candidate's code is the parent of a candidate. The process tree, the threat model, the
limits and the costs are in ``rlvr.sandbox.box`` (the package docstring), whose files a reviewer
can read one at a time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rlvr.sandbox.runner import ISOLATION_TIERS, RunOutcome, Sandbox, SandboxConfig, probe_isolation

__all__ = ["ISOLATION_TIERS", "RunOutcome", "Sandbox", "SandboxConfig", "probe_isolation"]


def __getattr__(name: str) -> Any:
    # Lazily: rlvr.engine.worker imports rlvr.sandbox.box.wire for its framing, and every engine worker
    # (math, SQL, ...) would otherwise pay for importing the runner it never uses.
    if name in __all__:
        from rlvr.sandbox import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'rlvr.sandbox' has no attribute {name!r}")
