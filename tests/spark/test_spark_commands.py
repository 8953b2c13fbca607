"""`--engine spark` on every command: config load and check resolve the sources in Spark
(a view only Spark has, Parquet and CSV paths) as a Spark run will; the commands that only
read or write the database file accept the option, say so in --help and never fail on it."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from idr_testing import cli, query


def _config(tmp_path, sources: dict) -> str:
    path = tmp_path / "idr.yaml"
    path.write_text(yaml.safe_dump({
        "sources": [{"table_id": tid, "table_fqn": fqn, "entity_key_expr": "id",
                     "identifiers": [{"identifier_type": "EMAIL", "identifier_value_expr": "email"}]}
                    for tid, fqn in sources.items()],
        "rules": [{"rule_id": "email", "identifier_type": "EMAIL", "canonicalize": "EMAIL"}]}))
    return str(path)


@pytest.mark.spark
def test_config_load_and_check_read_sources_in_spark(tmp_path, spark_engine, spark_session):
    db = spark_engine.make_db(tmp_path / "x.duckdb", {"people": [{"id": 1, "email": "a@x.com"}]}, {
        "sources": [{"table_id": "p", "table_fqn": "people", "entity_key_expr": "id",
                     "identifiers": [{"identifier_type": "EMAIL", "identifier_value_expr": "email"}]}],
        "rules": [{"rule_id": "e", "identifier_type": "EMAIL", "canonicalize": "EMAIL"}]})
    # A view only Spark's catalog has, a Parquet file and a CSV file.
    spark_session.createDataFrame([(2, "A@x.com "), (3, "b@y.org")], "id INT, email STRING") \
        .createOrReplaceTempView("lake_customers")
    pq.write_table(pa.table({"id": [4, 5], "email": ["b@y.org", "c@z.net"]}), tmp_path / "orders.parquet")
    (tmp_path / "web.csv").write_text("id,email\n6,c@z.net\n7,d@w.io\n")
    good = _config(tmp_path, {"p": "people", "lake": "lake_customers", "orders": str(tmp_path / "orders.parquet"),
                              "web": "web.csv"})  # relative: next to the database, as on DuckDB

    code, _, err = cli("--db", str(db), "config", "load", good, "--engine", "duckdb")
    assert code == 2 and "'lake_customers' cannot be read" in err  # DuckDB has no such table
    code, out, err = cli("--db", str(db), "config", "check", good, "--engine", "spark")
    assert code == 0, err
    code, out, err = cli("--db", str(db), "config", "load", good, "--engine", "spark")
    assert code == 0, err
    assert "4 sources" in out
    assert query(db, "SELECT table_fqn FROM idr_meta.source_table WHERE table_id = 'lake'") == [("lake_customers",)]

    missing = _config(tmp_path, {"p": "people", "gone": str(tmp_path / "gone.parquet")})
    code, _, err = cli("--db", str(db), "config", "load", missing, "--engine", "spark")
    assert code == 2 and "'" + str(tmp_path / "gone.parquet") + "' cannot be read" in err, err
    assert "Traceback" not in err
    assert len(query(db, "SELECT * FROM idr_meta.source_table")) == 4  # nothing written

    # IDR_ENGINE=spark (set by the fixture) is the default for config check too.
    code, _, err = cli("--db", str(db), "config", "check")
    assert code == 0, err

    # Runs reading Spark views, Parquet and CSV on Spark: test_spark_engine.py and the on_spark tests.


@pytest.mark.parametrize("argv", [
    ["init"], ["config", "export"], ["runs"], ["runs", "--limit", "1"], ["metrics", "show"],
    ["dry-run", "cleanup", "--older-than", "30"], ["results", "path"],
])
def test_commands_that_only_use_the_database_accept_engine_spark(tmp_path, argv, monkeypatch):
    """They never start Spark: with a Java that cannot start, they still succeed."""
    db = str(tmp_path / "x.duckdb")
    assert cli("--db", db, "init")[0] == 0
    monkeypatch.setenv("JAVA_HOME", "/nonexistent/jdk")
    monkeypatch.setenv("IDR_ENGINE", "spark")
    code, out, err = cli(*argv, "--db", db, "--engine", "spark")
    assert code == 0, err
    code, out, err = cli("--engine", "spark", "--db", db, *argv)
    assert code == 0, err


def test_help_says_where_the_engine_is_used():
    for argv, text in [(["init"], "never starts Spark"), (["rollback"], "registered in Spark's persistent catalog"),
                       (["results", "register"], "always starts Spark"),
                       (["runs"], "never starts Spark"), (["metrics", "show"], "never starts Spark"),
                       (["config", "export"], "never starts Spark"), (["config", "load"], "reads the sources"),
                       (["run"], "engine that computes the run")]:
        code, out, _ = cli(*argv, "--help")
        assert code == 0 and text in " ".join(out.split()), argv
