"""Rate limits per key with Retry-After; with REDIS_URL, limits and the cache shared by two
service processes; Redis stopped and started under a running service."""

from __future__ import annotations

import httpx
import redis

from serve_testing import client, new_key, own_redis, redis_or_skip, server, wait_ready


def test_limit_per_key_and_route_class_with_retry_after(demo):
    a, b = new_key(demo, "read", "a"), new_key(demo, "read", "b")
    with client(demo, rate_limit_lookup="3/minute", cache_enabled=False) as c:
        refused_before = refused(c)
        lookup = {"type": "EMAIL", "value": "nobody@nowhere.example"}
        assert [c.get("/v1/lookup", params=lookup, headers={"X-API-Key": a}).status_code for _ in range(3)] == [404] * 3
        r = c.get("/v1/lookup", params=lookup, headers={"X-API-Key": a})
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(r.headers["Retry-After"]) <= 60
        assert c.get("/v1/lookup", params=lookup, headers={"X-API-Key": b}).status_code == 404  # another key
        assert c.get("/v1/runs", headers={"X-API-Key": a}).status_code == 200  # another route class
        assert refused(c) == refused_before + 1  # the metrics are per process: other tests count too


def refused(c) -> float:
    for line in c.get("/metrics").text.splitlines():
        if line.startswith('idr_api_rate_limited_total{route_class="lookup"}'):
            return float(line.split()[-1])
    return 0.0


def test_two_processes_share_one_limit_and_the_cache_through_redis(demo):
    url = redis_or_skip()
    key = new_key(demo, "read", "shared")
    admin = new_key(demo, "admin", "ops")
    env = {"REDIS_URL": url, "RATE_LIMIT_LOOKUP": "6/minute"}
    with server(demo, env) as one, server(demo, env) as two:
        h = {"X-API-Key": key}
        email = httpx.get(f"{one}/v1/runs", headers=h).json()  # warm; read class
        assert email["runs"]
        lookup = {"type": "LOYALTY_ID", "value": "nope-0"}
        codes = [httpx.get(f"{url_}/v1/lookup", params=lookup, headers=h).status_code
                 for url_ in (one, two, one, two, one, two, one, two)]
        assert codes == [404] * 6 + [429, 429], codes  # 6 per minute across both
        s1 = httpx.get(f"{one}/internal/status", headers={"X-API-Key": admin}).json()
        s2 = httpx.get(f"{two}/internal/status", headers={"X-API-Key": admin}).json()
        assert s1["redis"]["up"] and s1["rate_limits"]["store"] == "redis" and s1["cache"]["store"] == "redis"
        # One process filled the shared cache, the other read it.
        assert s1["cache"]["misses"] + s2["cache"]["misses"] == 1
        assert s1["cache"]["hits"] + s2["cache"]["hits"] == 5
        version = s1["snapshot"]["version"]
        cached = redis.Redis.from_url(url).keys(f"idr:lookup:{version}:*")
        assert cached and all(b"nope" not in k for k in cached)  # keyed by a hash, never the value


def test_redis_away_and_back(demo):
    key, admin = new_key(demo, "read", "r"), new_key(demo, "admin", "ops")
    with own_redis() as port:
        env = {"redis_url": f"redis://127.0.0.1:{port}/0", "redis_retry_seconds": 0.2,
               "rate_limit_lookup": "1000/minute"}
        with client(demo, **env) as c:
            def status():
                return c.get("/internal/status", headers={"X-API-Key": admin}).json()

            def lookup():
                return c.get("/v1/lookup", params={"type": "EMAIL", "value": "nobody@nowhere.example"},
                             headers={"X-API-Key": key}).status_code

            assert lookup() == 404 and status()["redis"]["up"]
            redis.Redis("127.0.0.1", port).shutdown(nosave=True)
            assert [lookup() for _ in range(5)] == [404] * 5  # answers go on without Redis
            s = status()
            assert not s["redis"]["up"] and s["redis"]["last_error"] and s["redis"]["errors"] >= 1
            assert s["rate_limits"]["store"] == "memory" and s["cache"]["store"].startswith("bypassed")
            assert "idr_api_redis_up 0.0" in c.get("/metrics").text
            with own_redis(port):  # Redis returns on the same address: used again, no restart
                wait_ready(lambda: status()["redis"]["up"], timeout=10)
                assert lookup() == 404
                s = status()
                assert s["rate_limits"]["store"] == "redis" and s["cache"]["store"] == "redis"
                assert "idr_api_redis_up 1.0" in c.get("/metrics").text
                assert redis.Redis("127.0.0.1", port).keys("LIMITS*")  # the limit counts there again
