"""`idr serve` and `idr apikey create|list|revoke`. Only argparse loads when the parser is built."""

from __future__ import annotations

import argparse
import sys


def add_parsers(sub, db_parent: argparse.ArgumentParser) -> None:
    from ..argtypes import positive_int

    s = sub.add_parser(
        "serve", parents=[db_parent], help="HTTP lookup service over the published results",
        description="Serve identity lookups over HTTP from the published snapshot (FastAPI; OpenAPI at /docs). "
                    "Settings come from the environment (REDIS_URL, CACHE_TTL_SECONDS, RATE_LIMIT_*, ...; see "
                    "docs/serve.md); a bad one stops the service with exit code 2. Needs the `serve` extra: "
                    "pip install 'idr[serve]'.")
    s.add_argument("--host", default=None, help="address to listen on (default $IDR_SERVE_HOST or 127.0.0.1)")
    s.add_argument("--port", type=positive_int, default=None, help="port (default $IDR_SERVE_PORT or 8080)")
    s.add_argument("--workers", type=positive_int, default=None,
                   help="worker processes (default $IDR_SERVE_WORKERS or 1); each loads its own index of the "
                        "snapshot, so memory grows with them; use Redis to share limits and cache between them")

    k = sub.add_parser("apikey", help="create, list and revoke API keys of the lookup service",
                       description="API keys of `idr serve`, stored as salted scrypt hashes in "
                                   "<db>.idr/apikeys.sqlite3 (or $IDR_APIKEY_FILE). A key is printed once, "
                                   "at creation; a revoked key is refused at once by every replica.")
    ks = k.add_subparsers(dest="apikey_command", metavar="ACTION", required=True)
    c = ks.add_parser("create", parents=[db_parent], help="create a key and print it (once)")
    c.add_argument("--name", required=True, help="who or what uses the key (shown in logs and lists)")
    c.add_argument("--scope", choices=("read", "admin"), default="read",
                   help="read: /v1 routes; admin: also /internal/status (default read)")
    ks.add_parser("list", parents=[db_parent], help="list keys (ids, names, scopes; never the keys)")
    r = ks.add_parser("revoke", parents=[db_parent], help="revoke a key by its id")
    r.add_argument("key_id", help="the key's id, as `idr apikey list` shows it")


def cmd_serve(args) -> int:
    from ..errors import InputError
    from ..settings import get_serve_settings

    settings = get_serve_settings(host=args.host, port=args.port, workers=args.workers)
    try:
        import uvicorn

        from .app import create_app
    except ImportError as e:
        raise InputError(f"idr serve needs the serve extra (pip install 'idr[serve]'): {e.name} is missing") from None
    # uvicorn's own access log would print paths and query strings (identifier values): off.
    options = dict(host=settings.host, port=settings.port, access_log=False, log_config=None, server_header=False,
                   lifespan="on")
    if settings.workers == 1:
        access_logs(args.log_format, args.log_file)
        uvicorn.run(create_app(args.db, settings), **options)
        return 0
    # Several processes: uvicorn starts each by importing the factory, which reads these.
    import os
    from pathlib import Path

    os.environ.update({"IDR_DB": str(Path(args.db).resolve()), "IDR_SERVE_LOG_FORMAT": args.log_format or "",
                       "IDR_SERVE_LOG_FILE": args.log_file or ""})
    uvicorn.run("idr.api.app:app_from_environment", factory=True, workers=settings.workers, **options)
    return 0


def access_logs(log_format: str | None, log_file: str | None) -> None:
    """Request lines at INFO unless IDR_LOG_LEVEL says otherwise; JSON unless --log-format
    or IDR_LOG_FORMAT says plain."""
    import logging

    from ..logs import configure
    from ..settings import get_settings

    settings = get_settings()
    if log_format or "log_format" not in settings.model_fields_set:  # else the CLI applied IDR_LOG_FORMAT
        configure(log_format=log_format or "json", log_file=log_file or None)
    logger = logging.getLogger("idr")
    if settings.log_level is None:
        logger.setLevel(logging.INFO)


def cmd_apikey(args) -> int:
    from ..settings import get_serve_settings
    from . import keys

    path = keys.store_path(args.db, get_serve_settings().apikey_file)
    if args.apikey_command == "create":
        record, key = keys.create(path, args.name, args.scope)
        print(key)
        print(f"key id {record.key_id}, name {record.name!r}, scope {record.scope}: store it now, it is not shown "
              f"again (only its hash is kept in {path})", file=sys.stderr)
    elif args.apikey_command == "list":
        rows = keys.list_keys(path)
        if not rows:
            print(f"no API keys in {path}")
        for k in rows:
            state = f"revoked {k.revoked_at}" if k.revoked_at else "active"
            print(f"{k.key_id}  {k.scope:<5}  {state:<30}  created {k.created_at}  {k.name}")
    else:
        k = keys.revoke(path, args.key_id)
        print(f"revoked {k.key_id} ({k.name}) at {k.revoked_at}")
    return 0


COMMANDS = {"serve": cmd_serve, "apikey": cmd_apikey}
