"""Shared fixtures for tests/ and benchmarks/. Helpers live in tests/idr_testing.py (importable: pytest pythonpath).

`engine` is the engine under test: behaviour tests take it (directly, through db_path or
with `pytestmark = pytest.mark.usefixtures("engine")`) and run on DuckDB. Tests marked
`on_spark` run on Spark (local[2]) too, as the `spark` marker's items: Spark costs seconds
per run, so the tests that prove its answers are chosen, not all (docs/spark.md). CI runs
them; `-m "not spark"` leaves them out."""

import os
from pathlib import Path

import pytest

import idr_testing

ENGINES = {"duckdb": idr_testing.Engine, "spark": idr_testing.SparkEngine}


@pytest.fixture(scope="session", params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def engine(request):
    """The engine under test; idr_testing's helpers (and idr.run, through IDR_ENGINE) use
    it while it is active."""
    previous, saved = idr_testing.ENGINE, {k: os.environ.get(k) for k in idr_testing.SparkEngine.ENV}
    idr_testing.ENGINE = ENGINES[request.param]()
    if request.param == "spark":
        os.environ.update(idr_testing.SparkEngine.ENV)
    yield idr_testing.ENGINE
    idr_testing.ENGINE = previous
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def pytest_collection_modifyitems(config, items):
    """Spark items only for tests marked on_spark (or living in tests/spark)."""
    kept, dropped = [], []
    for item in items:
        spark = getattr(item, "callspec", None) is not None and item.callspec.params.get("engine") == "spark"
        (dropped if spark and item.get_closest_marker("on_spark") is None else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(autouse=True)
def spark_only_where_asked(request, monkeypatch):
    """The session-scoped `engine` stays on Spark until pytest tears it down, which can be
    after tests that do not ask for it: those must run on DuckDB, not inherit IDR_ENGINE
    (their child processes would run on Spark) or idr_testing.ENGINE."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("engine") == "spark":
        return
    for key in idr_testing.SparkEngine.ENV:
        monkeypatch.delenv(key, raising=False)
    if isinstance(idr_testing.ENGINE, idr_testing.SparkEngine):
        monkeypatch.setattr(idr_testing, "ENGINE", idr_testing.Engine())


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
