"""Dialect hooks that carry meaning beyond spelling: the portable hash must give the same
number on every engine (DuckDB checked here against Python's hashlib, which is what Spark's
md5 + conv computes), and the capability flags say what each engine offers."""

from __future__ import annotations

import hashlib
import random

import duckdb
import pytest

from idr.sql.dialects import DIALECTS, DUCKDB, HASH_HEX_DIGITS, SPARK


def python_hash(text: str) -> int:
    return int(hashlib.md5(text.encode("utf-8")).hexdigest()[:HASH_HEX_DIGITS], 16)


def _strings() -> list[str]:
    rng = random.Random(13)
    alphabet = ("abcXYZ019 :#@._-'\"\\%" "éøßçñ" "日本語中文" "Ωπ" "🙂👩‍👩‍👧" "\u0301\u200b\u00a0\t\n")
    fixed = ["", " ", "crm:1", "crm:01", "CRM:1", "é", "e\u0301", "🙂", "a" * 1000, "x'); DROP TABLE t; --"]
    return fixed + ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))) for _ in range(3000)]


def test_duckdb_portable_hash_equals_python_md5_prefix():
    con = duckdb.connect()
    values = _strings()
    con.execute("CREATE TABLE s (i INTEGER, v VARCHAR)")
    con.executemany("INSERT INTO s VALUES (?, ?)", list(enumerate(values)))
    got = dict(con.execute(f"SELECT i, {DUCKDB.portable_hash('v')} FROM s").fetchall())
    assert [got[i] for i in range(len(values))] == [python_hash(v) for v in values]
    assert all(0 <= h < 2**60 for h in got.values())  # fits a signed BIGINT on every engine


def test_spark_portable_hash_is_the_same_formula():
    # Spark: md5(string) hashes the UTF-8 bytes; conv(hex, 16, 10) reads the prefix as base 16.
    assert SPARK.portable_hash("entity_key") == \
        f"CAST(conv(substr(md5(entity_key), 1, {HASH_HEX_DIGITS}), 16, 10) AS BIGINT)"


def test_capability_flags():
    assert DUCKDB.supports_qualify and DUCKDB.supports_temp_tables and DUCKDB.has_row_position
    assert not SPARK.supports_qualify and not SPARK.supports_temp_tables and not SPARK.has_row_position
    assert DUCKDB.temp_relation_kind == "TEMP TABLE" and SPARK.temp_relation_kind == "TEMP VIEW"
    assert set(DIALECTS) == {"duckdb", "spark"}
    # Spark reads "x" as an identifier and keeps backslashes in literals only with these.
    assert SPARK.session_settings["spark.sql.ansi.doubleQuotedIdentifiers"] == "true"
    assert SPARK.session_settings["spark.sql.parser.escapedStringLiterals"] == "true"
    assert DUCKDB.session_settings == {}


@pytest.mark.parametrize("d", [DUCKDB, SPARK], ids=lambda d: d.name)
def test_first_per_group_keeps_one_row_per_partition(d):
    sql = d.first_per_group(["o.k", "o.v"], "t o", "o.k", "o.v DESC")
    if d.supports_qualify:
        assert "QUALIFY" in sql
    else:  # an outer query that can only name the inner query's output columns
        assert sql.startswith("SELECT k, v FROM (SELECT o.k, o.v, row_number()") and "QUALIFY" not in sql
    con = duckdb.connect()  # both forms are plain SQL DuckDB also runs
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES (1, 5), (1, 7), (2, 3)) AS x(k, v)")
    assert sorted(con.execute(sql.replace("monotonically_increasing_id()", "1")).fetchall()) == [(1, 7), (2, 3)]


def test_joins_need_exactly_one_condition():
    with pytest.raises(ValueError):
        DUCKDB.anti_join("t")
    with pytest.raises(ValueError):
        SPARK.semi_join("t", on="a = b", using="a")


def test_ordered_key_orders_like_its_terms_in_both_spellings():
    # Golden profiles pick records by Dialect.ordered_key: DuckDB packs the terms into one
    # HUGEINT, the base spelling (Spark's) is a struct of (is NULL, value or -value) pairs.
    from idr.sql.dialects import Dialect, OrderTerm

    rng = random.Random(7)
    t0 = 1_700_000_000_000_000
    rows = [(i, rng.choice([None, 0, 1, 2, 255]), rng.choice([None, t0, t0 + 1, -t0, 0]), rng.randint(1, 50))
            for i in range(400)]
    con = duckdb.connect()
    con.execute("CREATE TABLE t (i INTEGER, n BIGINT, ts TIMESTAMP, tb BIGINT)")
    con.executemany("INSERT INTO t VALUES (?, ?, make_timestamp(?), ?)", rows)
    terms = [OrderTerm("n", 8, descending=True), OrderTerm("ts", 64, descending=True, signed=True, epoch=True),
             OrderTerm("tb", 32)]

    def expected_key(r):
        _, n, us, tb = r  # NULLs last in either direction
        return (n is None, -(n or 0), us is None, -(us or 0), tb)

    want = [r[0] for r in sorted(rows, key=lambda r: (expected_key(r), r[0]))]
    for key in (DUCKDB.ordered_key(terms), Dialect.ordered_key(DUCKDB, terms)):
        got = [i for (i,) in con.execute(f"SELECT i FROM t ORDER BY {key}, i").fetchall()]
        assert got == want, key
    assert "HUGEINT" in DUCKDB.ordered_key(terms) and SPARK.ordered_key(terms).startswith("struct(")
