"""Run lifecycle: statuses, stage metrics, kills, concurrency, warnings, YAML round trip."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from idr import run
from idr_testing import idr_cli, make_db, partition, query, simple_config

STAGES = ["extract", "normalize", "exclude", "group_guard", "edges", "components", "membership", "publish"]


def small_db(tmp_path, **cfg_extra):
    rows = [{"id": i, "email": f"p{i // 3}@x.com"} for i in range(30)]
    return make_db(tmp_path / "idr.duckdb", {"people": rows}, simple_config(types={"email": "EMAIL"}, **cfg_extra))


def test_success_writes_history_and_stage_metrics(tmp_path):
    db = small_db(tmp_path)
    result = run(str(db))
    (row,) = query(db, "SELECT run_id, run_mode, status, duration_seconds, entities_processed, edges_created, "
                       "clusters_total, groups_skipped, warnings, ended_at >= started_at FROM idr_out.run_history")
    assert row[:3] == (result.run_id, "FULL", "SUCCESS")
    assert row[3] > 0 and row[4:8] == (30, 20, 10, 0) and row[8] is None and row[9]
    stages = query(db, "SELECT stage_name, duration_seconds, rows_in, rows_out, rows_affected FROM "
                       "idr_out.stage_metrics WHERE run_id = ? ORDER BY started_at", [result.run_id])
    assert [s[0] for s in stages] == STAGES
    assert all(isinstance(s[1], float) and s[1] >= 0 for s in stages)
    assert dict((s[0], s[3]) for s in stages)["edges"] == 20


def test_large_cluster_threshold_gives_warnings(tmp_path):
    db = small_db(tmp_path, extra={"config": {"large_cluster_threshold": "2"}})
    result = run(str(db))
    assert result.status == "SUCCESS_WITH_WARNINGS"
    (status, large, warnings), = query(db, "SELECT status, large_clusters, warnings FROM idr_out.run_history")
    assert status == "SUCCESS_WITH_WARNINGS" and large == 10 and "large_cluster_threshold=2" in warnings
    proc = idr_cli("run", "--db", str(db))
    assert proc.returncode == 0 and "WARNING: 10 cluster(s)" in proc.stdout


def test_second_concurrent_run_is_refused(tmp_path):
    db = small_db(tmp_path)
    holder = duckdb.connect(str(db))  # stands in for a run in progress: it holds the write lock
    try:
        proc = idr_cli("run", "--db", str(db))
    finally:
        holder.close()
    assert proc.returncode == 2
    assert "in use by another process" in proc.stderr and "Traceback" not in proc.stderr
    assert query(db, "SELECT count(*) FROM idr_out.run_history") == [(0,)]


def _chain_db(tmp_path, n=300_000):
    rows = pa.table({"id": list(range(n)), "a": [f"v{i // 2}" for i in range(n)],
                     "b": [f"w{(i + 1) // 2}" for i in range(n)]})
    return make_db(tmp_path / "chain.duckdb", {"people": rows},
                   simple_config(types={"a": "NONE", "b": "NONE"}, extra={"config": {"components_strategy": "sql", "large_cluster_threshold": "1000000000"}}))


def _start_run(db):
    """The run's standard error goes to a file, so progress can be watched while it runs."""
    err = open(Path(db).with_suffix(".stderr"), "w+")
    proc = subprocess.Popen([sys.executable, "-m", "idr", "run", "--db", str(db)], stdout=subprocess.PIPE,
                            stderr=err, text=True)
    proc.err_file = err
    return proc


def _wait_for_running_row(db, proc, timeout=120):
    """The RUNNING row is committed before the first stage starts; once a stage's progress
    line is out, the (long) components stage of the chain is under way."""
    deadline = time.time() + timeout
    log = Path(db).with_suffix(".stderr")
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()
        if "idr: edges" in log.read_text():
            time.sleep(0.3)
            return
        time.sleep(0.1)
    raise AssertionError("run did not start")


