"""Lookups of messy values, checked against the published tables; entities, clusters,
runs; the one error shape for bad input."""

from __future__ import annotations

import random

import pytest

import idr
from serve_testing import client, new_key


@pytest.fixture(scope="module")
def api(demo_source):
    key = new_key(demo_source, "read", "lookup-tests")
    with client(demo_source) as c:
        c.headers["X-API-Key"] = key
        yield c


def published(db, sql, params=None):
    con = idr.open_results(db)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def messy(value: str, rnd: random.Random) -> str:
    """The value as a source might hold it: other case, blanks around."""
    v = "".join(ch.upper() if rnd.random() < 0.5 else ch for ch in value)
    return rnd.choice(["", " ", "\t", "  "]) + v + rnd.choice(["", " ", " \n"])


def test_messy_emails_find_the_published_cluster(api, demo_source):
    rnd = random.Random(3)
    pairs = published(demo_source, """
        SELECT i.identifier_value_norm, list(DISTINCT m.resolved_id), list(DISTINCT i.entity_key)
        FROM idr_out.identity_identifiers_current i JOIN idr_out.identity_resolved_membership_current m USING (entity_key)
        WHERE i.identifier_type = 'EMAIL' GROUP BY 1 ORDER BY 1""")
    sizes = dict(published(demo_source, "SELECT resolved_id, cluster_size FROM idr_out.identity_clusters_current"))
    for value, rids, keys in rnd.sample(pairs, 40):
        r = api.get("/v1/lookup", params={"type": "EMAIL", "value": messy(value, rnd)})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["normalised_value"] == value
        assert sorted(m["resolved_id"] for m in body["matches"]) == sorted(rids)
        assert sorted(rec["entity_key"] for m in body["matches"] for rec in m["records"]) == sorted(keys)
        for m in body["matches"]:
            assert m["cluster_size"] == sizes[m["resolved_id"]]
        if len(rids) == 1:
            assert body["resolved_id"] == rids[0] and body["cluster_size"] == sizes[rids[0]]


def test_phones_in_other_formats_are_found(api, demo_source):
    [(e164, rid)] = published(demo_source, """
        SELECT i.identifier_value_norm, any_value(m.resolved_id) FROM idr_out.identity_identifiers_current i
        JOIN idr_out.identity_resolved_membership_current m USING (entity_key)
        WHERE i.identifier_type = 'PHONE' AND i.identifier_value_norm LIKE '+1%' GROUP BY 1 ORDER BY 1 LIMIT 1""")
    n = e164[2:]
    for shape in (f"({n[:3]}) {n[3:6]}-{n[6:]}", f"{n[:3]}.{n[3:6]}.{n[6:]}", f"+1 {n}", f" 1-{n[:3]}-{n[3:6]}-{n[6:]} "):
        body = api.get("/v1/lookup", params={"type": "PHONE", "value": shape}).json()
        assert body["normalised_value"] == e164 and rid in [m["resolved_id"] for m in body["matches"]], shape


def test_batch_answers_like_single_lookups(api, demo_source):
    values = [v for (v,) in published(demo_source, "SELECT DISTINCT identifier_value_norm FROM "
                                      "idr_out.identity_identifiers_current WHERE identifier_type = 'EMAIL' ORDER BY 1 LIMIT 30")]
    items = [{"type": "EMAIL", "value": v.upper()} for v in values] + [
        {"type": "EMAIL", "value": "nobody.at.all@nowhere.example"}, {"type": "EMAIL", "value": "n/a"},
        {"type": "EMAIL", "value": "not an email"}, {"type": "EMAIL", "value": "test@test.com"},
        {"type": "SSN", "value": "123"}]
    r = api.post("/v1/lookup/batch", json={"lookups": items})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results[-5:]] == ["not_found", "placeholder", "invalid", "excluded",
                                                   "unknown_identifier_type"]
    for item, got in zip(items[:30], results):
        single = api.get("/v1/lookup", params=item).json()
        assert got == single


def test_values_that_cannot_link_are_404_with_the_reason(api):
    for value, code in (("n/a", "value_placeholder"), ("not an email", "value_invalid"),
                        ("TEST@test.com ", "value_excluded")):
        r = api.get("/v1/lookup", params={"type": "EMAIL", "value": value})
        assert (r.status_code, r.json()["error"]["code"]) == (404, code)
    r = api.get("/v1/lookup", params={"type": "EMAIL", "value": "nobody.at.all@nowhere.example"})
    assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")


def test_entity_and_cluster_cards_match_the_tables(api, demo_source):
    [(rid, size)] = published(demo_source, "SELECT resolved_id, cluster_size FROM idr_out.identity_clusters_current "
                                           "ORDER BY cluster_size DESC, resolved_id LIMIT 1")
    members = sorted(k for (k,) in published(demo_source, "SELECT entity_key FROM "
                     "idr_out.identity_resolved_membership_current WHERE resolved_id = ?", [rid]))
    card = api.get(f"/v1/clusters/{rid}", params={"limit": 1000}).json()
    assert card["cluster_size"] == size == len(members)
    assert [m["entity_key"] for m in card["members"]] == members and not card["members_truncated"]
    held = sorted(published(demo_source, "SELECT DISTINCT identifier_type, identifier_value_norm FROM "
                  "idr_out.identity_identifiers_current WHERE entity_key IN (SELECT unnest(?))", [members]))
    assert sorted((i["identifier_type"], i["value"]) for i in card["identifiers"]) == held
    golden = published(demo_source, "SELECT best_email FROM idr_out.golden_profile_current WHERE resolved_id = ?", [rid])
    assert card["golden_profile"]["best_email"] == golden[0][0]
    short = api.get(f"/v1/clusters/{rid}", params={"limit": 1}).json()
    assert len(short["members"]) == 1 and short["members_truncated"]
    e = api.get(f"/v1/entities/{members[0]}").json()
    assert (e["resolved_id"], e["cluster_size"], e["table_id"]) == (rid, size, members[0].split(":")[0])


