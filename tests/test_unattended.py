"""Running unattended: waiting for a busy database, retrying transient errors, logs that
carry run id and stage but never identifier values or secrets, and the process settings."""

from __future__ import annotations

import gzip
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from idr_testing import hold_lock, idr_cli, make_db, query, simple_config

from idr import retry
from idr.pipeline import extract
from idr.runs.runner import run

FAST = {"IDR_RETRY_INITIAL_SECONDS": "0.05", "IDR_RETRY_MAX_SECONDS": "0.2"}


def small_db(path: Path) -> Path:
    return make_db(path, {"people": [{"id": str(i), "email": f"p{i}@x.com"} for i in range(20)]}, simple_config())


def test_busy_database_retried_then_exit_2(db_path):
    small_db(db_path)
    proc = hold_lock(db_path, 30)
    try:
        t0 = time.monotonic()
        r = idr_cli("run", "--db", str(db_path), "--log-format", "json", env=FAST)
        elapsed = time.monotonic() - t0
    finally:
        proc.kill()
        proc.wait()
    assert r.returncode == 2 and "in use by another process" in r.stderr
    retries = [json.loads(line) for line in r.stderr.splitlines() if line.startswith("{")]
    assert [x["message"].split(" (")[0] for x in retries] == [f"retrying opening {db_path} after LockedError"] * 2
    assert elapsed < 20


def test_wait_for_a_run_in_progress(db_path):
    small_db(db_path)
    t0 = time.monotonic()
    proc = hold_lock(db_path, 8)  # long enough for the idr process to start and find it busy
    try:
        r = idr_cli("run", "--db", str(db_path), "--wait", "60", "--quiet")
        elapsed = time.monotonic() - t0
    finally:
        proc.kill()
        proc.wait()
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[1] == "SUCCESS" and elapsed >= 8
    run_id = r.stdout.split()[0]
    [(retries,)] = query(db_path, "SELECT metric_value FROM idr_out.metrics_export WHERE run_id = ? "
                                  "AND metric_name = 'idr_run_retries'", [run_id])
    assert retries >= 1


def test_wait_gives_up_after_its_time(db_path):
    small_db(db_path)
    proc = hold_lock(db_path, 30)
    try:
        t0 = time.monotonic()
        r = idr_cli("run", "--db", str(db_path), "--wait", "2")
        elapsed = time.monotonic() - t0
    finally:
        proc.kill()
        proc.wait()
    assert r.returncode == 2 and "in use by another process" in r.stderr
    assert 1.5 <= elapsed < 15
    assert idr_cli("run", "--db", str(db_path), "--wait", "-1").returncode == 2


def test_source_io_error_is_retried(tmp_path, monkeypatch, caplog):
    """The parquet file of a source disappears just before it is read (a real DuckDB I/O
    error); it is back before the retry, which succeeds."""
    data = tmp_path / "people.parquet"
    pq.write_table(pa.Table.from_pylist([{"id": str(i), "email": f"p{i}@x.com"} for i in range(10)]), data)
    db = make_db(tmp_path / "idr.duckdb", {}, simple_config(table=str(data)))
    aside = tmp_path / "aside.parquet"
    real = extract._copy_source
    calls = []

    def vanish_first(ctx, si, src):
        calls.append(1)
        if len(calls) == 1:
            data.rename(aside)
        return real(ctx, si, src)

    monkeypatch.setattr(extract, "_copy_source", vanish_first)
    monkeypatch.setenv("IDR_RETRY_INITIAL_SECONDS", "0.01")
    monkeypatch.setattr(retry, "SLEEP", [lambda s: aside.rename(data)])
    monkeypatch.setattr(logging.getLogger("idr"), "propagate", True)  # a CLI test may have configured it
    with caplog.at_level("WARNING", logger="idr.retry"):
        result = run(str(db))
    assert result.status == "SUCCESS" and len(calls) == 2 and result.counts["retries"] == 1
    assert "retrying reading source src after IOException" in caplog.text


def test_bad_input_is_not_retried(tmp_path, monkeypatch):
    db = make_db(tmp_path / "idr.duckdb", {"people": [{"id": "1", "email": "a@x.com"}]},
                 simple_config(key="CAST(email AS INTEGER)"))
    slept = []
    monkeypatch.setattr(retry, "SLEEP", [slept.append])
    with pytest.raises(Exception) as e:
        run(str(db))
    assert "ConversionException" in str(e.value) and slept == []


