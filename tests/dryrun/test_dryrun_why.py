"""The HTML impact report says why clusters merge: the bridging identifier values (masked
with --mask), the thresholds breached, what changed in the configuration since the
published run, and "N more" wherever a list is cut."""

from __future__ import annotations

import hashlib
from html import escape

import pytest

from idr.cli import main
from idr.dryrun import html, html_why
from idr.dryrun.config_diff import Change, diff
from idr_testing import execute, make_db, query

CODES = [f"<b>&c{i}" for i in range(7)]  # markup in values: the report must escape them


@pytest.fixture
def dry_run(db_path):
    """{1,2} {3,4} {5,6} {7,8} linked by email; entities 1 and 3 share seven codes and 5
    and 7 one, which link nothing until the code rule allows groups of 2."""
    rows = [{"id": i, "email": f"{'abcd'[(i - 1) // 2]}@x.com", "code": None} for i in range(1, 9)]
    rows += [{"id": i, "email": None, "code": c} for c in CODES for i in (1, 3)]
    rows += [{"id": i, "email": None, "code": "z"} for i in (5, 7)]
    make_db(db_path, {"people": rows}, {
        "sources": [{"table_id": "p", "table_fqn": "people", "entity_key_expr": "id",
                     "identifiers": [{"identifier_type": "EMAIL", "identifier_value_expr": "email"},
                                     {"identifier_type": "CODE", "identifier_value_expr": "code"}]}],
        "rules": [{"rule_id": "email", "identifier_type": "EMAIL", "canonicalize": "EMAIL", "max_group_size": 10},
                  {"rule_id": "code", "identifier_type": "CODE", "canonicalize": "NONE", "max_group_size": 1}],
        "config": {"large_cluster_threshold": "3", "metrics_webhook_url": "https://h.example/x?token=secret1"},
    })
    db = str(db_path)
    assert main(["run", "--db", db, "--quiet"]) == 0
    execute(db_path, "UPDATE idr_meta.rule SET max_group_size = 10 WHERE rule_id = 'code'",
            "UPDATE idr_meta.config SET config_value = 'https://h.example/y?token=secret2' "
            "WHERE config_key = 'metrics_webhook_url'")
    assert main(["run", "--db", db, "--dry-run", "--quiet"]) == 0
    published, dry = (r for (r,) in query(db, "SELECT run_id FROM idr_out.run_history ORDER BY started_at"))
    return db, published, dry


def report(tmp_path, db, run_id, *extra) -> str:
    out = tmp_path / "r.html"
    assert main(["dry-run", "show", run_id, "--db", db, "--limit", "0", "--report", str(out), *extra]) == 0
    return out.read_text(encoding="utf-8")


def test_bridges_thresholds_and_config_changes(dry_run, tmp_path, monkeypatch):
    db, published, dry = dry_run
    # The bridges are recorded: seven codes join p:1's and p:3's clusters, one joins p:5's and p:7's.
    assert query(db, "SELECT proposed_resolved_id, identifier_type, count(*), min(parts), max(entities) "
                     "FROM idr_out.dry_run_bridges WHERE run_id = ? GROUP BY ALL ORDER BY 1", [dry]) == [
        ("p:1", "CODE", 7, 2, 2), ("p:5", "CODE", 1, 2, 2)]
    monkeypatch.setattr(html, "MAX_MERGES", 1)
    monkeypatch.setattr(html_why, "MAX_LARGE", 1)
    page = report(tmp_path, db, dry)
    # Bridging values, escaped, most shared first, cut at MAX_BRIDGES with the rest counted.
    shown = [c for c in CODES if escape(c) in page]
    assert len(shown) == html_why.MAX_BRIDGES and "… and 2 more values" in page
    assert not any(c in page for c in CODES)  # never unescaped
    assert '<span class="type">CODE</span>' in page
    # Cut lists say how much is left: one more merge, one more large cluster.
    assert "… and 1 more merges" in page and "… and 1 more clusters" in page
    # Thresholds: both proposed clusters of 4 are over large_cluster_threshold = 3.
    assert "<code>large_cluster_threshold</code> = 3" in page
    # Configuration: the rule change, against the published run; the URL's token is not shown.
    assert f"the published run <code>{published}</code>" in page
    assert "<td>rule code</td><td>max_group_size</td><td><code>1</code></td><td><code>10</code></td>" in page
    assert "setting metrics_webhook_url" in page and "secret" not in page


def test_mask_shows_type_and_hash_only(dry_run, tmp_path):
    db, _, dry = dry_run
    page = report(tmp_path, db, dry, "--mask")
    assert not any(escape(c) in page for c in CODES) and "<code>z</code>" not in page

    def digest(v: str) -> str:
        return "sha256:" + hashlib.sha256(v.encode()).hexdigest()[:12]

    shown, cut = sorted(CODES)[:html_why.MAX_BRIDGES], sorted(CODES)[html_why.MAX_BRIDGES:]
    assert all(digest(v) in page for v in [*shown, "z"]) and not any(digest(v) in page for v in cut)
    assert '<span class="type">CODE</span> <code>' + digest("z") + "</code>" in page


def test_config_diff_lists_each_change():
    before = {"sources": [{"table_id": "crm", "table_fqn": "crm", "identifiers": [
                  {"identifier_type": "EMAIL", "identifier_value_expr": "email", "is_hashed": False}]},
                          {"table_id": "old", "table_fqn": "old", "identifiers": []}],
              "rules": [{"rule_id": "phone", "max_group_size": 20, "is_active": True}],
              "exclusions": [{"identifier_type": "EMAIL", "identifier_value_pattern": "a@x.com", "is_pattern": False}],
              "config": {}}
    after = {"sources": [{"table_id": "crm", "table_fqn": "crm_v2", "identifiers": [
                 {"identifier_type": "EMAIL", "identifier_value_expr": "lower(email)", "is_hashed": False}]}],
             "rules": [{"rule_id": "phone", "max_group_size": 1000, "is_active": True},
                       {"rule_id": "ssn", "max_group_size": 1, "is_active": True}],
             "exclusions": [],
             "config": {"large_cluster_threshold": "50", "metrics_pushgateway_url": "http://u:p@h:9091/?k=v"}}
    assert diff(before, after) == [
        Change("source crm", "table_fqn", "crm", "crm_v2"),
        Change("source crm", "identifier EMAIL", "email", None),
        Change("source crm", "identifier EMAIL", None, "lower(email)"),
        Change("source old", None, "present", None),
        Change("rule phone", "max_group_size", "20", "1000"),
        Change("rule ssn", None, None, "added"),
        Change("exclusion", None, "a@x.com", None, identifier_type="EMAIL"),
        Change("setting large_cluster_threshold", None, "5000", "50"),
        Change("setting metrics_pushgateway_url", None, "", "http://h:9091/"),
    ]
    assert diff(after, after) == []
