"""Writing snapshots: a publishing run's results as immutable Parquet files plus a manifest,
made current by replacing the small pointer file (layout.py describes the folder).

The snapshot is the only copy of the published state: inside the database file the
`idr_out.*_current` names (schema.STATE) are views over the current snapshot's files,
re-pointed in the run's publishing transaction. The order gives readers, and the database,
one whole snapshot at every instant, whatever is killed when:

1. inside the run's publishing transaction: the state files of snapshot <run_id> (FULL:
   write_whole per table; INCR: write_changes, rows added and rows removed), then, after
   run_history and stage_metrics are final, the audit tables' files, the manifest, and the
   database's state views re-pointed at the new files (finish). Nothing points at them yet
   outside the transaction.
2. the DuckDB transaction commits: this is the run's commit point.
3. switch(): the pointer is replaced (os.replace of a fsynced temporary file).

Killed before 2: the database's views and the pointer both still say "previous run"; the
unused folder is removed later (collect). Killed between 2 and 3: the database has the
new run and the pointer the previous snapshot, each whole; the next run, rollback or
`idr init` moves the pointer forward (reconcile). A failure in 1 (disk full...) fails the
run before its commit, so it is FAILED and the previous snapshot stays current.

The audit tables (run_history, stage_metrics, ...) stay native tables of the database and
are copied whole into every snapshot, so `idr runs` and the seed manual's SELECTs can read
them from the snapshot while a run holds the database; a table whose rows did not change
since the previous snapshot (same fingerprint) gets a hard link to that snapshot's file.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..errors import InputError, RunError
from ..schema import STATE, column_types, empty_state_sql
from ..sql.quoting import ident, qualified
from . import layout

PUBLISHED = ('SUCCESS', 'SUCCESS_WITH_WARNINGS')  # run_history statuses of runs that published
SEPARATOR = "__before_"  # runs/rollback.py's before-tables: not published
COMPACT_FRACTION = 0.2  # change files above this share of a table's rows: rewrite it whole
# zstd level 1: 30% less CPU than the default level 3 writing 1.5M identifier pairs, files
# 7% larger (measured 2026-12-04: 0.47 s vs 0.67 s CPU, 14.6 vs 13.7 MiB; snappy 0.41 s, 24.8 MiB).
PARQUET = "(FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)"


@dataclass
class Pending:
    """A snapshot whose files are being written; current once its run commits and switch()."""
    db: Path
    snapshot: str
    tables: dict = field(default_factory=dict)


def _duck(db):
    """The DuckDB connection of a backend (snapshots are written by DuckDB's COPY; another
    engine brings its own writer of the same layout), or a connection as it is."""
    return getattr(db, "con", db)


def database_path(con) -> Path:
    """The file the connection's main database lives in."""
    con = _duck(con)
    return Path(con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()")
                .fetchall()[0][0])


def _kinds(con) -> dict[str, str]:
    return dict(_duck(con).execute("SELECT table_name, table_type FROM information_schema.tables "
                                   "WHERE table_schema = 'idr_out'").fetchall())


def audit_tables(con) -> list[str]:
    """The idr_out base tables copied whole into every snapshot (not the state, not the
    rollback before-tables)."""
    return sorted(n for n, kind in _kinds(con).items()
                  if kind == "BASE TABLE" and SEPARATOR not in n and n not in STATE)


def columns_of(con, select: str, params=None) -> list[tuple[str, str]]:
    """(name, type) of a SELECT's columns."""
    con = _duck(con)
    return [(r[0], r[1]) for r in con.execute(f"DESCRIBE {select}", params or {}).fetchall()]


def start(con, run_id: str) -> Pending:
    """The pending snapshot of a publishing run; a folder left with this id by a run killed
    before its commit was never read and is replaced."""
    pending = Pending(database_path(con), run_id)
    folder = layout.snapshot_dir(pending.db, run_id)
    if folder.exists():
        shutil.rmtree(folder)
    return pending


