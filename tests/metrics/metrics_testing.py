"""Helpers for the metrics tests: a small database with real runs, services, HTTP receivers.

Tests that need promtool or a Pushgateway skip when it is missing, and fail instead when
IDR_REQUIRE_SERVICES=1 (as .ci/run sets it, after installing and starting both).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest

from idr.errors import RunError
from idr.runs.runner import run
from idr_testing import cli, make_db, need  # noqa: F401 - cli is used by the metrics tests

PUSHGATEWAY_URL = os.environ.get("IDR_PUSHGATEWAY_URL", "http://127.0.0.1:9091")
# Connection refused at once: nothing listens on port 1 of the loopback.
DEAD_URL = "http://127.0.0.1:1"


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        need("promtool is not installed (Debian package prometheus; .ci/run installs it)")
    return path


def pushgateway() -> str:
    try:
        with urllib.request.urlopen(f"{PUSHGATEWAY_URL}/-/ready", timeout=2) as r:
            r.read()
    except OSError:
        need(f"no Pushgateway at {PUSHGATEWAY_URL} (Debian package prometheus-pushgateway; .ci/run starts it)")
    return PUSHGATEWAY_URL


# ---------------------------------------------------------------------------------------
# A database with two rules, a skipped PHONE group and excluded emails.

def people() -> list[dict]:
    rows = []
    for i in range(40):
        email = f"p{i // 3}@x.com" if i < 30 else "test@test.com" if i < 34 else None
        phone = "5550000" if i < 6 else f"555{i:04d}" if i >= 34 else None
        rows.append({"id": str(i), "email": email, "phone": phone})
    # A chain (emails link 0-1, 2-3, ..., phones 1-2, 3-4, ...): several rounds for the sql
    # components strategy, so capping it at one round makes a real run fail.
    for i in range(12):
        rows.append({"id": f"c{i}", "email": f"c{i // 2}@chain.com", "phone": f"777{(i + 1) // 2:04d}"})
    return rows


def config(settings: dict | None = None) -> dict:
    return {
        "sources": [{"table_id": "src", "table_fqn": "people", "entity_key_expr": "id",
                     "identifiers": [{"identifier_type": "EMAIL", "identifier_value_expr": "email"},
                                     {"identifier_type": "PHONE", "identifier_value_expr": "phone"}]}],
        "rules": [{"rule_id": "email", "identifier_type": "EMAIL", "canonicalize": "EMAIL", "max_group_size": 100},
                  {"rule_id": "phone", "identifier_type": "PHONE", "canonicalize": "DIGITS", "max_group_size": 3}],
        "exclusions": [{"identifier_type": "EMAIL", "identifier_value_pattern": "test@test.com", "reason": "test"}],
        "config": dict(settings or {}),
    }


def build_db(path: Path, settings: dict | None = None) -> Path:
    return make_db(path, {"people": people()}, config(settings))


def set_config(db: Path, **settings: str) -> None:
    con = duckdb.connect(str(db))
    try:
        for key, value in settings.items():
            con.execute("DELETE FROM idr_meta.config WHERE config_key = ?", [key])
            con.execute("INSERT INTO idr_meta.config (config_key, config_value) VALUES (?, ?)", [key, value])
    finally:
        con.close()


def query(db: Path, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def recorded_run(db: Path, **kwargs) -> str:
    """A real FULL run whose metrics are in metrics_export; returns its run id."""
    return run(str(db), "FULL", **kwargs).run_id


def failed_run(db: Path) -> str:
    """A real run that fails (the sql components strategy capped at one round)."""
    with pytest.raises(RunError):
        run(str(db), "FULL", strategy="sql", max_iters=1)
    (run_id,), = query(db, "SELECT run_id FROM idr_out.run_history WHERE status = 'FAILED' "
                           "ORDER BY started_at DESC LIMIT 1")
    return run_id


def metrics_rows(db: Path, run_id: str) -> dict[tuple[str, str | None], float]:
    return {(n, d): v for n, d, v in query(
        db, "SELECT metric_name, dimensions, metric_value FROM idr_out.metrics_export WHERE run_id = ?", [run_id])}


# ---------------------------------------------------------------------------------------
# A local HTTP receiver.

@dataclass
class Request:
    method: str
    path: str
    headers: dict
    body: bytes


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records every request and answers with the next
    status of `statuses` (the last one repeats). `check(request) -> int | None` may
    replace the status, e.g. 401 when a signature does not verify. `delay` seconds are
    waited before answering (to make a client time out)."""

    statuses: list = field(default_factory=lambda: [200])
    check: object = None
    delay: float = 0.0
    body: bytes = b"{}"
    requests: list = field(default_factory=list)

    def __enter__(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                req = Request("POST", self.path, {k.lower(): v for k, v in self.headers.items()},
                              self.rfile.read(length))
                index = len(receiver.requests)
                receiver.requests.append(req)
                status = receiver.statuses[min(index, len(receiver.statuses) - 1)]
                if receiver.check is not None:
                    status = receiver.check(req) or status
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(receiver.body)))
                self.end_headers()
                self.wfile.write(receiver.body)

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a client that timed out and went away: expected in the timeout tests

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def json(self, i: int = -1):
        return json.loads(self.requests[i].body)
