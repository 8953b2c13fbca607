"""DataDog: the official client's v2 series request, checked by a local server."""

from __future__ import annotations

import gzip
import json
import time
import zlib

from idr.settings import get_settings
from idr.backends.duckdb import open_database
from idr.metrics.datadog import configuration
from idr.metrics.export import export_after_run
from idr.metrics.retry import RetryPolicy
from metrics_testing import Receiver, failed_run, query, set_config

API_KEY = "0123456789abcdef0123456789abcdef"
FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, timeout=2)
ACCEPTED = json.dumps({"errors": []}).encode()


def body(req) -> dict:
    data = req.body
    encoding = req.headers.get("content-encoding")
    if encoding == "gzip":
        data = gzip.decompress(data)
    elif encoding == "deflate":
        data = zlib.decompress(data)
    return json.loads(data)


def checking(req):
    """What DataDog's intake requires: the v2 series path, the key header, a JSON body."""
    if req.path != "/api/v2/series":
        return 404
    if req.headers.get("dd-api-key") != API_KEY:
        return 403
    if not req.headers.get("content-type", "").startswith("application/json"):
        return 415
    return None


def export(path, policy=FAST) -> list[str]:
    con = open_database(path)
    try:
        return export_after_run(con, None, policy=policy)
    finally:
        con.close()


def datadog_db(db, url, monkeypatch):
    path, run_id = db
    set_config(path, metrics_exporters="datadog", metrics_datadog_host=url, metrics_env="staging")
    monkeypatch.setenv("DD_API_KEY", API_KEY)
    get_settings.cache_clear()  # settings are read once per process
    return path, run_id


def test_series_request_shape_tags_and_types(db, monkeypatch):
    with Receiver(statuses=[202], check=checking, body=ACCEPTED) as rx:
        path, run_id = datadog_db(db, rx.url, monkeypatch)
        assert export(path) == []
    assert len(rx.requests) == 1
    series = body(rx.requests[0])["series"]
    by_key = {(s["metric"], tuple(s["tags"])): s for s in series}
    status = by_key[("idr_run_status", ("env:staging", "status:SUCCESS"))]
    assert status["type"] == 3 and status["points"][0]["value"] == 1  # GAUGE
    assert abs(status["points"][0]["timestamp"] - time.time()) < 600
    assert by_key[("idr_entities_processed", ("env:staging",))]["type"] == 1  # COUNT: a per-run count
    assert by_key[("idr_groups_skipped", ("env:staging",))]["points"][0]["value"] == 1
    assert by_key[("idr_rule_groups_skipped", ("env:staging", "rule:PHONE"))]["points"][0]["value"] == 1
    assert ("idr_stage_duration_seconds", ("env:staging", "stage:edges")) in by_key
    assert not [t for s in series for t in s["tags"] if run_id in t or t.startswith("run_id")]
    assert query(path, "SELECT count(*) FROM idr_out.metrics_export WHERE exported_at IS NULL") == [(0,)]


def test_site_selects_the_api_host_and_host_overrides_it():
    assert configuration("datadoghq.eu").host == "https://api.datadoghq.eu"
    assert configuration("").host == "https://api.datadoghq.com"
    assert configuration("datadoghq.eu", "http://127.0.0.1:8126").host == "http://127.0.0.1:8126"


def test_retries_on_5xx_and_no_retry_on_403(db, monkeypatch):
    with Receiver(statuses=[500, 503, 202], check=checking, body=ACCEPTED) as rx:
        path, _ = datadog_db(db, rx.url, monkeypatch)
        assert export(path) == []
    assert len(rx.requests) == 3
    failed_run(path)
    with Receiver(statuses=[202], check=checking, body=ACCEPTED) as rx:
        set_config(path, metrics_datadog_host=rx.url)
        monkeypatch.setenv("DD_API_KEY", "wrong-key-wrong-key")
        get_settings.cache_clear()  # settings are read once per process
        warnings = export(path)
    assert len(rx.requests) == 1 and len(warnings) == 1
    assert "HTTP 403" in warnings[0] and "not retried" in warnings[0] and "wrong-key" not in warnings[0]
    assert query(path, "SELECT count(DISTINCT run_id) FROM idr_out.metrics_export WHERE exported_at IS NULL") == [(1,)]


def test_missing_api_key_sends_nothing(db, monkeypatch):
    with Receiver(statuses=[202], body=ACCEPTED) as rx:
        path, _ = datadog_db(db, rx.url, monkeypatch)
        monkeypatch.delenv("DD_API_KEY")
        get_settings.cache_clear()  # settings are read once per process
        warnings = export(path)
    assert rx.requests == [] and "DD_API_KEY is not set" in warnings[0]
