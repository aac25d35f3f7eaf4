import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_is_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    out = subprocess.run([ruff, "check", "src", "tests", "bench"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-1000:]


# Packages whose types mypy checks.
MYPY_PACKAGES = (
    "rlvr.grpo",
    "rlvr.evaluate",
    "rlvr.lab",
    "rlvr.verifiers",
    "rlvr.engine",
    "rlvr.httpclient",
    "rlvr.lazy",
    "rlvr.options",
    "rlvr.report.format",
    "rlvr.report.progress",
)


def test_mypy_is_clean():
    args = [sys.executable, "-m", "mypy", "--cache-dir", str(ROOT / ".mypy_cache")]
    for name in MYPY_PACKAGES:
        args += ["-p", name]
    env = {**os.environ, "MYPYPATH": str(ROOT / "src")}
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-1000:]
