"""Queries over idr_out.metrics_export: the latest state, what is still to export, delivery marks.

Delivery is tracked per exporter: `exported_to` lists the exporters that delivered a row
and `exported_at` is set once every configured exporter has. So an exporter that failed
retries only its own rows at the next export and the others do not send twice.
"""

from __future__ import annotations

from ..backends import as_backend
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .taxonomy import DRY_RUN_STATUS, PUBLISHED_STATUSES, RUN_STATUS


@dataclass(frozen=True)
class Sample:
    name: str
    value: float
    type: str
    dimensions: dict


@dataclass
class LatestState:
    """What monitoring shows: for each metric name, the rows of the most recent run (dry
    runs aside) that recorded it. A failed run so replaces the run metrics it measured and
    leaves the cluster metrics of the last published run in place."""

    samples: list[Sample] = field(default_factory=list)
    last_status: str | None = None
    last_run_at: datetime | None = None
    last_success_at: datetime | None = None
    runs_by_status: dict[str, int] = field(default_factory=dict)


@dataclass
class PendingRun:
    run_id: str
    status: str | None
    recorded_at: datetime
    metric_ids: list[str]
    samples: list[Sample]


def utcnow() -> datetime:
    """Naive UTC, as every timestamp idr writes (DuckDB TIMESTAMP has no zone)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def require_table(backend, db) -> None:
    """InputError (exit 2) unless the database has idr_out.metrics_export."""
    backend = as_backend(backend)
    from ..errors import InputError

    found = backend.scalar("SELECT count(*) FROM information_schema.tables "
                        "WHERE table_schema = 'idr_out' AND table_name = 'metrics_export'")
    if not found:
        from ..hints import idr_command

        raise InputError(f"--db {db}: idr_out.metrics_export is missing; run `{idr_command('init', db=db)}` "
                         "(safe to repeat)")


def dims(text) -> dict:
    """A dimensions value as a dict; rows written by hand may hold anything."""
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# Per run: when it recorded its metrics and its status (from its idr_run_status row).
_RUNS = (
    "SELECT run_id, max(recorded_at) AS run_at, "
    "  max(json_extract_string(dimensions, '$.status')) FILTER (metric_name = $status_metric) AS status "
    "FROM idr_out.metrics_export GROUP BY run_id"
)


def latest_state(db) -> LatestState:
    db = as_backend(db)
    state = LatestState()
    rows = db.rows(
        f"WITH runs AS ({_RUNS}), ranked AS ("
        "  SELECT m.metric_name, m.metric_value, m.metric_type, m.dimensions, "
        "    dense_rank() OVER (PARTITION BY m.metric_name ORDER BY r.run_at DESC, r.run_id DESC) AS k "
        "  FROM idr_out.metrics_export m JOIN runs r USING (run_id) WHERE r.status IS DISTINCT FROM $dry) "
        "SELECT metric_name, metric_value, metric_type, dimensions FROM ranked WHERE k = 1 "
        "ORDER BY metric_name, dimensions",
        {"status_metric": RUN_STATUS, "dry": DRY_RUN_STATUS},
    )
    state.samples = [Sample(n, v, t or "gauge", dims(d)) for n, v, t, d in rows]
    runs = db.rows(f"{_RUNS} ORDER BY run_at DESC, run_id DESC", {"status_metric": RUN_STATUS})
    for _run_id, at, status in runs:
        key = status or "UNKNOWN"
        state.runs_by_status[key] = state.runs_by_status.get(key, 0) + 1
        if status == DRY_RUN_STATUS:
            continue
        if state.last_run_at is None:
            state.last_run_at, state.last_status = at, status
        if state.last_success_at is None and status in PUBLISHED_STATUSES:
            state.last_success_at = at
    return state


def latest_run_id(db) -> str | None:
    db = as_backend(db)
    row = db.rows("SELECT run_id FROM idr_out.metrics_export ORDER BY recorded_at DESC, run_id DESC LIMIT 1"
                      )
    return row[0][0] if row else None


def pending_runs(db, exporter: str) -> list[PendingRun]:
    """Rows not yet exported and not yet delivered by `exporter`, by run, oldest first."""
    db = as_backend(db)
    rows = db.rows(
        f"WITH runs AS ({_RUNS}) "
        "SELECT m.run_id, r.status, r.run_at, m.metric_id, m.metric_name, m.metric_value, m.metric_type, m.dimensions "
        "FROM idr_out.metrics_export m JOIN runs r USING (run_id) "
        "WHERE m.exported_at IS NULL AND NOT list_contains(string_split(coalesce(m.exported_to, ''), ','), $exporter) "
        "ORDER BY r.run_at, m.run_id, m.metric_name, m.dimensions",
        {"status_metric": RUN_STATUS, "exporter": exporter},
    )
    runs: dict[str, PendingRun] = {}
    for run_id, status, at, metric_id, name, value, mtype, d in rows:
        run = runs.setdefault(run_id, PendingRun(run_id, status, at, [], []))
        run.metric_ids.append(metric_id)
        run.samples.append(Sample(name, value, mtype or "gauge", dims(d)))
    return list(runs.values())


def mark_delivered(db, exporter: str, metric_ids: list[str]) -> None:
    db = as_backend(db)
    if not metric_ids:
        return
    db.run(
        "UPDATE idr_out.metrics_export SET exported_to = "
        "  CASE WHEN coalesce(exported_to, '') = '' THEN ? ELSE exported_to || ',' || ? END "
        "WHERE metric_id IN (SELECT unnest(?::VARCHAR[])) "
        "AND NOT list_contains(string_split(coalesce(exported_to, ''), ','), ?)",
        [exporter, exporter, metric_ids, exporter],
    )


def mark_exported(db, exporters: list[str], now: datetime) -> int:
    """Set exported_at on rows every one of `exporters` has delivered; returns how many."""
    db = as_backend(db)
    if not exporters:
        return 0
    return db.scalar(
        "UPDATE idr_out.metrics_export SET exported_at = ? WHERE exported_at IS NULL "
        "AND list_has_all(string_split(coalesce(exported_to, ''), ','), ?::VARCHAR[])",
        [now, exporters],
    )


def pending_count(db) -> int:
    db = as_backend(db)
    return db.scalar("SELECT count(*) FROM idr_out.metrics_export WHERE exported_at IS NULL")
