"""INCR in practice: when it runs as FULL, new sources, lineage of merges and splits,
rollback after a bad configuration change, and what the CLI says."""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa
import pytest

from idr.errors import InputError
from idr.runs.runner import rollback, run
from idr_testing import execute as _sql, idr_cli, make_db, partition, query

# Runs on every engine under test (conftest.ENGINES).
pytestmark = pytest.mark.usefixtures("engine")

T0 = dt.datetime(2026, 1, 1)
SCHEMA = pa.schema([("id", pa.int64()), ("email", pa.string()), ("ts", pa.timestamp("us")),
                    ("is_deleted", pa.bool_())])


def _rows(*pairs, ts=T0):
    return pa.Table.from_pylist([{"id": i, "email": e, "ts": ts, "is_deleted": False} for i, e in pairs],
                                schema=SCHEMA)


def _config(max_group_size=100, sources=("people",)):
    return {
        "sources": [{"table_id": t, "table_fqn": t, "entity_key_expr": "id", "watermark_column": "ts",
                     "deleted_expr": "is_deleted",
                     "identifiers": [{"identifier_type": "EMAIL", "identifier_value_expr": "email"}]}
                    for t in sources],
        "rules": [{"rule_id": "email", "identifier_type": "EMAIL", "canonicalize": "EMAIL",
                   "max_group_size": max_group_size}],
    }


def _later(hours=1):
    return [T0 + dt.timedelta(hours=hours)]


@pytest.fixture
def two_clusters(db_path):
    """{1,2} share a@x, {3,4} share b@x, 5 alone."""
    make_db(db_path, {"people": _rows((1, "a@x.com"), (2, "a@x.com"), (3, "b@x.com"), (4, "b@x.com"),
                                      (5, "c@x.com"))}, _config())
    run(str(db_path), "FULL")
    return db_path


def _ids(path):
    return dict(query(path, "SELECT entity_key, resolved_id FROM idr_out.identity_resolved_membership_current"))


def _lineage(path):
    return query(path, "SELECT event, resolved_id, related_resolved_id, entities_moved FROM idr_out.resolved_id_lineage "
                       "WHERE run_id = (SELECT run_id FROM idr_out.run_history ORDER BY started_at DESC LIMIT 1) "
                       "ORDER BY ALL")


def test_bridge_merges_then_delete_splits_with_lineage(two_clusters):
    db = two_clusters
    # Entity 6 has two rows, one per email: it bridges {1,2} and {3,4}. Parts of 2 and 2:
    # the tie goes to the smallest id.
    _sql(db, "INSERT INTO people VALUES (6, 'a@x.com', ?, FALSE), (6, 'b@x.com', ?, FALSE)", params=_later() * 2)
    r = run(str(db), "INCR")
    assert r.mode == "INCR" and r.counts["merges"] == 1
    assert set(_ids(db).values()) == {"people:1", "people:5"}
    assert _lineage(db) == [("MERGE", "people:1", "people:3", 2)]
    # Deleting the bridge splits it again: the part with the smallest key keeps people:1,
    # the other gets a new id (people:3 is free again, so it is its smallest key).
    _sql(db, "UPDATE people SET is_deleted = TRUE, ts = ? WHERE id = 6", params=_later(2))
    r = run(str(db), "INCR")
    ids = _ids(db)
    assert (ids["people:1"], ids["people:2"], ids["people:3"], ids["people:4"]) == \
        ("people:1", "people:1", "people:3", "people:3")
    assert "people:6" not in ids and r.counts["entities_removed"] == 1
    assert _lineage(db) == [("SPLIT", "people:1", "people:3", 2)]
    # 6's edge in each of its two groups (at least) is gone, and the metric says so.
    assert r.counts["edges_updated"] >= 2
    assert query(db, "SELECT metric_value FROM idr_out.metrics_export WHERE run_id = ? "
                     "AND metric_name = 'idr_edges_updated'", [r.run_id]) == [(r.counts["edges_updated"],)]


