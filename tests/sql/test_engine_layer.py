"""The engine layer's boundaries: engine-specific SQL lives in backends/ and sql/dialects.py
only, and the packages import one way (CLI/API -> runs -> pipeline -> graph/sql -> backends)."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import idr

SRC = Path(idr.__file__).parent

# DuckDB spellings that another engine reads differently or not at all (issue 13's list).
ENGINE_TOKENS = {
    "ANTI JOIN": re.compile(r"(?<!LEFT )\bANTI JOIN\b", re.I),
    "SEMI JOIN": re.compile(r"(?<!LEFT )\bSEMI JOIN\b", re.I),
    "QUALIFY": re.compile(r"\bQUALIFY\b", re.I),
    ":: cast": re.compile(r"::\s*[A-Za-z]"),
    "list(": re.compile(r"\blist\(", re.I),
    "hash(": re.compile(r"(?<![_\w])hash\(", re.I),
    "rowid": re.compile(r"\browid\b", re.I),
    "CREATE TEMP": re.compile(r"\bCREATE\s+(OR\s+REPLACE\s+)?TEMP", re.I),
    "arg_min(": re.compile(r"\barg_min\(", re.I),
    "regexp_full_match": re.compile(r"\bregexp_full_match\b", re.I),
    "nfc_normalize": re.compile(r"\bnfc_normalize\b", re.I),
    "BY NAME": re.compile(r"\bBY NAME\b", re.I),
    "GROUP BY ALL": re.compile(r"\bGROUP BY ALL\b", re.I),
    "UBIGINT": re.compile(r"\bUBIGINT\b", re.I),
    "x[-1]": re.compile(r"\w\[-1\]"),
    "DESCRIBE": re.compile(r"\bDESCRIBE\b"),
    "EXCLUDE (": re.compile(r"\*\s*EXCLUDE\s*\(", re.I),
}

# Modules whose SQL must be portable: the pipeline's stages and builders, the run's
# publish/rollback/state steps, the graph, the schema's views, the SQL canonicalisers and
# the dry run's diff and retention.
CHECKED = ["pipeline", "sql", "graph", "runs", "schema.py", "normalize/canonical.py", "dryrun/diff.py",
           "dryrun/retention.py"]
ENGINE_MODULES = {"sql/dialects.py"}  # the one place engine spellings live (with backends/)


def _strings(path: Path) -> list[tuple[int, str]]:
    """String constants of a module (f-string parts included), docstrings and comments left out."""
    tree = ast.parse(path.read_text())
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings]


def _checked_files() -> list[Path]:
    files = []
    for entry in CHECKED:
        p = SRC / entry
        files += sorted(p.rglob("*.py")) if p.is_dir() else [p]
    return [f for f in files if str(f.relative_to(SRC)) not in ENGINE_MODULES]


def engine_tokens(path: Path) -> list[str]:
    found = []
    for line, text in _strings(path):
        for name, pattern in ENGINE_TOKENS.items():
            if pattern.search(text):
                found.append(f"{path.relative_to(SRC)}:{line}: {name} in {text.strip()[:70]!r}")
    return found


@pytest.mark.parametrize("path", _checked_files(), ids=lambda p: str(p.relative_to(SRC)))
def test_no_engine_specific_sql_outside_backends_and_dialects(path):
    assert engine_tokens(path) == []


def test_the_token_check_finds_engine_sql(tmp_path):
    """The check above is only worth something if it fires: a stage written the old way."""
    stage = tmp_path / "stage.py"
    stage.write_text('SQL = "CREATE OR REPLACE TEMP TABLE x AS SELECT arg_min(eid, h)::BIGINT FROM t ANTI JOIN u USING (k)"\n'
                     'def f(d):\n    """Docstrings may say ANTI JOIN."""\n    return f"SELECT {d} FROM t QUALIFY x"\n')
    found = sorted({name for _, text in _strings(stage) for name, pattern in ENGINE_TOKENS.items()
                    if pattern.search(text)})
    assert found == sorted(["ANTI JOIN", "CREATE TEMP", "arg_min(", ":: cast", "QUALIFY"])


# -- package layering ------------------------------------------------------------------------

# Each package may import only packages on its own level or below.
LAYER = {"cli": 6, "api": 6, "demo": 6, "__main__": 6, "ops": 5, "runs": 5, "dryrun": 4, "metrics": 4, "publish": 4,
         "pipeline": 3, "graph": 2, "normalize": 2, "schema": 2, "config": 2, "sql": 1, "backends": 1, "errors": 0,
         "hints": 0}


def _idr_imports(path: Path, package: str) -> set[str]:
    """Top-level idr packages a module imports (relative or absolute, at any depth)."""
    tree = ast.parse(path.read_text())
    found = set()
    depth = len(path.relative_to(SRC).parts) - 1
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = list(path.relative_to(SRC).parts[:-1])[: max(depth - node.level + 1, 0)]
                target = parts + (node.module.split(".") if node.module else [a.name for a in node.names][:1])
                if target:
                    found.add(target[0])
            elif node.module and node.module.startswith("idr."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("idr.")}
    return {f.removesuffix(".py") for f in found}


def test_packages_import_downwards_only():
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        package = rel.parts[0].removesuffix(".py")
        if package not in LAYER:
            continue
        for target in _idr_imports(path, package) - {package}:
            if target in LAYER and LAYER[target] > LAYER[package]:
                wrong.append(f"{rel} imports {target}")
    assert wrong == []


def test_every_module_imports():
    for info in pkgutil.walk_packages(idr.__path__, "idr."):
        if not info.name.endswith("__main__"):  # that one runs the CLI
            importlib.import_module(info.name)
