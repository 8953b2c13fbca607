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


__all__ = ["Backend", "as_backend"]
