"""`idr dry-run show|cleanup`: review a dry run and remove old ones.

Kept apart from idr/cli.py so the dry-run feature lives in one package; idr/cli.py only
registers the parser and dispatches here.
"""

from __future__ import annotations

import argparse

from ..argtypes import number
from .model import CHANGE_TYPES

count = number(int, "a whole number >= 0", zero_ok=True)
days = number(float, "a number of days >= 0", zero_ok=True)

DEFAULT_LIMIT = 50


def add_parser(subparsers, db_parent) -> None:
    dr = subparsers.add_parser("dry-run", help="review dry runs and remove old ones",
                               description="Review what a dry run (`idr run --dry-run`) would change, or "
                                           "remove old dry-run rows. See docs/dry-run.md.")
    sub = dr.add_subparsers(dest="dry_run_command", metavar="ACTION", required=True)
    show = sub.add_parser("show", parents=[db_parent], help="print a dry run's summary and changed entities",
                          description="Print the summary of dry run RUN_ID and its rows of "
                                      "idr_out.dry_run_results; optionally write an HTML impact report. "
                                      "Opens the database read-only. Exit 2 if there is no such dry run.")
    show.add_argument("run_id", metavar="RUN_ID", help="run id printed by `idr run --dry-run`")
    show.add_argument("--change-type", type=str.upper, choices=CHANGE_TYPES,
                      help="only rows of this change type")
    show.add_argument("--limit", type=count, default=DEFAULT_LIMIT, metavar="N",
                      help=f"at most this many rows (default {DEFAULT_LIMIT}; 0 prints the summary only)")
    show.add_argument("--report", metavar="FILE.html",
                      help="also write a self-contained HTML impact report to this file")
    show.add_argument("--mask", action="store_true",
                      help="in the HTML report, show identifier values only as their type and the first 12 hex "
                           "digits of their SHA-256 (for reports that leave the team)")
    clean = sub.add_parser("cleanup", parents=[db_parent], help="remove dry-run rows",
                           description="Remove whole dry runs from idr_out.dry_run_results and "
                                       "idr_out.dry_run_summary. Given filters combine (all must match); "
                                       "--keep-last always spares the N most recent dry runs. Without "
                                       "options, removes dry runs older than dry_run_retention_days "
                                       "(what every run does at its start).")
    clean.add_argument("--older-than", type=days, metavar="DAYS", help="dry runs created more than DAYS ago")
    clean.add_argument("--run-id", metavar="ID", help="this dry run only")
    clean.add_argument("--keep-last", type=count, metavar="N", help="spare the N most recent dry runs")


def main(args) -> int:
    if args.dry_run_command == "show":
        return _show(args)
    return _cleanup(args)


def _show(args) -> int:
    from ..publish.reader import open_for_reading
    from ..schema import require_initialised
    from .html import write_report
    from .model import load_summary
    from .report import format_console

    backend, from_snapshot = open_for_reading(args.db)  # the snapshot while a run holds the file
    try:
        if not from_snapshot:
            require_initialised(backend, args.db)
        summary = load_summary(backend, args.run_id)
        where, params = "run_id = ?", [args.run_id]
        if args.change_type:
            where += " AND change_type = ?"
            params.append(args.change_type)
        total = backend.scalar(f"SELECT count(*) FROM idr_out.dry_run_results WHERE {where}", params)
        rows = backend.rows(
            "SELECT entity_key, change_type, current_resolved_id, proposed_resolved_id, current_cluster_size, "
            f"proposed_cluster_size FROM idr_out.dry_run_results WHERE {where} "
            "ORDER BY CASE change_type WHEN 'MOVED' THEN 0 WHEN 'NEW' THEN 1 WHEN 'REMOVED' THEN 2 ELSE 3 END, "
            "coalesce(proposed_resolved_id, current_resolved_id), entity_key LIMIT ?",
            [*params, args.limit])
        if args.report:
            write_report(backend, args.run_id, args.report, mask=args.mask)
    finally:
        backend.close()
    print(format_console(summary, args.run_id, summary.mode, args.db))
    if args.limit:
        _print_rows(rows, total, args)
    if args.report:
        print(f"wrote HTML impact report {args.report}")
    return 0


def _cell(v) -> str:
    return "-" if v is None else (f"{v:,}" if isinstance(v, int) else str(v))


def _print_rows(rows, total: int, args) -> None:
    kind = f" {args.change_type}" if args.change_type else ""
    print(f"\n{total:,}{kind} {'row' if total == 1 else 'rows'} in idr_out.dry_run_results" +
          (f" (first {len(rows):,} shown; --limit N for more)" if total > len(rows) else ""))
    if not rows:
        return
    head = ("entity_key", "change", "current_resolved_id", "proposed_resolved_id", "cur size", "new size")
    cells = [[_cell(v) for v in r] for r in rows]
    widths = [min(40, max(len(h), *(len(c[i]) for c in cells))) for i, h in enumerate(head)]
    right = {4, 5}
    print("  ".join(f"{h:>{w}}" if i in right else f"{h:<{w}}" for i, (h, w) in enumerate(zip(head, widths))))
    for c in cells:
        print("  ".join(f"{v:>{w}}" if i in right else f"{v:<{w}}" for i, (v, w) in enumerate(zip(c, widths))))


def _cleanup(args) -> int:
    from ..backends.duckdb import DuckDBBackend
    from ..config.models import SETTINGS
    from ..errors import InputError
    from ..schema import require_initialised
    from .retention import cleanup_runs

    backend = DuckDBBackend.open(args.db, create=False)
    try:
        require_initialised(backend, args.db)
        older, note = args.older_than, ""
        if older is None and args.run_id is None and args.keep_last is None:
            rows = backend.rows("SELECT config_value FROM idr_meta.config WHERE config_key = ?",
                               ["dry_run_retention_days"])
            raw = (rows[0][0] if rows and rows[0][0] is not None else SETTINGS["dry_run_retention_days"][0]).strip()
            try:
                older = int(raw)
            except ValueError:
                raise InputError(f"idr_meta.config dry_run_retention_days={raw!r}: expected a whole number "
                                 "of days (or pass --older-than DAYS)") from None
            note = f" (older than dry_run_retention_days = {older})"
        if args.run_id is not None and not backend.rows(
                "SELECT 1 FROM idr_out.dry_run_summary WHERE run_id = ? UNION ALL "
                "SELECT 1 FROM idr_out.dry_run_results WHERE run_id = ? LIMIT 1",
                [args.run_id, args.run_id]):
            raise InputError(f"no dry run with run id {args.run_id!r} to remove")
        with backend.transaction():
            done = cleanup_runs(backend, older, args.run_id, args.keep_last)
    finally:
        backend.close()
    runs = "dry run" if len(done.run_ids) == 1 else "dry runs"
    print(f"removed {len(done.run_ids):,} {runs}{note}: {done.rows:,} rows")
    return 0
