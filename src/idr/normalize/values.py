"""One value at a time, normalised exactly as a run normalises a column (for lookups).

A run cleans identifier values in SQL (canonical.py) and phones with phonenumbers
(phone.py); a lookup service gets one value per request and cannot afford a database
query for each. So:

* values of ASCII and precomposed Latin letters (below U+0370, no combining marks,
  already in NFC) are cleaned here in Python: for them the SQL canonicalisers reduce to
  plain string operations (NFC changes nothing, whitespace is spelled out in the validity
  pattern), and case is mapped per code point with DuckDB's own table (sql/casemap.py:
  Python's str.lower differs, e.g. 'İ'). Tests compare both with the pipeline on random
  text.
* any other value goes through the SQL canonicaliser itself, on a small in-memory DuckDB
  connection (about a millisecond).
* PHONE is phonenumbers' answer (phone_slow), which is the run's contract for phones.

Then the run's checks: validity (EMAIL), placeholders, exact and LIKE exclusions. The
configuration is the one the served run used (run_history.config_snapshot), so lookups
follow the rules of the results they read, not rules edited since.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from dataclasses import dataclass, field

from ..config.models import Config
from .canonical import VALID_SQL, clean_sql, placeholder_key_sql, valid_sql
from ..sql.casemap import lower as _lower, upper as _upper
from .phone import phone_slow

# What the trim regex removes at either end (it only runs when an end might be one of
# these, and strips only these, so a plain strip gives the same answer).
_SPACE = "\t\n\x0b\x0c\r \xa0"


def _trim(v: str) -> str:
    return v.strip(_SPACE)


def _python_can(v: str) -> bool:
    """Whether Python's cleaning is DuckDB's for this value (see the module's doc)."""
    return v.isascii() or (all(ord(c) < 0x370 and not unicodedata.combining(c) for c in v)
                           and unicodedata.is_normalized("NFC", v))


def _email(v: str) -> str:
    return _lower(_trim(v))


def _email_gmail(v: str) -> str:
    e = _email(v)
    parts = e.split("@")
    local, domain = parts[0], parts[1] if len(parts) > 1 else ""
    if domain in ("gmail.com", "googlemail.com"):
        return local.split("+")[0].replace(".", "") + "@gmail.com"
    return e


PYTHON_CLEAN = {
    "NONE": lambda v: v,
    "TRIM": _trim,
    "LOWERCASE": lambda v: _lower(_trim(v)),
    "UPPERCASE": lambda v: _upper(_trim(v)),
    "EMAIL": _email,
    "EMAIL_GMAIL": _email_gmail,
    "DIGITS": lambda v: re.sub(r"[^0-9]", "", v),
}
PYTHON_VALID = {canon: re.compile(pattern) for canon, pattern in VALID_SQL.items()}


class _Engine:
    """The SQL canonicalisers on one value (non-ASCII values): one DuckDB connection,
    used under a lock (calls are rare and short)."""

    def __init__(self):
        import duckdb

        self._con = duckdb.connect(":memory:")
        self._lock = threading.Lock()

    def clean(self, canon: str, hashed: bool, value: str) -> tuple[str | None, bool, str]:
        """(cleaned value, passes the validity check, placeholder key), as normalised_sql."""
        valid = valid_sql(canon, "c", hashed=hashed)
        key = placeholder_key_sql("c") if canon == "NONE" and not hashed else "lower(c)"
        sql = f"SELECT c, {valid or 'TRUE'}, {key} FROM (SELECT {clean_sql(canon, '$v', hashed=hashed)} AS c)"
        with self._lock:
            [(cleaned, ok, ph_key)] = self._con.execute(sql, {"v": value}).fetchall()
        return cleaned, bool(ok), ph_key

    def placeholder_key(self, value: str) -> str:
        with self._lock:
            return self._con.execute(f"SELECT {placeholder_key_sql('$v')}", {"v": value}).fetchall()[0][0]


_ENGINE: _Engine | None = None
_ENGINE_LOCK = threading.Lock()


def _engine() -> _Engine:
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            _ENGINE = _Engine()
        return _ENGINE


def like_regex(pattern: str) -> re.Pattern:
    """SQL LIKE (no escape character, as the run's exclusions use it) as a regex."""
    parts = [".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern]
    return re.compile("".join(parts), re.DOTALL)


@dataclass(frozen=True)
class TypeRule:
    canonicalize: str
    hashed: bool  # every mapping of the type holds hashed values (cleaned as hashes are)


@dataclass
class ValueNormaliser:
    rules: dict[str, TypeRule]
    placeholders: frozenset[str]
    region: str
    exact: dict[str, set[str]] = field(default_factory=dict)  # type -> normalised excluded values
    patterns: dict[str, list[re.Pattern]] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Config) -> ValueNormaliser:
        active = {r.identifier_type: r for r in config.rules if r.is_active}
        mappings: dict[str, list[bool]] = {}
        for s in config.sources:
            if s.is_active:
                for m in s.identifiers:
                    mappings.setdefault(m.identifier_type, []).append(bool(m.is_hashed))
        rules = {t: TypeRule(r.canonicalize.upper(), bool(mappings.get(t)) and all(mappings[t]))
                 for t, r in active.items()}
        placeholders = frozenset({v.strip().lower() for v in json.loads(config.setting("placeholder_values"))} | {""})
        region = config.setting("phone_default_region").strip().upper()
        out = cls(rules, placeholders, region)
        for e in config.exclusions:
            if e.identifier_type not in rules:
                continue
            if e.is_pattern:
                out.patterns.setdefault(e.identifier_type, []).append(like_regex(e.identifier_value_pattern))
            else:
                norm = out._clean(e.identifier_type, e.identifier_value_pattern)[0]
                if norm is not None:
                    out.exact.setdefault(e.identifier_type, set()).add(norm)
        return out

    @classmethod
    def from_snapshot_json(cls, text: str) -> ValueNormaliser:
        return cls.from_config(Config.model_validate(json.loads(text)))

    def _clean(self, identifier_type: str, raw: str) -> tuple[str | None, str]:
        """(value_norm or None, placeholder key), as normalised_sql computes them."""
        rule = self.rules[identifier_type]
        if rule.canonicalize == "PHONE" and not rule.hashed:
            key = _lower(_trim(raw)) if _python_can(raw) else _engine().placeholder_key(raw)
            return phone_slow([raw], self.region)[0], key
        canon = "NONE" if rule.hashed else rule.canonicalize
        if _python_can(raw):
            cleaned = _lower(_trim(raw)) if rule.hashed else PYTHON_CLEAN[canon](raw)
            check = None if rule.hashed else PYTHON_VALID.get(canon)
            ok = check is None or check.fullmatch(cleaned) is not None
            key = _lower(_trim(cleaned) if canon == "NONE" and not rule.hashed else cleaned)
        else:
            cleaned, ok, key = _engine().clean(rule.canonicalize, rule.hashed, raw)
        norm = cleaned if ok and cleaned != "" else None
        return norm, key

    def normalise(self, identifier_type: str, raw: str) -> tuple[str | None, str]:
        """(value_norm, status): status ok, placeholder, invalid or excluded, in the run's
        order of precedence; value_norm is None unless the value could link."""
        norm, key = self._clean(identifier_type, raw)
        if key in self.placeholders:
            return None, "placeholder"
        if norm is None:
            return None, "invalid"
        if norm in self.exact.get(identifier_type, ()) or any(
                p.fullmatch(norm) for p in self.patterns.get(identifier_type, ())):
            return None, "excluded"
        return norm, "ok"
