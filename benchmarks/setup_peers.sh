#!/usr/bin/env bash
# The peer's own environment for `bench.py --peers`: Splink 5 in benchmarks/.venv-splink,
# never in idr's venv (it is not a dependency of idr). Pinned; safe to repeat.
# --spark: also Splink 5 with pyspark in benchmarks/.venv-splink-spark (spark_peers.py).
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv-splink
.venv-splink/bin/python -m pip install --quiet "splink==5.0.0" "duckdb==2.0.1"
.venv-splink/bin/python -c "import splink, duckdb; print('splink', splink.__version__, 'duckdb', duckdb.__version__)"
if [ "${1:-}" = "--spark" ]; then
  python3 -m venv .venv-splink-spark
  .venv-splink-spark/bin/python -m pip install --quiet "splink==5.0.0" "duckdb==2.0.1" "pyspark==4.3.0"
  .venv-splink-spark/bin/python -c "import splink, pyspark; print('splink', splink.__version__, 'pyspark', pyspark.__version__)"
fi