def _copy(con, select: str, path: Path, params=None) -> int:
    """Write one Parquet file; returns its row count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    target = str(path).replace("'", "''")
    return int(_duck(con).execute(f"COPY ({select}) TO '{target}' {PARQUET}", params or {}).fetchall()[0][0])


def _typed(select: str, columns: list[tuple[str, str]]) -> str:
    """The SELECT's columns, by position, named and cast as the table declares them, so every
    file of a table (whole or change) has the same Parquet schema."""
    cols = ", ".join(f"CAST({ident(c)} AS {t}) AS {ident(c)}" for c, t in columns)
    return f"SELECT {cols} FROM ({select}) AS idr_s({', '.join(ident(c) for c, _ in columns)})"


def _entry(columns, files, rows, removed=(), removed_rows=()) -> dict:
    return {"columns": [c for c, _ in columns], "types": [t for _, t in columns], "files": list(files),
            "rows": list(rows), "removed": list(removed), "removed_rows": list(removed_rows)}


def declared(table: str) -> list[tuple[str, str]] | None:
    """The columns a state table declares (schema.TABLES); None for tables whose columns
    follow the configuration (the golden profile)."""
    from ..schema import GOLDEN

    return None if table == GOLDEN else column_types("idr_out", table)


def write_whole(con, pending: Pending, table: str, select: str, params=None,
                columns: list[tuple[str, str]] | None = None) -> int:
    """One table of the snapshot as one file holding `select`'s rows. Returns the rows."""
    columns = columns or declared(table) or columns_of(con, select, params)
    rel = f"snapshots/{pending.snapshot}/{table}.parquet"
    rows = _copy(con, _typed(select, columns), layout.root(pending.db) / rel, params)
    pending.tables[table] = _entry(columns, [rel], [rows])
    return rows


def write_changes(con, pending: Pending, table: str, previous: dict | None, removed_sql: str, added_sql: str,
                  params=None) -> None:
    """INCR: the table as the previous snapshot's files plus this run's change files (rows
    added; rows removed: exact rows of the published table). Rewritten whole when there is
    no usable previous entry or the change files outgrow COMPACT_FRACTION of the table."""
    current = f"SELECT * FROM {qualified('idr_out', table)}"  # the published table (the view)
    columns = columns_of(con, current)
    same = " AND ".join(f"t.{ident(c)} IS NOT DISTINCT FROM g.{ident(c)}" for c, _ in columns)
    result = (f"SELECT t.* FROM ({current}) AS t ANTI JOIN ({removed_sql}) AS g ON {same} "
              f"UNION ALL {added_sql}")
    usable = previous is not None and previous["columns"] == [c for c, _ in columns] \
        and previous.get("types") in (None, [t for _, t in columns])
    if not usable:
        write_whole(con, pending, table, result, params, columns)
        return
    base = layout.root(pending.db)
    rel = f"snapshots/{pending.snapshot}/{table}"
    entry = {k: list(v) if isinstance(v, list) else v for k, v in previous.items()}
    entry["types"] = [t for _, t in columns]
    for kind, sql, args, files, counts in (("added", added_sql, params, "files", "rows"),
                                           ("removed", removed_sql, None, "removed", "removed_rows")):
        path = base / f"{rel}.{kind}.parquet"
        n = _copy(con, _typed(sql, columns), path, args)
        if n:
            entry[files].append(f"{rel}.{kind}.parquet")
            entry[counts].append(n)
        else:
            path.unlink()
    changed = sum(entry["rows"][1:]) + sum(entry["removed_rows"])
    if changed > COMPACT_FRACTION * max(entry["rows"][0], 1):
        compacted = layout.table_sql({"_root": str(base), "tables": {table: entry}}, table)
        write_whole(con, pending, table, compacted, None, columns)
        for kind in ("added", "removed"):
            (base / f"{rel}.{kind}.parquet").unlink(missing_ok=True)
    else:
        pending.tables[table] = entry


def published_manifest(con, exclude: str | None = None) -> dict | None:
    """The manifest of the published state (the latest publishing run's snapshot, which the
    database's views read), or None when there is none or it is damaged."""
    con = _duck(con)
    run = latest_publisher(con, exclude=exclude)
    if run is None:
        return None
    try:
        return layout.read_manifest(database_path(con), run)
    except InputError:
        return None


