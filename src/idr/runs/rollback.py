"""What `idr rollback --to RUN_ID` needs, kept per published run.

The published state (idr_out.*_current) lives in snapshots (publish/): a rollback switches
the database's views and the readers' pointer back to the target run's snapshot, kept on
disk for the last `rollback_retention_runs` published runs. What lives in the database
file itself is the watermarks (idr_meta.run_state): when a run publishes, its previous
rows are copied to `idr_out.run_state__before_<run_id>` (a few rows). Undoing runs newest
first puts the watermarks back as they were after the target run. Older before-tables are
dropped when a run publishes.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..hints import idr_command
from ..publish import layout
from ..sql.quoting import ident, qualified
from .state import PUBLISHED

# (schema, table, column holding the id of the run that wrote the row): what rollback
# restores from before-tables. The published state tables are restored from snapshots.
STATE_TABLES = (
    ("idr_meta", "run_state", "last_run_id"),
)
SEPARATOR = "__before_"


def before_table(table: str, run_id: str) -> str:
    return qualified("idr_out", f"{table}{SEPARATOR}{run_id}")


def save_run_state(db, run_id: str) -> None:
    """run_state is small: its before-table is a plain copy, for FULL and INCR alike."""
    db.create_table(before_table("run_state", run_id), "SELECT * FROM idr_meta.run_state")


def _before_tables(db) -> dict[str, list[str]]:
    """run_id -> before-tables that exist for it."""
    out: dict[str, list[str]] = {}
    for schema, name in sorted(db.tables(("idr_out",))):
        if SEPARATOR in name:
            out.setdefault(name.split(SEPARATOR, 1)[1], []).append(name)
    return out


def published_chain(db) -> list[tuple[str, str]]:
    """(run_id, run_mode) of published runs not rolled back, newest first."""
    return db.rows(
        "SELECT run_id, run_mode FROM idr_out.run_history WHERE run_mode IN ('FULL', 'INCR') "
        f"AND status IN {PUBLISHED} AND rolled_back_by IS NULL ORDER BY started_at DESC, run_id DESC")


def prune(db, retention: int, current: str) -> None:
    """Drop before-tables no rollback within the window can need. The window is the
    current run and the retention-1 published runs before it; reaching the oldest of them
    undoes the current run and the retention-2 runs between."""
    keep = {current} | {r for r, _ in published_chain(db)[:max(retention - 2, 0)]}
    for run_id, tables in _before_tables(db).items():
        if run_id not in keep or retention <= 1:
            for name in tables:
                db.run(f"DROP TABLE {qualified('idr_out', name)}")


def check_target(db, target: str, retention: int, path: str) -> list[str]:
    """The runs to undo (newest first) to return to `target`; InputError if it cannot be."""
    row = db.rows("SELECT run_mode, status, rolled_back_by FROM idr_out.run_history WHERE run_id = ?", [target])
    if not row:
        raise InputError(f"--to {target}: no such run in idr_out.run_history (see `{idr_command('runs', db=path)}`)")
    mode, status, rolled_back_by = row[0]
    if status == "DRY_RUN_COMPLETE":
        raise InputError(f"--to {target}: a dry run published nothing, so there is nothing to return to")
    if status not in PUBLISHED or mode not in ("FULL", "INCR"):
        raise InputError(f"--to {target}: run has status {status} (mode {mode}); only published runs "
                         "(SUCCESS or SUCCESS_WITH_WARNINGS) can be rolled back to")
    if rolled_back_by:
        raise InputError(f"--to {target}: this run was itself undone by {rolled_back_by}")
    chain = [r for r, _ in published_chain(db)]
    window = chain[:retention]
    if target not in window:
        raise InputError(f"--to {target}: outside the rollback window; the last {retention} published runs "
                         f"(rollback_retention_runs) are: {', '.join(window)}")
    undo = chain[:chain.index(target)]
    have = _before_tables(db)

    def saved(run_id: str) -> bool:
        return all(f"{t}{SEPARATOR}{run_id}" in have.get(run_id, []) for _, t, _ in STATE_TABLES)

    # Runs whose saved state is gone (pruned before earlier rollbacks shortened the chain,
    # or kept by an idr version with another layout) cannot be undone.
    reachable = [chain[0]]
    for run_id, older in zip(window, window[1:]):
        if not saved(run_id):
            break
        reachable.append(older)
    if target not in reachable:
        gone = next(r for r in undo if not saved(r))
        raise InputError(f"--to {target}: the state run {gone} replaced is no longer kept (pruned, or saved by an "
                         f"older idr version), so it cannot be undone exactly; runs you can roll back to: "
                         f"{', '.join(reachable)}")
    if undo:
        try:
            layout.read_manifest(Path(path), target)
        except InputError as e:
            raise InputError(f"--to {target}: its published snapshot cannot be read, so it cannot be restored "
                             f"exactly ({e})") from None
    return undo


def undo_runs(db, undo: list[str]) -> None:
    """Undo the given runs' watermarks, newest first (the state tables switch with the
    snapshot). The caller owns the transaction.

    Their lineage rows go too: resolved_id_lineage tells how the published ids came to be,
    so a merge that was undone and then redone is one row, not two (run_history keeps the
    undone runs, marked rolled_back_by)."""
    for run_id in undo:
        for schema, table, run_col in STATE_TABLES:
            t = qualified(schema, table)
            before = before_table(table, run_id)
            db.run(f"DELETE FROM {t} WHERE {ident(run_col)} = ?", [run_id])
            # By name: survives columns added (nullable) since the rows were saved.
            cols = ", ".join(ident(c) for c, _ in db.describe(f"SELECT * FROM {before}"))
            db.run(f"INSERT INTO {t} ({cols}) SELECT {cols} FROM {before}")
            db.run(f"DROP TABLE {before}")
        db.run("DELETE FROM idr_out.resolved_id_lineage WHERE run_id = ?", [run_id])
