"""`idr runs`: the latest runs of idr_out.run_history, one aligned line each.

Column widths follow the longest value shown, so rollback rows (mode ROLLBACK, longer run
ids) line up with the others. Runs undone by a rollback say so first in their note.
"""

from __future__ import annotations

HEADER = ("run_id", "mode", "status", "started_at (UTC)", "secs", "entities", "edges", "clusters", "skipped",
          "note")
RIGHT_ALIGNED = {"secs", "entities", "edges", "clusters", "skipped"}
NOTE_WIDTH = 80

RUNS_SQL = (
    "SELECT run_id, run_mode, status, started_at, duration_seconds, entities_processed, edges_created, "
    "clusters_total, groups_skipped, error_message, warnings, rolled_back_by, rollback_to "
    "FROM idr_out.run_history ORDER BY started_at DESC, run_id DESC LIMIT ?"
)


def read_runs(db, limit: int) -> list[tuple]:
    return db.rows(RUNS_SQL, [limit])


def _number(v) -> str:
    return "-" if v is None else f"{v:,}"


def _note(mode: str, error, warnings, rolled_back_by, rollback_to) -> str:
    parts = []
    if rolled_back_by:
        parts.append(f"UNDONE by {rolled_back_by}")
    if mode == "ROLLBACK" and rollback_to:
        parts.append(f"back to {rollback_to}")
    if error or warnings:
        parts.append(error or warnings)
    return "; ".join(parts)[:NOTE_WIDTH]


def format_runs(rows: list[tuple]) -> str:
    cells = []
    for (run_id, mode, status, started, secs, entities, edges, clusters, skipped, error, warnings,
         rolled_back_by, rollback_to) in rows:
        cells.append([run_id, mode, status, f"{started:%Y-%m-%d %H:%M:%S}",
                      "-" if secs is None else f"{secs:.2f}", *map(_number, (entities, edges, clusters, skipped)),
                      _note(mode, error, warnings, rolled_back_by, rollback_to)])
    widths = [max([len(h), *(len(c[i]) for c in cells)]) for i, h in enumerate(HEADER[:-1])]

    def line(values) -> str:
        padded = [f"{v:>{w}}" if h in RIGHT_ALIGNED else f"{v:<{w}}" for h, v, w in zip(HEADER, values, widths)]
        return ("  ".join(padded) + "  " + values[-1]).rstrip()

    return "\n".join(line(v) for v in [list(HEADER), *cells])
