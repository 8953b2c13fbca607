"""Test helpers: build a database with source tables and an idr configuration, query it.

The helpers work on the engine under test (ENGINE, set by conftest's `engine` fixture):
DuckDB today. A second engine adds an Engine subclass and its name to conftest.ENGINES,
and every test that takes the fixture (directly or through db_path) runs on it too."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import duckdb
import pyarrow as pa

from idr.backends.duckdb import transaction
from idr.config.meta import write_config
from idr.config.models import Config
from idr.schema import ensure_schema


class Engine:
    """The DuckDB engine: a database is a file; tests read it with a read-only connection."""

    name = "duckdb"

    def database(self, folder: Path, name: str = "idr") -> Path:
        return folder / f"{name}.duckdb"

    def open(self, path: Path):
        from idr.backends.duckdb import DuckDBBackend

        return DuckDBBackend.open(path)

    def make_db(self, path: Path, tables: dict[str, pa.Table | list[dict]], config: dict) -> Path:
        return _duckdb_make_db(path, tables, config)

    def query(self, path: Path, sql: str, params=None) -> list[tuple]:
        con = duckdb.connect(str(path), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def execute(self, path: Path, *statements: str, params=None) -> None:
        con = duckdb.connect(str(path))
        try:
            for s in statements:
                con.execute(s, params or [])
        finally:
            con.close()


class SparkEngine(Engine):
    """Spark in local[2] (one session for the whole test session): runs compute on Spark;
    the database file keeps idr_meta and idr_out, so tests read results as on DuckDB.
    Source tables are made in the database file as for DuckDB (tests edit them with SQL)
    and mirrored into Spark as temp views of the same names after every change."""

    name = "spark"
    ENV = {"IDR_ENGINE": "spark", "IDR_SPARK_MASTER": "local[2]"}

    def __init__(self):
        self.spark = spark_test_session()

    def open(self, path: Path):
        from idr.backends.spark import SparkBackend

        return SparkBackend.open(path)

    def make_db(self, path: Path, tables, config: dict) -> Path:
        _duckdb_make_db(path, tables, config)
        self.sync(path)
        return path

    def execute(self, path: Path, *statements: str, params=None) -> None:
        super().execute(path, *statements, params=params)
        self.sync(path)

    def sync(self, path: Path) -> None:
        """Mirror the database file's own tables (the sources) into Spark."""
        con = duckdb.connect(str(path), read_only=True)
        try:
            names = [r[0] for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
                "AND table_type IN ('BASE TABLE', 'VIEW')").fetchall()]
            for name in names:
                table = con.sql(f'SELECT * FROM "{name}"').to_arrow_table()
                self.spark.createDataFrame(table).createOrReplaceTempView(name)
        finally:
            con.close()


_SPARK = []


def spark_test_session():
    """The test session's SparkSession: local[2], tuned for tiny data (2 shuffle
    partitions, no whole-stage code generation: compiling costs more than the work).
    Skips (fails with IDR_REQUIRE_SERVICES=1) when PySpark or Java is missing."""
    if _SPARK:
        return _SPARK[0]
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from idr.settings import Settings

    settings = Settings(engine="spark", spark_master="local[2]")
    from idr.backends.spark import spark_problem

    problem = spark_problem(settings)
    if problem:
        need(f"Spark tests: {problem}")
    import tempfile

    from idr.backends.spark import spark_session

    spark = spark_session(settings, Path(tempfile.mkdtemp(prefix="idr-spark-warehouse-")))
    spark.sparkContext.setLogLevel("ERROR")
    spark.conf.set("spark.sql.shuffle.partitions", "2")
    spark.conf.set("spark.sql.codegen.wholeStage", "false")
    _SPARK.append(spark)
    return spark


ENGINE: Engine = Engine()


def make_db(path: Path, tables: dict[str, pa.Table | list[dict]], config: dict) -> Path:
    """Create a database with the given source tables, idr schemas and configuration."""
    return ENGINE.make_db(path, tables, config)


def _duckdb_make_db(path: Path, tables: dict[str, pa.Table | list[dict]], config: dict) -> Path:
    con = duckdb.connect(str(path))
    try:
        for name, rows in tables.items():
            tbl = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows)
            con.register("src_rows", tbl)
            con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM src_rows')
            con.unregister("src_rows")
        ensure_schema(con)
        with transaction(con):
            write_config(con, Config.model_validate(config))
    finally:
        con.close()
    return path


