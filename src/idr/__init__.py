"""idr: deterministic identity resolution.

    import idr
    result = idr.run("idr.duckdb", mode="FULL")
    con = idr.open_results("idr.duckdb")   # read the published results from any process

Heavy modules load lazily so `idr --help` starts fast.
"""

__version__ = "0.1.0"


def run(db, mode="FULL", **kwargs):
    """Run identity resolution on a DuckDB database; see idr.runs.runner.run."""
    from .runs.runner import run as _run

    return _run(db, mode, **kwargs)


def open_results(db, **kwargs):
    """Read-only connection to the published results; see idr.publish.reader.open_results."""
    from .publish.reader import open_results as _open

    return _open(db, **kwargs)


def snapshot_version(db):
    """Id of the published snapshot (cheap, for polling); see idr.publish.reader."""
    from .publish.reader import snapshot_version as _version

    return _version(db)
