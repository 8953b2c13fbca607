"""API keys: created once, stored hashed, refused when missing, unknown, revoked (at once,
in every process) or without the scope."""

from __future__ import annotations

import sqlite3

from idr.api import keys
from idr_testing import cli
from serve_testing import client


def test_apikey_commands_store_only_a_salted_hash(demo):
    code, out, err = cli("apikey", "create", "--name", "crm app", "--scope", "read", "--db", str(demo))
    assert code == 0 and "not shown again" in err
    key = out.strip()
    assert key.startswith("idr_") and len(key) > 40
    store = keys.store_path(demo)
    raw = store.read_bytes()
    secret = key.split("_", 2)[2]
    assert secret.encode() not in raw and key.encode() not in raw
    [(salt, digest)] = sqlite3.connect(store).execute("SELECT salt, hash FROM api_key WHERE name = ?", ["crm app"]).fetchall()
    assert len(salt) == 16 and len(digest) == 32
    code, out, _ = cli("apikey", "list", "--db", str(demo))
    assert "crm app" in out and "active" in out and secret not in out
    key_id = key.split("_")[1]
    assert cli("apikey", "revoke", key_id, "--db", str(demo))[0] == 0
    assert "revoked" in cli("apikey", "list", "--db", str(demo))[1]
    code, _, err = cli("apikey", "revoke", "nosuchkey000", "--db", str(demo))
    assert code == 2 and "no such API key" in err
    code, _, err = cli("apikey", "create", "--name", " ", "--db", str(demo))
    assert code == 2


def test_keys_scopes_and_revocation_through_http(demo):
    reader = keys.create(keys.store_path(demo), "reader", "read")[1]
    admin = keys.create(keys.store_path(demo), "admin", "admin")[1]
    with client(demo) as c:
        def get(path, key):
            return c.get(path, headers={} if key is None else {"X-API-Key": key})

        assert get("/v1/runs", None).json()["error"]["code"] == "missing_api_key"
        for bad in ("nonsense", reader + "x", reader[:-1], "idr_000000000000_" + "a" * 43, "ümlaut".encode("latin-1"),
                    admin.replace("idr_", "IDR_")):
            r = get("/v1/runs", bad)
            assert (r.status_code, r.json()["error"]["code"]) == (401, "invalid_api_key"), bad
        assert get("/v1/runs", reader).status_code == 200
        assert get("/v1/runs", admin).status_code == 200
        r = get("/internal/status", reader)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden")
        before = get("/internal/status", admin).json()["keys"]
        assert before["active"] >= 2
        # Revoked by another process (the CLI): refused on the very next request.
        assert cli("apikey", "revoke", reader.split("_")[1], "--db", str(demo))[0] == 0
        assert get("/v1/runs", reader).status_code == 401
        assert get("/internal/status", admin).json()["keys"] == {"active": before["active"] - 1,
                                                                 "revoked": before["revoked"] + 1}
        text = c.get("/metrics").text
        for reason in ("missing", "invalid", "scope"):
            assert f'idr_api_auth_failures_total{{reason="{reason}"}}' in text
