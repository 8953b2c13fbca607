"""The library entry point shows its real parameters (help(idr.run)) and passes them on."""

from __future__ import annotations

import inspect

import idr
from idr.runs import runner


def test_idr_run_has_the_runners_parameters():
    ours, theirs = inspect.signature(idr.run).parameters, inspect.signature(runner.run).parameters
    assert [(p.name, p.kind, p.default) for p in ours.values()] == \
        [(p.name, p.kind, p.default) for p in theirs.values()]
    assert all(p.kind is not inspect.Parameter.VAR_KEYWORD for p in ours.values())


def test_idr_run_passes_every_parameter_on(monkeypatch):
    seen = {}
    monkeypatch.setattr(runner, "run", lambda *args, **kwargs: seen.update(args=args, kwargs=kwargs))
    progress = print
    idr.run("x.duckdb", "INCR", max_iters=7, strategy="sql", progress=progress, dry_run=True, auto_full=False,
            wait=5.0, engine="spark")
    assert seen == {"args": ("x.duckdb", "INCR"), "kwargs": {"max_iters": 7, "strategy": "sql", "progress": progress,
                                                            "dry_run": True, "auto_full": False,
                                                            "wait": 5.0, "engine": "spark"}}
