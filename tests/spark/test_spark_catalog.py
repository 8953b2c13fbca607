"""idr's tables in Spark's catalog (publish/spark_catalog.py): registered snapshots read
by plain Spark SQL under the usual names, switched as a set (INCR's removed rows, a
rollback, a DataFrame made before the switch), the configuration's read-only copies; and,
across processes, Spark's Hive catalog: a table one process saved is a source of
`idr config load --engine spark` in another, and a fresh process reads what a Spark run
and a rollback registered."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import duckdb
import pytest

import idr
from idr.errors import RunError
from idr.publish import layout, spark_catalog
from idr_testing import _duckdb_make_db, cli, query

MEMBERS = "SELECT entity_key, resolved_id FROM idr_out.identity_resolved_membership_current"
CONFIG = {"sources": [{"table_id": "p", "table_fqn": "people", "entity_key_expr": "id",
                       "identifiers": [{"identifier_type": "EMAIL", "identifier_value_expr": "email"}]}],
          "rules": [{"rule_id": "e", "identifier_type": "EMAIL", "canonicalize": "EMAIL"}]}


def _rows(con_or_spark, sql=MEMBERS):
    if hasattr(con_or_spark, "sql") and not isinstance(con_or_spark, duckdb.DuckDBPyConnection):
        return sorted(tuple(r) for r in con_or_spark.sql(sql).collect())
    return sorted(con_or_spark.execute(sql).fetchall())


def _published(db):
    with idr.open_results(db) as con:
        return _rows(con)


@pytest.mark.spark
def test_registered_snapshots_switch_as_a_set(tmp_path, spark_session, monkeypatch):
    """Runs on DuckDB (seconds), registered in the test session's catalog: the same code
    a Spark run calls after publishing, minus the metastore that makes it outlive the process."""
    db = tmp_path / "x.duckdb"
    people = [{"id": i, "email": f"u{i % 7}@x.com"} for i in range(30)]
    _duckdb_make_db(db, {"people": people}, CONFIG)
    full = idr.run(str(db), "FULL", engine="duckdb")
    assert spark_catalog.register_database(db, spark_session) == full.run_id
    assert _rows(spark_session) == _published(db)
    assert _rows(spark_session, "SELECT snapshot FROM idr_out.current_snapshot") == [(full.run_id,)]
    assert _rows(spark_session, "SELECT table_id, table_fqn FROM idr_meta.source_table") == [("p", "people")]
    edges = spark_session.sql("SELECT count(*) FROM idr_out.identity_edges_current").collect()[0][0]
    with idr.open_results(db) as con:
        assert edges == con.execute("SELECT count(*) FROM idr_out.identity_edges_current").fetchall()[0][0] > 0
    before = spark_session.sql(MEMBERS)  # analysed now: keeps reading the FULL snapshot

    # INCR: a snapshot whose tables are the FULL files minus removed rows plus added ones.
    con = duckdb.connect(str(db))
    con.execute("UPDATE people SET email = 'moved@x.com' WHERE id IN (1, 2)")
    con.execute("DELETE FROM people WHERE id = 3")
    con.close()
    incr = idr.run(str(db), "INCR", engine="duckdb")
    assert incr.mode == "INCR"
    spark_catalog.register_database(db, spark_session)
    removed = spark_session.sql("SELECT count(*) FROM idr_snapshots.identity_resolved_membership_current "
                                f"WHERE idr_snapshot = '{incr.run_id}' AND idr_part = 'removed'").collect()[0][0]
    assert removed > 0  # the view subtracts them
    assert _rows(spark_session) == _published(db) != sorted(tuple(r) for r in before.collect())

    # `idr rollback --engine spark` with the Hive catalog registers the restored snapshot
    # (here in the test session's catalog: the process has one SparkSession).
    monkeypatch.setenv("IDR_SPARK_CATALOG", "hive")
    monkeypatch.setattr("idr.backends.spark.open_session", lambda db: spark_session)
    code, _, err = cli("--db", str(db), "rollback", "--to", full.run_id, "--engine", "spark")
    assert code == 0, err
    assert _rows(spark_session) == _published(db) == sorted(tuple(r) for r in before.collect())

    # Snapshots leave the rollback window: their partitions and link folders go at the next registration.
    con = duckdb.connect(str(db))
    con.execute("INSERT OR REPLACE INTO idr_meta.config (config_key, config_value) "
                "VALUES ('rollback_retention_runs', '1')")
    con.close()
    last = idr.run(str(db), "FULL", engine="duckdb")
    spark_catalog.register_database(db, spark_session)
    parts = {r[0].split("/")[0] for r in spark_session.sql(
        "SHOW PARTITIONS idr_snapshots.identity_resolved_membership_current").collect()}
    assert parts == {f"idr_snapshot={last.run_id}"}
    kept = "SELECT config_value FROM idr_meta.config WHERE config_key = 'rollback_retention_runs'"
    assert _rows(spark_session, kept) == [("1",)]  # the configuration copy was refreshed too

    # A run on a Hive catalog first checks that the membership view holds the snapshot's rows.
    manifest = layout.current_snapshot(db)
    spark_catalog.verify(spark_session, manifest)
    spark_session.sql("ALTER TABLE idr_snapshots.identity_resolved_membership_current DROP PARTITION "
                      f"(idr_snapshot = '{last.run_id}', idr_part = 'rows')")
    with pytest.raises(RunError, match="reads 0 rows of idr_out.identity_resolved_membership_current"):
        spark_catalog.verify(spark_session, manifest)
    spark_session.sql("ALTER TABLE idr_snapshots.identity_resolved_membership_current ADD PARTITION "
                      f"(idr_snapshot = '{last.run_id}', idr_part = 'rows')")

    # The database moves with its .idr folder: the tables follow it (else they would read nothing).
    moved = tmp_path / "moved"
    moved.mkdir()
    for path in (db, tmp_path / "x.duckdb.idr"):
        shutil.move(path, moved / path.name)
    spark_catalog.register_database(moved / "x.duckdb", spark_session)
    assert _rows(spark_session) == _published(moved / "x.duckdb") != []


SPARK_PROCESS = """
import sys
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
         .config("spark.sql.warehouse.dir", sys.argv[1]).enableHiveSupport()
         .config("spark.hadoop.javax.jdo.option.ConnectionURL",
                 f"jdbc:derby:;databaseName={sys.argv[2]}/metastore_db;create=true")
         .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={sys.argv[2]}").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
