"""Procedurally generated tasks: records with a prompt, an answer and a difficulty.

``arithmetic`` is the small task behind ``examples/train_tiny.toml`` and the trainer's tests:
prompts like ``"12+7="`` whose answer is the integer result, checked by the ``math`` verifier.
Richer generators plug into ``TASKS`` the same way: ``fn(n, *, seed, **options) -> list[dict]``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from rlvr.errors import ConfigError

__all__ = ["TASKS", "arithmetic", "make_task", "worked_examples"]

_OPS: dict[str, Callable[[int, int], int]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
}


def _carries(a: int, b: int) -> int:
    """Digit carries of a + b (a difficulty signal for addition)."""
    carries, carry = 0, 0
    while a or b:
        carry = 1 if (a % 10 + b % 10 + carry) >= 10 else 0
        carries += carry
        a, b = a // 10, b // 10
    return carries


def arithmetic(n: int, *, seed: int = 0, max_operand: int = 20, ops: str = "+") -> list[dict[str, Any]]:
    """``n`` distinct-when-possible problems ``"a<op>b="`` with operands in 0..max_operand.

    Subtraction keeps results non-negative (a >= b). ``difficulty`` in [0, 1] grows with the size
    of the result and the carries, so a curriculum can go easy → hard.
    """
    if n < 1:
        raise ConfigError("arithmetic: n must be >= 1")
    if max_operand < 1:
        raise ConfigError("arithmetic: max_operand must be >= 1")
    bad = sorted(set(ops) - set(_OPS))
    if not ops or bad:
        raise ConfigError(f"arithmetic: ops must be made of {''.join(_OPS)}, got {ops!r}")
    rng = random.Random(seed)
    space = (max_operand + 1) ** 2 * len(set(ops))
    seen: set[tuple[int, str, int]] = set()
    records = []
    while len(records) < n:
        a, b = rng.randint(0, max_operand), rng.randint(0, max_operand)
        op = rng.choice(ops)
        if op == "-" and a < b:
            a, b = b, a
        key = (a, op, b)
        if key in seen and len(seen) < space:
            continue
        seen.add(key)
        result = _OPS[op](a, b)
        top = max(1, _OPS[max(ops, key=lambda o: _OPS[o](max_operand, max_operand))](max_operand, max_operand))
        size = len(str(result)) / len(str(top))
        extra = _carries(a, b) / 3 if op == "+" else (0.3 if op == "*" else 0.0)
        records.append(
            {
                "id": f"arith-{len(records):05d}",
                "prompt": f"{a}{op}{b}=",
                "answer": str(result),
                "difficulty": round(min(1.0, 0.7 * size + extra), 4),
            }
        )
    return records


TASKS: dict[str, Callable[..., list[dict[str, Any]]]] = {"arithmetic": arithmetic}


def make_task(name: str, n: int, *, seed: int = 0, **options: Any) -> list[dict[str, Any]]:
    """Records of the built-in task ``name``."""
    try:
        fn = TASKS[name]
    except KeyError:
        raise ConfigError(f"unknown task {name!r}; built-in tasks: {', '.join(sorted(TASKS))}") from None
    try:
        return fn(n, seed=seed, **options)
    except TypeError as exc:
        raise ConfigError(f"bad options for task {name!r}: {exc}") from None


def worked_examples(
    records: list[dict[str, Any]],
    *,
    prompt_field: str = "prompt",
    noise: float = 0.0,
    copies: int = 1,
    seed: int = 0,
) -> list[tuple[str, str]]:
    """(prompt, answer) pairs for supervised warm-up of a fresh model.

    With ``noise`` > 0, that share of the pairs gets a near-miss answer (an integer answer ± 1..2),
    and ``copies`` pairs are made per record: the warmed-up model then puts roughly 1 − noise of
    its probability on the right answer, a base model that is *sometimes* right for RL to sharpen.
    """
    rng = random.Random(seed)
    pairs = []
    for r in records:
        if r.get("answer") is None:
            continue
        answer = str(r["answer"])
        for _ in range(copies):
            shown = answer
            if noise > 0 and rng.random() < noise and answer.lstrip("-").isdigit():
                shown = str(max(0, int(answer) + rng.choice((-2, -1, 1, 2))))
            pairs.append((str(r[prompt_field]), shown))
    return pairs
