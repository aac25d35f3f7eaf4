"""Reports people can read: a self-contained HTML page (inline SVG, no network) and rich
terminal summaries of ``rlvr eval``/``rlvr compare`` results and ``rlvr lab`` runs; the one set of
number formatters (``format``) and the progress widget (``progress``) every command uses.

The renderers are resolved on first use, so importing ``rlvr.report.format`` from the trainer or
a command does not load the HTML and lab reports."""

from __future__ import annotations

from rlvr.lazy import lazy_exports

# Public names resolved lazily: name -> module that defines it.
_LAZY = {
    "render_html": "rlvr.report.html",
    "to_report_dict": "rlvr.report.html",
    "write_report": "rlvr.report.html",
    "print_lab_summary": "rlvr.report.lab",
    "render_lab_html": "rlvr.report.lab",
    "write_lab_report": "rlvr.report.lab",
    "print_comparison": "rlvr.report.terminal",
    "print_evaluation": "rlvr.report.terminal",
    "print_spurious": "rlvr.report.terminal",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())


__all__ = sorted(_LAZY)
