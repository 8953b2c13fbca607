"""Fixtures for the metrics tests: one base database with a real run, copied per test."""

from __future__ import annotations

from idr_testing import copy_db

import pytest

from metrics_testing import build_db, recorded_run


@pytest.fixture(scope="session")
def base_db(tmp_path_factory):
    """A database after one real FULL run with its metrics recorded, and that run's id."""
    path = tmp_path_factory.mktemp("metrics") / "base.duckdb"
    build_db(path)
    return path, recorded_run(path)


@pytest.fixture
def db(base_db, tmp_path):
    """A private copy of the base database: (path, run_id of its successful run)."""
    path = tmp_path / "idr.duckdb"
    copy_db(base_db[0], path)
    return path, base_db[1]
