"""Measure candidate snapshot formats on a database idr has published to (decision record
docs/design/0002-snapshots.md).

    python benchmarks/snapshot_formats.py --db /work/bench/idr_1m.duckdb --out /tmp/fmt

For the three big outputs (membership, identifier pairs, clusters) it times writing them
(a) into a DuckDB file table (today's layout), (b) to Parquet/zstd as produced, (c) to
Parquet/zstd sorted by the lookup key, (d) into a separate DuckDB file per snapshot; then
the time to open each as a reader and point lookups by identifier value, entity_key and
resolved_id (p50/p99 over random keys, one fresh connection, each lookup one query).
Prints one JSON document. Run the options back to back on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import duckdb

M = "idr_out.identity_resolved_membership_current"
P = "idr_out.identity_identifier_pairs_current"
C = "idr_out.identity_clusters_current"
TABLES = {"membership": (M, "entity_key"), "pairs": (P, "identifier_type, identifier_value_norm"),
          "clusters": (C, "resolved_id")}


def timed(con, sql):
    t = time.perf_counter()
    con.execute(sql)
    return round(time.perf_counter() - t, 3)


def write_all(src: Path, out: Path) -> dict:
    res = {}
    con = duckdb.connect()
    con.execute(f"ATTACH '{src}' AS src (READ_ONLY)")
    # (a) native table in a DuckDB file (what publish does today)
    native = out / "native.duckdb"
    con.execute(f"ATTACH '{native}' AS nat")
    con.execute("CREATE SCHEMA nat.idr_out")
    res["native_table"] = {k: timed(con, f"CREATE TABLE nat.{t} AS SELECT * FROM src.{t}") for k, (t, _) in TABLES.items()}
    con.execute("DETACH nat")
    # (b) Parquet zstd as produced, (c) sorted by the lookup key (row groups of 122,880 rows)
    for variant, order in (("parquet", False), ("parquet_sorted", True)):
        d = out / variant
        d.mkdir()
        res[variant] = {}
        for k, (t, key) in TABLES.items():
            sql = f"SELECT * FROM src.{t}" + (f" ORDER BY {key}" if order else "")
            res[variant][k] = timed(con, f"COPY ({sql}) TO '{d}/{k}.parquet' (FORMAT parquet, COMPRESSION zstd)")
        if order:  # membership again by resolved_id: the lookup by cluster
            res[variant]["membership_by_rid"] = timed(
                con, f"COPY (SELECT resolved_id, entity_id, entity_key FROM src.{M} ORDER BY resolved_id) "
                f"TO '{d}/membership_by_rid.parquet' (FORMAT parquet, COMPRESSION zstd)")
    # (d) a DuckDB file per snapshot, sorted like (c)
    snapfile = out / "snapshot.duckdb"
    con.execute(f"ATTACH '{snapfile}' AS snap")
    res["duckdb_file_sorted"] = {k: timed(con, f"CREATE TABLE snap.{k} AS SELECT * FROM src.{t} ORDER BY {key}")
                                 for k, (t, key) in TABLES.items()}
    con.execute("DETACH snap")
    res["sizes_mib"] = {p.name: round(sum(f.stat().st_size for f in ([p] if p.is_file() else p.iterdir())) / 2**20, 1)
                        for p in out.iterdir()}
    return res


def lookups(out: Path, src: Path, n: int) -> dict:
    con = duckdb.connect(str(src), read_only=True)
    keys = {
        "entity_key": [r[0] for r in con.execute(f"SELECT entity_key FROM {M} USING SAMPLE {n} ROWS").fetchall()],
        "resolved_id": [r[0] for r in con.execute(f"SELECT resolved_id FROM {M} USING SAMPLE {n} ROWS").fetchall()],
        "value": con.execute(f"SELECT identifier_type, identifier_value_norm FROM {P} USING SAMPLE {n} ROWS").fetchall(),
    }
    con.close()
    res = {}
    for variant in ("parquet", "parquet_sorted", "duckdb_file_sorted", "native_table"):
        t0 = time.perf_counter()
        if variant.startswith("parquet"):
            r = duckdb.connect()
            d = out / variant
            for k in ("membership", "pairs", "clusters") + (("membership_by_rid",) if variant == "parquet_sorted" else ()):
                r.execute(f"CREATE VIEW {k} AS SELECT * FROM read_parquet('{d}/{k}.parquet')")
            by_rid = "membership_by_rid" if variant == "parquet_sorted" else "membership"
        elif variant == "native_table":
            r = duckdb.connect(str(out / "native.duckdb"), read_only=True)
            for k, (t, _) in TABLES.items():
                r.execute(f"CREATE TEMP VIEW {k} AS SELECT * FROM {t}")
            by_rid = "membership"
        else:
            r = duckdb.connect(str(out / "snapshot.duckdb"), read_only=True)
            by_rid = "membership"
        open_s = time.perf_counter() - t0
        queries = {
            "entity_key": ("SELECT resolved_id FROM membership WHERE entity_key = ?", [[k] for k in keys["entity_key"]]),
            "resolved_id": (f"SELECT entity_key FROM {by_rid} WHERE resolved_id = ?", [[k] for k in keys["resolved_id"]]),
            "value": ("SELECT m.resolved_id FROM pairs p JOIN membership m USING (entity_id) "
                      "WHERE p.identifier_type = ? AND p.identifier_value_norm = ?", [list(k) for k in keys["value"]]),
        }
        res[variant] = {"open_ms": round(open_s * 1000, 2)}
        for name, (sql, params) in queries.items():
            lat = []
            for p in params:
                t = time.perf_counter()
                r.execute(sql, p).fetchall()
                lat.append((time.perf_counter() - t) * 1000)
            lat.sort()
            res[variant][name] = {"p50_ms": round(statistics.median(lat), 2),
                                  "p99_ms": round(lat[int(len(lat) * 0.99) - 1], 2)}
        r.close()
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True, help="a database idr has published to (read only)")
    ap.add_argument("--out", required=True, help="scratch folder (replaced)")
    ap.add_argument("--lookups", type=int, default=300)
    a = ap.parse_args()
    out = Path(a.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    res = {"started_utc": started, "db": a.db, "write_s": write_all(Path(a.db), out)}
    res["lookups"] = lookups(out, Path(a.db), a.lookups)
    res["ended_utc"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
