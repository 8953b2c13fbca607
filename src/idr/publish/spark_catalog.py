"""idr's published results and configuration in Spark's catalog, for every Spark session
that shares its metastore and warehouse (docs/spark.md, "Reading the results").

With a persistent catalog (IDR_SPARK_CATALOG=hive: Spark's Hive-compatible catalog on a
Derby metastore next to the warehouse, from the jars the pyspark wheel ships; or the Hive
catalog of a session a cluster gives idr), `register` names, under the usual names:

    idr_out.<table>            the current snapshot's tables, and idr's views over them
    idr_meta.<table>           read-only copies of the configuration, taken at registration
    idr_out.current_snapshot   one row: the snapshot and configuration copy they read

How a set switches at once. Every table is an external Parquet table of the database
idr_snapshots (not for users), partitioned by snapshot (idr_snapshot) and by kind
(idr_part: its rows, or the rows an INCR removed), whose partition folders hold hard links
to the snapshot's immutable files (publish/layout.py; nothing is copied). Each user-facing
view reads the partitions current_snapshot names, and current_snapshot is a view over
literals: a registration adds the new partitions (no view reads them yet), then replaces
current_snapshot in one metastore statement. Spark resolves a name once per query and
folds the literal into the partition filter, so one query reads one snapshot in every
table it names; a DataFrame made before the switch keeps reading its snapshot's files
(kept on disk for the rollback window). Partitions of snapshots whose files are gone are
dropped at the next registration.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from pathlib import Path

from ..sql.dialects import SPARK
from ..sql.quoting import backticked as q, literal, qualified, spark_literal
from . import layout

STORE = "idr_snapshots"  # the partitioned tables behind the views
POINTER = "current_snapshot"  # idr_out.current_snapshot
SNAP, PART = "idr_snapshot", "idr_part"  # partition columns


def folder(db: Path) -> Path:
    """Where the partition folders (hard links) live: beside the snapshots they link to."""
    return layout.root(Path(db)) / "spark"


def register(spark, db, manifest: dict, state=None) -> str:
    """Name `manifest`'s snapshot (and, with `state`, a DuckDB backend or connection on
    the database, a copy of idr_meta) in the session's catalog, then switch
    idr_out.current_snapshot to it. Returns the snapshot id."""
    db = Path(db).absolute()  # table locations are absolute: Spark resolves others against the warehouse
    base = folder(db)
    for schema in (STORE, "idr_out", "idr_meta"):
        spark.sql(f"CREATE DATABASE IF NOT EXISTS {schema}")
    snapshot = manifest["snapshot"]
    current = _pointer(spark)
    if state is None and current.get("snapshot") == snapshot:
        return snapshot  # registered already; the configuration copy is not asked for
    meta = current.get("meta_copy") if state is None else f"meta_{snapshot}_{secrets.token_hex(3)}"
    if not current:  # the first registration: the views read through the pointer, so it comes first
        _switch(spark, snapshot, meta)
    views = {(schema, r[1]) for schema in ("idr_out", "idr_meta")
             for r in spark.sql(f"SHOW VIEWS IN {schema}").collect()}
    root = Path(manifest["_root"])
    reshaped = False
    for name, entry in manifest["tables"].items():
        parts = {"rows": [root / r for r in entry["files"]], "removed": [root / r for r in entry.get("removed", [])]}
        changed = _table(spark, base, name, snapshot, parts, entry["columns"], entry.get("types"))
        reshaped |= bool(changed)
        if changed or (changed is not None and ("idr_out", name) not in views):
            spark.sql(f"CREATE OR REPLACE VIEW idr_out.{q(name)} AS "
                      f"{_select(name, entry['columns'], 'snapshot', removed=True)}")
    if state is not None:
        for name, (columns, types) in _copy_meta(state, base, meta).items():
            table = f"idr_meta__{name}"
            if _table(spark, base, table, meta, {"rows": []}, columns, types) or ("idr_meta", name) not in views:
                spark.sql(f"CREATE OR REPLACE VIEW idr_meta.{q(name)} AS {_select(table, columns, 'meta_copy')}")
    for (schema, name), select in layout.derived_views(manifest, SPARK).items():
        if reshaped or (schema, name) not in views:
            spark.sql(f"CREATE OR REPLACE VIEW {schema}.{q(name)} AS {select}")
    _switch(spark, snapshot, meta)
    _drop_unused(spark, db, base, keep_meta={meta, current.get("meta_copy")})
    return snapshot


def verify(spark, manifest: dict) -> None:
    """Before a run reads the published membership through the catalog: its view must
    hold the snapshot's rows (the manifest counts them). A view that read nothing would
    make an INCR run take every record for new, so a mismatch stops the run (one Spark
    job: a count)."""
    from ..errors import RunError
    from ..schema import MEMBERSHIP

    entry = manifest["tables"].get(MEMBERSHIP)
    if not entry or "rows" not in entry:
        return
    want = sum(entry["rows"]) - sum(entry.get("removed_rows", []))
    try:
        got = spark.sql(f"SELECT count(*) FROM idr_out.{q(MEMBERSHIP)}").collect()[0][0]
    except Exception as e:  # noqa: BLE001 - a view over a table that is gone: the same repair
        got = f"nothing ({type(e).__name__})"
    if got != want:
        raise RunError(f"Spark's catalog reads {got} rows of idr_out.{MEMBERSHIP} where snapshot "
                       f"{manifest['snapshot']} has {want} (changed by hand?); nothing was written. In that catalog "
                       f"run DROP DATABASE {STORE} CASCADE and DROP VIEW idr_out.{POINTER}, then run again: "
                       "the run registers the snapshot anew")


def register_database(db, spark=None, state=None) -> str | None:
    """Register the database's current snapshot (None: nothing published yet) in `spark`
    (default: the session the IDR_SPARK_* settings make), with a copy of idr_meta read
    from `state` or, when none is given, from the database opened read-only (skipped while
    a run holds it: the previous copy stays)."""
    from ..backends.duckdb import DuckDBBackend
    from ..errors import LockedError

    manifest = layout.current_snapshot(Path(db))
    if manifest is None:
        return None
    if spark is None:
        from ..backends.spark import open_session

        spark = open_session(db)
    if state is not None:
        return register(spark, db, manifest, state)
    try:
        state = DuckDBBackend.open(db, create=False, read_only=True)
    except LockedError:
        return register(spark, db, manifest)
    try:
        return register(spark, db, manifest, state)
    finally:
        state.close()


def _switch(spark, snapshot: str, meta: str | None) -> None:
    """One statement: every idr_out and idr_meta view reads the partitions named here."""
    props = {"idr.snapshot": snapshot, "idr.meta_copy": meta or ""}
    spark.sql(f"CREATE OR REPLACE VIEW idr_out.{POINTER} TBLPROPERTIES ({_props(props)}) AS "
              f"SELECT {spark_literal(snapshot)} AS snapshot, {spark_literal(meta) if meta else 'CAST(NULL AS STRING)'} "
              "AS meta_copy")


def _pointer(spark) -> dict:
    """What current_snapshot names now ({} before the first registration), read from its
    properties: a catalog call, no Spark job."""
    props = _properties(spark, f"idr_out.{POINTER}")
    if not props or "idr.snapshot" not in props:
        return {}
    return {"snapshot": props["idr.snapshot"], "meta_copy": props.get("idr.meta_copy") or None}


def _properties(spark, full: str) -> dict | None:
    try:
        return {r[0]: r[1] for r in spark.sql(f"SHOW TBLPROPERTIES {full}").collect()}
    except Exception:  # noqa: BLE001 - not created yet
        return None


def _props(props: dict) -> str:
    return ", ".join(f"{spark_literal(k)} = {spark_literal(v)}" for k, v in props.items())


def _dir(value: str, kind: str) -> Path:
    return Path(f"{SNAP}={value}") / f"{PART}={kind}"


def _table(spark, base: Path, name: str, value: str, parts: dict[str, list[Path]], columns: list[str],
           types: list[str] | None) -> bool | None:
    """Link `parts` (kind -> files) into the partition folders of idr_snapshots.<name> for
    partition value `value` (a part already there is kept: partitions are immutable), make
    or widen the table for `columns`, add the partitions. Returns whether the table's
    columns changed (None: nothing to register, no file says the table's types)."""
    location = base / name
    for kind, files in parts.items():
        target = location / _dir(value, kind)
        if target.is_dir():
            continue
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(3)}")
        tmp.mkdir(parents=True)
        for i, f in enumerate(files):
            _link(f, tmp / f"{i:04d}-{f.name}")
        os.replace(tmp, target)
    full = f"{STORE}.{q(name)}"
    partitions = " ".join(f"PARTITION ({SNAP} = {spark_literal(value)}, {PART} = {spark_literal(kind)})" for kind in parts)
    # The table's columns as idr wrote them (DuckDB's types), and its folder (the database
    # and its .idr folder may have moved: a table elsewhere would read nothing).
    # Both are table properties: a digest of the columns (a name may hold any character)
    # and the folder (spark_literal refuses a quote or backslash in it).
    shape = {"idr.columns": hashlib.sha256(json.dumps([columns, types]).encode()).hexdigest(),
             "idr.location": str(location)}
    props = _properties(spark, full)
    if props is not None and all(props.get(k) == v for k, v in shape.items()):
        spark.sql(f"ALTER TABLE {full} ADD IF NOT EXISTS {partitions}")
        return False
    files = [f for kind in parts for f in (location / _dir(value, kind)).iterdir()]
    if not files:
        return None
    fields = _file_types(spark, files[0])
    schema = {c: fields[c] for c in columns if c in fields}
    have = _columns(spark, full) if props is not None else None
    moved = have is not None and props.get("idr.location") != shape["idr.location"]
    if have is None or moved or any(c in have and have[c] != t for c, t in schema.items()):
        if have is not None:
            spark.sql(f"DROP TABLE {full}")  # a type changed or it moved: files stay, partitions are recovered
        ddl = ", ".join(f"{q(c)} {t}" for c, t in schema.items())
        spark.sql(f"CREATE TABLE {full} ({ddl}, {SNAP} STRING, {PART} STRING) USING parquet "
                  f"PARTITIONED BY ({SNAP}, {PART}) LOCATION {spark_literal(str(location))} "
                  f"TBLPROPERTIES ({_props(shape)})")
        if have is not None:
            spark.sql(f"ALTER TABLE {full} RECOVER PARTITIONS")  # kept snapshots', for a rollback
        spark.sql(f"ALTER TABLE {full} ADD IF NOT EXISTS {partitions}")
        return True
    added = {c: t for c, t in schema.items() if c not in have}
    if added:  # columns an upgrade or the golden configuration added; older partitions read NULL
        spark.sql(f"ALTER TABLE {full} ADD COLUMNS ({', '.join(f'{q(c)} {t}' for c, t in added.items())})")
    spark.sql(f"ALTER TABLE {full} SET TBLPROPERTIES ({_props(shape)})")
    spark.sql(f"ALTER TABLE {full} ADD IF NOT EXISTS {partitions}")
    return True


