"""Metric keys: the names of the per-step metrics in ``metrics.jsonl``.

One constant per key, shared by the trainer that writes them, the health monitor that judges
them, and the lab and reports that draw them, so a renamed key breaks at import, not silently.
Keys are ``namespace/name``; the namespace says what part of the step a number describes.
``tools/*`` describe a multi-turn run's tool-using episodes (``rlvr.diagnostics.agent``); a
single-turn run logs none of them.
"""

from __future__ import annotations

STEP = "step"

# reward/: what the verifier said about every sampled completion
REWARD_MEAN = "reward/mean"
REWARD_STD = "reward/std"  # mean within-group std (TRL's ``reward_std``)
REWARD_STD_BATCH = "reward/std_batch"  # std over the whole batch
REWARD_CORRECT_FRAC = "reward/correct_frac"  # share of verdicts with status "correct": the pass rate
REWARD_OVERLONG_PENALTY = "reward/overlong_penalty"  # mean DAPO soft overlong punishment (when on)

# groups/: GRPO groups (G completions of one prompt)
GROUPS_FRAC_ZERO_STD = "groups/frac_zero_std"  # groups whose rewards all agree (no signal)
GROUPS_SAMPLED = "groups/sampled"
GROUPS_TRAINED = "groups/trained"

# policy/: the policy being trained
POLICY_ENTROPY = "policy/entropy"  # nats per token
POLICY_KL = "policy/kl"  # to the reference (initial) policy; logged also when beta = 0
POLICY_LOGPROB_GAP = "policy/logprob_gap"  # sampling vs training log-probs

# loss/: the surrogate objective
LOSS_TOTAL = "loss/total"
LOSS_PG = "loss/pg"
LOSS_CLIP_FRAC = "loss/clip_frac"
LOSS_RATIO_MEAN = "loss/ratio_mean"

# optim/: the optimiser
OPTIM_GRAD_NORM = "optim/grad_norm"
OPTIM_LR = "optim/lr"
OPTIM_UPDATES = "optim/updates"

# gen/: generation
GEN_LEN_MEAN = "gen/len_mean"
GEN_LEN_MAX = "gen/len_max"
GEN_TRUNCATED_FRAC = "gen/truncated_frac"  # completions that hit the max length

# verify/: verdict statuses that are not "correct"/"incorrect"
VERIFY_ERROR_RATE = "verify/error_rate"  # the verifier itself failed
VERIFY_TIMEOUT_RATE = "verify/timeout_rate"
VERIFY_UNPARSABLE_RATE = "verify/unparsable_rate"
VERIFY_EXCLUDED = "verify/excluded"  # samples left out of the advantages

SAMPLES_TRAINED = "samples/trained"

# tools/: multi-turn tool-using episodes (``rlvr.diagnostics.agent.agent_metrics``, one Episode per
# completion). Absent from single-turn runs, whose agent checks then stay silent. A "call" is a
# well-formed tool call that reached the environment (an unknown tool name included); a malformed one
# is a parse failure, counted apart.
TOOLS_CALLS_PER_EPISODE = "tools/calls_per_episode"  # mean calls per episode (TRL: tools/call_frequency)
TOOLS_CALL_RATE = "tools/call_rate"  # share of episodes with at least one call
TOOLS_ERROR_RATE = "tools/error_rate"  # calls answered with an error / calls (TRL: tools/failure_frequency)
TOOLS_PARSE_FAILURE_RATE = "tools/parse_failure_rate"  # malformed calls / (calls + malformed calls)
TOOLS_TURNS_MEAN = "tools/turns_mean"  # assistant messages per episode, mean
TOOLS_TURNS_MAX = "tools/turns_max"  # assistant messages per episode, max
TOOLS_OBS_TRUNCATED_RATE = "tools/obs_truncated_rate"  # observations cut at the budget's size / calls
TOOLS_BUDGET_END_RATE = "tools/budget_end_rate"  # episodes ended by a budget or the turn limit
TOOLS_NO_ANSWER_RATE = "tools/no_answer_rate"  # episodes that stopped while still calling tools
TOOLS_FORGED_OBS_RATE = "tools/forged_obs_rate"  # episodes where the model wrote tool-result markup itself
TOOLS_ANSWER_WITHOUT_TOOL_RATE = "tools/answer_without_tool_rate"  # answered without attempting any call

# time/: seconds per phase (never judged)
TIME_ROLLOUT = "time/rollout"
TIME_VERIFY = "time/verify"
TIME_UPDATE = "time/update"
TIME_STEP = "time/step"

# The agent metrics: a run that logs none of them is single-turn, and its agent checks are not "missing".
AGENT_KEYS: tuple[str, ...] = (
    TOOLS_CALLS_PER_EPISODE,
    TOOLS_CALL_RATE,
    TOOLS_ERROR_RATE,
    TOOLS_PARSE_FAILURE_RATE,
    TOOLS_TURNS_MEAN,
    TOOLS_TURNS_MAX,
    TOOLS_OBS_TRUNCATED_RATE,
    TOOLS_BUDGET_END_RATE,
    TOOLS_NO_ANSWER_RATE,
    TOOLS_FORGED_OBS_RATE,
    TOOLS_ANSWER_WITHOUT_TOOL_RATE,
)

# The per-step keys the health monitor reads (and its messages cite), which are also what a
# ``--map theirs=ours`` may target.
METRIC_KEYS: tuple[str, ...] = (
    REWARD_MEAN,
    REWARD_STD,
    GROUPS_FRAC_ZERO_STD,
    POLICY_ENTROPY,
    POLICY_KL,
    LOSS_CLIP_FRAC,
    OPTIM_GRAD_NORM,
    GEN_LEN_MEAN,
    GEN_TRUNCATED_FRAC,
    VERIFY_ERROR_RATE,
    REWARD_CORRECT_FRAC,
    *AGENT_KEYS,
)

# NaN/inf in a metric under one of these namespaces is reported (``time/*`` and others are not).
CHECKED_PREFIXES: tuple[str, ...] = (
    "reward/", "groups/", "policy/", "loss/", "optim/", "gen/", "verify/", "tools/",
)

# Every key above, in order: what a trainer step may log (a new metric gets a constant here first).
ALL_KEYS: tuple[str, ...] = tuple(
    value for name, value in list(globals().items()) if name.isupper() and isinstance(value, str)
)
