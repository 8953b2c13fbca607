"""Removing old dry-run rows: automatically at the start of every run, or by hand.

Dry runs of a large FULL run write one row per changed entity; without expiry they would
pile up. Whole runs are removed (results and summary together), never a part of one, so
what remains is always complete. run_history keeps its DRY_RUN_COMPLETE rows: it is the
audit trail. The caller owns the transaction.
"""

from __future__ import annotations

from ..backends import as_backend
from dataclasses import dataclass
from datetime import timedelta

from ..errors import InputError
from ..pipeline.context import utcnow

# Every dry run with its age: runs whose summary row was deleted by hand still count.
RUNS_SQL = """
    SELECT run_id, max(created_at) AS created_at FROM (
        SELECT run_id, created_at FROM idr_out.dry_run_summary
        UNION ALL
        SELECT run_id, max(created_at) FROM idr_out.dry_run_results GROUP BY run_id)
    GROUP BY run_id
    ORDER BY created_at DESC NULLS LAST, run_id DESC
"""


@dataclass(frozen=True)
class Cleanup:
    run_ids: tuple[str, ...]
    rows: int  # rows removed from dry_run_results and dry_run_summary together


def select_runs(db, older_than_days: float | None = None, run_id: str | None = None,
                keep_last: int | None = None) -> list[str]:
    """Dry runs matching every given filter; keep_last protects the N most recent runs."""
    db = as_backend(db)
    if older_than_days is None and run_id is None and keep_last is None:
        raise InputError("say which dry runs to remove: --older-than DAYS, --run-id ID and/or --keep-last N")
    if older_than_days is not None and older_than_days < 0:
        raise InputError(f"--older-than {older_than_days}: must be zero or more days")
    if keep_last is not None and keep_last < 0:
        raise InputError(f"--keep-last {keep_last}: must be zero or more")
    runs = db.rows(RUNS_SQL)  # newest first
    cutoff = None if older_than_days is None else utcnow() - timedelta(days=older_than_days)
    chosen = []
    for position, (rid, created_at) in enumerate(runs):
        if keep_last is not None and position < keep_last:
            continue
        if run_id is not None and rid != run_id:
            continue
        if cutoff is not None and not (created_at is None or created_at < cutoff):
            continue
        chosen.append(rid)
    return chosen


def remove_runs(db, run_ids: list[str]) -> int:
    """Delete the rows of these runs from both tables; returns how many rows went."""
    db = as_backend(db)
    if not run_ids:
        return 0
    rows = 0
    db.small_relation("idr_dr_cleanup", {"run_id": "VARCHAR"}, [(r,) for r in run_ids])
    try:
        for table in ("dry_run_results", "dry_run_summary", "dry_run_bridges"):
            got = db.delete(f"DELETE FROM idr_out.{table} WHERE run_id IN (SELECT run_id FROM idr_dr_cleanup)")
            if table != "dry_run_bridges":  # the count is of the two tables users know (docs/dry-run.md)
                rows += got
    finally:
        db.drop("idr_dr_cleanup")
    return rows


def cleanup_runs(db, older_than_days: float | None = None, run_id: str | None = None,
                 keep_last: int | None = None) -> Cleanup:
    run_ids = select_runs(db, older_than_days, run_id, keep_last)
    return Cleanup(tuple(run_ids), remove_runs(db, run_ids))


def cleanup(db, older_than_days: float | None = None, run_id: str | None = None,
            keep_last: int | None = None) -> int:
    """Remove the dry runs matching every given filter; returns the number of rows removed."""
    return cleanup_runs(db, older_than_days, run_id, keep_last).rows


def cleanup_expired(db, retention_days: int) -> int:
    """Start-of-run expiry: remove dry runs older than `dry_run_retention_days`."""
    return cleanup(db, older_than_days=retention_days)
