"""Record a run's metrics into idr_out.metrics_export: one row per metric, one INSERT per run.

Called from run_history's finish() for every finished run, successful or not: a failed run
records what it measured before it failed (duration, status, the counts and stages it
reached). For a published run the cluster metrics are computed from
idr_out.identity_clusters_current inside the publishing transaction, so they describe
exactly the results that become visible; a run that publishes nothing records none.
Values are bound parameters (one INSERT per run); names and dimension keys come from
taxonomy.py.
"""

from __future__ import annotations

from ..backends import as_backend
import json
import math

from .store import utcnow
from .taxonomy import (METRICS, PUBLISHED_STATUSES, RUN_DURATION, RUN_STATUS, STAGE_BYTES, STAGE_CPU,
                       STAGE_DURATION, STAGE_MEMORY, STAGE_ROWS)

# name, value, dimensions (None or a dict)
Row = tuple[str, float, dict | None]

# The cluster metrics, in the order of the columns of _CLUSTER_SQL.
_CLUSTER_NAMES = ("idr_total_clusters", "idr_total_entities_resolved", "idr_largest_cluster_size",
                  "idr_clusters_over_1000", "idr_singleton_count", "idr_avg_cluster_size")
_CLUSTER_SQL = (
    "SELECT count(*), coalesce(sum(cluster_size), 0), coalesce(max(cluster_size), 0), "
    "count(*) FILTER (cluster_size > 1000), count(*) FILTER (cluster_size = 1), coalesce(avg(cluster_size), 0) "
    "FROM idr_out.identity_clusters_current"
)

# One statement for all the rows of a run, the values bound as lists: executemany runs one
# statement per row (0.15 s for 70 rows, inside the publish transaction; this takes 7 ms).
_INSERT = (
    "INSERT INTO idr_out.metrics_export (run_id, metric_name, metric_value, metric_type, dimensions, recorded_at) "
    "SELECT $run_id, unnest($names::VARCHAR[]), unnest($values::DOUBLE[]), unnest($types::VARCHAR[]), "
    "unnest($dims::VARCHAR[]), $recorded_at"
)


def record_run_metrics(db, ctx, status: str, duration_seconds: float) -> None:
    """Insert the metrics of the run described by `ctx` (a RunContext). The caller owns the
    transaction; for a published run call it after the new outputs are written."""
    db = as_backend(db)
    status = getattr(status, "value", status)
    rows = run_rows(ctx, status, duration_seconds)
    if status in PUBLISHED_STATUSES:
        rows += cluster_rows(db, getattr(ctx, "counts", None))
    rows += stage_rows(ctx.stages)
    insert_rows(db, ctx.run_id, rows)


def insert_rows(db, run_id: str, rows: list[Row], recorded_at=None) -> None:
    db = as_backend(db)
    kept = [(n, float(v), d) for n, v, d in rows if v is not None and math.isfinite(float(v))]
    if not kept:  # metric_value is NOT NULL: a value nobody measured is not recorded
        return
    db.run(_INSERT, {
        "run_id": run_id,
        "names": [n for n, _, _ in kept],
        "values": [v for _, v, _ in kept],
        "types": [METRICS[n].type for n, _, _ in kept],
        "dims": [json.dumps(d, sort_keys=True) if d else None for _, _, d in kept],
        "recorded_at": recorded_at or utcnow(),
    })


def run_rows(ctx, status: str, duration_seconds: float) -> list[Row]:
    counts = ctx.counts
    rows: list[Row] = [(RUN_DURATION, duration_seconds, None), (RUN_STATUS, 1.0, {"status": status})]
    rule_types = _rule_types(ctx)
    for m in METRICS.values():
        if m.scope != "run" or m.counts_key is None:
            continue
        value = counts.get(m.counts_key)
        if value is None:
            continue
        rows.append((m.name, value, None))
        by_type = counts.get(m.per_rule_key) if m.per_rule_key else None
        if isinstance(by_type, dict):
            # Every active rule gets a row, zero included, so a rule whose count went
            # back to zero does not keep showing its last non-zero value.
            for rule in sorted(set(rule_types) | set(by_type)):
                rows.append((m.name, by_type.get(rule, 0), {"rule": rule}))
    return rows


def _rule_types(ctx) -> list[str]:
    plan = getattr(ctx, "plan", None)
    rules = getattr(plan, "rules", None) or {}
    return [str(t) for t in rules]


def cluster_rows(db, counts: dict | None = None) -> list[Row]:
    """The cluster metrics of the published state: from the run's own totals when it has
    them (pipeline/clusters.py computes them for what it publishes; reading the new
    snapshot again costs a pass over every cluster, 0.5 s at 10M records), else read."""
    keys = ("clusters", "entities_resolved", "largest_cluster", "clusters_over_1000", "singletons")
    if counts and all(k in counts for k in keys):
        total, resolved = counts["clusters"], counts["entities_resolved"]
        values = tuple(counts[k] for k in keys) + (resolved / total if total else 0,)
        return [(name, value, None) for name, value in zip(_CLUSTER_NAMES, values, strict=True)]
    db = as_backend(db)
    values = db.one(_CLUSTER_SQL)
    return [(name, value, None) for name, value in zip(_CLUSTER_NAMES, values, strict=True)]


def stage_rows(stages) -> list[Row]:
    rows: list[Row] = []
    for s in stages:
        rows.append((STAGE_DURATION, s.seconds, {"stage": s.name}))
        for direction, value in (("in", s.rows_in), ("out", s.rows_out)):
            if value is not None:
                rows.append((STAGE_ROWS, value, {"stage": s.name, "direction": direction}))
        c = getattr(s, "cost", None)
        if c is not None:
            rows += [(STAGE_CPU, c.cpu_seconds, {"stage": s.name}),
                     (STAGE_MEMORY, c.peak_memory_bytes, {"stage": s.name}),
                     (STAGE_BYTES, c.bytes_read, {"stage": s.name, "direction": "in"}),
                     (STAGE_BYTES, c.bytes_written, {"stage": s.name, "direction": "out"})]
    return rows
