"""sql/casemap.py maps case exactly as DuckDB's lower() and upper(), on any text."""

from __future__ import annotations

import duckdb
from hypothesis import example, given, settings, strategies as st

from idr.sql.casemap import lower, upper


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(st.characters(exclude_categories=("Cs",)), max_size=12), min_size=1, max_size=40))
@example(["İ", "ΑΣ", "ß", "ẞ", "ǅ", "ŉ", "ǰ", "\u212b", "ﬁ", "abc", "\x00İ"])
def test_case_maps_like_duckdb(values):
    con = duckdb.connect()
    got = con.execute("SELECT list(lower(v) ORDER BY i), list(upper(v) ORDER BY i) FROM "
                      "(SELECT unnest($v) AS v, generate_subscripts($v, 1) AS i)", {"v": values}).fetchall()[0]
    assert [lower(v) for v in values] == got[0]
    assert [upper(v) for v in values] == got[1]