def unreadable(con) -> str | None:
    """Why the published state cannot be read (its snapshot gone or damaged), else None.
    Reads, writes nothing."""
    con = _duck(con)
    run = latest_publisher(con)
    if run is None:
        return None
    try:
        layout.read_manifest(database_path(con), run)
    except InputError as e:
        return str(e)
    return None


def forget_unreadable(con) -> str | None:
    """When the published snapshot is gone or damaged, make the database's state views read
    nothing (a view over missing files fails everything that binds it, `idr init` included)
    and return why; else None. The caller owns the transaction."""
    con = _duck(con)
    kinds = _kinds(con)
    if "run_history" not in kinds or any(kinds.get(t) == "BASE TABLE" for t in STATE):
        return None  # not initialised yet, or state tables of an older idr (converted by reconcile)
    lost = unreadable(con)
    if lost:
        point_views(con, None)
    return lost


def point_views(con, manifest: dict | None) -> None:
    """Make the database's idr_out state names views over a snapshot's files (None: empty).
    Columns a state table declares that the snapshot lacks (written by an older idr) read
    as NULL. The caller owns the transaction."""
    con = _duck(con)
    tables = (manifest or {}).get("tables", {})
    for table in dict.fromkeys([*STATE, *(t for t in tables if t.endswith("_current"))]):
        if table not in tables:
            sql = empty_state_sql(table)
        else:
            sql = layout.table_sql(manifest, table)
            missing = [(c, t) for c, t in (declared(table) or []) if c not in tables[table]["columns"]]
            if missing:
                sql = f"SELECT *, {', '.join(f'CAST(NULL AS {t}) AS {ident(c)}' for c, t in missing)} FROM ({sql})"
        con.execute(f"CREATE OR REPLACE VIEW {qualified('idr_out', table)} AS {sql}")


def as_manifest(pending: Pending) -> dict:
    """The pending snapshot's tables as a manifest readers' functions take (layout.table_sql)."""
    return {"format": layout.FORMAT, "snapshot": pending.snapshot, "tables": pending.tables,
            "_root": str(layout.root(pending.db))}


def finish(con, pending: Pending, *, tables: dict | None = None) -> Pending:
    """Step 1b, still inside the transaction, after the audit rows are final: the audit
    tables' files, the manifest, and the database's state views re-pointed at the new
    snapshot. `tables` reuses another snapshot's state (rollback)."""
    con = _duck(con)
    if tables is not None:
        pending.tables = dict(tables)
    folder = layout.snapshot_dir(pending.db, pending.snapshot)
    before = (published_manifest(con, exclude=pending.snapshot) or {}).get("tables", {})
    for table in audit_tables(con):
        select = f"SELECT * FROM {qualified('idr_out', table)}"
        columns = columns_of(con, select)
        mark = fingerprint(con, table, columns)
        kept = before.get(table)
        if kept and kept.get("fingerprint") == mark and kept.get("types") == [t for _, t in columns] \
                and kept["columns"] == [c for c, _ in columns] and len(kept["files"]) == 1 \
                and not kept.get("removed") and _link(pending, table, kept):
            continue
        write_whole(con, pending, table, select, columns=columns)
        pending.tables[table]["fingerprint"] = mark
    manifest = {"format": layout.FORMAT, "snapshot": pending.snapshot,
                "written_at": datetime.now(timezone.utc).isoformat(), "tables": pending.tables}
    _write_atomically(folder / layout.MANIFEST, json.dumps(manifest, indent=1))
    point_views(con, as_manifest(pending))
    return pending


def fingerprint(con, table: str, columns: list[tuple[str, str]]) -> list:
    """(rows, sum of row hashes) of an audit table: equal fingerprints mean the table
    still holds the rows the earlier snapshot's file holds (a sum, unlike XOR, does not
    cancel out duplicate rows), so that file is listed again instead of rewritten (the
    dry-run tables can be large and rarely change)."""
    cols = ", ".join(ident(c) for c, _ in columns)
    n, total = _duck(con).execute(f"SELECT count(*), coalesce(sum(CAST(hash({cols}) AS HUGEINT)), 0) "
                                  f"FROM {qualified('idr_out', table)}").fetchall()[0]
    return [int(n), str(total)]