def test_new_row_of_a_key_rereads_its_older_rows(db_path):
    """Only the new row of entity 1 passes the watermark; its older row (a@x.com, older
    than the last run's watermark) still holds 1's other identifier, so 1 must link
    {1,2} and {3,4} through both emails."""
    make_db(db_path, {"people": pa.concat_tables([
        _rows((1, "a@x.com"), (2, "a@x.com"), (3, "b@x.com"), (4, "b@x.com")),
        _rows((5, "c@x.com"), ts=_later(1)[0])])}, _config())
    run(str(db_path), "FULL")
    _sql(db_path, "INSERT INTO people VALUES (1, 'b@x.com', ?, FALSE)", params=_later(2))
    r = run(str(db_path), "INCR")
    assert r.mode == "INCR"
    assert partition(db_path) == {frozenset({"people:1", "people:2", "people:3", "people:4"}),
                                  frozenset({"people:5"})}
    assert query(db_path, "SELECT identifier_value_norm FROM idr_out.identity_identifiers_current "
                          "WHERE entity_key = 'people:1' ORDER BY 1") == [("a@x.com",), ("b@x.com",)]


def test_split_keeps_id_with_largest_part_and_new_ids_never_clash(two_clusters):
    db = two_clusters
    # 3 leaves b@x for a@x; 8 joins 4 on b@x. people:3's two members go one each way (a tie:
    # the part with the smaller smallest key, {1,2,3}, is its heir) and that part keeps its
    # larger part's id, people:1; {4,8} gets a new id.
    _sql(db, "UPDATE people SET email = 'a@x.com', ts = ? WHERE id = 3", params=_later())
    _sql(db, "INSERT INTO people VALUES (8, 'b@x.com', ?, FALSE)", params=_later())
    run(str(db), "INCR")
    ids = _ids(db)
    assert ids["people:1"] == ids["people:2"] == ids["people:3"] == "people:1"
    assert ids["people:4"] == ids["people:8"] == "people:4"
    assert _lineage(db) == [("MERGE", "people:1", "people:3", 1), ("MERGE", "people:4", "people:3", 1)]
    # The smallest key leaves: {2,3} keep people:1; {1} needs a new id and people:1 is taken.
    _sql(db, "UPDATE people SET email = 'z@x.com', ts = ? WHERE id = 1", params=_later(2))
    run(str(db), "INCR")
    ids = _ids(db)
    assert ids["people:2"] == ids["people:3"] == "people:1"
    assert ids["people:1"] == "people:1#2"
    assert _lineage(db) == [("SPLIT", "people:1", "people:1#2", 1)]
    assert query(db, "SELECT count(DISTINCT resolved_id) = count(*) FROM idr_out.identity_clusters_current") == [(True,)]


def test_group_growing_past_max_group_size_unlinks_it(db_path):
    make_db(db_path, {"people": _rows((1, "a@x.com"), (2, "a@x.com"))}, _config(max_group_size=2))
    run(str(db_path), "FULL")
    assert partition(db_path) == {frozenset({"people:1", "people:2"})}
    _sql(db_path, "INSERT INTO people VALUES (3, 'a@x.com', ?, FALSE)", params=_later())
    run(str(db_path), "INCR")
    assert partition(db_path) == {frozenset({f"people:{i}"}) for i in (1, 2, 3)}
    assert query(db_path, "SELECT group_size FROM idr_out.identity_skipped_groups_current") == [(3,)]
    _sql(db_path, "UPDATE people SET is_deleted = TRUE, ts = ? WHERE id = 3", params=_later(2))
    r = run(str(db_path), "INCR")
    assert r.counts["entities_removed"] == 1
    assert partition(db_path) == {frozenset({"people:1", "people:2"})}
    assert query(db_path, "SELECT count(*) FROM idr_out.identity_skipped_groups_current") == [(0,)]


