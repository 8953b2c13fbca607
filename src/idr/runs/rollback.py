"""Keep what each published run replaced, so `idr rollback --to RUN_ID` can put it back.

Every state table carries the id of the run that wrote each row. When a run publishes,
the rows it replaces move to `idr_out.<table>__before_<run_id>`: a FULL run renames the
whole previous table (no copy), an INCR run copies just the rows it changes. Undoing run
R is then the same for both: delete the rows R wrote, put back the rows R replaced.
Undoing runs newest first returns the outputs and watermarks to exactly what they were
after the target run. Only the last `rollback_retention_runs` published runs are
reachable; older before-tables are dropped when a run publishes.
"""

from __future__ import annotations

from ..errors import InputError
from ..hints import idr_command
from ..schema import CLUSTERS, MEMBERSHIP, PAIRS, SKIPPED, table_ddl
from ..sql.quoting import ident, qualified
from .state import PUBLISHED

# (schema, table, column holding the id of the run that wrote the row)
STATE_TABLES = (
    ("idr_out", MEMBERSHIP, "run_id"),
    ("idr_out", CLUSTERS, "run_id"),
    ("idr_out", PAIRS, "run_id"),
    ("idr_out", SKIPPED, "run_id"),
    ("idr_meta", "run_state", "last_run_id"),
)
SEPARATOR = "__before_"


def before_table(table: str, run_id: str) -> str:
    return qualified("idr_out", f"{table}{SEPARATOR}{run_id}")


def replace_whole(db, table: str, run_id: str) -> None:
    """FULL: keep the previous idr_out table as the before-table and start an empty one."""
    db.run(f"ALTER TABLE {qualified('idr_out', table)} RENAME TO {ident(table + SEPARATOR + run_id)}")
    db.run(table_ddl("idr_out", table))


def replace_rows(db, table: str, run_id: str, data_cols: list[str], new_sql: str, scope_sql: str,
                 stamps: dict, params: dict | None = None) -> int:
    """INCR: make an idr_out table's rows inside the scope equal to new_sql's rows (data
    columns only); rows that stay identical are not rewritten. New rows get the `stamps`
    columns' values (run id, timestamp). Returns the number of rows written.

    The big table is scanned once (for the scope's rows); everything else works on the
    scope's rows, and the DELETE finds its rows by their row position."""
    d = db.dialect
    t = qualified("idr_out", table)
    all_cols = ", ".join(ident(c) for c, _ in db.describe(f"SELECT * FROM {t}"))
    cols = ", ".join(ident(c) for c in data_cols)
    same = " AND ".join(f"o.{ident(c)} = n.{ident(c)}" for c in data_cols)
    db.materialise("idr_new_rows", f"SELECT DISTINCT * FROM ({new_sql}) AS n({cols})", params or {})
    db.materialise("idr_scope_rows", f"SELECT {d.row_position()} AS idr_rowid, * FROM {t} WHERE {scope_sql}")
    db.materialise("idr_gone", "SELECT o.* FROM idr_scope_rows o" + d.anti_join("idr_new_rows n", on=same))
    db.create_table(before_table(table, run_id), f"SELECT {all_cols} FROM idr_gone")
    db.run(f"DELETE FROM {t} WHERE {d.row_position()} IN (SELECT idr_rowid FROM idr_gone)")
    names = {f"stamp_{i}": v for i, v in enumerate(stamps.values())}
    added = "SELECT n.* FROM idr_new_rows n" + d.anti_join("idr_scope_rows o", on=same)
    db.run(f"INSERT INTO {t} ({cols}, {', '.join(ident(c) for c in stamps)}) "
           f"SELECT a.*, {', '.join(d.param(n) for n in names)} FROM ({added}) AS a", names)
    written = db.count(f"SELECT count(*) FROM ({added}) AS a")
    db.drop("idr_new_rows", "idr_scope_rows", "idr_gone")
    return written


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
    return undo


def undo_runs(db, undo: list[str]) -> None:
    """Undo the given runs, newest first. The caller owns the transaction.

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
