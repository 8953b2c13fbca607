"""Shared fixtures. Helpers live in idr_testing.py (importable: pytest pythonpath)."""

from pathlib import Path

import pytest


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "idr.duckdb"