def test_incr_summary_says_how_many_published_edges_it_replaced(two_clusters):
    db = two_clusters
    edges = set(query(db, "SELECT * EXCLUDE (run_id) FROM idr_out.identity_edges_current"))
    _sql(db, "UPDATE people SET email = 'a@x.com', ts = ? WHERE id = 3", params=_later())  # b@x's edge goes
    proc = idr_cli("--db", str(db), "run", "--run-mode", "INCR")
    assert proc.returncode == 0, proc.stderr
    replaced = len(edges - set(query(db, "SELECT * EXCLUDE (run_id) FROM idr_out.identity_edges_current")))
    assert replaced >= 1 and f"└─ Replaced:          {replaced}  (published edges removed or changed)" in proc.stdout


def test_configuration_change_runs_full_or_stops(two_clusters):
    db = two_clusters
    _sql(db, "UPDATE idr_meta.rule SET max_group_size = 1")
    proc = idr_cli("--db", str(db), "run", "--run-mode", "INCR", "--no-auto-full")
    assert proc.returncode == 2, proc.stderr
    assert "rules, exclusions or settings changed" in proc.stderr and proc.stderr.count("\n") == 1
    proc = idr_cli("--db", str(db), "run", "--run-mode", "INCR")
    assert proc.returncode == 0, proc.stderr
    assert "INCR requested; ran FULL because rules, exclusions or settings changed" in proc.stdout
    mode, requested, reason = query(db, "SELECT run_mode, requested_mode, mode_reason FROM idr_out.run_history "
                                        "ORDER BY started_at DESC LIMIT 1")[0]
    assert (mode, requested) == ("FULL", "INCR") and "changed since run" in reason
    assert len(partition(db)) == 5  # max_group_size 1: nothing links
    # Unchanged configuration: INCR stays INCR.
    assert run(str(db), "INCR").mode == "INCR"


def test_new_source_is_read_whole_by_incr(two_clusters):
    db = two_clusters
    _sql(db, "CREATE TABLE crm AS SELECT 9 AS id, 'c@x.com' AS email, TIMESTAMP '2000-01-01' AS ts, FALSE AS is_deleted")
    con = duckdb.connect(str(db))
    con.execute("INSERT INTO idr_meta.source_table VALUES ('crm', 'crm', 'id', 'ts', 0, TRUE)")
    con.execute("INSERT INTO idr_meta.identifier_mapping VALUES ('crm', 'EMAIL', 'email', FALSE)")
    con.close()
    r = run(str(db), "INCR")
    # crm read whole (1 entity) plus the 5 people rows tied at the watermark, re-read.
    assert r.mode == "INCR" and r.counts["entities"] == 6 and r.counts["clusters_impacted"] == 1
    assert _ids(db)["crm:9"] == "people:5"


def test_rollback_after_bad_configuration_change(two_clusters):
    db = two_clusters
    good = query(db, "SELECT run_id FROM idr_out.run_history")[0][0]

    def snapshot():
        return {t: sorted(query(db, f"SELECT * FROM {t}")) for t in (
            "idr_out.identity_resolved_membership_current", "idr_out.identity_clusters_current",
            "idr_out.identity_edges_current", "idr_out.identity_identifiers_current",
            "idr_out.identity_identifier_pairs_current", "idr_out.identity_skipped_groups_current",
            "idr_meta.run_state")}

    before = snapshot()
    _sql(db, "INSERT INTO people VALUES (6, 'c@x.com', ?, FALSE)", params=_later())
    second = run(str(db), "INCR").run_id
    after_second = snapshot()
    _sql(db, "UPDATE idr_meta.rule SET max_group_size = 1")  # the bad change
    bad = run(str(db), "INCR")
    assert bad.mode == "FULL" and len(partition(db)) == 6
    proc = idr_cli("--db", str(db), "rollback", "--to", second)
    assert proc.returncode == 0, proc.stderr
    assert snapshot() == after_second
    # Further back, to the first run: exactly its results and watermarks.
    rollback(str(db), good)
    assert snapshot() == before
    hist = dict(query(db, "SELECT run_id, rolled_back_by FROM idr_out.run_history WHERE run_mode <> 'ROLLBACK'"))
    assert hist[good] is None and hist[second] is not None and hist[bad.run_id] is not None
    assert query(db, "SELECT count(*) FROM idr_out.run_history WHERE run_mode = 'ROLLBACK' AND status = 'SUCCESS'") \
        == [(2,)]
    # The next INCR builds on the restored state (configuration still changed -> FULL).
    _sql(db, "UPDATE idr_meta.rule SET max_group_size = 100")
    r = run(str(db), "INCR")
    # person 6 again (newer than the restored watermark), and nothing else recomputed
    assert r.mode == "INCR" and r.counts["clusters_impacted"] == 1
    assert _ids(db)["people:6"] == "people:5"


