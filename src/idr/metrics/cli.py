"""`idr metrics show|serve|push|export`. Exit codes: 0 ok, 1 an export failed, 2 bad input.

Only argparse is imported at parser-building time; everything else loads when a
subcommand runs, so `idr --help` stays fast.
"""

from __future__ import annotations

import argparse
import sys

from ..argtypes import number, positive_int

DEFAULT_PORT = 9466


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535, got {value}")
    return value


def _retry_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--timeout", type=number(float, "a number of seconds > 0", zero_ok=False), default=10.0, help="seconds per request (default 10)")
    p.add_argument("--attempts", type=positive_int, default=3,
                   help="tries per request, retrying connection errors, timeouts and 5xx answers with "
                        "exponential backoff and jitter; 4xx answers are not retried (default 3)")


def add_parser(subparsers, db_parent: argparse.ArgumentParser) -> None:
    m = subparsers.add_parser(
        "metrics", help="show and export run metrics (Prometheus, Pushgateway, DataDog, webhook)",
        description="Every run records its metrics in idr_out.metrics_export. These commands show them and "
                    "export them; see docs/metrics.md.")
    sub = m.add_subparsers(dest="metrics_command", metavar="ACTION", required=True)
    show = sub.add_parser("show", parents=[db_parent], help="print the metrics of a run, or the Prometheus exposition",
                          description="Print the rows a run recorded in idr_out.metrics_export (default: the latest "
                                      "run), or with --format prometheus what `idr metrics serve` would serve now.")
    show.add_argument("--run", metavar="RUN_ID", help="the run to show (default: the latest run with metrics)")
    show.add_argument("--format", choices=["table", "json", "prometheus"], default="table",
                      help="table (default), json, or prometheus (text exposition of the latest state)")
    serve = sub.add_parser("serve", parents=[db_parent], help="serve /metrics for Prometheus to scrape",
                           description="Run an HTTP exporter that reads the database on every scrape. "
                                       "Stops on Ctrl-C or SIGTERM.")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)")
    serve.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free)")
    push = sub.add_parser("push", parents=[db_parent], help="push the latest metrics to a Pushgateway or a textfile",
                          description="Push the latest state (what `serve` would serve) once. --pushgateway "
                                      "push-adds it to the group job=JOB (and env=metrics_env if set); --textfile "
                                      "writes it atomically for node-exporter's textfile collector. Does not change "
                                      "exported_at (that tracks the exporters configured in idr_meta.config).")
    push.add_argument("--pushgateway", metavar="URL", help="Pushgateway base URL, e.g. http://127.0.0.1:9091")
    push.add_argument("--job", default="idr", help="Pushgateway job label (default idr)")
    push.add_argument("--replace", action="store_true",
                      help="replace the whole group (HTTP PUT) instead of push-add (POST)")
    push.add_argument("--textfile", metavar="PATH", help="file to write, e.g. /var/lib/node_exporter/idr.prom")
    _retry_args(push)
    export = sub.add_parser("export", parents=[db_parent], help="run the exporters configured in idr_meta.config now",
                            description="Deliver every pending row of idr_out.metrics_export with the exporters named "
                                        "in idr_meta.config metrics_exporters, as a run does when it ends. Exit 1 if "
                                        "an exporter failed (its rows stay pending).")
    _retry_args(export)


def main(args) -> int:
    return {"show": _show, "serve": _serve, "push": _push, "export": _export}[args.metrics_command](args)


def _policy(args):
    from .retry import RetryPolicy

    return RetryPolicy.from_settings(attempts=args.attempts, timeout=args.timeout)


def _open(db: str, *, write: bool = False):
    from ..backends.duckdb import DuckDBBackend
    from ..publish.reader import open_for_reading
    from .store import require_table

    # Reading works while a run holds the file (from the published snapshot).
    backend = DuckDBBackend.open(db, create=False) if write else open_for_reading(db)[0]
    try:
        require_table(backend, db)
    except BaseException:
        backend.close()
        raise
    return backend


