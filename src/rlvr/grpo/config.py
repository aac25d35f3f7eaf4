"""The trainer's typed config: frozen dataclasses, read from TOML/YAML, checked once, up front.

One TOML table per section (``[run]``, ``[model]``, ``[data]``, ``[verifier]``, ``[rollout]``,
``[advantage]``, ``[loss]``, ``[optim]``, ``[health]``) plus an optional top-level
``algorithm = "grpo" | "dr_grpo" | "dapo" | "rloo" | "gspo" | "median"`` preset whose settings
fill in whatever the file does not set. Unknown keys, wrong types and inconsistent settings raise
``ConfigError`` with a message that names the fix::

    unknown key 'lr' in [optim]; did you mean 'learning_rate'?

This module does not import torch.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rlvr.diagnostics import HealthConfig
from rlvr.errors import ConfigError
from rlvr.grpo.coerce import build_dataclass
from rlvr.options import split_pair
from rlvr.types import UNJUDGED

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "ALGORITHMS",
    "AdvantageConfig",
    "DataConfig",
    "EnvConfig",
    "GRPOConfig",
    "LossConfig",
    "ModelConfig",
    "OptimConfig",
    "RolloutConfig",
    "RunConfig",
    "TinyModelConfig",
    "VerifierConfig",
    "apply_overrides",
    "config_from_dict",
    "load_config",
]

Baseline = Literal["mean", "median", "rloo"]
Scale = Literal["group", "batch", "none"]
Aggregation = Literal["token-mean", "seq-mean-token-mean", "seq-mean-token-sum", "seq-mean-token-sum-norm"]
RatioLevel = Literal["token", "sequence"]
KLEstimator = Literal["k1", "k2", "k3"]
Prune = Literal["none", "top", "variance"]
Schedule = Literal["none", "difficulty", "pass_rate"]


@dataclass(frozen=True)
class RunConfig:
    """How long, where and how the run is recorded."""

    steps: int = 50
    """Training steps (one rollout batch and its updates each)."""
    seed: int = 0
    """Seed of everything random: model init, prompt order, sampling."""
    out_dir: str | None = "runs/grpo"
    """Run directory (config.json, metrics.jsonl, health.jsonl, checkpoints/, summary.json); None: no files."""
    checkpoint_every: int = 10
    """Save a checkpoint every this many steps (and at the end); 0 only at the end."""
    keep_checkpoints: int = 2
    """Checkpoints kept on disk (older ones are deleted)."""
    device: str = "cpu"
    """Torch device for the policy ("cpu", "cuda", "cuda:1", ...)."""
    threads: int = 0
    """Torch CPU threads (0: torch's default; 1 is fastest for the tiny model on a busy CPU)."""
    tensorboard: bool = False
    """Also write TensorBoard event files under <out_dir>/tensorboard."""
    progress: bool = True
    """Show a progress bar with the key metrics."""
    save_final: bool = True
    """Save the trained policy to <out_dir>/final (loadable with rlvr.policy.load_policy)."""

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ConfigError(f"[run] steps must be >= 1, got {self.steps}")
        if self.checkpoint_every < 0:
            raise ConfigError("[run] checkpoint_every must be >= 0 (0 = only at the end)")
        if self.threads < 0:
            raise ConfigError("[run] threads must be >= 0 (0 = torch's default)")
        if self.keep_checkpoints < 1:
            raise ConfigError("[run] keep_checkpoints must be >= 1")


@dataclass(frozen=True)
class TinyModelConfig:
    """Size of a fresh built-in tiny GPT (used when [model] name = "tiny")."""

    n_layer: int = 2
    """Transformer blocks."""
    n_head: int = 4
    """Attention heads (must divide n_embd)."""
    n_embd: int = 64
    """Residual stream width."""
    block_size: int = 128
    """Longest prompt + completion, in characters."""


@dataclass(frozen=True)
class ModelConfig:
    """Which policy to train."""

    name: str | None = None
    """"tiny": a fresh built-in tiny GPT (see [model.tiny] and pretrain_steps)."""
    path: str | None = None
    """A local folder (a saved tiny model or a transformers causal LM), a .gguf file, or "smollm2"."""
    dtype: str | None = None
    """Weights dtype for transformers models: float32, bfloat16, float16 or None (as saved)."""
    chat_template: bool | None = None
    """Wrap prompts in the tokenizer's chat template (None: when it has one)."""
    tiny: TinyModelConfig = field(default_factory=TinyModelConfig)
    """Size of a fresh tiny model."""
    pretrain_steps: int = 0
    """Supervised warm-up steps of a fresh tiny model on the task's worked examples (cached)."""
    pretrain_lr: float = 3e-3
    """Learning rate of that warm-up."""
    pretrain_noise: float = 0.0
    """Share of worked examples shown with a slip (``rlvr.data.tasks.slip``: the answer's last digit
    off by one), so the warmed-up model is only sometimes right (a base model for RL to sharpen)."""
    pretrain_tool_share: float = 0.0
    """With [env]: share of worked examples shown as tool-using transcripts (the call, the tool's
    real output, the answer; records need a ``tool_input``, as the ``products`` task's have), so the
    warmed-up model calls the tool only sometimes and tool-use RL has room."""
    pretrain_cache: str | None = None
    """Folder caching warmed-up tiny models by config hash (None: ~/.cache/rlvr/tiny)."""

    def __post_init__(self) -> None:
        if (self.name is None) == (self.path is None):
            raise ConfigError(
                '[model] needs exactly one of name = "tiny" or path = "<local model folder, .gguf file or smollm2>"'
            )
        if self.name is not None and self.name != "tiny":
            raise ConfigError(f'[model] name = {self.name!r}: the only built-in model is "tiny"; use path = ... for others')
        if self.pretrain_steps < 0:
            raise ConfigError("[model] pretrain_steps must be >= 0")
        if not 0.0 <= self.pretrain_noise < 1.0:
            raise ConfigError("[model] pretrain_noise must be in [0, 1)")
        if not 0.0 <= self.pretrain_tool_share <= 1.0:
            raise ConfigError("[model] pretrain_tool_share must be in [0, 1]")
        if self.pretrain_steps and self.name != "tiny":
            raise ConfigError('[model] pretrain_steps only applies to name = "tiny"; remove it')


@dataclass(frozen=True)
class DataConfig:
    """Training prompts: a built-in task or a JSONL file, and the order they are drawn in."""

    task: str | None = None
    """Built-in task generator ("arithmetic"; "products" for the calculator environment)."""
    path: str | None = None
    """JSONL of {"prompt", "answer", ...} records (other fields reach the verifier as metadata)."""
    n_prompts: int = 512
    """Prompts generated by the built-in task."""
    task_seed: int = 1234
    """Seed of the task generator (independent of [run] seed)."""
    max_operand: int = 20
    """Arithmetic: operands are drawn from 0..max_operand."""
    ops: str = "+"
    """Arithmetic: operators to draw from, e.g. "+-*"."""
    prompt_field: str = "prompt"
    """Record field holding the prompt text."""
    schedule: Schedule = "none"
    """Prompt order: none (shuffled epochs), difficulty (easy to hard by the 'difficulty' field),
    pass_rate (easy to hard by measured pass rate)."""
    schedule_start: float = 0.3
    """Curriculum: fraction of the (easiest) prompts available at step 1; grows to 1."""
    schedule_ramp_steps: int = 0
    """Curriculum: steps over which the available fraction grows to 1 (0: the whole run)."""

    def __post_init__(self) -> None:
        if (self.task is None) == (self.path is None):
            raise ConfigError('[data] needs exactly one of task = "arithmetic" or path = "<prompts.jsonl>"')
        from rlvr.data.tasks import TASKS

        if self.task is not None and self.task not in TASKS:
            raise ConfigError(f"[data] task = {self.task!r} is unknown; built-in tasks: {', '.join(sorted(TASKS))}")
        if self.n_prompts < 1:
            raise ConfigError("[data] n_prompts must be >= 1")
        if not 0.0 < self.schedule_start <= 1.0:
            raise ConfigError("[data] schedule_start must be in (0, 1]")
        if self.schedule_ramp_steps < 0:
            raise ConfigError("[data] schedule_ramp_steps must be >= 0")


@dataclass(frozen=True)
class VerifierConfig:
    """The reward: a verifier from the registry, run through the engine."""

    name: str = "math"
    """Registry name (math, code, sql, random, ...), module:object or file.py:function (a plain function works)."""
    options: dict[str, Any] = field(default_factory=dict)
    """Keyword options for the verifier's constructor."""
    workers: int = 0
    """Verification worker processes; 0 verifies in the training process (cheap verifiers)."""
    timeout: float = 30.0
    """Hard time limit per sample, seconds."""

    def __post_init__(self) -> None:
        if self.workers < 0:
            raise ConfigError("[verifier] workers must be >= 0 (0 = in-process)")
        if not self.timeout > 0:
            raise ConfigError("[verifier] timeout must be > 0 seconds")


@dataclass(frozen=True)
class EnvConfig:
    """Multi-turn rollouts with tools (``rlvr.env``); without ``name`` rollouts are single-turn."""

    name: str | None = None
    """Environment: calculator, python, sql, or module:Class (TRL's environment_factory shape)."""
    max_turns: int = 4
    """Assistant turns per episode (each up to [rollout] max_new_tokens tokens)."""
    tools: bool = True
    """Offer the tools; false withholds them (the no-tool control: same task, same reward)."""
    options: dict[str, Any] = field(default_factory=dict)
    """The environment's options: ``verifier`` (default: the environment's own), budget fields
    (max_tool_calls, tool_timeout_s, max_observation_chars, ...) and constructor options."""

    def __post_init__(self) -> None:
        if self.max_turns < 1:
            raise ConfigError("[env] max_turns must be >= 1")
        if "max_turns" in self.options:
            raise ConfigError("[env] set max_turns directly, not in [env.options]")


@dataclass(frozen=True)
class RolloutConfig:
    """Sampling G completions per prompt, and which of them train."""

    prompts_per_step: int = 16
    """Prompts (groups) per training step."""
    group_size: int = 8
    """G: completions sampled per prompt."""
    temperature: float = 1.0
    """Sampling temperature (log-probs are those of the tempered distribution)."""
    top_p: float = 1.0
    """Nucleus sampling threshold (1: off)."""
    max_new_tokens: int = 64
    """Longest completion in tokens."""
    dynamic_sampling: bool = False
    """DAPO: drop groups whose rewards all agree and sample more prompts to refill the batch."""
    max_refill_rounds: int = 3
    """Dynamic sampling: extra sampling rounds per step before training on a partial batch."""
    prune: Prune = "none"
    """Rollout pruning after advantages: top (best rewards of each group) or variance (max-variance subset)."""
    prune_keep: float = 0.5
    """Pruning: fraction of each group that trains."""
    overlong_filter: bool = False
    """DAPO overlong filtering: truncated completions (no EOS within max_new_tokens) are masked out of the loss."""
    overlong_buffer: float = 0.0
    """DAPO soft overlong punishment: the last this fraction of max_new_tokens (DAPO: 4096/20480 = 0.2)
    costs reward linearly, down to -overlong_penalty at max_new_tokens (0: off)."""
    overlong_penalty: float = 1.0
    """Reward lost by a completion of max_new_tokens tokens under the soft overlong punishment."""

    @property
    def overlong_buffer_tokens(self) -> int:
        """The soft punishment's buffer in tokens (at least 1 when it is on)."""
        return max(1, round(self.overlong_buffer * self.max_new_tokens)) if self.overlong_buffer else 0

    def __post_init__(self) -> None:
        if self.prompts_per_step < 1:
            raise ConfigError("[rollout] prompts_per_step must be >= 1")
        if self.group_size < 2:
            raise ConfigError("[rollout] group_size must be >= 2: a group of one has no baseline to compare to")
        if self.temperature < 0:
            raise ConfigError("[rollout] temperature must be >= 0")
        if not 0.0 < self.top_p <= 1.0:
            raise ConfigError("[rollout] top_p must be in (0, 1]")
        if self.max_new_tokens < 1:
            raise ConfigError("[rollout] max_new_tokens must be >= 1")
        if self.max_refill_rounds < 0:
            raise ConfigError("[rollout] max_refill_rounds must be >= 0")
        if not 0.0 < self.prune_keep <= 1.0:
            raise ConfigError("[rollout] prune_keep must be in (0, 1]")
        if not 0.0 <= self.overlong_buffer <= 1.0:
            raise ConfigError("[rollout] overlong_buffer is a fraction of max_new_tokens, in [0, 1] (0 = off)")
        if self.overlong_penalty < 0:
            raise ConfigError("[rollout] overlong_penalty must be >= 0")
        if self.prune != "none" and round(self.prune_keep * self.group_size) < 2:
            raise ConfigError(
                f"[rollout] prune_keep={self.prune_keep} keeps fewer than 2 of group_size={self.group_size}; "
                "raise prune_keep or group_size"
            )


@dataclass(frozen=True)
class AdvantageConfig:
    """How rewards become advantages within each group."""

    baseline: Baseline = "mean"
    """mean (GRPO), median (robust to outliers), rloo (leave-one-out mean)."""
    scale: Scale = "group"
    """Divide by the reward std of the group, of the whole batch, or not at all (Dr. GRPO)."""
    eps: float = 1e-6
    """Added to the std before dividing (verl's convention; the std is the sample std)."""
    exclude: tuple[str, ...] = UNJUDGED
    """Verdict statuses left out of advantages and loss (the verifier's fault, not the model's)."""

    def __post_init__(self) -> None:
        from rlvr.types import STATUSES

        bad = [s for s in self.exclude if s not in STATUSES]
        if bad:
            raise ConfigError(f"[advantage] exclude has unknown statuses {bad}; use some of {list(STATUSES)}")
        if not self.eps >= 0:
            raise ConfigError("[advantage] eps must be >= 0")


@dataclass(frozen=True)
class LossConfig:
    """The clipped policy-gradient objective."""

    eps_low: float = 0.2
    """Lower clip: the ratio is clipped at 1 - eps_low."""
    eps_high: float = 0.28
    """Upper clip: at 1 + eps_high (DAPO's clip-higher when > eps_low)."""
    ratio_level: RatioLevel = "token"
    """token (GRPO/PPO) or sequence (GSPO: geometric mean of the token ratios)."""
    agg: Aggregation = "token-mean"
    """Loss aggregation: token-mean (DAPO), seq-mean-token-mean (GRPO), seq-mean-token-sum,
    seq-mean-token-sum-norm (Dr. GRPO: token sums over a constant, no length normalisation)."""
    norm_tokens: int = 0
    """The constant of seq-mean-token-sum-norm (0: rollout.max_new_tokens)."""
    beta: float = 0.0
    """KL-to-reference coefficient (0: no KL term in the loss; policy/kl is still logged, see kl_every)."""
    kl_estimator: KLEstimator = "k3"
    """k1 (log ratio), k2 (half squared log ratio) or k3 (unbiased, >= 0); see rlvr.grpo.loss for their gradients."""
    kl_every: int = 1
    """With beta = 0, log policy/kl (to the initial policy) every this many steps; 0 never, and keeps no
    reference copy (saves a copy of the weights and a forward pass per reading). beta > 0 reads it every step."""
    entropy_coef: float = 0.0
    """Entropy bonus coefficient (0: off)."""

    def __post_init__(self) -> None:
        if not (0.0 <= self.eps_low < 1.0):
            raise ConfigError("[loss] eps_low must be in [0, 1)")
        if self.eps_high < 0:
            raise ConfigError("[loss] eps_high must be >= 0")
        if self.beta < 0:
            raise ConfigError("[loss] beta must be >= 0 (0 = no KL term in the loss)")
        if self.kl_every < 0:
            raise ConfigError("[loss] kl_every must be >= 0 (0 = never log policy/kl when beta = 0)")
        if self.norm_tokens < 0:
            raise ConfigError("[loss] norm_tokens must be >= 0")


@dataclass(frozen=True)
class OptimConfig:
    """AdamW and the update schedule within a step."""

    learning_rate: float = 1e-6
    """Peak learning rate (after warm-up it stays constant)."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    beta1: float = 0.9
    """AdamW beta1."""
    beta2: float = 0.99
    """AdamW beta2."""
    grad_clip: float = 1.0
    """Clip the gradient norm to this (0: no clipping; the norm is still logged)."""
    warmup_steps: int = 0
    """Linear learning-rate warm-up, in training steps."""
    epochs: int = 1
    """Passes over each rollout batch (PPO epochs; >1 makes later updates off-policy)."""
    minibatches: int = 1
    """Optimizer steps per epoch; the batch is split into this many minibatches."""
    micro_batch_size: int = 0
    """Completions per forward/backward pass, gradients accumulated over a minibatch (0: the whole
    minibatch at once). Lowers activation memory at some speed cost; the update is the same."""

    def __post_init__(self) -> None:
        if not self.learning_rate > 0:
            raise ConfigError("[optim] learning_rate must be > 0")
        if self.grad_clip < 0:
            raise ConfigError("[optim] grad_clip must be >= 0 (0 = off)")
        if self.epochs < 1 or self.minibatches < 1:
            raise ConfigError("[optim] epochs and minibatches must be >= 1")
        if self.warmup_steps < 0:
            raise ConfigError("[optim] warmup_steps must be >= 0")
        if self.micro_batch_size < 0:
            raise ConfigError("[optim] micro_batch_size must be >= 0 (0 = the whole minibatch)")


# Presets fill in settings the user did not set; values from the file always win.
ALGORITHMS: dict[str, dict[str, dict[str, Any]]] = {
    "grpo": {
        "advantage": {"baseline": "mean", "scale": "group"},
        "loss": {"agg": "seq-mean-token-mean", "eps_low": 0.2, "eps_high": 0.2},
    },
    "dr_grpo": {
        "advantage": {"baseline": "mean", "scale": "none"},
        "loss": {"agg": "seq-mean-token-sum-norm", "eps_low": 0.2, "eps_high": 0.2},
    },
    "dapo": {
        "advantage": {"baseline": "mean", "scale": "group"},
        "loss": {"agg": "token-mean", "eps_low": 0.2, "eps_high": 0.28, "beta": 0.0},
        "rollout": {"dynamic_sampling": True, "overlong_filter": True, "overlong_buffer": 0.2},
    },
    "rloo": {
        "advantage": {"baseline": "rloo", "scale": "none"},
        "loss": {"agg": "seq-mean-token-mean", "eps_low": 0.2, "eps_high": 0.2},
    },
    "gspo": {
        "advantage": {"baseline": "mean", "scale": "group"},
        "loss": {"ratio_level": "sequence", "agg": "seq-mean-token-mean", "eps_low": 3e-4, "eps_high": 4e-4},
    },
    "median": {
        "advantage": {"baseline": "median", "scale": "group"},
        "loss": {"agg": "token-mean"},
    },
}


@dataclass(frozen=True)
class GRPOConfig:
    """Everything a training run needs; see each section's fields."""

    model: ModelConfig
    """The policy."""
    data: DataConfig
    """The prompts."""
    algorithm: str | None = None
    """Preset filling unset fields: grpo, dr_grpo, dapo, rloo, gspo, median."""
    run: RunConfig = field(default_factory=RunConfig)
    """Length, seed, run directory, logging."""
    verifier: VerifierConfig = field(default_factory=VerifierConfig)
    """The reward (single-turn; with [env] the environment's verifier judges the final answer)."""
    env: EnvConfig = field(default_factory=EnvConfig)
    """Tools and multi-turn rollouts."""
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    """Sampling and data efficiency."""
    advantage: AdvantageConfig = field(default_factory=AdvantageConfig)
    """Baselines and scaling."""
    loss: LossConfig = field(default_factory=LossConfig)
    """The objective."""
    optim: OptimConfig = field(default_factory=OptimConfig)
    """The optimizer."""
    health: HealthConfig = field(default_factory=HealthConfig)
    """Health-monitor thresholds (rlvr.diagnostics)."""

    def __post_init__(self) -> None:
        if self.algorithm is not None and self.algorithm not in ALGORITHMS:
            raise ConfigError(f"algorithm = {self.algorithm!r} is unknown; use one of {', '.join(ALGORITHMS)}")
        rows = self.rollout.prompts_per_step * self.rollout.group_size
        if self.rollout.prune != "none":
            rows = self.rollout.prompts_per_step * max(2, round(self.rollout.prune_keep * self.rollout.group_size))
        if self.optim.minibatches > rows:
            raise ConfigError(
                f"[optim] minibatches={self.optim.minibatches} exceeds the {rows} completions trained per step; "
                "lower minibatches or raise prompts_per_step/group_size"
            )
        if self.model.pretrain_tool_share and self.env.name is None:
            raise ConfigError("[model] pretrain_tool_share needs an [env] whose tool the transcripts call; set [env] name")
        if self.model.name == "tiny" and self.model.tiny.block_size <= self.rollout.max_new_tokens:
            raise ConfigError(
                f"[model.tiny] block_size={self.model.tiny.block_size} leaves no room for prompts with "
                f"max_new_tokens={self.rollout.max_new_tokens}; raise block_size"
            )

    @property
    def norm_tokens(self) -> int:
        """The Dr. GRPO constant actually used."""
        return self.loss.norm_tokens or self.rollout.max_new_tokens

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (what config.json holds); ``config_from_dict`` reads it back."""
        return json.loads(json.dumps(dataclasses.asdict(self), default=list))


# -- building from dicts ----------------------------------------------------------------------




def _merge_preset(data: Mapping[str, Any]) -> dict[str, Any]:
    merged = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in data.items()}
    name = merged.get("algorithm")
    if isinstance(name, str) and name in ALGORITHMS:
        for section, values in ALGORITHMS[name].items():
            current = merged.setdefault(section, {})
            if isinstance(current, dict):
                for key, value in values.items():
                    current.setdefault(key, value)
    return merged


def config_from_dict(data: Mapping[str, Any]) -> GRPOConfig:
    """Build and validate a config from nested dicts (a parsed TOML file or ``to_dict()`` output)."""
    if not isinstance(data, Mapping):
        raise ConfigError("a training config must be a table of sections")
    return build_dataclass(GRPOConfig, _merge_preset(data), "")


def _parse_value(raw: str) -> Any:
    """A command-line value: TOML syntax when it parses (numbers, true, "str", [lists]), else a string."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def apply_overrides(data: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` overrides (``--set``) to a nested dict, returning a new dict."""
    out = json.loads(json.dumps(data))
    for item in overrides:
        key, raw = split_pair(item, option="--set", form="section.key=value (e.g. optim.learning_rate=1e-4)")
        parts = key.split(".")
        node = out
        for part in parts[:-1]:
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                raise ConfigError(f"--set {item!r}: {part!r} is a value, not a section")
            node = nxt
        value = _parse_value(raw.strip())
        if parts[-1] == "out_dir" and value == "none":
            value = None
        node[parts[-1]] = value
    return out


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Parse a TOML (or YAML, when PyYAML is installed) file into a dict; errors name the file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config ({exc.strerror or exc})") from None
    if p.suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ConfigError(f"{p}: reading YAML needs PyYAML (pip install pyyaml), or use TOML") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{p}: invalid YAML: {str(exc).splitlines()[0]}") from None
        if data is None:
            data = {}
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: invalid TOML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: a config must be a table of sections")
    return data


def load_config(path: str | Path | None = None, overrides: Sequence[str] = (), **sections: Any) -> GRPOConfig:
    """Read a TOML/YAML config, apply ``--set``-style overrides and validate.

    ``sections`` (``run={...}``) are merged over the file, for programmatic use. Relative
    ``data.path`` and ``model.path`` resolve against the config file's folder.
    """
    data: dict[str, Any] = read_config_file(path) if path is not None else {}
    for name, values in sections.items():
        if isinstance(values, Mapping) and isinstance(data.get(name), dict):
            data[name] = {**data[name], **values}
        else:
            data[name] = values
    data = apply_overrides(data, overrides)
    if path is not None:
        base = Path(path).resolve().parent
        for section, key in (("data", "path"), ("model", "path")):
            sec = data.get(section)
            if isinstance(sec, dict) and isinstance(sec.get(key), str) and not Path(sec[key]).expanduser().is_absolute():
                candidate = base / sec[key]
                if candidate.exists():
                    sec[key] = str(candidate)
    try:
        return config_from_dict(data)
    except ConfigError as exc:
        if path is not None and not str(exc).startswith(str(path)):
            raise ConfigError(f"{path}: {exc}") from None
        raise
