"""The lookup index of a snapshot: sorted copies of what `idr explain` and `idr show` read,
written once per snapshot outside runs, inside the snapshot's own folder.

    snapshots/<id>/lookup.membership.parquet   the membership, ordered by resolved_id
    snapshots/<id>/lookup.pairs.parquet        the identifier pairs, ordered by entity_id

The published files are in the run's order, so reading a cluster's members (by resolved_id)
or their identifier pairs (by entity_id) reads whole files: at 10M records ~0.6 and ~0.5 s
CPU a lookup. Runs do not sort (it would cost every FULL run +6.4 s CPU and +1.6 GB at 10M,
docs/design/0002-snapshots.md); the first lookup on a snapshot does, once. Small row groups
let DuckDB skip by min/max statistics, so a lookup reads a few row groups instead.

The copies hold the same rows and columns as the snapshot's tables: lookups run the same SQL
on idr_out.<table>, which then reads the copy. Each copy is written under a temporary name
and renamed: a reader sees a whole copy or none, and two processes building at once each
rename a complete, equal file. A snapshot is immutable, so a copy never goes stale; a
rollback switches to another snapshot and its own index. Pruning a snapshot removes its
folder's files, the copies included (publish/snapshot.collect). When the folder is not
writable, or a build fails, lookups read the snapshot's files as they are: same answers,
slower. Lookups build no index for snapshots under MIN_ROWS records (whole files are read
fast enough); `idr results index` builds it for any snapshot, e.g. right after a run.
Entity-key lookups keep reading the published membership (BY_KEY): the run writes it in
source-key order, which row groups already skip by.
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
from pathlib import Path

import duckdb

from ..errors import InputError
from ..publish import layout
from ..schema import MEMBERSHIP, PAIRS, out
from ..sql.quoting import ident, literal

FILES = {MEMBERSHIP: ("lookup.membership.parquet", "resolved_id"), PAIRS: ("lookup.pairs.parquet", "entity_id")}
ROW_GROUP_SIZE = 16384
MIN_ROWS = 1_000_000  # membership rows below which lookups read the snapshot's files as they are
BY_KEY = "idr_membership_by_key"  # the membership as published, for lookups by entity_key


def use(con, db: str | os.PathLike, snapshot: str, *, build: bool = True, min_rows: int | None = None) -> bool:
    """Point idr_out's membership and pairs of a connection on `snapshot` (reader.open_snapshot)
    at the index, building it first when missing (if `build`, and the membership has at least
    `min_rows` rows, default MIN_ROWS). False: the index is not used."""
    manifest = layout.read_manifest(Path(db), snapshot)
    con.execute(f"CREATE OR REPLACE TEMP VIEW {BY_KEY} AS {layout.table_sql(manifest, MEMBERSHIP)}")
    folder = layout.snapshot_dir(Path(db), snapshot)
    paths = {t: folder / name for t, (name, _) in FILES.items()}
    if not all(p.is_file() for p in paths.values()):
        if not build or not _worth_it(manifest, MIN_ROWS if min_rows is None else min_rows) \
                or not _build(con, folder, snapshot, paths):
            return False
    for table, path in paths.items():
        con.execute(f"CREATE OR REPLACE VIEW {out(table)} AS SELECT * FROM read_parquet({literal(str(path))})")
    return True


def build_current(db: str | os.PathLike) -> str:
    """Write the lookup index of the current snapshot now, whatever its size (`idr results
    index`, e.g. right after a run); its folder. Exit 2 when it cannot be written."""
    from ..publish.reader import open_snapshot

    opened = open_snapshot(db)
    if opened is None:
        raise InputError(f"--db {db}: no published snapshot yet (run `idr init --db {db}` or a run)")
    snapshot, con = opened
    try:
        if not use(con, db, snapshot, min_rows=0):
            raise InputError(f"{layout.snapshot_dir(Path(db), snapshot)}: cannot write the lookup index there "
                             "(not writable?); lookups read the snapshot's files as they are")
    finally:
        con.close()
    return str(layout.snapshot_dir(Path(db), snapshot))


def _worth_it(manifest: dict, min_rows: int) -> bool:
    tables = manifest["tables"]
    return all(t in tables for t in FILES) and sum(tables[MEMBERSHIP].get("rows", [])) >= min_rows


def _build(con, folder: Path, snapshot: str, paths: dict[str, Path]) -> bool:
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    print(f"building the lookup index for snapshot {snapshot} (once per snapshot)…", file=sys.stderr, flush=True)
    # A sort that spills goes to the system's temporary folder, not the working directory.
    con.execute(f"SET temp_directory = {literal(os.path.join(tempfile.gettempdir(), 'idr-lookup-duckdb'))}")
    for table, path in paths.items():
        if path.is_file():
            continue
        tmp = folder / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            con.execute(f"COPY (SELECT * FROM {out(table)} ORDER BY {ident(FILES[table][1])}) TO {literal(str(tmp))} "
                        f"(FORMAT parquet, ROW_GROUP_SIZE {ROW_GROUP_SIZE})")
            os.replace(tmp, path)
        except (OSError, duckdb.Error):
            return False
        finally:
            tmp.unlink(missing_ok=True)
    return True


__all__ = ["use", "build_current", "BY_KEY", "FILES", "MIN_ROWS"]
