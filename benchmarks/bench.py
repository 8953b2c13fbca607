"""Benchmark idr end to end on generated data: speed, memory and pairwise quality.

    python benchmarks/bench.py --records 1000000 [--seed 42] [--reuse] [--keep]
                               [--mode FULL] [--mode INCR [--delta-pct 1] [--no-soft-delete]]
                               [--repeat N] [--reference] [--peers] [--out benchmarks/results/bench_1m.json]

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
   metrics.py); ``--reference`` also scores benchmarks/reference.py's linker;
6. ``--peers``: right after each FULL measurement, floor.py and Splink 5 (peer_splink.py
   in its own venv) on the same data, each measured the same way, and Splink's partition
   compared with idr's (peers.py).

``--mode INCR`` (measure_incr): steps 2-5 with ``is_deleted BOOLEAN DEFAULT FALSE`` added
to every source table and ``deleted_expr: is_deleted`` to the config (unless
``--no-soft-delete``), then a seeded delta of ``--delta-pct`` percent of the records
(delta.py: updates that move or drop identifiers, inserts that join or bridge clusters,
soft deletes; all newer than any ``updated_at``; timed on its own), then the measured
``idr run --run-mode INCR --no-auto-full`` (run_history must say INCR), then FULL on a
copy of the INCR result and both published states compared in SQL (``incr_equals_full``:
same entities, one-to-one clusters, same resolved_ids; the other ``*_current`` tables
too). The JSON holds INCR/FULL ratios of wall, engine and CPU seconds; a mismatch makes the
script exit 1 after writing the JSON.

Results print as a table and go to JSON with machine info and the git commit.
A measurement is one function in MEASUREMENTS(ds, work_db, log_dir, args).
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
from idr.sql.quoting import literal

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import delta  # noqa: E402
import generate  # noqa: E402
import peers  # noqa: E402
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


def read_run_results(db: Path, quality: bool = True) -> dict:
    """Latest run_history row, its stage_metrics, cluster summary, pairwise quality
    (quality=False: skip it, e.g. after a delta the truth table does not describe)."""
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
        out = {"run_history": run, "stage_metrics": stages, "clusters": clusters}
        if quality:
            t = time.perf_counter()
            out["quality"] = pairwise_metrics(con)
            out["quality"]["seconds"] = round(time.perf_counter() - t, 2)
    finally:
        con.close()
    return out


# -- measurements --------------------------------------------------------------------

def _fresh_copy(src: Path, dst: Path) -> None:
    for p in (dst, Path(str(dst) + ".wal")):
        p.unlink(missing_ok=True)
    shutil.rmtree(Path(str(dst) + ".idr"), ignore_errors=True)  # published snapshots (docs/results.md)
    shutil.copyfile(src, dst)
    if Path(str(src) + ".wal").exists():
        shutil.copyfile(str(src) + ".wal", str(dst) + ".wal")
    if Path(str(src) + ".idr").is_dir():
        shutil.copytree(Path(str(src) + ".idr"), Path(str(dst) + ".idr"))


def _timed_run(runner: Runner, name: str, records: int, *run_args: str, quality: bool = True) -> dict:
    """`idr run RUN_ARGS` through measure.py, plus what the run left in run_history etc."""
    run = runner.idr(name, "run", *run_args, measured=True)
    results = read_run_results(runner.db, quality=quality)
    engine_seconds = results["run_history"].get("duration_seconds")
    return {
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


def measure_full(ds: Dataset, work_db: Path, log_dir: Path, opts=None, *,
                 config: Path | None = None, prepare=None) -> dict:
    """Fresh copy of the sources -> init -> config load -> timed `run --run-mode FULL`.

    prepare(work_db), if given, changes the fresh copy before `idr init` (untimed);
    config replaces the generated YAML."""
    _fresh_copy(ds.db, work_db)
    prepare_seconds = None
    if prepare is not None:
        t = time.perf_counter()
        prepare(work_db)
        prepare_seconds = round(time.perf_counter() - t, 3)
    runner = Runner(work_db, log_dir)
    setup = {
        "init": runner.idr("init", "init"),
        "config_load": runner.idr("config_load", "config", "load", str(config or ds.config)),
    }
    out = {
        "mode": "FULL",
        "setup_wall_seconds": {k: round(v["wall_seconds"], 3) for k, v in setup.items()},
        **_timed_run(runner, "run_full", int(ds.info["records"]), "--run-mode", "FULL"),
    }
    if prepare_seconds is not None:
        out["setup_wall_seconds"]["prepare"] = prepare_seconds
    return out


INCR_TARGET_RATIO = 0.10  # issue 3: INCR with a 1% delta takes at most 10% of FULL


def _soft_delete_config(ds: Dataset, log_dir: Path) -> Path:
    """The generated YAML with `deleted_expr: is_deleted` on every source."""
    import yaml

    cfg = yaml.safe_load(ds.config.read_text())
    for src in cfg["sources"]:
        src["deleted_expr"] = "is_deleted"
    path = log_dir / (ds.config.stem + ".soft_delete.yaml")
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def _add_soft_delete_column(db: Path) -> None:
    con = duckdb.connect(str(db))
    try:
        delta.add_soft_delete_column(con)
    finally:
        con.close()


def measure_incr(ds: Dataset, work_db: Path, log_dir: Path, opts=None) -> dict:
    """FULL (as measure_full) -> apply a --delta-pct delta (untimed for INCR) -> timed
    `run --run-mode INCR --no-auto-full` -> FULL on a copy of the INCR result, and the two
    published states compared in SQL (same entities, same partition, same resolved_ids)."""
    pct = getattr(opts, "delta_pct", 1.0)
    seed = getattr(opts, "seed", int(ds.info.get("seed", 42)))
    soft_delete = not getattr(opts, "no_soft_delete", False)
    records = int(ds.info["records"])

    full = measure_full(ds, work_db, log_dir, opts,
                        config=_soft_delete_config(ds, log_dir) if soft_delete else None,
                        prepare=_add_soft_delete_column if soft_delete else None)
    con = duckdb.connect(str(work_db))
    try:
        t = time.perf_counter()
        applied = delta.apply_delta(con, records, pct, seed, soft_delete)
        con.execute("CHECKPOINT")
        applied["wall_seconds"] = round(time.perf_counter() - t, 3)
    finally:
        con.close()

    runner = Runner(work_db, log_dir)
    incr = _timed_run(runner, "run_incr", records, "--run-mode", "INCR", "--no-auto-full", quality=False)
    mode = incr["run_history"].get("run_mode")
    if mode != "INCR":
        raise SystemExit(f"INCR measurement: the run recorded run_mode {mode!r} "
                         f"({incr['run_history'].get('mode_reason')}), not INCR")
    incr["lineage"] = _lineage_counts(work_db, incr["run_history"]["run_id"])

    # The reference: FULL over the same sources, starting from the INCR run's published
    # state (so stable ids carry over exactly as they would for any FULL run).
    check_db = work_db.with_name(work_db.stem + ".check.duckdb")
    try:
        _fresh_copy(work_db, check_db)
        check_full = _timed_run(Runner(check_db, log_dir), "run_full_check", records, "--run-mode", "FULL",
                                quality=False)
        t = time.perf_counter()
        check = compare_published(work_db, check_db)
        check["seconds"] = round(time.perf_counter() - t, 2)
    finally:
        for p in (check_db, Path(str(check_db) + ".wal")):
            p.unlink(missing_ok=True)

    ratio = incr["wall_seconds"] / full["wall_seconds"]
    engine_ratio = (incr["engine_seconds"] / full["engine_seconds"]
                    if incr["engine_seconds"] and full["engine_seconds"] else None)
    return {
        "mode": "INCR",
        "delta_pct": pct,
        "soft_delete": soft_delete,
        **incr,
        "full": full,
        "delta": applied,
        "ratio_wall": ratio,
        "ratio_engine": engine_ratio,
        # CPU seconds move less than wall seconds when other work shares the machine
        "ratio_cpu": incr["cpu_seconds"] / full["cpu_seconds"] if full["cpu_seconds"] else None,
        "target_ratio": INCR_TARGET_RATIO,
        "meets_target": ratio <= INCR_TARGET_RATIO,
        "full_after_delta": {k: check_full[k] for k in (
            "wall_seconds", "engine_seconds", "peak_rss_mib", "sampled_peak_rss_mib", "cpu_seconds",
            "stage_metrics", "clusters")} | {"run_id": check_full["run_history"]["run_id"]},
        "check": check,
        "incr_equals_full": check["incr_equals_full"],
    }


def _lineage_counts(db: Path, run_id: str) -> dict:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return dict(con.execute("SELECT event, count(*) FROM idr_out.resolved_id_lineage WHERE run_id = ? "
                                "GROUP BY ALL ORDER BY 1", [run_id]).fetchall())
    finally:
        con.close()


# data columns of the other published tables (run ids and timestamps differ by design)
COMPARED_TABLES = {
    "identity_clusters_current": "resolved_id, cluster_size",
    "identity_identifiers_current": "entity_key, identifier_type, identifier_value_norm",
    "identity_edges_current": "identifier_type, identifier_value_norm, entity_key, anchor_entity_key",
    "identity_skipped_groups_current": "identifier_type, identifier_value_norm, group_size, max_allowed",
}


def compare_published(incr_db: Path, full_db: Path) -> dict:
    """Compare two databases' published outputs in SQL.

    incr_equals_full: the same entities, the same partition into clusters (every INCR
    cluster maps to exactly one FULL cluster and back: distinct (incr, full) id pairs =
    distinct incr ids = distinct full ids) and the same resolved_id for every entity.
    tables_equal: the other idr_out *_current tables hold the same data rows (EXCEPT ALL
    both ways)."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH {literal(str(incr_db))} AS i (READ_ONLY)")
        con.execute(f"ATTACH {literal(str(full_db))} AS f (READ_ONLY)")
        m = "idr_out.identity_resolved_membership_current"
        out = _rows(con, f"""
            WITH j AS (SELECT a.resolved_id AS incr_rid, b.resolved_id AS full_rid,
                              a.table_id = b.table_id AS same_table
                       FROM i.{m} a JOIN f.{m} b USING (entity_key))
            SELECT (SELECT count(*) FROM i.{m}) AS incr_entities,
                   (SELECT count(*) FROM f.{m}) AS full_entities,
                   (SELECT count(DISTINCT entity_key) FROM i.{m}) AS incr_distinct_entities,
                   (SELECT count(DISTINCT resolved_id) FROM i.{m}) AS incr_clusters,
                   (SELECT count(DISTINCT resolved_id) FROM f.{m}) AS full_clusters,
                   (SELECT count(*) FROM i.{m} a ANTI JOIN f.{m} b USING (entity_key)) AS only_in_incr,
                   (SELECT count(*) FROM f.{m} b ANTI JOIN i.{m} a USING (entity_key)) AS only_in_full,
                   (SELECT count(DISTINCT (incr_rid, full_rid)) FROM j) AS cluster_pairs,
                   (SELECT count(*) FILTER (WHERE incr_rid <> full_rid) FROM j) AS resolved_id_differs,
                   (SELECT count(*) FILTER (WHERE NOT same_table) FROM j) AS table_id_differs""")[0]
        out["same_partition"] = (
            out["only_in_incr"] == 0 and out["only_in_full"] == 0
            and out["incr_entities"] == out["full_entities"] == out["incr_distinct_entities"]
            and out["cluster_pairs"] == out["incr_clusters"] == out["full_clusters"])
        out["same_resolved_ids"] = out["resolved_id_differs"] == 0 and out["table_id_differs"] == 0
        out["incr_equals_full"] = out["same_partition"] and out["same_resolved_ids"]
        diffs = {}
        for table, cols in COMPARED_TABLES.items():
            t = f"idr_out.{table}"
            a, b = con.execute(
                f"SELECT (SELECT count(*) FROM (SELECT {cols} FROM i.{t} EXCEPT ALL SELECT {cols} FROM f.{t})), "
                f"(SELECT count(*) FROM (SELECT {cols} FROM f.{t} EXCEPT ALL SELECT {cols} FROM i.{t}))"
            ).fetchall()[0]
            diffs[table] = {"rows_only_in_incr": a, "rows_only_in_full": b}
        out["tables"] = diffs
        out["tables_equal"] = all(d["rows_only_in_incr"] == 0 == d["rows_only_in_full"] for d in diffs.values())
    finally:
        con.close()
    return out


