"""`idr doctor` on a well-kept database (all pass, exit 0), on a neglected one (each check
says what is wrong, exit 2), warnings only (exit 1), and bad input."""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow as pa
import pytest

from idr.ops.junk import JUNK
from idr.publish.layout import root as snapshot_root
from idr.runs.runner import run
from idr_testing import cli, execute, make_db

IDS = ["configuration", "sources", "max_group_size", "junk_values", "dry_run", "large_cluster_threshold",
       "exporters", "backup", "permissions", "secrets", "schedule"]

PEOPLE = pa.Table.from_pylist([{"id": i, "email": f"p{i // 2}@x.com", "phone": f"+1650253{i // 3:04d}"}
                               for i in range(30)])
RULES = [{"rule_id": "email", "identifier_type": "EMAIL", "canonicalize": "EMAIL", "max_group_size": 10000},
         {"rule_id": "phone", "identifier_type": "PHONE", "canonicalize": "PHONE", "max_group_size": 5000}]
SOURCE = {"table_id": "people", "table_fqn": "people", "entity_key_expr": "id",
          "identifiers": [{"identifier_type": "EMAIL", "identifier_value_expr": "email"},
                          {"identifier_type": "PHONE", "identifier_value_expr": "phone"}]}
# What the default placeholder list does not already cover.
EXCLUSIONS = [{"identifier_type": "EMAIL", "identifier_value_pattern": v, "is_pattern": p, "reason": "junk"}
              for v, p in (("Test@Test.com ", False), ("%@example.com", True), ("na@na.com", False),
                           ("a@a.com", False), ("asdf@asdf.com", False))]
EXCLUSIONS += [{"identifier_type": "PHONE", "identifier_value_pattern": "(202) 555-0123", "is_pattern": False}]


class _Ready(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        self.send_response(200 if self.path == "/-/ready" else 404)
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, *args):
        pass


