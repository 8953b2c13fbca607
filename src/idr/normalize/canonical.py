"""Canonicalisers as SQL over a VARCHAR column, in two parts: clean, then check.

`clean_sql(canon, col)` transforms a raw value; `valid_sql(canon, col)` is a predicate on the
cleaned value (None when every cleaned value is acceptable). They are separate so a query
can compute the cleaned value once in an inner SELECT and test it in an outer one: DuckDB
does not share repeated sub-expressions, and cleaning is the expensive half. Callers pass a
column name, never an expression, for the same reason.

PHONE is not here: its exact answer comes from the phonenumbers library (see phone.py).
"""

from __future__ import annotations

from ..sql.dialects import DUCKDB, Dialect
from ..sql.quoting import literal

# Whitespace trimmed from every value: what RE2's \s knows, plus vertical tab and the
# no-break space that spreadsheets leave behind. DuckDB's trim(x, chars) is several times
# slower than looking at the first and last character, so values are only rewritten when
# an edge might be whitespace: a code point up to 32 or 160 (the regex then decides). Code
# point comparisons, not `x[1] IN (' ', chr(9), ...)`: DuckDB plans an IN list inside a
# CASE as a join against the list, a quarter of a second per 10M values per test.
_EDGE_WS_RUN = r"^[\s\x0b\xa0]+|[\s\x0b\xa0]+$"


_EMPTY = "''"


def _maybe_space(code: str) -> str:
    return f"({code} <= 32 OR {code} = 160)"


def trim_sql(col: str, d: Dialect = DUCKDB) -> str:
    return (f"CASE WHEN {_maybe_space(f'ascii({col})')} OR {_maybe_space(f'ascii({d.last_char(col)})')} "
            f"THEN {d.regexp_replace_all(col, literal(_EDGE_WS_RUN), _EMPTY)} ELSE {col} END")


def _email(col: str, d: Dialect) -> str:
    return d.lower(d.nfc(trim_sql(col, d)))


def _email_gmail(col: str, d: Dialect) -> str:
    """EMAIL, then Gmail's own equivalences: dots and +tags in the local part do not matter
    and googlemail.com is gmail.com. Opt-in: other providers treat dots as significant."""
    e = _email(col, d)
    local, domain = f"split_part({e}, '@', 1)", f"split_part({e}, '@', 2)"
    return (f"CASE WHEN {domain} IN ('gmail.com', 'googlemail.com') "
            f"THEN replace(split_part({local}, '+', 1), '.', '') || '@gmail.com' ELSE {e} END")


CLEAN_SQL = {
    "NONE": lambda c, d: c,
    "TRIM": trim_sql,
    "LOWERCASE": lambda c, d: d.lower(trim_sql(c, d)),
    "UPPERCASE": lambda c, d: d.upper(trim_sql(c, d)),
    "EMAIL": _email,
    "EMAIL_GMAIL": _email_gmail,
    "DIGITS": lambda c, d: d.regexp_replace_all(c, "'[^0-9]'", "''"),
}

# One '@', a non-empty local part, a dotted domain, no whitespace. Whitespace spelled out:
# RE2's \s (DuckDB) has no vertical tab, Java's (Spark) has.
_EMAIL_OK = r"[^@\t\n\f\r ]+@[^@\t\n\f\r .]+(\.[^@\t\n\f\r .]+)+"
VALID_SQL = {"EMAIL": _EMAIL_OK, "EMAIL_GMAIL": _EMAIL_OK}


def clean_sql(canonicalize: str, col: str, *, hashed: bool = False, d: Dialect = DUCKDB) -> str:
    """Cleaned value of column `col`. Hashed values (is_hashed mappings) must not be re-shaped
    by a canonicaliser: hex digests only lose case and surrounding whitespace."""
    if hashed:
        return d.lower(trim_sql(col, d))
    return CLEAN_SQL[canonicalize.upper()](col, d)


def valid_sql(canonicalize: str, col: str, *, hashed: bool = False, d: Dialect = DUCKDB) -> str | None:
    """Predicate on the cleaned column `col`, or None. Empty strings are always invalid."""
    if hashed or canonicalize.upper() not in VALID_SQL:
        return None
    return d.regexp_full_match(col, literal(VALID_SQL[canonicalize.upper()]))


def placeholder_key_sql(col: str, d: Dialect = DUCKDB) -> str:
    """The form compared with the placeholder list: trimmed and lower-cased."""
    return d.lower(trim_sql(col, d))
