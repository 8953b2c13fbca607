"""What every Backend must do (backends/base.py), checked on the engine under test: a new
engine passes these before the pipeline tests are worth running on it."""

from __future__ import annotations

import pyarrow as pa
import pytest

from idr.errors import IdrError


def test_materialise_view_drop(backend):
    backend.materialise("t1", "SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS v(k, s)")
    backend.view("v1", "SELECT k * 10 AS k10 FROM t1")
    assert sorted(backend.rows("SELECT k10 FROM v1")) == [(10,), (20,)]
    backend.materialise("t1", "SELECT k + 1 AS k FROM t1")  # replaced by a SELECT reading it
    assert sorted(backend.rows("SELECT k FROM t1")) == [(2,), (3,)]
    backend.drop("v1", view=True)
    backend.drop("t1", "never_made")
    assert ("main", "t1") not in backend.tables(["main", "temp"])
    with pytest.raises(Exception):
        backend.rows("SELECT * FROM t1")


def test_parameters_are_bound_by_name_and_position(backend):
    nasty = "x'); DROP TABLE t; --"
    assert backend.scalar(f"SELECT {backend.dialect.param('v')} || '!'", {"v": nasty}) == nasty + "!"
    assert backend.one("SELECT ?, ?", [1, nasty]) == (1, nasty)
    assert backend.count("SELECT count(*) FROM (VALUES (1), (2)) AS v(x) WHERE x > ?", [1]) == 1


def test_small_and_empty_relations_keep_values_as_data(backend):
    backend.small_relation("cfg", {"k": "INTEGER", "v": "VARCHAR"}, [(1, "it's"), (2, "%_")])
    backend.empty_relation("nothing", {"a": "BIGINT", "b": "BOOLEAN"})
    assert backend.rows("SELECT k, v FROM cfg ORDER BY k") == [(1, "it's"), (2, "%_")]
    assert backend.rows("SELECT * FROM nothing") == []
    assert [c for c, _ in backend.describe("SELECT * FROM nothing")] == ["a", "b"]


def test_number_rows_is_dense(backend):
    backend.number_rows("n1", "SELECT * FROM (VALUES ('b'), ('a'), ('c')) AS v(s)", "i", order_by="s", start=5)
    assert backend.rows("SELECT s, i FROM n1 ORDER BY i") == [("a", 5), ("b", 6), ("c", 7)]
    backend.number_rows("n2", "SELECT * FROM range(1000) AS r(x)", "i", start=0)
    assert backend.one("SELECT min(i), max(i), count(DISTINCT i) FROM n2") == (0, 999, 1000)


def test_arrow_in_and_out(backend):
    table = pa.table({"node": pa.array([0, 1, 2], pa.int64()), "label": ["x", "y", None]})
    backend.from_arrow("arrow_in", table)
    assert backend.to_arrow("SELECT * FROM arrow_in ORDER BY node").equals(table)
    cols = backend.to_numpy("SELECT node FROM arrow_in ORDER BY node")
    assert list(cols["node"]) == [0, 1, 2]
    backend.release_arrow("arrow_in")
    backend.release_arrow("arrow_in")  # no error the second time


def test_transaction_is_all_or_nothing(backend):
    backend.run("CREATE TABLE kept (x INTEGER)")
    with pytest.raises(RuntimeError):
        with backend.transaction():
            backend.run("INSERT INTO kept VALUES (1)")
            raise RuntimeError("boom")
    assert backend.rows("SELECT * FROM kept") == []
    with backend.transaction():
        backend.run_many("INSERT INTO kept VALUES (?)", [[1], [2]])
    assert backend.count("SELECT count(*) FROM kept") == 2
    assert backend.insert("INSERT INTO kept SELECT x + 10 FROM kept") == 2
    assert backend.delete("DELETE FROM kept WHERE x > ?", [10]) == 2
    assert backend.delete("DELETE FROM kept WHERE x > 100") == 0
    assert ("main", "kept") in backend.tables(["main"])
    assert ("main", "kept", "x") in backend.columns(["main"])


def test_engine_errors_are_translated_or_passed_through(backend):
    try:
        backend.rows("SELECT * FROM no_such_table")
    except Exception as e:  # noqa: BLE001 - whatever the engine raises
        translated = backend.translate_error(e)
        assert translated is e or isinstance(translated, IdrError)
        assert not backend.is_interrupt(e)
    else:
        pytest.fail("a missing table must raise")
    assert backend.is_interrupt(RuntimeError("Query interrupted")) is (backend.name == "duckdb")
