"""Writing snapshots: a publishing run's results as immutable Parquet files plus a manifest,
made current by replacing the small pointer file (layout.py describes the folder).

The order gives readers one whole snapshot at every instant, whatever is killed when:

1. inside the run's publishing transaction, after the outputs are written: the files of
   snapshot <run_id> (write_state), then, after run_history and stage_metrics are final,
   the audit tables and the manifest (finish). Nothing points at them yet.
2. the DuckDB transaction commits: this is the run's commit point.
3. switch(): the pointer is replaced (os.replace of a fsynced temporary file).

Killed before 2: the database and the pointer both still say "previous run"; the unused
folder is removed later (collect). Killed between 2 and 3: the database has the new run
and the pointer the previous snapshot, each whole; the next run, rollback or `idr init`
moves the pointer forward (reconcile). A failure in 1 (disk full...) fails the run before
its commit, so it is FAILED and the previous snapshot stays current.

Every table of the idr_out schema is carried generically: `*_current` tables (the state a
run publishes, whatever later versions add) are written whole by a FULL run and as change
files by an INCR run (rows added, rows removed, compacted when they grow); the audit tables
(run_history, stage_metrics, ...) are written whole, so `idr runs` and the seed manual's
SELECTs can read them from the snapshot while a run holds the database.
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
from ..sql.quoting import ident, qualified
from . import layout

PUBLISHED = ('SUCCESS', 'SUCCESS_WITH_WARNINGS')  # run_history statuses of runs that published
SEPARATOR = "__before_"  # runs/rollback.py's before-tables: not published
COMPACT_FRACTION = 0.2  # change files above this share of a table's rows: rewrite it whole
PARQUET = "(FORMAT parquet, COMPRESSION zstd)"


@dataclass
class Pending:
    """A snapshot whose files are written and whose pointer switch is still to come."""
    db: Path
    snapshot: str
    tables: dict = field(default_factory=dict)


def _duck(db):
    """The DuckDB connection of a backend (snapshots are written by DuckDB's COPY; another
    engine would bring its own writer), or a connection as it is."""
    return getattr(db, "con", db)


def database_path(con) -> Path:
    """The file the connection's main database lives in."""
    con = _duck(con)
    return Path(con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()")
                .fetchall()[0][0])


def idr_out_tables(con) -> tuple[list[str], list[str]]:
    """(state tables: idr_out *_current base tables, audit tables: the other base tables)."""
    con = _duck(con)
    names = [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'idr_out' "
        "AND table_type = 'BASE TABLE' ORDER BY table_name").fetchall() if SEPARATOR not in r[0]]
    state = [n for n in names if n.endswith("_current")]
    return state, [n for n in names if n not in state]


def _columns(con, table: str) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'idr_out' AND table_name = ? "
        "ORDER BY ordinal_position", [table]).fetchall()]


