"""Run one command and measure it: wall seconds, peak RSS, CPU seconds.

    python benchmarks/measure.py OUT.json -- idr --db x.duckdb run --run-mode FULL

bench.py starts this helper as a fresh process for each measured command, so the
helper's RUSAGE_CHILDREN covers exactly one child (and whatever that child waited for):

* ``wall_seconds``      Popen() to wait() returning, perf_counter (excludes this helper's
                        own ~50 ms interpreter start-up);
* ``peak_rss_bytes``    getrusage(RUSAGE_CHILDREN).ru_maxrss: the kernel's high-water mark
                        of the child's resident set (Linux reports KiB; converted);
* ``sampled_peak_rss_bytes``  psutil, every 50 ms, RSS summed over the child and its
                        descendants (catches helpers that are not waited for; may miss
                        spikes shorter than the interval);
* ``cpu_user_seconds`` / ``cpu_system_seconds``  from the same rusage.

The child's stdout/stderr pass through; the measurement goes to OUT.json.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import threading
import time

import psutil


def _sample(pid: int, stop: threading.Event, peak: list[int]) -> None:
    try:
        proc = psutil.Process(pid)
    except psutil.Error:
        return
    while not stop.is_set():
        try:
            rss = proc.memory_info().rss
            for child in proc.children(recursive=True):
                try:
                    rss += child.memory_info().rss
                except psutil.Error:
                    pass
            peak[0] = max(peak[0], rss)
        except psutil.Error:
            return
        stop.wait(0.05)


def measure(cmd: list[str]) -> dict:
    stop, peak = threading.Event(), [0]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd)
    sampler = threading.Thread(target=_sample, args=(proc.pid, stop, peak), daemon=True)
    sampler.start()
    returncode = proc.wait()
    wall = time.perf_counter() - t0
    stop.set()
    sampler.join()
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    scale = 1 if sys.platform == "darwin" else 1024  # macOS reports bytes, Linux KiB
    return {
        "cmd": cmd,
        "returncode": returncode,
        "wall_seconds": wall,
        "peak_rss_bytes": ru.ru_maxrss * scale,
        "sampled_peak_rss_bytes": peak[0],
        "cpu_user_seconds": ru.ru_utime,
        "cpu_system_seconds": ru.ru_stime,
    }


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    out, cmd = argv[0], argv[2:]
    result = measure(cmd)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