def _file_types(spark, file: Path) -> dict[str, str]:
    """Spark's types for a Parquet file's columns, as a Spark read infers them: from the
    footer's Arrow schema (no Spark job), or by Spark itself for a type Arrow's mapping
    lacks (unsigned integers)."""
    import pyarrow.parquet as pq
    from pyspark.sql.pandas.types import from_arrow_schema

    try:
        fields = from_arrow_schema(pq.read_schema(file), prefer_timestamp_ntz=True).fields
    except (TypeError, NotImplementedError):
        fields = spark.read.parquet(str(file)).schema.fields
    return {f.name: f.dataType.simpleString() for f in fields}


def _columns(spark, full: str) -> dict[str, str] | None:
    try:
        fields = spark.table(full).schema.fields
    except Exception:  # noqa: BLE001 - not created yet
        return None
    return {f.name: f.dataType.simpleString() for f in fields if f.name not in (SNAP, PART)}


def _select(name: str, columns: list[str], pointer: str, removed: bool = False) -> str:
    cols = ", ".join(q(c) for c in columns)

    def part(kind: str) -> str:
        return (f"SELECT {cols} FROM {STORE}.{q(name)} WHERE {PART} = '{kind}' "
                f"AND {SNAP} = (SELECT {pointer} FROM idr_out.{POINTER})")

    if not removed:
        return part("rows")
    same = " AND ".join(f"b.{q(c)} <=> r.{q(c)}" for c in columns)
    return f"SELECT b.* FROM ({part('rows')}) b LEFT ANTI JOIN ({part('removed')}) r ON {same}"


