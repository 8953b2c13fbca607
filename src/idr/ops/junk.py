"""Identifier values known to be junk, and whether a configuration stops them linking records.

Values people type when a form insists (test@test.com, 0000000000) or that ship in demo
and test data would glue thousands of unrelated records into one cluster. `idr doctor`
normalises each value with the canonicaliser of every active rule of its kind and checks
that the run would drop it: as invalid (the canonicaliser rejects it), as a placeholder
(`placeholder_values`), or by an exclusion of that identifier type (exact exclusions are
normalised like the data; LIKE patterns match the normalised value), the same decisions
as pipeline/normalize.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..normalize.canonical import clean_sql, valid_sql
from ..normalize.phone import phone_slow


@dataclass(frozen=True)
class Junk:
    kind: str  # "email" or "phone": which rules it concerns
    value: str
    reason: str


JUNK: tuple[Junk, ...] = (
    Junk("email", "test@test.com", "generic test address"),
    Junk("email", "test@example.com", "reserved example domain (RFC 2606), common in test and demo data"),
    Junk("email", "null@null.com", "null placeholder"),
    Junk("email", "none@none.com", "'none' placeholder"),
    Junk("email", "noemail@noemail.com", "typed when a form insists on an email"),
    Junk("email", "na@na.com", "'n/a' placeholder"),
    Junk("email", "a@a.com", "keyboard filler"),
    Junk("email", "asdf@asdf.com", "keyboard mash"),
    Junk("phone", "0000000000", "all zeros"),
    Junk("phone", "1111111111", "one digit repeated"),
    Junk("phone", "1234567890", "sequential digits"),
    Junk("phone", "9999999999", "all nines"),
    Junk("phone", "5555555555", "fictional 555 number"),
    Junk("phone", "2025550123", "555-01xx numbers are reserved for fiction and fill demo data"),
)

EMAIL_CANONICALIZERS = ("EMAIL", "EMAIL_GMAIL")
PHONE_CANONICALIZERS = ("PHONE", "DIGITS")


def kind_of(identifier_type: str, canonicalize: str) -> str | None:
    canon, name = canonicalize.upper(), identifier_type.upper()
    if canon in EMAIL_CANONICALIZERS or (canon not in PHONE_CANONICALIZERS and "EMAIL" in name):
        return "email"
    if canon in PHONE_CANONICALIZERS or "PHONE" in name:
        return "phone"
    return None


def normalise(con, canonicalize: str, value: str, region: str) -> str | None:
    """The value as a run would keep it, or None when the canonicaliser rejects it."""
    canon = canonicalize.upper()
    if canon == "PHONE":
        return phone_slow([value], region)[0]
    valid = valid_sql(canon, "c") or "TRUE"
    [(cleaned, ok)] = con.execute(
        f"SELECT c, coalesce({valid}, FALSE) AND c <> '' FROM (SELECT {clean_sql(canon, 'v')} AS c "
        "FROM (SELECT CAST(? AS VARCHAR) AS v))", [value]).fetchall()
    return cleaned if ok else None


def unguarded(con, rules, exclusions, placeholders: set[str], region: str) -> list[tuple[str, Junk]]:
    """(identifier_type, junk) for every known junk value an active rule would let link.
    `rules`: active Rule models; `exclusions`: Exclusion models; `placeholders`: lower-cased."""
    found = []
    for rule in rules:
        kind = kind_of(rule.identifier_type, rule.canonicalize)
        own = [e for e in exclusions if e.identifier_type == rule.identifier_type]
        for junk in (j for j in JUNK if j.kind == kind):
            if junk.value.strip().lower() in placeholders:
                continue
            norm = normalise(con, rule.canonicalize, junk.value, region)
            if norm is None or any(_excludes(con, rule.canonicalize, e, norm, region) for e in own):
                continue
            found.append((rule.identifier_type, junk))
    return found


def _excludes(con, canonicalize: str, exclusion, norm: str, region: str) -> bool:
    if exclusion.is_pattern:
        [(hit,)] = con.execute("SELECT coalesce(? LIKE ?, FALSE)", [norm, exclusion.identifier_value_pattern]).fetchall()
        return bool(hit)
    return normalise(con, canonicalize, exclusion.identifier_value_pattern, region) == norm
