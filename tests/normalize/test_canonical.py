"""Each SQL canonicaliser on the values that matter, through a real DuckDB."""

from __future__ import annotations

import duckdb
import pytest

from idr.normalize.canonical import clean_sql, valid_sql

CASES = [
    ("NONE", "  Ab ", "  Ab "),
    ("TRIM", "\t Ab\u00a0\n", "Ab"),
    ("TRIM", "a b", "a b"),
    ("LOWERCASE", " ÄbC\x0b", "äbc"),
    ("UPPERCASE", "\x0clc0000123 ", "LC0000123"),
    ("DIGITS", "(415) 555-2671", "4155552671"),
    ("DIGITS", "n/a", None),
    ("EMAIL", "  John.Smith@Example.COM\t", "john.smith@example.com"),
    ("EMAIL", "E\u0301@x.com", "\u00e9@x.com"),  # NFC: e + combining acute == é
    ("EMAIL", "no-at-sign.com", None),
    ("EMAIL", "a@b", None),
    ("EMAIL", "a b@x.com", None),
    ("EMAIL", "a@@x.com", None),
    ("EMAIL_GMAIL", " John.Smith+news@GoogleMail.com", "johnsmith@gmail.com"),
    ("EMAIL_GMAIL", "john.smith+news@example.com", "john.smith+news@example.com"),
    ("EMAIL_GMAIL", "+only@gmail.com", None),
]


@pytest.mark.parametrize("canon, raw, expected", CASES)
def test_canonicaliser(canon, raw, expected):
    check = valid_sql(canon, "clean") or "TRUE"
    sql = (f"SELECT nullif(CASE WHEN {check} THEN clean END, '') FROM "
           f"(SELECT {clean_sql(canon, 'v')} AS clean FROM (SELECT ?::VARCHAR AS v))")
    assert duckdb.connect().execute(sql, [raw]).fetchall() == [(expected,)]


def test_hashed_values_only_lose_case_and_whitespace():
    sql = f"SELECT {clean_sql('PHONE', 'v', hashed=True)} FROM (SELECT ?::VARCHAR AS v)"
    assert duckdb.connect().execute(sql, [" A1B2C3\n"]).fetchall() == [("a1b2c3",)]
    assert valid_sql("EMAIL", "x", hashed=True) is None
