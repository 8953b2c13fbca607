"""Spark backend: a run's set work on Apache Spark, its state in the database file.

What runs where. Every relation a run makes (extract, normalise, edges, components,
membership, golden profiles) is a Spark DataFrame computed by Spark SQL from the builders'
Spark rendering, checkpointed when stored (lineage cut: each star-contraction round starts
from stored rows) and named as a temp view. The state users edit and read -- idr_meta,
run_history and the other audit tables, the published *_current tables -- stays in the
DuckDB file given by --db: Spark offers no UPDATE, DELETE or transaction on plain Parquet
tables, and no table format that has them (Delta, Iceberg) can be installed from PyPI.
The published results are the same Parquet snapshot as on DuckDB (publish/layout.py);
Spark reads it back under the usual names (`idr_out.<table>` views in Spark's catalog).

A statement goes to the state store when it names idr_meta or idr_out and no relation of
this session; everything else (sources included) goes to Spark. When the computation is
done, `hand_over` moves the run's relations into the state store as Arrow and the run
publishes there, inside one DuckDB transaction, exactly as a DuckDB run does.

Engine quirks live here and in sql/dialects.SparkDialect; nothing else imports pyspark.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Callable

from ..errors import InputError, InternalError, InvalidSqlText
from ..sql.dialects import SPARK
from .base import Backend, Params
from .duckdb import DuckDBBackend

# A qualified name in one of the state store's schemas: idr_out.x, "idr_meta"."y".
_STATE_NAME = re.compile(r'(?<![\w."])"?idr_(?:out|meta|work)"?\s*\.', re.I)
_OUT_NAME = re.compile(r'"?idr_out"?\s*\.\s*[`"]?(\w+)', re.I)
_META_NAME = re.compile(r'(?<![\w.])"?idr_meta"?\s*\.\s*[`"]?(\w+)[`"]?', re.I)
_NAMED_PARAM = re.compile(r"(?<![:\w$]):([A-Za-z_]\w*)")
_JAVA_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')
MIN_JAVA = 17  # Spark 4

# Spark type -> the portable names the rest of idr compares with (config/validate.py).
_TYPE_NAMES = {"string": "VARCHAR", "bigint": "BIGINT", "int": "INTEGER", "smallint": "SMALLINT",
               "tinyint": "TINYINT", "boolean": "BOOLEAN", "double": "DOUBLE", "float": "FLOAT",
               "timestamp": "TIMESTAMP", "timestamp_ntz": "TIMESTAMP", "date": "DATE", "binary": "BLOB"}


def spark_problem(settings, db: Path | None = None) -> str | None:
    """Why a Spark session cannot start here, before trying (a failed JVM start takes
    seconds and prints pages): the extra, Java, the master, the checkpoint folder."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "--engine spark needs PySpark: pip install 'idr[spark]'"
    java = _java_binary()
    if isinstance(java, str) and java.startswith("!"):
        return java[1:]
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
        m = _JAVA_VERSION.search(out.stderr + out.stdout)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"--engine spark: cannot run {java} ({e})"
    if not m or int(m.group(1) if m.group(1) != "1" else m.group(2) or 0) < MIN_JAVA:
        found = m.group(0) if m else "an unknown version"
        return f"--engine spark: Spark 4 needs Java {MIN_JAVA} or later; {java} is {found}"
    master = settings.spark_master
    if master.startswith("spark://"):
        for hostport in master.removeprefix("spark://").split(","):
            host, _, port = hostport.rpartition(":")
            try:
                socket.create_connection((host, int(port)), timeout=min(settings.spark_connect_timeout_seconds, 5))\
                    .close()
                break
            except (OSError, ValueError):
                continue
        else:
            return f"IDR_SPARK_MASTER={master}: no Spark master answers there (is it started?)"
    if settings.spark_checkpoint_dir is not None and "://" not in str(settings.spark_checkpoint_dir):
        problem = _writable(Path(settings.spark_checkpoint_dir))
        if problem:
            return f"IDR_SPARK_CHECKPOINT_DIR={settings.spark_checkpoint_dir}: {problem}"
    if settings.spark_catalog == "hive" and db is not None:
        warehouse, metastore = catalog_paths(settings, db)
        for name, path in (("IDR_SPARK_WAREHOUSE", warehouse), ("IDR_SPARK_METASTORE", metastore)):
            problem = None if "://" in str(path) else _writable(path)
            if problem:
                return f"IDR_SPARK_CATALOG=hive: the {name.removeprefix('IDR_SPARK_').lower()} folder {path} " \
                       f"({name}) {problem}"
    return None


