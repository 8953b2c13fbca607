"""DuckDB backend: the embedded engine, one database file, one writer at a time.

DuckDB lets one process open a file for writing; that lock is what makes "one run at a
time per database" hold across processes, so a run keeps its connection for its whole life.
Session relations are temp tables; a new temp table's rowids are its dense row numbers.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from pathlib import Path

import duckdb

from ..errors import ConfigError, IdrError, InputError, LockedError
from ..sql.dialects import DUCKDB
from ..sql.quoting import ident, literal
from .base import Backend, Params

_LOCK_PID = re.compile(r"PID (\d+)")


def open_database(path: str | os.PathLike, *, create: bool = True, read_only: bool = False):
    """Open (or create) a DuckDB database file, translating DuckDB's errors into ours."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"--db {p}: is a directory, expected a DuckDB database file")
    if not p.exists() and not create:
        from ..hints import idr_command

        raise InputError(f"--db {p}: no such database (run `{idr_command('init', db=p)}` first)")
    if not p.exists() and not p.parent.exists():
        raise InputError(f"--db {p}: directory {p.parent} does not exist")
    try:
        con = duckdb.connect(str(p), read_only=read_only)
    except duckdb.IOException as e:
        msg = str(e)
        if "lock" in msg.lower():
            m = _LOCK_PID.search(msg)
            who = f" (process {m.group(1)})" if m else ""
            raise LockedError(
                f"--db {p}: the database is in use by another process{who}; "
                "only one idr run (or other writer) can use a database at a time"
            ) from None
        raise InputError(f"--db {p}: not a readable DuckDB database ({_first_line(msg)})") from None
    except duckdb.Error as e:
        raise InputError(f"--db {p}: cannot open as a DuckDB database ({_first_line(str(e))})") from None
    # Every timestamp idr writes is UTC, including column defaults such as current_timestamp.
    con.execute("SET TimeZone = 'UTC'")
    return con


def _first_line(msg: str) -> str:
    return msg.strip().splitlines()[0] if msg.strip() else msg


