"""The service's own Prometheus metrics, in a registry of their own (served at /metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter("idr_api_requests_total", "Requests answered, by route template, method and status",
                   ["route", "method", "status"], registry=REGISTRY)
LATENCY = Histogram("idr_api_request_duration_seconds", "Time to answer, by route template", ["route"],
                    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
                    registry=REGISTRY)
ERRORS = Counter("idr_api_errors_total", "Error answers, by error code", ["code"], registry=REGISTRY)
CACHE = Counter("idr_api_cache_total", "Lookup cache reads, by result (hit, miss) and store (redis, memory)",
                ["result", "store"], registry=REGISTRY)
AUTH_FAILURES = Counter("idr_api_auth_failures_total", "Refused API keys, by reason (missing, invalid, scope)",
                        ["reason"], registry=REGISTRY)
RATE_LIMITED = Counter("idr_api_rate_limited_total", "Requests refused with 429, by route class",
                       ["route_class"], registry=REGISTRY)
REDIS_UP = Gauge("idr_api_redis_up", "1 when Redis answers, 0 when the service runs without it "
                 "(limits per process, cache bypassed); absent when REDIS_URL is unset", registry=REGISTRY)
REDIS_ERRORS = Counter("idr_api_redis_errors_total", "Redis calls that failed (each switches to the fallback)",
                       registry=REGISTRY)
SNAPSHOT_SWITCHES = Counter("idr_api_snapshot_switches_total", "Snapshots loaded and switched to", registry=REGISTRY)
SNAPSHOT_LOAD_SECONDS = Gauge("idr_api_snapshot_load_seconds", "Time to build the index of the current snapshot",
                              registry=REGISTRY)
SNAPSHOT_RECORDS = Gauge("idr_api_snapshot_records", "Records in the served snapshot", registry=REGISTRY)
SNAPSHOT_LOAD_FAILURES = Counter("idr_api_snapshot_load_failures_total", "Snapshots that could not be loaded "
                                 "(the previous one is served meanwhile)", registry=REGISTRY)
