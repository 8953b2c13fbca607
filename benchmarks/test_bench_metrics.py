"""Pairwise precision/recall SQL on tiny hand-made clusterings with known answers.

Real DuckDB, in memory; runs in well under a second:  pytest benchmarks/test_bench_metrics.py
"""

import sys
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from metrics import pairwise_metrics  # noqa: E402

# persons: A = a1 a2 a3, B = b1 b2, C = c1
TRUTH = [("crm:a1", 1), ("orders:a2", 1), ("web:a3", 1),
         ("crm:b1", 2), ("loyalty:b2", 2),
         ("web:c1", 3)]


def _con(membership: list[tuple[str, object]], resolved_type: str = "VARCHAR"):
    con = duckdb.connect()
    con.execute("CREATE TABLE bench_truth (entity_key VARCHAR, person_id BIGINT)")
    con.executemany("INSERT INTO bench_truth VALUES (?, ?)", TRUTH)
    con.execute("CREATE SCHEMA idr_out")
    con.execute("CREATE TABLE idr_out.identity_resolved_membership_current "
                f"(entity_key VARCHAR, resolved_id {resolved_type})")
    if membership:
        con.executemany("INSERT INTO idr_out.identity_resolved_membership_current VALUES (?, ?)",
                        membership)
    return con


def test_mixed_clustering():
    # X = {a1, a2, b1}, Y = {a3}, Z = {b2, c1}
    con = _con([("crm:a1", "X"), ("orders:a2", "X"), ("crm:b1", "X"),
                ("web:a3", "Y"), ("loyalty:b2", "Z"), ("web:c1", "Z")])
    m = pairwise_metrics(con)
    # TP: (X,A) has 2 records -> 1 pair; every other cell is a single record
    assert (m["tp"], m["predicted_pairs"], m["true_pairs"]) == (1, 3 + 0 + 1, 3 + 1 + 0)
    assert m["precision"] == pytest.approx(0.25)
    assert m["recall"] == pytest.approx(0.25)
    assert m["f1"] == pytest.approx(0.25)
    assert (m["records"], m["persons"], m["clusters"]) == (6, 3, 3)
    assert m["persons_exact"] == 0
    assert m["records_unresolved"] == 0


def test_perfect_clustering_integer_ids():
    con = _con([("crm:a1", 10), ("orders:a2", 10), ("web:a3", 10),
                ("crm:b1", 20), ("loyalty:b2", 20), ("web:c1", 30)], resolved_type="BIGINT")
    m = pairwise_metrics(con)
    assert (m["tp"], m["predicted_pairs"], m["true_pairs"]) == (4, 4, 4)
    assert m["precision"] == m["recall"] == m["f1"] == 1.0
    assert m["persons_exact"] == 3


def test_everything_in_one_cluster():
    con = _con([(k, "ALL") for k, _ in TRUTH])
    m = pairwise_metrics(con)
    assert (m["tp"], m["predicted_pairs"], m["true_pairs"]) == (4, 15, 4)
    assert m["precision"] == pytest.approx(4 / 15)
    assert m["recall"] == 1.0
    assert m["f1"] == pytest.approx(2 * (4 / 15) / (4 / 15 + 1))


def test_missing_records_are_singletons_and_extras_reported():
    # a3, b2, c1 absent from membership; one key the truth does not know; one duplicate
    con = _con([("crm:a1", "X"), ("orders:a2", "X"), ("crm:b1", "Y"),
                ("crm:zz", "X"), ("crm:b1", "Y")])
    m = pairwise_metrics(con)
    # duplicate membership row of b1 counts twice in its cell: the check below flags it
    assert m["membership_duplicate_keys"] == 1
    assert m["membership_not_in_truth"] == 1
    assert m["records_unresolved"] == 3
    assert m["tp"] == 1 + 1  # (X,A): a1 a2; (Y,B): b1 twice
    assert m["true_pairs"] == 3 + 3  # B has b1 (twice) + b2 after the join


def test_nothing_linked():
    con = _con([])
    m = pairwise_metrics(con)
    assert (m["tp"], m["predicted_pairs"], m["true_pairs"]) == (0, 0, 4)
    assert m["precision"] is None
    assert m["recall"] == 0.0
    assert m["f1"] == 0.0
    assert m["clusters"] == 6 and m["records_unresolved"] == 6
