"""Canonicalisers as SQL expressions over a VARCHAR value.

Each returns the normalised value, or NULL when the value cannot be an identifier of that
kind (an email without a domain, a phone that is not a valid number). They run on the
distinct raw values of a run, inside DuckDB, so they stay vectorised. PHONE is special: its
exact answer comes from the phonenumbers library (see normalize/phone.py).
"""

from __future__ import annotations

# Characters trimmed from every value: ASCII whitespace and the no-break space that
# spreadsheets love to leave behind.
_WS = "' \t\n\r\x0b\x0c\u00a0'"


def _trim(v: str) -> str:
    return f"trim({v}, {_WS})"


def _email(v: str) -> str:
    e = f"lower(nfc_normalize({_trim(v)}))"
    # One '@', a non-empty local part and a dotted domain, no whitespace.
    return f"CASE WHEN regexp_full_match({e}, '[^@\\s]+@[^@\\s.]+(\\.[^@\\s.]+)+') THEN {e} END"


def _email_gmail(v: str) -> str:
    """EMAIL, then Gmail's own equivalences: dots and +tags in the local part do not matter,
    googlemail.com is gmail.com. Opt-in: other providers treat dots as significant."""
    e = _email(v)
    local, domain = f"split_part({e}, '@', 1)", f"split_part({e}, '@', 2)"
    folded = f"replace(split_part({local}, '+', 1), '.', '') || '@gmail.com'"
    return f"CASE WHEN {domain} IN ('gmail.com', 'googlemail.com') THEN nullif({folded}, '@gmail.com') ELSE {e} END"


def _nonempty(expr: str) -> str:
    return f"nullif({expr}, '')"


CANONICAL_SQL = {
    "NONE": lambda v: _nonempty(v),
    "TRIM": lambda v: _nonempty(_trim(v)),
    "LOWERCASE": lambda v: _nonempty(f"lower({_trim(v)})"),
    "UPPERCASE": lambda v: _nonempty(f"upper({_trim(v)})"),
    "EMAIL": _email,
    "EMAIL_GMAIL": _email_gmail,
    "DIGITS": lambda v: _nonempty(f"regexp_replace({v}, '[^0-9]', '', 'g')"),
}

# Values that are already hashes (is_hashed mappings) must not be re-shaped by a
# canonicaliser: hex digests only lose case and surrounding whitespace.
HASHED_SQL = lambda v: _nonempty(f"lower({_trim(v)})")  # noqa: E731


def canonical_sql(canonicalize: str, value_sql: str, *, hashed: bool = False) -> str:
    """SQL expression normalising value_sql. PHONE is handled by normalize/phone.py."""
    if hashed:
        return HASHED_SQL(value_sql)
    return CANONICAL_SQL[canonicalize.upper()](value_sql)


def placeholder_key_sql(value_sql: str) -> str:
    """The form compared with the placeholder list: trimmed and lower-cased."""
    return f"lower({_trim(value_sql)})"
