"""idr_out.resolved_id_lineage: every column of MERGE and SPLIT rows, FULL and INCR alike,
and the lineage after rollbacks (only the published history)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from idr.cli import main
from idr.runs.runner import rollback, run
from idr_testing import execute, make_db, query

T0 = dt.datetime(2026, 1, 1)
SCHEMA = pa.schema([("id", pa.int64()), ("email", pa.string()), ("ts", pa.timestamp("us")),
                    ("is_deleted", pa.bool_())])
CONFIG = {
    "sources": [{"table_id": "people", "table_fqn": "people", "entity_key_expr": "id", "watermark_column": "ts",
                 "deleted_expr": "is_deleted",
                 "identifiers": [{"identifier_type": "EMAIL", "identifier_value_expr": "email"}]}],
    "rules": [{"rule_id": "email", "identifier_type": "EMAIL", "canonicalize": "EMAIL", "max_group_size": 100}],
}
COLUMNS = ("run_id, event, resolved_id, related_resolved_id, entities_moved, resolved_cluster_size, "
           "related_cluster_size, recorded_at")


def _later(hours: int) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def _lineage(db, run_id=None) -> list[tuple]:
    where = "" if run_id is None else "WHERE run_id = ?"
    return query(db, f"SELECT {COLUMNS} FROM idr_out.resolved_id_lineage {where} ORDER BY ALL",
                 [run_id] if run_id else [])


@pytest.fixture
def three_clusters(db_path):
    """{1,2,8} share a@x, {3,4,5} share b@x, {6} has c@x."""
    rows = [(1, "a@x.com"), (2, "a@x.com"), (8, "a@x.com"), (3, "b@x.com"), (4, "b@x.com"), (5, "b@x.com"),
            (6, "c@x.com")]
    make_db(db_path, {"people": pa.Table.from_pylist(
        [{"id": i, "email": e, "ts": T0, "is_deleted": False} for i, e in rows], schema=SCHEMA)}, CONFIG)
    run(str(db_path), "FULL")
    return db_path


def _merge_then_split(db, mode: str):
    """Entity 7 bridges {1,2,8} and {3,4,5} while 5 moves to c@x, then 7 is deleted.
    Returns the two runs' results."""
    execute(db, "INSERT INTO people VALUES (7, 'a@x.com', ?, FALSE), (7, 'b@x.com', ?, FALSE)",
            params=[_later(1)] * 2)
    execute(db, "UPDATE people SET email = 'c@x.com', ts = ? WHERE id = 5", params=[_later(1)])
    merged = run(str(db), mode)
    execute(db, "UPDATE people SET is_deleted = TRUE, ts = ? WHERE id = 7", params=[_later(2)])
    split = run(str(db), mode)
    return merged, split


@pytest.mark.parametrize("mode", ["FULL", "INCR"])
def test_every_lineage_column_of_a_merge_and_a_split(three_clusters, mode):
    db = three_clusters
    merged, split = _merge_then_split(db, mode)
    assert (merged.mode, split.mode) == (mode, mode)
    started = dict(query(db, "SELECT run_id, started_at FROM idr_out.run_history"))
    # people:1 {1,2,8} keeps its id (parts of 3 and 2 from people:3: people:3 has 3 members
    # before the run and gives 2 of them to the new {1,2,3,4,7,8} and 5 to {5,6}).
    assert _lineage(db, merged.run_id) == [
        (merged.run_id, "MERGE", "people:1", "people:3", 2, 6, 3, started[merged.run_id]),
        (merged.run_id, "MERGE", "people:6", "people:3", 1, 2, 3, started[merged.run_id]),
    ]
    # Deleting 7 splits people:1: {1,2,8} keeps the id, {3,4} gets its smallest key.
    assert _lineage(db, split.run_id) == [
        (split.run_id, "SPLIT", "people:1", "people:3", 2, 3, 2, started[split.run_id]),
    ]
    assert merged.counts["merges"] == 2 and split.counts["splits"] == 1


