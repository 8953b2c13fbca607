"""`idr backup` and `idr restore`: a consistent copy of a database, and a new database from it.

What a backup holds: every table and view in the database file (configuration and
watermarks in idr_meta, published results, rollback states and audit tables in idr_out,
and source tables stored in the same file), written by DuckDB's EXPORT DATABASE as
Parquet files plus the SQL that recreates the schema, and a manifest.json with the idr and
DuckDB versions, the row count of every table and the SHA-256 of every file. Sources read
from Parquet/CSV paths or other databases are not copied.

Consistency while runs may be happening: a run holds DuckDB's write lock on the file from
start to end, and DuckDB lets no other process open the file meanwhile. A backup therefore
waits for the lock (`--wait`, retried with backoff), then exports inside one transaction
while holding the lock itself: no run can publish half-way through the copy, and a run
that starts meanwhile waits or is refused like any second run. Runs take seconds to
minutes; if one takes longer than the wait, the backup fails with exit 2 and changes
nothing. (When results move to snapshot files readable during runs, a backup can copy the
published snapshot without waiting.)

A backup is written to a hidden staging folder and renamed into place once its manifest is
written, so a folder named idr-backup-* is always complete. Each backup is recorded in
idr_out.backup_history (what `idr doctor` checks), and backups in the same folder older
than the retention (backup_retention_days, default 30) are removed.

Restore verifies every checksum before touching anything, builds the new database under a
temporary name with DuckDB's access to files limited to the backup folder, compares every
table's row count with the manifest, and only then renames it into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb

from ..config.models import SETTINGS
from ..errors import ConfigError, InputError
from ..pipeline.context import utcnow
from ..publish import layout
from ..schema import empty_state_sql
from ..sql.quoting import literal, qualified
from .waiting import open_when_free

FORMAT = "idr-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PREFIX = "idr-backup-"
DEFAULT_WAIT_SECONDS = 900.0
_COPY = re.compile(r"^\s*COPY\s+(?P<target>.+?)\s+FROM\s+'(?P<path>(?:[^']|'')*)'", re.S | re.I)


@dataclass
class BackupResult:
    backup_id: str
    path: Path
    tables: dict[str, int]
    bytes: int
    seconds: float
    pruned: list[str] = field(default_factory=list)


@dataclass
class RestoreResult:
    db: Path
    backup_id: str
    tables: dict[str, int]
    seconds: float


# --------------------------------------------------------------------------- backup


def backup(db, to, *, wait_seconds: float = DEFAULT_WAIT_SECONDS, keep_days: int | None = None) -> BackupResult:
    """Write a backup of the database `db` into a new folder under `to`, record it, prune old ones."""
    from ..schema import require_initialised

    root = Path(to)
    started = utcnow()
    backup_id = f"{started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    staging = _make_staging(root, backup_id)
    final = root / f"{PREFIX}{backup_id}"
    try:
        con = open_when_free(db, wait_seconds)
        try:
            require_initialised(con, db)
            keep_days = keep_days if keep_days is not None else _retention_days(con)
            con.execute("BEGIN TRANSACTION")  # the export and the counts see one state
            con.execute(f"EXPORT DATABASE {literal(str(staging))} (FORMAT parquet, COMPRESSION zstd)")
            tables = row_counts(con)
            views = sorted(_views(con))
            state = _export_state(con, staging)
            con.execute("COMMIT")
            files = {p.name: _file_entry(p) for p in sorted(staging.iterdir())}
            manifest = {
                "format": FORMAT, "format_version": FORMAT_VERSION, "backup_id": backup_id,
                "created_at": started.isoformat(), "idr_version": _idr_version(), "duckdb_version": duckdb.__version__,
                "source_db": str(Path(db).resolve()), "tables": tables, "views": views, "files": files,
                "state": state,
            }
            _write_json(staging / MANIFEST, manifest)
            staging.rename(final)
            size = sum(f["bytes"] for f in files.values())
            finished = utcnow()
            con.execute(
                "INSERT INTO idr_out.backup_history (backup_id, started_at, finished_at, path, tables, total_rows, "
                "bytes, idr_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [backup_id, started, finished, str(final.resolve()), len(tables), sum(tables.values()), size,
                 _idr_version()])
        finally:
            con.close()
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    pruned = prune(root, keep_days, now=finished, keep={final.name})
    return BackupResult(backup_id, final, tables, size, (finished - started).total_seconds(), pruned)


def _export_state(con, staging: Path) -> dict:
    """The published results (views over the current snapshot, publish/) as one Parquet file
    per state table, and the id of the run that published them."""
    from ..publish.snapshot import latest_publisher
    from ..schema import STATE

    tables = {}
    for t in STATE:
        name = f"state_{t}.parquet"
        rows = con.execute(f"COPY (SELECT * FROM {qualified('idr_out', t)}) TO {literal(str(staging / name))} "
                           "(FORMAT parquet, COMPRESSION zstd)").fetchall()[0][0]
        tables[t] = {"file": name, "rows": int(rows)}
    return {"snapshot": latest_publisher(con), "tables": tables}


def _make_staging(root: Path, backup_id: str) -> Path:
    """The hidden folder the backup is written into; creating it is the test that `root` is writable."""
    if root.exists() and not root.is_dir():
        raise InputError(f"--to {root}: is not a folder")
    staging = root / f".{PREFIX}{backup_id}.partial"
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging.mkdir(mode=0o700)  # backups hold personal data: owner only, whatever the umask
        probe = staging / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        shutil.rmtree(staging, ignore_errors=True)
        raise InputError(f"--to {root}: cannot write a backup there ({e.strerror or e})") from None
    return staging


def _retention_days(con) -> int:
    rows = con.execute("SELECT config_value FROM idr_meta.config WHERE config_key = 'backup_retention_days'").fetchall()
    raw = rows[0][0] if rows else None
    raw = SETTINGS["backup_retention_days"][0] if raw is None or not str(raw).strip() else raw
    try:
        value = int(str(raw).strip())
        if value <= 0:
            raise ValueError
    except ValueError:
        raise ConfigError(f"idr_meta.config backup_retention_days={raw!r}: expected a positive integer "
                          "of days") from None
    return value


def row_counts(con) -> dict[str, int]:
    """'schema.table' -> rows, for every table of the database (temporary ones aside)."""
    names = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "AND NOT temporary ORDER BY schema_name, table_name").fetchall()
    return {f"{s}.{t}": con.execute(f"SELECT count(*) FROM {qualified(s, t)}").fetchall()[0][0] for s, t in names}


def _views(con) -> list[str]:
    return [f"{s}.{v}" for s, v in con.execute(
        "SELECT schema_name, view_name FROM duckdb_views() WHERE database_name = current_database() "
        "AND NOT internal AND NOT temporary").fetchall()]


def _file_entry(path: Path) -> dict:
    return {"sha256": _sha256(path), "bytes": path.stat().st_size}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_json(path: Path, doc: dict) -> None:
    with path.open("w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())


def _idr_version() -> str:
    from .. import __version__

    return __version__


def prune(root: Path, keep_days: int, *, now: datetime, keep: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """Remove idr backups under `root` created more than `keep_days` days before `now`, and
    staging folders that old (left by a backup that was killed). Only folders with idr's
    names are considered, and a backup only if its manifest says it is one."""
    cutoff = now - timedelta(days=keep_days)
    removed = []
    for child in sorted(root.iterdir()):
        if child.name in keep or not child.is_dir():
            continue
        if child.name.startswith(PREFIX):
            try:
                created = datetime.fromisoformat(read_manifest(child)["created_at"])
            except (InputError, KeyError, ValueError, TypeError):
                continue  # not a backup idr can date: leave it alone
        elif child.name.startswith(f".{PREFIX}") and child.name.endswith(".partial"):
            created = datetime.fromtimestamp(child.stat().st_mtime, timezone.utc).replace(tzinfo=None)
        else:
            continue
        if created < cutoff:
            try:
                shutil.rmtree(child)
            except OSError as e:  # the new backup stands; say what could not be removed
                removed.append(f"{child.name} FAILED ({e.strerror or e}): remove it by hand")
                continue
            removed.append(child.name)
    return removed


# --------------------------------------------------------------------------- restore


def read_manifest(folder: Path) -> dict:
    """The manifest of a backup folder; InputError if the folder is not an idr backup."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"--from {folder}: no such folder")
    path = folder / MANIFEST
    if not path.is_file():
        inside = sorted(p.name for p in folder.iterdir() if p.name.startswith(PREFIX) and p.is_dir())
        hint = f"; it holds backups, e.g. --from {folder / inside[-1]}" if inside else ""
        raise InputError(f"--from {folder}: not an idr backup (no {MANIFEST}){hint}")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"--from {folder}: {MANIFEST} is not readable JSON ({e})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(f"--from {folder}: {MANIFEST} is not an idr backup manifest")
    if doc.get("format_version") != FORMAT_VERSION:
        raise InputError(f"--from {folder}: backup format version {doc.get('format_version')!r}; this idr reads "
                         f"version {FORMAT_VERSION}")
    files, tables = doc.get("files"), doc.get("tables")
    if not isinstance(files, dict) or not isinstance(tables, dict) or not {"schema.sql", "load.sql"} <= set(files):
        raise InputError(f"--from {folder}: {MANIFEST} lacks its file or table lists")
    return doc


