"""Console report, retention, the `idr dry-run` commands and the HTML impact report."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from datetime import datetime, timedelta

import pytest
from dryrun_testing import load_state, new_db
from idr_testing import state_as_views

from idr.dryrun import DryRunSummary, cleanup, cleanup_expired, format_console, record_dry_run
from idr.dryrun.html import render
from idr.dryrun.retention import select_runs
from idr.errors import InputError
from idr.pipeline.context import utcnow
from idr_testing import idr_cli

EVIL = "<script>alert(1)</script>"
EVIL2 = "crm:\"><img src=x onerror=alert(2)>'"


def summary(**kw) -> DryRunSummary:
    base = dict(run_id="run_20260115_143022_abc123", mode="INCR", total_entities=1_237_000, new_entities=412,
                moved_entities=189, removed_entities=3, unchanged_entities=1_236_399, affected_entities=2_850,
                merged_clusters=23, merged_into_clusters=11, split_clusters=2, largest_proposed_cluster=1_247,
                current_entities=1_236_591, current_clusters=800_000, proposed_clusters=799_990,
                edges_would_create=3_421, groups_would_skip=47, values_would_exclude=12, execution_seconds=3.4,
                created_at=datetime(2026, 1, 15, 14, 30, 22))
    return DryRunSummary(**{**base, **kw})


def test_console_report_layout_numbers_and_review_query():
    s = summary()
    text = format_console(s, s.run_id, "INCR", "idr.duckdb")
    lines = text.splitlines()
    assert lines[0] == lines[2] == lines[-1] == "=" * 60 and lines[1] == "DRY RUN SUMMARY"
    assert "Run ID:           run_20260115_143022_abc123" in lines
    assert "Mode:             INCR (Dry Run)" in lines and "Status:           DRY_RUN_COMPLETE" in lines
    for label, number in [("Entities Affected", "2,850"), ("└─ New Entities", "412"), ("└─ Moved Entities", "189"),
                          ("└─ Removed Entities", "3"), ("└─ Unchanged", "2,246"), ("Not Affected", "1,234,153"),
                          ("Entities After Run", "1,237,000"), ("Merges", "23"), ("Splits", "2"),
                          ("Largest Proposed", "1,247"), ("Would Create", "3,421"), ("Would Skip", "47"),
                          ("Would Exclude", "12")]:
        assert re.search(rf"^  {re.escape(label)}:\s+{re.escape(number)}(\s|$)", text, re.M), label
    # numbers right-aligned in one column
    ends = {len(m.group(1)) for m in re.finditer(r"^(  \S.*?:\s+[\d,]+)(?:\s\s|$)", text, re.M)}
    assert len(ends) == 1
    assert "current clusters combining into 11" in text
    assert "THIS WAS A DRY RUN - NO CHANGES COMMITTED" in text
    assert "WHERE run_id = 'run_20260115_143022_abc123'" in text and "AND change_type = 'MOVED'" in text


def test_console_review_query_quotes_the_run_id():
    text = format_console(summary(run_id="it's"), "it's", "FULL", "idr.duckdb")
    assert "WHERE run_id = 'it''s'" in text


# --- retention ----------------------------------------------------------------------------

def make_runs(con, ages_days: dict[str, float]) -> None:
    """One small dry run per run id, created `age` days ago."""
    for run_id, age in ages_days.items():
        load_state(con, {"crm:1": "crm:1"}, {"crm:1": "crm:2", "crm:2": "crm:2"}, full=True)
        record_dry_run(con, run_id, "FULL", True, {}, 0.0)
        when = utcnow() - timedelta(days=age)
        for t in ("dry_run_results", "dry_run_summary"):
            con.execute(f"UPDATE idr_out.{t} SET created_at = ? WHERE run_id = ?", [when, run_id])


def run_ids(con) -> set[str]:
    return {r[0] for r in con.execute("SELECT run_id FROM idr_out.dry_run_summary UNION "
                                      "SELECT run_id FROM idr_out.dry_run_results").fetchall()}


def test_retention_by_age_keep_last_and_run_id():
    con = new_db()
    make_runs(con, {"r10": 10, "r8": 8, "r6": 6, "r1": 1, "r0": 0})
    assert cleanup_expired(con, 7) == 2 * (2 + 1)  # two results rows and one summary row per run
    assert run_ids(con) == {"r6", "r1", "r0"}
    assert cleanup(con, older_than_days=0.5, keep_last=2) == 3
    assert run_ids(con) == {"r1", "r0"}
    assert cleanup(con, run_id="r0") == 3 and run_ids(con) == {"r1"}
    assert cleanup(con, run_id="nope") == 0
    assert cleanup(con, keep_last=0) == 3 and run_ids(con) == set()


def test_retention_removes_orphan_results_and_needs_a_filter():
    con = new_db()
    make_runs(con, {"old": 30, "new": 0})
    con.execute("DELETE FROM idr_out.dry_run_summary WHERE run_id = 'old'")
    assert select_runs(con, older_than_days=7) == ["old"]
    with pytest.raises(InputError, match="which dry runs"):
        cleanup(con)


# --- HTML ---------------------------------------------------------------------------------

def html_fixture(con):
    current = {EVIL: EVIL, "crm:a2": EVIL, EVIL2: EVIL2, "crm:b2": EVIL2, "crm:c1": "crm:c1", "crm:c2": "crm:c1",
               "crm:c3": "crm:c1", "crm:c4": "crm:c1"}
    scope = {EVIL: EVIL2, "crm:a2": EVIL2, EVIL2: EVIL2, "crm:b2": EVIL2, "web:new<b>": EVIL2,
             "crm:c1": "crm:c1", "crm:c2": "crm:c1", "crm:c3": "crm:c3", "crm:c4": "crm:c3"}
    load_state(con, current, scope, full=True)
    return record_dry_run(con, "run_html", "FULL", True, {"edges": 7}, 0.2)


class Tags(HTMLParser):
    """Every tag and attribute the browser would see."""

    def __init__(self):
        super().__init__()
        self.tags, self.attrs = set(), set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs.update(name for name, _ in attrs)


def test_html_report_is_self_contained_and_escapes_user_data():
    con = new_db()
    html = render(con, html_fixture(con).run_id)
    parsed = Tags()
    parsed.feed(html)
    assert "script" not in parsed.tags and "img" not in parsed.tags
    assert not {a for a in parsed.attrs if a in ("src", "href") or a.startswith("on")}
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "web:new&lt;b&gt;" in html and "web:new<b>" not in html
    # nothing is fetched: no url() or @import in the CSS, the only URL is the SVG namespace
    assert not re.search(r"url\(|@import", html, re.I)
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) == {"http://www.w3.org/2000/svg"}
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert {"svg", "rect", "style"} <= parsed.tags and "Largest merges" in html and "Largest splits" in html


# --- CLI ----------------------------------------------------------------------------------

@pytest.fixture
def dry_db(tmp_path):
    path = tmp_path / "idr.duckdb"
    con = new_db(path)
    html_fixture(con)
    state_as_views(con)
    con.close()
    return path


def test_cli_show_filters_limits_and_writes_the_report(dry_db, tmp_path):
    r = idr_cli("dry-run", "show", "run_html", "--db", str(dry_db))
    assert r.returncode == 0, r.stderr
    assert "DRY RUN SUMMARY" in r.stdout and "WHERE run_id = 'run_html'" in r.stdout
    assert "9 rows in idr_out.dry_run_results" in r.stdout
    r = idr_cli("dry-run", "show", "run_html", "--change-type", "new", "--limit", "5", "--db", str(dry_db))
    assert r.returncode == 0, r.stderr
    table = r.stdout.split("1 NEW row in idr_out.dry_run_results")[1]
    assert "web:new<b>" in table and "MOVED" not in table
    report = tmp_path / "impact.html"
    r = idr_cli("--db", str(dry_db), "dry-run", "show", "run_html", "--limit", "1", "--report", str(report))
    assert r.returncode == 0, r.stderr
    assert "first 1 shown" in r.stdout and report.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_cli_show_errors_exit_2(dry_db, tmp_path):
    r = idr_cli("dry-run", "show", "no_such_run", "--db", str(dry_db))
    assert r.returncode == 2 and "no dry run with run id 'no_such_run'" in r.stderr
    r = idr_cli("dry-run", "show", "run_html", "--change-type", "MERGED", "--db", str(dry_db))
    assert r.returncode == 2 and "invalid choice" in r.stderr
    r = idr_cli("dry-run", "show", "run_html", "--db", str(tmp_path / "missing.duckdb"))
    assert r.returncode == 2 and "no such database" in r.stderr


def test_cli_cleanup(dry_db):
    r = idr_cli("dry-run", "cleanup", "--run-id", "nope", "--db", str(dry_db))
    assert r.returncode == 2 and "no dry run with run id 'nope'" in r.stderr
    r = idr_cli("dry-run", "cleanup", "--db", str(dry_db))  # configured retention: 7 days
    assert r.returncode == 0 and "removed 0 dry runs (older than dry_run_retention_days = 7): 0 rows" in r.stdout
    r = idr_cli("dry-run", "cleanup", "--older-than", "-1", "--db", str(dry_db))
    assert r.returncode == 2
    r = idr_cli("dry-run", "cleanup", "--run-id", "run_html", "--keep-last", "0", "--db", str(dry_db))
    assert r.returncode == 0 and "removed 1 dry run: 10 rows" in r.stdout, r.stdout + r.stderr
    r = idr_cli("dry-run", "show", "run_html", "--db", str(dry_db))
    assert r.returncode == 2


def test_nothing_changes_nothing_listed_and_report_says_so():
    con = new_db()
    state = {"crm:1": "crm:1", "crm:2": "crm:1", "crm:3": "crm:3"}
    load_state(con, state, state, full=True)
    s = record_dry_run(con, "run_same", "FULL", True, {}, 0.0)
    assert (s.affected_entities, s.unchanged_entities, s.merged_clusters, s.split_clusters) == (0, 3, 0, 0)
    html = render(con, "run_same")
    assert "No clusters change" in html and "No current clusters combine" in html
    assert "No current cluster breaks apart" in html