def _show(args) -> int:
    import json

    from ..errors import InputError
    from . import store

    if args.format == "prometheus":
        if args.run:
            raise InputError("--run cannot be combined with --format prometheus (it shows the latest state)")
        from .export import read_settings
        from .prometheus import exposition, families

        backend = _open(args.db)
        try:
            state = store.latest_state(backend)
            env = read_settings(backend).env
        finally:
            backend.close()
        sys.stdout.write(exposition(families(state, {"env": env} if env else None)).decode())
        return 0
    backend = _open(args.db)
    try:
        run_id = args.run or store.latest_run_id(backend)
        rows = [] if run_id is None else backend.rows(
            "SELECT metric_name, dimensions, metric_value, metric_type, recorded_at, exported_at, exported_to "
            "FROM idr_out.metrics_export WHERE run_id = ? ORDER BY metric_name, dimensions NULLS FIRST",
            [run_id])
    finally:
        backend.close()
    if run_id is None:
        from ..hints import idr_command

        print(f"(no metrics recorded yet: {idr_command('run', '--run-mode', 'FULL', db=args.db)})")
        return 0
    if not rows:
        raise InputError(f"--run {run_id}: no metrics recorded for this run")
    if args.format == "json":
        doc = [{"run_id": run_id, "metric_name": n, "dimensions": store.dims(d), "metric_value": v, "metric_type": t,
                "recorded_at": r.isoformat(), "exported_at": e and e.isoformat(), "exported_to": x}
               for n, d, v, t, r, e, x in rows]
        print(json.dumps(doc, indent=2))
        return 0
    print(f"run {run_id}, recorded {rows[0][4]:%Y-%m-%d %H:%M:%S} UTC")
    print(f"{'metric_name':<30} {'dimensions':<44} {'value':>14} {'type':<8} exported_at")
    for n, d, v, t, _r, e, _x in rows:
        value = f"{v:,.0f}" if float(v).is_integer() else f"{v:,.3f}"
        print(f"{n:<30} {d or '':<44} {value:>14} {t:<8} {'-' if e is None else f'{e:%Y-%m-%d %H:%M:%S}'}")
    return 0


def _serve(args) -> int:
    from .server import serve

    return serve(args.db, args.host, args.port)


def _push(args) -> int:
    from ..errors import InputError
    from . import store
    from .export import read_settings
    from .prometheus import families, push_gateway, write_textfile
    from ..errors import ExportError

    if not args.pushgateway and not args.textfile:
        raise InputError("nothing to push to: give --pushgateway URL and/or --textfile PATH")
    backend = _open(args.db)
    try:
        state = store.latest_state(backend)
        env = read_settings(backend).env
    finally:
        backend.close()  # before any network I/O: an open connection would keep runs out
    if state.last_run_at is None:
        raise InputError(f"--db {args.db}: no run has recorded metrics yet")
    failed = 0
    for target, action in (
        (args.pushgateway, lambda: push_gateway(args.pushgateway, families(state), job=args.job,
                                                grouping_key={"env": env} if env else None,
                                                replace=args.replace, policy=_policy(args))),
        (args.textfile, lambda: write_textfile(args.textfile, families(state, {"env": env} if env else None))),
    ):
        if not target:
            continue
        try:
            action()
            print(f"pushed the latest metrics to {target if target == args.textfile else _safe(target)}")
        except ExportError as e:
            print(f"idr: push failed: {e}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def _safe(url: str) -> str:
    from .retry import redact_url

    return redact_url(url)


def _export(args) -> int:
    from ..errors import InputError
    from .export import EXPORTERS, export_after_run, read_settings
    from .store import pending_count

    backend = _open(args.db, write=True)
    try:
        settings = read_settings(backend)
        if not settings.exporters:
            raise InputError("no exporters configured: set idr_meta.config metrics_exporters to some of "
                             f"{', '.join(EXPORTERS)}")
        before = pending_count(backend)
        warnings = export_after_run(backend, None, policy=_policy(args))
        after = pending_count(backend)
    finally:
        backend.close()
    for w in warnings:
        print(f"idr: warning: {w}", file=sys.stderr)
    print(f"exported with {', '.join(settings.exporters)}: {before - after:,} rows marked exported, "
          f"{after:,} still pending")
    return 1 if warnings else 0
