"""Every command idr prints for the user to run works when pasted (src/idr/hints.py).

Each hint is captured from idr's own output, split as a POSIX shell would (shlex), and run:
`idr ...` through the CLI entry point, anything else (the demo's python one-liner, a hint
naming another program) in a real shell. The database lives at a path with a space and a
quote, so an unquoted path breaks the hint. Hints covered: the demo's "Try next" list, the
dry-run summary's `dry-run show`, `idr runs` and `idr metrics show` on a database without
runs, the `idr init` of a missing database / missing idr tables / missing metrics table,
rollback's `idr runs`, and the `idr run --run-mode FULL` of `--no-auto-full`.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from idr.cli import main
from idr_testing import make_db, simple_config

WEIRD = "it's a db.duckdb"


def run_hint(hint: str, cwd: Path) -> None:
    """Run a printed command as pasted: exit code 0 or the test fails."""
    argv = shlex.split(hint, comments=True)
    if argv[0] == "idr":
        assert main(argv[1:]) == 0, hint
    else:
        proc = subprocess.run(hint, shell=True, cwd=cwd, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, (hint, proc.stderr)


def cli(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def backticked(text: str) -> list[str]:
    return re.findall(r"`([^`]+)`", text)


def test_demo_and_dry_run_hints_work_when_pasted(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    db = str(tmp_path / WEIRD)
    code, out, _ = cli(capsys, "demo", "--db", db, "--persons", "300")
    assert code == 0
    hints = [line.strip() for line in out.split("Try next:\n", 1)[1].splitlines() if line.strip()]
    assert len(hints) == 6 and all(db in " ".join(shlex.split(h, comments=True)) for h in hints)
    for hint in hints:
        capsys.readouterr()
        run_hint(hint, tmp_path)
        out = capsys.readouterr().out
        if "--dry-run" in hint:
            [show] = [line.split("Or:", 1)[1].strip() for line in out.splitlines() if "Or:" in line]
            assert "--change-type MOVED" in show
            run_hint(show, tmp_path)


def test_hints_in_messages_and_empty_listings_work_when_pasted(tmp_path, capsys):
    db = tmp_path / WEIRD
    make_db(db, {"people": [{"id": 1, "email": "a@x.com"}, {"id": 2, "email": "a@x.com"}]}, simple_config())
    hints = []
    for args in (["runs"], ["metrics", "show"]):
        code, out, _ = cli(capsys, *args, "--db", str(db))
        assert code == 0 and ("(no runs yet" in out or "(no metrics recorded yet" in out)
        hints.append(out.strip().splitlines()[-1].split(": ", 1)[1].rstrip(")"))
    for hint in hints:
        run_hint(hint, tmp_path)

    # Rollback to an unknown run: the message points at `idr runs`.
    code, _, err = cli(capsys, "rollback", "--to", "no_such_run", "--db", str(db))
    assert code == 2
    [hint] = backticked(err)
    run_hint(hint, tmp_path)

    # INCR that cannot be exact, with --no-auto-full: the message says how to run FULL.
    con = duckdb.connect(str(db))
    con.execute("UPDATE idr_meta.rule SET max_group_size = 1")
    con.close()
    code, _, err = cli(capsys, "run", "--run-mode", "INCR", "--no-auto-full", "--db", str(db))
    assert code == 2
    [hint] = backticked(err)
    run_hint(hint, tmp_path)


@pytest.mark.parametrize("command", [["runs"], ["run"], ["metrics", "show"]])
def test_init_hints_work_when_pasted(tmp_path, capsys, command):
    missing = tmp_path / "new dir's" / WEIRD
    missing.parent.mkdir()
    plain = tmp_path / f"plain {WEIRD}"
    duckdb.connect(str(plain)).close()  # a DuckDB file without idr's tables
    for db in (missing, plain):
        code, _, err = cli(capsys, *command, "--db", str(db))
        assert code == 2, err
        [hint] = backticked(err)
        assert shlex.split(hint)[1] == "init"
        run_hint(hint, tmp_path)


def test_hints_name_a_program_the_shell_finds(tmp_path):
    """Started by a path (the venv not active), idr prints that path; as `python -m idr`,
    that interpreter. The printed command then runs in a shell whose PATH has no idr."""
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    starts = [[sys.executable, "-m", "idr"]]
    if (bin_dir / "idr").exists():
        starts.append([str(bin_dir / "idr")])
    for start in starts:
        db = tmp_path / WEIRD
        proc = subprocess.run([*start, "runs", "--db", str(db)], capture_output=True, text=True, env=env,
                              timeout=120)
        assert proc.returncode == 2
        [hint] = backticked(proc.stderr)
        assert not hint.startswith("idr ")
        done = subprocess.run(hint, shell=True, capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, (hint, done.stderr)
        db.unlink()