def test_runs_with_stage_metrics(api, demo_source):
    runs = api.get("/v1/runs").json()["runs"]
    [(run_id, stages)] = published(demo_source, "SELECT run_id, (SELECT count(*) FROM idr_out.stage_metrics s "
                                   "WHERE s.run_id = h.run_id) FROM idr_out.run_history h")
    assert [r["run_id"] for r in runs] == [run_id]
    detail = api.get(f"/v1/runs/{run_id}").json()
    assert detail["status"] == "SUCCESS" and len(detail["stages"]) == stages > 0
    assert {"normalize", "components", "publish"} <= {s["stage_name"] for s in detail["stages"]}


@pytest.mark.parametrize("method, path, kwargs, status, code", [
    ("get", "/v1/lookup", {"params": {"type": "SSN", "value": "x"}}, 404, "unknown_identifier_type"),
    ("get", "/v1/lookup", {"params": {"type": "EMAIL", "value": ""}}, 422, "invalid_request"),
    ("get", "/v1/lookup", {"params": {"type": "EMAIL", "value": "x" * 10_000}}, 422, "invalid_request"),
    ("get", "/v1/lookup", {"params": {"type": "EMAIL"}}, 422, "invalid_request"),
    ("get", "/v1/lookup", {"params": {"type": "EMAIL", "value": "'; DROP TABLE idr_out.run_history; --"}}, 404,
     "value_invalid"),
    ("get", "/v1/lookup", {"params": {"type": "EMAIL", "value": "a@b.co'OR'1'='1"}}, 404, "not_found"),
    ("get", "/v1/entities/nope:0", {}, 404, "not_found"),
    ("get", "/v1/clusters/%00%ff", {}, 404, "not_found"),
    ("get", "/v1/runs/run_none", {}, 404, "not_found"),
    ("get", "/v1/runs", {"params": {"limit": -1}}, 422, "invalid_request"),
    ("get", "/v1/nothing", {}, 404, "not_found"),
    ("delete", "/v1/lookup", {}, 405, "method_not_allowed"),
    ("post", "/v1/lookup/batch", {"json": {"lookups": [{"type": "EMAIL", "value": "a@b.co"}] * 1001}}, 422,
     "invalid_request"),
    ("post", "/v1/lookup/batch", {"json": {"lookups": []}}, 422, "invalid_request"),
    ("post", "/v1/lookup/batch", {"json": [1, 2]}, 422, "invalid_request"),
    ("post", "/v1/lookup/batch", {"content": b"type=EMAIL", "headers": {"content-type": "text/plain"}}, 415,
     "unsupported_media_type"),
    ("post", "/v1/lookup/batch", {"content": b"{not json", "headers": {"content-type": "application/json"}}, 400,
     "invalid_json"),
])
def test_bad_input_is_one_error_shape(api, method, path, kwargs, status, code):
    r = getattr(api, method)(path, **kwargs)
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "request_id"}
    assert body["error"]["code"] == code and body["error"]["request_id"] == r.headers["x-request-id"]


def test_request_ids(api):
    r = api.get("/v1/health", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    forged = api.get("/v1/health", headers={"X-Request-ID": "a\" injected=1"}).headers["x-request-id"]
    assert forged != "a\" injected=1" and len(forged) == 32
    assert api.get("/v1/health").headers["x-request-id"] != api.get("/v1/health").headers["x-request-id"]


def test_health_openapi_and_metrics(api, demo_source):
    h = api.get("/v1/health", headers={"X-API-Key": ""}).json()
    assert h["status"] == "ok" and h["snapshot"] == idr.snapshot_version(demo_source) and h["snapshot_reachable"]
    assert h["last_successful_run"]["run_mode"] == "FULL" and h["last_successful_run"]["age_seconds"] >= 0
    spec = api.get("/openapi.json").json()
    assert {"/v1/health", "/v1/lookup", "/v1/lookup/batch", "/v1/entities/{entity_key}", "/v1/clusters/{resolved_id}",
            "/v1/runs", "/v1/runs/{run_id}", "/internal/status"} <= set(spec["paths"])
    assert api.get("/docs").status_code == 200
    api.get("/v1/lookup", params={"type": "EMAIL", "value": "nobody.at.all@nowhere.example"})
    text = api.get("/metrics").text
    assert 'idr_api_requests_total{method="GET",route="/v1/lookup",status="404"}' in text
    assert 'idr_api_request_duration_seconds_bucket{le="0.01",route="/v1/lookup"}' in text
    assert "idr_api_errors_total" in text and "idr_api_cache_total" in text
