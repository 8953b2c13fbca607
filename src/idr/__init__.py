"""idr: deterministic identity resolution.

    import idr
    result = idr.run("idr.duckdb", mode="FULL")

Heavy modules load lazily so `idr --help` starts fast.
"""

__version__ = "0.1.0"


def run(db, mode="FULL", **kwargs):
    """Run identity resolution on a DuckDB database; see idr.runs.runner.run."""
    from .runs.runner import run as _run

    return _run(db, mode, **kwargs)
