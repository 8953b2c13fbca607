"""The console report of a dry run, laid out like the user manual's example.

Printed by `idr run --dry-run` and by `idr dry-run show`, so the text users paste into a
ticket is the same whichever way they got it.
"""

from __future__ import annotations

from ..hints import idr_command
from ..sql.quoting import literal
from .model import DryRunSummary

RULE = "=" * 60
LABEL = 22  # width of "  Entities Affected:  "


def format_console(summary: DryRunSummary, run_id: str, mode: str, db: str) -> str:
    s = summary
    numbers = [s.affected_entities, s.new_entities, s.moved_entities, s.removed_entities, s.listed_unchanged,
               s.unchanged_entities - s.listed_unchanged, s.total_entities, s.merged_clusters, s.split_clusters,
               s.largest_proposed_cluster, s.current_clusters, s.proposed_clusters, s.edges_would_create,
               s.groups_would_skip, s.values_would_exclude]
    width = max(7, *(len(f"{n:,}") for n in numbers))

    def line(label: str, value: int, note: str = "") -> str:
        text = f"{label + ':':<{LABEL}}{value:>{width},}"
        return f"{text}  {note}" if note else text

    merges = "(clusters combining)" if not s.merged_clusters else \
        f"(current clusters combining into {s.merged_into_clusters:,})"
    lines = [
        RULE,
        "DRY RUN SUMMARY",
        RULE,
        f"Run ID:           {run_id}",
        f"Mode:             {mode} (Dry Run)",
        "Status:           DRY_RUN_COMPLETE",
        f"Duration:         {s.execution_seconds:.2f} s",
        "",
        "IMPACT PREVIEW:",
        line("  Entities Affected", s.affected_entities, "(rows in dry_run_results)"),
        line("  └─ New Entities", s.new_entities),
        line("  └─ Moved Entities", s.moved_entities),
        line("  └─ Removed Entities", s.removed_entities),
        line("  └─ Unchanged", s.listed_unchanged, "(in clusters that change)"),
        line("  Not Affected", s.unchanged_entities - s.listed_unchanged, "(unchanged, in unchanged clusters)"),
        line("  Entities After Run", s.total_entities, f"(now {s.current_entities:,})"),
        "",
        "CLUSTER CHANGES:",
        line("  Merges", s.merged_clusters, merges),
        line("  Splits", s.split_clusters, "(clusters breaking apart)"),
        line("  Largest Proposed", s.largest_proposed_cluster, "entities"),
        line("  Clusters After Run", s.proposed_clusters, f"(now {s.current_clusters:,})"),
        "",
        "EDGES:",
        line("  Would Create", s.edges_would_create),
        line("  Would Skip", s.groups_would_skip, "(max_group_size)"),
        line("  Would Exclude", s.values_would_exclude, "(exclusion list)"),
        "",
        *([f"WARNINGS ({len(s.warnings)}):", *(f"  {w}" for w in s.warnings), ""] if s.warnings else []),
        "⚠️  THIS WAS A DRY RUN - NO CHANGES COMMITTED",
        "    Review: SELECT * FROM idr_out.dry_run_results",
        f"            WHERE run_id = {literal(run_id)}",
        "            AND change_type = 'MOVED'",
        f"    Or:     {idr_command('dry-run', 'show', run_id, '--change-type', 'MOVED', db=db)}",
        RULE,
    ]
    return "\n".join(lines)
