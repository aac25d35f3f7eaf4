"""rlvr verifiers and health checks inside TRL's ``GRPOTrainer``.

::

    from trl import GRPOConfig, GRPOTrainer
    from rlvr.integrations.trl import HealthCallback, reward_function

    trainer = GRPOTrainer(
        model=model,
        reward_funcs=reward_function("math"),      # dataset column "answer" holds the reference
        args=GRPOConfig(...),
        train_dataset=dataset,
        callbacks=[HealthCallback()],               # rlvr's health warnings on TRL's logs
    )

TRL's reward convention (checked against trl 1.16, ``GRPOTrainer._calculate_rewards``): a reward
function is called with keyword arguments ``prompts``, ``completions`` (strings, or for
conversational datasets one list of message dicts per completion), ``completion_ids``,
``trainer_state``, ``log_extra(column, values)``, ``log_metric(name, value)``, ``environments``
(only with ``environment_factory``) and every dataset column except ``prompt``, each a list with
one entry per completion. It returns one float per completion; ``None`` means "not applicable"
and is left out of the reward means. The function's ``__name__`` names its ``rewards/<name>/*``
metrics.

``reward_function`` needs neither trl nor transformers; ``HealthCallback`` needs transformers.
"""

from __future__ import annotations

import math
import pickle
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from rlvr.errors import ConfigError, MissingExtraError
from rlvr.types import STATUSES, Sample, Verdict
from rlvr.verifiers.base import Verifier
from rlvr.verifiers.function import FunctionVerifier
from rlvr.verifiers.registry import get_verifier

__all__ = [  # noqa: F822 - HealthCallback is built lazily by __getattr__
    "HealthCallback",
    "RlvrReward",
    "completion_text",
    "reward_function",
    "trl_logs_to_metrics",
]

# Keyword arguments TRL passes that are not dataset columns; they never become sample metadata.
_TRL_ARGS = frozenset({"prompts", "completions", "completion_ids", "trainer_state", "log_extra", "log_metric", "environments"})


