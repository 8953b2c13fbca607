"""`idr metrics`: show, arguments and exit codes."""

from __future__ import annotations

import json

import duckdb

from idr.schema import ensure_schema
from metrics_testing import cli


def test_help_lists_the_subcommands():
    code, out, _ = cli("metrics", "--help")
    assert code == 0
    assert all(word in out for word in ("show", "serve", "push", "export"))


def test_show_table_and_json(db):
    path, run_id = db
    code, out, _ = cli("metrics", "show", "--db", str(path))
    assert code == 0 and out.startswith(f"run {run_id}, recorded ")
    assert '{"rule": "PHONE"}' in out and "idr_largest_cluster_size" in out
    code, out, _ = cli("metrics", "show", "--format", "json", "--run", run_id, "--db", str(path))
    doc = json.loads(out)
    assert code == 0 and {r["run_id"] for r in doc} == {run_id}
    row = next(r for r in doc if r["metric_name"] == "idr_groups_skipped" and r["dimensions"] == {"rule": "PHONE"})
    assert row["metric_value"] == 1 and row["metric_type"] == "counter" and row["exported_at"] is None


def test_bad_input_exits_2(db, tmp_path):
    path, run_id = db
    assert cli("metrics", "show", "--run", "run_nope", "--db", str(path))[0] == 2
    code, _, err = cli("metrics", "show", "--format", "prometheus", "--run", run_id, "--db", str(path))
    assert code == 2 and "--run cannot be combined" in err
    assert cli("metrics", "show", "--db", str(tmp_path / "missing.duckdb"))[0] == 2
    assert cli("metrics", "serve", "--port", "70000", "--db", str(path))[0] == 2
    assert cli("metrics", "push", "--attempts", "0", "--db", str(path))[0] == 2


def test_show_before_any_run(tmp_path):
    path = tmp_path / "empty.duckdb"
    con = duckdb.connect(str(path))
    ensure_schema(con)
    con.close()
    code, out, _ = cli("metrics", "show", "--db", str(path))
    assert code == 0 and "no metrics recorded yet" in out
    code, _, err = cli("metrics", "push", "--textfile", str(tmp_path / "x.prom"), "--db", str(path))
    assert code == 2 and "no run has recorded metrics yet" in err
