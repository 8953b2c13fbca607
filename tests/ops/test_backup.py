"""`idr backup` / `idr restore`: a restored database equals the original table by table and
keeps running (INCR == FULL on it); a backup waits for a run holding the database; old
backups are pruned; bad input changes nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from idr.ops.backup import MANIFEST, PREFIX, read_manifest
from idr.runs.runner import run
from idr.sql.quoting import literal, qualified
from idr_testing import copy_db, cli, execute, make_db, partition, query

T0 = dt.datetime(2026, 1, 1)
SCHEMA = pa.schema([("id", pa.int64()), ("email", pa.string()), ("phone", pa.string()), ("ts", pa.timestamp("us"))])


def _rows(rows, ts=T0):
    return pa.Table.from_pylist([{"id": i, "email": e, "phone": p, "ts": ts} for i, e, p in rows], schema=SCHEMA)


CONFIG = {
    "sources": [{"table_id": "people", "table_fqn": "people", "entity_key_expr": "id", "watermark_column": "ts",
                 "identifiers": [{"identifier_type": "EMAIL", "identifier_value_expr": "email"},
                                 {"identifier_type": "PHONE", "identifier_value_expr": "phone"}]}],
    "rules": [{"rule_id": "email", "identifier_type": "EMAIL", "canonicalize": "EMAIL", "max_group_size": 3},
              {"rule_id": "phone", "identifier_type": "PHONE", "canonicalize": "PHONE", "max_group_size": 50}],
    "exclusions": [{"identifier_type": "EMAIL", "identifier_value_pattern": "%@example.com", "is_pattern": True,
                    "reason": "example domain"}],
}


@pytest.fixture
def live_db(tmp_path):
    """A database after a FULL and an INCR run (so rollback states exist), with a skipped group."""
    rows = [(i, f"p{i // 3}@x.com", f"+1650253{i // 5:04d}", ) for i in range(60)]
    rows += [(100 + i, "shared@x.com", None) for i in range(4)]  # over max_group_size 3: skipped
    path = make_db(tmp_path / "live.duckdb", {"people": _rows(rows)}, CONFIG)
    assert run(str(path), "FULL").status.startswith("SUCCESS")
    execute(path, "INSERT INTO people VALUES (200, 'p1@x.com', NULL, TIMESTAMP '2026-01-02'), "
                  "(201, 'new@x.com', NULL, TIMESTAMP '2026-01-02')")
    assert run(str(path), "INCR").mode == "INCR"
    return path


def _cli(*args):
    return cli(*args)


def _only_backup(folder: Path) -> Path:
    [b] = [p for p in folder.iterdir() if p.name.startswith(PREFIX)]
    return b


def _tables(path: Path) -> list[str]:
    return [f"{s}.{t}" for s, t in query(path, "SELECT schema_name, table_name FROM duckdb_tables() "
                                              "WHERE NOT temporary ORDER BY ALL")]


def _differences(a: Path, b: Path, table: str) -> tuple[list, int]:
    """(column definitions that differ, rows in one table and not the other, duplicates counted)."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH {literal(str(a))} AS a (READ_ONLY)")
        con.execute(f"ATTACH {literal(str(b))} AS b (READ_ONLY)")
        s, t = table.split(".", 1)
        cols = [con.execute(f"DESCRIBE {qualified(db, s, t)}").fetchall() for db in ("a", "b")]
        n = con.execute(f"SELECT (SELECT count(*) FROM (FROM {qualified('a', s, t)} EXCEPT ALL "
                        f"FROM {qualified('b', s, t)})) + (SELECT count(*) FROM (FROM {qualified('b', s, t)} "
                        f"EXCEPT ALL FROM {qualified('a', s, t)}))").fetchall()[0][0]
    finally:
        con.close()
    return ([c for c in cols[0] if c not in cols[1]] + [c for c in cols[1] if c not in cols[0]]), n


