"""Engines idr runs on, behind one interface (base.Backend); see docs/design/0001-engine-layer.md."""

from __future__ import annotations

from .base import Backend


def as_backend(db) -> Backend:
    """A Backend for `db`: a Backend as it is, or a DuckDB connection (tests and scripts
    that opened one themselves) wrapped in the DuckDB backend."""
    if isinstance(db, Backend):
        return db
    from .duckdb import DuckDBBackend

    return DuckDBBackend(db)


ENGINES = ("duckdb", "spark")


def open_backend(path, engine: str | None = None, *, create: bool = True, read_only: bool = False) -> Backend:
    """A backend on the database at `path` for `engine` (default: the IDR_ENGINE setting).
    Spark is imported only here, only when asked for."""
    from ..errors import InputError

    if engine is None:
        from ..settings import get_settings

        engine = get_settings().engine
    engine = engine.lower()
    if engine == "duckdb":
        from .duckdb import DuckDBBackend

        return DuckDBBackend.open(path, create=create, read_only=read_only)
    if engine == "spark":
        from .spark import SparkBackend

        return SparkBackend.open(path, create=create, read_only=read_only)
    raise InputError(f"--engine {engine!r}: expected one of {', '.join(ENGINES)}")


__all__ = ["Backend", "ENGINES", "as_backend", "open_backend"]
