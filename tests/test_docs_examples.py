"""Every runnable example in the docs runs as printed and prints what the page shows
(tests/docs_examples.py says how). IDR_UPDATE_DOCS=1 rewrites the outputs instead."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from docs_examples import bin_dir, blur, needs, parse, run_page, update_page
from idr_testing import need

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted(p.relative_to(ROOT).as_posix() for p in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
               if any(b.marker != "skip" for b in parse(p.read_text())[0]))


@pytest.mark.parametrize("page", PAGES)
def test_page_examples(page, tmp_path):
    path = ROOT / page
    for service in needs(path.read_text()):
        host, port = service.split()[0].rsplit(":", 1)
        try:
            socket.create_connection((host, int(port)), timeout=2).close()
        except OSError:
            need(f"{page} needs {service}, which does not answer")
    blocks, _ = parse(path.read_text())
    results = run_page(path, tmp_path, bin_dir())
    if os.environ.get("IDR_UPDATE_DOCS"):  # rewrite only what drifted, so the diff shows just that
        update_page(path, {n: r for n, r in results.items()
                           if blocks[n].output is None or blur(r[0]) != blur(blocks[n].output.body)})
        return
    problems = []
    for n, block in enumerate(blocks):
        if block.marker == "skip":
            continue
        where = f"{page}:{block.line}"
        if n not in results:
            problems.append(f"{where}: did not finish (an earlier block ended the shell?)")
            continue
        printed, status = results[n]
        if block.output is None or block.marker == "exit-only":
            if status != 0 or "Traceback" in printed:
                problems.append(f"{where}: exit {status}\n{printed[-2000:]}")
        elif blur(printed) != blur(block.output.body):
            problems.append(f"{where}: prints\n{printed[-3000:]}\n--- the page shows\n{block.output.body[-3000:]}")
    assert not problems, "\n\n".join(problems)


def test_parser_pairs_outputs_and_markers():
    text = ("<!-- docs-test: sql-db /tmp/x.duckdb -->\n```bash\necho hi\n```\n\n```text\nhi\n```\n"
            "<!-- docs-test: skip needs a server -->\n```bash\ncurl x\n```\n```sql\nSELECT 1;\n```\n")
    blocks, db = parse(text)
    assert db == "/tmp/x.duckdb"
    assert [(b.lang, b.marker, b.output.body if b.output else None) for b in blocks] == [
        ("bash", None, "hi"), ("bash", "skip", None), ("sql", None, None)]


def test_blur_keeps_counts_and_hides_ids():
    a = "run_20261204_185151_a32b30  FULL  SUCCESS  2026-12-04 18:51:51  2.18     6,144  (process 12990) 3.1 s"
    b = "run_20261205_010101_ffffff FULL SUCCESS 2026-12-05 01:01:01 0.93 6,144 (process 7) 12 s"
    assert blur(a) == blur(b)
    assert blur(a) != blur(b.replace("6,144", "6,145"))
