"""What every section of the lab report shares: the arms, colours and CSS, and the safe access and
formatting helpers (every field of ``summary.json`` may be missing or null: it renders as "—"; every
string from the summary is escaped).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from rlvr.diagnostics import keys
from rlvr.errors import InputError
from rlvr.report.format import interval, number, percent, share
from rlvr.report.html import BASE_COLOR, RANDOM_COLOR, TRAINED_COLOR, VERDICT_COLORS
from rlvr.report.svg import nice_step

FORMAT_COLOR = "#9b59b6"  # the palette's fourth colour
DASH = "—"
ARMS: tuple[tuple[str, str, str], ...] = (
    ("base", "base", BASE_COLOR),
    ("trained", "trained", TRAINED_COLOR),
    ("random_control", "random control", RANDOM_COLOR),
    ("format_control", "format-only control", FORMAT_COLOR),
    ("no_tool", "no-tool control", "#e67e22"),
    ("impossible_control", "impossible-task control", "#7f8c8d"),
)
OPTIONAL_ARMS = ("format_control", "no_tool", "impossible_control")
"""Arms shown only when the run had them (base, trained and the random control always show)."""
SPLITS = (("in_distribution", "in-distribution"), ("shifted", "shifted"))
TRAINING_METRICS = (
    (keys.REWARD_MEAN, "mean reward"),
    (keys.POLICY_ENTROPY, "policy entropy"),
    (keys.POLICY_KL, "KL to the reference"),
)
NEUTRAL = "#5f6368"
MAX_WARNING_ROWS = 50  # a run that warns every step would bury the page
SVG_NS = ' xmlns="http://www.w3.org/2000/svg"'  # optional for SVG inside HTML: dropped, no URL left
LAB_CSS = """
.banner{color:#fff;border-radius:8px;padding:14px 18px;margin:14px 0}
.banner .label{font-size:12px;text-transform:uppercase;letter-spacing:.06em;opacity:.9}
.banner .headline{font-size:22px;font-weight:700;margin:2px 0 6px}
.banner ul{margin:4px 0 0 20px}.banner li{font-size:14px}
.plots{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}.plots svg.plot{flex:0 1 auto}
details{background:#fff;border:1px solid #e0e0e0;border-radius:8px;padding:10px 16px;margin:12px 0}
details summary{cursor:pointer;font-weight:600}
.note{color:#5f6368;font-style:italic}
td.msg{text-align:left;max-width:640px}
.two{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
"""
CONTROL_ROWS = (("random_control", "random reward (control)"), ("format_control", "format-only reward (control)"))


def get(d: Any, *keys: str) -> Any:
    """``d[k1][k2]...`` or None when any level is missing or not a mapping."""
    for k in keys:
        if not isinstance(d, Mapping):
            return None
        d = d.get(k)
    return d


def is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def text(v: Any) -> str:
    """Escaped text, or the dash for a missing value."""
    return DASH if v is None or v == "" else escape(str(v))


def pct(v: Any, signed: bool = False) -> str:
    """A fraction as a percentage ("41.3%"), or points when ``signed`` ("+22.5 pts": shorter than
    ``format.points``'s "points", for table cells); a value that is not a number prints as escaped
    text, a missing one as the lab's dash (``format`` prints an en dash and fails on text)."""
    if not is_num(v):
        return DASH if v is None else escape(str(v))
    return f"{percent(v, signed=True)} pts" if signed else share(v)


def num(v: Any, digits: int = 2) -> str:
    """A reading with fixed decimals, escaped (anything that is not a number prints as its text)."""
    return escape(number(v, digits, missing=DASH))


def ci_html(ci: Any, signed: bool = False) -> str:
    """``[low, high]`` in points under a value, or nothing when the interval is absent."""
    if not (isinstance(ci, Sequence) and not isinstance(ci, str) and len(ci) == 2 and all(map(is_num, ci))):
        return ""
    return f'<div class="ci">{interval(ci, signed)}</div>'


def duration(v: Any) -> str:
    """A duration; unlike ``format.seconds`` a time under a second stays in seconds ("0.4 s", not
    "400 ms"), and a missing one prints as the lab's dash."""
    if not is_num(v):
        return DASH if v is None else escape(str(v))
    if v < 60:
        return f"{v:.1f} s"
    m, s = divmod(round(v), 60)
    return f"{m} min {s:02d} s" if m < 60 else f"{m // 60} h {m % 60:02d} min"


def k_values(summary: Mapping[str, Any]) -> list[int]:
    """The k values: ``summary["ks"]``, else the keys of the base arm's in-distribution pass@k."""
    raw = summary.get("ks")
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        raw = list(get(summary, "arms", "base", "pass_at_k", "in_distribution") or {})
    ks = set()
    for k in raw:
        try:
            ks.add(int(k))
        except (TypeError, ValueError):
            continue
    return sorted(k for k in ks if k > 0)


def passk(summary: Mapping[str, Any], arm: str, split: str, k: int) -> Any:
    return get(summary, "arms", arm, "pass_at_k", split, str(k))


def passk_ci(summary: Mapping[str, Any], arm: str, split: str, k: int) -> Any:
    return get(summary, "arms", arm, "pass_at_k_ci", split, str(k))


def shown_arms(summary: Mapping[str, Any]) -> tuple[tuple[str, str, str], ...]:
    """The arms to show: base, trained and the random control always (a missing one shows as a
    dash), the other controls (``OPTIONAL_ARMS``) only when the run had them."""
    arms = summary.get("arms") if isinstance(summary.get("arms"), Mapping) else {}
    return tuple(a for a in ARMS if a[0] not in OPTIONAL_ARMS or a[0] in arms)


def has_split(summary: Mapping[str, Any], split: str) -> bool:
    return any(isinstance(get(summary, "arms", arm, "pass_at_k", split), Mapping) for arm, _, _ in ARMS)


def verdict_color(label: Any) -> str:
    """The banner colour of a verdict label (known labels, else by the words in it)."""
    text = str(label or "")
    if text in VERDICT_COLORS:
        return VERDICT_COLORS[text]
    if any(w in text for w in ("regress", "collapse", "spurious")):
        return VERDICT_COLORS["regression"]
    if "compress" in text:
        return VERDICT_COLORS["pure_compression"]
    if "gain" in text:
        return VERDICT_COLORS["capability_gain_and_compression"]
    return NEUTRAL


def g3(v: float) -> str:
    return f"{v:.3g}"


def step_ticks(n: int) -> list[float]:
    """About six round step numbers from 1 to n (every step would be unreadable on long runs)."""
    if n <= 1:
        return [1.0]
    step = max(1.0, nice_step(n - 1))
    return [1.0] + [t * step for t in range(1, int(n // step) + 1) if t * step > 1]


def seed_text(s: Mapping[str, Any]) -> str:
    seeds = s.get("seeds")
    if isinstance(seeds, Sequence) and not isinstance(seeds, str) and len(seeds) > 1:
        return "seeds " + ", ".join(map(str, seeds))
    return f"seed {DASH if s.get('seed') is None else s['seed']}"


def check_summary(summary: Any) -> dict[str, Any]:
    """The summary as ``summary.json`` would hold it: an in-memory dict may still have int k keys,
    tuples or paths, so it goes through a JSON round trip (keys become strings, as in the file)."""
    if not isinstance(summary, Mapping) or (summary.get("kind") not in (None, "lab")) or (
        summary.get("kind") is None and "arms" not in summary
    ):
        raise InputError("not an rlvr lab summary: expected the summary.json that rlvr lab writes")
    return json.loads(json.dumps(dict(summary), default=str))


def tool_lines(summary: Mapping[str, Any]) -> list[str]:
    """A tool task's findings as sentences (terminal and report): tool use per arm, the
    tool-vs-no-tool difference with its interval, the impossible-task control's call."""
    tool = summary.get("tool")
    if not isinstance(tool, Mapping):
        return []
    lines = []
    use = tool.get("tool_use") if isinstance(tool.get("tool_use"), Mapping) else {}
    parts = []
    for arm, name, _ in ARMS:
        u = get(use, arm, "in_distribution")
        if isinstance(u, Mapping):
            parts.append(f"{name} {number(u.get('calls_per_episode'), 2)} calls/episode, "
                         f"{percent(u.get('answers_using_tool'))}% of answers used the tool")
    if parts:
        lines.append("tool use (in-distribution): " + "; ".join(parts))
    vs = tool.get("tool_vs_no_tool")
    if isinstance(vs, Mapping):
        lines.append(
            f"tool vs no tool (pass@1, trained minus no-tool arm): {percent(vs.get('pass_at_1'), signed=True)} pts "
            f"{interval(vs.get('pass_at_1_ci'), signed=True)} ({vs.get('direction')}; margin ±{percent(vs.get('margin'))} pts)"
        )
    imp = tool.get("impossible")
    if isinstance(imp, Mapping):
        lines.append(f"impossible-task control: {str(imp.get('label')).replace('_', ' ')}: {imp.get('reason')}")
    return lines
