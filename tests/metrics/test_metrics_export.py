"""After each run: configured exporters, exported_at per exporter, failures as warnings."""

from __future__ import annotations

import base64
import time

import pytest

from idr.settings import get_settings
from idr.backends.duckdb import open_database
from idr.errors import RunError
from idr.metrics.export import append_run_warnings, export_after_run, parse_exporters
from idr.metrics.retry import RetryPolicy
from idr.runs.runner import run
from idr_testing import idr_cli
from metrics_testing import DEAD_URL, Receiver, build_db, cli, query, recorded_run, set_config

FAST = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.05, timeout=2)
SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def export(path, policy=FAST) -> list[str]:
    con = open_database(path)
    try:
        return export_after_run(con, None, policy=policy)
    finally:
        con.close()


def delivery(path) -> list[tuple]:
    return query(path, "SELECT run_id, exported_to, count(*), count(exported_at) FROM idr_out.metrics_export "
                       "GROUP BY ALL ORDER BY run_id")


def test_exported_at_is_set_when_every_configured_exporter_delivered(db, tmp_path, monkeypatch):
    path, run_id = db
    prom = tmp_path / "idr.prom"
    monkeypatch.setenv("IDR_WEBHOOK_SECRET", SECRET)
    get_settings.cache_clear()  # settings are read once per process
    set_config(path, metrics_exporters="textfile, webhook", metrics_textfile_path=str(prom),
               metrics_webhook_url=DEAD_URL)
    warnings = export(path)
    assert len(warnings) == 1 and warnings[0].startswith("metrics export to webhook failed")
    ((_, exported_to, n, n_at),) = delivery(path)
    assert exported_to == "textfile" and n_at == 0 and n > 30  # delivered by one of two: still pending
    written = prom.stat().st_mtime_ns
    with Receiver() as rx:
        set_config(path, metrics_webhook_url=rx.url)
        time.sleep(0.01)
        assert export(path) == []
    assert len(rx.requests) == 1
    assert delivery(path) == [(run_id, "textfile,webhook", n, n)]
    assert prom.stat().st_mtime_ns == written  # the textfile had nothing pending: not rewritten
    with Receiver() as rx:
        set_config(path, metrics_webhook_url=rx.url)
        assert export(path) == []  # nothing pending: nothing sent
    assert rx.requests == []


def test_an_exporter_added_later_sends_only_what_is_pending(db, tmp_path, monkeypatch):
    path, run_id = db
    monkeypatch.delenv("IDR_WEBHOOK_SECRET", raising=False)
    get_settings.cache_clear()  # settings are read once per process
    set_config(path, metrics_exporters="textfile", metrics_textfile_path=str(tmp_path / "a.prom"))
    assert export(path) == []
    set_config(path, metrics_exporters="textfile,webhook", metrics_webhook_url=DEAD_URL)
    second = recorded_run(path)
    assert len(export(path)) == 1  # webhook: no secret
    rows = {r[0]: r[1:] for r in delivery(path)}
    assert rows[run_id][0] == "textfile" and rows[run_id][2] == rows[run_id][1]  # exported before webhook existed
    assert rows[second][0] == "textfile" and rows[second][2] == 0  # waits for the webhook


def test_unknown_exporters_and_missing_settings_are_reported(db):
    path, _ = db
    set_config(path, metrics_exporters="pushgateway,carrier-pigeon")
    warnings = export(path)
    assert any("unknown exporter 'carrier-pigeon'" in w for w in warnings)
    assert any("pushgateway failed: metrics_pushgateway_url is empty" in w for w in warnings)
    assert parse_exporters(" Webhook,,textfile, webhook ") == (("webhook", "textfile"), ())


def test_run_refuses_unknown_exporters_and_missing_destinations(db):
    """Validation (idr run, idr config load, idr config check) catches what export would
    only warn about later: the run is refused with exit 2 and every problem listed."""
    path, _ = db
    set_config(path, metrics_exporters="webhook,x,textfile", metrics_textfile_path="")
    before = query(path, "SELECT count(*) FROM idr_out.run_history")
    proc = idr_cli("run", "--db", str(path))
    assert proc.returncode == 2, proc.stderr
    assert "unknown exporter 'x'" in proc.stderr
    assert "metrics_exporters names webhook but metrics_webhook_url is empty" in proc.stderr
    assert "metrics_exporters names textfile but metrics_textfile_path is empty" in proc.stderr
    assert query(path, "SELECT count(*) FROM idr_out.run_history") == before


def test_no_exporters_configured_is_silent(db):
    path, _ = db
    assert export(path) == []
    assert query(path, "SELECT count(exported_at), count(exported_to) FROM idr_out.metrics_export") == [(0, 0)]


def test_append_run_warnings_keeps_the_status(db):
    path, run_id = db
    con = open_database(path)
    try:
        append_run_warnings(con, run_id, ["metrics export to webhook failed: x"])
        append_run_warnings(con, run_id, ["second"])
        append_run_warnings(con, run_id, [])
    finally:
        con.close()
    assert query(path, "SELECT status, warnings FROM idr_out.run_history WHERE run_id = ?", [run_id]) == \
        [("SUCCESS", "metrics export to webhook failed: x; second")]