def _link(pending: Pending, table: str, kept: dict) -> bool:
    """An unchanged audit table: the earlier snapshot's file, hard-linked into this one's
    folder (no copy; each snapshot folder stays whole, so collect() can remove old ones).
    False where the file system cannot link: the caller writes the table instead."""
    base = layout.root(pending.db)
    rel = f"snapshots/{pending.snapshot}/{table}.parquet"
    try:
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        os.link(base / kept["files"][0], base / rel)
    except OSError:
        return False
    pending.tables[table] = {**kept, "files": [rel]}
    return True


def write_rollback(con, run_id: str, target: str) -> Pending:
    """A rollback to `target` restores exactly the state target published: its snapshot's
    state files are reused as they are, so the switch costs only the audit tables."""
    con = _duck(con)
    db = database_path(con)
    kept = layout.read_manifest(db, target)["tables"]  # InputError when gone or damaged
    return Pending(db, run_id, {t: e for t, e in kept.items() if t.endswith("_current")})


def switch(pending: Pending) -> None:
    """Step 3, after the commit: make the snapshot current."""
    point_to(pending.db, pending.snapshot)


def point_to(db: Path, snapshot: str) -> None:
    pointer = {"format": layout.FORMAT, "snapshot": snapshot}
    _write_atomically(layout.root(db) / layout.POINTER, json.dumps(pointer))


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def latest_publisher(con, exclude: str | None = None) -> str | None:
    """The run (FULL, INCR or ROLLBACK) whose state is published: the newest that committed."""
    con = _duck(con)
    row = con.execute(
        f"SELECT run_id FROM idr_out.run_history WHERE status IN {PUBLISHED} "
        "AND run_mode IN ('FULL', 'INCR', 'ROLLBACK') AND run_id IS DISTINCT FROM ? "
        "ORDER BY started_at DESC, run_id DESC LIMIT 1", [exclude]).fetchall()
    return row[0][0] if row else None


def publish_whole(con, snapshot: str) -> None:
    """Write and switch to a snapshot of the state as the database reads it now (its views,
    or the tables of a database from before snapshots), in one transaction that also drops
    those tables: `idr init` (empty state, upgrade). The caller holds the database."""
    from ..backends.duckdb import transaction

    con = _duck(con)
    pending = start(con, snapshot)
    kinds = _kinds(con)
    for table in STATE:
        if table in kinds:
            select = f"SELECT * FROM {qualified('idr_out', table)}"
            write_whole(con, pending, table, select, columns=columns_of(con, select))
    with transaction(con):
        for table, kind in kinds.items():
            if kind == "BASE TABLE" and (table in STATE or table.split(SEPARATOR)[0] in STATE):
                con.execute(f"DROP TABLE {qualified('idr_out', table)}")  # the old release's state and its copies
        finish(con, pending)
    switch(pending)


@dataclass
class Reconciled:
    message: str | None = None  # what was done, for `idr init`
    lost: str | None = None  # the published state cannot be read: why (a FULL run rebuilds it)


