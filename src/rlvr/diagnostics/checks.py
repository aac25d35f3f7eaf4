"""The health checks as a table: which metric, which direction, which threshold, what it means.

Each ``Check`` is one declarative rule; ``HealthMonitor.update`` loops over ``CHECKS``. Rules that
share a ``code`` and ``metrics`` form one condition (entropy: an absolute floor, then a fall
relative to the start): the first rule that is bad names the warning, and the condition is
observed once per step. Messages say what a reading means, then what to do.

The two verifier checks (``verifier_errors``, ``silent_verifier``) are the silent-verifier alarm:
a verifier whose timeouts or exceptions become a 0, or that accepts everything, leaves only
zero-variance groups and a flat curve. Their messages name the verifier (``HealthMonitor(...,
verifier="math")``) and the commands that check it.

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
``silent_verifier``           the pass rate (``reward/correct_frac``; else ``reward/mean`` when every
                              reward agrees) is exactly 0 or exactly 1 for
                              ``silent_verifier_patience`` steps
``tool_errors``               ``tools/error_rate`` > ``tool_error_rate_max``
``tool_parse_failures``       ``tools/parse_failure_rate`` > ``parse_failure_rate_max``
``turn_explosion``            ``tools/turns_mean`` > ``turns_growth_max`` × its starting value, or
                              ``tools/budget_end_rate`` > ``budget_end_rate_max``
``observation_truncation``    ``tools/obs_truncated_rate`` > ``obs_truncated_rate_max``
``forged_observations``       ``tools/forged_obs_rate`` > ``forged_obs_rate_max``, or more than
                              ``forged_obs_rise`` above its starting value
``tool_abandonment``          ``tools/answer_without_tool_rate`` more than ``tool_abandon_rise`` above
                              its starting value while ``tools/calls_per_episode`` is below its own
``non_finite``                any checked metric (``reward/*``, ``policy/*``, ``gen/*``, ...) is NaN/inf
==========================  =====================================================================

The agent checks (``tools/*``, from ``rlvr.diagnostics.agent.agent_metrics``) read metrics that
single-turn runs never log: there they stay silent, and are not listed as checks without data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from rlvr.diagnostics import keys

__all__ = ["AGENT_CODES", "CHECKS", "HEALTH_CODES", "LOW_IS_BAD", "Check", "Reading", "json_number"]


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
    verifier: str | None = None
    """The verifier's name (``math``, ``module:object``) or a description; None: unknown."""
    run: int = 1
    """Consecutive observations of this same value (for ``at_0_or_1``)."""
    starts: Mapping[str, float] = field(default_factory=dict)
    """Starting values of the rule's ``falling`` metrics (what they fell from)."""
    env: str | None = None
    """The tool environment's name (``python``, ``module:Class``); None: unknown."""


@dataclass(frozen=True)
class Check:
    """One rule: ``metrics[0]`` (or the first present of ``metrics``) compared to a config field."""

    code: str
    metrics: tuple[str, ...]
    """The metric read, in preference order (the first present one is judged)."""
    bad: Literal["below", "above", "rise", "at_0_or_1"]
    """Bad when strictly below / above the threshold, more than the threshold above the starting value
    (``rise``: a margin, for rates that start at 0), or (``at_0_or_1``) exactly 0 or exactly 1."""
    threshold: str | None
    """The ``HealthConfig`` field holding the threshold, its value ``None`` turning the rule off;
    None for ``at_0_or_1`` (no threshold)."""
    message: Callable[[Reading], str]
    relative: bool = False
    """The threshold is measured from the metric's starting value: the field times it, or (``rise``) the
    field added to it; no verdict until it is known."""
    patience: str = "patience"
    """The ``HealthConfig`` field holding the consecutive bad observations needed; 0 turns it off."""
    fallback_if_zero: tuple[str, ...] = ()
    """A fallback metric (not ``metrics[0]``) is bad only when these keys are absent or 0: a mean
    reward of 0 is a pass rate of 0 only when every reward agrees."""
    falling: tuple[str, ...] = ()
    """Metrics that must also read below their starting value for the rule to be bad (answers without a
    tool rise *while* calls fall); one absent or without a start yet keeps the rule silent."""


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


def _who(verifier: str | None) -> str:
    if not verifier:
        return "the verifier"
    return f"the verifier {verifier!r}" if _is_name(verifier) else f"the verifier ({verifier})"


