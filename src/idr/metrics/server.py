"""`idr metrics serve`: an HTTP exporter that reads the database on every scrape.

The database is opened read-only for the few milliseconds of one query and closed again,
because DuckDB lets no other process open a file while one holds it for writing: during a
run the scrape reads the published snapshot instead (docs/results.md). When neither can be
read the exporter serves the state it read last and `idr_up 0`, so dashboards keep their
lines; `idr_up 1` means the values were read on this scrape.
"""

from __future__ import annotations

import signal
import sys
import threading

import duckdb

from ..publish.reader import open_for_reading
from ..errors import IdrError, LockedError
from . import store
from .prometheus import families, registry_for


class DatabaseCollector:
    def __init__(self, db: str):
        self.db = db
        self._last: tuple[store.LatestState, dict] | None = None
        self._lock = threading.Lock()
        self._env = ""

    def read(self) -> tuple[store.LatestState, dict]:
        from ..config.meta import read_config

        # While a run holds the file, the published snapshot (which has no idr_meta: the
        # environment label read last time stays).
        backend, from_snapshot = open_for_reading(self.db)
        try:
            store.require_table(backend, self.db)
            state = store.latest_state(backend)
            if from_snapshot:
                env = self._env
            else:
                try:
                    env = read_config(backend).setting("metrics_env").strip()
                except IdrError:
                    env = ""
                self._env = env
        finally:
            backend.close()
        return state, ({"env": env} if env else {})

    def load(self) -> list:
        from prometheus_client.core import GaugeMetricFamily

        try:
            current = self.read()
            up = 1.0
            with self._lock:
                self._last = current
        except (IdrError, duckdb.Error):
            up = 0.0
            with self._lock:
                current = self._last
        fams = families(*current) if current else []
        labels = current[1] if current else {}
        fam = GaugeMetricFamily("idr_up", "1 if the exporter read the database on this scrape, 0 if it could not "
                                "(e.g. a run holds it) and serves the last values it read", labels=list(labels))
        fam.add_metric(list(labels.values()), up)
        return [*fams, fam]


def serve(db: str, host: str, port: int) -> int:
    """Serve /metrics until SIGINT or SIGTERM."""
    from prometheus_client import start_http_server

    collector = DatabaseCollector(db)
    try:
        collector.read()  # refuse a missing or uninitialised database at start, not at the first scrape
    except LockedError:
        pass  # a run holds it: serve idr_up 0 until it ends
    server, thread = start_http_server(port, addr=host, registry=registry_for(collector.load))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    bound_host, bound_port = server.server_address[:2]
    print(f"idr: serving metrics of {db} on http://{bound_host}:{bound_port}/metrics (Ctrl-C to stop)", flush=True)
    try:
        stop.wait()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    print("idr: metrics exporter stopped", file=sys.stderr)
    return 0
