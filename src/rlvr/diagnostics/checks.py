"""The health checks as a table: which metric, which direction, which threshold, what it means.

Each ``Check`` is one declarative rule; ``HealthMonitor.update`` loops over ``CHECKS``. Rules that
share a ``code`` and ``metrics`` form one condition (entropy: an absolute floor, then a fall
relative to the start): the first rule that is bad names the warning, and the condition is
observed once per step. Messages say what a reading means, then what to do.

==========================  =====================================================================
``reward_variance_collapse``  ``reward/std`` < ``reward_std_min``
``entropy_collapse``          ``policy/entropy`` < ``entropy_min``, or < ``entropy_drop_ratio`` × its
                              starting value (mean of the first ``baseline_steps`` observations)
``kl_explosion``              ``policy/kl`` > ``kl_max``
``length_explosion``          ``gen/len_mean`` > ``length_growth_max`` × its starting value, or
                              ``gen/truncated_frac`` (completions that hit the max length) >
                              ``truncated_frac_max``
``zero_variance_groups``      ``groups/frac_zero_std`` > ``zero_std_frac_max``
``verifier_errors``           ``verify/error_rate`` > ``error_rate_max``
``non_finite``                any checked metric (``reward/*``, ``policy/*``, ``gen/*``, ...) is NaN/inf
==========================  =====================================================================
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from rlvr.diagnostics import keys

__all__ = ["CHECKS", "HEALTH_CODES", "LOW_IS_BAD", "Check", "Reading", "json_number"]


@dataclass(frozen=True)
class Reading:
    """What a message template gets: the value against its threshold, and the step's context."""

    metric: str
    value: float
    threshold: float | None
    start: float | None = None
    """The metric's starting value, for relative rules (None: an absolute rule)."""
    values: Mapping[str, float] = field(default_factory=dict)
    """Every finite metric of the step (a message may cite a neighbour, e.g. the mean reward)."""


@dataclass(frozen=True)
class Check:
    """One rule: ``metrics[0]`` (or the first present of ``metrics``) compared to a config field."""

    code: str
    metrics: tuple[str, ...]
    """The metric read, in preference order (the first present one is judged)."""
    bad: Literal["below", "above"]
    """The reading is bad when it is strictly below / above the threshold."""
    threshold: str
    """The ``HealthConfig`` field holding the threshold; its value ``None`` turns the rule off."""
    message: Callable[[Reading], str]
    relative: bool = False
    """The threshold is the field times the metric's starting value (no verdict until it is known)."""


def json_number(value: float | None) -> float | str | None:
    """``value`` unchanged when finite; NaN/inf as the strings ``"nan"``, ``"inf"``, ``"-inf"``."""
    if value is None or math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _g(value: float) -> str:
    """Three significant digits, the way a person reads a metric."""
    return f"{value:.3g}"


# --- messages: what the reading means, then what to do ---------------------------------------


def _msg_reward_std(r: Reading) -> str:
    assert r.threshold is not None
    mean = r.values.get(keys.REWARD_MEAN)
    if mean is not None and mean <= 0.05:
        hint = f"the mean reward is {_g(mean)}: the task is too hard for this model; curate easier prompts"
    elif mean is not None and mean >= 0.95:
        hint = f"the mean reward is {_g(mean)}: the task is too easy; curate harder prompts"
    else:
        hint = "curate prompts into a 0.3-0.7 pass-rate band (rlvr curate)"
    return (
        f"reward/std is {_g(r.value)} < {_g(r.threshold)}: almost every completion gets the same reward, so the "
        f"advantages are ~0 and the policy stops learning; {hint}, or raise the temperature or group size."
    )


def _msg_entropy(r: Reading) -> str:
    assert r.threshold is not None
    thr, start = r.threshold, r.start
    what = f"< {_g(thr)}" if start is None else f"< {_g(thr)}, under {_g(thr / start * 100)}% of its start {_g(start)}"
    return (
        f"policy/entropy fell to {_g(r.value)} ({what}): the policy is turning deterministic and will "
        "stop exploring; lower the learning rate, use clip-higher (a larger upper clip), add an "
        "entropy bonus or raise the sampling temperature."
    )


