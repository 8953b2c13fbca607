"""idr: deterministic identity resolution.

    import idr
    result = idr.run("idr.duckdb", mode="FULL")
    con = idr.open_results("idr.duckdb")   # read the published results from any process

Heavy modules load lazily so `idr --help` starts fast.
"""

from __future__ import annotations

__version__ = "0.1.0"


def run(db: str, mode: str = "FULL", *, max_iters: int | None = None, strategy: str | None = None,
        progress=None, dry_run: bool = False, auto_full: bool = True, wait: float | None = None,
        engine: str | None = None):
    """Run identity resolution on the DuckDB database at `db` and publish the results;
    returns an idr.runs.runner.RunResult (what `idr run` does).

    mode: "FULL" recomputes everything; "INCR" only what changed since the last published
    run (it runs as FULL when that would not be exact, unless auto_full is False: then
    InputError). max_iters: round limit of the "sql" components strategy (default: config
    max_iters). strategy: "inprocess" or "sql" (default: config components_strategy).
    progress: callable receiving each stage's StageRecord as the stage finishes.
    dry_run: compute everything, publish nothing, record the would-be changes.
    wait: seconds to wait for a run in progress on the same database (default: fail at once).
    engine: "duckdb" or "spark" (default: $IDR_ENGINE, else duckdb); see docs/spark.md.
    Raises idr.errors.ConfigError/InputError/LockedError (nothing written), RunError (the
    run failed and is recorded FAILED) or idr.errors.Interrupted."""
    from .runs.runner import run as _run

    return _run(db, mode, max_iters=max_iters, strategy=strategy, progress=progress, dry_run=dry_run,
                auto_full=auto_full, wait=wait, engine=engine)


def open_results(db, **kwargs):
    """Read-only connection to the published results; see idr.publish.reader.open_results."""
    from .publish.reader import open_results as _open

    return _open(db, **kwargs)


def snapshot_version(db):
    """Id of the published snapshot (cheap, for polling); see idr.publish.reader."""
    from .publish.reader import snapshot_version as _version

    return _version(db)
