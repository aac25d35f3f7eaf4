"""The lab's configuration: built-in task specs, the run config, profiles.

``LabConfig`` is the one frozen config of ``rlvr lab``. It holds the trainer's settings as a typed
``GRPOConfig`` template (``grpo``); each RL arm's config is that template with the arm's seed, run
folder, model and data (``LabConfig.arm_config``). ``lab_config`` and the CLI take the trainer's
settings by their flat names (steps, learning_rate, kl_beta, ...: ``TRAINER_FIELDS``), and
``LabConfig.flat`` gives them back flat (summary.json's ``config``, the job fingerprints).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rlvr.data.tasks import HELD_OUT_PAIRS
from rlvr.errors import ConfigError
from rlvr.grpo.config import (
    ALGORITHMS,
    DataConfig,
    EnvConfig,
    GRPOConfig,
    LossConfig,
    ModelConfig,
    config_from_dict,
)

__all__ = [
    "PROFILES", "TASK_PROFILES", "TASK_SPECS", "TRAINER_DEFAULTS", "TRAINER_FIELDS", "LabConfig", "TaskSpec", "lab_config",
    "train_template", "trainer_values",
]


@dataclass(frozen=True)
class TaskSpec:
    """How a built-in task becomes a lab study."""

    generator: str
    """Name in ``rlvr.data.tasks.TASKS``."""
    verifier: str
    """Registry name of the exact verifier."""
    train_options: dict[str, Any]
    """Generator options of the training / in-distribution problems."""
    shifted_options: dict[str, Any]
    """Generator options of the shifted test problems."""
    shifted_description: str
    """One line saying what the shift is."""
    block_size: int
    """Tiny model positions: the longest prompt + solution + BOS/EOS fits."""
    max_new_tokens: int
    """Longest solution + EOS."""
    pretrain_noise: float
    """Share of warm-up solutions with a slip, tuned so the base is right 30-60% of the time."""
    answer_pattern: str = r"-?\d+"
    """What a well-formed answer looks like (the format-only control's reward)."""
    carry_drop: float = 0.0
    """Share of the warm-up solutions of carry additions shown with the carry forgotten: a hard
    stratum the base rarely solves (pass@K well below 1), so capability gain can show."""
    env: str | None = None
    """Tool environment of a tool task (``rlvr.env`` name): every arm is sampled, curated, trained
    and evaluated as multi-turn episodes in it."""
    tool_share: float = 0.0
    """Share of warm-up solutions shown as tool-using transcripts (the base calls the tool that often)."""
    max_turns: int = 3
    """Assistant turns per episode of a tool task."""


TASK_SPECS: dict[str, TaskSpec] = {
    "arithmetic": TaskSpec(
        generator="multidigit",
        verifier="math",
        train_options={"level": 2, "mul_share": 0.2, "held_out": HELD_OUT_PAIRS},
        shifted_options={"level": 2, "held_out": HELD_OUT_PAIRS, "shifted": True},
        shifted_description=(
            "2-digit additions whose tens digits are a held-out pair (1+8, 2+7, 3+6, 4+5, either order): "
            "same length, combinations never trained on"
        ),
        block_size=16,
        max_new_tokens=5,
        pretrain_noise=0.5,
        carry_drop=0.9,
    ),
    "countdown": TaskSpec(
        generator="countdown",
        verifier="countdown",
        train_options={"level": 3},
        shifted_options={"level": 4},
        shifted_description="4 numbers to combine (warm-up and RL saw only 3)",
        block_size=32,
        max_new_tokens=14,
        pretrain_noise=0.1,
        answer_pattern=r"[0-9+\-*() ]+",
    ),
    "tool": TaskSpec(
        generator="products",
        verifier="math",
        train_options={"digits": (3, 2), "lead": "12345678"},
        shifted_options={"digits": (3, 2), "lead": "9"},
        shifted_description=(
            "3-digit x 2-digit products whose first operand starts with 9 (warm-up and RL saw only 1-8 there): "
            "new content in the trained layout"
        ),
        block_size=48,
        max_new_tokens=20,
        pretrain_noise=0.5,
        env="calculator",
        tool_share=0.1,
    ),
}


@dataclass(frozen=True)
class LabConfig:
    """Every knob of a lab run (``rlvr lab`` fills it from a profile and its options)."""

    task: str = "arithmetic"
    """Built-in task: arithmetic, countdown or tool (products with the calculator; ignored with ``data``)."""
    seed: int = 0
    """First seed: seed ``seed + i`` drives replicate i's data, warm-up, RL runs and sampling."""
    seeds: int = 3
    """Independent replicates of the whole study; pooled intervals include their spread."""
    workers: int | None = None
    """Worker processes running the seeds' jobs (a prep job per seed, then one per RL arm; each
    process on one thread), None: one per CPU core for the tiny model, 1 for a transformers model."""
    out_dir: str = "runs/lab"
    """Run folder: summary.json and report.html; per seed s, seed<s>/ with data/, base/, samples/ and one
    run folder per RL arm (train_real/, train_random/, train_format/)."""
    profile: str = "default"
    """Name of the profile these values came from (recorded in the summary)."""
    n_pretrain: int = 2000
    """Worked solutions the tiny model is warmed up on."""
    pretrain_steps: int = 1500
    """Warm-up optimizer steps (batch 64)."""
    pretrain_noise: float | None = None
    """Share of worked solutions shown with a slip (``rlvr.data.tasks.slip``; None: the task's): the
    base learns the method but is sloppy, right only sometimes, so RL has something to sharpen."""
    carry_drop: float | None = None
    """Share of carry additions' worked solutions shown with the carry forgotten (None: the task's;
    0: the base is merely sloppy everywhere, so it already reaches almost every answer at large k)."""
    malformed: float = 0.0
    """Share of worked solutions shown malformed (a letter before the number, which the verifier
    cannot parse): a base whose answers are often unparsable, so a format-only reward can raise
    pass@1 without teaching anything (the ``spurious`` calibration scenario)."""
    pretrain_lr: float = 3e-3
    """Warm-up learning rate."""
    n_layer: int = 2
    """Tiny model blocks."""
    n_embd: int = 64
    """Tiny model width."""
    n_pool: int = 1024
    """RL prompts generated before curation."""
    n_test: int = 300
    """In-distribution test problems."""
    n_shifted: int = 200
    """Shifted test problems (0: none)."""
    curate_k: int = 8
    """Samples per pool prompt when measuring its base pass rate."""
    band: tuple[float, float] = (0.05, 0.95)
    """Pass-rate band kept by curation (inclusive)."""
    random_p: float | None = None
    """Probability that the random-reward control pays 1 (None: the base's pass rate on the curated
    prompts; arXiv 2506.10947 used 0.5)."""
    grpo: GRPOConfig = field(default_factory=lambda: train_template())
    """The trainer's config of every RL arm, as a template: algorithm, steps, rollout, optimizer and
    loss (``train_template`` builds it from the flat names ``lab_config`` takes). Its ``model``,
    ``data`` and the run's seed, folder, device and threads are placeholders that ``arm_config``
    fills per arm; ``rollout.temperature`` is also the temperature of curation and evaluation."""
    n_samples: int = 32
    """Samples per test problem; pass@k is reported for k = 1, 2, 4, ... up to it."""
    max_new_tokens: int | None = None
    """Completion length limit (default: the task's, or 256 for a transformers model)."""
    margin: float = 0.02
    """Equivalence margin of the verdict (fraction): a change is ``flat`` only when its whole
    interval lies inside [-margin, +margin]."""
    spurious_threshold: float = 0.05
    """A control's pass@1 change (fraction) beyond which it is a spurious gain (above) or unstable
    (below minus it)."""
    kl_limit: float = 1.0
    """A control whose KL to the base ends above this (nats per token) is unstable, not a null."""
    random_control: bool = True
    """Train the random-reward control (calibration leaves it out of scenarios that do not judge it)."""
    format_control: bool = True
    """Also train the format-only control (reward: a well-formed answer, correctness unchecked; not
    for tool tasks, whose controls are no_tool and impossible_control)."""
    no_tool_control: bool = True
    """Tool tasks: train the no-tool arm (same task and reward, tools withheld)."""
    impossible_control: bool = True
    """Tool tasks: train the impossible-task control (answers no tool call can reach: any reward
    there is a hack or a grader bug)."""
    tool_share: float | None = None
    """Tool tasks: share of warm-up solutions shown as tool calls (None: the task's)."""
    env: str | None = None
    """Tool tasks: the environment instead of the task's (a built-in name or module:Class, e.g. a
    planted faulty one in calibration)."""
    unreachable_share: float = 0.0
    """Tool tasks: share of the RL and test problems whose answer is replaced by one no tool call on
    the problem reaches (a stratum nobody can solve, so coverage cannot change there)."""
    impossible_threshold: float = 0.02
    """Tool tasks: the impossible-task control's mean training reward above which it is flagged."""
    trajectory_every: int = 25
    """Probe every RL arm on both test sets every this many steps (0: no trajectory)."""
    trajectory_problems: int = 50
    """Problems per test set in each probe (the first ones of the set)."""
    trajectory_samples: int = 4
    """Samples per problem in each probe: pass@1 and pass@this."""
    n_boot: int = 1000
    """Bootstrap replicates for the intervals."""
    model: str | None = None
    """A transformers model (folder, hub cache id, GGUF file or alias) instead of the tiny one."""
    data: str | None = None
    """JSONL prompts with answers for ``model`` (split into RL pool and test set)."""
    shifted_data: str | None = None
    """Optional JSONL of shifted test prompts for ``model``."""
    verifier: str | None = None
    """Verifier of the user's data (default: the task's)."""
    test_fraction: float = 0.2
    """Share of ``data`` held out for testing (at most ``n_test`` problems)."""
    device: str = "cpu"
    """Torch device for the policy."""
    threads: int | None = None
    """Torch CPU threads (0: torch's default; None: 1 for the tiny model, whose ops are too small
    to gain from more, and torch's default for a transformers model)."""
    progress: bool = True
    """Progress bars per phase."""
    cache_dir: str | None = None
    """Where warmed-up base models are cached (default ``$RLVR_CACHE_DIR/lab`` or ``~/.cache/rlvr/lab``)."""

    def __post_init__(self) -> None:
        if self.data is None and self.task not in TASK_SPECS:
            raise ConfigError(f"unknown task {self.task!r}; built-in tasks: {', '.join(sorted(TASK_SPECS))}")
        if (self.model is None) != (self.data is None):
            raise ConfigError("--model and --data go together: a transformers model needs your prompts, and vice versa")
        if self.shifted_data is not None and self.data is None:
            raise ConfigError("--shifted needs --model and --data")
        if not isinstance(self.grpo, GRPOConfig):
            raise ConfigError(f"grpo must be a GRPOConfig (rlvr.lab.config.train_template), got {type(self.grpo).__name__}")
        for name in ("seeds", "n_pretrain", "n_pool", "n_test", "curate_k", "n_samples"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.trajectory_every < 0 or self.trajectory_problems < 1 or self.trajectory_samples < 1:
            raise ConfigError("trajectory_every must be >= 0, trajectory_problems and trajectory_samples >= 1")
        if self.workers is not None and self.workers < 1:
            raise ConfigError(f"workers must be >= 1, got {self.workers}")
        if self.random_p is not None and not 0.0 < self.random_p < 1.0:
            raise ConfigError(f"random_p must be in (0, 1) (0 or 1 pays every completion alike: nothing to learn), got {self.random_p}")
        if not 0.0 <= self.margin < 0.5:
            raise ConfigError(f"margin is a fraction of problems (0.02 = 2 points), got {self.margin}")
        if self.n_shifted < 0 or self.pretrain_steps < 0:
            raise ConfigError("n_shifted and pretrain_steps must be >= 0")
        if self.pretrain_noise is not None and not 0.0 <= self.pretrain_noise < 1.0:
            raise ConfigError("pretrain_noise must be in [0, 1)")
        if not 0.0 <= self.malformed < 1.0:
            raise ConfigError("malformed must be in [0, 1)")
        if self.carry_drop is not None and not 0.0 <= self.carry_drop <= 1.0:
            raise ConfigError("carry_drop must be in [0, 1]")
        lo, hi = self.band
        if not 0.0 <= lo <= hi <= 1.0:
            raise ConfigError(f"band must satisfy 0 <= low <= high <= 1, got {self.band}")
        if not 0.0 < self.test_fraction < 1.0:
            raise ConfigError("test_fraction must be in (0, 1)")
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise ConfigError("max_new_tokens must be >= 1")
        if self.tool_share is not None and not 0.0 <= self.tool_share <= 1.0:
            raise ConfigError("tool_share must be in [0, 1]")
        if not 0.0 <= self.unreachable_share < 1.0:
            raise ConfigError("unreachable_share must be in [0, 1)")
        if (self.env is not None or self.unreachable_share) and not self.tool_task:
            raise ConfigError("env and unreachable_share apply to tool tasks only (--task tool)")

    @property
    def custom(self) -> bool:
        return self.model is not None

    def flat(self) -> dict[str, Any]:
        """Every setting by its flat name (the trainer's as ``trainer_values``): what summary.json's
        ``config`` and the job fingerprints hold, and what ``lab_config`` / ``updated`` take."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name == "grpo":
                out.update(trainer_values(self.grpo))
            else:
                out[f.name] = getattr(self, f.name)
        return out

    def updated(self, **overrides: Any) -> LabConfig:
        """This config with ``overrides`` by flat name (trainer names included; None values are kept)."""
        return _from_flat({**self.flat(), **overrides})

    def arm_config(self, run_dir: str | Path, *, tools: bool = True) -> GRPOConfig:
        """The trainer's config of one RL arm: the template with this seed, ``run_dir``, device,
        threads, the model (the user's, else a fresh tiny one) and the data, the completion limit,
        and a tool task's environment (``tools=False``: withheld, the no-tool arm)."""
        t = self.grpo
        spec = self.spec()
        model = ModelConfig(path=self.model) if self.custom else ModelConfig(name="tiny")
        data = DataConfig(path=self.data) if spec is None else DataConfig(task=spec.generator)
        env = t.env if spec is None or spec.env is None else EnvConfig(
            name=self.env or spec.env, max_turns=spec.max_turns, tools=tools)
        return replace(
            t, model=model, data=data, env=env,
            run=replace(t.run, seed=self.seed, out_dir=str(run_dir), device=self.device, threads=self.threads or 0),
            rollout=replace(t.rollout, max_new_tokens=self.new_tokens()),
        )

    def environment(self, verifier: Any = None) -> Any:
        """A tool task's environment factory, its final answers judged by ``verifier`` (None: the
        task's); None for single-turn tasks."""
        spec = self.spec()
        if spec is None or spec.env is None:
            return None
        from rlvr.env import make_env

        return make_env(self.env or spec.env, max_turns=spec.max_turns, verifier=verifier or spec.verifier)

    @property
    def tool_task(self) -> bool:
        spec = self.spec()
        return spec is not None and spec.env is not None

    def spec(self) -> TaskSpec | None:
        return None if self.custom else TASK_SPECS[self.task]

    def seed_list(self) -> list[int]:
        return [self.seed + i for i in range(self.seeds)]

    def verifier_name(self) -> str:
        spec = self.spec()
        return self.verifier or (spec.verifier if spec is not None else "math")

    def new_tokens(self) -> int:
        if self.max_new_tokens is not None:
            return self.max_new_tokens
        spec = self.spec()
        return spec.max_new_tokens if spec is not None else 256

    def ks(self) -> list[int]:
        ks, k = [], 1
        while k <= self.n_samples:
            ks.append(k)
            k *= 2
        return ks


# Profiles. Budgets on 2 CPU cores from a cold cache: default <= 5 min and 2 GB; quick about 2 min. The
# measured times are in the README (bench/readme_lab.py regenerates them). Quick keeps 3 seeds: the
# pooled interval's t quantile at 2 seeds (12.7, one degree of freedom) would leave every call inconclusive.
PROFILES: dict[str, dict[str, Any]] = {
    "default": {},
    "quick": {
        "pretrain_steps": 1000, "n_pool": 512, "n_test": 100, "n_shifted": 50,
        "steps": 100, "n_samples": 8, "n_boot": 400, "seeds": 3, "trajectory_every": 20,
    },
    "custom": {"steps": 50, "prompts_per_step": 8, "group_size": 8, "learning_rate": 1e-6, "n_samples": 8,
               "n_test": 100, "curate_k": 4, "n_boot": 500, "seeds": 1, "format_control": False, "kl_beta": 0.0,
               "trajectory_every": 0},
}


# A task's own settings per profile, between the profile's and the user's. The tool task: the base
# calls the tool on ~10% of episodes (a 1000-step warm-up: fewer steps leave it unable to copy the
# operands into the call), so a short run has plenty to learn; every prompt is kept (whether the base
# solves a product is whether it happened to call the tool, not the problem); the random reward pays
# half the time (the base's hit rate, ~0.07, would leave nearly every group alike and the control
# unable to move); KL 0.1 keeps that control a null (without it, it drifted past the KL limit and
# lost the tool habit: control_unstable), and the real arm still learns; no format control (a tool
# task's controls are no_tool and impossible_control).
TASK_PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    "tool": {
        "default": {"pretrain_steps": 1000, "n_pool": 512, "n_test": 200, "n_shifted": 100, "steps": 60,
                    "prompts_per_step": 16, "learning_rate": 5e-4, "kl_beta": 0.1, "n_samples": 16,
                    "format_control": False, "trajectory_every": 20, "band": (0.0, 1.0), "random_p": 0.5},
        "quick": {"pretrain_steps": 1000, "n_pool": 256, "n_test": 100, "n_shifted": 50, "steps": 40,
                  "prompts_per_step": 16, "learning_rate": 5e-4, "kl_beta": 0.1, "n_samples": 8, "curate_k": 4,
                  "format_control": False, "trajectory_every": 0, "band": (0.0, 1.0), "random_p": 0.5},
    },
}


def lab_config(profile: str = "default", **overrides: Any) -> LabConfig:
    """A ``LabConfig`` from a profile, with ``overrides`` (None values are ignored) winning; the
    trainer's settings go by their flat names (``TRAINER_FIELDS``). A task's own settings for the
    profile (``TASK_PROFILES``) sit between the two."""
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; profiles: {', '.join(PROFILES)}")
    given = {k: v for k, v in overrides.items() if v is not None}
    task = TASK_PROFILES.get(str(given.get("task", "")), {}).get(profile, {})
    return _from_flat({**PROFILES[profile], **task, **given, "profile": profile})


TRAINER_FIELDS: dict[str, tuple[str | None, str]] = {
    "algorithm": (None, "algorithm"),  # GRPO-family preset of every RL arm
    "steps": ("run", "steps"),  # RL steps of each arm (real and controls: the same budget)
    "prompts_per_step": ("rollout", "prompts_per_step"),
    "group_size": ("rollout", "group_size"),  # completions per prompt (G)
    "learning_rate": ("optim", "learning_rate"),  # the tiny model tolerates far more than LLM recipes' ~1e-6
    "epochs": ("optim", "epochs"),  # passes over each rollout batch (> 1: off-policy updates, the clip acts)
    "minibatches": ("optim", "minibatches"),  # optimizer steps per epoch
    "eps_low": ("loss", "eps_low"),  # lower ratio clip (None: the preset's)
    "eps_high": ("loss", "eps_high"),  # upper clip (None: the preset's; above eps_low: DAPO's clip-higher)
    "kl_beta": ("loss", "beta"),  # KL-to-base coefficient (0: no KL term)
    "temperature": ("rollout", "temperature"),  # sampling temperature of RL, curation and evaluation
}
"""Flat name of each trainer setting of the lab -> (section of ``GRPOConfig``, None: top level; key)."""

TRAINER_DEFAULTS: dict[str, Any] = {
    "algorithm": "grpo", "steps": 200, "prompts_per_step": 32, "group_size": 8, "learning_rate": 2e-4,
    "epochs": 1, "minibatches": 1, "eps_low": None, "eps_high": None, "kl_beta": 0.1, "temperature": 1.0,
}
"""The lab's trainer defaults (not ``GRPOConfig``'s). kl_beta 0.1: without a KL term the random
control random-walks away from the base at this learning rate (AdamW turns zero-mean gradient noise
into fixed-size steps) and stops being a null; with it the real arm still learns."""

_LAB_RUN = {"checkpoint_every": 0, "keep_checkpoints": 1, "progress": False}
"""Run settings of every arm: no checkpoints but the last, no progress bar of its own."""


def train_template(**values: Any) -> GRPOConfig:
    """The lab's ``GRPOConfig`` template from flat trainer settings (``TRAINER_FIELDS``; missing ones
    take ``TRAINER_DEFAULTS``; eps_low / eps_high None: the algorithm preset's). The model and data
    are placeholders (``LabConfig.arm_config`` sets them)."""
    unknown = sorted(set(values) - set(TRAINER_FIELDS))
    if unknown:
        raise ConfigError(f"unknown trainer setting {unknown[0]!r}; settings: {', '.join(TRAINER_FIELDS)}")
    v = {**TRAINER_DEFAULTS, **values}
    for name in ("steps", "prompts_per_step"):
        if v[name] < 1:
            raise ConfigError(f"{name} must be >= 1, got {v[name]}")
    if v["group_size"] < 2:
        raise ConfigError("group_size must be >= 2: GRPO compares completions within a group")
    if v["epochs"] < 1 or v["minibatches"] < 1:
        raise ConfigError("epochs and minibatches must be >= 1")
    for name in ("eps_low", "eps_high"):
        if v[name] is not None and not 0.0 <= v[name] < 1.0:
            raise ConfigError(f"{name} must be in [0, 1), got {v[name]}")
    if v["kl_beta"] < 0:
        raise ConfigError("kl_beta must be >= 0 (0: no KL term)")
    data: dict[str, Any] = {"model": {"name": "tiny"}, "data": {"task": "arithmetic"}, "run": dict(_LAB_RUN)}
    for name, (section, key) in TRAINER_FIELDS.items():
        if v[name] is None:
            continue
        if section is None:
            data[key] = v[name]
        else:
            data.setdefault(section, {})[key] = v[name]
    return config_from_dict(data)


def trainer_values(template: GRPOConfig) -> dict[str, Any]:
    """The flat trainer settings of a template (``train_template``'s inverse): eps_low / eps_high are
    None where they are the algorithm preset's, as the lab records an unset clip."""
    out: dict[str, Any] = {}
    for name, (section, key) in TRAINER_FIELDS.items():
        out[name] = getattr(template if section is None else getattr(template, section), key)
    preset = _preset_clip(template.algorithm)
    for i, name in enumerate(("eps_low", "eps_high")):
        if out[name] == preset[i]:
            out[name] = None
    return out


def _preset_clip(algorithm: str | None) -> tuple[float, float]:
    """(eps_low, eps_high) of ``algorithm``'s preset (``LossConfig``'s defaults where it sets none)."""
    loss = ALGORITHMS.get(algorithm or "", {}).get("loss", {})
    default = LossConfig()
    return loss.get("eps_low", default.eps_low), loss.get("eps_high", default.eps_high)


def _from_flat(values: Mapping[str, Any]) -> LabConfig:
    """A ``LabConfig`` from flat settings: the trainer's build the template, the rest are fields."""
    names = {f.name for f in dataclasses.fields(LabConfig)} - {"grpo"}
    unknown = sorted(set(values) - names - set(TRAINER_FIELDS))
    if unknown:
        raise ConfigError(f"unknown lab setting {unknown[0]!r}; settings: {', '.join(sorted(names | set(TRAINER_FIELDS)))}")
    trainer = {k: v for k, v in values.items() if k in TRAINER_FIELDS}
    return LabConfig(**{k: v for k, v in values.items() if k in names}, grpo=train_template(**trainer))
