#!/usr/bin/env bash
# The peer's own environment for `bench.py --peers`: Splink 5 in benchmarks/.venv-splink,
# never in idr's venv (it is not a dependency of idr). Pinned; safe to repeat.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv-splink
.venv-splink/bin/python -m pip install --quiet "splink==5.0.0" "duckdb==2.0.1"
.venv-splink/bin/python -c "import splink, duckdb; print('splink', splink.__version__, 'duckdb', duckdb.__version__)"
