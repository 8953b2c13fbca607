"""Run a docs page's examples as a user would paste them, and compare what they print with
the output the page shows.

A page is one shell session: its ```bash blocks run in order in one bash process (a
function or a file one block makes is there for the next), its ```sql blocks run through
DuckDB against the page's database. A block's documented output is the ```text block right
after it. Before comparing, what differs from run to run is blurred (run ids, timestamps,
durations, process ids, the test's temporary folder, table padding), so counts, keys,
messages and exit codes must match exactly.

Markers, an HTML comment on the line before a block:
  <!-- docs-test: skip REASON -->       not run (placeholders, a service not here, ...)
  <!-- docs-test: exit-only REASON -->  run, must exit 0, output not compared
  <!-- docs-test: file NAME -->         the block (a YAML file, say) is written to NAME in the
                                        folder the examples run in, before the next block runs
A page that needs a service names it with <!-- docs-test: needs HOST:PORT (what) -->.
A page names its database for SQL blocks with <!-- docs-test: sql-db PATH --> (default
/tmp/docs_demo.duckdb).

IDR_UPDATE_DOCS=1 rewrites the ```text blocks with what the examples print now (review the
diff: it is the documentation).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

MARK = "@@docs-test-block@@"
_FENCE = re.compile(r"^```(\w*)\s*$")
_DIRECTIVE = re.compile(r"<!--\s*docs-test:\s*(skip|exit-only|sql-db|file|needs)\b\s*(.*?)\s*-->")


@dataclass
class Block:
    lang: str
    body: str
    line: int  # 1-based line of the opening fence
    marker: str | None = None  # skip | exit-only | file
    file: str | None = None  # for marker file: where the block is written
    output: "Block | None" = None  # the ```text block documenting it
    span: tuple[int, int] = (0, 0)  # lines of the body (0-based, end exclusive)


def needs(text: str) -> list[str]:
    """The services (host:port, what) a page's examples need."""
    return [d.group(2) for d in _DIRECTIVE.finditer(text) if d.group(1) == "needs"]


def parse(text: str) -> tuple[list[Block], str]:
    """The page's runnable blocks, each with its documented output, and its SQL database."""
    lines = text.split("\n")
    blocks: list[Block] = []
    sql_db = "/tmp/docs_demo.duckdb"
    i, pending, argument = 0, None, None
    while i < len(lines):
        d = _DIRECTIVE.search(lines[i])
        if d and d.group(1) == "sql-db":
            sql_db = d.group(2)
        elif d and d.group(1) != "needs":
            pending, argument = d.group(1), d.group(2)
        m = _FENCE.match(lines[i])
        if not m or not m.group(1):
            i += 1
            continue
        start = i + 1
        end = start
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        block = Block(m.group(1), "\n".join(lines[start:end]), i + 1, pending, span=(start, end))
        if pending == "file":
            block.lang, block.file = "file", argument
        pending = None
        if block.lang == "text" and blocks and blocks[-1].output is None and _only_blank(lines, blocks[-1], i):
            blocks[-1].output = block
        elif block.lang in ("bash", "sql", "file"):
            blocks.append(block)
        i = end + 1
    return blocks, sql_db


def _only_blank(lines: list[str], previous: Block, fence: int) -> bool:
    return all(not line.strip() for line in lines[previous.span[1] + 1:fence])


def script(blocks: list[Block], sql_db: str, tmp: str) -> str:
    """One bash script that runs every block not skipped and prints a marker with its index
    and exit status after each."""
    out = ["exec 2>&1",
           "__sql() { python -c 'import duckdb, sys; r = duckdb.connect(sys.argv[1]).sql(sys.argv[2]); "
           "r is None or r.show(max_width=250)' \"$@\"; }"]
    for n, b in enumerate(blocks):
        if b.marker == "skip":
            continue
        body = localise(b.body, tmp)
        if b.lang == "file":
            body = f"cat > {_quote(b.file)} <<'__DOCS_TEST_EOF__'\n{b.body}\n__DOCS_TEST_EOF__"
        elif b.lang == "sql":
            body = "__sql " + _quote(localise(sql_db, tmp)) + " " + _quote(body)
        out += [f"echo '{MARK} start {n}'", body, f"echo \"{MARK} end {n} $?\""]
    return "\n".join(out) + "\n"


def _quote(s: str) -> str:
    return "'" + s.replace("'", "'\"'\"'") + "'"


def localise(text: str, tmp: str) -> str:
    return text.replace("/tmp/", tmp.rstrip("/") + "/")


def run_page(page: Path, tmp: Path, bin_dir: str, timeout: float = 600) -> dict[int, tuple[str, int]]:
    """Run a page's examples; index of block -> (what it printed, its exit status)."""
    blocks, sql_db = parse(page.read_text())
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""), "PYTHONUNBUFFERED": "1",
           "COLUMNS": "80", "NO_COLOR": "1"}
    env.pop("IDR_DB", None)
    work = tmp / "cwd"
    work.mkdir(exist_ok=True)
    proc = subprocess.run(["bash", "-c", script(blocks, sql_db, str(tmp))], cwd=work, env=env, text=True,
                          capture_output=True, timeout=timeout)
    results: dict[int, tuple[str, int]] = {}
    current, buf = None, []
    for line in proc.stdout.split("\n"):
        if line.startswith(MARK):
            parts = line.split()
            if parts[1] == "start":
                current, buf = int(parts[2]), []
            else:
                results[current] = ("\n".join(buf).replace(str(tmp).rstrip("/") + "/", "/tmp/"), int(parts[3]))
                current = None
        elif current is not None:
            buf.append(line)
    return results


_BLUR = [
    (re.compile(r"\b([a-z_]+)_\d{8}_\d{6}_[0-9a-f]{6}\b"), r"\1_ID"),
    (re.compile(r"\b\d{8}T\d{6}Z-[0-9a-f]{6}\b"), "BACKUP_ID"),
    (re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}([.,]\d+)?)?([+-]\d{2}(:?\d{2})?|Z)?"), "TIME"),
    (re.compile(r"\b\d{8}_\d{6}\b"), "STAMP"),
    (re.compile(r"\bprocess \d+"), "process PID"),
    (re.compile(r"\b\d+(\.\d+)? ?(s|ms|seconds|MiB|KiB|GiB|B|bytes)\b"), "QTY"),
    (re.compile(r"(?<![\w.])\d+\.\d+(?![\w.])"), "N.N"),
    (re.compile(r"[─━═\-]{3,}"), "---"),
    (re.compile(r"[ \t]+"), " "),
]


def blur(text: str) -> str:
    for pattern, repl in _BLUR:
        text = pattern.sub(repl, text)
    return "\n".join(line.strip() for line in text.strip().split("\n"))


def update_page(page: Path, results: dict[int, tuple[str, int]]) -> None:
    """Rewrite each documented output with what its block printed now."""
    lines = page.read_text().split("\n")
    blocks, _ = parse("\n".join(lines))
    for n in sorted(results, reverse=True):  # bottom up, so earlier line numbers stay right
        out = blocks[n].output
        if out is None or blocks[n].marker:
            continue
        printed = results[n][0].rstrip("\n").split("\n")
        lines[out.span[0]:out.span[1]] = printed
    page.write_text("\n".join(lines))


def bin_dir() -> str:
    return str(Path(sys.executable).parent)
