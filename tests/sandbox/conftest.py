from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from rlvr.sandbox import probe_isolation  # noqa: E402


@pytest.fixture(scope="session")
def features():
    return probe_isolation()


@pytest.fixture(scope="session")
def namespaces_ok(features):
    missing = [k for k in ("userns", "netns", "pidns", "seccomp") if not features.get(k)]
    if not features.get("landlock_abi"):
        missing.append("landlock")
    if missing:
        pytest.skip(f"kernel lacks {missing}: the namespaces tier cannot run here")
    return True