def _copy(con, select: str, path: Path, params=None) -> int:
    """Write one Parquet file; returns its row count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    target = str(path).replace("'", "''")
    con.execute(f"COPY ({select}) TO '{target}' {PARQUET}", params or {})
    return int(con.execute(f"SELECT count(*) FROM read_parquet('{target}')").fetchall()[0][0])


def _whole(con, pending: Pending, table: str) -> dict:
    rel = f"snapshots/{pending.snapshot}/{table}.parquet"
    rows = _copy(con, f"SELECT * FROM {qualified('idr_out', table)}", layout.root(pending.db) / rel)
    return {"columns": _columns(con, table), "files": [rel], "rows": [rows], "removed": [], "removed_rows": []}


def _changes(con, pending: Pending, table: str, previous: dict, run_id: str) -> dict:
    """The previous snapshot's files plus this run's rows (added) and the rows it replaced
    (removed, from the before-table runs/rollback.py keeps)."""
    before = f"{table}{SEPARATOR}{run_id}"
    out = {k: list(v) for k, v in previous.items()}
    out["columns"] = _columns(con, table)
    base = layout.root(pending.db) / "snapshots" / pending.snapshot
    added = _copy(con, f"SELECT * FROM {qualified('idr_out', table)} WHERE run_id = $run_id",
                  base / f"{table}.added.parquet", {"run_id": run_id})
    removed = _copy(con, f"SELECT * FROM {qualified('idr_out', before)}", base / f"{table}.removed.parquet")
    rel = f"snapshots/{pending.snapshot}/{table}"
    if added:
        out["files"].append(f"{rel}.added.parquet")
        out["rows"].append(added)
    if removed:
        out["removed"].append(f"{rel}.removed.parquet")
        out["removed_rows"].append(removed)
    return out


def _has_before(con, table: str, run_id: str) -> bool:
    return bool(con.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = 'idr_out' "
                            "AND table_name = ?", [f"{table}{SEPARATOR}{run_id}"]).fetchall())


def write_state(con, run_id: str, mode: str) -> Pending:
    """Step 1a, inside the publishing transaction once the outputs are written: the state
    tables' files of snapshot `run_id`. INCR writes change files against the current
    snapshot when that snapshot is the state this run started from, else whole files."""
    con = _duck(con)
    pending = Pending(database_path(con), run_id)
    folder = layout.snapshot_dir(pending.db, run_id)
    if folder.exists():  # left by a run killed before its commit with this very id: never read
        shutil.rmtree(folder)
    previous = _previous_manifest(con, pending.db, run_id) if mode == "INCR" else None
    state, _ = idr_out_tables(con)
    for table in state:
        prev = (previous or {}).get("tables", {}).get(table)
        if prev and _has_before(con, table, run_id) and _columns(con, table) == prev["columns"] \
                and "run_id" in prev["columns"] \
                and not _too_many_changes(con, prev, table, run_id):
            pending.tables[table] = _changes(con, pending, table, prev, run_id)
        else:
            pending.tables[table] = _whole(con, pending, table)
    return pending


def _too_many_changes(con, prev: dict, table: str, run_id: str) -> bool:
    """Compact when the change files (with this run's) outgrow a share of the table."""
    changed = sum(prev["rows"][1:]) + sum(prev["removed_rows"])
    changed += con.execute(f"SELECT count(*) FROM {qualified('idr_out', table + SEPARATOR + run_id)}").fetchall()[0][0]
    return changed > COMPACT_FRACTION * max(prev["rows"][0], 1)


def _previous_manifest(con, db: Path, run_id: str) -> dict | None:
    """The current snapshot, if it is exactly the state before this run (else None)."""
    try:
        pointer = layout.read_pointer(db)
        if pointer is None or pointer["snapshot"] != latest_publisher(con, exclude=run_id):
            return None
        return layout.read_manifest(db, pointer["snapshot"])
    except InputError:
        return None  # damaged: this run writes its snapshot whole, which repairs it


def finish(con, pending: Pending, *, tables: dict | None = None) -> Pending:
    """Step 1b, still inside the transaction, after the audit rows are final: the audit
    tables' files and the manifest. `tables` reuses another snapshot's state (rollback)."""
    con = _duck(con)
    if tables is not None:
        pending.tables = dict(tables)
    folder = layout.snapshot_dir(pending.db, pending.snapshot)
    _, audit = idr_out_tables(con)
    for table in audit:
        pending.tables[table] = _whole(con, pending, table)
    manifest = {"format": layout.FORMAT, "snapshot": pending.snapshot,
                "written_at": datetime.now(timezone.utc).isoformat(), "tables": pending.tables}
    _write_atomically(folder / layout.MANIFEST, json.dumps(manifest, indent=1))
    return pending


def write_rollback(con, run_id: str, target: str) -> Pending:
    """A rollback to `target` restores exactly the state target published: its snapshot's
    state files are reused as they are when the snapshot is still kept, so the switch
    costs only the audit tables; otherwise the restored state is written whole."""
    con = _duck(con)
    db = database_path(con)
    try:
        kept = layout.read_manifest(db, target)["tables"]
    except InputError:
        kept = None
    state, _ = idr_out_tables(con)
    if kept is None or not all(t in kept and kept[t]["columns"] == _columns(con, t) for t in state):
        return write_state(con, run_id, "FULL")
    return Pending(db, run_id, {t: kept[t] for t in state})


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
    """Write and switch to a snapshot of the database as it is (init, upgrade, repair).
    The caller holds the database (no run in progress)."""
    con = _duck(con)
    pending = write_state(con, snapshot, "FULL")
    finish(con, pending)
    switch(pending)


def reconcile(con) -> str | None:
    """Make the pointer name the published state, whatever a crash or a hand left: move it
    forward to a committed run's complete snapshot, else write the snapshot anew from the
    database (a pointer naming a run this database never published, as when the file was
    copied without its folder, is replaced too). Returns what was done (for `idr init`), None when all was in order."""
    con = _duck(con)
    db = database_path(con)
    want = latest_publisher(con)
    try:
        pointer = layout.read_pointer(db)
    except InputError:
        pointer = None
    if want is None and pointer is not None and pointer["snapshot"].startswith("init_"):
        try:
            layout.read_manifest(db, pointer["snapshot"])
            return None
        except InputError:
            pass
    elif pointer is not None and pointer["snapshot"] == want:
        try:
            layout.read_manifest(db, want)
            return None
        except InputError:
            pass
    elif want is not None:
        try:
            layout.read_manifest(db, want)
            point_to(db, want)
            return f"snapshot pointer moved forward to {want}"
        except InputError:
            pass
    snapshot = want or f"init_{datetime.now(timezone.utc):%Y%m%d_%H%M%S}_{secrets.token_hex(3)}"
    try:
        publish_whole(con, snapshot)
    except OSError as e:
        raise RunError(f"cannot write the snapshot of {db} to {layout.root(db)}: {e}") from e
    return f"snapshot {snapshot} written to {layout.snapshot_dir(db, snapshot)}"


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
    return sum(f.stat().st_size for f in base.rglob("*") if f.is_file()) if base.is_dir() else 0


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