def catalog_paths(settings, db) -> tuple[Path, Path]:
    """(warehouse, metastore) folders: the settings', else beside the database
    (<db>.spark-warehouse, <db>.spark-metastore; a metastore beside a set warehouse W: W-metastore)."""
    db = Path(db).resolve()
    warehouse = Path(settings.spark_warehouse or db.parent / f"{db.name}.spark-warehouse")
    return warehouse, Path(settings.spark_metastore or _beside(warehouse))


def _beside(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name.removesuffix("-warehouse") + "-metastore")


def _java_binary() -> str:
    home = os.environ.get("JAVA_HOME")
    if home:
        java = Path(home) / "bin" / "java"
        if not java.is_file():
            return f"!--engine spark: JAVA_HOME={home} has no bin/java; point it at a Java {MIN_JAVA}+ runtime"
        return str(java)
    found = shutil.which("java")
    if found is None:
        return f"!--engine spark: no Java runtime (java not on PATH, JAVA_HOME unset); install Java {MIN_JAVA}+"
    return found


def _writable(folder: Path) -> str | None:
    """Why `folder` cannot be made or written, found without writing anything (Spark makes
    the folders it is given)."""
    probe = folder.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        return f"cannot be made: {probe} is not a folder"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"cannot be written: {probe} is read-only"
    return None


_session_lock = threading.Lock()


def persistent(spark) -> bool:
    """Whether the session's catalog outlives it (Hive: other processes see its tables)."""
    return spark.conf.get("spark.sql.catalogImplementation", "in-memory") == "hive"


def open_session(db):
    """The SparkSession the IDR_SPARK_* settings describe, for the database at `db`
    (InputError, exit 2, when it cannot start)."""
    from ..settings import get_settings

    settings = get_settings()
    problem = spark_problem(settings, db)
    if problem:
        raise InputError(problem)
    return spark_session(settings, *catalog_paths(settings, db))


def spark_session(settings, warehouse: Path, metastore: Path | None = None):
    """The process's SparkSession (created once; tests and notebooks may have made it).
    With IDR_SPARK_CATALOG=hive, Spark's Hive catalog on an embedded Derby metastore in
    `metastore` (the Hive 2.3 and Derby jars ship with pyspark: nothing is downloaded)."""
    from pyspark.sql import SparkSession

    with _session_lock:
        active = SparkSession.getActiveSession()
        if active is None:
            builder = SparkSession.builder.appName("idr").master(settings.spark_master) \
                .config("spark.sql.warehouse.dir", str(warehouse)) \
                .config("spark.sql.session.timeZone", "UTC") \
                .config("spark.ui.showConsoleProgress", "false")
            if settings.spark_master.startswith("local"):
                # One machine: no UI port to bind, few shuffle partitions (200 tiny tasks
                # cost more than the work at test and laptop sizes).
                builder = builder.config("spark.ui.enabled", "false") \
                    .config("spark.sql.shuffle.partitions", "8")
            # Executors run idr's Python (phonenumbers): this interpreter unless told otherwise.
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            if settings.spark_driver_memory:
                builder = builder.config("spark.driver.memory", settings.spark_driver_memory)
            if settings.spark_catalog == "hive":
                metastore = Path(metastore or _beside(warehouse))
                # Derby's log goes beside its database, not into the working folder.
                builder = builder.enableHiveSupport() \
                    .config("spark.hadoop.javax.jdo.option.ConnectionURL",
                            f"jdbc:derby:;databaseName={metastore / 'metastore_db'};create=true") \
                    .config("spark.hadoop.datanucleus.schema.autoCreateAll", "true") \
                    .config("spark.hadoop.hive.metastore.schema.verification", "false") \
                    .config("spark.driver.extraJavaOptions",
                            f"-Dderby.system.home={metastore} -Dderby.stream.error.file={metastore / 'derby.log'}")
            try:
                active = builder.getOrCreate()
            except Exception as e:  # noqa: BLE001 - the JVM did not start: say so once, exit 2
                raise InputError(f"--engine spark: Spark did not start ({_first_line(e)})") from None
            active.sparkContext.setLogLevel("ERROR")  # idr's own log says what a run does
        elif settings.spark_catalog == "hive" and not persistent(active):
            raise InputError("IDR_SPARK_CATALOG=hive: this process's SparkSession was made without Hive support "
                             "(make it with SparkSession.builder.enableHiveSupport())")
        # Spark logs every failed statement's stack; idr reports its own message instead.
        logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
        for key, value in SPARK.session_settings.items():
            active.conf.set(key, value)
        active.conf.set("spark.sql.session.timeZone", "UTC")  # idr's timestamps are naive UTC
        _register_functions(active)
        if settings.spark_checkpoint_dir is not None:
            active.sparkContext.setCheckpointDir(str(settings.spark_checkpoint_dir))
        return active


