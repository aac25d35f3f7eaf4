"""The lab's jobs as Ray tasks (``--executor ray``) give the local process pool's numbers, and a
job's own error reaches the user as itself."""

from __future__ import annotations

import json
from typing import Any

import pytest

ray = pytest.importorskip("ray")  # the ray extra; CI installs it with the test extra

from lab_helpers import SMALL  # noqa: E402

from rlvr.errors import ConfigError  # noqa: E402
from rlvr.lab import lab_config  # noqa: E402
from rlvr.lab.study import run_lab  # noqa: E402

pytestmark = pytest.mark.slow  # a Ray start-up and a small study (and the local one, if not yet run)


@pytest.fixture(scope="module")
def ray_cluster():
    """A local 2-CPU Ray on loopback, as the verify executor starts one; the lab uses it, not its own."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    try:
        yield
    finally:
        ray.shutdown()


def numbers(summary: dict[str, Any]) -> str:
    return json.dumps({k: summary[k] for k in ("arms", "per_seed", "spurious", "trajectory", "verdict")},
                      sort_keys=True)


def test_ray_tasks_give_the_numbers_of_local_processes(tmp_path, lab_cache, ray_cluster, small_local):
    local = small_local  # the small study on 2 local processes
    settings = {**SMALL, "workers": 2, "cache_dir": str(lab_cache)}
    on_ray = run_lab(lab_config("quick", **settings, out_dir=str(tmp_path / "ray")), quiet=True, executor="ray")
    assert on_ray["timings"]["jobs"] == {"run": 8, "reused": 0}
    for arm, a in local["arms"].items():
        assert on_ray["arms"][arm]["pass_at_k"] == a["pass_at_k"], arm
    assert numbers(on_ray) == numbers(local)
    assert ray.is_initialized()  # the lab ran on this instance and left it running


def test_a_failing_job_on_ray_raises_its_own_error(tmp_path, lab_cache, ray_cluster):
    cfg = lab_config("quick", **{**SMALL, "seeds": 1, "workers": 2, "band": (0.99, 0.99),
                                 "cache_dir": str(lab_cache), "out_dir": str(tmp_path / "none")})
    with pytest.raises(ConfigError, match="curation kept no prompt"):
        run_lab(cfg, quiet=True, executor="ray")
