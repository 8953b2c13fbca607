import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'idr[serve]')")

from serve_testing import copy_db, demo_db  # noqa: E402


@pytest.fixture(scope="session")
def demo_source(tmp_path_factory):
    """One demo database for the session; tests that change it take `demo` (a copy)."""
    return demo_db(tmp_path_factory.mktemp("demo"))


@pytest.fixture
def demo(demo_source, tmp_path):
    return copy_db(demo_source, tmp_path / "db")
