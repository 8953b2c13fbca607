"""idr on Spark (local[2]) gives DuckDB's answers: the same published membership, clusters,
ids, identifiers and edges on the same data, FULL and INCR; INCR equals FULL; rollback,
Spark SQL and idr.open_results read what Spark published; component rounds stay
logarithmic on a shuffled chain and --max-iters fails loudly; a missing extra, Java,
master or checkpoint folder is one clear message, exit 2, nothing written."""

from __future__ import annotations

import math
import random
import shutil
import subprocess
import sys

import duckdb
import pytest

import idr
from idr.errors import RunError
from idr.publish.reader import attach_to_spark
from idr_testing import _duckdb_make_db, cli, partition, query

pytestmark = pytest.mark.spark

PUBLISHED = {
    "membership": "SELECT entity_key, resolved_id, table_id FROM idr_out.identity_resolved_membership_current",
    "clusters": "SELECT resolved_id, cluster_size FROM idr_out.identity_clusters_current",
    "identifiers": "SELECT entity_key, identifier_type, identifier_value_norm FROM idr_out.identity_identifiers_current",
    "edges": "SELECT identifier_type, identifier_value_norm, entity_key, anchor_entity_key "
             "FROM idr_out.identity_edges_current",
    "skipped": "SELECT identifier_type, identifier_value_norm, group_size FROM idr_out.identity_skipped_groups_current",
}
COUNTS = ("entities_processed", "identifiers_extracted", "edges_created", "clusters_total", "largest_cluster",
          "groups_skipped", "values_excluded", "values_invalid", "values_placeholder")


def published(db) -> dict:
    return {name: sorted(query(db, sql), key=repr) for name, sql in PUBLISHED.items()}


def last_counts(db) -> tuple:
    return query(db, f"SELECT {', '.join(COUNTS)} FROM idr_out.run_history ORDER BY started_at DESC LIMIT 1")[0]


