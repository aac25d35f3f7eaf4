"""Metric streams shared by the diagnostics tests."""

from __future__ import annotations

from rlvr.diagnostics import HealthConfig, HealthMonitor, HealthWarning
from rlvr.types import Sample, Verdict
from rlvr.verifiers.base import BaseVerifier


def healthy_row(i: int) -> dict[str, float]:
    """A run that learns: reward rises, entropy eases down, KL and length grow a little."""
    return {
        "reward/mean": 0.2 + 0.01 * i,
        "reward/std": 0.4 - 0.002 * i,
        "groups/frac_zero_std": 0.25 + 0.005 * i,
        "policy/entropy": 1.2 - 0.01 * i,
        "policy/kl": 0.001 * i,
        "loss/clip_frac": 0.02,
        "optim/grad_norm": 0.8,
        "gen/len_mean": 40.0 + 0.5 * i,
        "gen/truncated_frac": 0.05,
        "verify/error_rate": 0.01 if i % 7 else 0.04,
        "time/step_s": 1.5,
    }


def run(rows: list[dict[str, float]], **cfg) -> tuple[HealthMonitor, list[HealthWarning]]:
    mon = HealthMonitor(HealthConfig(**cfg))
    out: list[HealthWarning] = []
    for step, metrics in enumerate(rows, start=1):
        out.extend(mon.update(step, metrics))
    return mon, out


class SwallowsTimeouts(BaseVerifier):
    """A deliberately broken verifier: every check times out and the exception becomes a silent 0."""

    name = "swallows-timeouts"

    def check(self, sample: Sample) -> Verdict:
        try:
            raise TimeoutError("the check took too long")
        except TimeoutError:
            return Verdict.incorrect("0")  # the bug behind several public trainers' flat curves


def healthy_agent_row(i: int) -> dict[str, float]:
    """A tool-using run that learns: calls and turns wobble, few errors, no forging, no abandonment."""
    wobble = 0.1 * ((i % 5) - 2)  # -0.2 .. +0.2
    return {
        "tools/calls_per_episode": 2.0 + wobble,
        "tools/call_rate": 0.9 + wobble / 4,
        "tools/error_rate": 0.15 + wobble / 2,
        "tools/parse_failure_rate": 0.03,
        "tools/turns_mean": 3.0 + wobble,
        "tools/turns_max": 6.0,
        "tools/obs_truncated_rate": 0.05,
        "tools/budget_end_rate": 0.1,
        "tools/no_answer_rate": 0.05,
        "tools/forged_obs_rate": 0.0,
        "tools/answer_without_tool_rate": 0.08 - wobble / 4,
    }