def _finish(proc) -> tuple[str, str]:
    out, _ = proc.communicate(timeout=60)
    proc.err_file.seek(0)
    return out, proc.err_file.read()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_killed_run_leaves_previous_results_and_is_marked(tmp_path, sig):
    db = _chain_db(tmp_path)
    con = duckdb.connect(str(db))
    con.execute("UPDATE idr_meta.config SET config_value = 'inprocess' WHERE config_key = 'components_strategy'")
    con.close()
    first = run(str(db))
    before = partition(db)
    con = duckdb.connect(str(db))  # switch to the slow strategy so there is time to kill mid-run
    con.execute("UPDATE idr_meta.config SET config_value = 'sql' WHERE config_key = 'components_strategy'")
    con.close()
    proc = _start_run(db)
    _wait_for_running_row(db, proc)
    os.kill(proc.pid, sig)
    out, err = _finish(proc)
    assert proc.returncode != 0
    assert partition(db) == before
    assert query(db, "SELECT DISTINCT run_id FROM idr_out.identity_resolved_membership_current") == [(first.run_id,)]
    if sig != signal.SIGKILL:
        # Handled: rolled back and recorded at once; exit code 128 + signal number.
        assert "interrupted" in err and proc.returncode == 128 + sig
        assert query(db, "SELECT status FROM idr_out.run_history WHERE run_id <> ?", [first.run_id]) == \
            [("INTERRUPTED",)]
    else:
        assert query(db, "SELECT status FROM idr_out.run_history WHERE run_id <> ?", [first.run_id]) == \
            [("RUNNING",)]
    con = duckdb.connect(str(db))
    con.execute("UPDATE idr_meta.config SET config_value = 'inprocess' WHERE config_key = 'components_strategy'")
    con.close()
    result = run(str(db))
    assert result.status == "SUCCESS"
    statuses = dict(query(db, "SELECT run_id, status FROM idr_out.run_history"))
    assert sorted(statuses.values()) == ["INTERRUPTED", "SUCCESS", "SUCCESS"]
    (msg,) = [m for (m,) in query(db, "SELECT error_message FROM idr_out.run_history WHERE status = 'INTERRUPTED'")]
    assert msg
    assert partition(db) == before


def test_max_iters_reached_fails_loudly(tmp_path):
    db = _chain_db(tmp_path, n=20_000)
    proc = idr_cli("run", "--db", str(db), "--max-iters", "2")
    assert proc.returncode == 1 and "max-iters" in proc.stderr, proc.stderr
    assert query(db, "SELECT status, error_stage FROM idr_out.run_history") == [("FAILED", "components")]
    assert query(db, "SELECT count(*) FROM idr_out.identity_resolved_membership_current") == [(0,)]


def test_config_round_trip(tmp_path):
    db = small_db(tmp_path, extra={
        "exclusions": [{"identifier_type": "EMAIL", "identifier_value_pattern": "%@spam.com", "is_pattern": True,
                        "reason": "it's spam; \"quoted\""}],
        "config": {"large_cluster_threshold": "7"}})
    out1 = tmp_path / "a.yaml"
    assert idr_cli("config", "export", "--db", str(db), "--out", str(out1)).returncode == 0
    db2 = make_db(tmp_path / "two.duckdb", {"people": [{"id": 1, "email": "x"}]}, {"sources": [], "rules": []})
    proc = idr_cli("config", "load", str(out1), "--db", str(db2))
    assert proc.returncode == 0, proc.stderr
    out2 = idr_cli("config", "export", "--db", str(db2)).stdout
    assert out2 == out1.read_text()
    assert "%@spam.com" in out2 and "large_cluster_threshold" in out2