MEASUREMENTS = {"FULL": measure_full, "INCR": measure_incr}


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


def _print_stages(stages: list[dict]) -> None:
    print(f"    {'stage':<18}{'seconds':>14}   {'rows in':>12} {'rows out':>12}")
    for s in stages:
        print(f"    {s['stage_name']:<18}{_fmt(s['duration_seconds'], '.2f'):>14}   "
              f"{_fmt(s['rows_in']):>12} {_fmt(s['rows_out']):>12}")


def _print_full(r: dict, reference: dict | None = None, title: str | None = None) -> None:
    q, c, run = r.get("quality"), r["clusters"], r["run_history"]
    print(f"\n  {title or r['mode'] + ' #' + str(r.get('repeat', 1))}  run {run.get('run_id')}  "
          f"status {run.get('status')}")
    rows = [
        ("wall (process)", f"{r['wall_seconds']:.2f} s", f"{_fmt(r['records_per_second'])} records/s"),
        ("engine duration", f"{_fmt(r['engine_seconds'], '.2f')} s",
         f"{_fmt(r['engine_records_per_second'])} records/s"),
        ("peak RSS", f"{r['peak_rss_mib']:,.0f} MiB", f"sampled tree {r['sampled_peak_rss_mib']:,.0f} MiB"),
        ("CPU", f"{r['cpu_seconds']:.1f} s", f"{r['cpu_seconds'] / r['wall_seconds']:.2f} cores busy"),
        ("clusters", f"{c['clusters']:,}", f"largest {c['largest']:,}, singletons {c['singletons']:,}"),
    ]
    if q:
        rows += [
            ("precision", _fmt(q["precision"], ".4f"), f"{q['tp']:,} / {q['predicted_pairs']:,} pairs"),
            ("recall", _fmt(q["recall"], ".4f"), f"{q['tp']:,} / {q['true_pairs']:,} pairs"),
            ("F1", _fmt(q["f1"], ".4f"),
             f"persons resolved exactly {q['persons_exact'] / max(q['persons'], 1):.1%}"),
        ]
    if reference:
        rq = reference["quality"]
        rows.append(("reference linker", f"P {_fmt(rq['precision'], '.4f')}",
                     f"R {_fmt(rq['recall'], '.4f')}  F1 {_fmt(rq['f1'], '.4f')}  "
                     f"clusters {rq['clusters']:,}"))
    for name, a, b in rows:
        print(f"    {name:<18}{a:>14}   {b}")
    _print_stages(r["stage_metrics"])


