"""Connected components on Spark: star-contraction rounds on a shuffled chain.

    python benchmarks/spark_chain.py --records 1000000 [--master local[2]] [--out FILE.json]

The worst case for label propagation (one round per link) and the case the issue bounds:
record i shares value A with i-1 and value B with i+1 (one cluster of n records), under
shuffled entity keys so that no id order follows the chain. The records are a Parquet
file; `idr init`, `idr config load` (DuckDB, no Spark needed) then one `idr.run(...,
engine="spark")` in this process, after the Spark session was started and timed on its
own. Reports: rounds (bound 2*log2 n), the run's wall and its components stage, CPU
seconds of this process and the JVM, peak RSS, the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil


def write_chain(folder: Path, n: int, seed: int) -> Path:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    keys = np.random.default_rng(seed).permutation(n)
    i = np.arange(n)
    table = pa.table({"id": keys.astype("int64"),
                      "a": pa.array([f"v{x}" for x in i // 2]),
                      "b": pa.array([f"w{x}" for x in (i + 1) // 2])})
    path = folder / "chain.parquet"
    pq.write_table(table, path)
    return path


def cpu_seconds() -> dict:
    me = psutil.Process()
    own = me.cpu_times()
    jvm = 0.0
    for child in me.children(recursive=True):
        try:
            t = child.cpu_times()
            jvm += t.user + t.system
        except psutil.Error:
            pass
    return {"python": own.user + own.system, "jvm_and_children": jvm}


def peak_rss() -> int:
    total = 0
    for p in [psutil.Process(), *psutil.Process().children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--driver-memory", default="4g")
    ap.add_argument("--work", type=Path, default=None, help="folder for data and database (default: a temp folder)")
    ap.add_argument("--out", type=Path, default=None, help="JSON results (default: print only)")
    args = ap.parse_args(argv)

    n = args.records
    work = args.work or Path(tempfile.mkdtemp(prefix="idr-spark-chain-"))
    work.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    t = time.perf_counter()
    data = write_chain(work, n, args.seed)
    (work / "idr.yaml").write_text(f"""sources:
  - table_id: src
    table_fqn: {data}
    entity_key_expr: id
    identifiers:
      - {{identifier_type: A, identifier_value_expr: a}}
      - {{identifier_type: B, identifier_value_expr: b}}
rules:
  - {{rule_id: a, identifier_type: A, canonicalize: NONE}}
  - {{rule_id: b, identifier_type: B, canonicalize: NONE}}
""")
    db = work / "chain.duckdb"
    db.unlink(missing_ok=True)
    idr = [sys.executable, "-m", "idr", "--db", str(db)]
    subprocess.run([*idr, "init"], check=True, capture_output=True)
    subprocess.run([*idr, "config", "load", str(work / "idr.yaml")], check=True, capture_output=True)
    prepare = time.perf_counter() - t

    os.environ.update({"SPARK_LOCAL_IP": "127.0.0.1", "IDR_ENGINE": "spark", "IDR_SPARK_MASTER": args.master,
                       "IDR_SPARK_DRIVER_MEMORY": args.driver_memory})
    import idr as idr_lib
    from idr.backends.spark import spark_session
    from idr.settings import get_settings

    t = time.perf_counter()
    spark_session(get_settings(), work / "warehouse")
    session_start = time.perf_counter() - t
    cpu_before = cpu_seconds()

    t = time.perf_counter()
    result = idr_lib.run(str(db), "FULL", engine="spark")
    wall = time.perf_counter() - t
    cpu_after, rss = cpu_seconds(), peak_rss()
    load_after = os.getloadavg()

    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    stages = dict(con.execute("SELECT stage_name, duration_seconds FROM idr_out.stage_metrics "
                              "WHERE run_id = ? ORDER BY started_at", [result.run_id]).fetchall())
    con.close()
    with idr_lib.open_results(str(db)) as r:
        clusters = r.execute("SELECT count(*), max(cluster_size) FROM idr_out.identity_clusters_current").fetchall()[0]
    rounds = result.counts["components_rounds"]
    bound = 2 * math.log2(n)
    out = {
        "what": "star-contraction rounds on a shuffled chain, idr on Spark",
        "records": n, "master": args.master, "status": result.status,
        "clusters": clusters[0], "largest_cluster": clusters[1], "one_cluster": tuple(clusters) == (1, n),
        "components_rounds": rounds, "bound_2log2n": round(bound, 1), "within_bound": rounds <= bound,
        "session_start_seconds": round(session_start, 2), "run_wall_seconds": round(wall, 2),
        "stage_seconds": {k: round(v, 2) for k, v in stages.items() if v is not None},
        "cpu_seconds_during_run": {k: round(cpu_after[k] - cpu_before[k], 1) for k in cpu_after},
        "rss_after_run_bytes": rss, "prepare_seconds": round(prepare, 2),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    text = json.dumps(out, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0 if out["one_cluster"] and out["within_bound"] else 1


if __name__ == "__main__":
    sys.exit(main())
