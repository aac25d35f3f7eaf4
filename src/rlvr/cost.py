"""What an RLVR run costs: the planning spreadsheet as a pure function.

``estimate(CostInputs(...))`` turns a run plan (tokens per rollout, K samples per prompt, prompts
per step, steps, a price, verifier and engineering costs) into a ``CostEstimate``: cost *lines*
(quantity x rate = cost, with a note), totals, a wall-clock estimate and, when a label cost is
given, a comparison with buying preference labels instead. ``rlvr cost`` is its command line.
Standard library only; no torch.

The model, and every assumption in it (treat the results as directional, not precise)::

    rollouts        R = K * prompts_per_step * steps           (one completion each)
    generated       G = R * tokens_per_rollout                 (max_new_tokens is an upper bound:
                                                                completions that stop early cost less)
    prompt tokens   P = R * prompt_tokens                      (billed once per rollout; an API with
                                                                n=K or prefix caching bills a prompt
                                                                once per group: pass prompt_tokens / K)
    trained tokens  T = (G + P) * epochs                       (each update runs over the whole
                                                                sequence, once per PPO epoch)

Pricing, exactly one of two modes:

* **GPU-hour mode** (``gpu_hour_rate`` and ``throughput``, generated tokens/s per GPU, prefill
  folded in): inference GPU-hours = G / throughput / 3600. Training GPU-hours = T /
  train_throughput / 3600 where train_throughput defaults to throughput / train_factor with
  train_factor = 3: a forward pass costs ~2N FLOPs per token and forward+backward ~6N (Kaplan et
  al. 2020, "Scaling Laws for Neural Language Models", C ~ 6N per training token), so an update
  costs ~3x a forward at equal hardware utilisation. That default is conservative: decoding is
  memory-bandwidth bound and usually runs at far lower utilisation than training, so measured
  training throughput is often higher than throughput / 3; pass ``train_throughput`` when you
  have it. Each extra forward pass per update (a KL reference model, recomputed old-policy
  log-probs) adds ~1 to train_factor. Cost = GPU-hours x gpu_hour_rate; wall-clock = GPU-hours /
  gpus (generation and training share the same GPUs, one after the other).
* **$/1K-token mode** (``usd_per_1k_tokens``; an API or a hosted endpoint): inference = G/1000 x
  usd_per_1k_tokens + P/1000 x usd_per_1k_prompt_tokens (default: the same price). Training is
  priced only with ``train_usd_per_1k_tokens`` (T/1000 x it; hosted fine-tuning bills trained
  tokens), otherwise it is reported as not priced. Generation wall-clock is known only when a
  ``throughput`` (tokens/s per GPU or stream) is given: G / (throughput x gpus) / 3600.

Verifier: one check per rollout; CPU-hours = R x verifier_seconds / 3600, cost = CPU-hours x
cpu_hour_rate (0: your own hardware; only busy time is charged, rented idle workers cost more);
wall-clock = CPU-hours / workers. Engineering = eng_hours x eng_rate.

Totals: compute = inference + training + verifier; all-in = compute + engineering; $ per step and
$ per 1K rollouts are of compute (engineering is a fixed cost). Wall-clock = generation +
training + verification hours, run one after the other (a synchronous loop; a pipelined system
overlaps them, so this is an upper bound); parts that are unknown are left out and noted.

Preference labelling (``label_cost`` $ per comparison): labels = prompts_to_label x
comparisons_per_prompt x label_cost, where prompts_to_label defaults to the prompts the run
draws, prompts_per_step x steps, capped at ``dataset_prompts`` when the dataset is known to be
smaller (drawn prompts repeat across epochs; each distinct prompt needs labelling once). The
comparison puts the RLVR all-in total against the labels alone (the preference route's own
training compute and engineering are not counted) and gives the ratio labels / RLVR and the
break-evens: the label price, and the number of labelled prompts, at which both cost the same.

Validation happens once, in ``CostInputs``; messages name the command-line flag of a field, which
is always ``--`` + the field name with ``_`` as ``-`` (``usd_per_1k_tokens`` -> ``--usd-per-1k-tokens``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from rlvr.errors import ConfigError

__all__ = ["CostComparison", "CostEstimate", "CostInputs", "CostLine", "estimate", "estimate_cost"]

# Training costs this many forward passes' worth of compute per token: forward (2N FLOPs) +
# backward (4N FLOPs) = 6N = 3 x a forward (Kaplan et al. 2020).
DEFAULT_TRAIN_FACTOR = 3.0


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


@dataclass(frozen=True)
class CostInputs:
    """A run plan and its prices; checked once on construction (``ConfigError`` names the fix)."""

    tokens_per_rollout: int
    """Generated tokens per rollout (completion length; [rollout] max_new_tokens is an upper bound)."""
    prompts_per_step: int
    """Prompts (groups) sampled per training step."""
    steps: int
    """Training steps."""
    k: int = 8
    """K: completions sampled per prompt (the GRPO group size)."""
    prompt_tokens: int = 0
    """Prompt tokens per rollout (0: not counted)."""
    usd_per_1k_tokens: float | None = None
    """$/1K-token mode: price of 1K generated tokens."""
    usd_per_1k_prompt_tokens: float | None = None
    """$/1K-token mode: price of 1K prompt tokens (None: the same as usd_per_1k_tokens)."""
    gpu_hour_rate: float | None = None
    """GPU-hour mode: $ per GPU-hour."""
    throughput: float | None = None
    """Generated tokens/s per GPU (GPU-hour mode; in $/1K mode only for the wall-clock estimate)."""
    gpus: int = 1
    """GPUs the run uses (wall-clock only: GPU-hours do not depend on it)."""
    train_throughput: float | None = None
    """GPU-hour mode: trained tokens/s per GPU for the update (None: throughput / train_factor)."""
    train_factor: float = DEFAULT_TRAIN_FACTOR
    """Cost of training a token relative to generating one (forward+backward ~ 3 forwards)."""
    train_usd_per_1k_tokens: float | None = None
    """$/1K-token mode: price of 1K trained tokens (None: training not priced)."""
    epochs: int = 1
    """Update passes over each rollout batch (PPO epochs)."""
    verifier_seconds: float = 0.0
    """CPU-seconds per verifier check (one check per rollout)."""
    workers: int = 1
    """Verifier worker processes running in parallel (wall-clock only)."""
    cpu_hour_rate: float = 0.0
    """$ per CPU-hour of verification (0: own hardware; wall-clock is still reported)."""
    eng_hours: float = 0.0
    """Engineering hours: verifiers, data, reward debugging, babysitting the run."""
    eng_rate: float = 0.0
    """$ per engineering hour."""
    label_cost: float | None = None
    """Preference labelling: $ per comparison (None: no comparison block)."""
    comparisons_per_prompt: float = 1.0
    """Preference labelling: comparisons bought per prompt."""
    label_prompts: int | None = None
    """Preference labelling: prompts to label (None: prompts_per_step x steps, capped at dataset_prompts)."""
    dataset_prompts: int | None = None
    """Distinct prompts in the training set, when known (caps the default prompts to label)."""

    def __post_init__(self) -> None:
        _check_types(self)
        for name in ("tokens_per_rollout", "prompts_per_step", "steps", "k", "gpus", "epochs", "workers"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{_flag(name)} must be >= 1, got {getattr(self, name)}")
        for name in ("label_prompts", "dataset_prompts"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ConfigError(f"{_flag(name)} must be >= 1, got {getattr(self, name)}")
        for name in ("usd_per_1k_tokens", "gpu_hour_rate", "throughput", "train_throughput", "label_cost"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ConfigError(f"{_flag(name)} must be > 0, got {value}")
        for name in ("train_factor", "comparisons_per_prompt"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{_flag(name)} must be > 0, got {getattr(self, name)}")
        for name in (
            "prompt_tokens", "usd_per_1k_prompt_tokens", "train_usd_per_1k_tokens", "verifier_seconds",
            "cpu_hour_rate", "eng_hours", "eng_rate",
        ):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ConfigError(f"{_flag(name)} must be >= 0, got {value}")

        # Exactly one pricing mode.
        either = "give either --usd-per-1k-tokens or both --gpu-hour-rate and --throughput"
        if self.usd_per_1k_tokens is not None and self.gpu_hour_rate is not None:
            raise ConfigError(f"{either}, not both")
        if self.usd_per_1k_tokens is None:
            if self.gpu_hour_rate is None and self.throughput is None:
                raise ConfigError(either)
            if self.throughput is None:
                raise ConfigError("--gpu-hour-rate needs --throughput (generated tokens/s per GPU)")
            if self.gpu_hour_rate is None:
                raise ConfigError("--throughput needs --gpu-hour-rate ($ per GPU-hour), or price tokens with --usd-per-1k-tokens")
            for name in ("usd_per_1k_prompt_tokens", "train_usd_per_1k_tokens"):
                if getattr(self, name) is not None:
                    raise ConfigError(
                        f"{_flag(name)} only applies with --usd-per-1k-tokens; with --gpu-hour-rate "
                        "everything is priced from GPU-hours"
                    )
        elif self.train_throughput is not None:
            raise ConfigError(
                "--train-throughput only applies with --gpu-hour-rate; "
                "in $/1K-token mode price training with --train-usd-per-1k-tokens"
            )
        if self.label_prompts is not None and self.label_cost is None:
            raise ConfigError("--label-prompts needs --label-cost ($ per comparison)")

    @property
    def mode(self) -> str:
        """``"gpu_hours"`` or ``"per_token"``."""
        return "per_token" if self.usd_per_1k_tokens is not None else "gpu_hours"


_INT_FIELDS = (
    "tokens_per_rollout", "prompts_per_step", "steps", "k", "prompt_tokens", "gpus", "epochs", "workers",
    "label_prompts", "dataset_prompts",
)


def _check_types(inputs: CostInputs) -> None:
    """Ints are ints, the rest finite numbers (None where optional): NaN must not reach a total."""
    for name, value in asdict(inputs).items():
        if value is None:
            if name in ("tokens_per_rollout", "prompts_per_step", "steps"):
                raise ConfigError(f"{_flag(name)} is required")
            continue
        if name in _INT_FIELDS:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{_flag(name)} must be a whole number, got {value!r}")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"{_flag(name)} must be a finite number, got {value!r}")


@dataclass(frozen=True)
class CostLine:
    """One row of the spreadsheet: quantity x rate = cost (rate is $ per unit)."""

    name: str
    """What is counted or paid for."""
    quantity: float
    """How much of it, in ``unit``."""
    unit: str
    """Unit of the quantity (tokens, GPU-hours, ...)."""
    rate: float | None
    """$ per unit (None: a count, not a cost)."""
    cost: float | None
    """$ (None: a count, or a cost that is not priced; left out of the totals)."""
    note: str = ""
    """How it was computed, or what is missing."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