def completion_text(completion: Any) -> Any:
    """The text to verify from one TRL completion.

    A string is returned as is. A conversational completion (a list of message dicts) gives the
    content of its last assistant message (content given as a list of ``{"type": "text"}`` parts
    is joined). Anything else is returned unchanged, so the verifier reports it as ``unparsable``.
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        completion = [completion]
    if isinstance(completion, Sequence) and all(isinstance(m, Mapping) for m in completion):
        for message in reversed(completion):
            if message.get("role", "assistant") != "assistant":
                continue
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, Sequence) and all(isinstance(p, Mapping) for p in content):
                return "".join(str(p.get("text", "")) for p in content if p.get("type", "text") == "text")
            return content
    return completion


class RlvrReward:
    """A TRL reward function backed by an rlvr verifier (build it with ``reward_function``).

    ``counts`` holds the verdict statuses of every completion scored so far, ``last_counts``
    those of the latest batch, ``last_samples``/``last_verdicts`` the latest batch itself.
    """

    def __init__(
        self,
        verifier: Verifier,
        *,
        answer_field: str,
        workers: int,
        timeout: float,
        name: str,
    ) -> None:
        self.verifier = verifier
        self.answer_field = answer_field
        self.workers = workers
        self.timeout = timeout
        self.__name__ = name  # TRL names the metrics rewards/<__name__>/mean
        self.counts: Counter[str] = Counter()
        self.last_counts: Counter[str] = Counter()
        self.last_verdicts: list[Verdict] = []
        self.last_samples: list[Sample] = []

    def __repr__(self) -> str:
        return f"RlvrReward({self.__name__!r}, verifier={self.verifier!r})"

    def samples(
        self,
        prompts: Sequence[Any] | None,
        completions: Sequence[Any],
        columns: Mapping[str, Any],
        step: int | None = None,
    ) -> list[Sample]:
        """One ``Sample`` per completion: output = its text, answer = the answer column, the
        other dataset columns (and the prompt) as metadata; ``step`` (TRL's global step) goes to
        ``_step``, which step-dependent verifiers such as ``random`` read."""
        n = len(completions)
        for key, values in columns.items():
            if len(values) != n:
                raise ConfigError(f"dataset column {key!r} has {len(values)} values for {n} completions")
        answers = columns.get(self.answer_field)
        if answers is None:
            raise ConfigError(
                f"the reward function {self.__name__!r} needs a dataset column {self.answer_field!r} with the "
                f"reference answer; the batch has columns {sorted(columns) or 'none'} (pass answer_field=...)"
            )
        out = []
        for i, completion in enumerate(completions):
            meta = {k: v[i] for k, v in columns.items() if k != self.answer_field}
            if prompts is not None and i < len(prompts):
                meta["prompt"] = prompts[i]
            if step is not None:
                meta["_step"] = step
            out.append(Sample(output=completion_text(completion), answer=answers[i], metadata=meta))
        return out

    def __call__(
        self,
        prompts: Sequence[Any] | None = None,
        completions: Sequence[Any] | None = None,
        completion_ids: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        """Score a batch: one float per completion, ``None`` where the verifier skipped it."""
        from rlvr.engine import verify

        if completions is None:
            raise ConfigError("a TRL reward function is called with completions=[...]")
        # Dataset columns arrive as lists; any other keyword (a hook a newer TRL adds) is not one.
        columns = {k: v for k, v in kwargs.items() if k not in _TRL_ARGS and isinstance(v, (list, tuple))}
        step = getattr(kwargs.get("trainer_state"), "global_step", None)
        if isinstance(self.verifier, FunctionVerifier) and self.verifier.call == "batch":
            # A TRL-style function already is a reward function: one call on the whole batch, with
            # everything TRL passed; rlvr adds the return-value checks, statuses and metrics.
            passthrough = {k: v for k, v in kwargs.items() if k not in columns}
            if completion_ids is not None:
                passthrough["completion_ids"] = completion_ids
            verdicts = self.verifier.score_batch(completions, prompts=prompts, passthrough=passthrough, **columns)
            answers = columns.get(self.answer_field) or [None] * len(completions)
            samples = [Sample(output=completion_text(c), answer=a) for c, a in zip(completions, answers)]
        else:
            samples = self.samples(prompts, completions, columns, step if isinstance(step, int) else None)
            verdicts = verify(samples, self.verifier, workers=self.workers, timeout=self.timeout)
        self.last_samples = samples
        self.last_verdicts = verdicts
        statuses = [v.status for v in verdicts]
        self.last_counts = Counter(statuses)
        self.counts.update(statuses)
        self._report(statuses, kwargs.get("log_metric"), kwargs.get("log_extra"))
        return [None if v.status == "skipped" else v.score for v in verdicts]

    def _report(self, statuses: list[str], log_metric: Any, log_extra: Any) -> None:
        """Per-status fractions through TRL's ``log_metric`` (averaged over processes and steps,
        so fractions, not counts), and each completion's status as a completions-table column."""
        n = len(statuses)
        if callable(log_metric) and n:
            for status in STATUSES:
                log_metric(f"rewards/{self.__name__}/frac_{status}", statuses.count(status) / n)
            # The keys rlvr's own trainer logs, so HealthCallback's verifier_errors check sees them.
            for status in ("error", "timeout", "unparsable"):
                log_metric(f"verify/{status}_rate", statuses.count(status) / n)
        if callable(log_extra):
            log_extra(f"{self.__name__}/status", list(statuses))


def reward_function(
    verifier: str | Verifier,
    *,
    answer_field: str = "answer",
    workers: int = 0,
    timeout: float = 30.0,
    name: str | None = None,
    **verifier_options: Any,
) -> RlvrReward:
    """A ``GRPOTrainer`` reward function that scores completions with an rlvr verifier.

    ``verifier`` is a registry name (``"math"``, ``"code"``, ...), a ``module:object`` path, a
    verifier object or a plain function (``f(output, ground_truth)``, ``f(sample)``, or a TRL-style
    ``f(completions, **columns)``, which is called once per batch with everything TRL passes);
    ``verifier_options`` go to its factory. ``answer_field`` is the dataset
    column with the reference answer; the other columns (``tests``, ``db``, ...) become sample
    metadata. ``workers=0`` verifies in the trainer process; ``workers>0`` uses rlvr's process
    pool with a hard ``timeout`` (seconds) per completion. ``name`` (default ``rlvr_<verifier>``)
    names TRL's ``rewards/<name>/*`` metrics. Skipped verdicts return ``None``.
    """
    if not isinstance(answer_field, str) or not answer_field:
        raise ConfigError(f"answer_field must be a dataset column name, got {answer_field!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ConfigError(f"workers must be an integer >= 0 (0 verifies in the trainer process), got {workers!r}")
    if not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0):
        raise ConfigError(f"timeout must be a positive number of seconds, got {timeout!r}")
    v = get_verifier(verifier, **verifier_options)
    if workers > 0:
        try:  # the pool ships the verifier to its workers; say so now, not at the first training step
            pickle.dumps(v)
        except Exception as exc:
            raise ConfigError(
                f"verifier {v!r} cannot be sent to worker processes ({exc}); use workers=0 or define it at module level"
            ) from exc
    if name is None:
        label = verifier if isinstance(verifier, str) else getattr(verifier, "__name__", None) or type(v).__name__
        name = "rlvr_" + "".join(c if c.isalnum() else "_" for c in label).strip("_").lower()
    return RlvrReward(v, answer_field=answer_field, workers=workers, timeout=float(timeout), name=name)


