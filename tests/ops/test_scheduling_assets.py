"""The scheduling examples (deploy/cron, deploy/systemd, deploy/airflow): systemd accepts the
units, every idr command in them parses with the real command line, and docs/scheduling.md
shows the files as they are."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from idr.cli import build_parser
from idr_testing import need

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("idr-*"))
IDR = "/opt/idr/venv/bin/idr"


def _commands() -> list[tuple[str, list[str]]]:
    """(file, idr arguments) for every idr command in the examples."""
    found = []
    for unit in UNITS:
        found += [(unit.name, shlex.split(m)) for m in re.findall(rf"^ExecStart={IDR} (.+)$", unit.read_text(), re.M)]
    cron = (DEPLOY / "cron" / "idr.crontab").read_text()
    found += [("idr.crontab", shlex.split(m)) for m in re.findall(r"; idr (.+?) >>?/", cron)]
    found += [("idr.crontab", shlex.split(m)) for m in re.findall(r"^\S+ \S+ \S+ \S+ \S+\s+idr (.+?) >", cron, re.M)]
    dag = (DEPLOY / "airflow" / "idr_dag.py").read_text()
    found += [("idr_dag.py", shlex.split(m.replace("{DB}", "/srv/idr/customers.duckdb")))
              for m in re.findall(r'f"\{IDR\} (.+?)"', dag)]
    return found


def test_every_idr_command_in_the_examples_parses():
    commands = _commands()
    assert {name for name, _ in commands} == {u.name for u in UNITS if u.suffix == ".service"} | {
        "idr.crontab", "idr_dag.py"}
    assert sum(args[0] == "run" for _, args in commands) == 3
    for name, args in commands:
        parsed = build_parser().parse_args(args)  # SystemExit(2) on an unknown option
        if args[0] in ("run", "backup"):
            assert parsed.wait > 0, (name, args)  # a scheduled run waits for the one before it


def test_systemd_accepts_the_units(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        need("systemd-analyze is not installed (Debian package systemd; .ci/run installs it)")
    idr = Path(sys.executable).with_name("idr")
    for unit in UNITS:  # ExecStart must exist for systemd: point it at this environment's idr
        (tmp_path / unit.name).write_text(unit.read_text().replace(IDR, str(idr)))
    r = subprocess.run([analyze, "verify", "--man=no", *sorted(str(p) for p in tmp_path.iterdir())],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr


def test_airflow_dag_compiles():
    compile((DEPLOY / "airflow" / "idr_dag.py").read_text(), "idr_dag.py", "exec")


@pytest.mark.parametrize("path", [*(u.relative_to(DEPLOY) for u in UNITS), Path("cron/idr.crontab"),
                                  Path("airflow/idr_dag.py")], ids=str)
def test_docs_show_the_files_as_they_are(path):
    # A docs-test marker line (tests/docs_examples.py) may stand between the title and the block.
    doc = re.sub(r"\n<!-- docs-test:[^\n]*-->\n", "\n", (ROOT / "docs" / "scheduling.md").read_text())
    assert f"`deploy/{path}`:\n\n```" in doc
    block = doc.split(f"`deploy/{path}`:\n\n```", 1)[1].split("\n", 1)[1].split("```\n", 1)[0]
    assert block == (DEPLOY / path).read_text()
