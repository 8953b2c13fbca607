"""idr on Spark vs Splink 5 on Spark, same data, same partition (issue 15 item 4).

    python benchmarks/spark_peers.py --records 1000000 [--master local[2]] [--repeat 1] \
        [--strategy sql|inprocess] [--out benchmarks/results/spark_peers_1m.json]

1. the generated data (generate.py, seed 42; reused from benchmarks/data when its
   records match), its four source tables exported to Parquet (what both read in Spark);
2. the generated configuration with every table_fqn pointed at its Parquet file;
   `idr init` and `idr config load` on a fresh database;
3. Spark session start-up alone (a process that starts idr's session and stops);
4. `idr run --engine spark --run-mode FULL` as one process; then Splink 5's Spark backend
   (peer_splink_spark.py, in benchmarks/.venv-splink-spark: `setup_peers.sh --spark`)
   as one process, with the same master, driver memory and shuffle partitions (8);
5. the two memberships compared: same records, same partition.

Each process is timed from start to exit (wall), with CPU seconds summed over its process
tree (psutil, sampled every 0.2 s: the JVM is not a waited-for child of Python, so
getrusage would miss it) and the tree's peak RSS. The load average is recorded with every
measurement: on a shared machine compare CPU seconds, not wall.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import psutil
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def run_measured(cmd: list[str], env: dict | None = None) -> dict:
    cpu: dict[int, float] = {}
    peak = [0]
    stop = threading.Event()
    load = os.getloadavg()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def sample():
        root = psutil.Process(proc.pid)
        while not stop.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
            except psutil.Error:
                return
            rss = 0
            for p in tree:
                try:
                    t = p.cpu_times()
                    cpu[p.pid] = max(cpu.get(p.pid, 0.0), t.user + t.system)
                    rss += p.memory_info().rss
                except psutil.Error:
                    pass
            peak[0] = max(peak[0], rss)
            stop.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out = proc.communicate()[0]
    wall = time.perf_counter() - t0
    stop.set()
    sampler.join()
    return {"cmd": " ".join(cmd), "returncode": proc.returncode, "wall_seconds": round(wall, 2),
            "cpu_seconds": round(sum(cpu.values()), 1), "peak_rss_mib": round(peak[0] / 2**20),
            "load_average_at_start": [round(x, 2) for x in load], "output_tail": out.strip().splitlines()[-6:]}


def dataset(records: int, data: Path) -> tuple[Path, Path]:
    label = f"{records // 1_000_000}m" if records % 1_000_000 == 0 else f"{records // 1000}k"
    db, cfg = data / f"bench_{label}.duckdb", data / f"bench_{label}.yaml"
    fresh = not db.exists()
    if not fresh:
        con = duckdb.connect(str(db), read_only=True)
        try:
            fresh = con.execute("SELECT count(*) FROM bench_truth").fetchall()[0][0] != records
        finally:
            con.close()
    if fresh:
        data.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(HERE / "generate.py"), "--records", str(records), "--db", str(db),
                        "--seed", "42"], check=True)
    return db, cfg


def to_parquet(db: Path, cfg: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load(cfg.read_text())
    con = duckdb.connect(str(db), read_only=True)
    try:
        for source in config["sources"]:
            path = folder / f"{source['table_fqn']}.parquet"
            if not path.exists():
                con.execute(f"COPY {source['table_fqn']} TO '{path.as_posix()}' (FORMAT parquet)")
            source["table_fqn"] = str(path)
    finally:
        con.close()
    out = folder / "idr.yaml"
    out.write_text(yaml.safe_dump(config, sort_keys=False))
    return out


def compare(idr_db: Path, splink_dir: Path) -> dict:
    import idr

    with idr.open_results(str(idr_db)) as r:
        m = r.sql("SELECT entity_key, resolved_id FROM idr_out.identity_resolved_membership_current").to_arrow_table()
    con = duckdb.connect()
    con.register("m", m)
    n, only_idr, only_peer, ids_idr, ids_peer, pairs = con.execute(f"""
        SELECT count(*), count(*) FILTER (WHERE p.entity_key IS NULL), count(*) FILTER (WHERE m.entity_key IS NULL),
               count(DISTINCT m.resolved_id), count(DISTINCT p.resolved_id),
               count(DISTINCT (m.resolved_id, p.resolved_id))
        FROM m FULL JOIN read_parquet('{(splink_dir / 'membership').as_posix()}/*.parquet') p USING (entity_key)
    """).fetchall()[0]
    return {"records": n, "only_in_idr": only_idr, "only_in_peer": only_peer, "idr_clusters": ids_idr,
            "peer_clusters": ids_peer, "same_partition": only_idr == only_peer == 0 and ids_idr == ids_peer == pairs}


SESSION_ONLY = """
import time; t = time.perf_counter()
from idr.backends.spark import spark_session
from idr.settings import get_settings
import tempfile, pathlib
s = spark_session(get_settings(), pathlib.Path(tempfile.mkdtemp()))
s.range(1).count()
print(f"session start {time.perf_counter() - t:.2f} s")
s.stop()
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--driver-memory", default="6g")
    ap.add_argument("--data", type=Path, default=HERE / "data")
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--skip-splink", action="store_true")
    ap.add_argument("--strategy", choices=("sql", "inprocess"), default=None,
                    help="idr's components strategy (default: the engine's, sql on Spark)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    splink_python = Path(os.environ.get("IDR_BENCH_SPLINK_SPARK_PYTHON", HERE / ".venv-splink-spark" / "bin" / "python"))
    if not args.skip_splink and not splink_python.exists():
        raise SystemExit(f"no Splink-on-Spark environment at {splink_python}: bash benchmarks/setup_peers.sh --spark")

    src_db, src_cfg = dataset(args.records, args.data)
    work = args.work or args.data / f"spark_{args.records}"
    cfg = to_parquet(src_db, src_cfg, work / "parquet")
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "IDR_SPARK_MASTER": args.master,
           "IDR_SPARK_DRIVER_MEMORY": args.driver_memory, "IDR_ENGINE": "spark"}
    idr = [sys.executable, "-m", "idr"]
    rounds = []
    for i in range(args.repeat):
        db = work / "idr.duckdb"
        for p in work.glob("idr.duckdb*"):
            subprocess.run(["rm", "-rf", str(p)], check=True)
        subprocess.run([*idr, "--db", str(db), "init"], check=True, capture_output=True)
        subprocess.run([*idr, "--db", str(db), "config", "load", str(cfg), "--engine", "duckdb"], check=True,
                       capture_output=True)
        r = {"session_start": run_measured([sys.executable, "-c", SESSION_ONLY], env)}
        strategy = ["--strategy", args.strategy] if args.strategy else []
        r["idr"] = run_measured([*idr, "--db", str(db), "run", "--engine", "spark", "--run-mode", "FULL", "--quiet",
                                 *strategy], env)
        con = duckdb.connect(str(db), read_only=True)
        r["idr"]["run_seconds"] = con.execute("SELECT duration_seconds FROM idr_out.run_history "
                                              "ORDER BY started_at DESC LIMIT 1").fetchall()[0][0]
        r["idr"]["stage_seconds"] = {k: round(v, 2) for k, v in con.execute(
            "SELECT stage_name, duration_seconds FROM idr_out.stage_metrics WHERE run_id = "
            "(SELECT run_id FROM idr_out.run_history ORDER BY started_at DESC LIMIT 1) ORDER BY started_at")
            .fetchall() if v is not None}
        con.close()
        if not args.skip_splink:
            out = work / "splink"
            r["splink"] = run_measured([str(splink_python), str(HERE / "peer_splink_spark.py"), str(src_db), str(out),
                                        "--master", args.master, "--driver-memory", args.driver_memory], env)
            if r["splink"]["returncode"] != 0:
                raise SystemExit("splink failed:\n" + "\n".join(r["splink"]["output_tail"]))
            r["partition"] = compare(db, out)
            r["idr_vs_splink_wall"] = round(r["idr"]["wall_seconds"] / r["splink"]["wall_seconds"], 2)
            r["idr_vs_splink_cpu"] = round(r["idr"]["cpu_seconds"] / max(r["splink"]["cpu_seconds"], 0.1), 2)
            r["meets_target"] = r["idr_vs_splink_wall"] <= 0.8
        rounds.append(r)
        print(json.dumps(r, indent=1), flush=True)
    result = {"what": "idr FULL on Spark vs Splink 5 on Spark (deterministic link + clustering)",
              "records": args.records, "master": args.master, "driver_memory": args.driver_memory,
              "idr_components_strategy": args.strategy or "the engine's (sql on Spark)",
              "rounds": rounds, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "commit": subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                       capture_output=True, text=True).stdout.strip()}
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0 if all(r.get("idr", {}).get("returncode") == 0 for r in rounds) else 1


if __name__ == "__main__":
    sys.exit(main())