@pytest.fixture
def ready_server():
    """A stand-in for a Pushgateway's readiness endpoint on a free loopback port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ready)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _doctor(db, *extra):
    code, out, err = cli("doctor", "--db", str(db), "--json", "--wait", "0", *extra)
    assert err == "", err
    doc = json.loads(out)
    assert doc["exit_code"] == code
    return code, {c["id"]: c for c in doc["checks"]}, out


@pytest.fixture
def good_db(tmp_path, ready_server):
    db = make_db(tmp_path / "good.duckdb", {"people": PEOPLE}, {
        "sources": [SOURCE], "rules": RULES, "exclusions": EXCLUSIONS,
        "config": {"large_cluster_threshold": "50", "schedule_window_hours": "2"}})
    run(str(db), "FULL", dry_run=True)
    run(str(db), "FULL")
    # Exporter settings are not part of what a dry run tries (they change no result).
    execute(db, "INSERT INTO idr_meta.config (config_key, config_value) VALUES "
                "('metrics_exporters', 'pushgateway, textfile'), ('metrics_pushgateway_url', ?), "
                "('metrics_textfile_path', ?)", params=[ready_server, str(tmp_path / "idr.prom")])
    assert cli("backup", "--db", str(db), "--to", str(tmp_path / "backups"))[0] == 0
    os.chmod(db, 0o600)
    if snapshot_root(db).exists():  # published snapshots: owner only, like the database
        os.chmod(snapshot_root(db), 0o700)
    assert oct(tmp_path.stat().st_mode & 0o777) == "0o700"
    return db


def test_good_database_passes_every_check(good_db):
    code, checks, _ = _doctor(good_db)
    assert list(checks) == IDS
    assert {i: c["status"] for i, c in checks.items()} == {i: "pass" for i in IDS}, checks
    assert code == 0
    assert "pushgateway (http://127.0.0.1:" in checks["exporters"]["message"]
    assert f"all {len(JUNK)} known junk values" in checks["junk_values"]["message"]
    code, out, _ = cli("doctor", "--db", str(good_db), "--wait", "0")
    assert code == 0 and "result: PASS: 11 passed, 0 warned, 0 failed (exit code 0)" in out


def test_warnings_only_exit_1(good_db):
    execute(good_db, "DELETE FROM idr_meta.config WHERE config_key IN ('large_cluster_threshold', "
                     "'schedule_window_hours')")
    code, checks, _ = _doctor(good_db)
    assert code == 1
    assert {i for i, c in checks.items() if c["status"] != "pass"} == {"large_cluster_threshold", "schedule"}
    assert all(checks[i]["status"] == "warn" and checks[i]["fix"] for i in ("large_cluster_threshold", "schedule"))


SECRET_PASSWORD = "hunter2-s3cret"
SECRET_TOKEN = "tok-8c1e55aa"


def test_neglected_database_fails_with_fixes(tmp_path):
    db = make_db(tmp_path / "neglected.duckdb", {"people": PEOPLE, "orders": PEOPLE}, {
        "sources": [SOURCE, {"table_id": "orders", "table_fqn": "orders", "entity_key_expr": "id"}],
        "rules": [{**RULES[0], "max_group_size": 2_000_000}, {**RULES[1], "canonicalize": "DIGITS"}],
        "config": {"metrics_exporters": "pushgateway", "metrics_pushgateway_url": "http://127.0.0.1:1",
                   "schedule_window_hours": "6",
                   "metrics_webhook_url": f"https://idr:{SECRET_PASSWORD}@hooks.example.net/in?token={SECRET_TOKEN}"}})
    run(str(db), "FULL")
    execute(db, "UPDATE idr_out.run_history SET ended_at = ended_at - INTERVAL 7 HOUR",
            "UPDATE idr_meta.rule SET max_group_size = 3000000 WHERE rule_id = 'email'")
    os.chmod(db, 0o666)
    snapshot_root(db).mkdir(exist_ok=True)
    os.chmod(snapshot_root(db), 0o755)
    code, checks, out = _doctor(db)
    assert code == 2
    status = {i: c["status"] for i, c in checks.items()}
    assert status == {"configuration": "pass", "sources": "warn", "max_group_size": "warn", "junk_values": "warn",
                      "dry_run": "fail", "large_cluster_threshold": "warn", "exporters": "fail", "backup": "fail",
                      "permissions": "fail", "secrets": "fail", "schedule": "fail"}
    assert "orders" in checks["sources"]["message"]
    assert "email (3,000,000)" in checks["max_group_size"]["message"]
    junk = checks["junk_values"]["message"]
    assert "EMAIL test@test.com" in junk and "PHONE 1111111111" in junk and "PHONE 0000000000" not in junk
    assert "INSERT INTO idr_meta.identifier_exclusion VALUES ('EMAIL', 'test@test.com'" in checks["junk_values"]["fix"]
    assert "configuration changed" in checks["dry_run"]["message"]
    assert "pushgateway (http://127.0.0.1:1): not reachable" in checks["exporters"]["message"]
    assert "database" in checks["permissions"]["message"] and "writable by everyone" in checks["permissions"]["message"]
    assert f"snapshot folder {snapshot_root(db)} is readable by everyone" in checks["permissions"]["message"]
    assert "'metrics_webhook_url' holds a password in a URL" in checks["secrets"]["message"]
    assert "schedule_window_hours = 6" in checks["schedule"]["message"]
    assert SECRET_PASSWORD not in out and SECRET_TOKEN not in out
    assert all(c["fix"] for c in checks.values() if c["status"] != "pass")


@pytest.mark.parametrize("value, says", [
    ("https://hooks.example.net/in?token=abc", "a credential in a URL's query string"),
    ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "webhook signing secret"),
    ("0123456789abcdef0123456789abcdef", "DataDog API"),
    ("http://127.0.0.1:9091", None),
])
def test_secret_shapes(value, says):
    from idr.ops.checks import _looks_secret

    found = _looks_secret("metrics_webhook_url", value)
    assert (found is None) if says is None else (says in found)
    assert "credential's name" in _looks_secret("datadog_api_key", "x")


def test_unreadable_configuration_and_bad_input(tmp_path):
    db = make_db(tmp_path / "broken.duckdb", {"people": PEOPLE}, {"sources": [SOURCE], "rules": RULES})
    execute(db, "UPDATE idr_meta.rule SET max_group_size = NULL WHERE rule_id = 'email'")
    code, checks, _ = _doctor(db)
    assert code == 2 and checks["configuration"]["status"] == "fail"
    assert list(checks) == IDS
    assert "max_group_size = NULL" in checks["configuration"]["message"]
    assert checks["sources"]["message"].startswith("not checked")

    code, out, err = cli("doctor", "--db", str(tmp_path / "missing.duckdb"))
    assert code == 2 and out == "" and "no such database" in err
    code, out, err = cli("doctor", "--db", str(db), "--wait", "-1")
    assert code == 2 and "expected a number of seconds >= 0" in err


def test_exporter_secret_from_a_dotenv_file_that_must_be_private(good_db, ready_server, tmp_path, monkeypatch):
    from idr.settings import get_settings

    monkeypatch.delenv("IDR_WEBHOOK_SECRET", raising=False)
    monkeypatch.chdir(tmp_path)
    execute(good_db, "UPDATE idr_meta.config SET config_value = 'webhook' WHERE config_key = 'metrics_exporters'")
    execute(good_db, "INSERT INTO idr_meta.config (config_key, config_value) VALUES ('metrics_webhook_url', ?)",
            params=[f"{ready_server}/hook"])
    get_settings.cache_clear()
    try:
        code, checks, _ = _doctor(good_db)
        assert checks["exporters"]["status"] == "fail" and "$IDR_WEBHOOK_SECRET is not set" in \
            checks["exporters"]["message"]
        dotenv = tmp_path / ".env"
        dotenv.write_text(f"IDR_WEBHOOK_SECRET=whsec_{'A' * 32}\n")
        os.chmod(dotenv, 0o644)
        get_settings.cache_clear()
        code, checks, out = _doctor(good_db)
        assert checks["exporters"]["status"] == "pass", checks["exporters"]
        assert checks["secrets"]["status"] == "fail" and "is open to everyone (-rw-r--r--)" in \
            checks["secrets"]["message"]
        assert "A" * 32 not in out
        os.chmod(dotenv, 0o600)
        code, checks, _ = _doctor(good_db)
        assert code == 0, checks
    finally:
        get_settings.cache_clear()
