"""Bare column names skip the parser (no sqlglot import in a small run); the result must be
what the parser gives, so a plan (and its fingerprint) does not change with the shortcut."""

from __future__ import annotations

import duckdb
import sqlglot

from idr.config import validate


def _parsed(text: str) -> str | None:
    trees = [t for t in sqlglot.parse(text, read="duckdb") if t is not None]
    if len(trees) != 1 or not isinstance(trees[0], sqlglot.exp.Column):
        return None
    return trees[0].sql(dialect="duckdb", comments=False)


def test_every_bare_word_the_parser_changes_is_listed():
    con = duckdb.connect()
    words = {r[0] for r in con.sql("SELECT keyword_name FROM duckdb_keywords()").fetchall()}
    words |= {r[0].lower() for r in con.sql("SELECT function_name FROM duckdb_functions()").fetchall()
              if r[0].isidentifier()}
    for word in sorted(words):
        try:
            same = _parsed(word) == word
        except sqlglot.errors.SqlglotError:
            same = False
        assert same or word in validate._PARSER_WORDS, word


def test_bare_column_shortcut_gives_the_parsers_text():
    columns = {"email", "customer_id", "user", "order", "date", "x1"}
    for text in ("email", "Customer_ID", "user", "date", "x1"):
        problems: list[str] = []
        got = validate.compile_expr(text, columns, "t", problems)
        assert got == _parsed(text) and not problems, text
    problems = []
    assert validate.compile_expr("nope", columns, "t", problems) is None and problems
