"""A real `idr serve`: JSON request logs that never hold keys or looked-up values; bad
settings stop it with exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx

from serve_testing import new_key, server, wait_ready


def test_logs_carry_request_fields_and_never_values_or_keys(demo, tmp_path):
    key = new_key(demo, "read", "log-test-client")
    log = tmp_path / "serve.log"
    values = ["Secret.Person@Hidden-Domain.example", "+1 (212) 555-0199", "LC-LEAK-0042"]
    with server(demo, {"IDR_LOG_LEVEL": "INFO"}, log=log) as url:
        h = {"X-API-Key": key, "X-Request-ID": "trace-42"}
        for t, v in zip(("EMAIL", "PHONE", "LOYALTY_ID"), values):
            httpx.get(f"{url}/v1/lookup", params={"type": t, "value": v}, headers=h)
        httpx.post(f"{url}/v1/lookup/batch", json={"lookups": [{"type": "EMAIL", "value": values[0]}]}, headers=h)
        httpx.get(f"{url}/v1/entities/crm:LEAKYKEY", headers=h)
        httpx.get(f"{url}/v1/lookup", params={"type": "EMAIL", "value": values[0]},
                  headers={"X-API-Key": key[:-2] + "zz"})
    text = log.read_text()
    secret = key.split("_", 2)[2]
    for leak in [*values, values[0].lower(), "+12125550199", "LEAKYKEY", key, secret, secret[:12]]:
        assert leak not in text, f"{leak!r} appears in the log"
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    requests = [x for x in lines if x.get("logger") == "idr.api.access"]
    assert len(requests) >= 6
    lookups = [x for x in requests if x["route"] == "/v1/lookup"]
    assert {x["status"] for x in lookups} >= {401}
    for x in requests:
        assert {"request_id", "route", "status", "latency_ms", "key_name", "time", "level"} <= set(x)
    assert any(x["request_id"] == "trace-42" and x["key_name"] == "log-test-client" for x in lookups)
    assert any(x["route"] == "/v1/entities/{entity_key}" for x in requests)


def test_bad_settings_stop_the_service_with_exit_2(demo):
    env = {**os.environ, "REDIS_URL": "redis://user:hunter2@127.0.0.1:notaport/0", "IDR_SERVE_PORT": "70000",
           "RATE_LIMIT_LOOKUP": "lots", "CACHE_TTL_SECONDS": "-1"}
    r = subprocess.run([sys.executable, "-m", "idr", "serve", "--db", str(demo)], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2
    for name in ("REDIS_URL", "IDR_SERVE_PORT", "RATE_LIMIT_LOOKUP", "CACHE_TTL_SECONDS"):
        assert name in r.stderr
    assert "hunter2" not in r.stderr and "4 problems" in r.stderr


def test_several_workers_serve_the_same_snapshot(demo):
    from serve_testing import new_key

    import idr

    key = new_key(demo, "read", "workers")
    answers = []

    def snapshot_of_an_answer(url):
        # Health answers as soon as one worker is ready; the other may still be loading its
        # index (an error answer, which carries no snapshot): ask again until it answers.
        r = httpx.get(f"{url}/v1/runs", headers={"X-API-Key": key})
        if r.status_code == 200:
            answers.append(r.json()["snapshot"])
        return r.status_code == 200

    with server(demo, {"IDR_SERVE_WORKERS": "2"}) as url:
        for _ in range(6):
            wait_ready(lambda: snapshot_of_an_answer(url))
    assert len(answers) == 6 and set(answers) == {idr.snapshot_version(demo)}


def test_idr_log_format_plain_is_honoured(demo, tmp_path):
    """JSON is the service's default; IDR_LOG_FORMAT=plain (like --log-format plain) keeps
    request lines plain."""
    log = tmp_path / "serve.log"
    with server(demo, {"IDR_LOG_LEVEL": "INFO", "IDR_LOG_FORMAT": "plain"}, log=log) as url:
        assert httpx.get(f"{url}/v1/health").status_code == 200
    lines = [line for line in log.read_text().splitlines() if "/v1/health" in line]
    assert lines and not any(line.lstrip().startswith("{") for line in lines), lines[:3]
