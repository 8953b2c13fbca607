"""Alert routing and runbook: the Alertmanager configuration passes amtool and routes every
alert by severity (critical: pager and chat; warning: chat); every alert links its runbook
entry; and end to end on loopback, with the real Debian prometheus and
prometheus-alertmanager, a failed run fires IDRRunFailed, which reaches the pager webhook."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from metrics_testing import build_db, failed_run, need

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
ALERTMANAGER = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
RUNBOOK = ROOT / "docs" / "runbook.md"
CRITICAL = {"IDRRunFailed", "IDRNoRecentSuccess", "IDRRunHeld"}
WARNING = {"IDRLargeClusterCreated", "IDRHighSkipRate", "IDRAnomalyWarned", "IDRMetricsAbsent",
           "IDRMetricsExporterCannotRead"}


def _binary(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        need(f"{name} is not installed (Debian package {package}; .ci/run installs it)")
    return path


def _rules() -> dict[str, dict]:
    return {r["alert"]: r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]}


def test_alertmanager_config_passes_amtool_and_routes_by_severity():
    amtool = _binary("amtool", "prometheus-alertmanager")
    check = subprocess.run([amtool, "check-config", str(ALERTMANAGER)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0 and "SUCCESS" in check.stdout, check.stdout + check.stderr
    rules = _rules()
    assert {"IDRRunFailed", "IDRNoRecentSuccess", "IDRLargeClusterCreated", "IDRHighSkipRate"} <= set(rules)
    assert set(rules) <= CRITICAL | WARNING, "a new alert: decide its severity and routing here and in the runbook"
    for name, rule in rules.items():
        severity = rule["labels"]["severity"]
        assert severity == ("critical" if name in CRITICAL else "warning"), name
        routed = subprocess.run(
            [amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER}", f"alertname={name}",
             f"severity={severity}", "job=idr"], capture_output=True, text=True, timeout=60)
        assert routed.returncode == 0, routed.stderr
        assert routed.stdout.strip() == ("pager,chat" if severity == "critical" else "chat"), name


def test_every_alert_links_its_runbook_entry():
    headings = set(re.findall(r"^## (\w+)$", RUNBOOK.read_text(), re.M))
    rules = _rules()
    for name, rule in rules.items():
        assert rule["annotations"]["runbook_url"] == f"docs/runbook.md#{name.lower()}", name
        assert name in headings, name
    # Entries wait for the gate's alerts too (issue 18, part A).
    assert CRITICAL | WARNING <= headings


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[str, dict]]

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.received.append((self.path, json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(args, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)


def _test_alertmanager_config(receiver_url: str) -> dict:
    """The deployed routing tree with both receivers pointed at the test's webhook and
    short waits, so a notification leaves a second after the alert arrives."""
    cfg = yaml.safe_load(ALERTMANAGER.read_text())
    cfg["route"].update(group_wait="1s", group_interval="1s")
    cfg["receivers"] = [{"name": r["name"], "webhook_configs": [{"url": f"{receiver_url}/{r['name']}",
                                                                  "send_resolved": False}]}
                        for r in cfg["receivers"]]
    return cfg


def test_failed_run_reaches_the_pager_through_prometheus_and_alertmanager(tmp_path):
    prometheus = _binary("prometheus", "prometheus")
    alertmanager = _binary("prometheus-alertmanager", "prometheus-alertmanager")
    db = build_db(tmp_path / "idr.duckdb")
    failed_run(db)

    _Receiver.received = []
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    receiver_url = f"http://127.0.0.1:{receiver.server_address[1]}"
    am_port, prom_port, metrics_port = _free_port(), _free_port(), _free_port()
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(_test_alertmanager_config(receiver_url)))
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(ALERTS)],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
        "scrape_configs": [{"job_name": "idr", "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}]}],
    }))
    procs = []
    started = time.monotonic()
    try:
        procs.append(_start([sys.executable, "-m", "idr", "metrics", "serve", "--db", str(db), "--port",
                             str(metrics_port)], tmp_path / "exporter.log"))
        procs.append(_start([alertmanager, f"--config.file={tmp_path / 'alertmanager.yml'}",
                             f"--storage.path={tmp_path / 'am-data'}", f"--web.listen-address=127.0.0.1:{am_port}",
                             "--cluster.listen-address="], tmp_path / "alertmanager.log"))
        procs.append(_start([prometheus, f"--config.file={tmp_path / 'prometheus.yml'}",
                             f"--storage.tsdb.path={tmp_path / 'prom-data'}",
                             f"--web.listen-address=127.0.0.1:{prom_port}"], tmp_path / "prometheus.log"))
        deadline = started + 45
        while time.monotonic() < deadline and not {"/pager", "/chat"} <= {p for p, _ in _Receiver.received}:
            assert all(p.poll() is None for p in procs), _logs(tmp_path)
            time.sleep(0.25)
    finally:
        _stop(procs)
        receiver.shutdown()
        receiver.server_close()
    elapsed = time.monotonic() - started
    paged = [body for path, body in _Receiver.received if path == "/pager"]
    assert paged, f"nothing reached the pager in {elapsed:.0f} s\n{_logs(tmp_path)}"
    alerts = [a for body in paged for a in body["alerts"]]
    assert {a["labels"]["alertname"] for a in alerts} == {"IDRRunFailed"}
    first = alerts[0]
    assert paged[0]["receiver"] == "pager" and first["status"] == "firing"
    assert first["labels"]["severity"] == "critical" and first["labels"]["status"] == "FAILED"
    assert first["annotations"]["runbook_url"] == "docs/runbook.md#idrrunfailed"
    chat = [a["labels"]["alertname"] for path, body in _Receiver.received if path == "/chat" for a in body["alerts"]]
    assert "IDRRunFailed" in chat  # critical alerts reach the chat channel too
    print(f"IDRRunFailed reached the pager and chat webhooks {elapsed:.1f} s after the services started")


def _logs(tmp_path: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in sorted(tmp_path.glob("*.log")))
