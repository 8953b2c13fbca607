"""The `idr` command. Thin: parse arguments, call the library, print, map errors to exit codes.

Exit codes: 0 success (warnings included), 1 a run failed, 2 bad input or configuration,
3 the anomaly gate held the run (nothing published; `idr approve` or `idr reject` it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .argtypes import positive_int, seconds

DEFAULT_DB = "idr.duckdb"


ENGINE_UNUSED = ("accepted so that scripts can pass one engine to every command: this command only reads or "
                 "writes the --db file (state, history, published snapshot) and never starts Spark")
ENGINE_RUN = ("engine that computes the run: duckdb (embedded) or spark (settings IDR_SPARK_*, docs/spark.md); "
              "the state and published results stay with --db (default: $IDR_ENGINE or duckdb)")
ENGINE_SOURCES = ("engine that reads the sources while the configuration is checked: spark resolves table_fqn in "
                  "Spark (tables and views of its catalog, Parquet/CSV paths Spark reads) as `idr run --engine spark` "
                  "will; the configuration itself is written to the --db file (default: $IDR_ENGINE or duckdb)")
ENGINE_CATALOG = ("with spark and IDR_SPARK_CATALOG=hive, the published snapshot is then registered in Spark's "
                  "persistent catalog (idr_out.<table> for every Spark session on that metastore); otherwise "
                  "this command only reads or writes the --db file (default: $IDR_ENGINE or duckdb)")


def _db_parent(engine_help: str = ENGINE_UNUSED) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--db", default=argparse.SUPPRESS,
                   help=f"DuckDB database file (default: $IDR_DB or ./{DEFAULT_DB})")
    _engine_option(p, argparse.SUPPRESS, engine_help)
    _log_options(p, argparse.SUPPRESS)
    return p


def _engine_option(p: argparse.ArgumentParser, default, text: str) -> None:
    from .backends import ENGINES

    p.add_argument("--engine", choices=ENGINES, type=str.lower, default=default, help=text)


def _log_options(p: argparse.ArgumentParser, default) -> None:
    p.add_argument("--log-format", choices=["plain", "json"], type=str.lower, default=default,
                   help="log lines as plain text or one JSON object per line, each with the run id and stage "
                        "(default: $IDR_LOG_FORMAT or plain)")
    p.add_argument("--log-file", metavar="PATH", default=default,
                   help="write log lines to PATH, rotated at 10 MB with 5 older files kept gzip-compressed "
                        "(default: $IDR_LOG_FILE, else standard error); level from $IDR_LOG_LEVEL "
                        "(default INFO to a file, WARNING to standard error)")


def build_parser() -> argparse.ArgumentParser:
    db, db_sources, db_run = _db_parent(), _db_parent(ENGINE_SOURCES), _db_parent(ENGINE_RUN)
    db_catalog = _db_parent(ENGINE_CATALOG)
    db_spark = _db_parent("accepted so that scripts can pass one engine to every command: this command always "
                          "starts Spark, as the IDR_SPARK_* settings describe")
    parser = argparse.ArgumentParser(
        prog="idr",
        description="Deterministic identity resolution: link records that share a normalised "
                    "identifier, form clusters with stable resolved ids, audit every run.",
        epilog="Quick start: idr demo   |   Docs: docs/cli.md",
    )
    parser.add_argument("--db", default=None,
                        help=f"DuckDB database file (default: $IDR_DB or ./{DEFAULT_DB})")
    _engine_option(parser, None, "duckdb or spark, for the commands that compute with an engine (run, config "
                                 "load, config check); every other command accepts and ignores it "
                                 "(default: $IDR_ENGINE or duckdb)")
    _log_options(parser, None)
    parser.add_argument("--version", action="version", version=f"idr {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    sub.add_parser("init", parents=[db], help="create the idr_meta, idr_work and idr_out schemas",
                   description="Create (or upgrade) the idr_meta, idr_work and idr_out schemas. Safe to repeat.")

    cfg = sub.add_parser("config", help="load, check or export the configuration")
    cfg_sub = cfg.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    load = cfg_sub.add_parser("load", parents=[db_sources], help="validate a YAML file and write it into idr_meta",
                              description="Validate FILE against the database (sources, columns, expressions, "
                                          "rules) and replace the configuration in idr_meta with it. "
                                          "Nothing is written if any problem is found.")
    load.add_argument("file", help="YAML configuration file (see docs/configuration.md)")
    check = cfg_sub.add_parser("check", parents=[db_sources], help="validate a configuration without running or writing",
                               description="Check FILE (a YAML configuration, against the database's sources, as "
                                           "`idr config load` would) or, without FILE, the configuration in "
                                           "idr_meta, exactly as `idr run` checks it before it starts: sources, "
                                           "columns, expressions, rules, settings and exporters. Runs nothing and "
                                           "writes nothing (the database is opened read-only). Exit 0 if the "
                                           "configuration is valid, 2 with every problem listed if not.")
    check.add_argument("file", nargs="?", metavar="FILE",
                       help="YAML configuration file (default: the configuration in idr_meta)")
    export = cfg_sub.add_parser("export", parents=[db], help="print the configuration in idr_meta as YAML")
    export.add_argument("--out", help="write to this file instead of standard output")

    run = sub.add_parser("run", parents=[db_run], help="resolve identities and publish the results",
                         description="Run the pipeline (extract, normalise, exclude, group guard, edges, "
                                     "connected components, membership) and publish idr_out.*_current "
                                     "atomically, unless the anomaly gate holds the run (docs/gate.md). Exit 0 on "
                                     "success (also with warnings), 1 if the run failed, 2 on bad input or "
                                     "configuration, 3 if the gate held the run (nothing published).")
    run.add_argument("--run-mode", default="FULL", type=str.upper, choices=["FULL", "INCR"],
                     help="FULL recomputes everything from all active sources (default). INCR reads only rows "
                          "newer than each source's watermark and recomputes only the clusters they touch; the "
                          "result equals FULL. INCR runs as FULL (and says why) when the configuration changed "
                          "or nothing was published yet")
    run.add_argument("--no-auto-full", dest="auto_full", action="store_false",
                     help="with INCR: stop with exit code 2 instead of running FULL when INCR would not be exact")
    run.add_argument("--dry-run", action="store_true", default=None,
                     help="run the whole pipeline but publish nothing: record what would change in "
                          "idr_out.dry_run_results / dry_run_summary (default: $IDR_DRY_RUN)")
    run.add_argument("--max-iters", type=positive_int, default=None,
                     help="round limit for the sql components strategy (default: config max_iters, 100); "
                          "reaching it fails the run")
    run.add_argument("--strategy", choices=["inprocess", "sql"], default=None,
                     help="connected components strategy (default: config components_strategy, inprocess)")
    run.add_argument("--wait", type=seconds, default=None, metavar="SECONDS",
                     help="if another run is using the database, wait up to SECONDS for it to finish instead of "
                          "failing after a few quick retries (exit 2 if it is still busy then)")
    run.add_argument("--quiet", action="store_true",
                     help="print only the run id and status on standard output, and no per-stage progress; "
                          "warnings (e.g. an exporter that failed) still go to standard error")

    rb = sub.add_parser("rollback", parents=[db_catalog], help="return the published results to an earlier run",
                        description="Restore idr_out.*_current and the watermarks in idr_meta.run_state to exactly "
                                    "what they were after run RUN_ID, one of the last rollback_retention_runs "
                                    "(default 3) published runs. The rollback is recorded in run_history; the runs "
                                    "it undoes are marked rolled_back_by. The next INCR run continues from RUN_ID.")
    rb.add_argument("--to", required=True, metavar="RUN_ID", help="the run to return to (see `idr runs`)")

    ex = sub.add_parser("explain", parents=[db], help="why are two records linked (or not)?",
                        description="Print the shortest chain of records and shared identifier values linking "
                                    "KEY_A to KEY_B in the published results: each hop's records, sources, "
                                    "identifier type, normalised value, the raw values as the sources hold them "
                                    "now, and the rule. When they are not linked, print the nearest reason: a "
                                    "shared value whose group is over max_group_size, an excluded, placeholder or "
                                    "invalid value, or nothing shared. Keys are entity keys such as crm:C000042.")
    ex.add_argument("key_a", metavar="KEY_A")
    ex.add_argument("key_b", metavar="KEY_B")
    ex.add_argument("--mask", action="store_true", help="hide identifier values (first character only)")
    sh = sub.add_parser("show", parents=[db], help="print a cluster's card: members, identifiers, golden profile",
                        description="Print the cluster of KEY (or of the records holding --type/--value, the value "
                                    "normalised as runs do): its members, identifiers, golden profile with the "
                                    "record each value came from, and the merges and splits of its id.")
    sh.add_argument("key", metavar="KEY", nargs="?", help="an entity key, e.g. crm:C000042")
    sh.add_argument("--type", dest="identifier_type", help="identifier type, e.g. EMAIL (with --value)")
    sh.add_argument("--value", help="identifier value, as written in a source (with --type)")
    sh.add_argument("--limit", type=positive_int, default=50, help="members and identifiers shown (default 50)")
    sh.add_argument("--mask", action="store_true", help="hide identifier and attribute values")
    res = sub.add_parser("results", help="where the published results live, for other tools")
    res_sub = res.add_subparsers(dest="results_command", metavar="SUBCOMMAND", required=True)
    path = res_sub.add_parser(
        "path", parents=[db], help="print the folder of the current snapshot",
        description="Print the folder of the current published snapshot (docs/results.md). Its manifest.json "
                    "lists every table's Parquet files; after INCR runs a table is its files' rows minus the "
                    "rows in its 'removed' files. --table lists one table's files, --json the whole manifest "
                    "with absolute paths. Files stay in place while the snapshot is kept "
                    "(rollback_retention_runs).")
    path.add_argument("--table", metavar="NAME", help="list this table's files (lines 'removed: ...' to subtract)")
    path.add_argument("--json", action="store_true", help="print the manifest with absolute paths")
    res_sub.add_parser(
        "index", parents=[db], help="write the current snapshot's lookup index now",
        description="Write the lookup index of the current published snapshot into its folder: the membership "
                    "sorted by resolved_id and the identifier pairs sorted by entity_id, which `idr explain` and "
                    "`idr show` read instead of whole files. The first lookup on a snapshot of 1M+ records "
                    "builds it; run this after `idr run` so no lookup waits for it. Prints the folder.")
    res_sub.add_parser(
        "register", parents=[db_spark], help="name the current snapshot's tables in Spark's catalog",
        description="Register the current published snapshot in the catalog of the Spark session the IDR_SPARK_* "
                    "settings describe (IDR_SPARK_CATALOG=hive: persistent, read by every Spark session on the "
                    "same metastore and warehouse): idr_out.<table> views, idr_meta.<table> read-only copies and "
                    "idr_out.current_snapshot, switched in one statement (docs/spark.md). Spark runs and "
                    "`idr rollback --engine spark` do this themselves; use it after a DuckDB run.")
    approve = sub.add_parser("approve", parents=[db], help="publish a run the anomaly gate held",
                             description="Publish the result of a HELD run exactly as it was computed. Refused "
                                         "(exit 2) if another run published results since it was computed, or if "
                                         "the configuration changed since: then reject it and run again. "
                                         "See docs/gate.md.")
    approve.add_argument("run_id", metavar="RUN_ID", help="the HELD run (see `idr runs`)")
    reject = sub.add_parser("reject", parents=[db], help="discard a run the anomaly gate held",
                            description="Discard the kept result of a HELD run; the published results stay as "
                                        "they are and the run is recorded as REJECTED. See docs/gate.md.")
    reject.add_argument("run_id", metavar="RUN_ID", help="the HELD run (see `idr runs`)")

    runs = sub.add_parser("runs", parents=[db], help="show recent runs from idr_out.run_history")
    runs.add_argument("--limit", type=positive_int, default=20, help="how many runs to show (default 20)")
    runs_sub = runs.add_subparsers(dest="runs_command", metavar="ACTION")
    show = runs_sub.add_parser("show", parents=[db], help="one run in detail: counts, gate verdict, cost per stage",
                               description="Print one run from idr_out.run_history: its status, counts, warnings, "
                                           "the anomaly gate's verdict, each stage's time, CPU seconds, peak "
                                           "memory, rows and bytes read and written (idr_out.stage_metrics), and "
                                           "the disk use of the database holding the published snapshot.")
    show.add_argument("run_id", metavar="RUN_ID", help="the run (see `idr runs`)")
    from .dryrun.cli import add_parser as add_dry_run_parser

    add_dry_run_parser(sub, db)
    from .metrics.cli import add_parser as add_metrics_parser

    add_metrics_parser(sub, db)
    from .ops.cli import add_parsers as add_ops_parsers

    add_ops_parsers(sub, db)

    from .api.cli import add_parsers as add_api_parsers

    add_api_parsers(sub, db)

    demo = sub.add_parser("demo", help="create a sample database, configure it, run FULL, print the summary",
                          description="Generate realistic sample sources (CRM, orders, loyalty, web sign-ups "
                                      "with messy emails and phones), configure idr for them, run FULL and "
                                      "print the summary. Replaces the demo database if it exists.")
    _engine_option(demo, argparse.SUPPRESS, "accepted and ignored: the demo always runs on DuckDB")
    demo.add_argument("--db", default=argparse.SUPPRESS,
                      help=f"database to create (default: $IDR_DB or ./{DEMO_DB}; an existing file is replaced "
                           "only if an earlier `idr demo` made it)")
    demo.add_argument("--persons", type=positive_int, default=2000, help="number of simulated people (default 2000)")
    demo.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    return parser


def _version() -> str:
    from . import __version__

    return __version__


DEMO_DB = "idr_demo.duckdb"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .errors import InputError, InternalError, Interrupted, LockedError, RunError

    try:
        # Every problem of the process settings (environment, .env) is reported before anything runs.
        from .logs import configure
        from .settings import get_settings

        get_settings.cache_clear()  # one command, one reading of the environment (main may be called again)
        settings = get_settings()
        if args.db is None:  # neither --db (before or after the command) nor a default yet
            args.db = settings.db or (DEMO_DB if args.command == "demo" else DEFAULT_DB)
        configure(log_format=args.log_format, log_file=args.log_file)
        return COMMANDS[args.command](args)
    except Interrupted as e:
        print(f"idr: run interrupted ({e}); nothing was published", file=sys.stderr)
        return 128 + (e.signum or 2)
    except (InputError, LockedError) as e:
        print(f"idr: error: {e}", file=sys.stderr)
        return 2
    except RunError as e:
        print(f"idr: run failed: {e}", file=sys.stderr)
        return 1
    except InternalError as e:
        print(f"idr: internal error (a bug in idr; please report it): {e}", file=sys.stderr)
        if _debug():
            raise
        return 1
    except KeyboardInterrupt:
        print("idr: interrupted; nothing was published", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Output piped into `head` and the like: stop quietly, as Unix tools do.
        sys.stderr.close()
        return 0
    except OSError as e:
        print(f"idr: error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - a bug or an unforeseen database error: no traceback
        print(f"idr: unexpected error: {type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
              "\n(please report it; run with IDR_DEBUG=1 for the traceback)", file=sys.stderr)
        if _debug():
            raise
        return 1


def _debug() -> bool:
    try:
        from .settings import get_settings

        return get_settings().debug
    except Exception:  # noqa: BLE001 - unreadable settings were reported already
        return False


def cmd_init(args) -> int:
    from .backends.duckdb import DuckDBBackend
    from .schema import ensure_schema

    from .publish.snapshot import forget_unreadable, reconcile

    backend = DuckDBBackend.open(args.db)
    try:
        with backend.transaction():  # an upgrade that converts tables happens whole or not at all
            forget_unreadable(backend)  # views over a deleted snapshot would fail the schema's views
            created = ensure_schema(backend)
        # Then the published snapshot readers open: written (upgrade), repaired or left as is.
        repaired = reconcile(backend)
    finally:
        backend.close()
    print(f"initialised {args.db}: " + (f"created {len(created)} objects" if created else "already up to date"))
    if repaired.message:
        print(repaired.message)
    if repaired.lost:
        print(f"warning: {repaired.lost}; the results read as empty until a FULL run rebuilds them "
              f"(`idr run --run-mode FULL --db {args.db}`)", file=sys.stderr)
    return 0


def cmd_config(args) -> int:
    from .backends.duckdb import DuckDBBackend
    from .config.meta import read_config, write_config
    from .config.validate import build_plan
    from .config.yaml_io import dump_yaml, load_yaml
    from .schema import require_initialised

    if args.config_command == "check":
        from .runs.runner import check_config

        cfg = check_config(args.db, args.file, engine=args.engine)
        n_map = sum(len(s.identifiers) for s in cfg.sources)
        what = f"{args.file} (checked against {args.db})" if args.file else f"the configuration in {args.db}"
        print(f"{what} is valid: {len(cfg.sources)} sources, {n_map} identifier mappings, {len(cfg.rules)} rules, "
              f"{len(cfg.exclusions)} exclusions, {len(cfg.config)} settings")
        return 0
    if args.config_command == "load":
        from .backends import open_backend

        cfg = load_yaml(args.file)
        backend = open_backend(args.db, args.engine, create=False)  # the engine that will read the sources
        state = backend.state()  # where idr_meta lives (the --db file, whatever the engine)
        try:
            require_initialised(state, args.db)
            build_plan(backend, cfg)  # raises ConfigError listing every problem; nothing written
            with state.transaction():
                write_config(state, cfg)
        finally:
            backend.close()
        n_map = sum(len(s.identifiers) for s in cfg.sources)
        print(f"loaded {args.file} into {args.db}: {len(cfg.sources)} sources, {n_map} identifier mappings, "
              f"{len(cfg.rules)} rules, {len(cfg.exclusions)} exclusions, {len(cfg.config)} settings"
              + (f", {sum(len(s.attributes) for s in cfg.sources)} attribute mappings, "
                 f"{len(cfg.survivorship)} survivorship rules" if cfg.survivorship or any(s.attributes for s in cfg.sources)
                 else ""))
        return 0
    backend = DuckDBBackend.open(args.db, create=False, read_only=True)
    try:
        require_initialised(backend, args.db)
        text = dump_yaml(read_config(backend))
    finally:
        backend.close()
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


def _stop_on_signals() -> None:
    """Ctrl-C and SIGTERM stop a run cleanly: rolled back, recorded INTERRUPTED, exit 128+signal."""
    import signal

    from .runs.runner import request_stop

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)


def _print_stage(stage) -> None:
    """Progress on standard error, one line per finished stage, so long runs show life."""
    rows = "" if stage.rows_out is None else f"  {stage.rows_out:,} rows"
    print(f"idr: {stage.name:<12} {stage.seconds:7.2f} s{rows}", file=sys.stderr, flush=True)


def cmd_run(args) -> int:
    from .runs.runner import run
    from .runs.summary import format_summary

    _stop_on_signals()
    from .settings import get_settings

    dry_run = get_settings().dry_run if args.dry_run is None else args.dry_run
    result = run(args.db, args.run_mode, max_iters=args.max_iters, strategy=args.strategy,
                 progress=None if args.quiet else _print_stage, dry_run=dry_run, auto_full=args.auto_full,
                 wait=args.wait, engine=args.engine)
    # Warnings reach standard error whatever goes to standard output (--quiet included), so
    # a failed exporter is seen even when the output is piped or the summary is off.
    for warning in result.warnings:
        print(f"idr: warning: {warning}", file=sys.stderr)
    if args.quiet:
        print(f"{result.run_id} {result.status}")
    elif result.dry_run is not None:
        from .dryrun import format_console

        print(format_console(result.dry_run, result.run_id, result.mode, args.db))
        for note in result.notes:
            print(f"NOTE: {note}")
    else:
        print(format_summary(result, args.db))
    return EXIT_HELD if result.status == "HELD" else 0


EXIT_HELD = 3


def cmd_approve(args) -> int:
    from .runs.decide import approve_run

    _stop_on_signals()
    d = approve_run(args.db, args.run_id)
    print(f"{d.run_id}: approved and published ({d.status})")
    return 0


def cmd_reject(args) -> int:
    from .runs.decide import reject_run

    _stop_on_signals()
    d = reject_run(args.db, args.run_id)
    print(f"{d.run_id}: rejected; its result was discarded and the published results are unchanged")
    return 0


def cmd_rollback(args) -> int:
    from .runs.runner import rollback

    _stop_on_signals()
    r = rollback(args.db, args.to, engine=args.engine)
    if r.undone:
        print(f"{r.run_id}: restored the results of {r.target}; undid {len(r.undone)} run(s): {', '.join(r.undone)}")
    else:
        print(f"{r.run_id}: {r.target} is already the current published run; nothing to undo")
    return 0


def cmd_runs(args) -> int:
    from .publish.reader import open_for_reading
    from .publish.snapshot import disk_used
    from .runs.listing import format_runs, read_runs
    from .schema import require_initialised

    if getattr(args, "runs_command", None) == "show":
        from .runs.show import show_run

        print(show_run(args.db, args.run_id))
        return 0
    backend, from_snapshot = open_for_reading(args.db)
    try:
        if from_snapshot:
            print("idr: a run holds the database: showing the history as of the published snapshot",
                  file=sys.stderr)
        else:
            require_initialised(backend, args.db)
        rows = read_runs(backend, args.limit)
    finally:
        backend.close()
    print(format_runs(rows))
    if not rows:
        from .hints import idr_command

        print(f"(no runs yet: {idr_command('run', '--run-mode', 'FULL', db=args.db)})")
    used = disk_used(Path(args.db))
    if used:
        # on stderr, like the note above: stdout stays the table scripts parse
        print(f"published snapshots (current and rollback window): {used / 2**20:,.1f} MiB in {_results_root(args.db)}",
              file=sys.stderr)
    return 0


def _results_root(db) -> Path:
    from .publish.layout import root

    return root(Path(db))


def cmd_results(args) -> int:
    import json

    from .publish import layout

    db = Path(args.db)
    manifest = layout.current_snapshot(db)
    if manifest is None:
        from .errors import InputError

        raise InputError(f"--db {db}: no published snapshot yet (run `idr init --db {db}` or a run)")
    if args.results_command == "index":
        from .lookup.index import build_current

        print(build_current(db))
        return 0
    if args.results_command == "register":
        from .publish.spark_catalog import register_database

        print(f"registered snapshot {register_database(db)} in Spark's catalog: idr_out.*, idr_meta.*")
        return 0
    base = Path(manifest.pop("_root"))
    if args.json:
        for t in manifest["tables"].values():
            t["files"] = [str(base / f) for f in t["files"]]
            t["removed"] = [str(base / f) for f in t["removed"]]
        print(json.dumps(manifest, indent=1))
    elif args.table:
        if args.table not in manifest["tables"]:
            from .errors import InputError

            raise InputError(f"--table {args.table}: not in the snapshot; tables: {', '.join(manifest['tables'])}")
        t = manifest["tables"][args.table]
        for f in t["files"]:
            print(base / f)
        for f in t["removed"]:
            print(f"removed: {base / f}")
    else:
        print(layout.snapshot_dir(db, manifest["snapshot"]))
    return 0


def cmd_explain(args) -> int:
    from .lookup.explain import explain
    from .lookup.text import format_explanation

    print(format_explanation(explain(args.db, args.key_a, args.key_b), args.mask))
    return 0


def cmd_show(args) -> int:
    from .errors import InputError
    from .lookup.show import show
    from .lookup.text import format_show

    if (args.key is None) == (args.identifier_type is None or args.value is None):
        raise InputError("give either KEY or both --type and --value")
    print(format_show(show(args.db, args.key, args.identifier_type, args.value, args.limit), args.mask))
    return 0


def cmd_dry_run(args) -> int:
    from .dryrun.cli import main as dry_run_main

    return dry_run_main(args)


def cmd_metrics(args) -> int:
    from .metrics.cli import main as metrics_main

    return metrics_main(args)


def cmd_demo(args) -> int:
    from .demo import run_demo

    _stop_on_signals()
    return run_demo(args.db, persons=args.persons, seed=args.seed)


COMMANDS = {"init": cmd_init, "config": cmd_config, "run": cmd_run, "runs": cmd_runs, "demo": cmd_demo,
            "rollback": cmd_rollback, "results": cmd_results, "explain": cmd_explain, "show": cmd_show,
            "approve": cmd_approve, "reject": cmd_reject,
            "dry-run": cmd_dry_run, "metrics": cmd_metrics}


def _ops_commands() -> dict:
    from .ops.cli import COMMANDS as OPS

    return OPS


COMMANDS.update(_ops_commands())


def _api_commands() -> dict:
    from .api.cli import COMMANDS as API

    return API


COMMANDS.update(_api_commands())

if __name__ == "__main__":
    sys.exit(main())