@dataclass(frozen=True)
class CostComparison:
    """RLVR against buying preference labels for the same prompts."""

    prompts: int
    """Prompts to label."""
    comparisons: float
    """Comparisons bought (prompts x comparisons per prompt)."""
    label_cost: float
    """$ per comparison."""
    label_usd: float
    """Labels total, $."""
    rlvr_usd: float
    """RLVR all-in total (compute + engineering), $."""
    ratio: float
    """label_usd / rlvr_usd: > 1 means the labels cost more."""
    break_even_label_cost: float
    """$ per comparison at which the labels cost as much as RLVR."""
    break_even_prompts: float
    """Prompts labelled (at label_cost) that cost as much as RLVR."""
    note: str = ""
    """Where the prompt count comes from, and what is not counted."""

    @property
    def cheaper(self) -> str:
        """``"rlvr"``, ``"labels"`` or ``"equal"``."""
        if math.isclose(self.label_usd, self.rlvr_usd, rel_tol=1e-9):
            return "equal"
        return "rlvr" if self.rlvr_usd < self.label_usd else "labels"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, with ``cheaper``."""
        return {**asdict(self), "cheaper": self.cheaper}


@dataclass(frozen=True)
class CostEstimate:
    """What ``estimate`` returns: lines, totals, wall-clock and the optional comparison."""

    inputs: CostInputs
    """The plan this estimates."""
    lines: tuple[CostLine, ...]
    """Counts and cost lines, in the order a spreadsheet would list them."""
    compute_usd: float
    """Inference + training (when priced) + verifier, $."""
    engineering_usd: float
    """Engineering, $."""
    generation_hours: float | None
    """Wall-clock hours of generation (None: unknown, no throughput given)."""
    training_hours: float | None
    """Wall-clock hours of the policy updates (None: unknown in $/1K-token mode)."""
    verification_hours: float
    """Wall-clock hours of verification at the given workers."""
    comparison: CostComparison | None = None
    """RLVR vs preference labels (None: no label cost given)."""
    notes: tuple[str, ...] = ()
    """Caveats worth reading next to the numbers."""

    @property
    def total_usd(self) -> float:
        """All-in: compute + engineering, $."""
        return self.compute_usd + self.engineering_usd

    @property
    def rollouts(self) -> int:
        """Completions sampled over the run."""
        return self.inputs.k * self.inputs.prompts_per_step * self.inputs.steps

    @property
    def usd_per_step(self) -> float:
        """Compute $ per training step."""
        return self.compute_usd / self.inputs.steps

    @property
    def usd_per_1k_rollouts(self) -> float:
        """Compute $ per 1,000 rollouts."""
        return self.compute_usd / self.rollouts * 1000.0

    @property
    def wall_clock_hours(self) -> float:
        """Generation + training + verification hours, one after the other; unknown parts left out."""
        return sum(h for h in (self.generation_hours, self.training_hours, self.verification_hours) if h is not None)

    def line(self, name: str) -> CostLine:
        """The line called ``name`` (KeyError when there is none)."""
        for line in self.lines:
            if line.name == name:
                return line
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form: inputs, mode, lines, totals, wall-clock, comparison, notes."""
        return {
            "inputs": asdict(self.inputs),
            "mode": self.inputs.mode,
            "lines": [line.to_dict() for line in self.lines],
            "totals": {
                "rollouts": self.rollouts,
                "compute_usd": self.compute_usd,
                "engineering_usd": self.engineering_usd,
                "total_usd": self.total_usd,
                "usd_per_step": self.usd_per_step,
                "usd_per_1k_rollouts": self.usd_per_1k_rollouts,
            },
            "wall_clock": {
                "generation_hours": self.generation_hours,
                "training_hours": self.training_hours,
                "verification_hours": self.verification_hours,
                "total_hours": self.wall_clock_hours,
            },
            "comparison": self.comparison.to_dict() if self.comparison else None,
            "notes": list(self.notes),
        }