def test_dead_pushgateway_after_a_run_is_a_warning_and_metrics_are_kept(db):
    """The library path the runner uses: run, export, append the warnings."""
    path, _ = db
    set_config(path, metrics_exporters="pushgateway", metrics_pushgateway_url=DEAD_URL)
    run_id = recorded_run(path)
    con = open_database(path)
    try:
        warnings = export_after_run(con, run_id, policy=FAST)
        append_run_warnings(con, run_id, warnings)
    finally:
        con.close()
    (status, text), = query(path, "SELECT status, warnings FROM idr_out.run_history WHERE run_id = ?", [run_id])
    assert status == "SUCCESS" and "metrics export to pushgateway failed" in text and "Connection refused" in text
    assert query(path, "SELECT count(*) FROM idr_out.metrics_export WHERE run_id = ? AND exported_at IS NULL",
                 [run_id])[0][0] > 30


def test_metrics_export_command(db, tmp_path):
    path, _ = db
    code, _, err = cli("metrics", "export", "--db", str(path))
    assert code == 2 and "no exporters configured" in err
    set_config(path, metrics_exporters="pushgateway", metrics_pushgateway_url=DEAD_URL)
    code, out, err = cli("metrics", "export", "--attempts", "1", "--db", str(path))
    assert code == 1 and "warning: metrics export to pushgateway failed" in err and "0 rows marked" in out
    set_config(path, metrics_exporters="textfile", metrics_textfile_path=str(tmp_path / "x.prom"))
    code, out, _ = cli("metrics", "export", "--db", str(path))
    assert code == 0 and "still pending" in out and (tmp_path / "x.prom").exists()
    assert query(path, "SELECT count(*) FROM idr_out.metrics_export WHERE exported_at IS NULL") == [(0,)]


def test_wired_idr_run_exports_after_the_run_and_a_dead_exporter_is_a_warning(tmp_path):
    """The automatic path through `idr run`: the configured exporters run when it ends; the
    one pointed at a dead address leaves a warning and pending rows, the run succeeds."""
    prom = tmp_path / "idr.prom"
    path = build_db(tmp_path / "wired.duckdb", {"metrics_exporters": "textfile,pushgateway",
                                                "metrics_textfile_path": str(prom),
                                                "metrics_pushgateway_url": DEAD_URL})
    proc = idr_cli("run", "--run-mode", "FULL", "--db", str(path))
    assert proc.returncode == 0, proc.stderr
    assert prom.exists() and "idr_total_clusters" in prom.read_text()
    (status, warnings), = query(path, "SELECT status, warnings FROM idr_out.run_history")
    assert status in ("SUCCESS", "SUCCESS_WITH_WARNINGS") and "metrics export to pushgateway failed" in warnings
    assert query(path, "SELECT DISTINCT exported_to, exported_at IS NULL FROM idr_out.metrics_export") == \
        [("textfile", True)]


def test_wired_failed_run_is_exported_too(tmp_path, monkeypatch):
    monkeypatch.setenv("IDR_WEBHOOK_SECRET", SECRET)
    get_settings.cache_clear()  # settings are read once per process
    with Receiver() as rx:
        path = build_db(tmp_path / "wired.duckdb", {"metrics_exporters": "webhook", "metrics_webhook_url": rx.url})
        with pytest.raises(RunError):
            run(str(path), "FULL", strategy="sql", max_iters=1)
    assert len(rx.requests) == 1 and b'"status":"FAILED"' in rx.requests[0].body


@pytest.mark.parametrize("value", ["", "webhook"])
def test_run_itself_never_fails_because_of_exporters(tmp_path, value):
    """Whatever the lead's wiring does, a run with exporters configured publishes."""
    path = build_db(tmp_path / "x.duckdb", {"metrics_exporters": value, "metrics_webhook_url": DEAD_URL})
    assert run(str(path)).status in ("SUCCESS", "SUCCESS_WITH_WARNINGS")


def test_quiet_run_with_a_dead_exporter_warns_on_stderr(tmp_path):
    """--quiet prints only `RUN_ID STATUS` on standard output; the exporter's failure is
    still on standard error. The run keeps its status (docs/metrics.md): the results are
    published and the failure is a warning in run_history."""
    path = build_db(tmp_path / "quiet.duckdb", {"metrics_exporters": "pushgateway",
                                                "metrics_pushgateway_url": DEAD_URL})
    code, out, err = cli("run", "--quiet", "--db", str(path))
    (run_id, status, warnings), = query(path, "SELECT run_id, status, warnings FROM idr_out.run_history")
    assert code == 0 and out == f"{run_id} {status}\n" and status == "SUCCESS"
    assert f"idr: warning: {warnings}\n" in err and "metrics export to pushgateway failed" in warnings
    # Without --quiet the summary lists it as well.
    code, out, err = cli("run", "--db", str(path))
    assert code == 0 and "WARNING: metrics export to pushgateway failed" in out
    assert "idr: warning: metrics export to pushgateway failed" in err
