"""The INCR measurement: the delta generator, and bench.py --mode INCR end to end.

Small sizes only (~20-40 s in all, most of it idr start-up):  pytest benchmarks/test_bench_incr.py
"""

import json
import sys
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402
import delta  # noqa: E402
import generate  # noqa: E402

TABLES = [t for _, t, *_ in delta.TABLES]


def _snapshot(db):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in TABLES}
    finally:
        con.close()


def test_delta_is_seeded_sized_and_newer_than_everything(tmp_path):
    src = tmp_path / "src.duckdb"
    generate.generate(5000, src, 42, verbose=False)
    results, snapshots = [], []
    for name in ("a", "b"):
        db = tmp_path / f"{name}.duckdb"
        db.write_bytes(src.read_bytes())
        con = duckdb.connect(str(db))
        before_max = con.execute(" UNION ALL ".join(f"SELECT max(updated_at) FROM {t}" for t in TABLES)
                                 ).fetchall()
        counts_before = {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in TABLES}
        delta.add_soft_delete_column(con)
        r = delta.apply_delta(con, 5000, 2.0, 42, soft_delete=True)
        newest = max(v for (v,) in before_max)
        changed = sum(con.execute(f"SELECT count(*) FROM {t} WHERE updated_at > ?", [newest]).fetchall()[0][0]
                      for t in TABLES)
        deleted = sum(con.execute(f"SELECT count(*) FROM {t} WHERE is_deleted").fetchall()[0][0] for t in TABLES)
        grown = sum(con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] - counts_before[t] for t in TABLES)
        con.close()
        assert r["total"] == 100 and r["updates"] + r["inserts"] + r["deletes"] == 100 and r["deletes"] == 2
        assert sum(r["by_kind"].values()) == 100
        assert changed == 100 and deleted == 2 and grown == r["inserts"]
        # moves, new values, no-op edits; joins, bridges, new persons: all present
        assert {k.split(":")[1] for k in r["by_kind"]} >= set(delta.UPDATE_KINDS) | set(delta.INSERT_KINDS)
        results.append({k: v for k, v in r.items() if k != "seconds"})
        snapshots.append(_snapshot(db))
    assert results[0] == results[1]
    assert snapshots[0] == snapshots[1]


def test_incr_measurement_end_to_end(tmp_path):
    db, out = tmp_path / "bench_20k.duckdb", tmp_path / "bench_20k.json"
    assert bench.main(["--records", "20000", "--mode", "INCR", "--db", str(db), "--out", str(out)]) == 0
    m = json.loads(out.read_text())["measurements"][0]
    assert m["mode"] == "INCR" and m["run_history"]["run_mode"] == "INCR"
    assert m["full"]["run_history"]["run_mode"] == "FULL"
    assert m["incr_equals_full"] is True and m["check"]["tables_equal"] is True
    assert m["check"]["resolved_id_differs"] == 0 and m["check"]["cluster_pairs"] == m["check"]["incr_clusters"]
    assert m["delta"]["total"] == 200 and m["delta"]["deletes"] == 4
    assert m["run_history"]["entities_removed"] == 4
    assert m["lineage"].get("MERGE", 0) > 0 and m["lineage"].get("SPLIT", 0) > 0
    assert m["ratio_wall"] == m["wall_seconds"] / m["full"]["wall_seconds"] and m["ratio_cpu"] > 0
    assert {s["stage_name"] for s in m["stage_metrics"]} >= {"extract", "scope", "publish"}
    assert not db.exists()  # generated here, so deleted afterwards (no --keep)
