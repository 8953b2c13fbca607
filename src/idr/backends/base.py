"""The engine interface: every statement idr sends to a SQL engine goes through a Backend.

Stages build SELECT text with the pure builders of idr.sql (rendered by the backend's
dialect) and hand it to these methods; they never touch an engine's connection. A new
engine is one module here (a Backend subclass) plus a Dialect in idr/sql/dialects.py
(docs/design/0001-engine-layer.md says what an engine must offer).

Relations a run makes are named, session-scoped and replaced whole: `materialise` stores
a SELECT's rows (DuckDB: a temp table; Spark: a temp view that is persisted), `view`
names a SELECT without storing it. Parameters are bound by name (`$name` in DuckDB text,
rendered by Dialect.param) or by position (`?`), never spliced.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

if TYPE_CHECKING:
    import pyarrow as pa

    from ..sql.dialects import Dialect

Params = dict[str, Any] | Sequence[Any] | None


class Backend(ABC):
    """One open session on one engine. Not thread-safe: one run, one backend."""

    #: engine name, recorded in run_history.config_fingerprint (an answer is only reused
    #: by INCR on the engine that produced it)
    name: str
    dialect: Dialect
    #: connected components strategy when the configuration names none (graph/components.py)
    components_strategy: str = "inprocess"

    # -- relations ------------------------------------------------------------------
    @abstractmethod
    def materialise(self, name: str, select: str, params: Params = None) -> None:
        """Store `select`'s rows as the session relation `name`, replacing any earlier one."""

    @abstractmethod
    def view(self, name: str, select: str, params: Params = None) -> None:
        """Name `select` (not stored) as the session relation `name`."""

    @abstractmethod
    def create_table(self, name: str, select: str, params: Params = None) -> None:
        """A persistent table (qualified `name`, already quoted) from `select`."""

    @abstractmethod
    def drop(self, *names: str) -> None:
        """Drop session relations (tables or views) if they exist."""

    @abstractmethod
    def empty_relation(self, name: str, columns: dict[str, str]) -> None:
        """A session relation with the given columns (portable type names) and no rows."""

    @abstractmethod
    def small_relation(self, name: str, columns: dict[str, str], rows: list[tuple]) -> None:
        """A session relation of a few rows (configuration), values bound as parameters."""

    @abstractmethod
    def number_rows(self, name: str, select: str, column: str, *, order_by: str | None = None,
                    start: int = 0, params: Params = None) -> None:
        """Materialise `select` with `column` = start, start+1, ... (dense, no gaps), in
        `order_by` order when given (otherwise any order the engine finds cheapest)."""

    # -- statements and results -------------------------------------------------------
    @abstractmethod
    def run(self, sql: str, params: Params = None) -> None:
        """A statement whose result is not read (INSERT, UPDATE, DELETE, DDL)."""

    @abstractmethod
    def insert(self, sql: str, params: Params = None) -> int:
        """An INSERT ... SELECT; returns the number of rows it wrote."""

    @abstractmethod
    def delete(self, sql: str, params: Params = None) -> int:
        """A DELETE; returns the number of rows it removed."""

    @abstractmethod
    def run_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """One statement with positional parameters, once per row."""

    @abstractmethod
    def rows(self, sql: str, params: Params = None) -> list[tuple]:
        """Every row of a query."""

    def one(self, sql: str, params: Params = None) -> tuple | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def scalar(self, sql: str, params: Params = None) -> Any:
        row = self.one(sql, params)
        return None if row is None else row[0]

    def count(self, sql: str, params: Params = None) -> int:
        return int(self.scalar(sql, params) or 0)

    # -- Arrow in and out ----------------------------------------------------------------
    @abstractmethod
    def to_arrow(self, sql: str, params: Params = None) -> pa.Table:
        """A query's result as an Arrow table."""

    @abstractmethod
    def to_numpy(self, sql: str, params: Params = None) -> dict:
        """A query's columns as numpy arrays (the in-process graph stage reads these)."""

    @abstractmethod
    def from_arrow(self, name: str, table: pa.Table) -> None:
        """Expose an Arrow table as the session relation `name` (replacing one of that name)."""

    def from_columns(self, name: str, columns: dict[str, tuple[str, list]]) -> None:
        """Session relation `name` from Python lists of equal length: {column: (DuckDB type
        name, values)}, for small results computed in this process."""
        import pyarrow as pa

        types = {"VARCHAR": pa.string(), "BIGINT": pa.int64(), "INTEGER": pa.int32()}
        arrow = f"{name}_arrow"
        self.from_arrow(arrow, pa.table({c: pa.array(v, types[t]) for c, (t, v) in columns.items()}))
        try:
            self.materialise(name, f"SELECT * FROM {arrow}")
        finally:
            self.release_arrow(arrow)

    @abstractmethod
    def release_arrow(self, name: str) -> None:
        """Forget a relation made by from_arrow (no error if there is none)."""

    @abstractmethod
    def map_values(self, name: str, select: str, fn: Callable[[list], list], params: Params = None) -> None:
        """Session relation `name`(value, result): `fn` (a picklable function from a list of
        strings to a list of strings or None) applied to the single column of `select`, in
        batches where the engine runs Python (DuckDB: this process; Spark: the executors)."""

    # -- catalogue ---------------------------------------------------------------------
    @abstractmethod
    def describe(self, select: str) -> list[tuple[str, str]]:
        """(column, engine type name) of a query's result, without running it."""

    @abstractmethod
    def tables(self, schemas: Sequence[str]) -> dict[tuple[str, str], str]:
        """(schema, name) -> 'BASE TABLE' or 'VIEW' for the given schemas."""

    @abstractmethod
    def columns(self, schemas: Sequence[str]) -> set[tuple[str, str, str]]:
        """(schema, table, column) of every table in the given schemas."""

    @abstractmethod
    def source_file(self, reader: str, path: str) -> str:
        """A relation (FROM-clause text) reading a source file; reader is "parquet" or
        "csv" (a header row, every value read as text)."""

    def folder(self) -> Path | None:
        """The folder that relative source paths (`data/crm.parquet`) are resolved against:
        the database file's; None for the current directory (no file)."""
        return None

    # -- where the state lives -----------------------------------------------------------
    def state(self) -> Backend:
        """The backend holding idr_meta and idr_out, where publishing, audit and dry-run
        bookkeeping run: this one, unless the engine keeps its state elsewhere (Spark)."""
        return self

    def hand_over(self) -> Backend:
        """After the stages: the backend the run publishes through, with every session
        relation the run still holds readable there (state(); for an engine whose state
        lives elsewhere, the relations are moved over first)."""
        return self

    def attach_snapshot(self, manifest: dict | None, derived: dict | None = None) -> None:
        """Make the published snapshot (publish/layout.py manifest) readable as idr_out.<table>
        inside this engine, where its tables do not live in the engine itself."""

    def shared_catalog(self):
        """The engine session whose catalog other processes read (Spark with a Hive
        metastore), where publishing registers the snapshot (publish/spark_catalog.py);
        None when the engine has none."""
        return None

    # -- lifecycle -----------------------------------------------------------------------
    @abstractmethod
    def transaction(self) -> AbstractContextManager:
        """All or nothing: the runner's publish step. Rolls back on any exception."""

    @abstractmethod
    def tune_for_run(self, mode: str, memory_limit: str | None) -> None:
        """Engine settings for one run (memory limit, checkpointing); InputError-family
        errors for a bad setting."""

    @abstractmethod
    def is_interrupt(self, error: BaseException) -> bool:
        """Whether `error` is the engine's way of reporting that a query was interrupted."""

    def is_transient(self, error: BaseException) -> bool:
        """Whether `error` may go away if the same statement is tried again (an I/O error
        reading a source); bad input never is. idr retries these (idr/retry.py)."""
        return False

    @abstractmethod
    def translate_error(self, error: BaseException) -> BaseException:
        """idr's error for an engine error where one applies; otherwise `error` itself."""

    @abstractmethod
    def close(self) -> None:
        """End the session (and release the database lock it holds)."""
