"""Published snapshots: what readers see equals what the database published, INCR writes
change files, rollback switches, readers work while a run holds the file, and damage or a
crash is reported or repaired (publish/snapshot.py)."""

import datetime as dt
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import duckdb
import pytest

import idr
from idr.errors import InputError, RunError
from idr.cli import main as cli
from idr.publish import layout
from idr.runs.runner import rollback
from idr_testing import execute, make_db, make_legacy, simple_config

STATE = ["identity_resolved_membership_current", "identity_clusters_current",
         "identity_identifier_pairs_current", "identity_skipped_groups_current"]
AUDIT = ["run_history", "stage_metrics", "skipped_identifier_groups", "resolved_id_lineage"]


def rows(n, start=0):
    # emails shared in pairs, one junk value shared by many (a skipped group with max 5)
    return [{"id": str(i), "email": f"p{i // 2}@x.com" if i % 7 else "junk@x.com",
             "ts": dt.datetime(2026, 1, 1, 0, 0, i % 60)} for i in range(start, start + n)]


@pytest.fixture
def db(db_path):
    cfg = simple_config(max_group_size=5)
    cfg["sources"][0]["watermark_column"] = "ts"
    make_db(db_path, {"people": rows(60)}, cfg)
    return db_path


def assert_snapshot_equals_database(db):
    """Every table a reader sees equals the database's (rows as multisets)."""
    snap = idr.open_results(db)
    con = duckdb.connect(str(db), read_only=True)
    try:
        for t in STATE + AUDIT + ["identity_identifiers_current", "identity_edges_current"]:
            got = sorted(map(repr, snap.execute(f"SELECT * FROM idr_out.{t}").fetchall()))
            want = sorted(map(repr, con.execute(f"SELECT * FROM idr_out.{t}").fetchall()))
            assert got == want, t
    finally:
        snap.close()
        con.close()


def add_rows(db, start, n, ts="2026-02-01 00:00:00"):
    execute(db, *[f"INSERT INTO people VALUES ('{r['id']}', '{r['email']}', TIMESTAMP '{ts}')"
                  for r in rows(n, start)])


def test_full_incr_rollback_publish_what_the_database_holds(db):
    first = idr.run(db, mode="FULL")
    assert idr.snapshot_version(db) == first.run_id
    assert_snapshot_equals_database(db)
    add_rows(db, 1000, 4)
    second = idr.run(db, mode="INCR")
    assert second.mode == "INCR" and idr.snapshot_version(db) == second.run_id
    manifest = layout.current_snapshot(db)
    membership = manifest["tables"]["identity_resolved_membership_current"]
    # the INCR snapshot is the FULL one's file plus this run's change files, not a rewrite
    assert membership["files"][0] == f"snapshots/{first.run_id}/identity_resolved_membership_current.parquet"
    assert len(membership["files"]) == 2 and membership["rows"][1] > 0
    assert_snapshot_equals_database(db)
    execute(db, "UPDATE people SET email = 'p500@x.com', ts = TIMESTAMP '2026-03-01' WHERE id = '3'")
    third = idr.run(db, mode="INCR")
    assert layout.current_snapshot(db)["tables"]["identity_resolved_membership_current"]["removed"]
    assert_snapshot_equals_database(db)
    back = rollback(str(db), first.run_id)
    assert idr.snapshot_version(db) == back.run_id
    # a switch: the rolled-back snapshot reads first's files again
    assert layout.current_snapshot(db)["tables"]["identity_resolved_membership_current"] == \
        layout.read_manifest(db, first.run_id)["tables"]["identity_resolved_membership_current"]
    assert_snapshot_equals_database(db)


def test_old_snapshots_are_removed_past_the_window(db):
    execute(db, "INSERT INTO idr_meta.config VALUES ('rollback_retention_runs', '2', NULL, now())")
    ids = [idr.run(db, mode="FULL").run_id for _ in range(4)]
    kept = sorted(os.listdir(layout.root(db) / "snapshots"))
    assert kept == sorted(ids[-2:])
    out = subprocess.run([sys.executable, "-m", "idr", "runs", "--db", str(db)], capture_output=True, text=True)
    assert "published snapshots" in out.stderr and "MiB" in out.stderr


def test_readers_work_while_a_run_holds_the_database(db, capsys):
    run = idr.run(db, mode="FULL")
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "print('ok', flush=True); time.sleep(60)", str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ok"
        assert cli(["runs", "--db", str(db)]) == 0
        out = capsys.readouterr()
        assert "published snapshot" in out.err and run.run_id in out.out
        con = idr.open_results(db)
        assert con.execute("SELECT count(*) FROM idr_out.identity_resolved_membership_current").fetchall() == [(60,)]
        assert cli(["results", "path", "--db", str(db)]) == 0
        assert capsys.readouterr().out.strip() == str(layout.snapshot_dir(db, run.run_id))
    finally:
        holder.kill()
        holder.wait()


def test_a_reader_holding_a_snapshot_never_fails_a_run(db):
    idr.run(db, mode="FULL")
    reader = idr.open_results(db)
    before = reader.execute("SELECT count(*) FROM idr_out.identity_resolved_membership_current").fetchall()
    add_rows(db, 2000, 3)
    assert idr.run(db, mode="INCR").status.startswith("SUCCESS")
    assert idr.run(db, mode="FULL").status.startswith("SUCCESS")
    # still its own snapshot (kept within the rollback window)
    assert reader.execute("SELECT count(*) FROM idr_out.identity_resolved_membership_current").fetchall() == before