def test_merge_sizes_in_the_demo_after_raising_a_rule_limit(tmp_path):
    """The issue's repro: the store phone joins many clusters once its rule allows it. Every
    MERGE row carries the absorbed cluster's size before the run."""
    db = str(tmp_path / "m.duckdb")
    assert main(["demo", "--db", db, "--persons", "1000"]) == 0
    before = dict(query(db, "SELECT resolved_id, cluster_size FROM idr_out.identity_clusters_current"))
    execute(db, "UPDATE idr_meta.rule SET max_group_size = 1000 WHERE rule_id = 'phone'")
    # Merging this many clusters at once is what the anomaly gate holds (docs/gate.md):
    # exit 3, nothing published; approving publishes the result as computed.
    assert main(["run", "--db", db, "--quiet"]) == 3
    [(held,)] = query(db, "SELECT run_id FROM idr_out.run_history WHERE status = 'HELD'")
    assert main(["approve", held, "--db", db]) == 0
    after = dict(query(db, "SELECT resolved_id, cluster_size FROM idr_out.identity_clusters_current"))
    rows = query(db, "SELECT resolved_id, related_resolved_id, resolved_cluster_size, related_cluster_size "
                     "FROM idr_out.resolved_id_lineage WHERE event = 'MERGE'")
    assert len(rows) >= 10
    for resolved, related, resolved_size, related_size in rows:
        assert related_size == before[related] and resolved_size == after[resolved]


# docs/incremental.md: "Where did the records of cluster X go?"
DOCUMENTED_QUERY = """
SELECT run_id, event, resolved_id, related_resolved_id, entities_moved
FROM idr_out.resolved_id_lineage
WHERE ? IN (resolved_id, related_resolved_id)
ORDER BY recorded_at
"""


def test_rollback_removes_the_lineage_of_the_runs_it_undid(three_clusters, capsys):
    db = three_clusters
    first = query(db, "SELECT run_id FROM idr_out.run_history")[0][0]
    merged, split = _merge_then_split(db, "INCR")
    undo = rollback(str(db), first)
    assert undo.undone == [split.run_id, merged.run_id]
    assert _lineage(db) == []  # the first run merged nothing; the undone runs' rows are gone
    # Redo the merge: the documented query sees it once, from the run now published.
    execute(db, "UPDATE people SET is_deleted = FALSE, ts = ? WHERE id = 7", params=[_later(3)])
    redo = run(str(db), "INCR")
    assert sorted(query(db, DOCUMENTED_QUERY, ["people:3"])) == [
        (redo.run_id, "MERGE", "people:1", "people:3", 2), (redo.run_id, "MERGE", "people:6", "people:3", 1)]
    # A rollback to a later run keeps the lineage of the runs up to it.
    nothing = run(str(db), "INCR")
    rollback(str(db), redo.run_id)
    assert {r[0] for r in _lineage(db)} == {redo.run_id} and nothing.counts["merges"] == 0

    # `idr runs`: undone runs are marked, and every column lines up, rollback rows included.
    capsys.readouterr()
    assert main(["runs", "--db", str(db)]) == 0
    lines = capsys.readouterr().out.splitlines()
    header, rows = lines[0], {line.split()[0]: line for line in lines[1:]}
    for run_id in (merged.run_id, split.run_id):
        assert f"UNDONE by {undo.run_id}" in rows[run_id]
    assert "UNDONE" not in rows[first] and "UNDONE" not in rows[redo.run_id]
    assert sum(line.split()[1] == "ROLLBACK" for line in lines[1:]) == 2
    for name in ("mode", "status", "started_at", "secs", "entities", "clusters", "skipped", "note"):
        column = header.index(name)
        for line in lines[1:]:
            # Left-aligned columns start where their header starts; numbers end where theirs ends.
            if name in ("secs", "entities", "clusters", "skipped"):
                end = column + len(name)
                assert line[end - 1] != " " and line[end:end + 1] in ("", " "), (name, line)
            else:
                assert line[column - 1:column] in ("", " ") and line[column:column + 1] != " ", (name, line)
