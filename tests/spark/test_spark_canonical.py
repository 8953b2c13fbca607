"""Every canonicaliser cleans, validates and keys placeholders the same on Spark as on
DuckDB, on values where the engines' own functions differ: case beyond ASCII (Java maps 'İ'
to two code points and a final 'Σ' to 'ς'), a NUL before non-ASCII text (DuckDB's
nfc_normalize stopped there), a vertical tab (in Java's \\s, not in RE2's), combining marks
(composed by ICU on Spark), code points beyond the BMP, NFC exclusions (U+0958 stays
decomposed)."""

from __future__ import annotations

import duckdb
import pytest

from idr.normalize.canonical import CLEAN_SQL, clean_sql, placeholder_key_sql, valid_sql
from idr.sql.dialects import DUCKDB, SPARK

pytestmark = pytest.mark.spark

VALUES = ["İ", "ΑΣ", "ΟΔΥΣΣΕΥΣ@X.GR", "ß", "ẞ", "ǅ", "\x00İ", "İ\x00a@b.co", "a\x0bb@x.com", " Jane@X.COM ",
          "É\u0301", "e\u0301@x.com", "\u212b@x.io", "ﬁ@x.io", "ŉ", "ǰ", "\xa0a@b.co\xa0", "plain@example.com",
          "J.Doe+tag@GoogleMail.com", "(415) 555-0100", "", " ", "N/A", "A\u030a@x.se", "\u1100\u1161@x.kr",
          "e\u0323\u0302@x.vn", "\U0001d400@x.io", "\U00010400@x.io", "\u0958@x.in", "\u2126@x.io"]


def _query(d, canon: str) -> str:
    valid = valid_sql(canon, "c", d=d) or "TRUE"
    return (f"SELECT i, c, {valid} AS ok, {placeholder_key_sql('c', d)} AS ph_key "
            f"FROM (SELECT i, {clean_sql(canon, 'v', d=d)} AS c FROM idr_vals) AS t ORDER BY i")


@pytest.mark.parametrize("canon", sorted(CLEAN_SQL))
def test_spark_cleans_like_duckdb(spark_session, canon):
    rows = list(enumerate(VALUES))
    con = duckdb.connect()
    con.execute("CREATE TABLE idr_vals (i INTEGER, v VARCHAR)")
    con.executemany("INSERT INTO idr_vals VALUES (?, ?)", rows)
    want = con.execute(_query(DUCKDB, canon)).fetchall()
    spark_session.createDataFrame(rows, "i INT, v STRING").createOrReplaceTempView("idr_vals")
    got = [tuple(r) for r in spark_session.sql(_query(SPARK, canon)).collect()]
    assert got == want
