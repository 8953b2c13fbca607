"""Commands idr prints for the user to run next. Each must work when pasted into a shell:
it names the database (`--db`), quotes every argument (shlex.quote), and starts with a
program the shell finds. tests/test_hints.py runs every one of them.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys


def program() -> str:
    """How to start idr again from the user's shell: `idr` when that finds this program;
    otherwise the path this process was started by (e.g. `.venv/bin/idr` when the venv
    is not active), or `python -m idr` for the interpreter that runs it now."""
    argv0 = sys.argv[0] if sys.argv else ""
    if os.path.basename(argv0) == "__main__.py" and os.path.basename(os.path.dirname(argv0)) == "idr":
        return f"{shlex.quote(sys.executable)} -m idr"
    if os.path.basename(argv0) == "idr" and os.sep in argv0:
        on_path = shutil.which("idr")
        if on_path is None or os.path.realpath(on_path) != os.path.realpath(argv0):
            return shlex.quote(argv0)
    return "idr"


def idr_command(*args: object, db: str | os.PathLike) -> str:
    """`idr ARGS --db DB`, ready to paste."""
    return " ".join([program(), *(shlex.quote(str(a)) for a in (*args, "--db", os.fspath(db)))])


def python_command(code: str) -> str:
    """Run `code` with the interpreter idr runs on (it has duckdb; a bare `python` may not)."""
    return f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"