def _n(x: float) -> str:
    """A count for a note: thousands separators, at most 2 decimals."""
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.2f}"


def estimate(inputs: CostInputs) -> CostEstimate:
    """Cost lines, totals and wall-clock of the plan ``inputs`` (see the module docstring)."""
    c = inputs
    rollouts = c.k * c.prompts_per_step * c.steps
    generated = rollouts * c.tokens_per_rollout
    prompt = rollouts * c.prompt_tokens
    trained = (generated + prompt) * c.epochs
    notes: list[str] = []
    epochs = ("prompt+generated" if prompt else "generated") + (f" x {c.epochs} epochs" if c.epochs > 1 else "")

    lines = [
        CostLine("rollouts", rollouts, "rollouts", None, None,
                 f"K={c.k} x {_n(c.prompts_per_step)} prompts/step x {_n(c.steps)} steps"),
        CostLine("generated tokens", generated, "tokens", None, None, f"{_n(c.tokens_per_rollout)} per rollout"),
    ]
    if prompt:
        lines.append(CostLine("prompt tokens", prompt, "tokens", None, None, f"{_n(c.prompt_tokens)} per rollout"))

    generation_hours: float | None
    training_hours: float | None
    if c.mode == "gpu_hours":
        assert c.gpu_hour_rate is not None and c.throughput is not None  # checked in CostInputs
        gen_gpu_hours = generated / c.throughput / 3600.0
        generation_hours = gen_gpu_hours / c.gpus
        lines.append(CostLine(
            "inference", gen_gpu_hours, "GPU-hours", c.gpu_hour_rate, gen_gpu_hours * c.gpu_hour_rate,
            f"{_n(generated)} tokens at {_n(c.throughput)} tokens/s per GPU",
        ))
        if c.train_throughput is not None:
            train_tps, how = c.train_throughput, "measured"
        else:
            train_tps = c.throughput / c.train_factor
            how = f"= throughput / {c.train_factor:g}" + (
                ", forward+backward ~ 3 forwards" if c.train_factor == DEFAULT_TRAIN_FACTOR else ""
            )
        train_gpu_hours = trained / train_tps / 3600.0
        training_hours = train_gpu_hours / c.gpus
        lines.append(CostLine(
            "training updates", train_gpu_hours, "GPU-hours", c.gpu_hour_rate, train_gpu_hours * c.gpu_hour_rate,
            f"{_n(trained)} tokens ({epochs}) at {_n(train_tps)} tokens/s per GPU ({how})",
        ))
    else:
        assert c.usd_per_1k_tokens is not None
        lines.append(CostLine(
            "inference (generated)", generated / 1000.0, "1K tokens", c.usd_per_1k_tokens,
            generated / 1000.0 * c.usd_per_1k_tokens, f"{_n(generated)} generated tokens",
        ))
        if prompt:
            price = c.usd_per_1k_tokens if c.usd_per_1k_prompt_tokens is None else c.usd_per_1k_prompt_tokens
            lines.append(CostLine(
                "inference (prompt)", prompt / 1000.0, "1K tokens", price, prompt / 1000.0 * price,
                f"{_n(prompt)} prompt tokens" + (" at the generated-token price" if c.usd_per_1k_prompt_tokens is None else ""),
            ))
        generation_hours = generated / (c.throughput * c.gpus) / 3600.0 if c.throughput is not None else None
        if generation_hours is None:
            notes.append("generation wall-clock unknown: give --throughput (tokens/s per GPU or stream) for it")
        training_hours = None
        if c.train_usd_per_1k_tokens is not None:
            lines.append(CostLine(
                "training updates", trained / 1000.0, "1K tokens", c.train_usd_per_1k_tokens,
                trained / 1000.0 * c.train_usd_per_1k_tokens, f"{_n(trained)} tokens ({epochs})",
            ))
        else:
            lines.append(CostLine(
                "training updates", trained / 1000.0, "1K tokens", None, None,
                "not priced: give --train-usd-per-1k-tokens",
            ))
            notes.append("training updates are not priced in $/1K-token mode without --train-usd-per-1k-tokens")

    cpu_hours = rollouts * c.verifier_seconds / 3600.0
    verification_hours = cpu_hours / c.workers
    lines.append(CostLine(
        "verifier compute", cpu_hours, "CPU-hours", c.cpu_hour_rate, cpu_hours * c.cpu_hour_rate,
        f"{_n(rollouts)} checks x {c.verifier_seconds:g} s"
        + ("; own hardware (rate 0)" if c.cpu_hour_rate == 0 else ""),
    ))
    lines.append(CostLine(
        "verifier wall-clock", verification_hours, "hours", None, None,
        f"at {c.workers} worker{'s' if c.workers != 1 else ''}",
    ))
    engineering = c.eng_hours * c.eng_rate
    lines.append(CostLine("engineering", c.eng_hours, "hours", c.eng_rate, engineering, ""))
    if c.eng_hours > 0 and c.eng_rate == 0:
        notes.append("engineering hours are priced at 0: give --eng-rate to count them")

    compute = sum(line.cost for line in lines if line.cost is not None and line.name != "engineering")
    comparison = None
    if c.label_cost is not None:
        comparison = _compare(c, compute + engineering)
    return CostEstimate(
        inputs=c,
        lines=tuple(lines),
        compute_usd=compute,
        engineering_usd=engineering,
        generation_hours=generation_hours,
        training_hours=training_hours,
        verification_hours=verification_hours,
        comparison=comparison,
        notes=tuple(notes),
    )


