"""Procedurally generated tasks: records with a prompt, an answer and a difficulty.

``arithmetic`` is the small task behind ``examples/train_tiny.toml`` and the trainer's tests:
prompts like ``"12+7="`` whose answer is the integer result, checked by the ``math`` verifier.

The tasks behind ``rlvr lab`` carry a worked ``solution`` (what supervised warm-up shows the model)
and take a ``level`` so a held-out, harder level gives a shifted test distribution:

- ``multidigit``: ``"47+38="`` / ``"47*6="`` with ``level``-digit operands (the multiplier of ``*``
  is one digit, 2..9); answers checked by the ``math`` verifier. ``mul_share`` fixes the share of
  products (splits stratified by operator); additions whose leading digits form a ``held_out`` pair
  are produced only with ``shifted=True`` (a shifted set of the same token length and new content);
  a problem and its commuted twin (``a+b`` / ``b+a``) never both appear (``twin_key``).
- ``countdown``: ``"2 4 9>15:"`` - reach the target with the given numbers, each used once, with
  ``+ - *`` and parentheses; ``level`` numbers in 1..13; checked by the ``countdown`` verifier.

Generators plug into ``TASKS`` the same way: ``fn(n, *, seed, **options) -> list[dict]``; every
generator takes ``exclude`` (prompts never to produce), so train and test sets can be disjoint.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from rlvr.errors import ConfigError

__all__ = [
    "HELD_OUT_PAIRS",
    "TASKS",
    "arithmetic",
    "countdown",
    "disjoint_splits",
    "make_task",
    "multidigit",
    "products",
    "slip",
    "twin_key",
    "worked_examples",
]

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


def _draw(
    n: int,
    seed: int,
    exclude: Collection[str],
    make: Callable[[random.Random], dict[str, Any] | None],
    name: str,
    key: Callable[[str], Any] = lambda prompt: prompt,
    rng: random.Random | None = None,
) -> list[dict[str, Any]]:
    """``n`` records with distinct ``key(prompt)`` not among the keys of ``exclude``; a clear error
    when the space runs out."""
    rng = rng or random.Random(seed)
    seen = {key(p) for p in exclude}
    records: list[dict[str, Any]] = []
    misses = 0
    while len(records) < n:
        rec = make(rng)
        if rec is None or key(rec["prompt"]) in seen:
            misses += 1
            if misses > 200 * n + 10_000:
                raise ConfigError(
                    f"{name}: only {len(records)} distinct problems found for n={n}; ask for fewer or a higher level"
                )
            continue
        seen.add(key(rec["prompt"]))
        records.append({"id": f"{name}-{seed}-{len(records):05d}", **rec})
    return records


def twin_key(prompt: str) -> str:
    """The prompt of a commutative problem with its operands sorted: ``"38+47="`` for ``"47+38="``
    and ``"6*47="`` for ``"47*6="`` (a problem and its commuted twin share one key)."""
    m = re.fullmatch(r"(\d+)([+*])(\d+)=", prompt)
    if m is None:
        return prompt
    a, op, b = m.groups()
    lo, hi = sorted((a, b), key=lambda x: (len(x), x))
    return f"{lo}{op}{hi}="


HELD_OUT_PAIRS: tuple[tuple[int, int], ...] = ((1, 8), (2, 7), (3, 6), (4, 5))
"""Leading-digit pairs (either order) of the additions held out of training for the shifted set."""


def multidigit(
    n: int,
    *,
    seed: int = 0,
    level: int = 2,
    ops: str = "+*",
    exclude: Collection[str] = (),
    mul_share: float | None = None,
    held_out: Sequence[Sequence[int]] = (),
    shifted: bool = False,
) -> list[dict[str, Any]]:
    """Addition of two ``level``-digit numbers and ``level``-digit × one-digit (2..9) multiplication.

    ``mul_share`` (None: each problem picks an operator at random) fixes the number of products at
    ``round(n * mul_share)``, so every split has the same operator mix. Additions whose two leading
    digits form a ``held_out`` pair (either order) are never produced, unless ``shifted``: then
    *only* those are (same token length as the rest, content never trained on). Each record carries
    its ``stratum`` (``carry``: an addition whose units carry, ``plain``: one without, ``mul``,
    ``held_out``) and, for carry additions, ``carry_dropped``: the result with that carry forgotten.
    """
    if n < 1 or level < 1:
        raise ConfigError("multidigit: n and level must be >= 1")
    if not ops or set(ops) - {"+", "*"}:
        raise ConfigError(f"multidigit: ops must be made of + and *, got {ops!r}")
    if mul_share is not None and not (0.0 <= mul_share <= 1.0 and {"+", "*"} <= set(ops)):
        raise ConfigError("multidigit: mul_share must be in [0, 1] and needs ops '+*'")
    if (held_out or shifted) and level < 2:
        raise ConfigError("multidigit: held_out/shifted need level >= 2 (pairs of leading digits)")
    if shifted and not held_out:
        raise ConfigError("multidigit: shifted=True needs held_out pairs")
    lo, hi = (0 if level == 1 else 10 ** (level - 1)), 10**level - 1
    pairs = {frozenset(map(int, p)) for p in held_out}

    def lead_pair(a: int, b: int) -> bool:
        return frozenset((a // 10 ** (level - 1), b // 10 ** (level - 1))) in pairs

    def make(op: str | None) -> Callable[[random.Random], dict[str, Any] | None]:
        def draw(rng: random.Random) -> dict[str, Any] | None:
            o = "+" if shifted else (op or rng.choice(ops))
            a = rng.randint(lo, hi)
            b = rng.randint(lo, hi) if o == "+" else rng.randint(2, 9)
            if o == "+" and lead_pair(a, b) != shifted:
                return None
            result = a + b if o == "+" else a * b
            hard = _carries(a, b) / level if o == "+" else 0.5 + 0.5 * (len(str(result)) > level + 1)
            carry = o == "+" and a % 10 + b % 10 >= 10
            rec = {
                "prompt": f"{a}{o}{b}=",
                "answer": str(result),
                "solution": str(result),
                "level": level,
                "difficulty": round(min(1.0, hard), 4),
                "stratum": "held_out" if shifted else "mul" if o == "*" else "carry" if carry else "plain",
            }
            if carry:
                rec["carry_dropped"] = str(result - 10)
            return rec

        return draw

    if mul_share is None or shifted:
        return _draw(n, seed, exclude, make(None), "multidigit", key=twin_key)
    # Stratified by operator: the products, then the sums, drawn apart and shuffled together.
    rng = random.Random(seed)
    n_mul = round(n * mul_share)
    muls = _draw(n_mul, seed, exclude, make("*"), "multidigit", key=twin_key, rng=rng) if n_mul else []
    sums = _draw(n - n_mul, seed, exclude, make("+"), "multidigit", key=twin_key, rng=rng) if n > n_mul else []
    records = muls + sums
    rng.shuffle(records)
    return [{**r, "id": f"multidigit-{seed}-{i:05d}"} for i, r in enumerate(records)]


def countdown(
    n: int,
    *,
    seed: int = 0,
    level: int = 3,
    max_number: int = 13,
    max_target: int = 120,
    exclude: Collection[str] = (),
) -> list[dict[str, Any]]:
    """Countdown: ``level`` numbers in 1..max_number and a target in 1..max_target reachable with
    ``+ - *`` (each number once); the generating expression is the worked ``solution``."""
    if n < 1 or level < 2:
        raise ConfigError("countdown: n must be >= 1 and level >= 2")
    if max_number < 1 or max_target < 1:
        raise ConfigError("countdown: max_number and max_target must be >= 1")

    def make(rng: random.Random) -> dict[str, Any] | None:
        nums = [rng.randint(1, max_number) for _ in range(level)]
        order = nums[:]
        rng.shuffle(order)
        expr, value = str(order[0]), order[0]
        for x in order[1:]:
            op = rng.choice("+-*")
            if op == "*" and ("+" in expr or "-" in expr):
                expr = f"({expr})*{x}" if rng.random() < 0.5 else f"{x}*({expr})"
                value *= x
            else:
                expr = f"{expr}{op}{x}"
                value = value + x if op == "+" else value - x if op == "-" else value * x
        # Each operator joins the running expression, so ``value`` is the expression's value
        # (a "*" after a sum is always parenthesised).
        if not 1 <= value <= max_target:
            return None
        return {
            "prompt": " ".join(map(str, sorted(nums))) + f">{value}:",
            "answer": value,
            "numbers": sorted(nums),
            "solution": expr,
            "level": level,
            "difficulty": round(expr.count("*") / max(1, level - 1), 4),
        }

    return _draw(n, seed, exclude, make, "countdown")


def products(
    n: int,
    *,
    seed: int = 0,
    digits: tuple[int, int] = (3, 2),
    lead: str = "123456789",
    exclude: Collection[str] = (),
) -> list[dict[str, Any]]:
    """``"123*45="``: products of a ``digits[0]``-digit and a ``digits[1]``-digit number, out of reach
    of the tiny model's own digit-by-digit guessing but exact with the calculator tool
    (``tool_input`` is the call that solves it). The first operand's leading digit is drawn from
    ``lead``: the tool task of ``rlvr lab --task tool`` trains on 1-8 and shifts to 9 (the tiny model's
    copying does not carry to another operand layout, so a swapped layout would be a floor)."""
    if n < 1 or min(digits) < 1:
        raise ConfigError("products: n and the digit counts must be >= 1")
    if not lead or set(lead) - set("123456789"):
        raise ConfigError(f"products: lead must be made of the digits 1-9, got {lead!r}")
    (lo_a, hi_a), (lo_b, hi_b) = ((10 ** (d - 1), 10**d - 1) for d in digits)
    lead_digits = sorted(set(lead))

    def draw(rng: random.Random) -> dict[str, Any]:
        a, b = rng.randint(lo_a, hi_a), rng.randint(lo_b, hi_b)
        a = int(rng.choice(lead_digits) + str(a)[1:])  # the first operand's leading digit from ``lead``
        return {"prompt": f"{a}*{b}=", "answer": str(a * b), "solution": str(a * b), "tool_input": f"{a}*{b}",
                "stratum": "x".join(map(str, digits))}

    return _draw(n, seed, exclude, draw, "products")


def slip(solution: str, rng: random.Random) -> str:
    """A plausible mistake in a worked solution: the last digit of a number answer off by one, or one
    operator of an expression swapped. Always differs from ``solution`` when it can.

    Warm-up data with a share of slipped solutions gives a base model that knows the method but is
    sloppy, the regime where RL has something to sharpen.
    """
    if solution.isdigit():
        last = (int(solution[-1]) + rng.choice((-1, 1))) % 10
        return solution[:-1] + str(last)
    ops = [i for i, c in enumerate(solution) if c in "+-*"]
    if not ops:
        return solution
    i = rng.choice(ops)
    return solution[:i] + rng.choice([o for o in "+-*" if o != solution[i]]) + solution[i + 1 :]


def disjoint_splits(
    name: str, sizes: Sequence[tuple[str, int, dict[str, Any]]], *, seed: int = 0
) -> dict[str, list[dict[str, Any]]]:
    """Named splits of task ``name`` with no prompt in two splits: ``[(split, n, options), ...]``.

    Each split gets its own seed derived from ``seed`` and its position, and excludes every prompt
    drawn for the splits before it.
    """
    taken: set[str] = set()
    out: dict[str, list[dict[str, Any]]] = {}
    for i, (split, n, options) in enumerate(sizes):
        records = make_task(name, n, seed=seed * 1_000 + i, exclude=taken, **options)
        for r in records:
            r["id"] = f"{split}-{r['id']}"
        taken.update(r["prompt"] for r in records)
        out[split] = records
    return out


TASKS: dict[str, Callable[..., list[dict[str, Any]]]] = {
    "arithmetic": arithmetic,
    "countdown": countdown,
    "multidigit": multidigit,
    "products": products,
}


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
    records: Sequence[Mapping[str, Any]],
    *,
    prompt_field: str = "prompt",
    noise: float = 0.0,
    carry_drop: float = 0.0,
    malformed: float = 0.0,
    copies: int = 1,
    seed: int = 0,
    tool_share: float = 0.0,
    transcript: Callable[[Mapping[str, Any]], list[tuple[str, bool]]] | None = None,
) -> list[tuple[str, Any]]:
    """(prompt, worked solution) pairs for the supervised warm-up of a fresh tiny model.

    The solution shown is the record's ``solution`` (else its ``answer``; records with neither are
    skipped), ``copies`` times per record, each copy drawn on its own: a ``carry_drop`` share of the
    records that carry a ``carry_dropped`` solution show that one instead; otherwise a ``noise``
    share show a ``slip``; then a ``malformed`` share of all get a letter prefix (unparsable). The
    warmed-up model then knows the method but is only sometimes right: a base for RL to sharpen.
    One ``random.Random(seed)`` draws every choice in record order (the lab's cached bases depend on
    this exact order of draws).

    With ``transcript`` (a record -> ``[(text, supervised), ...]`` tool-using solution: the call, its
    observation unsupervised, the answer), a ``tool_share`` of the copies show that transcript
    instead: a base that calls the tool only sometimes, so tool-use RL has room.
    """
    if copies < 1:
        raise ConfigError(f"worked_examples: copies must be >= 1, got {copies}")
    rng = random.Random(seed)
    pairs = []
    for r in records:
        solution = r.get("solution", r.get("answer"))
        if solution is None:
            continue
        for _ in range(copies):
            if transcript is not None and tool_share and "tool_input" in r and rng.random() < tool_share:
                pairs.append((str(r[prompt_field]), transcript(r)))
                continue
            shown = str(solution)
            if "carry_dropped" in r and carry_drop and rng.random() < carry_drop:
                shown = str(r["carry_dropped"])
            elif rng.random() < noise:
                shown = slip(shown, rng)
            if malformed and rng.random() < malformed:
                shown = "a" + shown
            pairs.append((str(r[prompt_field]), shown))
    return pairs
