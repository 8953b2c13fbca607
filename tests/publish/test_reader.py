"""The reader contract (docs/results.md): idr.open_results and idr.snapshot_version."""

import json

import duckdb
import pytest

import idr
from idr.errors import InputError
from idr.publish import layout
from idr_testing import make_db, simple_config

ROWS = [{"id": "1", "email": "a@x.com"}, {"id": "2", "email": "A@x.com "}, {"id": "3", "email": "b@x.com"}]
DOCUMENTED = ["identity_resolved_membership_current", "identity_clusters_current", "identity_edges_current",
              "identity_identifiers_current", "identity_identifier_pairs_current",
              "identity_skipped_groups_current", "run_history", "stage_metrics", "skipped_identifier_groups",
              "resolved_id_lineage", "dry_run_results", "dry_run_summary", "metrics_export"]


@pytest.fixture
def published(db_path):
    make_db(db_path, {"people": ROWS}, simple_config())
    result = idr.run(db_path, mode="FULL")
    return db_path, result.run_id


def test_every_documented_table_is_queryable(published):
    db, run_id = published
    con = idr.open_results(db)
    try:
        for name in DOCUMENTED:
            con.execute(f"SELECT * FROM idr_out.{name} LIMIT 1").fetchall()
        clusters = con.execute("SELECT count(DISTINCT resolved_id) FROM "
                               "idr_out.identity_resolved_membership_current").fetchall()
        assert clusters == [(2,)]
    finally:
        con.close()
    assert idr.snapshot_version(db) == run_id


def test_version_changes_with_each_publish(published):
    db, first = published
    second = idr.run(db, mode="FULL").run_id
    assert idr.snapshot_version(db) == second != first


def test_nothing_published_yet(db_path):
    assert idr.snapshot_version(db_path) is None
    with pytest.raises(InputError, match="no such database"):
        idr.open_results(db_path)


def test_snapshot_from_manifest(tmp_path):
    """A manifest's table is its files' rows minus the removed rows."""
    db = tmp_path / "x.duckdb"
    snap = layout.snapshot_dir(db, "s1")
    snap.mkdir(parents=True)
    con = duckdb.connect()
    con.execute(f"COPY (SELECT range AS n, 'v' || range AS s FROM range(5)) TO '{snap}/base.parquet'")
    con.execute(f"COPY (SELECT 2 AS n, 'v2' AS s) TO '{snap}/gone.parquet'")
    manifest = {"format": 1, "snapshot": "s1", "tables": {"t_current": {
        "columns": ["n", "s"], "files": ["snapshots/s1/base.parquet"], "removed": ["snapshots/s1/gone.parquet"]}}}
    (snap / "manifest.json").write_text(json.dumps(manifest))
    (layout.root(db) / "CURRENT").write_text(json.dumps({"format": 1, "snapshot": "s1"}))
    assert idr.snapshot_version(db) == "s1"
    r = idr.open_results(db)
    assert r.execute("SELECT n FROM idr_out.t_current ORDER BY n").fetchall() == [(0,), (1,), (3,), (4,)]
    (snap / "gone.parquet").unlink()
    with pytest.raises(InputError, match="gone.parquet.*missing"):
        idr.open_results(db)
    (layout.root(db) / "CURRENT").write_text("{not json")
    with pytest.raises(InputError, match="pointer is damaged"):
        idr.snapshot_version(db)