def _msg_kl(r: Reading) -> str:
    assert r.threshold is not None
    return (
        f"policy/kl is {_g(r.value)} > {_g(r.threshold)}: the policy has moved far from its reference and "
        "training is likely unstable; lower the learning rate, raise the KL coefficient or tighten "
        "the clip range, and check the reward for hacking."
    )


def _msg_length(r: Reading) -> str:
    assert r.threshold is not None and r.start is not None
    return (
        f"gen/len_mean grew to {_g(r.value)} tokens (> {_g(r.threshold)}, {_g(r.value / r.start)}x its start "
        f"{_g(r.start)}): completions are getting longer fast, often repetition loops or reward hacking "
        "through length; read some samples, use a length-unbiased loss (Dr. GRPO) or an overlong penalty."
    )


def _msg_truncated(r: Reading) -> str:
    assert r.threshold is not None
    return (
        f"gen/truncated_frac is {_g(r.value)} > {_g(r.threshold)}: most completions hit the max length, so their "
        "final answers are cut off and score as wrong; raise the max completion length, mask "
        "truncated completions, or look for repetition loops."
    )


def _msg_zero_std(r: Reading) -> str:
    assert r.threshold is not None
    return (
        f"loss is ~0 because every group agreed: {_g(r.value * 100)}% of groups (> {_g(r.threshold * 100)}%) gave "
        "all their samples the same reward, so their advantages are 0 and they teach nothing; use "
        "dynamic sampling, curate prompts into a 0.3-0.7 pass-rate band, or raise the group size or "
        "temperature."
    )


def _msg_errors(r: Reading) -> str:
    assert r.threshold is not None
    return (
        f"verify/error_rate is {_g(r.value * 100)}% > {_g(r.threshold * 100)}%: the verifier itself is failing "
        "(status 'error'); those samples are left out of the advantages; run rlvr verify on some "
        "outputs to read the tracebacks, and check timeouts and worker counts."
    )


def msg_non_finite(metric: str, value: float) -> str:
    """The ``non_finite`` message (that check is not a table row: it applies to every checked key)."""
    return (
        f"{metric} is {json_number(value)}: training has diverged or the metric is broken; lower the "
        "learning rate, clip gradients, and check for empty groups or zero-length completions."
    )


# --- the table ----------------------------------------------------------------------------------

CHECKS: tuple[Check, ...] = (
    Check("reward_variance_collapse", (keys.REWARD_STD,), "below", "reward_std_min", _msg_reward_std),
    Check("entropy_collapse", (keys.POLICY_ENTROPY,), "below", "entropy_min", _msg_entropy),
    Check("entropy_collapse", (keys.POLICY_ENTROPY,), "below", "entropy_drop_ratio", _msg_entropy, relative=True),
    Check("kl_explosion", (keys.POLICY_KL,), "above", "kl_max", _msg_kl),
    Check("length_explosion", (keys.GEN_LEN_MEAN,), "above", "length_growth_max", _msg_length, relative=True),
    Check("length_explosion", (keys.GEN_TRUNCATED_FRAC,), "above", "truncated_frac_max", _msg_truncated),
    Check("zero_variance_groups", (keys.GROUPS_FRAC_ZERO_STD,), "above", "zero_std_frac_max", _msg_zero_std),
    Check("verifier_errors", (keys.VERIFY_ERROR_RATE,), "above", "error_rate_max", _msg_errors),
)

HEALTH_CODES: tuple[str, ...] = (*dict.fromkeys(c.code for c in CHECKS), "non_finite")
# Codes whose bad direction is "too low" (the worst reading is the lowest one).
LOW_IS_BAD: frozenset[str] = frozenset(c.code for c in CHECKS if c.bad == "below")