def _copy_meta(state, base: Path, copy: str) -> dict[str, tuple[list[str], list[str]]]:
    """idr_meta's tables as Parquet files of partition `copy` (DuckDB writes them: the
    configuration lives in the database file). Returns {table: (columns, types)}."""
    con = getattr(state, "con", state)
    names = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                       "WHERE table_schema = 'idr_meta' ORDER BY 1").fetchall()]
    out = {}
    for name in names:
        select = f"SELECT * FROM {qualified('idr_meta', name)}"
        target = base / f"idr_meta__{name}" / _dir(copy, "rows") / "data.parquet"
        target.parent.mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY ({select}) TO {literal(str(target))} (FORMAT parquet)")
        described = con.execute(f"DESCRIBE {select}").fetchall()
        out[name] = ([r[0] for r in described], [r[1] for r in described])
    return out


def _drop_unused(spark, db: Path, base: Path, keep_meta: set) -> None:
    """Drop the partitions (and link folders) of snapshots no longer on disk, and of
    configuration copies older than the previous one."""
    import shutil

    for table in sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []:
        meta = table.name.startswith("idr_meta__")
        for part in table.glob(f"{SNAP}=*"):
            value = part.name.split("=", 1)[1]
            gone = value not in keep_meta if meta else not (layout.snapshot_dir(db, value) / layout.MANIFEST).is_file()
            if not gone:
                continue
            specs = [f"PARTITION ({SNAP} = {spark_literal(value)}, {PART} = {spark_literal(kind.name.split('=', 1)[1])})"
                     for kind in part.iterdir() if kind.name.startswith(f"{PART}=")]
            if specs:  # every part by its full spec (a partial one matches nothing under IF EXISTS)
                spark.sql(f"ALTER TABLE {STORE}.{q(table.name)} DROP IF EXISTS {', '.join(specs)}")
            shutil.rmtree(part, ignore_errors=True)


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # a file system without hard links: copy
        import shutil

        shutil.copyfile(source, target)
