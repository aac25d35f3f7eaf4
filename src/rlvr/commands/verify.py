"""``rlvr verify``: score a JSONL file with a verifier, streaming, in input order."""

from __future__ import annotations

import json
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from rlvr.commands._common import count_lines, err_console, fail, parse_options, progress_bar
from rlvr.errors import RlvrError
from rlvr.report.format import share

__all__ = ["print_verify_summary", "register"]


def register(app: typer.Typer) -> None:
    """Add ``rlvr verify`` to ``app``."""

    @app.command(
        epilog="Example:  rlvr verify answers.jsonl --verifier math --out scored.jsonl",
    )
    def verify(
        file: Path = typer.Argument(
            ..., metavar="FILE", help="JSONL with one {'output', 'answer', ...} object per line."
        ),
        verifier: str = typer.Option(..., "--verifier", "-v", help="Verifier name (math, ...), module:object or file.py:function (a plain function works)."),
        out: Path | None = typer.Option(None, "--out", "-o", help="Write scored records here (JSONL)."),
        workers: int | None = typer.Option(None, help="Worker processes (default: CPU count; 0 = in-process)."),
        timeout: float = typer.Option(30.0, help="Hard time limit per sample, in seconds."),
        executor: str = typer.Option(
            "local", help="Where workers run: local (processes here) or ray (Ray actors; needs rlvr[ray])."
        ),
        address: str | None = typer.Option(
            None,
            help="With --executor ray: cluster to join (auto, ray://host:10001); default starts a local Ray.",
        ),
        opt: list[str] = typer.Option(
            [], "--opt", help="Verifier option key=value (repeatable), e.g. --opt rel_tol=1e-6."
        ),
        skip_invalid: bool = typer.Option(False, "--skip-invalid", help="Report malformed lines and continue."),
        as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        """Score model outputs with a verifier; every record gets reward, status, reason and details."""
        from rlvr.engine import EngineConfig, default_workers, verify_iter
        from rlvr.io import iter_jsonl, write_jsonl_line
        from rlvr.types import Sample
        from rlvr.verifiers.registry import get_verifier

        try:
            v = get_verifier(verifier, **parse_options(opt))
            if workers is None:
                # Ray: 0 = one actor per CPU of the cluster; local: one process per CPU here.
                workers = 0 if executor == "ray" else default_workers()
            cfg = EngineConfig(workers=workers, timeout=timeout, executor=executor, address=address)
        except RlvrError as exc:
            raise fail(str(exc)) from None
        required = tuple(getattr(v, "required_fields", ("output",)))
        source_dir = str(file.resolve().parent)
        total = count_lines(file)
        pending: deque[dict[str, Any]] = deque()
        invalid: list[str] = []

        def samples() -> Iterator[Sample]:
            for item in iter_jsonl(file, required=required, skip_invalid=skip_invalid):
                if item.error is not None:
                    invalid.append(str(item.error))
                    err_console.print(f"skipped: {item.error}", markup=False, highlight=False, soft_wrap=True)
                    bar.advance(task)
                    continue
                record = item.record
                assert record is not None
                pending.append(record)
                sample = Sample.from_record(record)
                # Relative paths in a record (a SQL `db`, ...) resolve against the file's folder.
                yield replace(sample, metadata={**sample.metadata, "_source_dir": source_dir})

        counts: Counter[str] = Counter()
        reward_sum = 0.0
        fh = None
        t0 = time.perf_counter()
        try:
            if out is not None:
                tmp = out.with_name(out.name + ".partial")
                fh = tmp.open("w", encoding="utf-8")
            with progress_bar(disable=quiet or as_json) as bar:
                task = bar.add_task("verifying", total=total)
                for verdict in verify_iter(samples(), v, cfg):
                    record = pending.popleft()
                    counts[verdict.status] += 1
                    reward_sum += verdict.score
                    if fh is not None:
                        write_jsonl_line(fh, {**record, **verdict.to_dict()})
                    bar.advance(task)
            if fh is not None:
                fh.close()
                tmp.replace(out)  # type: ignore[arg-type]
        except RlvrError as exc:
            raise fail(str(exc)) from None
        finally:
            if fh is not None and not fh.closed:
                fh.close()  # the run failed: a half-written file must not pass for a result
                tmp.unlink(missing_ok=True)
        elapsed = time.perf_counter() - t0
        n = sum(counts.values())
        summary = {
            "file": str(file),
            "verifier": verifier,
            "n": n,
            "invalid_lines": len(invalid),
            "counts": {s: counts[s] for s in sorted(counts)},
            "mean_reward": reward_sum / n if n else 0.0,
            "seconds": round(elapsed, 3),
            "checks_per_s": round(n / elapsed, 1) if elapsed > 0 else None,
            "out": str(out) if out else None,
        }
        if as_json:
            typer.echo(json.dumps(summary))
        else:
            print_verify_summary(summary)
        if n == 0 and not invalid:
            raise fail(f"{file}: no records to verify (empty file)")


def print_verify_summary(summary: dict[str, Any]) -> None:
    """The status table and one line of totals, for a person at a terminal."""
    from rich.table import Table

    table = Table(title=f"{summary['file']} — {summary['verifier']}", show_header=True)
    table.add_column("status")
    table.add_column("count", justify="right")
    table.add_column("share", justify="right")
    n = summary["n"] or 1
    for status, count in summary["counts"].items():
        table.add_row(status, str(count), share(count / n))
    console = Console()
    console.print(table)
    rate = summary["checks_per_s"]
    console.print(
        f"{summary['n']} checked, mean reward {summary['mean_reward']:.4f}, "
        f"{summary['seconds']:.2f}s ({rate if rate is not None else '-'} checks/s)"
        + (f", {summary['invalid_lines']} invalid line(s) skipped" if summary["invalid_lines"] else "")
        + (f" → {summary['out']}" if summary["out"] else ""),
        highlight=False,
    )
