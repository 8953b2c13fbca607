"""What each stage costs the machine: CPU seconds, peak memory, bytes read and written.

- CPU: time.process_time(), the CPU time of every thread of the process (DuckDB's
  worker threads included), user plus system.
- Peak memory: the process's resident set, sampled every 20 ms by a daemon thread while
  a stage runs (Linux /proc/self/statm); the largest sample. A spike shorter than that
  can be missed; the process-wide high-water mark (getrusage) bounds it from above.
- Bytes: /proc/self/io rchar/wchar, the bytes the process read and wrote through system
  calls (source files, the database file, DuckDB's spill files), cached or not.
Where /proc is absent (not Linux) memory and bytes are None: unknown, not zero.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
SAMPLE_SECONDS = 0.02


def rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return None


def io_bytes() -> tuple[int, int] | None:
    """(bytes read, bytes written) by the process so far."""
    try:
        with open("/proc/self/io", "rb") as f:
            fields = dict(line.split(b":", 1) for line in f.read().splitlines() if b":" in line)
        return int(fields[b"rchar"]), int(fields[b"wchar"])
    except (OSError, KeyError, ValueError):
        return None


@dataclass
class StageCost:
    cpu_seconds: float | None = None
    peak_memory_bytes: int | None = None
    bytes_read: int | None = None
    bytes_written: int | None = None


class Meter:
    """Measures one stage: start(), then stop() returns its StageCost."""

    def start(self) -> "Meter":
        self._cpu = time.process_time()
        self._io = io_bytes()
        self._peak = rss_bytes()
        self._done = threading.Event()
        if self._peak is not None:
            self._thread = threading.Thread(target=self._sample, name="idr-memory", daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._done.wait(SAMPLE_SECONDS):
            rss = rss_bytes()
            if rss is not None and rss > self._peak:
                self._peak = rss

    def stop(self) -> StageCost:
        self._done.set()
        cost = StageCost(cpu_seconds=time.process_time() - self._cpu)
        if self._peak is not None:
            self._thread.join()
            cost.peak_memory_bytes = max(self._peak, rss_bytes() or 0)
        io = io_bytes()
        if io is not None and self._io is not None:
            cost.bytes_read, cost.bytes_written = io[0] - self._io[0], io[1] - self._io[1]
        return cost