# ---- logs ------------------------------------------------------------------------------

SEEDED_EMAIL = "zq-seeded-7731@canary.example"
SEEDED_PHONE = "+1 415 555 0177"
SEEDED_KEY = "canarykey9913"
WEBHOOK_SECRET = "whsec_" + "c2VlZGVkLXdlYmhvb2stc2VjcmV0LTQ0MjE="  # base64 of a seeded text
DD_KEY = "dd-seeded-api-key-5530"


def test_logs_never_contain_identifier_values_or_secrets(tmp_path):
    rows = [{"id": SEEDED_KEY if i == 0 else f"k{i}", "email": SEEDED_EMAIL if i < 3 else f"u{i}@x.com",
             "phone": SEEDED_PHONE if i < 2 else None} for i in range(30)]
    rows.append({"id": "bad", "email": SEEDED_EMAIL.upper(), "phone": "not-a-phone " + SEEDED_EMAIL})
    cfg = simple_config(types={"email": "EMAIL", "phone": "PHONE"}, extra={"config": {
        "metrics_exporters": "webhook,datadog", "metrics_webhook_url": "http://127.0.0.1:9/hook",
        "metrics_datadog_host": "http://127.0.0.1:9"}})
    db = make_db(tmp_path / "idr.duckdb", {"people": rows}, cfg)
    env = {**FAST, "IDR_LOG_LEVEL": "DEBUG", "IDR_WEBHOOK_SECRET": WEBHOOK_SECRET, "DD_API_KEY": DD_KEY}
    logs = {"plain": tmp_path / "plain.log", "json": tmp_path / "json.log"}
    outputs = []
    for fmt, path in logs.items():
        for args in (["run"], ["run", "--run-mode", "INCR"], ["run", "--dry-run"]):
            r = idr_cli(*args, "--db", str(db), "--log-format", fmt, "--log-file", str(path), env=env)
            assert r.returncode == 0, r.stderr
            outputs.append(r.stderr)
    # A failed run: a key expression that cannot convert the seeded email (DuckDB's error quotes it).
    subprocess.run([sys.executable, "-c", f"import duckdb; c = duckdb.connect({str(db)!r}); c.execute("
                    "\"UPDATE idr_meta.source_table SET entity_key_expr = 'CAST(email AS INTEGER)'\")"], check=True)
    r = idr_cli("run", "--db", str(db), "--log-format", "json", "--log-file", str(logs["json"]), env=env)
    # The terminal (not the log) shows DuckDB's message, which quotes the value it could not convert.
    assert r.returncode == 1 and "ConversionException" in r.stderr
    text = "\n".join(p.read_text() for p in logs.values())
    for line in logs["json"].read_text().splitlines():
        record = json.loads(line)
        assert record["run_id"].startswith(("run_", "dry_run_", "-")) and "stage" in record
    assert "stage=extract" in logs["plain"].read_text() and "run failed in stage extract" in text
    assert "retrying webhook" in text  # the exporters' retries are logged
    for secret in (SEEDED_EMAIL, SEEDED_EMAIL.upper(), SEEDED_KEY, "4155550177", "415 555 0177", WEBHOOK_SECRET,
                   WEBHOOK_SECRET.removeprefix("whsec_"), DD_KEY, "seeded-webhook-secret"):
        assert secret not in text, secret
        assert not any(secret in o for o in outputs), secret


def test_log_file_rotates_and_compresses(tmp_path):
    db = small_db(tmp_path / "idr.duckdb")
    log = tmp_path / "idr.log"
    env = {"IDR_LOG_MAX_BYTES": "1500", "IDR_LOG_LEVEL": "DEBUG"}
    for _ in range(4):
        assert idr_cli("run", "--db", str(db), "--log-file", str(log), "--quiet", env=env).returncode == 0
    rotated = sorted(tmp_path.glob("idr.log.*.gz"))
    assert 2 <= len(rotated) <= 5 and log.exists()
    assert "run_id=run_" in gzip.decompress(rotated[0].read_bytes()).decode()


