"""Databases made by earlier idr versions: a run asks for `idr init`, which converts them
in one transaction without losing published results."""

from __future__ import annotations

import datetime as dt

import duckdb

from idr.schema import STATE
from idr_testing import assert_entity_numbers_consistent, idr_cli, make_db, make_legacy, query, simple_config

ROWS = [{"id": 1, "email": "a@x.com", "ts": dt.datetime(2026, 1, 1)},
        {"id": 2, "email": "A@x.com ", "ts": dt.datetime(2026, 1, 1)},
        {"id": 3, "email": "b@x.com", "ts": dt.datetime(2026, 1, 1)}]
IDENTIFIERS = "SELECT * FROM idr_out.identity_identifiers_current ORDER BY ALL"
EDGES = "SELECT * FROM idr_out.identity_edges_current ORDER BY ALL"


def _published(tmp_path):
    cfg = simple_config(types={"email": "EMAIL"})
    cfg["sources"][0]["watermark_column"] = "ts"
    db = make_db(tmp_path / "idr.duckdb", {"people": ROWS}, cfg)
    assert idr_cli("run", "--db", str(db)).returncode == 0
    return db


def _asks_for_init_then_converts(db) -> None:
    proc = idr_cli("run", "--db", str(db))
    assert proc.returncode == 2 and "idr init" in proc.stderr and "Traceback" not in proc.stderr
    assert idr_cli("init", "--db", str(db)).returncode == 0
    # the derived views, and the published state as views over the snapshot
    assert query(db, "SELECT table_name FROM information_schema.tables WHERE table_type = 'VIEW' "
                     "AND table_schema = 'idr_out' ORDER BY 1") == sorted(
        [("identity_edges_current",), ("identity_identifiers_current",), *((t,) for t in STATE)])


def test_stored_edge_table_becomes_the_view(tmp_path):
    db = _published(tmp_path)
    con = duckdb.connect(str(db))
    edges = con.execute(EDGES).fetchall()
    con.execute("DROP VIEW idr_out.identity_edges_current")  # what databases of earlier versions hold
    con.execute("CREATE TABLE idr_out.identity_edges_current AS SELECT 'stale' AS identifier_type")
    con.close()
    _asks_for_init_then_converts(db)
    assert len(edges) > 0 and query(db, EDGES) == edges
    assert idr_cli("run", "--db", str(db)).returncode == 0


def test_identifiers_stored_by_entity_key_move_to_numbered_pairs(tmp_path):
    db = _published(tmp_path)
    con = duckdb.connect(str(db))
    identifiers, edges = con.execute(IDENTIFIERS).fetchall(), con.execute(EDGES).fetchall()
    first_run = con.execute("SELECT run_id FROM idr_out.run_history").fetchall()[0][0]
    # The layout of earlier versions: state tables in the file, identifiers keyed by
    # entity_key, no entity numbers.
    con.close()
    make_legacy(db)
    con = duckdb.connect(str(db))
    con.execute("CREATE TEMP TABLE saved AS SELECT * FROM idr_out.identity_identifiers_current")
    con.execute("DROP VIEW idr_out.identity_identifiers_current")
    con.execute("CREATE TABLE idr_out.identity_identifiers_current AS SELECT * FROM saved")
    con.execute("DROP TABLE idr_out.identity_identifier_pairs_current")
    con.execute("ALTER TABLE idr_out.identity_resolved_membership_current DROP COLUMN entity_id")
    con.close()
    _asks_for_init_then_converts(db)
    assert len(identifiers) == 3 and query(db, IDENTIFIERS) == identifiers
    assert len(edges) == 1 and query(db, EDGES) == edges
    assert_entity_numbers_consistent(db)
    # INCR works on the converted state, and can be undone back to the converted state.
    converted = query(db, "SELECT * FROM idr_out.identity_resolved_membership_current ORDER BY ALL")
    con = duckdb.connect(str(db))
    con.execute("INSERT INTO people VALUES (4, 'b@x.com', TIMESTAMP '2026-01-02')")
    con.close()
    proc = idr_cli("run", "--run-mode", "INCR", "--no-auto-full", "--db", str(db))
    assert proc.returncode == 0, proc.stderr
    assert_entity_numbers_consistent(db)
    assert query(db, "SELECT count(DISTINCT resolved_id) FROM idr_out.identity_resolved_membership_current "
                     "WHERE entity_key IN ('src:3', 'src:4')") == [(1,)]
    assert idr_cli("rollback", "--to", first_run, "--db", str(db)).returncode == 0
    assert query(db, "SELECT * FROM idr_out.identity_resolved_membership_current ORDER BY ALL") == converted


def test_a_column_added_by_a_newer_idr_asks_for_init(tmp_path):
    """dry_run_summary.warnings came later: a dry run on a database without it would fail
    half-way; it asks for `idr init` instead, which adds the column."""
    db = _published(tmp_path)
    con = duckdb.connect(str(db))
    con.execute("ALTER TABLE idr_out.dry_run_summary DROP COLUMN warnings")
    con.close()
    proc = idr_cli("run", "--dry-run", "--db", str(db))
    assert proc.returncode == 2 and "idr init" in proc.stderr and "Traceback" not in proc.stderr
    assert idr_cli("init", "--db", str(db)).returncode == 0
    assert idr_cli("run", "--dry-run", "--db", str(db)).returncode == 0