# --- health ---------------------------------------------------------------------------------------


def trl_logs_to_metrics(logs: Mapping[str, Any]) -> dict[str, float]:
    """Rename one TRL log entry to rlvr's metric keys (``rlvr.diagnostics.PRESETS["trl"]``).

    The first present key wins for each of ours; keys already in rlvr's names (``verify/*`` that
    ``reward_function`` logs) pass through; a single reward function's ``rewards/<name>/frac_correct``
    becomes ``reward/correct_frac``; ``None`` values (TRL's "no valid value") are dropped;
    NaN/inf under one of rlvr's checked namespaces is kept so the monitor reports it.
    """
    from rlvr.diagnostics import CHECKED_PREFIXES, METRIC_KEYS, PRESETS, keys
    from rlvr.diagnostics.logs import trl_pass_rate

    out: dict[str, float] = {}
    for theirs, ours in (*PRESETS["trl"], *((k, k) for k in METRIC_KEYS)):
        value = logs.get(theirs)
        if ours in out or value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        out[ours] = float(value)
    found = trl_pass_rate(logs) if keys.REWARD_CORRECT_FRAC not in out else None
    if found is not None:  # one rlvr reward function's frac_correct: the pass rate
        out[keys.REWARD_CORRECT_FRAC] = found[1]
    for key, value in logs.items():
        if key not in out and isinstance(value, float) and not math.isfinite(value) and key.startswith(CHECKED_PREFIXES):
            out[key] = value
    return out


def _make_health_callback() -> type:
    try:
        from transformers import TrainerCallback
    except ImportError as exc:
        raise MissingExtraError("transformers", "hf", "rlvr.integrations.trl.HealthCallback") from exc

    from rlvr.diagnostics import HealthConfig, HealthMonitor, HealthWarning
    from rlvr.diagnostics.logs import trl_verifier

    class HealthCallback(TrainerCallback):  # type: ignore[misc,valid-type]
        """Runs rlvr's health checks on every TRL log entry and prints the same warnings.

        ``config`` is a ``rlvr.diagnostics.HealthConfig`` (default thresholds when ``None``);
        ``verifier`` names the verifier in the verifier checks' warnings (default: read from the
        single reward function's name, ``rlvr_math`` -> ``math``). Warnings print to stderr as
        ``[health] step N: code: message`` on the main process and are kept on ``.warnings`` on
        every process; ``.monitor`` is the ``HealthMonitor``.
        """

        def __init__(
            self, config: HealthConfig | None = None, *, stream: Any = None, verifier: str | None = None
        ) -> None:
            self.monitor = HealthMonitor(config, verifier=verifier)
            self.stream = stream
            self.logs_seen = 0

        @property
        def warnings(self) -> list[HealthWarning]:
            return self.monitor.warnings

        def on_log(self, args: Any, state: Any, control: Any, logs: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
            metrics = trl_logs_to_metrics(logs or {})
            if not metrics:  # eval-only and end-of-training entries carry no training metrics
                return
            self.logs_seen += 1
            if self.monitor.verifier is None:
                self.monitor.verifier = trl_verifier(logs or {})
            step = int(getattr(state, "global_step", self.logs_seen) or self.logs_seen)
            fired = self.monitor.update(step, metrics)
            if fired and getattr(state, "is_world_process_zero", True):
                stream = self.stream if self.stream is not None else sys.stderr
                for w in fired:
                    print(f"[health] {w}", file=stream, flush=True)

    return HealthCallback


def __getattr__(name: str) -> Any:
    # HealthCallback subclasses transformers.TrainerCallback, so it is built on first use: importing
    # this module (and reward_function) never needs transformers.
    if name == "HealthCallback":
        cls = _make_health_callback()
        globals()["HealthCallback"] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
