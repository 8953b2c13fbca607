"""GET /v1/lookup's fast path (fastpath.py) answers exactly as the FastAPI route does:
the same requests, good and bad, sent to an app with and one without it."""

from __future__ import annotations

import random
from contextlib import ExitStack

import pytest
from fastapi.testclient import TestClient

import idr
from idr.api import fastpath
from idr.api.app import create_app
from serve_testing import new_key, settings, wait_ready


@pytest.fixture(scope="module")
def apps(demo_source):
    with ExitStack() as stack:
        pair = []
        for fast in (True, False):
            c = stack.enter_context(TestClient(create_app(demo_source, settings(rate_limit_lookup="1000/minute"),
                                                          fast_lookup=fast)))
            wait_ready(lambda: c.get("/v1/health").status_code == 200)
            pair.append(c)
        yield pair


def _values(db) -> list[tuple[str, str]]:
    con = idr.open_results(db)
    try:
        rows = con.execute("SELECT identifier_type, identifier_value_norm FROM idr_out.identity_identifiers_current "
                           "ORDER BY 1, 2").fetchall()
    finally:
        con.close()
    rnd = random.Random(5)
    return [(t, rnd.choice([v, v.upper(), f" {v}\t"])) for t, v in rnd.sample(rows, 30)]


def _answer(r) -> tuple:
    body = r.json()
    if "error" in body:
        body["error"].pop("request_id")
    return (r.status_code, body, r.headers.get("content-type"), r.headers.get("retry-after"),
            r.headers.get("www-authenticate"), len(r.headers["x-request-id"]))


def test_fast_path_answers_as_the_route(apps, demo_source, monkeypatch):
    fast, plain = apps
    key, other = new_key(demo_source, "read", "fast"), new_key(demo_source, "admin", "fast-admin")
    calls = []
    real = fastpath.lookup_response
    monkeypatch.setattr(fastpath, "lookup_response", lambda *a: calls.append(1) or real(*a))
    h = {"X-API-Key": key}
    requests = [("/v1/lookup", {"type": t, "value": v}, h) for t, v in _values(demo_source)]
    requests += [
        ("/v1/lookup", {"type": "EMAIL", "value": "nobody@nowhere.example"}, h),
        ("/v1/lookup", {"type": "EMAIL", "value": "n/a"}, h),
        ("/v1/lookup", {"type": "EMAIL", "value": "not an email"}, h),
        ("/v1/lookup", {"type": "EMAIL", "value": "TEST@test.com"}, h),
        ("/v1/lookup", {"type": "SSN", "value": "1"}, h),
        ("/v1/lookup", {"type": "EMAIL", "value": "é@ü.example"}, h),
        ("/v1/lookup", {"type": "EMAIL", "value": "x" * 1024}, h),
        ("/v1/lookup", {"type": "EMAIL", "value": "x" * 1025}, h),
        ("/v1/lookup", {"type": "E" * 257, "value": "a"}, h),
        ("/v1/lookup", {"type": "EMAIL", "value": ""}, h),
        ("/v1/lookup", {"type": "EMAIL"}, h),
        ("/v1/lookup", {"type": "EMAIL", "value": "a@b.co", "extra": "1"}, h),
        ("/v1/lookup", [("type", "EMAIL"), ("type", "PHONE"), ("value", "a@b.co")], h),
        ("/v1/lookup", b"type=EMAIL&value=%ff%fe", h),
        ("/v1/lookup", {"type": "EMAIL", "value": "a@b.co"}, {}),
        ("/v1/lookup", {"type": "EMAIL", "value": "a@b.co"}, {"X-API-Key": "idr_nope"}),
        ("/v1/lookup", {"type": "EMAIL", "value": "a@b.co"}, {"X-API-Key": key[:-1] + "x"}),
        ("/v1/lookup", {"type": "EMAIL", "value": "a@b.co"}, {"X-API-Key": other, "X-Request-ID": "r-1"}),
    ]
    for path, params, headers in requests:
        if isinstance(params, bytes):
            path, params = f"{path}?{params.decode()}", None
        answers = [_answer(c.get(path, params=params, headers=headers)) for c in (fast, plain)]
        assert answers[0] == answers[1], (params, answers)
    twice = [c.get("/v1/lookup", params={"type": "EMAIL", "value": "a@b.co"},
                   headers=[("X-API-Key", key), ("X-API-Key", "idr_nope")]) for c in (fast, plain)]
    assert _answer(twice[0]) == _answer(twice[1])
    assert len(calls) >= 35  # the fast path answered the well-formed ones


def test_fast_path_rate_limits_and_metrics(demo_source):
    key = new_key(demo_source, "read", "fast-limited")
    with TestClient(create_app(demo_source, settings(rate_limit_lookup="2/minute"))) as c:
        wait_ready(lambda: c.get("/v1/health").status_code == 200)
        codes = [c.get("/v1/lookup", params={"type": "EMAIL", "value": "a@b.co"}, headers={"X-API-Key": key})
                 for _ in range(3)]
        assert [r.status_code for r in codes] == [404, 404, 429] and int(codes[2].headers["retry-after"]) >= 1
        assert codes[2].json()["error"]["request_id"] == codes[2].headers["x-request-id"]
        text = c.get("/metrics").text
        assert 'idr_api_requests_total{method="GET",route="/v1/lookup",status="429"}' in text


def test_fast_path_with_redis_answers_in_a_thread_as_the_route(demo_source):
    from serve_testing import redis_or_skip

    env = {"redis_url": redis_or_skip(), "rate_limit_lookup": "1000/minute", "cache_enabled": False}
    key = new_key(demo_source, "read", "fast-redis")
    with ExitStack() as stack:
        pair = []
        for fast in (True, False):
            c = stack.enter_context(TestClient(create_app(demo_source, settings(**env), fast_lookup=fast)))
            wait_ready(lambda: c.get("/v1/health").status_code == 200)
            pair.append(c)
        for t, v in _values(demo_source)[:10] + [("EMAIL", "nobody@nowhere.example"), ("SSN", "1")]:
            answers = [c.get("/v1/lookup", params={"type": t, "value": v}, headers={"X-API-Key": key})
                       for c in pair]
            assert _answer(answers[0]) == _answer(answers[1]), (t, v)
            if answers[0].status_code != 200:  # the request id reached the thread that answered
                assert answers[0].json()["error"]["request_id"] == answers[0].headers["x-request-id"]
