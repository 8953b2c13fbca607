"""A snapshot's index built in a child process and mapped into the serving one.

Why: built in a thread of the serving process, the index of 10M records took about 64 s
of CPU, much of it in long numpy and Arrow calls holding the GIL, and lookups queued
behind them (p99 499 ms while an INCR run published, loaded machine). Here a child
process at a lower priority (nice 10) builds it (index.build) and writes each array to
a private temporary folder (.npy; Arrow IPC for strings; a pickle for the small rest).
The service maps the files (no copy, no parsing: milliseconds), removes the folder (the
mappings keep the data alive) and switches. The build's peak memory is the child's and
is returned to the system when it exits.

    python -m idr.api.index_process DB FOLDER    (started by `build`, not by people)
"""

from __future__ import annotations

import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..errors import InternalError
from ..normalize.values import ValueNormaliser
from . import index as index_mod

NICE = 10  # the build yields the CPU to requests (and to runs)
NOTHING_PUBLISHED = 3  # the child's exit code when no snapshot is published
REST = "rest.pickle"


def save(index: index_mod.SnapshotIndex, folder: Path) -> None:
    rest, arrow = {}, {}
    for name, value in vars(index).items():
        if isinstance(value, np.ndarray):
            np.save(folder / f"{name}.npy", value, allow_pickle=False)
        elif isinstance(value, (pa.Array, pa.Table)):
            arrow[name] = "table" if isinstance(value, pa.Table) else "array"
            table = value if isinstance(value, pa.Table) else pa.table({name: value})
            with pa.OSFile(str(folder / f"{name}.arrow"), "wb") as f, pa.ipc.new_file(f, table.schema) as w:
                w.write_table(table)
        elif name != "normaliser":  # rebuilt from the served run's configuration
            rest[name] = value
    with open(folder / REST, "wb") as f:
        pickle.dump({"rest": rest, "arrow": arrow}, f)


def load(folder: Path) -> index_mod.SnapshotIndex:
    """The index `save` wrote, its arrays mapped from the files (read-only)."""
    with open(folder / REST, "rb") as f:
        saved = pickle.load(f)  # written by our own child into a folder only we can write
    index = index_mod.SnapshotIndex.__new__(index_mod.SnapshotIndex)
    vars(index).update(saved["rest"])
    for path in folder.glob("*.npy"):
        setattr(index, path.stem, np.asarray(np.load(path, mmap_mode="r")))
    for name, kind in saved["arrow"].items():
        table = pa.ipc.open_file(pa.memory_map(str(folder / f"{name}.arrow"))).read_all()
        if kind == "array":
            column = table.column(0)
            table = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
        setattr(index, name, table)
    run = index.served_run
    index.normaliser = ValueNormaliser.from_snapshot_json(run["config_snapshot"]) \
        if run and run["config_snapshot"] else None
    return index


class Builder:
    """Builds indexes in child processes, one at a time; `stop` ends a build in progress."""

    def __init__(self):
        self._child: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._stopped = False

    def build(self, db: Path) -> index_mod.SnapshotIndex | None:
        """The index of the snapshot the pointer names now (None when nothing is published)."""
        folder = Path(tempfile.mkdtemp(prefix="idr-serve-index-"))
        try:
            with self._lock:
                if self._stopped:
                    return None
                self._child = subprocess.Popen([sys.executable, "-m", "idr.api.index_process", str(db), str(folder)],
                                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                               stderr=subprocess.PIPE)
            _, err = self._child.communicate()
            code = self._child.returncode
            if code == NOTHING_PUBLISHED:
                return None
            if code != 0:
                raise InternalError(f"the index build exited with {code} ({_error_name(err)})")
            return load(folder)
        finally:
            self._child = None
            shutil.rmtree(folder, ignore_errors=True)  # mapped files stay readable until unmapped

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            child = self._child
        if child is not None and child.poll() is None:
            child.kill()


def _error_name(stderr: bytes) -> str:
    """The exception's type from the child's traceback, never its message (it may hold values)."""
    lines = stderr.decode(errors="replace").strip().splitlines()
    return lines[-1].split(":", 1)[0][:100] if lines else "no error output"


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM when the service dies (no orphan builds)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def main(argv: list[str]) -> int:
    db, folder = Path(argv[0]), Path(argv[1])
    _die_with_parent()
    os.nice(NICE)
    index = index_mod.build(db)
    if index is None:
        return NOTHING_PUBLISHED
    save(index, folder)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
