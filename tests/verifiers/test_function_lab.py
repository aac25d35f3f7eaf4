"""`rlvr lab` on the user's model and data with a plain-function verifier (the article's
``verifier(output, ground_truth) -> float``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from user_functions import write_user_module  # noqa: E402

pytestmark = pytest.mark.slow  # a whole (tiny) study: pretrain, curate, two training arms, sampling


def test_lab_with_a_plain_function_verifier(tmp_path, monkeypatch):
    from rlvr.data.tasks import multidigit
    from rlvr.lab import lab_config, run_lab
    from rlvr.policy.tiny import TinyConfig, TinyPolicy, pretrain

    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.setenv("RLVR_CACHE_DIR", str(tmp_path / "cache"))
    name = write_user_module(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    records = multidigit(60, seed=9, level=1)
    policy = TinyPolicy(TinyConfig(n_layer=1, n_embd=32, block_size=12), seed=0)
    pretrain(policy, [(r["prompt"], r["answer"]) for r in records], steps=60)
    policy.save(tmp_path / "model")
    data = tmp_path / "prompts.jsonl"
    data.write_text("".join(json.dumps({"id": r["id"], "prompt": r["prompt"], "answer": r["answer"]}) + "\n"
                            for r in records))
    cfg = lab_config(
        "custom", model=str(tmp_path / "model"), data=str(data), verifier=f"{name}:verifier",
        out_dir=str(tmp_path / "run"), steps=2, n_samples=4, max_new_tokens=3, band=(0.0, 1.0),
        prompts_per_step=4, group_size=2, n_boot=50, progress=False,
    )
    summary = run_lab(cfg, quiet=True)
    assert summary["verifier"] == f"{name}:verifier"
    rows = [json.loads(x) for x in (tmp_path / "run" / f"seed{cfg.seed}" / "samples" / "base_in_distribution.jsonl").read_text().splitlines()]
    assert rows and {r["reason"] for r in rows} <= {f"{name}:verifier returned 1.0", f"{name}:verifier returned 0.0"}
    assert all(r["status"] in ("correct", "incorrect") for r in rows)
