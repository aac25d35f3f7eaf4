"""The order training prompts are drawn in: shuffled epochs or an easy → hard curriculum.

``PromptSampler.next_batch(n, step)`` returns record indices. It is deterministic for a seed and
its whole state fits in ``state_dict()``, so a resumed run draws exactly the prompts an
uninterrupted run would.

Curricula ("competence-based"): prompts are ranked easy → hard and only the easiest fraction
``start + (1 - start) * min(1, step / ramp_steps)`` is available at a step; a batch is drawn
without replacement from that pool, least recently drawn first, so every available prompt is
seen before any repeats. Ranking: ``difficulty`` uses the records' ``difficulty`` field;
``pass_rate`` uses the pass rate measured on the run's own rollouts (``observe``), unmeasured
prompts ranked as pass rate ``prior``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

from rlvr.errors import ConfigError, InputError

__all__ = ["PromptSampler"]


class PromptSampler:
    """Draws batches of prompt indices; see the module docstring."""

    def __init__(
        self,
        records: Sequence[Mapping[str, Any]],
        *,
        seed: int = 0,
        schedule: str = "none",
        start: float = 0.3,
        ramp_steps: int = 1,
        prior: float = 0.5,
    ) -> None:
        if not records:
            raise ConfigError("no training prompts")
        if schedule not in ("none", "difficulty", "pass_rate"):
            raise ConfigError(f"unknown schedule {schedule!r}; use none, difficulty or pass_rate")
        self.n = len(records)
        self.seed = seed
        self.schedule = schedule
        self.start = start
        self.ramp_steps = max(1, ramp_steps)
        self.prior = prior
        self._difficulty: list[float] = []
        if schedule == "difficulty":
            for i, rec in enumerate(records):
                d = rec.get("difficulty")
                if isinstance(d, bool) or not isinstance(d, (int, float)) or not math.isfinite(d):
                    raise InputError(
                        f"schedule 'difficulty' needs a numeric 'difficulty' field on every prompt; "
                        f"prompt {rec.get('id', i)!r} has {d!r} (or use schedule = \"pass_rate\")"
                    )
                self._difficulty.append(float(d))
        # State (everything below is saved by state_dict).
        self.epoch = 0
        self.cursor = 0
        self.draws = 0
        self.last_drawn = [-1] * self.n  # draw counter when each prompt was last drawn
        self.passed = [0.0] * self.n  # pass_rate schedule: sum of rewards seen
        self.seen = [0] * self.n  # and how many

    # -- state --------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "cursor": self.cursor,
            "draws": self.draws,
            "last_drawn": list(self.last_drawn),
            "passed": list(self.passed),
            "seen": list(self.seen),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if len(state["last_drawn"]) != self.n:
            raise ConfigError(
                f"checkpoint was made with {len(state['last_drawn'])} prompts, this run has {self.n}; "
                "resume with the same data"
            )
        self.epoch, self.cursor, self.draws = state["epoch"], state["cursor"], state["draws"]
        self.last_drawn = list(state["last_drawn"])
        self.passed = [float(x) for x in state["passed"]]
        self.seen = list(state["seen"])

    # -- drawing ------------------------------------------------------------------------------
    def available_fraction(self, step: int) -> float:
        """Share of the (easiest) prompts a curriculum offers at ``step`` (1 without one)."""
        if self.schedule == "none":
            return 1.0
        return min(1.0, self.start + (1.0 - self.start) * min(1.0, (step - 1) / self.ramp_steps))

    def pass_rate(self, index: int) -> float:
        """Measured pass rate of prompt ``index`` (``prior`` until it has been sampled)."""
        return self.passed[index] / self.seen[index] if self.seen[index] else self.prior

    def observe(self, index: int, rewards: Sequence[float]) -> None:
        """Record the rewards of one group sampled for prompt ``index``."""
        self.passed[index] += float(sum(rewards))
        self.seen[index] += len(rewards)

    def _epoch_order(self) -> list[int]:
        order = list(range(self.n))
        random.Random(self.seed * 1_000_003 + self.epoch).shuffle(order)
        return order

    def next_batch(self, n: int, step: int) -> list[int]:
        """``n`` prompt indices for training step ``step`` (1-based)."""
        if self.schedule == "none":
            out: list[int] = []
            while len(out) < n:
                order = self._epoch_order()
                take = order[self.cursor : self.cursor + n - len(out)]
                out.extend(take)
                self.cursor += len(take)
                if self.cursor >= self.n:
                    self.epoch += 1
                    self.cursor = 0
            self._mark(out)
            return out
        if self.schedule == "difficulty":
            ranked = sorted(range(self.n), key=lambda i: (self._difficulty[i], i))
        else:  # pass_rate: high measured pass rate = easy
            ranked = sorted(range(self.n), key=lambda i: (-self.pass_rate(i), i))
        pool_size = max(1, min(self.n, math.ceil(self.available_fraction(step) * self.n)))
        pool = ranked[:pool_size]
        # Least recently drawn first; ties broken by a seeded shuffle so order is not by index.
        rng = random.Random(self.seed * 7_919 + self.draws)
        tiebreak = {i: rng.random() for i in pool}
        pool.sort(key=lambda i: (self.last_drawn[i], tiebreak[i]))
        out = [pool[k % len(pool)] for k in range(n)]
        self._mark(out)
        return out

    def _mark(self, indices: list[int]) -> None:
        self.draws += 1
        for i in indices:
            self.last_drawn[i] = self.draws
