"""Dry runs: the diff of a proposed run against the published state, its console and HTML
reports, and retention. The runner calls record_dry_run instead of publishing.
See docs/dry-run.md."""

from .diff import record_dry_run
from .model import CHANGE_TYPES, DryRunSummary, load_summary
from .report import format_console
from .retention import cleanup, cleanup_expired

__all__ = ["record_dry_run", "DryRunSummary", "CHANGE_TYPES", "load_summary", "format_console", "cleanup",
           "cleanup_expired"]