@contextmanager
def transaction(con):
    """All-or-nothing: commit on success, roll back on any exception (incl. KeyboardInterrupt)."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    else:
        con.execute("COMMIT")


def _args(params: Params):
    return [] if params is None else params


class DuckDBBackend(Backend):
    name = "duckdb"
    dialect = DUCKDB

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    @classmethod
    def open(cls, path, *, create: bool = True, read_only: bool = False) -> DuckDBBackend:
        return cls(open_database(path, create=create, read_only=read_only))

    # -- relations ------------------------------------------------------------------
    def materialise(self, name, select, params=None):
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {select}", _args(params))

    def view(self, name, select, params=None):
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {select}", _args(params))

    def create_table(self, name, select, params=None):
        self.con.execute(f"CREATE TABLE {name} AS {select}", _args(params))

    def drop(self, *names, view: bool = False):
        kind = "VIEW" if view else "TABLE"
        for name in names:
            self.con.execute(f"DROP {kind} IF EXISTS {name}")

    def empty_relation(self, name, columns):
        cols = ", ".join(f"{c} {self.dialect.types[t]}" for c, t in columns.items())
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} ({cols})")

    def small_relation(self, name, columns, rows):
        self.empty_relation(name, columns)
        if rows:
            self.con.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' for _ in columns)})",
                                 [list(r) for r in rows])

    def number_rows(self, name, select, column, *, order_by=None, start=0, params=None):
        over = f"ORDER BY {order_by}" if order_by else ""
        self.materialise(name, f"SELECT *, {int(start)} + row_number() OVER ({over}) - 1 AS {column} "
                               f"FROM ({select}) AS idr_n", params)

    # -- statements and results -----------------------------------------------------------
    def run(self, sql, params=None):
        self.con.execute(sql, _args(params))

    def insert(self, sql, params=None):
        return self._changed(sql, params)

    def delete(self, sql, params=None):
        return self._changed(sql, params)

    def _changed(self, sql, params):
        got = self.con.execute(sql, _args(params)).fetchall()  # DuckDB answers with the row count
        return int(got[0][0]) if got else 0

    def run_many(self, sql, rows):
        rows = [list(r) for r in rows]
        if rows:
            self.con.executemany(sql, rows)

    def rows(self, sql, params=None):
        # Read the whole result: DuckDB 2 keeps a connection busy until a result is drained.
        return self.con.execute(sql, _args(params)).fetchall()

    # -- Arrow ------------------------------------------------------------------------------
    def to_arrow(self, sql, params=None):
        if params is None:  # a relation converts without the extra copy a DB-API result makes
            return self.con.sql(sql).to_arrow_table()
        return self.con.execute(sql, _args(params)).to_arrow_table()

    def to_numpy(self, sql, params=None):
        return self.con.execute(sql, _args(params)).fetchnumpy()

    def from_arrow(self, name, table):
        self.con.unregister(name)
        # A temp table of that name (an SQL-strategy run's) would shadow the Arrow view.
        self.con.execute(f"DROP TABLE IF EXISTS temp.main.{ident(name)}")
        self.con.register(name, table)

    def release_arrow(self, name):
        self.con.unregister(name)

    def map_values(self, name, select, fn, params=None):
        values = [r[0] for r in self.rows(select, params)]
        self.from_columns(name, {"value": ("VARCHAR", values), "result": ("VARCHAR", fn(values))})

    def from_columns(self, name, columns):
        # Python lists bound as LIST parameters and unnested side by side: no pyarrow, numpy
        # or pandas to import (pyarrow.array() of a list imports pandas: 0.2 s of a small run).
        cols = ", ".join(f"unnest(${i + 1}::{t}[]) AS {ident(c)}" for i, (c, (t, _)) in enumerate(columns.items()))
        self.materialise(name, f"SELECT {cols}", [list(v) for _, v in columns.values()])

    @staticmethod
    def source_file(reader, path):
        # CSV values are read as text: type sniffing would turn '1.0' and '1' into the same number.
        return f"read_csv({literal(path)}, all_varchar = true)" if reader == "csv" else f"read_parquet({literal(path)})"

    # -- catalogue ----------------------------------------------------------------------------
    def describe(self, select):
        return [(r[0], r[1]) for r in self.con.execute(f"DESCRIBE {select}").fetchall()]

    def tables(self, schemas):
        return {(s, t): k for s, t, k in self.rows(
            "SELECT table_schema, table_name, table_type FROM information_schema.tables "
            f"WHERE table_schema IN ({', '.join('?' for _ in schemas)})", list(schemas))}

    def columns(self, schemas):
        return set(self.rows(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            f"WHERE table_schema IN ({', '.join('?' for _ in schemas)})", list(schemas)))

    # -- lifecycle ----------------------------------------------------------------------------
    def transaction(self):
        return transaction(self.con)

    def folder(self):
        rows = self.con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
                                ).fetchall()
        return Path(rows[0][0]).parent if rows and rows[0][0] else None

    def tune_for_run(self, mode, memory_limit):
        self.con.execute("SET preserve_insertion_order = false")
        if mode == "INCR":
            # INCR's many small temp tables trip DuckDB's automatic checkpoint, which then
            # rewrites tables that die with the run (0.3-0.7 s at 10M records, measured); the
            # file is checkpointed when the run closes it. FULL never trips it mid-run, and
            # without it peaks ~50 MiB lower (measured), so FULL keeps the default.
            self.con.execute("SET checkpoint_threshold = '1TB'")
        if memory_limit:
            # SET takes no parameters; the value was validated as a size and is quoted anyway.
            try:
                self.con.execute(f"SET memory_limit = {literal(memory_limit)}")
            except duckdb.Error as e:
                raise ConfigError(f"idr_meta.config memory_limit={memory_limit!r}: "
                                  f"{_first_line(str(e))}") from None

    def is_interrupt(self, error):
        # A signal that arrives while DuckDB executes a statement surfaces as DuckDB's own
        # "Query interrupted" error rather than as the exception Python raised.
        return isinstance(error, duckdb.InterruptException) or \
            (isinstance(error, RuntimeError) and str(error).strip() == "Query interrupted")

    def is_transient(self, error):
        # A file being replaced, a network share or object store that hiccuped. A lock held
        # by another process is also an IOException, but it is raised when opening, not here.
        return isinstance(error, (duckdb.IOException, duckdb.HTTPException))

    def translate_error(self, error):
        if isinstance(error, IdrError) or not isinstance(error, duckdb.Error):
            return error
        if isinstance(error, duckdb.IOException) and "lock" in str(error).lower():
            return LockedError(f"the database is in use by another process ({_first_line(str(error))})")
        return error

    def close(self):
        self.con.close()