def reconcile(con) -> Reconciled:
    """Make the pointer and the database's views name the published state, whatever a crash,
    a move or a hand left: point both at the latest publishing run's snapshot; convert the
    state tables of a database from before snapshots (upgrade); write an empty snapshot when
    nothing was published yet. A published snapshot that is gone or damaged cannot be
    rebuilt from the database (it is the only copy): the views then read nothing, and the
    result says so (the runner runs FULL, which rebuilds it)."""
    from ..backends.duckdb import transaction

    con = _duck(con)
    db = database_path(con)
    want = latest_publisher(con)
    legacy = [t for t, kind in _kinds(con).items() if t in STATE and kind == "BASE TABLE"]
    fresh = want or f"init_{datetime.now(timezone.utc):%Y%m%d_%H%M%S}_{secrets.token_hex(3)}"
    try:
        pointer = layout.read_pointer(db)
    except InputError:
        pointer = None
    try:
        if legacy:
            publish_whole(con, fresh)
            return Reconciled(f"published results converted to snapshot {fresh} ({layout.snapshot_dir(db, fresh)})")
        if want is None and pointer is not None and pointer["snapshot"].startswith("init_"):
            try:
                layout.read_manifest(db, pointer["snapshot"])
                return Reconciled()
            except InputError:
                pass
        if want is None:
            publish_whole(con, fresh)
            return Reconciled(f"snapshot {fresh} written to {layout.snapshot_dir(db, fresh)}")
    except OSError as e:
        raise RunError(f"cannot write the snapshot of {db} to {layout.root(db)}: {e}") from e
    try:
        manifest = layout.read_manifest(db, want)
    except InputError as e:
        with transaction(con):
            point_views(con, None)
        return Reconciled(lost=str(e))
    if not _views_current(con, layout.root(db)):  # moved, after a loss, or columns added by an upgrade
        with transaction(con):
            point_views(con, manifest)
    if pointer is None or pointer["snapshot"] != want:
        point_to(db, want)
        return Reconciled(f"snapshot pointer moved to {want}")
    return Reconciled()


def _views_current(con, root: Path) -> bool:
    """The database's state views read files under `root` and have every declared column."""
    from ..schema import MEMBERSHIP

    row = con.execute("SELECT sql FROM duckdb_views() WHERE schema_name = 'idr_out' AND view_name = ?",
                      [MEMBERSHIP]).fetchall()
    if not row or str(root) not in row[0][0]:
        return False
    have = set(con.execute("SELECT table_name, column_name FROM information_schema.columns "
                           "WHERE table_schema = 'idr_out'").fetchall())
    return all((t, c) in have for t in STATE for c, _ in column_types("idr_out", t))


def collect(con, retention: int) -> None:
    """Remove snapshots no reader or rollback can need: keep the current one and those of
    the published runs inside the rollback window; then the files no kept manifest lists."""
    con = _duck(con)
    db = database_path(con)
    base = layout.root(db) / "snapshots"
    if not base.is_dir():
        return
    pointer = layout.read_pointer(db)
    keep = {pointer["snapshot"]} if pointer else set()
    keep |= {r[0] for r in con.execute(
        f"SELECT run_id FROM idr_out.run_history WHERE status IN {PUBLISHED} AND run_mode IN ('FULL', 'INCR') "
        "AND rolled_back_by IS NULL ORDER BY started_at DESC, run_id DESC LIMIT ?", [retention]).fetchall()}
    latest = latest_publisher(con)
    if latest:
        keep.add(latest)  # what the database's views read, even before the pointer moves there
    used: set[Path] = set()
    for snap in keep:
        try:
            manifest = layout.read_manifest(db, snap)
        except InputError:
            continue
        for t in manifest["tables"].values():
            used |= {(layout.root(db) / rel).resolve() for rel in t["files"] + t["removed"]}
    for folder in base.iterdir():
        if folder.name in keep:
            continue
        (folder / layout.MANIFEST).unlink(missing_ok=True)
        for f in folder.iterdir():
            if f.resolve() not in used:
                f.unlink()
        if not any(folder.iterdir()):
            folder.rmdir()


def disk_used(db: Path) -> int:
    """Bytes used by all kept snapshots (files shared between snapshots counted once)."""
    base = layout.root(db) / "snapshots"
    if not base.is_dir():
        return 0
    sizes = {}  # hard links (unchanged audit tables) are one file
    for f in base.rglob("*"):
        if f.is_file():
            st = f.stat()
            sizes[(st.st_dev, st.st_ino)] = st.st_size
    return sum(sizes.values())


def after_commit(con, pending: Pending, retention: int) -> None:
    """Switch and clean up once the run has committed. The run has succeeded whatever
    happens here: a failed switch is redone by the next run or `idr init` (reconcile), a
    failed clean-up by the next publish."""
    con = _duck(con)
    try:
        switch(pending)
        collect(con, retention)
    except (OSError, InputError):
        pass