# ICU (on Spark's classpath since 4.0, for collations): NFC in the JVM, no Python worker.
_ICU_NFC = "reflect('com.ibm.icu.text.Normalizer', 'compose', s, false)"


def _register_functions(spark) -> None:
    """Functions the builders call that Spark lacks or spells otherwise (SparkDialect.nfc,
    lower, upper), as SQL functions that run in the JVM. Python UDFs would cost a round trip
    to a Python worker for every row (Spark evaluates them for every row, even inside a
    CASE branch that does not need them): measured 2.5-3.5 s per million values each.
    NFC leaves ASCII as it is, so only other values reach ICU (which refuses NULL). Case
    mapping is DuckDB's table (sql/casemap.py, one code point for one) as a translate()."""
    from ..sql import casemap

    lower, upper = casemap.tables()
    spark.sql("CREATE OR REPLACE TEMPORARY FUNCTION idr_nfc(s STRING) RETURNS STRING RETURN "
              f"CASE WHEN s IS NULL OR length(s) = octet_length(s) THEN s ELSE {_ICU_NFC} END")
    for name, table in (("idr_lower", lower), ("idr_upper", upper)):
        if any(len(image) != 1 for image in table.values()):  # translate() maps one for one
            raise InternalError(f"{name}: DuckDB's case table maps a code point to several")
        spark.sql(f"CREATE OR REPLACE TEMPORARY FUNCTION {name}(s STRING) RETURNS STRING RETURN translate(s, :f, :t)",
                  args={"f": "".join(map(chr, table)), "t": "".join(table.values())})


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