def test_damaged_snapshot_is_reported_and_repaired(db, capsys):
    first = idr.run(db, mode="FULL")
    shutil.rmtree(layout.snapshot_dir(db, first.run_id))
    with pytest.raises(InputError, match="missing"):
        idr.open_results(db)
    assert cli(["results", "path", "--db", str(db)]) == 2
    assert "FULL" in capsys.readouterr().err
    # The snapshot is the only copy: init makes the database usable again and says what is lost.
    assert cli(["init", "--db", str(db)]) == 0
    assert "missing" in capsys.readouterr().err
    with pytest.raises(InputError, match="dry-run"):
        idr.run(db, mode="FULL", dry_run=True)
    with pytest.raises(InputError, match="cannot be read"):
        idr.run(db, mode="INCR", auto_full=False)
    incr = idr.run(db, mode="INCR")  # runs FULL, which rebuilds it
    assert incr.mode == "FULL" and "cannot be read" in incr.notes[0]
    assert_snapshot_equals_database(db)
    # a damaged pointer: a run repairs it too
    (layout.root(db) / layout.POINTER).write_text("garbage")
    assert idr.run(db, mode="FULL").status.startswith("SUCCESS")
    assert_snapshot_equals_database(db)


def test_init_converts_a_database_from_before_snapshots(db):
    first = idr.run(db, mode="FULL")
    want = sorted(idr.open_results(db).execute("SELECT * FROM idr_out.identity_resolved_membership_current")
                  .fetchall())
    make_legacy(db)  # what a database written by the previous release looks like
    assert idr.snapshot_version(db) == first.run_id  # read from the file while nothing holds it
    assert cli(["init", "--db", str(db)]) == 0
    assert idr.snapshot_version(db) == first.run_id
    assert json.loads((layout.root(db) / layout.POINTER).read_text())["snapshot"] == first.run_id
    assert sorted(idr.open_results(db).execute("SELECT * FROM idr_out.identity_resolved_membership_current")
                  .fetchall()) == want
    assert execute_kinds(db) == {"VIEW"}  # the state tables became views over the snapshot
    assert_snapshot_equals_database(db)
    assert cli(["init", "--db", str(db)]) == 0  # again: nothing to do
    assert_snapshot_equals_database(db)


def execute_kinds(db) -> set[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {k for (k,) in con.execute("SELECT table_type FROM information_schema.tables WHERE "
                                          "table_schema = 'idr_out' AND table_name LIKE '%\\_current' ESCAPE '\\'")
                .fetchall()}
    finally:
        con.close()


def test_dry_run_touches_no_snapshot(db):
    idr.run(db, mode="FULL")
    before = sorted(p.name for p in layout.root(db).rglob("*"))
    pointer = (layout.root(db) / layout.POINTER).read_text()
    idr.run(db, mode="FULL", dry_run=True)
    assert sorted(p.name for p in layout.root(db).rglob("*")) == before
    assert (layout.root(db) / layout.POINTER).read_text() == pointer


def test_killed_runs_leave_one_whole_snapshot(db):
    """kill -9 at random moments of FULL runs: the snapshot a reader opens is always whole
    (its membership is what its own run counted) and the next run repairs the rest."""
    idr.run(db, mode="FULL")
    rng = random.Random(14)
    for _ in range(4):
        proc = subprocess.Popen([sys.executable, "-m", "idr", "run", "--db", str(db)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 2.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        snap = idr.open_results(db)
        version = idr.snapshot_version(db)
        counted = snap.execute("SELECT entities_processed FROM idr_out.run_history WHERE run_id = ?",
                               [version]).fetchall()
        members = snap.execute("SELECT count(*), count(DISTINCT run_id) FROM "
                               "idr_out.identity_resolved_membership_current").fetchall()
        assert counted == [(60,)] and members == [(60, 1)]
        snap.close()
    assert idr.run(db, mode="FULL").status.startswith("SUCCESS")
    assert_snapshot_equals_database(db)


@pytest.fixture
def small_disk(tmp_path):
    """A 20 MiB tmpfs (needs root; skipped with the reason otherwise)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:
        if os.environ.get("IDR_REQUIRE_SERVICES") == "1":
            pytest.fail("cannot mount a tmpfs (needs root)")
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mnt
    subprocess.run(["umount", str(mnt)], check=True)


def test_disk_full_while_publishing_fails_the_run_and_keeps_the_snapshot(db, small_disk):
    # The snapshot folder lives on the small disk, the database on the ordinary one.
    os.symlink(small_disk, layout.root(db))
    first = idr.run(db, mode="FULL")
    with open(small_disk / "filler", "wb", buffering=0) as f:  # leave almost nothing free (unbuffered: no ENOSPC at close)
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass
    with pytest.raises(RunError, match="stage publish"):
        idr.run(db, mode="FULL")
    con = duckdb.connect(str(db), read_only=True)
    statuses = con.execute("SELECT status, error_stage FROM idr_out.run_history ORDER BY started_at").fetchall()
    con.close()
    assert statuses == [("SUCCESS", None), ("FAILED", "publish")]
    assert idr.snapshot_version(db) == first.run_id
    reader = idr.open_results(db)  # the previous snapshot, whole
    assert reader.execute("SELECT count(*), min(run_id) FROM idr_out.identity_resolved_membership_current"
                          ).fetchall() == [(60, first.run_id)]
    (small_disk / "filler").unlink()
    assert idr.run(db, mode="FULL").status.startswith("SUCCESS")
    assert_snapshot_equals_database(db)
