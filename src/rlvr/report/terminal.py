"""Terminal summaries with rich: the same results as the HTML page, as tables and a verdict line."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

from rlvr.report.format import interval, percent
from rlvr.report.html import to_report_dict

__all__ = ["VERDICT_STYLES", "print_comparison", "print_evaluation", "print_runs", "print_spurious"]

VERDICT_STYLES = {
    "capability_gain_and_compression": "bold green",
    "pure_compression": "bold yellow",
    "coverage_gain": "bold green",
    "mode_collapse": "bold red",
    "regression": "bold red",
    "trade_off": "bold red",
    "compression_ceiling_unresolved": "bold yellow",
    "no_change": "bold",
    "inconclusive": "bold",
    "uninformative": "bold",
}
"""Terminal style of each verdict label (green: a gain; yellow: compression; red: a loss)."""


_pct = percent


def _ci(ci: Any, signed: bool = False) -> str:
    return f" {interval(ci, signed)}" if ci else ""


def _bar(v: float | None, width: int = 20) -> str:
    if v is None:
        return ""
    full = max(0, min(width, round(v * width)))
    return "█" * full + "·" * (width - full)


def print_evaluation(result: Any, console: Console | None = None) -> None:
    """pass@k table (with a bar per value: the curve) for each sample set."""
    d = to_report_dict(result)
    console = console or Console()
    for s in d.get("sets", [d]):
        ks = [int(k) for k in s["ks"]]
        table = Table(title=f"{s['name']} — {s['n_problems']} problems", show_header=True)
        table.add_column("k", justify="right")
        table.add_column("pass@k %", justify="right")
        table.add_column("95% interval", justify="right")
        table.add_column("curve")
        table.add_column("pass^k %", justify="right")
        has_cons = bool(s.get("cons_at_k"))
        has_cot = bool(s.get("cot_pass_at_k"))
        if has_cons:
            table.add_column("cons@k %", justify="right")
        if has_cot:
            table.add_column("CoT-pass@k %", justify="right")
        for k in ks:
            key = str(k)
            v = s["pass_at_k"][key]
            row = [str(k), _pct(v), _ci(s["pass_at_k_ci"].get(key)).strip(), _bar(v), _pct(s["pass_hat_k"].get(key))]
            if has_cons:
                row.append(_pct(s["cons_at_k"].get(key)))
            if has_cot:
                row.append(_pct(s["cot_pass_at_k"].get(key)))
            table.add_row(*row)
        console.print(table)
        info = s.get("set") or {}
        if info.get("excluded_samples"):
            console.print(
                f"  {info['excluded_samples']} sample(s) excluded (verifier error/skipped)", highlight=False
            )


def print_comparison(result: Any, console: Console | None = None) -> None:
    """pass@k of both models, gains, compression ratios, transitions and the verdict."""
    d = to_report_dict(result)
    console = console or Console()
    ks = [int(k) for k in d["ks"]]
    pk, cis = d["pass_at_k"], d.get("pass_at_k_ci", {})
    table = Table(title=f"base vs trained — {d['n_problems']} shared problems", show_header=True)
    for col in ("k", "base %", "trained %", "gain (pts) [95% CI]", "compression ratio"):
        table.add_column(col, justify="right")
    for k in ks:
        s = str(k)
        ratio = d["compression_ratio"].get(s)
        gain = d["capability_gain"].get(s)
        color = "green" if gain and d["capability_gain_ci"][s][0] > 0 else "red" if gain and d["capability_gain_ci"][s][1] < 0 else ""
        gain_txt = f"{_pct(gain, True)}{_ci(d['capability_gain_ci'].get(s), True)}"
        table.add_row(
            s,
            f"{_pct(pk['base'][s])}{_ci(cis.get('base', {}).get(s))}",
            f"{_pct(pk['trained'][s])}{_ci(cis.get('trained', {}).get(s))}",
            f"[{color}]{gain_txt}[/]" if color else gain_txt,
            "–" if ratio is None else f"{ratio:.2f}",
        )
    console.print(table)
    t = d.get("transitions", {})
    c = t.get("counts", {})
    if c:
        console.print(
            f"transitions (base at k={t.get('k')} → trained at k=1): self-distilled {c['self_distilled']}, "
            f"newly capable {c['newly_capable']}, lost {c['lost']}, never solved {c['never_solved']}",
            highlight=False,
        )
    console.print(f"crossover k: {d.get('crossover_k')} ({d.get('crossover_reason')})", highlight=False)
    runs = d.get("runs") or []
    if runs:
        print_runs(runs, ks[-1], console)
    dropped = d.get("problems_only_in_base", 0) + d.get("problems_only_in_trained", 0)
    if dropped:
        console.print(
            f"compared on the {d['n_problems']} problems every file shares; left out: "
            f"{d.get('problems_only_in_base', 0)} only in the base, {d.get('problems_only_in_trained', 0)} "
            "only in trained file(s)",
            highlight=False,
        )
    verdict = d["verdict"]
    style = VERDICT_STYLES.get(verdict, "bold")
    dirs = d.get("directions") or {}
    if dirs:
        console.print(
            f"directions: pass@1 {dirs.get('pass_at_1')}, pass@{ks[-1]} {dirs.get('pass_at_K')} "
            f"(margin ±{100 * float(d.get('margin', 0.02)):.1f} pts)",
            highlight=False,
        )
    console.print(f"verdict: [{style}]{verdict}[/] — {d.get('verdict_reason', '')}", highlight=False)
    if d.get("verdict_meaning"):
        console.print(f"  {d['verdict_meaning']}", highlight=False)
    if d.get("spurious"):
        print_spurious(d["spurious"], console)


def print_runs(runs: list[Mapping[str, Any]], K: int, console: Console | None = None) -> None:
    """Several trained runs of one base: each run's pass@1 / pass@K and gains over the base."""
    console = console or Console()
    table = Table(title=f"per run ({len(runs)} runs of the same base)", show_header=True)
    for col in ("run", "problems", "pass@1 %", f"pass@{K} %", "pass@1 gain (pts)", f"pass@{K} gain (pts)", "directions"):
        table.add_column(col, justify="left" if col in ("run", "directions") else "right")
    for r in runs:
        g, gci, pk = r["capability_gain"], r["capability_gain_ci"], r["pass_at_k"]
        dropped = r.get("problems_dropped") or 0
        table.add_row(
            str(r["name"]),
            f"{r['n_problems']}" + (f" ({dropped} dropped)" if dropped else ""),
            _pct(pk["1"]),
            _pct(pk[str(K)]),
            f"{_pct(g['1'], True)}{_ci(gci['1'], True)}",
            f"{_pct(g[str(K)], True)}{_ci(gci[str(K)], True)}",
            f"{r['directions']['pass_at_1']} / {r['directions']['pass_at_K']}",
        )
    console.print(table)


def print_spurious(result: Any, console: Console | None = None) -> None:
    """The random-reward control: each arm's gains and the flag with its explanation."""
    d: Mapping[str, Any] = to_report_dict(result)
    console = console or Console()
    k = d["k"]
    table = Table(title="random-reward control", show_header=True)
    for col in ("arm", "pass@1 gain (pts)", f"pass@{k} gain (pts)", "verdict vs base"):
        table.add_column(col, justify="right" if "gain" in col else "left")
    for arm in ("real", "random"):
        g = d["improvement"][arm]
        table.add_row(
            f"{arm} reward",
            f"{_pct(g['pass_at_1'], True)}{_ci(g['pass_at_1_ci'], True)}",
            f"{_pct(g[f'pass_at_{k}'], True)}{_ci(g[f'pass_at_{k}_ci'], True)}",
            g["verdict"],
        )
    console.print(table)
    style = "bold red" if d["flagged"] else "green"
    console.print(f"[{style}]{d['message']}[/]", highlight=False)
    expl = list(d.get("explanation", []))
    if expl:
        console.print(f"  {expl[0]}", highlight=False, markup=False)
    for line in expl[1:]:
        console.print(f"  • {line}", highlight=False, markup=False)
