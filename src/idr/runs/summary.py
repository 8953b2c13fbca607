"""The console summary printed at the end of a run."""

from __future__ import annotations

RULE = "=" * 60


def _n(v) -> str:
    return "-" if v is None else f"{v:,}"


def format_summary(r, db: str) -> str:
    c = r.counts
    lines = [
        RULE,
        "IDR RUN SUMMARY",
        RULE,
        f"Run ID:           {r.run_id}",
        f"Mode:             {r.mode}",
        f"Status:           {r.status}",
        f"Duration:         {r.duration_seconds:.2f} s",
        "",
        "INPUT:",
        f"  Entities:             {_n(c.get('entities'))}" + ("  (changed since the last run)" if r.mode == "INCR" else ""),
        *([f"  Entities removed:     {_n(c['entities_removed'])}  (soft-deleted or gone)"]
          if c.get("entities_removed") else []),
        *([f"  Rows without key:     {_n(c['rows_without_key'])}  (entity_key_expr was NULL: skipped)"]
          if c.get("rows_without_key") else []),
        f"  Identifier values:    {_n(c.get('identifiers_extracted'))}  (one per record and mapping, NULLs left out)",
        f"  └─ Invalid:           {_n(c.get('values_invalid'))}  (values that are not a valid identifier)",
        f"  └─ Placeholders:      {_n(c.get('values_placeholder'))}  (values such as N/A, unknown)",
        f"  └─ Excluded:          {_n(c.get('values_excluded'))}  (exclusion list)",
        "",
        "LINKING:",
        f"  Edges created:        {_n(c.get('edges'))}" + ("  (among the recomputed clusters)" if r.mode == "INCR" else ""),
        *([f"  └─ Replaced:          {_n(c['edges_updated'])}  (published edges removed or changed)"]
          if "edges_updated" in c else []),
        f"  Groups skipped:       {_n(c.get('groups_skipped'))}  (max_group_size)",
        f"  Components rounds:    {_n(c.get('components_rounds'))}",
        "",
        "CLUSTERS:",
        f"  Total:                {_n(c.get('clusters'))}",
        f"  └─ Recomputed:        {_n(c.get('clusters_impacted'))}"
        + ("  (clusters the delta touched)" if r.mode == "INCR" else ""),
        f"  └─ Merges / splits:   {_n(c.get('merges', 0))} / {_n(c.get('splits', 0))}"
        "  (idr_out.resolved_id_lineage)",
        f"  └─ Singletons:        {_n(c.get('singletons'))}",
        f"  Largest:              {_n(c.get('largest_cluster'))}  entities",
        "",
        "STAGES (seconds):",
    ]
    for s in r.stages:
        lines.append(f"  {s.name:<14} {s.seconds:>8.2f}   rows in {_n(s.rows_in):>12}   out {_n(s.rows_out):>12}")
    for w in r.warnings:
        lines.append(f"WARNING: {w}")
    for n in r.notes:
        lines.append(f"NOTE: {n}")
    for run_id in r.interrupted_runs:
        lines.append(f"NOTE: earlier run {run_id} had been killed; it is now marked INTERRUPTED")
    lines += [
        "",
        f"Results: SELECT * FROM idr_out.identity_clusters_current ORDER BY cluster_size DESC  (--db {db})",
        RULE,
    ]
    return "\n".join(lines)
