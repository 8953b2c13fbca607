"""The Spark golden SQL (tests/sql/golden/spark.sql) is not only pinned but valid: every
builder's Spark text is parsed and analysed by Spark against typed relations (names,
types, functions, parameters), as test_golden.py runs the DuckDB text on DuckDB. An
INSERT's SELECT is what Spark runs (the state store does the insert: docs/spark.md)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from idr.schema import TABLES, views
from idr.sql.dialects import SPARK

sys.path.insert(0, str(Path(__file__).parents[1] / "sql"))  # the golden test's own helpers, as it imports them
from builders import BUILDERS  # noqa: E402
from test_golden import PARAMS, RELATIONS, VIEWS, _read  # noqa: E402

pytestmark = pytest.mark.spark

_INSERT = re.compile(r"^INSERT INTO \S+\s*(\([^)]*\))?\s*", re.S)


def spark_type(duckdb_type: str) -> str:
    t = duckdb_type.split(" DEFAULT")[0].replace(" NOT NULL", "").replace(" PRIMARY KEY", "").strip()
    if t.endswith("[]"):
        return f"ARRAY<{spark_type(t[:-2])}>"
    return {"VARCHAR": "STRING", "HUGEINT": "DECIMAL(38,0)"}.get(t, t)


def _columns(spec: str) -> list[tuple[str, str]]:
    return [tuple(c.strip().split(" ", 1)) for c in spec.split(",")]


@pytest.fixture(scope="module")
def session(spark_session):
    for name, spec in RELATIONS.items():
        if name.startswith("idr_src_"):  # a source copy carries its row numbers (SparkDialect.row_position)
            spec += f", {SPARK.row_position()} BIGINT"
        schema = ", ".join(f"`{c}` {spark_type(t)}" for c, t in _columns(spec))
        spark_session.createDataFrame([], schema).createOrReplaceTempView(name)
    for name, sql in VIEWS.items():
        spark_session.sql(sql).createOrReplaceTempView(name)
    # idr_out / idr_meta as empty views with schema.py's columns (views: a Spark run's
    # snapshot views of the same names replace them).
    for schema in ("idr_out", "idr_meta"):
        spark_session.sql(f"CREATE DATABASE IF NOT EXISTS {schema}")
    for (schema, table), cols in TABLES.items():
        select = ", ".join(f"CAST(NULL AS {spark_type(t)}) AS `{c}`" for c, t in cols)
        spark_session.sql(f"CREATE OR REPLACE VIEW {schema}.`{table}` AS SELECT {select} WHERE FALSE")
    for (schema, view), sql in views(SPARK).items():
        spark_session.sql(f"CREATE OR REPLACE VIEW {schema}.`{view}` AS {sql}")
    return spark_session


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_spark_golden_sql_is_valid_spark(session, name):
    sql = _INSERT.sub("", _read("spark")[name], count=1)
    used = {k: v for k, v in PARAMS.items() if re.search(rf":{k}\b", sql)}
    for key, value in SPARK.session_settings.items():
        assert session.conf.get(key) == value
    session.sql(sql, args=used or None).schema  # parsed and analysed: every name, type and function resolved