def test_bad_log_path_exit_2(db_path, tmp_path):
    small_db(db_path)
    r = idr_cli("run", "--db", str(db_path), "--log-file", str(tmp_path / "missing" / "idr.log"))
    assert r.returncode == 2 and "--log-file" in r.stderr and "does not exist" in r.stderr
    assert query(db_path, "SELECT count(*) FROM idr_out.run_history") == [(0,)]


# ---- settings ----------------------------------------------------------------------------

def test_settings_problems_are_all_listed_with_exit_2(db_path):
    small_db(db_path)
    r = idr_cli("run", "--db", str(db_path), env={"IDR_LOG_LEVEL": "loud", "IDR_RETRY_ATTEMPTS": "0",
                                                  "IDR_LOG_FORMAT": "xml", "IDR_WEBHOOK_SECRET": "s3cr3t-value"})
    assert r.returncode == 2
    assert "3 problems" in r.stderr and "IDR_LOG_LEVEL='loud'" in r.stderr and "IDR_RETRY_ATTEMPTS='0'" in r.stderr
    assert "IDR_LOG_FORMAT='xml'" in r.stderr and "s3cr3t" not in r.stderr
    assert query(db_path, "SELECT count(*) FROM idr_out.run_history") == [(0,)]


def test_settings_from_a_dot_env_file(tmp_path):
    small_db(tmp_path / "from_env.duckdb")
    (tmp_path / ".env").write_text("IDR_DB=from_env.duckdb\nIDR_DRY_RUN=true\n")
    r = idr_cli("run", "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[1] == "DRY_RUN_COMPLETE"


# ---- cost per stage ----------------------------------------------------------------------

def test_cost_per_stage_recorded_exported_and_shown(tmp_path):
    data = tmp_path / "people.parquet"
    pq.write_table(pa.Table.from_pylist([{"id": str(i), "email": f"p{i % 500}@x.com"} for i in range(20000)]), data)
    db = make_db(tmp_path / "idr.duckdb", {}, simple_config(table=str(data)))
    result = run(str(db))
    rows = query(db, "SELECT stage_name, cpu_seconds, peak_memory_bytes, bytes_read, bytes_written "
                     "FROM idr_out.stage_metrics WHERE run_id = ? ORDER BY started_at", [result.run_id])
    assert [r[0] for r in rows] == [s.name for s in result.stages]
    for name, cpu, mem, read, written in rows:
        assert cpu >= 0 and mem > 20 * 2**20 and read >= 0 and written >= 0, name
    by_stage = {r[0]: r for r in rows}
    assert by_stage["extract"][3] >= data.stat().st_size * 0.5  # the source file was read in the extract stage
    metrics = query(db, "SELECT metric_name, json_extract_string(dimensions, '$.stage'), "
                        "json_extract_string(dimensions, '$.direction') FROM idr_out.metrics_export "
                        "WHERE run_id = ? AND metric_name IN ('idr_stage_cpu_seconds', 'idr_stage_peak_memory_bytes', "
                        "'idr_stage_bytes')", [result.run_id])
    assert len(metrics) == 4 * len(rows) and ("idr_stage_bytes", "extract", "in") in metrics
    r = idr_cli("runs", "show", result.run_id, "--db", str(db))
    assert r.returncode == 0, r.stderr
    assert "peak memory" in r.stdout and "disk: database file" in r.stdout and "anomaly gate: pass" in r.stdout
    shown = [line.split()[0] for line in r.stdout.splitlines() if line.startswith("  ") and line.split()]
    assert [name for name in shown if name in by_stage] == [r[0] for r in rows]
    r = idr_cli("runs", "show", "run_nope", "--db", str(db))
    assert r.returncode == 2 and "no such run" in r.stderr


def test_internal_error_exits_1_and_idr_debug_from_the_settings_reraises(monkeypatch, capsys):
    # IDR_DEBUG is read through the process settings (idr/settings.py) like every other one.
    from idr import cli
    from idr.errors import InternalError

    def broken(args):
        raise InternalError("a bug")

    monkeypatch.setitem(cli.COMMANDS, "runs", broken)
    assert cli.main(["runs"]) == 1 and "internal error" in capsys.readouterr().err
    monkeypatch.setenv("IDR_DEBUG", "1")
    from idr.settings import get_settings

    get_settings.cache_clear()
    with pytest.raises(InternalError):
        cli.main(["runs"])