def simple_config(table: str = "people", types: dict[str, str] | None = None, *, max_group_size=10000,
                  key: str = "id", extra: dict | None = None) -> dict:
    """One source whose columns named after identifier types map to rules with the given canonicalisers."""
    types = types or {"email": "EMAIL"}
    cfg = {
        "sources": [{"table_id": "src", "table_fqn": table, "entity_key_expr": key,
                     "identifiers": [{"identifier_type": col.upper(), "identifier_value_expr": col}
                                     for col in types]}],
        "rules": [{"rule_id": col, "identifier_type": col.upper(), "canonicalize": canon,
                   "max_group_size": max_group_size} for col, canon in types.items()],
    }
    cfg.update(extra or {})
    return cfg


def query(path: Path, sql: str, params=None) -> list[tuple]:
    return ENGINE.query(path, sql, params)


def execute(path: Path, *statements: str, params=None) -> None:
    """Run statements on the database (a user's SQL between runs), then close it."""
    ENGINE.execute(path, *statements, params=params)


def partition(path: Path) -> set[frozenset[str]]:
    """Clusters of the published membership as a set of frozensets of entity keys."""
    groups: dict[str, set[str]] = {}
    for key, rid in query(path, "SELECT entity_key, resolved_id FROM idr_out.identity_resolved_membership_current"):
        groups.setdefault(rid, set()).add(key)
    return {frozenset(g) for g in groups.values()}


def assert_entity_numbers_consistent(path: Path) -> None:
    """Published identifier pairs refer to entities by number: every member has one
    number of its own, and every pair's number is a member's."""
    [(missing, repeated, orphans)] = query(path, """
        SELECT (SELECT count(*) FROM idr_out.identity_resolved_membership_current WHERE entity_id IS NULL),
               (SELECT count(*) - count(DISTINCT entity_id) FROM idr_out.identity_resolved_membership_current),
               (SELECT count(*) FROM idr_out.identity_identifier_pairs_current p
                ANTI JOIN idr_out.identity_resolved_membership_current m USING (entity_id))""")
    assert (missing, repeated, orphans) == (0, 0, 0), \
        f"members without a number {missing}, numbers used twice {repeated}, pairs of no member {orphans}"


def cli(*args: str) -> tuple[int, str, str]:
    """The real `idr` entry point, in this process (a child process costs a second per
    call): exit code, standard output, standard error."""
    from idr.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as e:  # argparse: --help, or an argument error (2)
            code = e.code
    return code, out.getvalue(), err.getvalue()


def idr_cli(*args: str, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    """Run the real `idr` entry point in a child process."""
    env = {**os.environ, **kw.pop("env", {})}
    return subprocess.run([sys.executable, "-m", "idr", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, **kw)


def need(reason: str):
    """Skip a test whose service or tool is missing, or fail when IDR_REQUIRE_SERVICES=1
    (as .ci/run sets it, after installing and starting them)."""
    import pytest

    if os.environ.get("IDR_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (IDR_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


def hold_lock(path: Path, seconds: float) -> subprocess.Popen:
    """Another process that keeps the database open for writing for `seconds`."""
    code = (f"import duckdb, sys, time; con = duckdb.connect({str(path)!r}); print('locked', flush=True); "
            f"time.sleep({seconds})")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def make_legacy(path: Path) -> None:
    """Turn a database into what the release before snapshots-only wrote: the published
    state as tables in the file (here: copied from the current snapshot) and no snapshot
    folder."""
    import shutil

    from idr.publish import layout
    from idr.schema import STATE

    con = duckdb.connect(str(path))
    try:
        for t in STATE:
            con.execute(f"CREATE TABLE idr_out.legacy_copy AS SELECT * FROM idr_out.{t}")
            con.execute(f"DROP VIEW idr_out.{t}")
            con.execute(f"ALTER TABLE idr_out.legacy_copy RENAME TO {t}")
    finally:
        con.close()
    shutil.rmtree(layout.root(path))


def copy_db(src: Path, dst: Path) -> Path:
    """Copy a database with its published snapshots (the folder next to it): the file
    alone holds no results since they live in the snapshot."""
    import shutil

    from idr.publish import layout

    shutil.copy(src, dst)
    if layout.root(dst).exists():
        shutil.rmtree(layout.root(dst))
    if layout.root(src).exists():
        shutil.copytree(layout.root(src), layout.root(dst))
    return dst


def state_as_tables(con) -> None:
    """For unit tests that set up a published state with INSERTs: the idr_out state names
    become plain tables (in a real database they are views over the published snapshot;
    the code under test reads them by name either way)."""
    from idr.schema import STATE, table_ddl

    for t in STATE:
        con.execute(f"DROP VIEW IF EXISTS idr_out.{t}")
        con.execute(table_ddl("idr_out", t))


def state_as_views(con) -> None:
    """Undo state_as_tables: the state names are the (empty) views a database holds before
    anything is published, as commands that check the schema expect."""
    from idr.schema import STATE

    for t in STATE:
        con.execute(f"DROP TABLE IF EXISTS idr_out.{t}")
    ensure_schema(con)