def _print_incr(r: dict) -> None:
    full, d, run, chk = r["full"], r["delta"], r["run_history"], r["check"]
    _print_full(full, title=f"INCR #{r.get('repeat', 1)}: FULL before the delta"
                            + (" (sources with deleted_expr: is_deleted)" if r["soft_delete"] else ""))
    kinds = ", ".join(f"{k} {v:,}" for k, v in d["by_kind"].items())
    print(f"\n  delta {d['pct']}%: {d['total']:,} rows ({d['updates']:,} updates, {d['inserts']:,} inserts, "
          f"{d['deletes']:,} soft deletes) applied in {d['wall_seconds']:.2f} s (not timed as INCR)")
    print(f"    {kinds}")
    print(f"\n  INCR #{r.get('repeat', 1)}  run {run.get('run_id')}  mode {run.get('run_mode')}  "
          f"status {run.get('status')}")
    lineage = ", ".join(f"{k} {v:,}" for k, v in r.get("lineage", {}).items()) or "none"
    rows = [
        ("wall (process)", f"{r['wall_seconds']:.2f} s",
         f"{r['ratio_wall']:.1%} of FULL {full['wall_seconds']:.2f} s (target <= {r['target_ratio']:.0%}: "
         f"{'met' if r['meets_target'] else 'NOT met'})"),
        ("engine duration", f"{_fmt(r['engine_seconds'], '.2f')} s",
         f"{_fmt(r['ratio_engine'], '.1%')} of FULL {_fmt(full['engine_seconds'], '.2f')} s"),
        ("peak RSS", f"{r['peak_rss_mib']:,.0f} MiB",
         f"sampled tree {r['sampled_peak_rss_mib']:,.0f} MiB (FULL {full['peak_rss_mib']:,.0f} MiB)"),
        ("CPU", f"{r['cpu_seconds']:.1f} s", f"{_fmt(r.get('ratio_cpu'), '.1%')} of FULL {full['cpu_seconds']:.1f} s, "
                                             f"{r['cpu_seconds'] / r['wall_seconds']:.2f} cores busy"),
        ("entities read", _fmt(run.get("entities_processed")),
         f"clusters recomputed {_fmt(run.get('clusters_impacted'))}, "
         f"entities removed {_fmt(run.get('entities_removed'))}"),
        ("lineage", "", lineage),
    ]
    for name, a, b in rows:
        print(f"    {name:<18}{a:>14}   {b}")
    _print_stages(r["stage_metrics"])
    fa = r["full_after_delta"]
    print(f"\n  check: FULL on a copy of the INCR result: {fa['wall_seconds']:.2f} s wall, "
          f"{_fmt(fa['engine_seconds'], '.2f')} s engine, {fa['peak_rss_mib']:,.0f} MiB")
    print(f"    entities {chk['incr_entities']:,} / {chk['full_entities']:,}, clusters "
          f"{chk['incr_clusters']:,} / {chk['full_clusters']:,} (INCR / FULL), (INCR, FULL) cluster pairs "
          f"{chk['cluster_pairs']:,}, resolved_id differs {chk['resolved_id_differs']:,}")
    other = "; ".join(f"{t}: +{v['rows_only_in_incr']:,} -{v['rows_only_in_full']:,}"
                      for t, v in chk["tables"].items() if v["rows_only_in_incr"] or v["rows_only_in_full"])
    print(f"    incr_equals_full: {r['incr_equals_full']}; other tables "
          f"{'equal' if chk['tables_equal'] else 'DIFFER: ' + other}")


