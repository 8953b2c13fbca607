"""Open a database that a run may be holding: wait for its lock, with a time limit.

A run keeps DuckDB's write lock on the file for its whole life and DuckDB lets no other
process open the file meanwhile, not even read-only. Commands that must work on a
schedule next to runs (backups, `idr doctor`) therefore retry the open with exponential
backoff and jitter until the lock is free or the wait is over. Only a busy lock is
retried: a missing file or a file that is not a database fails at once.
"""

from __future__ import annotations

from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential_jitter

from ..backends.duckdb import open_database
from ..errors import LockedError

# Polls start quickly (a run at demo size takes a second) and back off to 5 s.
FIRST_POLL_SECONDS = 0.2
LONGEST_POLL_SECONDS = 5.0


def open_when_free(db, wait_seconds: float, *, read_only: bool = False, create: bool = False):
    """open_database(db), retried while another process holds the lock, for up to
    `wait_seconds` (0: one try). LockedError when the lock is still held then."""
    retrying = Retrying(
        retry=retry_if_exception_type(LockedError),
        stop=stop_after_delay(max(wait_seconds, 0)),
        wait=wait_exponential_jitter(multiplier=FIRST_POLL_SECONDS, max=LONGEST_POLL_SECONDS, jitter=FIRST_POLL_SECONDS),
        reraise=True,
    )
    try:
        return retrying(open_database, db, create=create, read_only=read_only)
    except LockedError as e:
        if wait_seconds > 0:
            raise LockedError(f"{e} (waited {wait_seconds:g} s; try again later or raise --wait)") from None
        raise
