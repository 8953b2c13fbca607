"""Collection: the metrics_export table and what record_run_metrics writes for a run."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import duckdb
import pytest

from idr import run
from idr.backends import as_backend
from idr.backends.duckdb import open_database
from idr.errors import RunError
from idr.metrics.collect import record_run_metrics
from idr.metrics.taxonomy import METRICS
from idr.pipeline.context import RunContext, StageRecord
from metrics_testing import failed_run, metrics_rows, query

SEED_COLUMNS = ["metric_id", "run_id", "metric_name", "metric_value", "metric_type", "dimensions", "recorded_at",
                "exported_at"]


def test_table_has_the_seed_columns_and_generates_ids(db):
    path, run_id = db
    cols = query(path, "SELECT column_name, data_type FROM information_schema.columns "
                       "WHERE table_schema = 'idr_out' AND table_name = 'metrics_export' ORDER BY ordinal_position")
    assert [c for c, _ in cols][:len(SEED_COLUMNS)] == SEED_COLUMNS
    assert dict(cols)["metric_value"] == "DOUBLE" and dict(cols)["recorded_at"] == "TIMESTAMP"
    ids = [r[0] for r in query(path, "SELECT metric_id FROM idr_out.metrics_export WHERE run_id = ?", [run_id])]
    assert len(ids) == len(set(ids)) > 30 and all(uuid.UUID(i) for i in ids)
    con = duckdb.connect(str(path))
    try:
        with pytest.raises(duckdb.ConstraintException):  # metric_id is the primary key
            con.execute("INSERT INTO idr_out.metrics_export (metric_id, metric_name, metric_value) VALUES (?, 'x', 1)",
                        [ids[0]])
    finally:
        con.close()


def test_successful_run_records_the_whole_taxonomy(db):
    path, run_id = db
    rows = metrics_rows(path, run_id)
    names = {n for n, _ in rows}
    assert names == set(METRICS) - {"idr_edges_updated"}  # a FULL run updates no edges
    assert rows[("idr_run_status", '{"status": "SUCCESS"}')] == 1
    assert rows[("idr_run_duration_seconds", None)] > 0
    assert rows[("idr_entities_processed", None)] == 52
    assert rows[("idr_values_excluded", None)] == 4
    # Per-rule rows with the rule's identifier type, zero included, next to the total.
    assert rows[("idr_groups_skipped", None)] == 1
    assert rows[("idr_groups_skipped", '{"rule": "PHONE"}')] == 1
    assert rows[("idr_groups_skipped", '{"rule": "EMAIL"}')] == 0
    edges = {d: v for (n, d), v in rows.items() if n == "idr_edges_created"}
    assert edges[None] > 0 and sum(v for d, v in edges.items() if d) == edges[None] and len(edges) == 3
    stages = {json.loads(d)["stage"] for n, d in rows if n == "idr_stage_duration_seconds"}
    assert {"extract", "edges", "components", "publish"} <= stages
    assert rows[("idr_stage_rows_processed", '{"direction": "out", "stage": "extract"}')] == 52
    types = dict(query(path, "SELECT DISTINCT metric_name, metric_type FROM idr_out.metrics_export"))
    assert types["idr_entities_processed"] == "counter" and types["idr_largest_cluster_size"] == "gauge"
    assert query(path, "SELECT count(*) FROM idr_out.metrics_export WHERE exported_at IS NOT NULL") == [(0,)]


def test_cluster_metrics_match_the_published_clusters(db):
    path, run_id = db
    rows = metrics_rows(path, run_id)
    (n, total, largest, over, single, avg), = query(
        path, "SELECT count(*), sum(cluster_size), max(cluster_size), count(*) FILTER (cluster_size > 1000), "
              "count(*) FILTER (cluster_size = 1), avg(cluster_size) FROM idr_out.identity_clusters_current")
    assert (rows[("idr_total_clusters", None)], rows[("idr_total_entities_resolved", None)],
            rows[("idr_largest_cluster_size", None)], rows[("idr_clusters_over_1000", None)],
            rows[("idr_singleton_count", None)]) == (n, total, largest, over, single)
    assert rows[("idr_avg_cluster_size", None)] == pytest.approx(avg)
    assert largest == 12  # the chain of test data


def test_failed_run_records_what_it_measured_and_no_cluster_metrics(db):
    path, _ = db
    run_id = failed_run(path)
    rows = metrics_rows(path, run_id)
    assert rows[("idr_run_status", '{"status": "FAILED"}')] == 1
    assert rows[("idr_run_duration_seconds", None)] > 0
    assert rows[("idr_entities_processed", None)] == 52  # measured before components failed
    assert not {n for n, _ in rows} & {m for m, d in METRICS.items() if d.scope == "cluster"}
    assert ("idr_stage_duration_seconds", '{"stage": "extract"}') in rows
    assert ("idr_stage_duration_seconds", '{"stage": "publish"}') not in rows


def _ctx(con, run_id: str, **kw) -> RunContext:
    now = datetime(2026, 1, 1)
    return RunContext(db=as_backend(con), run_id=run_id, mode="FULL", plan=kw.pop("plan", None), started_at=now,
                      max_iters=100, strategy="inprocess", **kw)


def test_values_are_bound_not_spliced(db):
    """Dimension values, run ids and stage names with quotes end up as data."""
    path, _ = db
    nasty = "x'); DROP TABLE idr_out.run_history; --"
    stage = StageRecord(nasty, datetime(2026, 1, 1), datetime(2026, 1, 1), 0.5, 3, None)
    plan = SimpleNamespace(rules={nasty: None})
    con = open_database(path)
    try:
        ctx = _ctx(con, nasty, plan=plan, stages=[stage],
                   counts={"values_excluded": 2, "values_excluded_by_type": {nasty: 2}})
        record_run_metrics(con, ctx, "FAILED", 1.5)
    finally:
        con.close()
    rows = metrics_rows(path, nasty)
    assert rows[("idr_stage_duration_seconds", json.dumps({"stage": nasty}))] == 0.5
    assert rows[("idr_stage_rows_processed", json.dumps({"direction": "in", "stage": nasty}))] == 3
    assert rows[("idr_values_excluded", json.dumps({"rule": nasty}))] == 2
    assert query(path, "SELECT count(*) FROM idr_out.run_history")[0][0] >= 1


def test_missing_counts_are_skipped_and_incremental_counts_recorded(db):
    path, _ = db
    con = open_database(path)
    try:
        record_run_metrics(con, _ctx(con, "r_empty"), "INTERRUPTED", 0.25)
        record_run_metrics(con, _ctx(con, "r_incr", counts={"entities": 5, "edges": 4, "edges_updated": 3,
                                                             "entities_removed": 1, "groups_skipped": None,
                                                             "values_excluded": float("nan")}),
                           "DRY_RUN_COMPLETE", 1.0)
        one = con.execute("SELECT DISTINCT recorded_at FROM idr_out.metrics_export WHERE run_id = 'r_incr'").fetchall()
    finally:
        con.close()
    assert metrics_rows(path, "r_empty") == {("idr_run_duration_seconds", None): 0.25,
                                              ("idr_run_status", '{"status": "INTERRUPTED"}'): 1.0}
    rows = metrics_rows(path, "r_incr")
    assert rows[("idr_edges_updated", None)] == 3
    assert ("idr_groups_skipped", None) not in rows and ("idr_values_excluded", None) not in rows
    assert "idr_total_clusters" not in {n for n, _ in rows}  # a dry run publishes no clusters
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    assert len(one) == 1 and abs(one[0][0] - now) < timedelta(minutes=5)  # one UTC time per run


def test_wired_idr_run_records_metrics_for_success_and_failure(tmp_path):
    """The automatic path: a run itself records the rows (runs/history.py finish())."""
    from metrics_testing import build_db

    path = build_db(tmp_path / "wired.duckdb")
    run_id = run(str(path), "FULL").run_id
    rows = metrics_rows(path, run_id)
    assert rows.get(("idr_run_status", '{"status": "SUCCESS"}')) == 1
    assert rows[("idr_total_clusters", None)] == query(
        path, "SELECT count(*) FROM idr_out.identity_clusters_current")[0][0]
    with pytest.raises(RunError):
        run(str(path), "FULL", strategy="sql", max_iters=1)
    (failed,), = query(path, "SELECT run_id FROM idr_out.run_history WHERE status = 'FAILED'")
    assert metrics_rows(path, failed)[("idr_run_status", '{"status": "FAILED"}')] == 1