class SparkBackend(Backend):
    name = "spark"
    dialect = SPARK
    components_strategy = "sql"  # star contraction in Spark SQL: the graph never leaves the cluster

    def __init__(self, spark, state: DuckDBBackend, *, reliable_checkpoints: bool = False):
        self.spark = spark
        self.store = state
        self.con = state.con  # publish/snapshot.py writes the snapshot through the state store
        self.reliable = reliable_checkpoints
        self._frames: dict[str, Any] = {}  # session relations: lower-case name -> DataFrame
        self._snapshot: tuple[dict | None, dict] = (None, {})  # the published snapshot (attach_snapshot)
        self._attached: set[str] = set()

    @classmethod
    def open(cls, path, *, create: bool = True, read_only: bool = False) -> SparkBackend:
        from ..settings import get_settings

        settings = get_settings()
        problem = spark_problem(settings, path)
        if problem:
            raise InputError(problem)
        state = DuckDBBackend.open(path, create=create, read_only=read_only)
        try:
            spark = spark_session(settings, *catalog_paths(settings, path))
        except BaseException:
            state.close()
            raise
        return cls(spark, state, reliable_checkpoints=settings.spark_checkpoint_dir is not None)

    # -- routing --------------------------------------------------------------------------
    def _names(self, sql: str) -> bool:
        """Whether `sql` reads a relation of this session."""
        if not self._frames:
            return False
        words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", sql.lower()))
        return not words.isdisjoint(self._frames)

    def _on_state(self, sql: str) -> bool:
        return bool(_STATE_NAME.search(sql)) and not self._names(sql)

    def _state_sql(self, sql: str, params: Params) -> tuple[str, Params]:
        """Builders render parameters the Spark way (:name); DuckDB binds $name."""
        if not isinstance(params, dict) or not params:
            return sql, params
        parts = sql.split("'")  # even parts are outside string literals ('' escapes keep parity)
        parts[::2] = [_NAMED_PARAM.sub(r"$\1", p) for p in parts[::2]]
        return "'".join(parts), params

    def _df(self, sql: str, params: Params = None):
        self._attach(sql)
        sql = _META_NAME.sub(lambda m: self._meta_view(m.group(1)), sql)
        if params is None or (isinstance(params, dict) and not params):
            return self.spark.sql(sql)
        args = dict(params) if isinstance(params, dict) else list(params)
        if isinstance(args, dict):  # Spark refuses named arguments the text does not use (DuckDB ignores them)
            args = {k: v for k, v in args.items() if re.search(rf":{re.escape(k)}\b", sql)}
        return self.spark.sql(sql, args=args)

    def _store(self, name: str, df) -> None:
        name = _bare(name)
        old = self._frames.pop(name.lower(), None)
        df.createOrReplaceTempView(name)
        self._frames[name.lower()] = df
        if old is not None:
            old.unpersist()

    def _cut(self, df):
        """Compute and store now, and forget how: every stored relation starts a fresh
        lineage (a star-contraction round's plan does not grow with the rounds before it).
        Reliable checkpoints survive a lost executor; local ones are faster."""
        return df.checkpoint(eager=True) if self.reliable else df.localCheckpoint(eager=True)

    # -- relations ----------------------------------------------------------------------------
    def materialise(self, name, select, params=None):
        self._store(name, self._cut(self._df(select, params)))

    def view(self, name, select, params=None):
        self._store(name, self._df(select, params))

    def create_table(self, name, select, params=None):
        if not self._on_state(f"{name} {select}"):
            raise InternalError(f"create_table {name}: persistent tables live in the state store")
        self.store.create_table(name, *self._state_sql(select, params))

    def drop(self, *names, view: bool = False):
        for name in names:
            if _STATE_NAME.match(name):
                self.store.drop(name, view=view)
                continue
            df = self._frames.pop(_bare(name).lower(), None)
            if df is not None:
                self.spark.catalog.dropTempView(_bare(name))
                df.unpersist()

    def empty_relation(self, name, columns):
        self._store(name, self.spark.createDataFrame([], self._schema(columns)))

    def small_relation(self, name, columns, rows):
        # Values travel as data (a DataFrame), never as SQL text.
        self._store(name, self.spark.createDataFrame([tuple(r) for r in rows], self._schema(columns)))

    def _schema(self, columns: dict[str, str]) -> str:
        return ", ".join(f"`{_bare(c)}` {self.dialect.types[t]}" for c, t in columns.items())

    def number_rows(self, name, select, column, *, order_by=None, start=0, params=None):
        """Dense numbers without a single-partition window: monotonically_increasing_id()
        is (partition << 33) + position in the partition, so a row's number is its
        partition's offset (from per-partition counts) plus its position. With order_by,
        a global sort first: its range partitions come in order, sorted inside."""
        from pyspark.sql import functions as F

        df = self._df(select, params)
        if order_by:
            df.createOrReplaceTempView("idr_number_in")
            df = self._df(f"SELECT * FROM idr_number_in ORDER BY {order_by}")
        df = self._cut(df.withColumn("idr_part", F.spark_partition_id())
                       .withColumn("idr_pos", F.monotonically_increasing_id()))
        counts = sorted(df.groupBy("idr_part").count().collect())
        offsets, total = [], int(start)
        for part, rows in counts:
            offsets.append((part, total))
            total += rows
        starts = self.spark.createDataFrame(offsets, "idr_part INT, idr_start BIGINT")
        numbered = df.join(F.broadcast(starts), "idr_part").withColumn(
            _bare(column), (F.col("idr_start") + F.col("idr_pos")
                            - F.shiftleft(F.col("idr_part").cast("bigint"), 33)).cast("bigint")
        ).drop("idr_part", "idr_pos", "idr_start")
        self._store(name, self._cut(numbered))

    # -- statements and results -----------------------------------------------------------
    def run(self, sql, params=None):
        if self._on_state(sql):
            self.store.run(*self._state_sql(sql, params))
        else:
            self._df(sql, params).collect()

    def insert(self, sql, params=None):
        return self.store.insert(*self._state_sql(sql, params))

    def delete(self, sql, params=None):
        return self.store.delete(*self._state_sql(sql, params))

    def run_many(self, sql, rows):
        self.store.run_many(sql, rows)

    def rows(self, sql, params=None):
        if self._on_state(sql):
            return self.store.rows(*self._state_sql(sql, params))
        return [tuple(r) for r in self._df(sql, params).collect()]

    # -- Arrow ----------------------------------------------------------------------------------
    def to_arrow(self, sql, params=None):
        if self._on_state(sql):
            return self.store.to_arrow(*self._state_sql(sql, params))
        return _naive_utc(self._df(sql, params).toArrow())

    def to_numpy(self, sql, params=None):
        table = self.to_arrow(sql, params)
        return {c: table.column(c).to_numpy() for c in table.column_names}

    def from_arrow(self, name, table):
        self._store(name, self._cut(self.spark.createDataFrame(table)))

    def release_arrow(self, name):
        self.drop(name)

    def map_values(self, name: str, select: str, fn: Callable[[list], list], params: Params = None) -> None:
        """`name`(value, result): fn over the single column of `select`, in batches on the
        executors (Arrow), for what SQL cannot do (phonenumbers). fn must be picklable."""
        import pyarrow as pa

        def batches(iterator):
            for batch in iterator:
                values = batch.column(0).to_pylist()
                yield pa.RecordBatch.from_arrays([pa.array(values, pa.string()), pa.array(fn(values), pa.string())],
                                                 names=["value", "result"])

        df = self._df(select, params)
        self._store(name, self._cut(df.mapInArrow(batches, "value STRING, result STRING")))

    # -- catalogue ------------------------------------------------------------------------------
    def describe(self, select):
        if self._on_state(select):
            return self.store.describe(select)
        from pyspark.errors import PySparkException

        try:
            fields = self._df(select).schema.fields
        except PySparkException as e:
            raise _sql_error(e) from e
        return [(f.name, _type_name(f.dataType.simpleString())) for f in fields]

    def tables(self, schemas):
        return self.store.tables(schemas)

    def columns(self, schemas):
        return self.store.columns(schemas)

    def folder(self):
        return self.store.folder()

    def source_file(self, reader: str, path: str) -> str:
        """A Parquet or CSV path as a relation: a temp view reading it (CSV: header row,
        every value as text, as on DuckDB). The view's name is the path's digest."""
        import hashlib

        from pyspark.errors import PySparkException

        name = "idr_file_" + hashlib.md5(f"{reader}:{path}".encode()).hexdigest()[:16]
        read = self.spark.read
        try:
            df = read.parquet(path) if reader == "parquet" else read.option("header", "true").csv(path)
        except PySparkException as e:  # no such path, not Parquet: a configuration problem, reported with the others
            raise _sql_error(e) from e
        df.createOrReplaceTempView(name)  # not a relation of the run: sources outlive it
        return name

    # -- the state store ---------------------------------------------------------------------------
    def state(self) -> Backend:
        return self.store

    def hand_over(self) -> Backend:
        """Move every live relation of the run into the state store (Arrow, in batches
        through the driver), then return the store: the run publishes there."""
        for name, df in list(self._frames.items()):
            table = _naive_utc(df.toArrow())
            self.store.from_arrow(f"idr_handover_{name}", table)
            self.store.materialise(name, f"SELECT * FROM idr_handover_{name}")
            self.store.release_arrow(f"idr_handover_{name}")
        return self.store

    def attach_snapshot(self, manifest: dict | None, derived: dict | None = None) -> None:
        """Name the published snapshot's tables in Spark's catalog as `idr_out.<table>`
        (views over its Parquet files) and `derived` {(schema, view): Spark SELECT} over
        them, so stages and Spark SQL users read them as DuckDB readers do. A view is made
        when a statement first names it: each costs Spark a read of its files' footers."""
        self._snapshot = (manifest, dict(derived or {}))
        self._attached = set()

    def shared_catalog(self):
        return self.spark if persistent(self.spark) else None

    def _meta_view(self, table: str) -> str:
        """A statement run on Spark that reads an idr_meta table (configuration, source
        checksums: small) reads a copy taken from the state store now."""
        name = f"idr_meta__{table.lower()}"
        self.spark.createDataFrame(_naive_utc(self.store.to_arrow(f'SELECT * FROM idr_meta."{table}"'))) \
            .createOrReplaceTempView(name)
        return name

    def _attach(self, sql: str) -> None:
        manifest, derived = self._snapshot
        if manifest is None:
            return
        names = {m.lower() for m in _OUT_NAME.findall(sql)} - self._attached
        if names:
            self._attached |= create_snapshot_views(self.spark, manifest, derived, names)

    # -- lifecycle ------------------------------------------------------------------------------
    def transaction(self):
        return self.store.transaction()

    def tune_for_run(self, mode, memory_limit):
        pass  # memory_limit is DuckDB's; Spark's memory is the cluster's (docs/spark.md)

    def is_interrupt(self, error):
        return isinstance(error, KeyboardInterrupt) or self.store.is_interrupt(error)

    def translate_error(self, error):
        text = _java_message(error)
        if text is None:
            return self.store.translate_error(error)
        if "Checkpoint block" in text and not self.reliable:
            text += (" (an executor holding local checkpoints was lost; IDR_SPARK_CHECKPOINT_DIR makes reliable "
                     "checkpoints that survive it)")
        return SparkJobFailed(text)

    def close(self):
        try:
            for name in list(self._frames):
                self.drop(name)
        finally:
            self.store.close()


