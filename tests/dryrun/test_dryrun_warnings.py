"""A dry run's warnings (recorded in run_history) are shown wherever the dry run is: the
console report of `idr run --dry-run`, `idr dry-run show` and the HTML report."""

from __future__ import annotations

from html import escape

from idr.cli import main
from idr_testing import execute, make_db, query, simple_config


def test_large_cluster_warning_in_console_show_and_html(db_path, tmp_path, capsys):
    people = [{"id": i, "email": "a@x.com"} for i in range(1, 4)] + [{"id": 9, "email": "z@x.com"}]
    make_db(db_path, {"people": people}, simple_config(extra={"config": {"large_cluster_threshold": "2"}}))
    db = str(db_path)
    assert main(["run", "--dry-run", "--db", db]) == 0
    console = capsys.readouterr().out
    run_id, warnings = query(db, "SELECT run_id, warnings FROM idr_out.run_history")[0]
    expected = "1 cluster(s) larger than large_cluster_threshold=2 (largest: 3)"
    assert warnings == expected
    assert f"WARNINGS (1):\n  {expected}\n" in console

    report = tmp_path / "r.html"
    assert main(["dry-run", "show", run_id, "--db", db, "--limit", "0", "--report", str(report)]) == 0
    assert f"WARNINGS (1):\n  {expected}\n" in capsys.readouterr().out
    assert f"<li>{escape(expected)}</li>" in report.read_text()

    # Dry runs recorded before dry_run_summary had the column: the run's row still has them.
    execute(db_path, "UPDATE idr_out.dry_run_summary SET warnings = NULL")
    assert main(["dry-run", "show", run_id, "--db", db, "--limit", "0"]) == 0
    assert f"WARNINGS (1):\n  {expected}\n" in capsys.readouterr().out


def test_no_warnings_section_without_warnings(db_path, capsys):
    make_db(db_path, {"people": [{"id": 1, "email": "a@x.com"}, {"id": 2, "email": "a@x.com"}]}, simple_config())
    assert main(["run", "--dry-run", "--db", str(db_path)]) == 0
    assert "WARNINGS" not in capsys.readouterr().out
