"""The index built in a child process and mapped (index_process.py) is the index built in
the service's own process; a failing build names the error's type and leaves nothing behind."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from idr.api import index as index_mod
from idr.api.index_process import Builder
from idr.errors import InternalError
from idr.publish import layout


def test_child_build_equals_the_in_process_build(demo_source):
    before = set(Path(tempfile.gettempdir()).glob("idr-serve-index-*"))
    mapped, built = Builder().build(demo_source), index_mod.build(demo_source)
    assert set(vars(mapped)) == set(vars(built))
    for name, value in vars(built).items():
        other = getattr(mapped, name)
        if isinstance(value, np.ndarray):
            assert other.dtype == value.dtype and np.array_equal(other, value), name
        elif isinstance(value, (pa.Array, pa.Table)):
            assert type(other) is type(value) and other.equals(value), name
        elif name == "normaliser":
            assert other.rules == value.rules and other.placeholders == value.placeholders
        elif name != "build_seconds":
            assert other == value, name
    assert mapped.holders("EMAIL", "nobody@nowhere.example").size == 0
    assert set(Path(tempfile.gettempdir()).glob("idr-serve-index-*")) == before  # folders removed once mapped


def test_a_failed_child_build_raises_with_the_error_type_only(tmp_path):
    db = tmp_path / "idr.duckdb"
    layout.root(db).mkdir()
    (layout.root(db) / layout.POINTER).write_text("{not json secret-value")
    with pytest.raises(InternalError) as e:
        Builder().build(db)
    assert "exited with 1 (idr.errors.InputError)" in str(e.value) and "secret-value" not in str(e.value)