def _is_name(name: str | None) -> bool:
    """A registry name or ``module:object`` can go on a command line; a description cannot."""
    return name is not None and name != "" and not any(c.isspace() for c in name)


def _commands(verifier: str | None) -> str:
    name = verifier if _is_name(verifier) else "NAME"
    return (
        f"run `rlvr audit --verifier {name}` to test it on known right and wrong answers, and "
        f"`rlvr verify FILE --verifier {name}` on a few sampled outputs to read each verdict's reason"
    )


def _msg_errors(r: Reading) -> str:
    assert r.threshold is not None
    return (
        f"verify/error_rate is {_g(r.value * 100)}% > {_g(r.threshold * 100)}%: {_who(r.verifier)} itself is "
        "failing (status 'error'); those samples are left out of the advantages; "
        f"{_commands(r.verifier)} (the tracebacks), and check timeouts and worker counts."
    )


def _msg_silent(r: Reading) -> str:
    who = _who(r.verifier)
    steps = f"{r.run} step{'s' if r.run != 1 else ''}"
    if r.value == 0:
        errors = r.values.get(keys.VERIFY_ERROR_RATE, 0.0)
        also = f" ({_g(errors * 100)}% of verdicts were errors)" if errors > 0 else ""
        return (
            f"{r.metric} has been exactly 0 for {steps}: no completion passed {who}{also}, "
            "so every group has zero variance and nothing is learned; the task may be far too hard "
            "(curate easier prompts), but first suspect the verifier: a timeout or exception scored as 0, a "
            f"wrong answer field or format, an extraction that never matches; {_commands(r.verifier)}."
        )
    return (
        f"{r.metric} has been exactly 1 for {steps}: every completion passed {who}, so "
        "every group has zero variance and nothing is learned; the task may be too easy (curate "
        "harder prompts), or the verifier accepts everything: a check that never runs, a reward hack, an "
        f"answer leaked into the prompt; {_commands(r.verifier)}."
    )


def _pct(value: float) -> str:
    return f"{_g(value * 100)}%"


def _env_commands(env: str | None) -> str:
    name = env if _is_name(env) else "NAME"
    return (
        f"audit the environment: `rlvr audit --env {name}` (its exploit and failure catalogue), and replay a "
        f"few episodes with `rlvr env replay FILE --env {name}` to read each call's error"
    )


def _msg_tool_errors(r: Reading) -> str:
    assert r.threshold is not None
    calls = r.values.get(keys.TOOLS_CALLS_PER_EPISODE)
    per = f" ({_g(calls)} calls per episode)" if calls is not None else ""
    what = "every tool call" if r.value >= 1.0 else "most tool calls"
    return (
        f"tools/error_rate is {_pct(r.value)} > {_pct(r.threshold)}: {what}{per} came back as an error, so "
        "the policy learns from error messages, not results; a tool may be broken (its sandbox, database "
        "file, a missing dependency, a timeout too short) rather than called badly; "
        f"{_env_commands(r.env)}."
    )


def _msg_parse_failures(r: Reading) -> str:
    assert r.threshold is not None
    return (
        f"tools/parse_failure_rate is {_pct(r.value)} > {_pct(r.threshold)}: the model's tool calls do not "
        "parse (malformed JSON, unclosed <tool_call> tags, a form the parser does not read), so it gets "
        "error observations instead of results; check that the chat template renders the tool schemas and "
        "matches the model's call format (rlvr.env.parse_tool_calls on a few samples), lower the "
        "temperature, or warm-start the model on well-formed calls."
    )


def _msg_turns(r: Reading) -> str:
    assert r.threshold is not None and r.start is not None
    longest = r.values.get(keys.TOOLS_TURNS_MAX)
    most = f"; the longest has {_g(longest)}" if longest is not None else ""
    return (
        f"tools/turns_mean grew to {_g(r.value)} assistant turns per episode (> {_g(r.threshold)}, "
        f"{_g(r.value / r.start)}x its start {_g(r.start)}{most}): episodes are getting longer fast, often a "
        "call loop (the same call again and again) or a policy that stalls instead of answering; read some "
        "episodes, lower max_turns, or penalise turns in the reward."
    )


