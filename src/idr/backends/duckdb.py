"""DuckDB backend: opening the database file with clear errors, transactions, Arrow.

DuckDB lets one process open a file for writing; that lock is what makes "one run at a
time per database" hold across processes, so a run keeps its connection for its whole life.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from pathlib import Path

import duckdb

from ..errors import InputError, LockedError

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


def one_row(con, sql: str, params=None) -> tuple | None:
    """First row of a query. Reads the whole result: DuckDB 2 keeps a connection busy
    until a result is drained, so a bare fetchone() would block the next statement."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else None


def scalar(con, sql: str, params=None):
    row = one_row(con, sql, params)
    return None if row is None else row[0]


def small_temp_table(con, name: str, columns: dict[str, str], rows: list[tuple]) -> None:
    """A temp table of a few configuration rows, filled with bound parameters so the
    values (identifier types, patterns, placeholders) never become SQL text. `name` and
    `columns` are idr's own identifiers and types."""
    cols = ", ".join(f"{c} {t}" for c, t in columns.items())
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} ({cols})")
    if rows:
        con.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' for _ in columns)})", [list(r) for r in rows])