def records(seed: int = 7, n: int = 240) -> dict:
    """Two sources whose values need every canonicaliser kind: case and blanks in emails,
    phones written several ways (phonenumbers on the executors), placeholders, an excluded
    domain and a loyalty id shared too widely (group guard)."""
    rng = random.Random(seed)
    phones = ["+1 415 555 {:04d}", "(415) 555-{:04d}", "415.555.{:04d}", "4155550{:03d}"]
    people = []
    for i in range(n):
        j = rng.randint(0, n // 3)
        people.append({
            "id": i,
            "email": rng.choice([f"P{j}@Example.org ", f"p{j}@example.org", "N/A", None, f"x{i}@spam.test", "  "]),
            "phone": rng.choice(phones).format(rng.randint(0, 60)) if rng.random() < 0.5 else rng.choice([None, "000"]),
            "loyalty": "L-SHARED" if i % 17 == 0 else (f"L{rng.randint(0, n // 4)}" if rng.random() < 0.3 else None),
        })
    orders = [{"order_id": f"o{k}", "customer_email": f"p{rng.randint(0, n // 3)}@EXAMPLE.org"} for k in range(n // 3)]
    return {"people": people, "orders": orders}


CONFIG = {
    "sources": [
        {"table_id": "crm", "table_fqn": "people", "entity_key_expr": "id",
         "identifiers": [{"identifier_type": "EMAIL", "identifier_value_expr": "email"},
                         {"identifier_type": "PHONE", "identifier_value_expr": "phone"},
                         {"identifier_type": "LOYALTY", "identifier_value_expr": "loyalty"}]},
        {"table_id": "shop", "table_fqn": "orders", "entity_key_expr": "order_id",
         "identifiers": [{"identifier_type": "EMAIL", "identifier_value_expr": "customer_email"}]},
    ],
    "rules": [{"rule_id": "email", "identifier_type": "EMAIL", "canonicalize": "EMAIL"},
              {"rule_id": "phone", "identifier_type": "PHONE", "canonicalize": "PHONE"},
              {"rule_id": "loyalty", "identifier_type": "LOYALTY", "canonicalize": "NONE", "max_group_size": 5}],
    "exclusions": [{"identifier_type": "EMAIL", "identifier_value_pattern": "%@spam.test", "is_pattern": True}],
}
CHANGES = [
    "UPDATE people SET email = 'p1@example.org' WHERE id IN (3, 4)",     # moves and merges
    "UPDATE people SET phone = NULL, loyalty = NULL WHERE id % 11 = 0",  # splits
    "DELETE FROM people WHERE id IN (5, 6, 7)",                          # removed entities
    "INSERT INTO orders VALUES ('o-new', 'P2@example.org')",             # a new entity joins
]


def test_duckdb_and_spark_publish_identical_results_full_and_incr(tmp_path, spark_engine, spark_session):
    duck, spark = tmp_path / "duck.duckdb", tmp_path / "spark.duckdb"
    _duckdb_make_db(duck, records(), CONFIG)
    spark_engine.make_db(spark, records(), CONFIG)

    first_duck = idr.run(str(duck), "FULL", engine="duckdb")
    first = idr.run(str(spark), "FULL", engine="spark")
    assert first.status == first_duck.status == "SUCCESS"
    assert query(spark, "SELECT components_strategy FROM idr_out.run_history") == [("sql",)]  # stays in Spark
    assert published(spark) == published(duck)
    assert last_counts(spark) == last_counts(duck)
    after_first = published(spark)
    assert len({r for _, r, _ in published(spark)["membership"]}) < len(published(spark)["membership"])

    con = duckdb.connect(str(duck))
    for statement in CHANGES:
        con.execute(statement)
    con.close()
    spark_engine.execute(spark, *CHANGES)
    full_copy = tmp_path / "spark_full.duckdb"
    shutil.copy(spark, full_copy)

    incr_duck = idr.run(str(duck), "INCR", engine="duckdb")
    incr = idr.run(str(spark), "INCR", engine="spark")
    assert (incr.mode, incr_duck.mode) == ("INCR", "INCR")
    assert published(spark) == published(duck)
    # INCR == FULL on the same data, on Spark.
    assert idr.run(str(full_copy), "FULL", engine="spark").status == "SUCCESS"
    assert partition(full_copy) == partition(spark)

    # Readers: idr.open_results and Spark SQL see what the Spark run published.
    members = sorted(query(spark, PUBLISHED["membership"]))
    with idr.open_results(spark) as con:
        assert sorted(con.execute(PUBLISHED["membership"]).fetchall()) == members
    assert attach_to_spark(spark_session, spark) == incr.run_id
    assert sorted(tuple(r) for r in spark_session.sql(PUBLISHED["membership"]).collect()) == members
    edges = spark_session.sql("SELECT count(*) FROM idr_out.identity_edges_current").collect()[0][0]
    assert edges == len(published(spark)["edges"])

    # Rollback returns to exactly what the first run published (the state store does it).
    code, out, err = cli("--db", str(spark), "rollback", "--to", first.run_id)
    assert code == 0, err
    assert published(spark) == after_first


def test_components_rounds_on_a_shuffled_chain_and_max_iters(tmp_path, spark_engine):
    """A chain (record i shares a value with i+1) under shuffled keys: one cluster, at most
    2*log2(n) rounds of star contraction; a round limit below that fails the run loudly
    and leaves the published results as they were."""
    n = 1000
    keys = list(range(n))
    random.Random(3).shuffle(keys)
    rows = [{"id": keys[i], "a": f"v{i // 2}", "b": f"w{(i + 1) // 2}"} for i in range(n)]
    db = spark_engine.make_db(tmp_path / "chain.duckdb", {"people": rows}, {
        "sources": [{"table_id": "src", "table_fqn": "people", "entity_key_expr": "id",
                     "identifiers": [{"identifier_type": t, "identifier_value_expr": t.lower()} for t in ("A", "B")]}],
        "rules": [{"rule_id": t, "identifier_type": t, "canonicalize": "NONE"} for t in ("A", "B")]})
    result = idr.run(str(db), "FULL")
    assert query(db, "SELECT count(*), min(cluster_size) FROM idr_out.identity_clusters_current") == [(1, n)]
    assert query(db, "SELECT DISTINCT resolved_id FROM idr_out.identity_resolved_membership_current") == [("src:0",)]
    assert 1 <= result.counts["components_rounds"] <= 2 * math.log2(n)
    before = sorted(query(db, PUBLISHED["membership"]))

    with pytest.raises(RunError, match="did not converge after 2 rounds"):
        idr.run(str(db), "FULL", max_iters=2)
    assert query(db, "SELECT status FROM idr_out.run_history ORDER BY started_at DESC LIMIT 1") == [("FAILED",)]
    assert sorted(query(db, PUBLISHED["membership"])) == before
    with idr.open_results(db) as con:
        assert sorted(con.execute(PUBLISHED["membership"]).fetchall()) == before


@pytest.mark.parametrize("env, expected", [
    ({"JAVA_HOME": "/nonexistent/jdk"}, "JAVA_HOME=/nonexistent/jdk has no bin/java"),
    ({"IDR_SPARK_MASTER": "spark://127.0.0.1:9"}, "no Spark master answers there"),
    ({"IDR_SPARK_CHECKPOINT_DIR": "{file}/sub"}, "IDR_SPARK_CHECKPOINT_DIR"),
])
def test_bad_spark_environment_is_one_message_exit_2_nothing_written(tmp_path, spark_engine, monkeypatch, env,
                                                                        expected):
    db = spark_engine.make_db(tmp_path / "x.duckdb", {"people": [{"id": 1, "email": "a@x.com"}]}, {
        "sources": [{"table_id": "s", "table_fqn": "people", "entity_key_expr": "id",
                     "identifiers": [{"identifier_type": "EMAIL", "identifier_value_expr": "email"}]}],
        "rules": [{"rule_id": "e", "identifier_type": "EMAIL", "canonicalize": "EMAIL"}]})
    (tmp_path / "file").write_text("not a folder")
    for key, value in env.items():
        monkeypatch.setenv(key, value.format(file=tmp_path / "file"))
    code, out, err = cli("--db", str(db), "run", "--engine", "spark")
    assert code == 2, err
    assert expected in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert query(db, "SELECT count(*) FROM idr_out.run_history") == [(0,)]
    assert not (tmp_path / "x.duckdb.idr").exists()


def test_engine_spark_without_pyspark_is_exit_2(tmp_path):
    """`--engine spark` where PySpark is not installed (hidden from a child process)."""
    db = tmp_path / "x.duckdb"
    _duckdb_make_db(db, {"people": [{"id": 1, "email": "a@x.com"}]}, {
        "sources": [{"table_id": "s", "table_fqn": "people", "entity_key_expr": "id",
                     "identifiers": [{"identifier_type": "EMAIL", "identifier_value_expr": "email"}]}],
        "rules": [{"rule_id": "e", "identifier_type": "EMAIL", "canonicalize": "EMAIL"}]})
    code = ("import sys; sys.modules['pyspark'] = None; from idr.cli import main; "
            f"sys.exit(main(['--db', {str(db)!r}, 'run', '--engine', 'spark']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'idr[spark]'" in proc.stderr and "Traceback" not in proc.stderr
    assert query(db, "SELECT count(*) FROM idr_out.run_history") == [(0,)]