def verify(folder: Path, manifest: dict) -> None:
    """Every file the manifest lists is there with its checksum; InputError naming each that is not."""
    problems = []
    for name, entry in sorted(manifest["files"].items()):
        path = folder / name
        if Path(name).name != name:
            problems.append(f"{name}: not a plain file name")
        elif not path.is_file():
            problems.append(f"{name}: missing")
        elif _sha256(path) != entry.get("sha256"):
            problems.append(f"{name}: checksum mismatch")
    if problems:
        raise InputError(f"--from {folder}: the backup is damaged, nothing was restored: " + "; ".join(problems))


def restore(src, db) -> RestoreResult:
    """Build a new database at `db` from the backup folder `src`. Refuses an existing `db`."""
    src, target = Path(src), Path(db)
    started = utcnow()
    if target.exists() or Path(f"{target}.wal").exists():
        raise InputError(f"--db {target}: already exists; restore only creates a new database "
                         "(give a new path, or move the existing file away first)")
    if not target.parent.is_dir():
        raise InputError(f"--db {target}: folder {target.parent} does not exist")
    if layout.root(target).exists():
        raise InputError(f"--db {target}: its snapshot folder {layout.root(target)} already exists; move it away first")
    manifest = read_manifest(src)
    verify(src, manifest)
    tmp = target.with_name(f".{target.name}.restoring-{secrets.token_hex(3)}")
    try:
        try:
            con = duckdb.connect(str(tmp))
        except duckdb.Error as e:
            raise InputError(f"--db {target}: cannot create a database there ({_first_line(e)})") from None
        try:
            _load(con, src.resolve(), manifest)
        finally:
            con.close()
        con = duckdb.connect(str(tmp))  # external access back: the snapshot goes next to the target
        try:
            _restore_state(con, src.resolve(), manifest, target)
            counts = row_counts(con)
            views = set(_views(con))
        finally:
            con.close()
        expected = {k: int(v) for k, v in manifest["tables"].items()}
        wrong = [f"{t}: {counts.get(t)} rows, manifest says {n}" for t, n in sorted(expected.items())
                 if counts.get(t) != n]
        wrong += [f"view {v} missing" for v in manifest.get("views", []) if v not in views]
        if wrong:
            raise InputError(f"--from {src}: the restored database does not match the manifest, nothing was "
                             "restored: " + "; ".join(wrong))
        tmp.rename(target)
    except BaseException:
        for p in (tmp, Path(f"{tmp}.wal")):
            p.unlink(missing_ok=True)
        shutil.rmtree(layout.root(target), ignore_errors=True)
        raise
    return RestoreResult(target, manifest["backup_id"], counts, (utcnow() - started).total_seconds())


