"""`idr backup`, `idr restore` and `idr doctor`. Only argparse loads when the parser is built."""

from __future__ import annotations

import argparse

from ..argtypes import number, seconds

days = number(int, "a whole number of days > 0", zero_ok=False)


def add_parsers(sub, db_parent: argparse.ArgumentParser) -> None:
    from .backup import DEFAULT_WAIT_SECONDS

    b = sub.add_parser(
        "backup", parents=[db_parent], help="write a consistent backup of the database into a folder",
        description="Copy every table and view of the database (configuration, watermarks, published results, "
                    "rollback states, audit tables, and source tables stored in the same file) into a new folder "
                    "DIR/idr-backup-<UTC time>-<id> as Parquet files, the SQL that recreates the schema and a "
                    "manifest.json (versions, row counts, SHA-256 checksums). A run in progress holds the database: "
                    "the backup waits for it (--wait), then holds the database itself while it copies. The backup "
                    "is recorded in idr_out.backup_history; backups in DIR older than the retention are removed. "
                    "Exit 0 on success, 2 on bad input (unwritable DIR, database busy after --wait). See docs/backup.md.")
    b.add_argument("--to", required=True, metavar="DIR", help="folder that holds the backups (created if missing)")
    b.add_argument("--wait", type=seconds, default=DEFAULT_WAIT_SECONDS, metavar="SECONDS",
                   help=f"wait this long for a run in progress to release the database (default "
                        f"{DEFAULT_WAIT_SECONDS:g}; 0: fail at once)")
    b.add_argument("--keep-days", type=days, default=None, metavar="DAYS",
                   help="remove backups in DIR older than this (default: idr_meta.config backup_retention_days, 30)")

    r = sub.add_parser(
        "restore", help="build a new database from a backup folder",
        description="Verify every checksum of the backup folder DIR, build a new database from it and compare "
                    "every table's row count with the manifest. The new database must not exist; nothing is "
                    "written unless the whole restore succeeds. Exit 0 on success, 2 if DIR is not a backup, is "
                    "damaged, or --db already exists.")
    r.add_argument("--from", dest="source", required=True, metavar="DIR",
                   help="one backup folder (DIR/idr-backup-..., the folder holding manifest.json)")
    r.add_argument("--db", required=True, help="path of the new database file (must not exist)")

    d = sub.add_parser(
        "doctor", parents=[db_parent], help="check that a database is ready to run unattended",
        description="Check what the pre-production checklist asks and a program can check: valid configuration, "
                    "active sources with mappings, rules with max_group_size, known junk values excluded, a dry "
                    "run of the configuration in force, large-cluster threshold, exporters configured and "
                    "reachable, a recent backup, file permissions, no secrets stored in idr_meta, the schedule's "
                    "last success within schedule_window_hours. Each check passes, warns or fails with the fix. "
                    "Changes nothing. Exit code: 0 all passed, 1 warnings only, 2 at least one failure (also for "
                    "bad input such as a missing database, with a message instead of a report). See docs/doctor.md.")
    d.add_argument("--json", action="store_true", help="print the report as JSON (same exit codes)")
    d.add_argument("--wait", type=seconds, default=60.0, metavar="SECONDS",
                   help="wait this long for a run in progress to release the database (default 60)")
    d.add_argument("--timeout", type=seconds, default=3.0, metavar="SECONDS",
                   help="seconds per exporter reachability probe (default 3)")


def cmd_backup(args) -> int:
    from .backup import backup

    r = backup(args.db, args.to, wait_seconds=args.wait, keep_days=args.keep_days)
    rows = sum(r.tables.values())
    print(f"backup {r.backup_id}: {len(r.tables)} tables, {rows:,} rows, {r.bytes / 1e6:,.1f} MB in "
          f"{r.seconds:.2f} s -> {r.path}")
    for name in r.pruned:
        print(f"removed old backup {name}")
    return 0


def cmd_restore(args) -> int:
    from .backup import restore

    r = restore(args.source, args.db)
    print(f"restored backup {r.backup_id} into {r.db}: {len(r.tables)} tables, {sum(r.tables.values()):,} rows "
          f"(checksums and row counts verified) in {r.seconds:.2f} s")
    return 0


def cmd_doctor(args) -> int:
    from .doctor import doctor

    report = doctor(args.db, wait_seconds=args.wait, network_timeout=args.timeout)
    print(report.to_json() if args.json else report.to_text())
    return report.exit_code


COMMANDS = {"backup": cmd_backup, "restore": cmd_restore, "doctor": cmd_doctor}

__all__ = ["add_parsers", "COMMANDS"]
