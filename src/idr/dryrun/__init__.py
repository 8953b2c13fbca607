"""Dry runs: the diff of a proposed run against the published state, its console and HTML
reports, and retention. The runner calls record_dry_run instead of publishing.
See docs/dry-run.md.

Names load on first use: `idr --help` imports this package (for the dry-run command's
options) and should not pay for the diff machinery.
"""

from importlib import import_module

_WHERE = {"record_dry_run": "diff", "DryRunSummary": "model", "CHANGE_TYPES": "model", "load_summary": "model",
          "format_console": "report", "cleanup": "retention", "cleanup_expired": "retention"}
__all__ = list(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