def _restore_state(con, folder: Path, manifest: dict, target: Path) -> None:
    """The published results of the backup as the restored database's current snapshot."""
    from ..backends.duckdb import transaction
    from ..publish import snapshot

    state = manifest.get("state")
    if not state or not state.get("snapshot"):
        return  # nothing was published: the first run writes the first snapshot
    pending = snapshot.Pending(target, state["snapshot"])
    for t, entry in state["tables"].items():
        if entry["file"] not in manifest["files"]:  # checked by verify(): names only, checksums
            raise InputError(f"--from {folder}: {MANIFEST} names a state file it does not list ({entry['file']})")
        select = f"SELECT * FROM read_parquet({literal(str(folder / entry['file']))})"
        snapshot.write_whole(con, pending, t, select, columns=snapshot.columns_of(con, select))
    with transaction(con):
        snapshot.finish(con, pending)
    snapshot.switch(pending)


def _state_view(sql: str) -> str | None:
    """The state table a CREATE VIEW statement of schema.sql makes, if it is one (a view over
    the original database's snapshot files, which the restore replaces)."""
    from ..schema import STATE

    m = re.match(r'\s*CREATE\s+(?:OR\s+REPLACE\s+)?VIEW\s+"?idr_out"?\."?(\w+)"?', sql, re.I)
    return m.group(1) if m and m.group(1) in STATE else None