def test_restore_equals_original_table_by_table_then_incr_equals_full(live_db, tmp_path):
    code, out, err = _cli("backup", "--db", str(live_db), "--to", str(tmp_path / "backups"))
    assert code == 0, err
    folder = _only_backup(tmp_path / "backups")
    assert str(folder) in out
    manifest = read_manifest(folder)
    # the published results: the state tables as the snapshot holds them
    assert manifest["state"]["tables"]["identity_resolved_membership_current"]["rows"] == 66
    assert any("__before_" in t for t in manifest["tables"]), "rollback states are part of the backup"
    assert "main.people" in manifest["tables"] and "idr_out.identity_edges_current" in manifest["views"]
    for name, entry in manifest["files"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == entry["sha256"]

    restored = tmp_path / "restored.duckdb"
    code, out, err = _cli("restore", "--from", str(folder), "--db", str(restored))
    assert code == 0, err
    assert _tables(restored) == _tables(live_db)
    for table in _tables(live_db):
        cols, rows = _differences(live_db, restored, table)
        assert cols == [], table
        # The backup is recorded after the copy is taken: only the original knows it.
        assert rows == (1 if table == "idr_out.backup_history" else 0), table
    [(bid, path)] = query(live_db, "SELECT backup_id, path FROM idr_out.backup_history")
    assert bid == manifest["backup_id"] and path == str(folder.resolve())
    views = "SELECT count(*) FROM idr_out.identity_edges_current"
    assert query(restored, views) == query(live_db, views) != [(0,)]

    # The restored database keeps working: INCR on it equals FULL on the same data.
    full = tmp_path / "full.duckdb"
    copy_db(restored, full)
    change = ("INSERT INTO people VALUES (300, 'p2@x.com', '+16502530003', TIMESTAMP '2026-01-03'), "
              "(301, 'lonely@x.com', NULL, TIMESTAMP '2026-01-03')")
    for path in (restored, full):
        execute(path, change)
    incr = run(str(restored), "INCR")
    assert incr.mode == "INCR" and incr.status.startswith("SUCCESS"), incr.notes
    run(str(full), "FULL")
    assert partition(restored) == partition(full)
    assert len(partition(restored)) < 68  # the new rows merged into existing clusters


def _hold_lock(path: Path, seconds: float) -> subprocess.Popen:
    """Another process holding the database like a run does: the write lock, and a transaction
    that publishes only at its end."""
    code = ("import duckdb, sys, time\n"
            f"c = duckdb.connect({str(path)!r})\n"
            "c.execute('BEGIN TRANSACTION')\n"
            "c.execute(\"UPDATE idr_out.run_history SET warnings = 'held_run'\")\n"
            "print('locked', flush=True)\n"
            f"time.sleep({seconds})\n"
            "c.execute('COMMIT')\n")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "locked"
    return p


def test_backup_waits_for_a_run_and_copies_what_it_published(live_db, tmp_path):
    holder = _hold_lock(live_db, 2.0)
    try:
        code, _, err = _cli("backup", "--db", str(live_db), "--to", str(tmp_path / "b"), "--wait", "0")
        assert code == 2 and "in use by another process" in err
        assert not (tmp_path / "b").exists() or list((tmp_path / "b").iterdir()) == []
        t = time.monotonic()
        code, _, err = _cli("backup", "--db", str(live_db), "--to", str(tmp_path / "b"), "--wait", "60")
        waited = time.monotonic() - t
    finally:
        holder.wait(timeout=30)
    assert code == 0, err
    assert waited > 1.0
    folder = _only_backup(tmp_path / "b")
    copy = duckdb.connect()
    [(n, held)] = copy.execute(
        "SELECT count(*), count(*) FILTER (warnings = 'held_run') FROM read_parquet(?)",
        [str(next(folder.glob("idr_out_run_history.parquet")))]).fetchall()
    assert n == held > 0  # all of the other process's committed change, none of the state before it


def _set_created(folder: Path, days_ago: int) -> None:
    doc = json.loads((folder / MANIFEST).read_text())
    doc["created_at"] = (dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(days=days_ago)).isoformat()
    (folder / MANIFEST).write_text(json.dumps(doc))


def test_backups_older_than_the_retention_are_pruned(live_db, tmp_path):
    root = tmp_path / "b"
    assert _cli("backup", "--db", str(live_db), "--to", str(root))[0] == 0
    old = _only_backup(root)
    _set_created(old, 40)
    (root / f"{PREFIX}not-ours").mkdir()  # no manifest: never touched
    code, out, err = _cli("backup", "--db", str(live_db), "--to", str(root))
    assert code == 0, err
    assert f"removed old backup {old.name}" in out
    recent = _only_backup_except(root, f"{PREFIX}not-ours")
    _set_created(recent, 10)
    code, out, err = _cli("backup", "--db", str(live_db), "--to", str(root))
    assert code == 0 and "removed" not in out, out
    names = {p.name for p in root.iterdir()}
    assert old.name not in names and {recent.name, f"{PREFIX}not-ours"} < names and len(names) == 3
    # A shorter retention from the configuration removes the 10-day-old one too.
    execute(live_db, "INSERT INTO idr_meta.config (config_key, config_value) VALUES ('backup_retention_days', '7')")
    code, out, _ = _cli("backup", "--db", str(live_db), "--to", str(root))
    assert code == 0 and f"removed old backup {recent.name}" in out
    assert len(query(live_db, "SELECT * FROM idr_out.backup_history")) == 4


def _only_backup_except(root: Path, name: str) -> Path:
    [b] = [p for p in root.iterdir() if p.name.startswith(PREFIX) and p.name != name]
    return b


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_backup_bad_input_changes_nothing(live_db, tmp_path):
    before = _digest(live_db)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for target, says in ((blocker / "backups", "cannot write a backup there"), (blocker, "is not a folder"),
                         (Path("/proc/idr-backups"), "cannot write a backup there")):
        code, out, err = _cli("backup", "--db", str(live_db), "--to", str(target))
        assert code == 2 and says in err and err.count("\n") == 1, err
    execute(live_db, "INSERT INTO idr_meta.config (config_key, config_value) VALUES ('backup_retention_days', '-1')")
    before = _digest(live_db)
    code, _, err = _cli("backup", "--db", str(live_db), "--to", str(tmp_path / "b"))
    assert code == 2 and "backup_retention_days" in err
    assert list((tmp_path / "b").iterdir()) == []
    assert _digest(live_db) == before
    assert query(live_db, "SELECT count(*) FROM idr_out.backup_history") == [(0,)]


def test_restore_refuses_bad_backups_and_existing_databases(live_db, tmp_path):
    assert _cli("backup", "--db", str(live_db), "--to", str(tmp_path / "b"))[0] == 0
    good = _only_backup(tmp_path / "b")
    new = tmp_path / "new.duckdb"

    def refused(src, says, db=new):
        code, out, err = _cli("restore", "--from", str(src), "--db", str(db))
        assert code == 2 and says in err and err.count("\n") == 1, err
        assert not new.exists() and [p for p in tmp_path.iterdir() if ".restoring-" in p.name] == []

    refused(tmp_path / "b", "not an idr backup (no manifest.json); it holds backups")
    empty = tmp_path / "empty"
    empty.mkdir()
    refused(empty, "not an idr backup")
    (empty / MANIFEST).write_text('{"hello": 1}')
    refused(empty, "is not an idr backup manifest")
    refused(tmp_path / "nowhere", "no such folder")
    refused(good, "cannot create a database there", db=Path("/proc/restored.duckdb"))

    # A flipped byte in one data file: caught by its checksum before anything is built.
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for f in good.iterdir():
        (damaged / f.name).write_bytes(f.read_bytes())
    victim = damaged / "state_identity_resolved_membership_current.parquet"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    refused(damaged, "state_identity_resolved_membership_current.parquet: checksum mismatch")
    (damaged / "load.sql").unlink()
    refused(damaged, "load.sql: missing")

    # A backup whose SQL was rewritten (checksums recomputed) cannot write elsewhere.
    evil = tmp_path / "evil"
    evil.mkdir()
    for f in good.iterdir():
        (evil / f.name).write_bytes(f.read_bytes())
    outside = tmp_path / "outside.csv"
    (evil / "load.sql").write_text(f"COPY (SELECT 42) TO {literal(str(outside))};\n")
    doc = json.loads((evil / MANIFEST).read_text())
    doc["files"]["load.sql"]["sha256"] = hashlib.sha256((evil / "load.sql").read_bytes()).hexdigest()
    (evil / MANIFEST).write_text(json.dumps(doc))
    refused(evil, "load.sql holds a statement other than COPY of a backup file")
    assert not outside.exists()

    existing = tmp_path / "existing.duckdb"
    existing.write_bytes(live_db.read_bytes())
    before = _digest(existing)
    code, _, err = _cli("restore", "--from", str(good), "--db", str(existing))
    assert code == 2 and "already exists" in err and _digest(existing) == before
