"""Isolation for untrusted model code: a warm lean zygote that forks one sandboxed run per call.

Tiers (``isolation=``): ``"namespaces"`` (default when the kernel has it; ``"auto"`` picks it,
else ``"bwrap"`` if bubblewrap is installed, else refuses with ``IsolationUnavailableError``),
``"bwrap"`` (the same zygote inside ``bwrap --unshare-all --die-with-parent --cap-drop ALL``,
with only the Python install, /usr and /lib mounted), ``"none"`` (no namespaces, Landlock or seccomp:
rlimits, a per-run unprivileged uid when root, process-group kills and the harness/candidate
split still apply; only for trusted code).

What one run looks like (``namespaces``): the zygote (already in an empty network namespace,
shared by all runs: it has only a downed loopback) creates a fresh PID namespace and forks the
*harness* as its pid 1 *ahead of time* (a pre-forked spare, see below). The harness switches to a
random unprivileged uid (when we are root; RLIMIT_NPROC then counts only this run), enters new
user and IPC namespaces, sets rlimits (CPU, address space, file size, open files, processes,
core = 0), applies Landlock (read: the standard library, /usr/lib, /lib; write: only the
per-run temporary directory and /dev/null; no TCP; on ABI 6+ no signals or abstract unix sockets
leave the domain), a hand-assembled seccomp filter (no ptrace, process_vm_*, mount, unshare,
setns, execve, connect, bpf, io_uring, keyctl, userfaultfd, ...; sockets only AF_UNIX stream;
clone may not make namespaces), drops every capability and becomes non-dumpable. It then forks
the *candidate*, which adds a nested Landlock layer and waits for the model's code. That spare
harness then waits on a socket whose other end the zygote has passed to the verifier; the
verifier sends it the code, tests and token directly, and the zygote prepares the next spare
while the run works. A spare holds nothing of any run before its own and serves exactly one.

Threat model. The candidate is hostile and runs arbitrary Python, ctypes included, inside its
own process. What it can reach there is worthless: the zygote never holds tests, tokens or other
samples' code (the verifier talks to each harness over its own socket), and the harness
forks the candidate *before* it reads the code, the tests and the per-run token. The tests run in the
harness, never in the candidate; each call into candidate code is an RPC whose return value
comes back as plain data (exact builtin types, bounded size and depth) or as an opaque handle
that refuses ``==`` and truth tests, so an always-equal object, a monkeypatched builtin, a
patched ``AssertionError``, frame or ``gc`` walking, ``sys.exit``/``os._exit`` or a forged
"passed" print all change nothing the harness trusts. The harness writes the results and the
token on a socket the candidate closed before running any model code and cannot reopen (no
ptrace, non-dumpable, nested Landlock domain, no pidfd_getfd); the verifier accepts a pass only
with that token, re-checks every ``assert a == b`` on the returned plain data itself, and treats
exit codes as no evidence. stdin/stdout programs are compared by the verifier; expected outputs
never enter the sandbox. The verifier enforces wall-clock deadlines with select (no signals),
then the zygote kills pid 1, so the kernel kills everything left in the PID namespace; the
zygote is a child subreaper and also reaps anything that ended up under it.

Limits, honestly: (1) the test code itself is trusted: it runs in the harness (sandboxed too,
but with the candidate's answers in hand). (2) Helpers the *candidate's program* defines (a
HumanEval prompt's ``poly``) run in the candidate, so tests that call them trust the candidate's
version, exactly as every harness does. (3) Only plain data crosses the RPC: tests that pass
functions to the candidate, or depend on object identity, fail instead of passing. (4) Isolation
is as strong as the kernel: a kernel exploit reachable through the allowed syscalls escapes;
bwrap adds a minimal mount namespace on top. (5) The seccomp table is x86_64 only; elsewhere
``namespaces`` is refused and ``bwrap`` is the tier. (6) The run's random uid may be unable to
walk to the Python installation (pyenv or conda in a mode-700 home): the zygote hands each run descriptors to the
standard library and lib-dynload (``_DirFdFinder``), so standard-library imports work, but
installed packages (``site_packages=True``) must be readable by any uid. (7) Non-root users get
no per-run uid (only one uid is mapped in their user namespace); the per-run PID namespace still
contains and cleans up the run. This path is not exercised by the tests here (they run as root).
(8) The bwrap tier runs all of one zygote's runs inside bwrap's namespaces (nested user
namespaces are refused in its chroot): no per-run PID namespace or uid; runs are cleaned up by
process-group kills plus the zygote's subreaper sweep.

Cost. A check is two forks of a ~18 MB zygote (harness and candidate), their copy-on-write
faults and exits, and one RPC round trip per call into model code. Most of that (forks,
isolation setup, the first-touch page faults of the hot path, which the spare takes by running it
once on dummy input) happens in the spare, off the check's critical path; what remains on it is
the hand-over, loading the code, the tests, killing the candidate and reaping the harness. CPU
per check is not reduced by the spare, only moved. The zygote is kept small on purpose (fork
cost grows with its resident size) and its objects are ``gc.freeze``-d; the kernel namespace
setup itself is a small part (the ``none`` tier costs about the same). The harness kills and
reaps the run's processes itself before reporting, which avoids the slow path of PID namespace
teardown. ``bench/code_sandbox.py`` measures all this against one fresh interpreter per check.
"""

from __future__ import annotations

from rlvr.sandbox.runner import ISOLATION_TIERS, RunOutcome, Sandbox, SandboxConfig, probe_isolation

__all__ = ["ISOLATION_TIERS", "RunOutcome", "Sandbox", "SandboxConfig", "probe_isolation"]
