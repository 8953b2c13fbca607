"""Changes that bypass the watermark (runs/watermark_check.py): an update that does not
bump watermark_column, a hard delete, an insert with an old watermark. Normal updates
must not raise it."""

from __future__ import annotations

import pytest
from idr_testing import execute, make_db, partition, query, simple_config

from idr.errors import ConfigError
from idr.runs.runner import run

T0 = "TIMESTAMP '2026-01-01 00:00:00'"


def db_with_watermark(path, n: int = 200, **settings):
    rows = [{"id": f"k{i:04d}", "email": f"u{i}@x.com"} for i in range(n)]
    cfg = simple_config(extra={"config": settings} if settings else None)
    cfg["sources"][0]["watermark_column"] = "updated_at"
    make_db(path, {"people": rows}, {**cfg, "sources": cfg["sources"]})
    # Rows from the day before; the newest one sets the watermark (INCR re-reads rows at it).
    execute(path, f"ALTER TABLE people ADD COLUMN updated_at TIMESTAMP DEFAULT {T0} - INTERVAL 1 DAY",
            f"UPDATE people SET updated_at = {T0} WHERE id = 'k{n - 1:04d}'")
    return path


def bypass_warnings(result) -> list[str]:
    return [w for w in result.warnings if "without a newer watermark" in w]


def test_normal_updates_raise_nothing(db_path):
    db_with_watermark(db_path)
    assert run(str(db_path)).status == "SUCCESS"
    for i in range(3):
        execute(db_path, f"UPDATE people SET email = 'u{i + 1}@x.com', updated_at = {T0} + INTERVAL {i + 1} HOUR "
                         f"WHERE id = 'k{i + 100:04d}'",
                f"INSERT INTO people VALUES ('new{i}', 'n{i}@x.com', {T0} + INTERVAL {i + 1} HOUR)",
                f"UPDATE people SET updated_at = {T0} + INTERVAL {i + 1} HOUR WHERE id = 'k{i + 150:04d}'")
        r = run(str(db_path), "INCR")
        assert r.mode == "INCR" and bypass_warnings(r) == [] and r.status == "SUCCESS", r.warnings


def test_update_without_watermark_is_detected_and_warned(db_path):
    db_with_watermark(db_path)
    run(str(db_path))
    # k0007 now shares k0008's email, but its updated_at stays: INCR cannot see it.
    execute(db_path, "UPDATE people SET email = 'u8@x.com' WHERE id = 'k0007'")
    r = run(str(db_path), "INCR")
    [w] = bypass_warnings(r)
    assert r.mode == "INCR" and r.status == "SUCCESS_WITH_WARNINGS"
    assert "source 'src'" in w and "1 of 65536 key buckets differ" in w and "idr run --run-mode FULL" in w
    assert frozenset({"src:k0007", "src:k0008"}) not in partition(db_path)  # missed, as warned
    # It keeps warning until a FULL run has read everything again.
    assert bypass_warnings(run(str(db_path), "INCR"))
    full = run(str(db_path), "FULL")
    assert frozenset({"src:k0007", "src:k0008"}) in partition(db_path)
    assert bypass_warnings(full) == [] and bypass_warnings(run(str(db_path), "INCR")) == []


def test_hard_delete_and_old_insert_are_detected(db_path):
    db_with_watermark(db_path)
    run(str(db_path))
    execute(db_path, "DELETE FROM people WHERE id = 'k0003'")
    assert bypass_warnings(run(str(db_path), "INCR"))
    run(str(db_path), "FULL")
    execute(db_path, f"INSERT INTO people VALUES ('late', 'u5@x.com', {T0} - INTERVAL 1 DAY)")
    assert bypass_warnings(run(str(db_path), "INCR"))


def test_setting_full_makes_incr_run_full(db_path):
    db_with_watermark(db_path, watermark_check="full")
    run(str(db_path))
    execute(db_path, "UPDATE people SET email = 'u8@x.com' WHERE id = 'k0007'")
    r = run(str(db_path), "INCR")
    assert r.mode == "FULL" and "watermark_check=full" in r.notes[0] and bypass_warnings(r) == []
    assert frozenset({"src:k0007", "src:k0008"}) in partition(db_path)
    [(mode, reason)] = query(db_path, "SELECT run_mode, mode_reason FROM idr_out.run_history WHERE run_id = ?",
                             [r.run_id])
    assert mode == "FULL" and "without a newer watermark" in reason
    nxt = run(str(db_path), "INCR")  # the forced FULL read everything: the next INCR is clean
    assert nxt.mode == "INCR" and nxt.notes == [] and bypass_warnings(nxt) == []


def test_setting_off_scans_nothing(db_path):
    db_with_watermark(db_path, watermark_check="off")
    run(str(db_path))
    execute(db_path, "UPDATE people SET email = 'u8@x.com' WHERE id = 'k0007'")
    assert bypass_warnings(run(str(db_path), "INCR")) == []
    assert query(db_path, "SELECT count(*) FROM idr_meta.source_checksum") == [(0,)]


def test_bad_setting_is_refused(db_path):
    db_with_watermark(db_path, watermark_check="sometimes")
    with pytest.raises(ConfigError, match="watermark_check='sometimes': expected off, warn or full"):
        run(str(db_path))
