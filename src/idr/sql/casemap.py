"""Lower and upper case one code point at a time, exactly as DuckDB's lower() and upper().

Engines disagree beyond ASCII: Java (Spark) maps 'İ' to two code points and a final 'Σ' to
'ς', Python's str.lower() does the first too; DuckDB maps each code point on its own. idr's
normalised values are DuckDB's, so other engines (Spark: a translate() over the table) and
the lookup service (normalize/values.py) map non-ASCII text with DuckDB's own table, read
once per process (about 3,000 code points change case; ~0.3 s).
"""

from __future__ import annotations

from functools import cache


@cache
def tables() -> tuple[dict[int, str], dict[int, str]]:
    """(lower, upper): code point -> its image, for the code points that change (Spark
    uses them whole, as translate() tables: backends/spark.py)."""
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        rows = con.execute(
            "SELECT i, lower(c), upper(c) FROM (SELECT i, chr(i) AS c FROM ("
            "SELECT CAST(i AS INTEGER) AS i FROM range(1, 1114112) r(i) "
            "WHERE i < 55296 OR i > 57343)) WHERE lower(c) <> c OR upper(c) <> c").fetchall()
    finally:
        con.close()
    return ({i: lo for i, lo, _ in rows if lo != chr(i)}, {i: up for i, _, up in rows if up != chr(i)})


def lower(value: str) -> str:
    return value.lower() if value.isascii() else value.translate(tables()[0])


def upper(value: str) -> str:
    return value.upper() if value.isascii() else value.translate(tables()[1])


def load() -> None:
    """Read DuckDB's table now (0.24 s wall measured) rather than in the first call with a
    non-ASCII value, e.g. inside a lookup service request."""
    tables()
