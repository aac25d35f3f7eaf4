"""Curation by pass rate with a scripted policy (exact pass rates) and with the tiny model."""

from __future__ import annotations

import torch

from rlvr.data.curate import curate, pass_rate_histogram
from rlvr.engine import EngineConfig
from rlvr.policy.base import Rollout, TokenBatch
from rlvr.types import Sample, Verdict
from rlvr.verifiers.base import BaseVerifier


class Scripted:
    """Prompt "p<j>" gets j correct completions ("ok") out of n; prompt "err" gets verifier errors."""

    pad_id = 0

    def sample(self, prompts, *, n=1, temperature=1.0, top_p=1.0, max_new_tokens=8, seed=None):
        texts = []
        for p in prompts:
            j = int(p[1:]) if p.startswith("p") else 0
            texts += ["boom" if p == "err" else ("ok" if i < j else "no") for i in range(n)]
        rows = len(texts)
        tokens = TokenBatch(torch.zeros(rows, 2, dtype=torch.long), torch.ones(rows, 2, dtype=torch.long), 1,
                            torch.ones(rows, 1))
        return Rollout(tokens, texts, [i // n for i in range(rows)], torch.zeros(rows, 1),
                       torch.zeros(rows, dtype=torch.bool))


class OkVerifier(BaseVerifier):
    def check(self, sample: Sample) -> Verdict:
        if sample.output == "boom":
            raise RuntimeError("verifier backend down")
        return Verdict.correct() if sample.output == "ok" else Verdict.incorrect("not ok")


def test_band_keeps_prompts_in_range_with_exact_rates():
    records = [{"id": f"q{j}", "prompt": f"p{j}", "answer": None} for j in range(9)] + [{"id": "e", "prompt": "err"}]
    result = curate(Scripted(), records, OkVerifier(), k=8, band=(0.3, 0.7), batch_prompts=3,
                    engine=EngineConfig(workers=0))
    assert result.pass_rates == [j / 8 for j in range(9)] + [None]
    # 0.3 <= j/8 <= 0.7  ->  j = 3, 4, 5
    assert [r["id"] for r in result.kept] == ["q3", "q4", "q5"]
    assert [r["pass_rate"] for r in result.kept] == [0.375, 0.5, 0.625]
    s = result.summary()
    assert (s["prompts"], s["kept"], s["too_easy"], s["too_hard"], s["no_valid_samples"]) == (10, 3, 3, 3, 1)
    hist = {b["pass_rate"]: (b["count"], b["kept"]) for b in s["histogram"]}
    assert hist[0.0] == (1, False) and hist[0.5] == (1, True) and sum(c for c, _ in hist.values()) == 9


def test_histogram_bins():
    bins = pass_rate_histogram([0.0, 0.25, 0.25, 1.0, None], 4, (0.25, 0.5))
    assert [(b["pass_rate"], b["count"], b["kept"]) for b in bins] == [
        (0.0, 1, False), (0.25, 2, True), (0.5, 0, True), (0.75, 0, False), (1.0, 1, False)
    ]
