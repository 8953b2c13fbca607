"""Webhook: Standard Webhooks signatures checked by the reference library, retries, no retry on 4xx."""

from __future__ import annotations

import base64
import json
from datetime import datetime

import pytest
from standardwebhooks import Webhook

from idr.settings import get_settings
from idr.backends.duckdb import open_database
from idr.metrics import webhook
from idr.metrics.export import export_after_run
from idr.errors import ExportError
from idr.metrics.retry import RetryPolicy, redact_url
from metrics_testing import DEAD_URL, Receiver, failed_run, query, set_config

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, timeout=2)


def verifying(secret=SECRET):
    """A receiver check: 401 unless the reference implementation verifies the request."""
    hook = Webhook(secret)

    def check(req):
        try:
            hook.verify(req.body, req.headers)
        except Exception:  # noqa: BLE001 - any verification failure is a 401
            return 401
        return None
    return check


def export(path, policy=FAST) -> list[str]:
    con = open_database(path)
    try:
        return export_after_run(con, None, policy=policy)
    finally:
        con.close()


def webhook_db(db, url, monkeypatch, secret=SECRET):
    path, run_id = db
    set_config(path, metrics_exporters="webhook", metrics_webhook_url=url)
    monkeypatch.setenv("IDR_WEBHOOK_SECRET", secret)
    get_settings.cache_clear()  # settings are read once per process
    return path, run_id


def test_signature_matches_the_reference_implementation():
    key = webhook.load_secret(SECRET)
    body = b'{"a":1}'
    ts = int(datetime.now().timestamp())
    ours = webhook.sign(key, "msg_1", ts, body)
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(ts), "webhook-signature": ours}
    assert Webhook(SECRET).verify(body, headers) == {"a": 1}
    assert ours == Webhook(SECRET).sign("msg_1", datetime.fromtimestamp(ts), body.decode())
    assert webhook.load_secret(SECRET[len("whsec_"):]) == key  # the prefix is optional
    with pytest.raises(ExportError) as e:
        webhook.load_secret("")
    assert "IDR_WEBHOOK_SECRET" in str(e.value)


def test_payload_is_signed_and_retried_on_5xx_until_delivered(db, monkeypatch):
    with Receiver(statuses=[503, 500, 204], check=verifying()) as rx:
        path, run_id = webhook_db(db, rx.url + "/hooks/idr", monkeypatch)
        assert export(path) == []
    assert len(rx.requests) == 3  # two 5xx answers, then delivered
    assert {r.headers["webhook-id"] for r in rx.requests} == {f"msg_{run_id}"}  # one message, retried
    assert rx.requests[0].path == "/hooks/idr" and rx.requests[0].headers["content-type"] == "application/json"
    doc = rx.json()
    assert doc["run_id"] == run_id and doc["status"] == "SUCCESS" and doc["type"] == "idr.run.metrics"
    assert datetime.fromisoformat(doc["timestamp"].replace("Z", "+00:00"))
    metrics = {(m["name"], json.dumps(m["dimensions"], sort_keys=True)): m["value"] for m in doc["metrics"]}
    assert metrics[("idr_groups_skipped", '{"rule": "PHONE"}')] == 1
    assert metrics[("idr_run_status", '{"status": "SUCCESS"}')] == 1
    assert query(path, "SELECT count(*), count(exported_at), min(exported_to) FROM idr_out.metrics_export") == \
        [(len(doc["metrics"]), len(doc["metrics"]), "webhook")]


def test_a_4xx_answer_is_not_retried_and_the_rows_stay_pending(db, monkeypatch):
    with Receiver(statuses=[400]) as rx:
        path, _ = webhook_db(db, rx.url, monkeypatch)
        warnings = export(path)
    assert len(rx.requests) == 1
    assert len(warnings) == 1 and "HTTP 400" in warnings[0] and "not retried" in warnings[0]
    assert query(path, "SELECT count(*) FROM idr_out.metrics_export WHERE exported_at IS NOT NULL") == [(0,)]


def test_a_wrong_secret_is_refused_by_the_receiver(db, monkeypatch):
    other = "whsec_" + base64.b64encode(b"another secret of 32 bytes......").decode()
    with Receiver(check=verifying(other)) as rx:
        path, _ = webhook_db(db, rx.url, monkeypatch)
        warnings = export(path)
    assert len(rx.requests) == 1 and "HTTP 401" in warnings[0]
    assert SECRET not in warnings[0] and other not in warnings[0]


def test_timeouts_and_dead_addresses_are_retried_then_delivered_next_time(db, monkeypatch):
    with Receiver(delay=1.0) as slow:
        path, run_id = webhook_db(db, slow.url, monkeypatch)
        warnings = export(path, RetryPolicy(attempts=2, base_delay=0.01, timeout=0.3))
    assert len(slow.requests) == 2 and "after 2 attempts" in warnings[0] and "timed out" in warnings[0]
    set_config(path, metrics_webhook_url=DEAD_URL + "/hook?token=abc")
    warnings = export(path)
    assert len(warnings) == 1 and "webhook http://127.0.0.1:1/hook:" in warnings[0]  # no query string
    assert "abc" not in warnings[0]
    assert "Connection refused" in warnings[0] and "after 3 attempts" in warnings[0]
    assert "retried at the next export" in warnings[0]
    failed = failed_run(path)  # a second run while the first is still pending
    with Receiver(check=verifying()) as rx:
        set_config(path, metrics_webhook_url=rx.url)
        assert export(path) == []
    assert [json.loads(r.body)["run_id"] for r in rx.requests] == [run_id, failed]
    assert json.loads(rx.requests[1].body)["status"] == "FAILED"
    assert query(path, "SELECT count(*) FROM idr_out.metrics_export WHERE exported_at IS NULL") == [(0,)]


def test_urls_in_messages_lose_credentials_and_query():
    assert redact_url("https://user:pw@hooks.example.com:8443/a/b?token=x#f") == "https://hooks.example.com:8443/a/b"


def test_missing_secret_sends_nothing(db, monkeypatch):
    with Receiver() as rx:
        path, _ = webhook_db(db, rx.url, monkeypatch)
        monkeypatch.delenv("IDR_WEBHOOK_SECRET")
        get_settings.cache_clear()  # settings are read once per process
        warnings = export(path)
    assert rx.requests == [] and "IDR_WEBHOOK_SECRET is not set" in warnings[0]