def create_snapshot_views(spark, manifest: dict, derived: dict, names=None) -> set[str]:
    """Views idr_out.<table> over a published snapshot's Parquet files (publish/layout.py)
    and the `derived` views over them ({(schema, view): Spark SELECT}); only `names` (and
    what they need) when given. Returns the names made."""
    made: set[str] = set()
    wanted = set(manifest["tables"]) | {v for _, v in derived} if names is None else set(names)
    for name in sorted(wanted):
        if name in manifest["tables"]:
            select = _snapshot_select(Path(manifest["_root"]), manifest["tables"][name])
        elif ("idr_out", name) in derived:
            select = derived[("idr_out", name)]
            needs = {m.lower() for m in _OUT_NAME.findall(select)} - made - {name}
            made |= create_snapshot_views(spark, manifest, derived, needs)
        else:
            continue
        if not made:
            spark.sql("CREATE DATABASE IF NOT EXISTS idr_out")
        spark.sql(f"CREATE OR REPLACE VIEW idr_out.`{name}` AS {select}")
        made.add(name)
    return made


def _snapshot_select(base: Path, spec: dict) -> str:
    """A snapshot table in Spark SQL: its files' rows minus the rows an INCR removed."""
    cols = ", ".join(f"`{c}`" for c in spec["columns"])

    def files(rels):
        return " UNION ALL ".join(f"SELECT {cols} FROM parquet.`{_path(base / r)}`" for r in rels)

    if not spec["files"]:
        return f"SELECT {cols} FROM parquet.`{_path(base)}` WHERE FALSE"
    rows = files(spec["files"])
    if not spec.get("removed"):
        return rows
    same = " AND ".join(f"b.`{c}` <=> r.`{c}`" for c in spec["columns"])
    return f"SELECT b.* FROM ({rows}) b LEFT ANTI JOIN ({files(spec['removed'])}) r ON {same}"


