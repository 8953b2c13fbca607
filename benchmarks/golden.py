"""What golden profiles cost a FULL run: the same generated data resolved without and with
8 attributes (names, an address group, a date, numbers, best email), alternately, each
run a separate `idr run` process.

    python benchmarks/generate.py --records 1000000 --db /tmp/bench_1m.duckdb --seed 42
    python benchmarks/golden.py /tmp/bench_1m.duckdb --repeat 2

The attributes are expressions over the generated columns (the generator has no names or
addresses): text derived from the email, hashed choices of city and street, the record's
date and hashed numbers, so the stage reads, orders and publishes values of realistic
size. Writes benchmarks/results/golden_<label>.json and prints the ratio of CPU seconds
(user + system of the `idr run` processes: it holds on a loaded machine) and of wall seconds.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import yaml

HERE = Path(__file__).resolve().parent
KEYS = {"crm": "customer_id", "orders": "order_id", "loyalty": "member_id", "web": "signup_id"}
EMAIL = {"crm": "email", "orders": "customer_email", "loyalty": "email", "web": "email"}


def attributes(table_id: str, plain: bool = False) -> list[dict]:
    e, k = EMAIL[table_id], KEYS[table_id]
    # initcap is not a DuckDB function: sqlglot renders it as a regular-expression and
    # lambda program that costs more per row than the rest of extract; --plain leaves it
    # out, to tell the expressions' cost from the golden stage's.
    name = "{}" if plain else "initcap({})"
    exprs = {
        "first_name": name.format(f"split_part(split_part({e}, '@', 1), '.', 1)"),
        "last_name": name.format(f"split_part(split_part({e}, '@', 1), '.', 2)"),
        "street": f"(hash({k}) % 999 + 1)::VARCHAR || ' ' || ['Main St', 'Oak Ave', 'Elm St', 'Hill Rd'][1 + (hash({k}, 1) % 4)::BIGINT]",
        "city": f"['Springfield', 'Riverside', 'Fairview', 'Madison', 'Salem'][1 + (hash({k}, 2) % 5)::BIGINT]",
        "postcode": f"lpad((hash({k}, 3) % 99999)::VARCHAR, 5, '0')",
        "birth_date": "CAST(updated_at AS DATE) - INTERVAL 30 YEAR",
        "points": f"(hash({k}, 4) % 5000)::INTEGER",
    }
    return [{"attribute_name": n, "attribute_expr": x} for n, x in exprs.items()]


RULES = [
    {"attribute_name": "first_name", "strategy": "SOURCE_PRIORITY + MOST_RECENT"},
    {"attribute_name": "last_name", "strategy": "LONGEST"},
    {"attribute_name": "street", "strategy": "MOST_RECENT", "attribute_group": "address"},
    {"attribute_name": "city", "strategy": "MOST_RECENT", "attribute_group": "address"},
    {"attribute_name": "postcode", "strategy": "MOST_RECENT", "attribute_group": "address"},
    {"attribute_name": "birth_date", "strategy": "MOST_FREQUENT"},
    {"attribute_name": "points", "strategy": "MAX"},
    {"attribute_name": "best_email", "strategy": "MOST_FREQUENT", "identifier_type": "EMAIL"},
]


def golden_config(base: dict, plain: bool = False) -> dict:
    cfg = json.loads(json.dumps(base))
    for rank, s in enumerate(cfg["sources"], 1):
        s["trust"] = {"source_name": s["table_id"], "trust_rank": rank}
        s["attributes"] = attributes(s["table_id"], plain)
    cfg["survivorship"] = RULES
    return cfg


def idr(*args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "idr"
    return subprocess.run([str(exe), *args], capture_output=True, text=True, check=True)


def _children_cpu() -> float:
    """User + system CPU seconds of the finished child processes (the `idr run`s): the
    comparison that holds while other processes load the machine."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def one_run(src: Path, work: Path, cfg: dict) -> dict:
    shutil.copy(src, work)
    (work.parent / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    idr("init", "--db", str(work))
    idr("config", "load", str(work.parent / "cfg.yaml"), "--db", str(work))
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    idr("run", "--run-mode", "FULL", "--quiet", "--db", str(work))
    wall = time.perf_counter() - t0
    cpu = _children_cpu() - cpu0
    con = duckdb.connect(str(work), read_only=True)
    try:
        run_id, engine = con.execute("SELECT run_id, duration_seconds FROM idr_out.run_history").fetchall()[0]
        rows = con.execute("SELECT stage_name, duration_seconds, cpu_seconds FROM idr_out.stage_metrics "
                           "WHERE run_id = ?", [run_id]).fetchall()
        golden_rows = con.execute("SELECT count(*) FROM idr_out.golden_profile_current").fetchall()[0][0]
    finally:
        con.close()
    work.unlink()
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    return {"wall_seconds": wall, "cpu_seconds": cpu, "engine_seconds": engine,
            "stages": {n: w for n, w, _ in rows}, "stage_cpu_seconds": {n: c for n, _, c in rows},
            "golden_rows": golden_rows, "loadavg": load}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("db", type=Path, help="a database made by benchmarks/generate.py (its YAML next to it)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--work", type=Path, default=Path("/tmp/idr_golden_bench"))
    ap.add_argument("--plain", action="store_true", help="names without initcap (see attributes())")
    args = ap.parse_args(argv)
    base = yaml.safe_load(args.db.with_suffix(".yaml").read_text())
    args.work.mkdir(parents=True, exist_ok=True)
    results: dict[str, list] = {"without": [], "with": []}
    for i in range(args.repeat):  # alternate, so a busier minute hits both
        for name, cfg in (("without", base), ("with", golden_config(base, args.plain))):
            r = one_run(args.db, args.work / "run.duckdb", cfg)
            results[name].append(r)
            c = r["stage_cpu_seconds"]
            print(f"{name:<8} run {i + 1}: CPU {r['cpu_seconds']:.2f} s (extract {c.get('extract') or 0:.2f}, golden "
                  f"{c.get('golden') or 0:.2f}, publish {c.get('publish') or 0:.2f}), wall {r['wall_seconds']:.2f} s; "
                  f"load {' '.join(r['loadavg'])}", flush=True)
    best = {k: min(r["wall_seconds"] for r in v) for k, v in results.items()}
    cpu = {k: min(r["cpu_seconds"] for r in v) for k, v in results.items()}
    ratio = cpu["with"] / cpu["without"] - 1  # CPU: the number that holds on a loaded machine
    wall_ratio = best["with"] / best["without"] - 1
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    out = {"db": str(args.db), "attributes": len(RULES), "plain": args.plain, "runs": results, "best_wall": best,
           "best_cpu": cpu, "added_share": ratio, "added_share_wall": wall_ratio, "meets_target": ratio <= 0.20,
           "loadavg_end": load}
    label = args.db.stem + ("_plain" if args.plain else "")
    (HERE / "results" / f"golden_{label}.json").write_text(json.dumps(out, indent=1, default=str))
    print(f"best CPU: without {cpu['without']:.2f} s, with {cpu['with']:.2f} s: +{ratio:.1%} (target <= 20%); "
          f"best wall: without {best['without']:.2f} s, with {best['with']:.2f} s: +{wall_ratio:.1%}; "
          f"load average {' '.join(load)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