def test_rollback_across_an_upgrade_that_added_a_column(two_clusters, monkeypatch):
    """A newer idr version's `idr init` may add columns to the state tables; the state of a
    run published before that still comes back (the new column read as NULL), and so do
    the watermarks it replaced (by column name)."""
    from idr.cli import main as cli_main
    from idr.schema import MEMBERSHIP, TABLES

    db = two_clusters
    first = query(db, "SELECT run_id FROM idr_out.run_history")[0][0]
    before = sorted(query(db, "SELECT entity_key, resolved_id FROM idr_out.identity_resolved_membership_current"))
    _sql(db, "INSERT INTO people VALUES (6, 'a@x.com', ?, FALSE)", params=_later())
    run(str(db), "FULL")
    # the newer version: one more declared column, and `idr init`
    monkeypatch.setitem(TABLES, ("idr_out", MEMBERSHIP), [*TABLES[("idr_out", MEMBERSHIP)], ("added_later", "VARCHAR")])
    _sql(db, "ALTER TABLE idr_meta.run_state ADD COLUMN added_later VARCHAR")
    assert cli_main(["init", "--db", str(db)]) == 0
    assert query(db, "SELECT count(added_later) FROM idr_out.identity_resolved_membership_current") == [(0,)]
    rollback(str(db), first)
    assert sorted(query(db, "SELECT entity_key, resolved_id FROM idr_out.identity_resolved_membership_current")) \
        == before
    assert query(db, "SELECT count(added_later) FROM idr_out.identity_resolved_membership_current") == [(0,)]


def test_rollback_refusals(two_clusters):
    db = two_clusters
    first = query(db, "SELECT run_id FROM idr_out.run_history")[0][0]
    for hours in range(1, 4):  # three more published runs: first falls out of the window of 3
        _sql(db, f"INSERT INTO people VALUES ({10 + hours}, 'd@x.com', ?, FALSE)", params=_later(hours))
        run(str(db), "INCR")
    with pytest.raises(InputError, match="outside the rollback window"):
        rollback(str(db), first)
    with pytest.raises(InputError, match="no such run"):
        rollback(str(db), "run_nope")
    dry = run(str(db), "INCR", dry_run=True)
    with pytest.raises(InputError, match="dry run"):
        rollback(str(db), dry.run_id)
    _sql(db, "INSERT INTO idr_out.run_history (run_id, run_mode, status, started_at) "
             "VALUES ('run_failed', 'INCR', 'FAILED', TIMESTAMP '2026-01-01')")
    proc = idr_cli("--db", str(db), "rollback", "--to", "run_failed")
    assert proc.returncode == 2 and "status FAILED" in proc.stderr, proc.stderr
    # Only the before-tables the window needs are kept.
    names = [n for (n,) in query(db, "SELECT table_name FROM information_schema.tables WHERE contains(table_name, "
                                     "'__before_')")]
    assert len({n.split("__before_")[1] for n in names}) == 2
    # Undoing the newest run brings `first` back into the window, but what the run after it
    # replaced was pruned: refused, naming the runs that can be reached.
    incrs = [r for (r,) in query(db, "SELECT run_id FROM idr_out.run_history WHERE run_mode = 'INCR' "
                                     "AND status = 'SUCCESS' ORDER BY started_at DESC")]
    rollback(str(db), incrs[1])
    with pytest.raises(InputError, match=f"no longer kept.*roll back to: {incrs[1]}, {incrs[2]}$"):
        rollback(str(db), first)