def test_seed_sql_positional_inserts_work(tmp_path):
    """The manual's own statements, verbatim, against an idr database."""
    db = small_db(tmp_path)
    con = duckdb.connect(str(db))
    con.execute("""INSERT INTO idr_meta.identifier_exclusion VALUES
      ('EMAIL', 'test@test.com', FALSE, 'Generic test'),
      ('EMAIL', 'null@null.com', FALSE, 'Null placeholder'),
      ('PHONE', '0000000000', FALSE, 'Invalid')""")
    con.execute("""INSERT INTO idr_meta.identifier_exclusion VALUES
      ('EMAIL', '%@example.com', TRUE, 'Example domain'),
      ('EMAIL', 'noreply@%', TRUE, 'No-reply'),
      ('EMAIL', '%@mailinator.%', TRUE, 'Disposable')""")
    con.execute("""INSERT INTO idr_meta.config VALUES
      ('large_cluster_threshold', '5000', 'Warn on clusters larger than this', NOW())""")
    con.execute("UPDATE idr_meta.rule SET max_group_size = 2 WHERE identifier_type = 'EMAIL'")
    con.execute("UPDATE idr_meta.rule SET max_group_size = 1 WHERE identifier_type = 'SSN'")
    con.execute("UPDATE idr_meta.source_table SET watermark_lookback_minutes = 60 WHERE table_id = 'src'")
    con.close()
    result = run(str(db))
    # max_group_size = 2 takes effect: every 3-member group is skipped, all singletons.
    assert result.counts["groups_skipped"] == 10
    assert query(db, "SELECT count(*) FROM idr_out.identity_clusters_current") == [(30,)]


def test_two_runs_in_one_process_are_refused(tmp_path, monkeypatch):
    """The second run starts while the first holds the database (the first waits in its
    progress callback until the second has given up), retries briefly, and is refused."""
    import threading

    from idr.errors import LockedError
    from idr.settings import get_settings

    monkeypatch.setenv("IDR_RETRY_INITIAL_SECONDS", "0.05")
    monkeypatch.setenv("IDR_RETRY_MAX_SECONDS", "0.2")
    get_settings.cache_clear()
    db = _chain_db(tmp_path, n=1_000)
    errors, results = [], []
    holding, second_done = threading.Event(), threading.Event()

    def hold(stage):
        holding.set()
        second_done.wait(60)

    def first():
        results.append(run(str(db), progress=hold))

    def second():
        holding.wait(60)
        try:
            results.append(run(str(db)))
        except LockedError as e:
            errors.append(e)
        finally:
            second_done.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    get_settings.cache_clear()
    assert len(results) == 1 and len(errors) == 1 and "already in progress" in str(errors[0])
    assert query(db, "SELECT status FROM idr_out.run_history") == [("SUCCESS",)]


def test_rows_without_key_are_counted(tmp_path):
    rows = [{"id": None, "email": "a@x.com"}, {"id": 1, "email": "a@x.com"}, {"id": 2, "email": "b@x.com"}]
    db = make_db(tmp_path / "k.duckdb", {"people": rows}, simple_config(types={"email": "EMAIL"}))
    proc = idr_cli("run", "--db", str(db))
    assert proc.returncode == 0 and "Rows without key:     1" in proc.stdout
    # Progress: one line per finished stage on standard error.
    assert [line.split()[1] for line in proc.stderr.splitlines() if line.startswith("idr: ")] == STAGES
    assert query(db, "SELECT rows_without_key, entities_processed FROM idr_out.run_history") == [(1, 2)]


def test_demo_database_choice(tmp_path, monkeypatch):
    """`idr demo` writes ./idr_demo.duckdb by default, honours --db and IDR_DB, and never
    replaces a database it did not make."""
    from idr.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IDR_DB", raising=False)
    assert main(["demo", "--persons", "50"]) == 0 and (tmp_path / "idr_demo.duckdb").exists()
    assert main(["--db", "mine.duckdb", "demo", "--persons", "50"]) == 0 and (tmp_path / "mine.duckdb").exists()
    monkeypatch.setenv("IDR_DB", str(tmp_path / "env.duckdb"))
    assert main(["demo", "--persons", "50"]) == 0 and (tmp_path / "env.duckdb").exists()
    (tmp_path / "precious.duckdb").write_text("not a demo")
    assert main(["demo", "--db", "precious.duckdb"]) == 2
    assert (tmp_path / "precious.duckdb").read_text() == "not a demo"
    assert not (tmp_path / "idr.duckdb").exists()
