"""Benchmark idr end to end on generated data: speed, memory and pairwise quality.

    python benchmarks/bench.py --records 1000000 [--seed 42] [--reuse] [--keep]
                               [--reference] [--out benchmarks/results/bench_1m.json]

Steps (every idr command is a separate process, as a user would run it):

1. generate ``benchmarks/data/bench_<label>.duckdb`` + ``.yaml`` (``--reuse`` keeps an
   existing one whose ``bench_meta`` matches records, seed and generator version);
2. copy it to ``bench_<label>.run.duckdb`` so every measurement starts from sources only;
3. ``idr --db RUN init`` and ``idr --db RUN config load YAML`` (wall time recorded);
4. ``idr --db RUN run --run-mode FULL``, measured through ``measure.py`` in a fresh helper
   process: process wall seconds, peak RSS (getrusage RUSAGE_CHILDREN of that helper, so
   exactly this one child; plus a 50 ms psutil sample of the process tree), CPU seconds;
5. read ``idr_out.run_history`` (latest run), ``idr_out.stage_metrics``,
   ``idr_out.identity_clusters_current``, and pairwise precision/recall/F1 of
   ``idr_out.identity_resolved_membership_current`` against ``bench_truth`` (SQL in
   metrics.py); ``--reference`` also scores benchmarks/reference.py's linker.

Results print as a table and go to JSON with machine info and the git commit.
A measurement is one function in MEASUREMENTS; an INCR measurement (apply a delta of
``--delta-pct`` to the sources, run INCR, compare with FULL) slots in beside measure_full.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import generate  # noqa: E402
from metrics import pairwise_metrics  # noqa: E402

REPO = HERE.parent
MIB = 2**20


# -- data set ------------------------------------------------------------------------

@dataclass
class Dataset:
    db: Path
    config: Path
    info: dict
    generated_now: bool


def label_for(records: int) -> str:
    for unit, size in (("m", 1_000_000), ("k", 1_000)):
        if records >= size and records % size == 0:
            return f"{records // size}{unit}"
    return str(records)


def _bench_meta(db: Path) -> dict | None:
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error:
        return None
    try:
        return dict(con.execute("SELECT key, value FROM bench_meta").fetchall())
    except duckdb.Error:
        return None
    finally:
        con.close()


def prepare_dataset(records: int, seed: int, db: Path, reuse: bool) -> Dataset:
    config = db.with_suffix(".yaml")
    if reuse and db.exists() and config.exists():
        meta = _bench_meta(db)
        wanted = {"records": str(records), "seed": str(seed),
                  "generator_version": str(generate.GENERATOR_VERSION)}
        if meta and all(meta.get(k) == v for k, v in wanted.items()):
            print(f"reusing {db} ({records:,} records, seed {seed})")
            info = {**meta, "db": str(db), "config": str(config),
                    "db_bytes": db.stat().st_size, "seconds": None}
            return Dataset(db, config, info, generated_now=False)
        print(f"{db} does not match records/seed/generator version: regenerating")
    info = generate.generate(records, db, seed)
    return Dataset(db, config, info, generated_now=True)


# -- running idr ---------------------------------------------------------------------

def idr_command() -> list[str]:
    """The installed `idr` next to this interpreter, else on PATH, else `python -m idr`."""
    beside = Path(sys.executable).parent / "idr"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("idr")
    return [found] if found else [sys.executable, "-m", "idr"]


@dataclass
class Runner:
    db: Path
    log_dir: Path
    logs: dict = field(default_factory=dict)

    def idr(self, name: str, *args: str, measured: bool = False) -> dict:
        """Run `idr --db DB ARGS...`; with measured=True through measure.py."""
        cmd = [*idr_command(), "--db", str(self.db), *args]
        out_path, err_path = self.log_dir / f"{name}.out", self.log_dir / f"{name}.err"
        m_path = self.log_dir / f"{name}.measure.json"
        full = [sys.executable, str(HERE / "measure.py"), str(m_path), "--", *cmd] if measured else cmd
        t0 = time.perf_counter()
        with open(out_path, "w") as out, open(err_path, "w") as err:
            rc = subprocess.run(full, stdout=out, stderr=err).returncode
        result = {"cmd": cmd, "returncode": rc, "wall_seconds": time.perf_counter() - t0}
        if measured:
            result = json.loads(m_path.read_text()) if m_path.exists() else result
        result["stdout"] = out_path.read_text()
        stderr = err_path.read_text()
        if stderr:
            result["stderr"] = stderr
        if result["returncode"] != 0:
            tail = "\n".join((stderr or result["stdout"]).splitlines()[-30:])
            raise SystemExit(f"`{' '.join(cmd)}` exited {result['returncode']}:\n{tail}")
        return result


def _jsonable(v):
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    if isinstance(v, (int, float, str, bool)) or v is None:
        return v
    return str(v)


def _rows(con, sql: str, params: list | None = None) -> list[dict]:
    rel = con.execute(sql, params or [])
    names = [d[0] for d in rel.description]
    return [{n: _jsonable(v) for n, v in zip(names, row)} for row in rel.fetchall()]


def read_run_results(db: Path) -> dict:
    """Latest run_history row, its stage_metrics, cluster summary, pairwise quality."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        run = _rows(con, "SELECT * FROM idr_out.run_history ORDER BY started_at DESC LIMIT 1")[0]
        stages = _rows(con, "SELECT stage_name, started_at, duration_seconds, rows_in, rows_out "
                            "FROM idr_out.stage_metrics WHERE run_id = ? ORDER BY started_at",
                       [run["run_id"]])
        clusters = _rows(con, """
            SELECT count(*) AS clusters, max(cluster_size) AS largest,
                   count(*) FILTER (WHERE cluster_size = 1) AS singletons,
                   sum(cluster_size)::BIGINT AS records_in_clusters
            FROM idr_out.identity_clusters_current""")[0]
        t = time.perf_counter()
        quality = pairwise_metrics(con)
        quality["seconds"] = round(time.perf_counter() - t, 2)
    finally:
        con.close()
    return {"run_history": run, "stage_metrics": stages, "clusters": clusters, "quality": quality}


