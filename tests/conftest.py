"""Shared fixtures. Helpers live in idr_testing.py (importable: pytest pythonpath).

`engine` is the engine under test: behaviour tests take it (directly, through db_path or
with `pytestmark = pytest.mark.usefixtures("engine")`) and run once per engine in ENGINES.
DuckDB today; Spark joins with its backend (its own issue), behind a marker CI runs."""

from pathlib import Path

import pytest

import idr_testing

ENGINES = {"duckdb": idr_testing.Engine}


@pytest.fixture(scope="session", params=sorted(ENGINES))
def engine(request):
    """The engine under test; idr_testing's helpers use it while it is active."""
    previous = idr_testing.ENGINE
    idr_testing.ENGINE = ENGINES[request.param]()
    yield idr_testing.ENGINE
    idr_testing.ENGINE = previous


@pytest.fixture(autouse=True)
def fresh_settings():
    """Process settings are read once per process (idr.settings.get_settings); each test
    reads them anew, so an environment a test sets takes effect."""
    from idr.settings import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def db_path(tmp_path, engine) -> Path:
    return engine.database(tmp_path)


@pytest.fixture
def backend(db_path, engine):
    """An open backend on a fresh database of the engine under test."""
    b = engine.open(db_path)
    yield b
    b.close()
