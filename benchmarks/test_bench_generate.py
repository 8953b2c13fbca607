"""The benchmark generator: exact sizes, determinism, truth/config consistency.

Small sizes only (a few seconds in all):  pytest benchmarks/test_bench_generate.py
"""

import re
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate  # noqa: E402
import reference  # noqa: E402

TABLES = ["crm_customers", "orders", "loyalty_members", "web_signups"]


def _gen(tmp_path, records, seed=42, name="b"):
    db = tmp_path / f"{name}_{records}_{seed}.duckdb"
    generate.generate(records, db, seed, verbose=False)
    return db


def _fingerprints(db):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return generate.fingerprints(con)
    finally:
        con.close()


@pytest.mark.parametrize("records", [1, 2, 7, 999, 1000, 4321, 20000])
def test_total_records_is_exact(tmp_path, records):
    db = _gen(tmp_path, records)
    con = duckdb.connect(str(db), read_only=True)
    counts = [con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in TABLES]
    truth = con.execute("SELECT count(*), count(DISTINCT entity_key) FROM bench_truth").fetchall()[0]
    con.close()
    assert sum(counts) == records
    assert truth == (records, records)


def test_same_seed_same_tables_other_seed_differs(tmp_path):
    a = _fingerprints(_gen(tmp_path, 5000, seed=7, name="a"))
    b = _fingerprints(_gen(tmp_path, 5000, seed=7, name="b"))
    c = _fingerprints(_gen(tmp_path, 5000, seed=8, name="c"))
    assert a == b
    assert all(a[t] != c[t] for t in TABLES)


def test_truth_keys_are_the_keys_idr_forms(tmp_path):
    db = _gen(tmp_path, 20000)
    con = duckdb.connect(str(db), read_only=True)
    keys = " UNION ALL ".join(
        f"SELECT '{tid}:' || {key_col} AS k FROM {table}"
        for tid, table, key_col, *_ in generate.SOURCES)
    missing, extra = con.execute(f"""
        SELECT (SELECT count(*) FROM ({keys}) s ANTI JOIN bench_truth t ON t.entity_key = s.k),
               (SELECT count(*) FROM bench_truth t ANTI JOIN ({keys}) s ON t.entity_key = s.k)
    """).fetchall()[0]
    persons = con.execute("SELECT count(DISTINCT person_id) FROM bench_truth").fetchall()[0][0]
    con.close()
    assert (missing, extra) == (0, 0)
    assert 20000 / 2.7 < persons < 20000 / 2.3


def test_identifiers_are_messy_but_valid_looking(tmp_path):
    db = _gen(tmp_path, 20000)
    con = duckdb.connect(str(db), read_only=True)
    phones = [r[0] for r in con.execute(
        "SELECT phone FROM crm_customers UNION ALL SELECT phone FROM orders").fetchall()]
    emails = [r[0] for r in con.execute(
        "SELECT email FROM crm_customers UNION ALL SELECT customer_email FROM orders "
        "UNION ALL SELECT email FROM web_signups UNION ALL SELECT email FROM loyalty_members"
    ).fetchall()]
    loyalty = [r[0] for r in con.execute("SELECT loyalty_id FROM loyalty_members").fetchall()]
    con.close()
    digits = [re.sub(r"\D", "", p) for p in phones if p and re.search(r"\d{3}", p)]
    digits = [d[1:] if len(d) == 11 else d for d in digits]
    real = [d for d in digits if d not in ("0000000000", "9999999999", "1234567890")]
    assert real and all(d[:3] in generate.AREA_CODES for d in real)
    assert all(d[3] in "23456789" and d[4] not in "15" for d in real)  # no N11, no 555 ...
    assert sum(d[3:6] == "555" for d in real) == 0  # ... except the shop phone (>=200k rows)
    assert {"(", ".", "+", "-"} <= set("".join(p for p in phones if p))  # several formats
    assert None in phones and "" in phones and "   " in phones
    assert any(e and e != e.strip() for e in emails) and any(e and e.isupper() for e in emails)
    assert {"test@test.com", "N/A", "unknown"} <= set(emails)
    assert any(v and v.islower() for v in loyalty) and any(v and v != v.strip() for v in loyalty)


def test_yaml_config_shape(tmp_path):
    db = _gen(tmp_path, 100)
    cfg = yaml.safe_load(db.with_suffix(".yaml").read_text())
    assert [s["table_id"] for s in cfg["sources"]] == ["crm", "orders", "loyalty", "web"]
    assert cfg["sources"][2]["identifiers"][0] == {"identifier_type": "LOYALTY_ID",
                                                   "identifier_value_expr": "loyalty_id"}
    assert {r["rule_id"]: r["max_group_size"] for r in cfg["rules"]} == {
        "email": 10000, "phone": 5000, "loyalty": 100}
    assert cfg["exclusions"][0]["identifier_value_pattern"] == "test@test.com"
    assert cfg["config"] == {"large_cluster_threshold": "5000"}


def test_a_deterministic_linker_scores_high_but_not_perfect(tmp_path):
    db = _gen(tmp_path, 20000)
    q = reference.evaluate(db)["quality"]
    assert 0.97 < q["precision"] < 1.0  # households share a phone
    assert 0.80 < q["recall"] < 0.97  # missing identifiers, throwaway addresses
