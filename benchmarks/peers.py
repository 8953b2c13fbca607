"""Side-by-side peers for bench.py --peers: the floor and Splink 5, timed like idr.

Each peer runs as its own process through measure.py on the same generated data, right
after the idr measurement it is compared with, so the three numbers share the machine's
mood of that minute:

* ``floor``  benchmarks/floor.py in idr's interpreter: the least a linker can do;
* ``splink`` benchmarks/peer_splink.py in Splink's own virtual environment
  (benchmarks/setup_peers.sh makes it; IDR_BENCH_SPLINK_PYTHON points elsewhere).

Splink's membership is compared with idr's published one: the same entity set and the
same partition (distinct (idr id, splink id) pairs = distinct ids on either side).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
MIB = 2**20


def splink_python() -> Path:
    return Path(os.environ.get("IDR_BENCH_SPLINK_PYTHON", HERE / ".venv-splink" / "bin" / "python"))


def check_available() -> None:
    """Fail before any measurement when the Splink environment is missing."""
    py = splink_python()
    if not py.exists():
        raise SystemExit(f"--peers: no Splink environment at {py}; create it with "
                         "`bash benchmarks/setup_peers.sh` (or set IDR_BENCH_SPLINK_PYTHON)")


def _measure(name: str, cmd: list[str], log_dir: Path) -> dict:
    m_path = log_dir / f"{name}.measure.json"
    r = subprocess.run([sys.executable, str(HERE / "measure.py"), str(m_path), "--", *cmd],
                       capture_output=True, text=True)
    m = json.loads(m_path.read_text()) if m_path.exists() else {"returncode": r.returncode}
    if r.returncode or m.get("returncode"):
        raise SystemExit(f"peer {name} failed:\n{(r.stderr or r.stdout)[-3000:]}")
    return {"wall_seconds": m["wall_seconds"], "peak_rss_mib": m["peak_rss_bytes"] / MIB,
            "cpu_seconds": m["cpu_user_seconds"] + m["cpu_system_seconds"], "stdout": r.stdout.strip()}


def compare_partitions(idr_db: Path, peer_db: Path) -> dict:
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{idr_db.as_posix()}' AS i (READ_ONLY)")
        con.execute(f"ATTACH '{peer_db.as_posix()}' AS p (READ_ONLY)")
        n, only_idr, only_peer, ids_idr, ids_peer, pairs = con.execute("""
            SELECT count(*), count(*) FILTER (WHERE p.entity_key IS NULL),
                   count(*) FILTER (WHERE m.entity_key IS NULL),
                   count(DISTINCT m.resolved_id), count(DISTINCT p.resolved_id),
                   count(DISTINCT (m.resolved_id, p.resolved_id))
            FROM i.idr_out.identity_resolved_membership_current m
            FULL JOIN p.membership p USING (entity_key)""").fetchall()[0]
    finally:
        con.close()
    return {"records": n, "only_in_idr": only_idr, "only_in_peer": only_peer,
            "idr_clusters": ids_idr, "peer_clusters": ids_peer, "cluster_pairs": pairs,
            "same_partition": only_idr == only_peer == 0 and ids_idr == ids_peer == pairs}


def measure_all(ds_db: Path, idr_db: Path, log_dir: Path, idr_wall: float) -> dict:
    """Floor and Splink on the data of ds_db, each compared with the idr run of idr_db."""
    floor = _measure("floor", [sys.executable, str(HERE / "floor.py"), str(ds_db)], log_dir)
    peer_db = log_dir / "peer_splink.duckdb"
    splink = _measure("splink", [str(splink_python()), str(HERE / "peer_splink.py"), str(ds_db),
                                 str(peer_db)], log_dir)
    splink["partition_vs_idr"] = compare_partitions(idr_db, peer_db)
    peer_db.unlink(missing_ok=True)
    return {"idr_wall_seconds": idr_wall, "floor": floor, "splink": splink,
            "idr_vs_splink": idr_wall / splink["wall_seconds"],
            "splink_vs_idr": splink["wall_seconds"] / idr_wall,
            "idr_vs_floor": idr_wall / floor["wall_seconds"]}


def print_report(rounds: list[dict]) -> None:
    if not rounds:
        return
    print("\n  side by side (whole processes, each round back to back)")
    print(f"    {'round':<6}{'idr':>9}{'floor':>9}{'splink':>9}{'splink/idr':>12}{'idr/floor':>11}"
          f"{'splink RSS':>12}  same partition")
    for i, r in enumerate(rounds, 1):
        s = r["splink"]
        print(f"    {i:<6}{r['idr_wall_seconds']:>8.2f}s{r['floor']['wall_seconds']:>8.2f}s"
              f"{s['wall_seconds']:>8.2f}s{r['splink_vs_idr']:>11.2f}x{r['idr_vs_floor']:>10.2f}x"
              f"{s['peak_rss_mib']:>9,.0f} MiB  {s['partition_vs_idr']['same_partition']}")
    if len(rounds) > 1:
        med = statistics.median(r["splink_vs_idr"] for r in rounds)
        print(f"    median: Splink takes {med:.2f}x idr's time; "
              f"idr takes {statistics.median(r['idr_vs_floor'] for r in rounds):.2f}x the floor's")