def _path(p: Path) -> str:
    text = str(p)
    if "`" in text:
        raise InvalidSqlText(f"{text}: a path with a backtick cannot be read by Spark SQL")
    return text


def _bare(name: str) -> str:
    return name.strip().strip('"`')


def _type_name(spark_type: str) -> str:
    if spark_type.startswith("decimal"):
        return spark_type.upper()
    return _TYPE_NAMES.get(spark_type, spark_type.upper())


def _naive_utc(table):
    """Spark hands timestamps over zoned (UTC, the session's zone); idr's are naive UTC."""
    import pyarrow as pa

    for i, f in enumerate(table.schema):
        if pa.types.is_timestamp(f.type) and f.type.tz is not None:
            table = table.set_column(i, f.name, table.column(i).cast(pa.timestamp(f.type.unit)))
    return table


class SparkJobFailed(Exception):
    """A Spark job failed (a lost executor, a task that failed its retries): the JVM's
    message, not the Py4J call that carried it."""


def _java_message(error: BaseException) -> str | None:
    """The first line of the Java exception behind a Py4J error, without its class name."""
    java = getattr(error, "java_exception", None)
    if java is None:
        return None
    try:
        text = str(java.getMessage() or java.toString())
    except Exception:  # noqa: BLE001 - the JVM may be gone: say what is known
        text = str(error)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    first = lines[0] if lines else type(error).__name__
    cause = next((ln for ln in lines if "Checkpoint block" in ln or "ExecutorLostFailure" in ln), None)
    if cause and cause not in first:
        first = f"{first} {cause}"
    return first[:600]


def _sql_error(e: BaseException) -> BaseException:
    """Spark's analysis and parse errors are what DuckDB's binder errors are to
    validation: bad SQL text (an unknown column, function or table)."""
    from pyspark.errors import AnalysisException, ParseException

    if isinstance(e, (AnalysisException, ParseException)):
        return InvalidSqlText(_first_line(e))
    return e
