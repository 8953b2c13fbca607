"""Dry runs through the real runner: nothing published changes, and what the dry run
proposes is exactly what the real run then publishes."""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa
import pytest

from idr.runs.runner import run
from idr_testing import cli, execute, idr_cli, make_db, query

# Runs on every engine under test (conftest.ENGINES).
pytestmark = pytest.mark.usefixtures("engine")

T0 = dt.datetime(2026, 1, 1)
SCHEMA = pa.schema([("id", pa.int64()), ("email", pa.string()), ("phone", pa.string()), ("ts", pa.timestamp("us")),
                    ("is_deleted", pa.bool_())])
PRODUCTION = ("idr_out.identity_resolved_membership_current", "idr_out.identity_clusters_current",
              "idr_out.identity_edges_current", "idr_out.identity_identifiers_current",
              "idr_out.identity_identifier_pairs_current", "idr_out.identity_skipped_groups_current", "idr_out.skipped_identifier_groups",
              "idr_out.resolved_id_lineage", "idr_meta.run_state")


def _snapshot(db) -> dict:
    out = {t: sorted(query(db, f"SELECT * FROM {t}"), key=repr) for t in PRODUCTION}
    out["tables"] = sorted(query(db, "SELECT table_schema, table_name FROM information_schema.tables "
                                     "WHERE table_schema IN ('idr_out', 'idr_meta') AND table_name NOT LIKE 'dry_run%'"))
    return out


@pytest.fixture
def changed_db(db_path):
    """Published FULL state, then changes: a bridge (merge), a split, a new and a deleted entity."""
    rows = [(1, "a@x.com", "111"), (2, "a@x.com", None), (3, "b@x.com", "222"), (4, "b@x.com", None),
            (5, "c@x.com", "333"), (6, "c@x.com", None), (7, None, "444")]
    make_db(db_path, {"people": pa.Table.from_pylist(
        [{"id": i, "email": e, "phone": p, "ts": T0, "is_deleted": False} for i, e, p in rows], schema=SCHEMA)}, {
        "sources": [{"table_id": "p", "table_fqn": "people", "entity_key_expr": "id", "watermark_column": "ts",
                     "deleted_expr": "is_deleted",
                     "identifiers": [{"identifier_type": "EMAIL", "identifier_value_expr": "email"},
                                     {"identifier_type": "PHONE", "identifier_value_expr": "phone"}]}],
        "rules": [{"rule_id": "e", "identifier_type": "EMAIL", "canonicalize": "EMAIL"},
                  {"rule_id": "p", "identifier_type": "PHONE", "canonicalize": "DIGITS"}]})
    run(str(db_path), "FULL")
    later = T0 + dt.timedelta(hours=1)
    execute(db_path, "UPDATE people SET phone = '111', ts = ? WHERE id = 3",   # {1,2} + {3,4}: merge
            "UPDATE people SET email = 'z@x.com', ts = ? WHERE id = 6",  # {5,6}: split
            "INSERT INTO people VALUES (8, 'a@x.com', NULL, ?, FALSE)",  # new, joins the merge
            "UPDATE people SET is_deleted = TRUE, ts = ? WHERE id = 7",  # removed
            params=[later])
    return db_path


@pytest.mark.parametrize("mode", ["FULL", pytest.param("INCR", marks=pytest.mark.on_spark)])
def test_dry_run_changes_nothing_and_predicts_the_real_run(changed_db, mode, monkeypatch):
    db = changed_db
    before = _snapshot(db)
    monkeypatch.setenv("IDR_DRY_RUN", "true")  # the CLI in this process: the engine's session is here
    code, stdout, stderr = cli("--db", str(db), "run", "--run-mode", mode)
    monkeypatch.delenv("IDR_DRY_RUN")
    assert code == 0, stderr
    assert "DRY RUN" in stdout and "NO CHANGES COMMITTED" in stdout
    assert _snapshot(db) == before
    run_id, status, run_mode = query(db, "SELECT run_id, status, run_mode FROM idr_out.run_history "
                                         "ORDER BY started_at DESC LIMIT 1")[0]
    assert status == "DRY_RUN_COMPLETE" and run_mode == mode and run_id.startswith("dry_run_")
    assert f"run_id = '{run_id}'" in stdout

    proposed = dict(query(db, "SELECT entity_key, proposed_resolved_id FROM idr_out.dry_run_results "
                              "WHERE run_id = ? AND change_type <> 'REMOVED'", [run_id]))
    kinds = dict(query(db, "SELECT entity_key, change_type FROM idr_out.dry_run_results WHERE run_id = ?", [run_id]))
    summary = query(db, "SELECT total_entities, new_entities, moved_entities, merged_clusters, split_clusters, "
                        "largest_proposed_cluster, removed_entities FROM idr_out.dry_run_summary WHERE run_id = ?",
                    [run_id])[0]
    old = dict(query(db, "SELECT entity_key, resolved_id FROM idr_out.identity_resolved_membership_current"))

    real = run(str(db), mode)  # now for real
    new = dict(query(db, "SELECT entity_key, resolved_id FROM idr_out.identity_resolved_membership_current"))
    assert {k: v for k, v in new.items() if k in proposed} == proposed
    moved = {k for k in new if k in old and new[k] != old[k]}
    assert {k for k, t in kinds.items() if t == "MOVED"} == moved
    assert {k for k, t in kinds.items() if t == "NEW"} == set(new) - set(old) == {"p:8"}
    assert {k for k, t in kinds.items() if t == "REMOVED"} == set(old) - set(new) == {"p:7"}
    total, new_n, moved_n, merged, split, largest, removed = summary
    assert (total, new_n, moved_n, removed) == (len(new), 1, len(moved), 1)
    assert (merged, split) == (2, 1)
    assert largest == real.counts["largest_cluster"] == 5
