"""benchmarks/serve_load.py runs end to end (tiny rates, the demo database, a few seconds)."""

from __future__ import annotations

import io
import json
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed")
sys.path.insert(0, str(Path(__file__).parent))

import serve_load  # noqa: E402


def test_serve_load_reports_latency_and_a_run_publishing(tmp_path):
    from idr.demo import run_demo

    db = tmp_path / "idr.duckdb"
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        run_demo(str(db), persons=200, seed=3)
    out = tmp_path / "serve.json"
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        assert serve_load.main(["--db", str(db), "--rates", "50", "--seconds", "2", "--samples", "200",
                                "--incr-rate", "50", "--incr-timeout", "60", "--connections", "4",
                                "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    steady, during_run = result["phases"]
    assert steady["answered"] == steady["sent"] > 50 and steady["errors"] == 0
    assert steady["p50_ms"] <= steady["p95_ms"] <= steady["p99_ms"]
    assert set(steady["statuses"]) <= {"200", "404"} and len(steady["load_average_before"]) == 3
    assert during_run["switched"] and during_run["run_exit"] == 0 and during_run["errors"] == 0
