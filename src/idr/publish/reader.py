"""Reading the published results from another process: the contract in docs/results.md.

    con = idr.open_results("idr.duckdb")          # read-only DuckDB connection
    con.execute("SELECT * FROM idr_out.identity_resolved_membership_current LIMIT 5")
    idr.snapshot_version("idr.duckdb")            # id of the snapshot open_results reads

A run publishes its results as an immutable snapshot (Parquet files listed by a manifest)
in the folder next to the database (layout.py); the small pointer file naming the current
snapshot is replaced atomically when a run or rollback commits. A reader opens the snapshot
the pointer names and keeps reading those files, whatever later runs do; it never opens the
database file, so it neither waits for a run nor makes one fail.

A database no run has published to under this layout yet (written by an older idr) has no
pointer: then the database file itself is opened read-only, which works whenever no run
holds it.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from ..errors import InputError
from . import layout


def snapshot_version(db: str | os.PathLike) -> str | None:
    """The id of the published snapshot, or None when nothing is published yet.

    Cheap (one small file read, no database open): poll it to notice a new snapshot. It
    changes exactly when a run or a rollback publishes, and two different snapshots never
    share an id."""
    pointer = layout.read_pointer(Path(db))
    if pointer is not None:
        return pointer["snapshot"]
    return _legacy_version(Path(db))


def open_results(db: str | os.PathLike, *, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only DuckDB connection where every idr_out table and view the docs describe
    is queryable as `idr_out.<name>`, fixed on the snapshot current at the call.

    The connection is an in-memory database whose idr_out views read the snapshot's files;
    close it when done (it holds no lock on anything, so keeping it open is harmless)."""
    db = Path(db)
    snap = layout.current_snapshot(db)
    if snap is None:
        return _open_legacy(db)
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    layout.create_views(con, "idr_out", snap)
    return con


def open_snapshot(db: str | os.PathLike, *, threads: int | None = None
                  ) -> tuple[str, duckdb.DuckDBPyConnection] | None:
    """(snapshot id, connection as open_results gives it) read from one pointer reading, so
    the id names exactly the snapshot the connection reads (snapshot_version followed by
    open_results could straddle a publish). None when no snapshot was published: a
    long-lived reader (the lookup service) never opens the database file itself."""
    db = Path(db)
    pointer = layout.read_pointer(db)
    if pointer is None:
        return None
    manifest = layout.read_manifest(db, pointer["snapshot"])
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    layout.create_views(con, "idr_out", manifest)
    return pointer["snapshot"], con


def attach_to_spark(spark, db: str | os.PathLike) -> str | None:
    """Make the published results readable in a SparkSession under the usual names
    (`idr_out.identity_resolved_membership_current`, ...: views over the snapshot's Parquet
    files, fixed on the snapshot current at the call). Returns its id (None: nothing
    published). The Spark engine does this itself in the session it runs in. In a session
    with a persistent (Hive) catalog the snapshot is registered there instead, for every
    session on that metastore (publish/spark_catalog.py)."""
    from ..backends.spark import create_snapshot_views, persistent
    from ..sql.dialects import SPARK

    if persistent(spark):
        from .spark_catalog import register_database

        return register_database(db, spark)

    manifest = layout.current_snapshot(Path(db))
    if manifest is None:
        return None
    create_snapshot_views(spark, manifest, layout.derived_views(manifest, SPARK))
    return manifest["snapshot"]


def _open_legacy(db: Path) -> duckdb.DuckDBPyConnection:
    from ..backends.duckdb import open_database

    if not db.exists():
        raise InputError(f"--db {db}: no such database and no published snapshot (run `idr init --db {db}`)")
    return open_database(db, create=False, read_only=True)


def _legacy_version(db: Path) -> str | None:
    """Before the first snapshot: the newest publishing run in run_history (needs the file)."""
    if not db.exists():
        return None
    con = _open_legacy(db)
    try:
        row = con.execute(
            "SELECT run_id FROM idr_out.run_history WHERE status IN ('SUCCESS', 'SUCCESS_WITH_WARNINGS') "
            "AND run_mode IN ('FULL', 'INCR', 'ROLLBACK') ORDER BY started_at DESC, run_id DESC LIMIT 1").fetchall()
    except duckdb.CatalogException:
        return None
    finally:
        con.close()
    return row[0][0] if row else None


def open_for_reading(db: str | os.PathLike):
    """For idr's own read-only commands (`idr runs`, `idr dry-run show`, `idr metrics`):
    the database file read-only when it is free, else, while a run holds it, the published
    snapshot. Returns (connection, True when it reads the snapshot)."""
    from ..backends.duckdb import DuckDBBackend
    from ..errors import LockedError

    try:
        return DuckDBBackend.open(db, create=False, read_only=True), False
    except LockedError:
        if layout.read_pointer(Path(db)) is None:
            raise
        return DuckDBBackend(open_results(db)), True
