"""schemathesis fuzzes the OpenAPI document against a real `idr serve`: every answer must
match its documented schema, no 5xx, valid requests accepted. Bounded in time (CI runs it)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from serve_testing import new_key, server

BUDGET_SECONDS = 25


def test_openapi_fuzzing_finds_nothing(demo, tmp_path):
    st = Path(sys.executable).parent / "st"
    if not st.exists():
        st = Path(shutil.which("st") or "st")
    key = new_key(demo, "admin", "schemathesis")
    with server(demo, {"RATE_LIMIT_ENABLED": "false"}) as url:
        r = subprocess.run([str(st), "run", f"{url}/openapi.json", "-H", f"X-API-Key: {key}", "--checks", "all",
                            "--max-time", str(BUDGET_SECONDS), "--max-examples", "25", "--seed", "17",
                            "--warnings", "off", "--report-dir", str(tmp_path)],
                           capture_output=True, text=True, timeout=BUDGET_SECONDS + 120,
                           cwd=tmp_path)  # its cache folder (.schemathesis/) goes there
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    assert "Tested: 8" in r.stdout
