"""The service answers while runs publish and a rollback switches back; it moves to each
new snapshot without a restart and never answers from half of a switch."""

from __future__ import annotations

import threading
import time

import duckdb

import idr
from idr_testing import idr_cli
from serve_testing import client, new_key, wait_ready

NEW_EMAIL = "fresh.customer@serve-test.example"


def test_runs_and_a_rollback_publish_while_requests_flow(demo):
    key = new_key(demo)
    first = idr.snapshot_version(demo)
    # Requests as fast as the client goes: over the default lookup rate (a 429 names no snapshot).
    with client(demo, rate_limit_lookup="1000000/minute") as c:
        c.headers["X-API-Key"] = key
        answers, stop = [], threading.Event()

        def traffic():
            while not stop.is_set():
                r = c.get("/v1/lookup", params={"type": "EMAIL", "value": NEW_EMAIL.upper()})
                body = r.json()
                snapshot = body.get("snapshot") or body["error"]["message"].rsplit(" ", 1)[-1]
                answers.append((r.status_code, snapshot))

        t = threading.Thread(target=traffic)
        t.start()
        try:
            con = duckdb.connect(str(demo))
            con.execute("INSERT INTO crm_customers (customer_id, first_name, last_name, email, updated_at) "
                        "VALUES ('C900001', 'Fresh', 'Customer', ?, now()::TIMESTAMP)", [NEW_EMAIL])
            con.close()
            assert idr_cli("run", "--run-mode", "INCR", "--db", str(demo)).returncode == 0
            second = idr.snapshot_version(demo)
            wait_ready(lambda: any(s == second for _, s in answers[-5:]), timeout=30)
            assert idr_cli("run", "--run-mode", "FULL", "--db", str(demo)).returncode == 0
            third = idr.snapshot_version(demo)
            wait_ready(lambda: any(s == third for _, s in answers[-5:]), timeout=30)
            assert idr_cli("rollback", "--to", first, "--db", str(demo)).returncode == 0
            fourth = idr.snapshot_version(demo)
            wait_ready(lambda: any(s == fourth for _, s in answers[-5:]), timeout=30)
            time.sleep(0.3)
        finally:
            stop.set()
            t.join()
    assert len({first, second, third, fourth}) == 4
    by_snapshot: dict[str, set] = {}
    for status, snapshot in answers:
        by_snapshot.setdefault(snapshot, set()).add(status)
    assert set(by_snapshot) <= {first, second, third, fourth}, "answers from an unknown snapshot"
    # Each snapshot answers consistently: the new email is found exactly in the runs that saw it.
    assert by_snapshot[first] == {404} and by_snapshot[fourth] == {404}
    assert by_snapshot.get(second, {200}) == {200} and by_snapshot[third] == {200}
    # Snapshots appear in publish order, each one once (no flapping back to an old one).
    order = [s for i, (_, s) in enumerate(answers) if i == 0 or answers[i - 1][1] != s]
    assert order == [s for s in (first, second, third, fourth) if s in order]