if sys.argv[3] == "write":
    spark.sql("CREATE DATABASE crm")
    spark.createDataFrame([(i, f"u{i % 5}@x.com") for i in range(20)], "id INT, email STRING") \\
        .write.saveAsTable("crm.customers")
else:
    for row in spark.sql(sys.argv[3]).collect():
        print("ROW", *row, sep="\\t")
"""

IDR_PROCESS = """
import sys
from idr.cli import main
for line in sys.argv[1:]:
    code = main(line.split())
    print("EXIT", code, flush=True)
    if code:
        sys.exit(code)
"""


def _process(tmp_path, env, script, *args):
    path = tmp_path / f"process_{len(script)}.py"
    path.write_text(textwrap.dedent(script))
    proc = subprocess.run([sys.executable, str(path), *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **env})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.spark
def test_hive_catalog_across_processes(tmp_path, spark_session):
    """Three JVMs, as users would run them: one process saves the table crm.customers; in
    another, `idr config load` and `idr run` (Spark, IDR_SPARK_CATALOG=hive) read it and
    register the results; a fresh process reads them by name with plain Spark SQL."""
    db = tmp_path / "x.duckdb"
    conf = tmp_path / "conf"
    conf.mkdir()
    # Tiny data: whole-stage code generation costs more than the work (as in the test session).
    (conf / "spark-defaults.conf").write_text("spark.sql.codegen.wholeStage false\n")
    env = {"IDR_SPARK_CATALOG": "hive", "IDR_SPARK_WAREHOUSE": str(tmp_path / "wh"),
           "IDR_SPARK_METASTORE": str(tmp_path / "ms"), "IDR_SPARK_MASTER": "local[2]",
           "SPARK_LOCAL_IP": "127.0.0.1", "IDR_ENGINE": "spark", "SPARK_CONF_DIR": str(conf)}
    spark_args = (env["IDR_SPARK_WAREHOUSE"], env["IDR_SPARK_METASTORE"])
    _process(tmp_path, env, SPARK_PROCESS, *spark_args, "write")
    config = tmp_path / "idr.yaml"
    config.write_text(textwrap.dedent("""\
        sources:
          - {table_id: crm, table_fqn: crm.customers, entity_key_expr: id,
             identifiers: [{identifier_type: EMAIL, identifier_value_expr: email}]}
        rules: [{rule_id: e, identifier_type: EMAIL, canonicalize: EMAIL}]
        """))
    assert cli("--db", str(db), "init")[0] == 0
    out = _process(tmp_path, env, IDR_PROCESS, f"--db {db} config load {config}", f"--db {db} run --run-mode FULL")
    assert out.count("EXIT 0") == 2, out

    published = sorted(tuple(str(v) for v in r) for r in _published(db))
    assert len(published) == 20
    read = _process(tmp_path, env, SPARK_PROCESS, *spark_args,
                    f"{MEMBERS} UNION ALL SELECT 'snapshot', snapshot FROM idr_out.current_snapshot")
    rows = sorted(tuple(line.split("\t")[1:]) for line in read.splitlines() if line.startswith("ROW\t"))
    assert rows == sorted(published + [("snapshot", idr.snapshot_version(db))])


@pytest.mark.spark
@pytest.mark.parametrize("setting", ["IDR_SPARK_METASTORE", "IDR_SPARK_WAREHOUSE"])
def test_unwritable_catalog_folder_is_one_message_exit_2_nothing_written(tmp_path, setting, monkeypatch):
    db = tmp_path / "x.duckdb"
    _duckdb_make_db(db, {"people": [{"id": 1, "email": "a@x.com"}]}, CONFIG)
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("IDR_SPARK_CATALOG", "hive")
    monkeypatch.setenv(setting, str(tmp_path / "file" / "sub"))
    listing = sorted(p.name for p in tmp_path.iterdir())
    for args in (["run", "--engine", "spark"], ["config", "check", "--engine", "spark"]):
        code, _, err = cli("--db", str(db), *args)  # stops before any JVM starts
        assert code == 2, err
        assert setting in err and "is not a folder" in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == listing  # no metastore, warehouse or snapshot
    assert query(db, "SELECT count(*) FROM idr_out.run_history") == [(0,)]
