"""`idr runs show RUN_ID`: one run in detail, with what each stage cost."""

from __future__ import annotations

import json
import os

from ..backends.duckdb import DuckDBBackend
from ..errors import InputError
from ..schema import require_initialised

_FIELDS = ("run_mode", "status", "started_at", "ended_at", "duration_seconds", "entities_processed",
           "edges_created", "clusters_total", "largest_cluster", "merges", "splits", "groups_skipped",
           "values_excluded", "warnings", "error_message", "error_stage", "mode_reason", "gate_report")


def size(n: float | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n}"


def _published(db: str) -> list[tuple[str, int]]:
    """Rows of each state table in the current snapshot, from its manifest (no scan)."""
    from pathlib import Path

    from ..errors import InputError
    from ..publish import layout

    try:
        manifest = layout.current_snapshot(Path(db))
    except InputError:
        return []
    tables = (manifest or {}).get("tables", {})
    return [(t, sum(e["rows"]) - sum(e["removed_rows"])) for t, e in sorted(tables.items()) if t.endswith("_current")]


def show_run(db: str, run_id: str) -> str:
    backend = DuckDBBackend.open(db, create=False, read_only=True)
    try:
        require_initialised(backend, db)
        row = backend.rows(f"SELECT {', '.join(_FIELDS)} FROM idr_out.run_history WHERE run_id = ?", [run_id])
        if not row:
            raise InputError(f"{run_id}: no such run in idr_out.run_history (see `idr runs`)")
        r = dict(zip(_FIELDS, row[0]))
        stages = backend.rows(
            "SELECT stage_name, duration_seconds, cpu_seconds, peak_memory_bytes, rows_in, rows_out, bytes_read, "
            "bytes_written FROM idr_out.stage_metrics WHERE run_id = ? ORDER BY started_at", [run_id])
        # DuckDB's catalogue: this command reads a DuckDB file (the backend idr runs on today).
        used = backend.rows("SELECT used_blocks * block_size, total_blocks * block_size FROM pragma_database_size() "
                            "WHERE database_name = current_database()")
    finally:
        backend.close()
    n = lambda v: "-" if v is None else f"{v:,}"  # noqa: E731
    secs = "-" if r["duration_seconds"] is None else f"{r['duration_seconds']:.2f}"
    lines = [f"run {run_id}: {r['run_mode']} {r['status']}",
             f"  started {r['started_at']:%Y-%m-%d %H:%M:%S} UTC, {secs} s",
             f"  entities {n(r['entities_processed'])}, edges {n(r['edges_created'])}, clusters "
             f"{n(r['clusters_total'])} (largest {n(r['largest_cluster'])}), merges {n(r['merges'])}, splits "
             f"{n(r['splits'])}, skipped groups {n(r['groups_skipped'])}, excluded values {n(r['values_excluded'])}"]
    if r["gate_report"]:
        report = json.loads(r["gate_report"])
        lines.append(f"  anomaly gate: {report['decision']} ({report['history_runs']} published runs compared)")
        lines += [f"    {f['mode']}: {f['reason']}" for f in report["flags"]]
    for key in ("mode_reason", "warnings", "error_message"):
        if r[key]:
            lines.append(f"  {key.replace('_', ' ')}: {r[key]}")
    lines += ["", f"  {'stage':<12} {'seconds':>8} {'cpu s':>8} {'peak memory':>12} {'rows in':>12} "
                  f"{'rows out':>12} {'bytes read':>12} {'bytes written':>14}"]
    for name, secs, cpu, mem, rin, rout, bin_, bout in stages:
        lines.append(f"  {name:<12} {secs or 0:>8.2f} {'-' if cpu is None else f'{cpu:.2f}':>8} {size(mem):>12} "
                     f"{n(rin):>12} {n(rout):>12} {size(bin_):>12} {size(bout):>14}")
    if not stages:
        lines.append("  (no stage recorded)")
    file_bytes = sum(os.path.getsize(p) for p in (db, f"{db}.wal") if os.path.exists(p))
    lines += ["", f"  disk: database file {size(file_bytes)}"
                  + (f", {size(used[0][0])} in use of {size(used[0][1])} allocated" if used else ""),
              "  published snapshot (rows): "
              + ", ".join(f"{t.removeprefix('identity_').removesuffix('_current')} {n(e)}" for t, e in _published(db))]
    return "\n".join(lines)