def _load(con, folder: Path, manifest: dict) -> None:
    """Run the backup's schema.sql and load.sql with file access limited to the backup folder
    (restoring runs SQL read from the backup). Views come last, in an order that works:
    DuckDB writes them alphabetically, not in dependency order."""
    con.execute(f"SET allowed_directories = [{literal(str(folder) + os.sep)}]")
    con.execute("SET enable_external_access = false")
    try:
        schema = con.extract_statements((folder / "schema.sql").read_text(encoding="utf-8"))
        load = con.extract_statements((folder / "load.sql").read_text(encoding="utf-8"))
    except duckdb.Error as e:
        raise InputError(f"--from {folder}: schema.sql or load.sql is not valid SQL ({_first_line(e)})") from None
    views = []
    for st in schema:
        if st.type != duckdb.StatementType.CREATE:
            raise InputError(f"--from {folder}: schema.sql holds a statement that is not CREATE")
        if _state_view(st.query):  # empty until _restore_state points it at the restored snapshot
            _execute(con, f"CREATE VIEW {qualified('idr_out', _state_view(st.query))} AS "
                          f"{empty_state_sql(_state_view(st.query))}", folder)
        elif re.match(r"\s*CREATE\s+(OR\s+REPLACE\s+)?VIEW\b", st.query, re.I):
            views.append(st.query)
        else:
            _execute(con, st.query, folder)
    for st in load:
        m = _COPY.match(st.query)
        name = Path(m.group("path").replace("''", "'")).name if m else None
        if st.type != duckdb.StatementType.COPY or m is None or name not in manifest["files"]:
            raise InputError(f"--from {folder}: load.sql holds a statement other than COPY of a backup file")
        _execute(con, f"COPY {m.group('target')} FROM {literal(str(folder / name))} (FORMAT parquet)", folder)
    _create_views(con, views, folder)


def _create_views(con, views: list[str], folder: Path) -> None:
    pending = views
    while pending:
        failed = []
        for sql in pending:
            try:
                con.execute(sql)
            except duckdb.CatalogException:
                failed.append(sql)  # it reads a view not created yet
        if len(failed) == len(pending):
            _execute(con, failed[0], folder)  # no progress: report the first one's error
        pending = failed


def _execute(con, sql: str, folder: Path) -> None:
    try:
        con.execute(sql)
    except duckdb.Error as e:
        raise InputError(f"--from {folder}: cannot restore ({_first_line(e)})") from None


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