def _msg_budget_end(r: Reading) -> str:
    assert r.threshold is not None
    return (
        f"tools/budget_end_rate is {_pct(r.value)} > {_pct(r.threshold)}: most episodes end on the turn limit "
        "or a tool budget instead of an answer, and score as unanswered; look for call loops in the "
        "episodes, or raise max_turns and the tool budgets (rlvr.env.Budget) if the task needs them."
    )


def _msg_obs_truncated(r: Reading) -> str:
    assert r.threshold is not None
    return (
        f"tools/obs_truncated_rate is {_pct(r.value)} > {_pct(r.threshold)}: that share of tool observations "
        "was cut at the budget's size (…[truncated N chars]), so the model acts on partial results; raise "
        "Budget.max_observation_chars, or make the tool return less (print a summary, LIMIT the query)."
    )


def _msg_forged(r: Reading) -> str:
    assert r.threshold is not None
    if r.start is None:
        what = f"is {_pct(r.value)} of episodes (> {_pct(r.threshold)})"
    else:
        what = f"rose to {_pct(r.value)} of episodes from {_pct(r.start)} at the start"
    return (
        f"tools/forged_obs_rate {what}: the model writes tool-result markup (<tool_response>) itself "
        "instead of calling the tool, inventing the observation it then answers from, and RL can reward "
        "the habit; read those episodes, stop generation at the tool-result tags, or score forged markup "
        "as a failed answer."
    )


def _msg_abandon(r: Reading) -> str:
    assert r.threshold is not None and r.start is not None
    calls = keys.TOOLS_CALLS_PER_EPISODE
    fell = ""
    if calls in r.values and calls in r.starts:
        fell = f" while tools/calls_per_episode fell to {_g(r.values[calls])} from {_g(r.starts[calls])}"
    return (
        f"tools/answer_without_tool_rate rose to {_pct(r.value)} from {_pct(r.start)} at the start "
        f"(> {_pct(r.threshold)}){fell}: the policy is learning to answer without its tools; if the pass "
        "rate stays flat it is guessing, if it rises the task may not need the tools (or the answer leaks "
        "into the prompt); check the prompt shows the tool schemas, compare pass rates of episodes with "
        "and without calls, or reward verified tool use."
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
    Check(
        "silent_verifier", (keys.REWARD_CORRECT_FRAC, keys.REWARD_MEAN), "at_0_or_1", None, _msg_silent,
        patience="silent_verifier_patience", fallback_if_zero=(keys.REWARD_STD, keys.REWARD_STD_BATCH),
    ),
    # agent checks (tools/*): silent on single-turn runs, which never log these keys
    Check("tool_errors", (keys.TOOLS_ERROR_RATE,), "above", "tool_error_rate_max", _msg_tool_errors),
    Check(
        "tool_parse_failures", (keys.TOOLS_PARSE_FAILURE_RATE,), "above", "parse_failure_rate_max",
        _msg_parse_failures,
    ),
    Check("turn_explosion", (keys.TOOLS_TURNS_MEAN,), "above", "turns_growth_max", _msg_turns, relative=True),
    Check("turn_explosion", (keys.TOOLS_BUDGET_END_RATE,), "above", "budget_end_rate_max", _msg_budget_end),
    Check(
        "observation_truncation", (keys.TOOLS_OBS_TRUNCATED_RATE,), "above", "obs_truncated_rate_max",
        _msg_obs_truncated,
    ),
    Check("forged_observations", (keys.TOOLS_FORGED_OBS_RATE,), "above", "forged_obs_rate_max", _msg_forged),
    Check(
        "forged_observations", (keys.TOOLS_FORGED_OBS_RATE,), "rise", "forged_obs_rise", _msg_forged,
        relative=True,
    ),
    Check(
        "tool_abandonment", (keys.TOOLS_ANSWER_WITHOUT_TOOL_RATE,), "rise", "tool_abandon_rise", _msg_abandon,
        relative=True, falling=(keys.TOOLS_CALLS_PER_EPISODE,),
    ),
)

HEALTH_CODES: tuple[str, ...] = (*dict.fromkeys(c.code for c in CHECKS), "non_finite")
# Codes judged only on agent metrics: a run that logs none of them is single-turn, not missing data.
AGENT_CODES: frozenset[str] = frozenset(c.code for c in CHECKS if set(c.metrics) <= set(keys.AGENT_KEYS))
# Codes whose bad direction is "too low" (the worst reading is the lowest one).
LOW_IS_BAD: frozenset[str] = frozenset(c.code for c in CHECKS if c.bad == "below")
