"""The one quoting module: names and literals as SQL text, for DuckDB and for Spark DDL."""

import pytest

from idr.errors import InvalidSqlText
from idr.sql.quoting import backticked, ident, literal, spark_literal


def test_duckdb_names_and_literals_double_their_quotes():
    assert ident('a"b') == '"a""b"'
    assert literal("it's") == "'it''s'"


def test_spark_names_double_their_backticks():
    assert backticked("first name") == "`first name`"
    assert backticked("a`b") == "`a``b`"
    with pytest.raises(InvalidSqlText):
        backticked("")


@pytest.mark.parametrize("value", ["it's", "C:\\data", "a\x00b"])
def test_spark_literals_refuse_what_sessions_read_differently(value):
    with pytest.raises(InvalidSqlText):
        spark_literal(value)


def test_spark_literals_keep_plain_text():
    assert spark_literal("run_20261205_224133_86b2f8") == "'run_20261205_224133_86b2f8'"
    assert spark_literal("/tmp/x y/idr.duckdb.idr/spark") == "'/tmp/x y/idr.duckdb.idr/spark'"
