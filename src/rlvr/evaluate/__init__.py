"""Evaluation: what did RL buy? Unbiased pass@k, base-vs-trained comparison, random-reward control.

Typical use::

    from rlvr.evaluate import load_samples, compare
    base = load_samples("base.jsonl", verifier="math")
    trained = load_samples("trained.jsonl", verifier="math")
    result = compare(base, trained, ks=[1, 4, 16, 64])
    print(result.verdict, result.to_dict()["compression_ratio"])

Several RL runs of one base: ``pooled_compare([base], [run0, run1, run2], ks=[1, 16])``.

Pure estimators (``pass_at_k``, ``pass_hat_k``, ``cons_at_k``, ``bootstrap_ci``) live in
``rlvr.evaluate.passk`` and need nothing but the standard library.
"""

from rlvr.evaluate.compare import VERDICTS, ComparisonResult, compare
from rlvr.evaluate.passk import (
    bootstrap_ci,
    bootstrap_indices,
    cons_at_k,
    pass_at_k,
    pass_at_k_table,
    pass_hat_k,
)
from rlvr.evaluate.pooled import pooled_compare
from rlvr.evaluate.samples import ProblemOutcomes, SampleSet, load_samples, samples_from_records
from rlvr.evaluate.spurious import SpuriousResult, spurious_analysis
from rlvr.evaluate.summary import SetSummary, default_ks, parse_ks, summarize
from rlvr.evaluate.verdict import DEFAULT_MARGIN, VERDICT_MEANING, direction, verdict_label

__all__ = [
    "DEFAULT_MARGIN",
    "VERDICTS",
    "VERDICT_MEANING",
    "ComparisonResult",
    "ProblemOutcomes",
    "SampleSet",
    "SetSummary",
    "SpuriousResult",
    "bootstrap_ci",
    "bootstrap_indices",
    "compare",
    "cons_at_k",
    "default_ks",
    "direction",
    "load_samples",
    "parse_ks",
    "pass_at_k",
    "pass_at_k_table",
    "pass_hat_k",
    "pooled_compare",
    "samples_from_records",
    "spurious_analysis",
    "summarize",
    "verdict_label",
]
