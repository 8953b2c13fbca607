"""Where snapshots live and how a manifest turns into queryable views: the engine-neutral
contract every engine that publishes (DuckDB today, Spark later) and every reader follows.

    <db folder>/<db file name>.idr/
        CURRENT                          {"format": 1, "snapshot": "<id>"}: replaced atomically
        snapshots/<id>/manifest.json     the tables of snapshot <id> and the files holding them
        snapshots/<id>/*.parquet         files first written by snapshot <id>
        snapshots/<id>/lookup.*.parquet  its lookup index, if built (lookup/index.py): no manifest lists it

A manifest is JSON: {"format": 1, "snapshot": "<id>", "written_at": ISO time,
"tables": {name: {"columns": [...], "types": [...], "files": [...], "rows": [...],
"removed": [...], "removed_rows": [...]}}}. A table's rows are the rows of its `files`
minus every row equal (all columns, NULL equal to NULL) to a row of its `removed` files:
a FULL run writes one file per table and nothing removed; an INCR run lists its
predecessor's files plus its own change files (rows it added; rows it replaced, in
`removed`). An audit table's entry may carry "fingerprint" ([rows, sum of row hashes]):
a later snapshot hard-links that file when the table is unchanged. The membership's entry
may carry "max_entity_id": no entity_id of the table is larger (runs/publish.py). `types` are SQL type
names (DuckDB's spelling) that every file of the table has; `rows`/`removed_rows` count
each file's rows. Files are immutable and may be listed by
several manifests, so files are shared, never copied. Paths in a manifest are relative to
the .idr folder, so the folder can be moved with the database.

A writer (any engine) writes the files and the manifest of a new snapshot id, commits its
own state, then replaces CURRENT (write a temporary file in the .idr folder, fsync,
rename): a reader that read CURRENT before sees the old snapshot whole, one after sees the
new one whole. publish/snapshot.py is the DuckDB writer (COPY ... TO Parquet); a Spark
writer would use DataFrame.write.parquet into the same folders and the same manifest and
pointer steps. The `*_current` views inside the DuckDB database file (snapshot.point_views)
are DuckDB's own catalogue over this layout, not part of it.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError
from ..schema import MEMBERSHIP, PAIRS, SKIPPED, VIEWS, views
from ..sql.quoting import ident, qualified

FORMAT = 1
POINTER = "CURRENT"
MANIFEST = "manifest.json"


def root(db: Path) -> Path:
    """The folder holding a database's snapshots (next to the file, named after it)."""
    db = Path(db)
    return db.parent / f"{db.name}.idr"


def snapshot_dir(db: Path, snapshot: str) -> Path:
    return root(db) / "snapshots" / snapshot


def read_pointer(db: Path) -> dict | None:
    """The pointer's content, or None when no snapshot was ever published here."""
    path = root(db) / POINTER
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        pointer = json.loads(text)
        if not isinstance(pointer.get("snapshot"), str):
            raise ValueError("no snapshot id")
    except (ValueError, AttributeError) as e:
        raise InputError(f"{path}: the snapshot pointer is damaged ({e}); "
                         f"`idr init --db {db}` or a FULL run repairs it") from None
    return pointer


def read_manifest(db: Path, snapshot: str) -> dict:
    """The manifest of one snapshot, checked for what readers rely on (exit 2 if not)."""
    path = snapshot_dir(db, snapshot) / MANIFEST
    # The snapshot is the only copy of the published results: only a run can make them again.
    repair = f"a FULL run (`idr run --run-mode FULL --db {db}`) rebuilds it"
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: the published snapshot {snapshot} is missing (deleted by hand?); "
                         f"{repair}") from None
    except ValueError as e:
        raise InputError(f"{path}: the manifest of snapshot {snapshot} is damaged ({e}); {repair}") from None
    if manifest.get("format") != FORMAT or not isinstance(manifest.get("tables"), dict):
        raise InputError(f"{path}: not a snapshot manifest idr {FORMAT} understands; {repair}")
    base = root(db)
    for name, table in manifest["tables"].items():
        for rel in table.get("files", []) + table.get("removed", []):
            if not (base / rel).is_file():
                raise InputError(f"{base / rel}: a file of table {name} in snapshot {snapshot} is missing "
                                 f"(deleted by hand?); {repair}")
    manifest["_root"] = str(base)
    return manifest


def current_snapshot(db: Path) -> dict | None:
    """The manifest the pointer names, or None when nothing was published as a snapshot."""
    pointer = read_pointer(db)
    return None if pointer is None else read_manifest(db, pointer["snapshot"])


def _files(manifest: dict, rels: list[str]) -> str:
    base = Path(manifest["_root"])
    return "[" + ", ".join("'" + str(base / rel).replace("'", "''") + "'" for rel in rels) + "]"


def table_sql(manifest: dict, name: str) -> str:
    """SELECT text giving one table of a snapshot: its files' rows minus the removed rows."""
    table = manifest["tables"][name]
    cols = ", ".join(ident(c) for c in table["columns"])
    rows = f"SELECT {cols} FROM read_parquet({_files(manifest, table['files'])})"
    if not table.get("removed"):
        return rows
    same = " AND ".join(f"b.{ident(c)} IS NOT DISTINCT FROM r.{ident(c)}" for c in table["columns"])
    return (f"SELECT b.* FROM ({rows}) b ANTI JOIN "
            f"(SELECT {cols} FROM read_parquet({_files(manifest, table['removed'])})) r ON {same}")


def create_views(con, schema: str, manifest: dict, *, temporary: bool = False) -> None:
    """Make every table of the snapshot queryable as schema.<name>, then idr's derived
    views (identifiers, edges) over them."""
    kind = "TEMP VIEW" if temporary else "VIEW"
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {ident(schema)}")
    for name in manifest["tables"]:
        con.execute(f"CREATE OR REPLACE {kind} {qualified(schema, name)} AS {table_sql(manifest, name)}")
    for (view_schema, view), sql in derived_views(manifest).items():
        if view_schema == schema:
            con.execute(f"CREATE OR REPLACE {kind} {qualified(schema, view)} AS {sql}")


def derived_views(manifest: dict, d=None) -> dict[tuple[str, str], str]:
    """idr's views over a snapshot's tables (identifiers, edges) that the snapshot does not
    hold as tables, rendered for dialect `d` (default DuckDB), in creation order."""
    if not all(t in manifest["tables"] for t in (MEMBERSHIP, PAIRS, SKIPPED)):
        return {}  # what the derived views are built on
    return {key: sql for key, sql in (VIEWS if d is None else views(d)).items() if key[1] not in manifest["tables"]}