# -- measurements --------------------------------------------------------------------

def measure_full(ds: Dataset, work_db: Path, log_dir: Path) -> dict:
    """Fresh copy of the sources -> init -> config load -> timed `run --run-mode FULL`."""
    for p in (work_db, Path(str(work_db) + ".wal")):
        p.unlink(missing_ok=True)
    shutil.copyfile(ds.db, work_db)
    runner = Runner(work_db, log_dir)
    setup = {
        "init": runner.idr("init", "init"),
        "config_load": runner.idr("config_load", "config", "load", str(ds.config)),
    }
    run = runner.idr("run_full", "run", "--run-mode", "FULL", measured=True)
    records = int(ds.info["records"])
    results = read_run_results(work_db)
    engine_seconds = results["run_history"].get("duration_seconds")
    return {
        "mode": "FULL",
        "setup_wall_seconds": {k: round(v["wall_seconds"], 3) for k, v in setup.items()},
        "wall_seconds": run["wall_seconds"],
        "records_per_second": records / run["wall_seconds"],
        "engine_seconds": engine_seconds,
        "engine_records_per_second": records / engine_seconds if engine_seconds else None,
        "peak_rss_mib": run["peak_rss_bytes"] / MIB,
        "sampled_peak_rss_mib": run["sampled_peak_rss_bytes"] / MIB,
        "cpu_seconds": run["cpu_user_seconds"] + run["cpu_system_seconds"],
        "stdout": run["stdout"],
        **results,
    }


MEASUREMENTS = {"FULL": measure_full}


# -- context -------------------------------------------------------------------------

def machine_info() -> dict:
    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def version(dist: str) -> str | None:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return None

    return {
        "platform": platform.platform(),
        "cpu_model": model,
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "idr": version("idr"),
        "numpy": version("numpy"),
        "scipy": version("scipy"),
        "pyarrow": version("pyarrow"),
    }


def git_info() -> dict:
    def git(*args: str) -> str | None:
        try:
            r = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True,
                               timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return r.stdout.strip() if r.returncode == 0 else None

    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(status) if status is not None else None}


# -- report --------------------------------------------------------------------------

def _fmt(v, spec: str = ",.0f", none: str = "n/a") -> str:
    return none if v is None else format(v, spec)