def _compare(c: CostInputs, rlvr_usd: float) -> CostComparison:
    assert c.label_cost is not None
    drawn = c.prompts_per_step * c.steps
    if c.label_prompts is not None:
        prompts, where = c.label_prompts, "--label-prompts"
    elif c.dataset_prompts is not None and c.dataset_prompts < drawn:
        prompts = c.dataset_prompts
        where = f"the {_n(c.dataset_prompts)} distinct prompts of the dataset (the run draws {_n(drawn)}, with repeats)"
    else:
        prompts = drawn
        where = f"every prompt drawn, prompts_per_step x steps = {_n(drawn)} (fewer if prompts repeat: --label-prompts)"
    comparisons = prompts * c.comparisons_per_prompt
    label_usd = comparisons * c.label_cost
    return CostComparison(
        prompts=prompts,
        comparisons=comparisons,
        label_cost=c.label_cost,
        label_usd=label_usd,
        rlvr_usd=rlvr_usd,
        ratio=label_usd / rlvr_usd,  # > 0: inference always has a positive price
        break_even_label_cost=rlvr_usd / comparisons,
        break_even_prompts=rlvr_usd / (c.label_cost * c.comparisons_per_prompt),
        note=f"prompts: {where}; labels only, the preference route's own training compute and engineering are not counted",
    )


# The top-level name (``rlvr.estimate_cost``): ``estimate`` alone would be ambiguous there.
estimate_cost = estimate
