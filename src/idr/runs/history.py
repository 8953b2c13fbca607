"""run_history and stage_metrics rows: the audit trail of every run."""

from __future__ import annotations

import enum
import os

from ..pipeline.context import RunContext, utcnow


class Status(str, enum.Enum):
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    SUCCESS_WITH_WARNINGS = "SUCCESS_WITH_WARNINGS"
    FAILED = "FAILED"
    INTERRUPTED = "INTERRUPTED"
    DRY_RUN_COMPLETE = "DRY_RUN_COMPLETE"
    HELD = "HELD"  # the anomaly gate held it: nothing published, result kept for idr approve/reject
    REJECTED = "REJECTED"  # a held run discarded by idr reject


def mark_interrupted(db) -> list[str]:
    """A RUNNING row seen by a process that holds the database lock belongs to a process
    that died (killed, crashed, machine lost): nothing else can be running."""
    rows = db.rows("SELECT run_id, pid FROM idr_out.run_history WHERE status = 'RUNNING'")
    for run_id, pid in rows:
        db.run(
            "UPDATE idr_out.run_history SET status = 'INTERRUPTED', ended_at = ?, "
            "error_message = ? WHERE run_id = ?",
            [utcnow(), f"process {pid} ended before the run finished (killed or crashed); "
                       "its results were never published", run_id],
        )
    return [r[0] for r in rows]


def insert_running(db, ctx: RunContext, requested_mode: str, mode_reason: str | None, fingerprint: str,
                   snapshot: str | None = None) -> None:
    from .. import __version__

    db.run(
        "INSERT INTO idr_out.run_history (run_id, run_mode, status, started_at, components_strategy, "
        "idr_version, pid, requested_mode, mode_reason, config_fingerprint, config_snapshot) "
        "VALUES (?, ?, 'RUNNING', ?, ?, ?, ?, ?, ?, ?, ?)",
        [ctx.run_id, ctx.mode, ctx.started_at, ctx.strategy, __version__, os.getpid(), requested_mode, mode_reason,
         fingerprint, snapshot],
    )


_COUNT_COLUMNS = {
    "entities_processed": "entities",
    "rows_without_key": "rows_without_key",
    "identifiers_extracted": "identifiers_extracted",
    "edges_created": "edges",
    "clusters_total": "clusters",
    "clusters_impacted": "clusters_impacted",
    "entities_removed": "entities_removed",
    "last_watermark_value": "last_watermark",
    "largest_cluster": "largest_cluster",
    "large_clusters": "large_clusters",
    "groups_skipped": "groups_skipped",
    "values_excluded": "values_excluded",
    "values_invalid": "values_invalid",
    "values_placeholder": "values_placeholder",
    "components_rounds": "components_rounds",
    "merges": "merges",
    "splits": "splits",
}


def _cost(stage) -> list:
    c = stage.cost
    return [None] * 4 if c is None else [c.cpu_seconds, c.peak_memory_bytes, c.bytes_read, c.bytes_written]


def counts_of(db, run_id: str) -> dict:
    """A recorded run's counts, under the RunContext.counts keys."""
    cols = list(_COUNT_COLUMNS)
    row = db.one(f"SELECT {', '.join(cols)} FROM idr_out.run_history WHERE run_id = ?", [run_id])
    return {_COUNT_COLUMNS[c]: v for c, v in zip(cols, row) if v is not None}


def finish(db, ctx: RunContext, status: Status, *, error: str | None = None, error_stage: str | None = None,
           ended_at=None, record_metrics: bool = True) -> float:
    ended_at = ended_at or utcnow()
    duration = (ended_at - ctx.started_at).total_seconds()
    cols = list(_COUNT_COLUMNS)
    values = [ctx.counts.get(_COUNT_COLUMNS[c]) for c in cols]
    sets = ", ".join(f"{c} = ?" for c in cols)
    db.run(
        f"UPDATE idr_out.run_history SET status = ?, ended_at = ?, duration_seconds = ?, warnings = ?, "
        f"error_message = ?, error_stage = ?, {sets} WHERE run_id = ?",
        [status.value, ended_at, duration, "; ".join(ctx.warnings) or None, error, error_stage, *values, ctx.run_id],
    )
    db.run_many(
        "INSERT INTO idr_out.stage_metrics (run_id, stage_name, started_at, ended_at, duration_seconds, rows_in, "
        "rows_out, rows_affected, cpu_seconds, peak_memory_bytes, bytes_read, bytes_written) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [[ctx.run_id, s.name, s.started_at, s.ended_at, s.seconds, s.rows_in, s.rows_out, s.rows_out, *_cost(s)]
         for s in ctx.stages],
    )
    # Metrics rows commit with the run they describe (failed runs' too).
    if record_metrics:
        from ..metrics.collect import record_run_metrics

        record_run_metrics(db, ctx, status.value, duration)
    return duration