def print_report(result: dict) -> None:
    ds, m = result["dataset"], result["machine"]
    print()
    print(f"idr benchmark  {int(ds['records']):,} records, {int(ds['persons']):,} persons, "
          f"seed {ds['seed']}  ({m['cpus_usable']} CPUs, {m['memory_gib']} GiB, "
          f"load {result['load_average_before'][0]:.1f} before)")
    for r in result["measurements"]:
        q, c, run = r["quality"], r["clusters"], r["run_history"]
        print(f"\n  {r['mode']} #{r.get('repeat', 1)}  run {run.get('run_id')}  "
              f"status {run.get('status')}")
        rows = [
            ("wall (process)", f"{r['wall_seconds']:.2f} s", f"{_fmt(r['records_per_second'])} records/s"),
            ("engine duration", f"{_fmt(r['engine_seconds'], '.2f')} s",
             f"{_fmt(r['engine_records_per_second'])} records/s"),
            ("peak RSS", f"{r['peak_rss_mib']:,.0f} MiB", f"sampled tree {r['sampled_peak_rss_mib']:,.0f} MiB"),
            ("CPU", f"{r['cpu_seconds']:.1f} s", f"{r['cpu_seconds'] / r['wall_seconds']:.2f} cores busy"),
            ("clusters", f"{c['clusters']:,}", f"largest {c['largest']:,}, singletons {c['singletons']:,}"),
            ("precision", _fmt(q["precision"], ".4f"), f"{q['tp']:,} / {q['predicted_pairs']:,} pairs"),
            ("recall", _fmt(q["recall"], ".4f"), f"{q['tp']:,} / {q['true_pairs']:,} pairs"),
            ("F1", _fmt(q["f1"], ".4f"),
             f"persons resolved exactly {q['persons_exact'] / max(q['persons'], 1):.1%}"),
        ]
        if "reference" in result:
            rq = result["reference"]["quality"]
            rows.append(("reference linker", f"P {_fmt(rq['precision'], '.4f')}",
                         f"R {_fmt(rq['recall'], '.4f')}  F1 {_fmt(rq['f1'], '.4f')}  "
                         f"clusters {rq['clusters']:,}"))
        for name, a, b in rows:
            print(f"    {name:<18}{a:>14}   {b}")
        print(f"    {'stage':<18}{'seconds':>14}   {'rows in':>12} {'rows out':>12}")
        for s in r["stage_metrics"]:
            print(f"    {s['stage_name']:<18}{_fmt(s['duration_seconds'], '.2f'):>14}   "
                  f"{_fmt(s['rows_in']):>12} {_fmt(s['rows_out']):>12}")
    by_mode: dict[str, list[float]] = {}
    for r in result["measurements"]:
        by_mode.setdefault(r["mode"], []).append(r["wall_seconds"])
    for mode, walls in by_mode.items():
        if len(walls) > 1:
            print(f"\n  {mode} x{len(walls)}: wall min {min(walls):.2f} s, "
                  f"median {statistics.median(walls):.2f} s, max {max(walls):.2f} s")
    if result["dataset"].get("seconds"):
        print(f"\n  data generation {result['dataset']['seconds']['total']:.1f} s, "
              f"file {int(result['dataset']['db_bytes']) / MIB:,.0f} MiB")
    print(f"  results: {result['out']}")


# -- main ----------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, required=True)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--db", type=Path, help="generated data (default benchmarks/data/bench_<label>.duckdb)")
    ap.add_argument("--out", type=Path, help="JSON results (default benchmarks/results/bench_<label>.json)")
    ap.add_argument("--mode", choices=sorted(MEASUREMENTS), action="append",
                    help="measurement(s) to run (default FULL)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run each measurement N times, each from a fresh copy (noisy machines)")
    ap.add_argument("--reuse", action="store_true",
                    help="reuse the generated database if it exists and matches records/seed")
    ap.add_argument("--keep", action="store_true",
                    help="keep the generated database, its YAML and the run copy afterwards")
    ap.add_argument("--reference", action="store_true",
                    help="also score benchmarks/reference.py's linker on the same data")
    args = ap.parse_args(argv)

    label = label_for(args.records)
    db = args.db or HERE / "data" / f"bench_{label}.duckdb"
    out = args.out or HERE / "results" / f"bench_{label}.json"
    work_db = db.with_name(db.stem + ".run.duckdb")
    load_before = list(os.getloadavg())
    started = dt.datetime.now(dt.timezone.utc)

    ds = prepare_dataset(args.records, args.seed, db, args.reuse)
    log_dir = Path(tempfile.mkdtemp(prefix=f"idr_bench_{label}_"))
    result = {
        "benchmark": "idr", "format_version": 1,
        "started_at": started.isoformat(timespec="seconds"),
        "git": git_info(), "machine": machine_info(),
        "load_average_before": load_before,
        "idr_command": idr_command(),
        "dataset": {k: v for k, v in ds.info.items()},
        "measurements": [],
        "out": str(out),
    }
    try:
        for mode in args.mode or ["FULL"]:
            for i in range(args.repeat):
                m = MEASUREMENTS[mode](ds, work_db, log_dir)
                m["repeat"] = i + 1
                result["measurements"].append(m)
        if args.reference:
            import reference
            result["reference"] = reference.evaluate(ds.db)
    finally:
        if not args.keep:
            for p in (work_db, Path(str(work_db) + ".wal")):
                p.unlink(missing_ok=True)
            if ds.generated_now:
                for p in (ds.db, Path(str(ds.db) + ".wal"), ds.config):
                    p.unlink(missing_ok=True)
        shutil.rmtree(log_dir, ignore_errors=True)
    result["load_average_after"] = list(os.getloadavg())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=_jsonable) + "\n")
    print_report(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
