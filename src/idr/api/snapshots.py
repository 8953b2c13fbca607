"""Which snapshot is served, and the switch to a new one.

A thread reads the snapshot pointer every IDR_SNAPSHOT_POLL_SECONDS. When it names a new
snapshot, a child process builds that snapshot's whole index beside the current one
(index_process.py: off the serving process's CPU and GIL), the thread maps it and
replaces the reference in one assignment. A request takes the reference once and answers
from that index to the end, so it never sees half of a switch; the old index is freed
when its last request is done. A snapshot that cannot be loaded (damaged, or removed by
a later publish while it was read) is logged and counted, the previous one stays served,
and the next poll tries again.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from ..errors import IdrError
from ..publish import layout
from . import index as index_mod
from .index_process import Builder
from .metrics import SNAPSHOT_LOAD_FAILURES, SNAPSHOT_LOAD_SECONDS, SNAPSHOT_RECORDS, SNAPSHOT_SWITCHES

log = logging.getLogger("idr.api")


class SnapshotHolder:
    def __init__(self, db: Path, poll_seconds: float):
        self.db = Path(db)
        self.poll_seconds = poll_seconds
        self.current: index_mod.SnapshotIndex | None = None
        self.loaded_at: float | None = None
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._builder = Builder()
        self._thread: threading.Thread | None = None

    def pointer(self) -> str | None:
        """The snapshot the pointer names now (None: nothing published or unreadable)."""
        try:
            p = layout.read_pointer(self.db)
        except IdrError:
            return None
        return p["snapshot"] if p else None

    def refresh(self) -> bool:
        """Load the pointer's snapshot if it is not the one served. True when switched."""
        wanted = self.pointer()
        if wanted is None or (self.current is not None and self.current.version == wanted):
            return False
        try:
            new = self._builder.build(self.db)
        except (IdrError, OSError, Exception) as e:  # noqa: BLE001 - keep serving the previous snapshot
            self.last_error = f"{type(e).__name__} loading snapshot {wanted}"
            SNAPSHOT_LOAD_FAILURES.inc()
            log.warning("snapshot load failed", extra={"snapshot": wanted, "error": type(e).__name__})
            return False
        if new is None:
            return False
        self.current, self.loaded_at, self.last_error = new, time.time(), None
        SNAPSHOT_SWITCHES.inc()
        SNAPSHOT_LOAD_SECONDS.set(new.build_seconds)
        SNAPSHOT_RECORDS.set(new.records)
        log.info("snapshot loaded", extra={"snapshot": new.version, "records": new.records,
                                           "load_seconds": round(new.build_seconds, 3)})
        return True

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="idr-snapshot-poll", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            self._stop.wait(self.poll_seconds)

    def stop(self) -> None:
        self._stop.set()
        self._builder.stop()  # a build in progress is ended, not waited for
        if self._thread is not None:
            self._thread.join(timeout=5)
