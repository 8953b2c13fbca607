#!/usr/bin/env bash
# A real Spark cluster on this machine, from the pip-installed pyspark alone: a standalone
# master and two workers on 127.0.0.1, then idr FULL and INCR runs through it, checked
# against a DuckDB FULL run on the same data. Everything it starts it stops (by PID).
#
#   deploy/spark/standalone-cluster.sh [WORK_DIR]
#
# Needs: idr installed with the spark extra (pip install -e ".[spark]") and Java 17+.
# Environment: PYTHON (default: python3), IDR_SPARK_PORT (default 7077), ROWS (default 2000).
set -euo pipefail

PYTHON=${PYTHON:-python3}
PORT=${IDR_SPARK_PORT:-7077}
ROWS=${ROWS:-2000}
WORK=${1:-$(mktemp -d -t idr-spark-cluster-XXXXXX)}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
IDR="$PYTHON -m idr"

SPARK_HOME=$("$PYTHON" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')
export SPARK_HOME SPARK_LOCAL_IP=127.0.0.1 PYSPARK_PYTHON=$(command -v "$PYTHON")
MASTER="spark://127.0.0.1:$PORT"

pids=()
stop() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop EXIT

# The pip package has no sbin/start-*.sh: start the daemons through spark-class.
"$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.master.Master \
  --host 127.0.0.1 --port "$PORT" --webui-port 0 >"$WORK/master.log" 2>&1 &
pids+=($!)
for _ in $(seq 120); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.5; done
for i in 1 2; do
  "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker --host 127.0.0.1 --cores 1 \
    --memory 1g --webui-port 0 --work-dir "$WORK/worker$i" "$MASTER" >"$WORK/worker$i.log" 2>&1 &
  pids+=($!)
done
for _ in $(seq 120); do
  [ "$(grep -c 'Registering worker' "$WORK/master.log" || true)" -ge 2 ] && break
  sleep 0.5
done
echo "cluster: $MASTER with $(grep -c 'Registering worker' "$WORK/master.log") workers (logs in $WORK)"

# Sources: Parquet files (what Spark and DuckDB both read), a watermark for INCR.
"$PYTHON" - "$WORK" "$ROWS" <<'EOF'
import datetime as dt, random, sys
import pyarrow as pa, pyarrow.parquet as pq
from pathlib import Path
work, n = Path(sys.argv[1]), int(sys.argv[2])
rng, t0 = random.Random(1), dt.datetime(2026, 1, 1)
(work / "crm").mkdir(exist_ok=True)
rows = [{"id": f"c{i}", "email": f"p{rng.randint(0, n // 3)}@example.org",
         "phone": f"+1 415 555 {rng.randint(0, n // 2):04d}" if rng.random() < 0.5 else None, "ts": t0}
        for i in range(n)]
pq.write_table(pa.Table.from_pylist(rows), work / "crm" / "part-0.parquet")
(work / "idr.yaml").write_text(f"""
sources:
  - table_id: crm
    table_fqn: {work}/crm/*.parquet
    entity_key_expr: id
    watermark_column: ts
    identifiers:
      - {{identifier_type: EMAIL, identifier_value_expr: email}}
      - {{identifier_type: PHONE, identifier_value_expr: phone}}
rules:
  - {{rule_id: email, identifier_type: EMAIL, canonicalize: EMAIL}}
  - {{rule_id: phone, identifier_type: PHONE, canonicalize: PHONE}}
""")
EOF

DB="$WORK/idr.duckdb"
$IDR init --db "$DB" >/dev/null
$IDR config load --db "$DB" "$WORK/idr.yaml" >/dev/null
export IDR_SPARK_MASTER="$MASTER" IDR_SPARK_CHECKPOINT_DIR="$WORK/checkpoints"
$IDR run --db "$DB" --engine spark --run-mode FULL --quiet

# New and changed records arrive as a second file; INCR reads only them.
"$PYTHON" - "$WORK" <<'EOF'
import datetime as dt, sys
import pyarrow as pa, pyarrow.parquet as pq
from pathlib import Path
work = Path(sys.argv[1])
t1 = dt.datetime(2026, 1, 2)
rows = [{"id": "c1", "email": "p0@example.org", "phone": None, "ts": t1},
        {"id": "new1", "email": "p1@example.org", "phone": "+1 415 555 0002", "ts": t1}]
pq.write_table(pa.Table.from_pylist(rows), work / "crm" / "part-1.parquet")
EOF
# c1 now has two rows (one per file): idr reads every row of a changed key.
$IDR run --db "$DB" --engine spark --run-mode INCR --quiet

# The same data through DuckDB, FULL: the partitions must be equal.
cp "$DB" "$WORK/check.duckdb"
$IDR run --db "$WORK/check.duckdb" --engine duckdb --run-mode FULL --quiet >/dev/null
"$PYTHON" - "$DB" "$WORK/check.duckdb" <<'EOF'
import sys
import idr
def partition(db):
    with idr.open_results(db) as con:
        rows = con.execute("SELECT entity_key, resolved_id FROM idr_out.identity_resolved_membership_current").fetchall()
    groups = {}
    for key, rid in rows:
        groups.setdefault(rid, set()).add(key)
    return {frozenset(g) for g in groups.values()}
spark, duck = partition(sys.argv[1]), partition(sys.argv[2])
assert spark == duck, "Spark INCR and DuckDB FULL disagree"
print(f"same partition on Spark (FULL then INCR, {len(spark)} clusters) and DuckDB (FULL)")
EOF
$IDR runs --db "$DB" | head -5