def print_report(result: dict) -> None:
    ds, m = result["dataset"], result["machine"]
    print()
    print(f"idr benchmark  {int(ds['records']):,} records, {int(ds['persons']):,} persons, "
          f"seed {ds['seed']}  ({m['cpus_usable']} CPUs, {m['memory_gib']} GiB, "
          f"load {result['load_average_before'][0]:.1f} before)")
    for r in result["measurements"]:
        if r["mode"] == "INCR":
            _print_incr(r)
        else:
            _print_full(r, result.get("reference"))
    by_mode: dict[str, list[float]] = {}
    for r in result["measurements"]:
        by_mode.setdefault(r["mode"], []).append(r["wall_seconds"])
    for mode, walls in by_mode.items():
        if len(walls) > 1:
            print(f"\n  {mode} x{len(walls)}: wall min {min(walls):.2f} s, "
                  f"median {statistics.median(walls):.2f} s, max {max(walls):.2f} s")
    peers.print_report(result.get("peers", []))
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
    ap.add_argument("--out", type=Path, help="JSON results (default benchmarks/results/bench_<label>.json; "
                                             "bench_<label>_incr.json for --mode INCR)")
    ap.add_argument("--mode", choices=sorted(MEASUREMENTS), action="append",
                    help="measurement(s) to run (default FULL)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run each measurement N times, each from a fresh copy (noisy machines)")
    ap.add_argument("--reuse", action="store_true",
                    help="reuse the generated database if it exists and matches records/seed")
    ap.add_argument("--keep", action="store_true",
                    help="keep the generated database, its YAML and the run copy afterwards")
    ap.add_argument("--delta-pct", type=float, default=1.0,
                    help="INCR: size of the delta, percent of --records (default 1)")
    ap.add_argument("--no-soft-delete", action="store_true",
                    help="INCR: no is_deleted column / deleted_expr, so the delta has no soft deletes")
    ap.add_argument("--reference", action="store_true",
                    help="also score benchmarks/reference.py's linker on the same data")
    ap.add_argument("--peers", action="store_true",
                    help="after each FULL measurement, time floor.py and Splink 5 (benchmarks/peers.py; "
                         "run benchmarks/setup_peers.sh once) on the same data and compare partitions")
    args = ap.parse_args(argv)

    label = label_for(args.records)
    db = args.db or HERE / "data" / f"bench_{label}.duckdb"
    modes = args.mode or ["FULL"]
    # FULL alone keeps the historical name; other mode sets get their own file
    suffix = "" if modes == ["FULL"] else "_" + "_".join(m.lower() for m in modes)
    out = args.out or HERE / "results" / f"bench_{label}{suffix}.json"
    work_db = db.with_name(db.stem + ".run.duckdb")
    load_before = list(os.getloadavg())
    started = dt.datetime.now(dt.timezone.utc)

    if args.peers:
        peers.check_available()
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
        for mode in modes:
            for i in range(args.repeat):
                m = MEASUREMENTS[mode](ds, work_db, log_dir, args)
                m["repeat"] = i + 1
                result["measurements"].append(m)
                if args.peers and mode == "FULL":
                    result.setdefault("peers", []).append(
                        peers.measure_all(ds.db, work_db, log_dir, m["wall_seconds"]))
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
    bad = [m for m in result["measurements"] if m["mode"] == "INCR" and not m["incr_equals_full"]]
    if bad:
        print(f"\nFAILED: INCR's published membership differs from FULL's in {len(bad)} measurement(s) "
              f"(see 'check' in {out})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
