"""Prometheus: exposition checked by the real promtool, the textfile, a real Pushgateway, serve."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid

import duckdb
from prometheus_client.parser import text_string_to_metric_families

from metrics_testing import DEAD_URL, cli, failed_run, promtool, pushgateway, set_config


def promtool_check(text: str) -> None:
    proc = subprocess.run([promtool(), "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and not proc.stdout.strip() and not proc.stderr.strip(), proc.stdout + proc.stderr


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def exposition(path) -> str:
    code, out, err = cli("metrics", "show", "--format", "prometheus", "--db", str(path))
    assert code == 0, err
    return out


def test_exposition_passes_promtool_and_follows_the_conventions(db):
    path, run_id = db
    text = exposition(path)
    promtool_check(text)
    got = samples(text)
    assert run_id not in text and "run_id" not in text
    assert all(name.startswith("idr_") for name, _ in got)
    counters = {m.group(1) for m in re.finditer(r"^# TYPE (\S+) counter$", text, re.M)}
    assert counters == {"idr_runs_total"}
    assert got[("idr_run_status", (("status", "SUCCESS"),))] == 1
    assert got[("idr_run_status", (("status", "FAILED"),))] == 0
    assert got[("idr_largest_cluster_size", ())] == 12
    assert got[("idr_singleton_clusters", ())] >= 1  # the seed's idr_singleton_count, renamed for promlint
    assert got[("idr_groups_skipped", ())] == 1
    assert got[("idr_rule_groups_skipped", (("rule", "PHONE"),))] == 1
    assert got[("idr_stage_duration_seconds", (("stage", "edges"),))] >= 0
    assert got[("idr_runs_total", (("status", "SUCCESS"),))] == 1
    assert abs(got[("idr_last_success_timestamp_seconds", ())] - time.time()) < 3600


def test_failed_run_keeps_the_last_published_cluster_metrics(db):
    path, _ = db
    failed_run(path)
    got = samples(exposition(path))
    assert got[("idr_run_status", (("status", "FAILED"),))] == 1
    assert got[("idr_run_status", (("status", "SUCCESS"),))] == 0
    assert got[("idr_largest_cluster_size", ())] == 12  # from the successful run before
    assert got[("idr_runs_total", (("status", "FAILED"),))] == 1
    assert got[("idr_last_run_timestamp_seconds", ())] > got[("idr_last_success_timestamp_seconds", ())]
    # Stage metrics are the failed run's: it never reached publish.
    assert ("idr_stage_duration_seconds", (("stage", "publish"),)) not in got


def test_env_label_and_textfile_written_atomically(db, tmp_path):
    path, _ = db
    set_config(path, metrics_env="prod")
    out = tmp_path / "textfile" / "idr.prom"
    out.parent.mkdir()
    code, _, err = cli("metrics", "push", "--textfile", str(out), "--db", str(path))
    assert code == 0, err
    text = out.read_text()
    promtool_check(text)
    assert samples(text)[("idr_total_clusters", (("env", "prod"),))] > 0
    assert os.listdir(out.parent) == ["idr.prom"]  # the temporary file was renamed into place
    code, _, err = cli("metrics", "push", "--textfile", str(tmp_path / "nowhere" / "idr.prom"), "--db", str(path))
    assert code == 2 and "does not exist" in err


def _gateway_group(url: str, job: str) -> dict:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as r:
        text = r.read().decode()
    return {k: v for k, v in samples(text).items() if ("job", job) in k[1]}


def _delete_group(url: str, job: str) -> None:
    req = urllib.request.Request(f"{url}/metrics/job/{job}", method="DELETE")
    urllib.request.urlopen(req, timeout=5).read()


def test_pushgateway_pushadd_keeps_the_last_success_after_a_failed_run(db):
    url = pushgateway()
    path, _ = db
    job = f"idr_test_{uuid.uuid4().hex[:8]}"
    try:
        code, _, err = cli("metrics", "push", "--pushgateway", url, "--job", job, "--db", str(path))
        assert code == 0, err
        group = _gateway_group(url, job)
        key = lambda name, **labels: (name, tuple(sorted({"job": job, "instance": "", **labels}.items())))  # noqa: E731
        assert group[key("idr_run_status", status="SUCCESS")] == 1
        assert group[key("idr_largest_cluster_size")] == 12
        failed_run(path)
        code, _, err = cli("metrics", "push", "--pushgateway", url, "--job", job, "--db", str(path))
        assert code == 0, err
        group = _gateway_group(url, job)
        assert group[key("idr_run_status", status="FAILED")] == 1
        assert group[key("idr_run_status", status="SUCCESS")] == 0
        assert group[key("idr_largest_cluster_size")] == 12
        assert group[key("idr_entities_processed")] == 52
    finally:
        _delete_group(url, job)


def test_push_to_a_dead_pushgateway_fails_with_exit_1(db):
    path, _ = db
    t0 = time.monotonic()
    code, _, err = cli("metrics", "push", "--pushgateway", DEAD_URL, "--attempts", "2", "--timeout", "1",
                       "--db", str(path))
    assert code == 1
    assert "push failed: Pushgateway http://127.0.0.1:1" in err and "after 2 attempts" in err
    assert time.monotonic() - t0 < 10
    assert cli("metrics", "push", "--db", str(path))[0] == 2  # no target


def test_serve_reads_the_database_on_each_scrape_and_survives_a_lock(db):
    path, _ = db
    proc = subprocess.Popen([sys.executable, "-m", "idr", "metrics", "serve", "--port", "0", "--db", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        m = re.search(r"(http://127\.0\.0\.1:\d+/metrics)", line)
        assert m, line + proc.stderr.read() if proc.poll() is not None else line
        with urllib.request.urlopen(m.group(1), timeout=5) as r:
            text = r.read().decode()
        promtool_check(text)
        assert samples(text)[("idr_up", ())] == 1
        assert samples(text)[("idr_runs_total", (("status", "FAILED"),))] == 0
        failed_run(path)  # the next scrape sees the new state
        with urllib.request.urlopen(m.group(1), timeout=5) as r:
            got = samples(r.read().decode())
        assert got[("idr_runs_total", (("status", "FAILED"),))] == 1
        holder = duckdb.connect(str(path))  # stands in for a run holding the database
        try:
            with urllib.request.urlopen(m.group(1), timeout=5) as r:
                locked = samples(r.read().decode())
        finally:
            holder.close()
        # read from the published snapshot: up, with the last published run's values
        assert locked[("idr_up", ())] == 1
        assert locked[("idr_largest_cluster_size", ())] == 12
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_serve_refuses_a_database_without_metrics(tmp_path):
    code, _, err = cli("metrics", "serve", "--port", "0", "--db", str(tmp_path / "missing.duckdb"))
    assert code == 2 and "no such database" in err
    bare = tmp_path / "bare.duckdb"
    duckdb.connect(str(bare)).close()
    code, _, err = cli("metrics", "serve", "--port", "0", "--db", str(bare))
    assert code == 2 and "idr init" in err
