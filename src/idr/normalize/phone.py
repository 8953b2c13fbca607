"""Phone numbers to E.164, exactly as `phonenumbers` decides, at SQL speed.

Contract: ``norm(raw) = format_number(parse(raw, region), E164)`` when the parse succeeds and
``is_valid_number`` holds, else NULL. ``phonenumbers`` manages ~28k values/s per core, far too
slow for millions of distinct values, so there are two paths:

* fast path: DuckDB SQL that replays ``phonenumberutil.parse`` + ``is_valid_number`` for values
  made of ASCII digits and the separators `` ().-``, with an optional leading '+'. It is built
  at run time from phonenumbers' own metadata (the same regexes; RE2 accepts them), so it
  follows library upgrades. Whatever it cannot replay exactly (IDD prefixes, other country
  codes, national prefixes with a transform rule, letters, extensions, unicode digits, ...)
  it leaves undecided.
* slow path: phonenumbers itself, on the undecided distinct values only.

The fast path is a list of named SQL steps, run as nested SELECTs (one column per step, so
each value is computed once):

* the *direct route* (``_Plan.direct_steps``) guesses the national number of the usual shapes
  (``650-253-0000``, ``+1 650 253 0000``, ``1-650-253-0000``, ``020 7946 0958``), checks that
  parse would take that route to that number, and checks validity: a few calls per value;
* the *general route* (``_Plan.general_steps``) replays parse step by step for the rest.

A regex call costs ~0.15-0.2 s per million values on the reference machine, so the code counts
them: CASE (and AND inside WHEN) evaluate lazily in DuckDB; AND/OR in a projection do not.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneMetadata, ValidationResult
from phonenumbers.phonenumberutil import (
    _MAX_LENGTH_FOR_NSN,
    _MIN_LENGTH_FOR_NSN,
    _test_number_length,
)

from idr.errors import ConfigError
from idr.sql.quoting import literal as _lit
from idr.sql.quoting import qualified

CONFIG_KEY = "phone_default_region"

# Longest raw value the fast path claims. phonenumbers refuses input over 250 characters; real
# numbers with separators fit well within 40. Longer values go to the slow path.
_MAX_RAW_LENGTH = 40
# The digit count the fast path claims ('+' excluded). Below 3 digits parse's viability check
# depends on the separators; more than 17 can never give a valid national number.
_MIN_DIGITS, _MAX_DIGITS = 3, _MAX_LENGTH_FOR_NSN
# Step columns; the prefix keeps them apart from the caller's columns.
_V = "__ph_v"  # the raw value
_HS, _HP, _HN, _H = "__ph_hs", "__ph_hp", "__ph_hn", "__ph_h"  # direct route
_S, _D, _K, _N1, _N2, _R = "__ph_s", "__ph_d", "__ph_k", "__ph_n1", "__ph_n2", "__ph_r"
_RESULT = "__ph_result"


@dataclass(frozen=True)
class PhoneStats:
    total: int  # input rows
    fast: int  # decided in SQL
    slow: int  # sent to phonenumbers
    invalid: int  # norm is NULL (unparsable, not valid, or NULL raw)


def _ident(name: str) -> str:
    """A table name, possibly schema-qualified ("idr_work.phones")."""
    return qualified(*name.split("."))


def check_region(region: str) -> str:
    if not isinstance(region, str) or region not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(
            f"{CONFIG_KEY}: {region!r} is not a region phonenumbers supports "
            "(use an upper-case ISO 3166 code such as 'US', 'GB', 'DE')"
        )
    return region


# --- SQL snippets ---------------------------------------------------------------------------


def _full(x: str, pattern: str) -> str:
    return f"regexp_full_match({x}, {_lit(pattern)})"


def _prefix(x: str, pattern: str | None) -> str:
    """Python's re.match(pattern, x): anchored at the start only."""
    if not pattern:
        return "FALSE"
    if re.fullmatch(r"\d+", pattern):
        return f"starts_with({x}, {_lit(pattern)})"
    return f"regexp_matches({x}, {_lit('^(?:' + pattern + ')')})"


def _length_in(x: str, lengths) -> str:
    """length(x) in `lengths`, as ranges: DuckDB rewrites a long IN list into a join, which
    evaluates x for every row, even inside a CASE branch that would skip it."""
    runs: list[list[int]] = []
    for n in sorted(set(lengths)):
        if runs and runs[-1][1] == n - 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    if not runs:
        return "FALSE"
    parts = [f"length({x}) = {a}" if a == b else f"length({x}) BETWEEN {a} AND {b}"
             for a, b in runs]
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


def _lengths_where(md, results) -> list[int]:
    """Lengths (up to the longest value claimed) whose _test_number_length result is in
    `results`. It depends on the length only; asking phonenumbers keeps its edge cases."""
    return [n for n in range(_MAX_RAW_LENGTH + 1)
            if _test_number_length("0" * n, md) in results]


def _digits_only(pattern: str) -> bool:
    """Whether every match of the regex is made of digits (no '.', classes only of digits)."""
    allowed = r"(?:\\d|[0-9()|?:*+{},\[\]$-])*"
    return "^" not in pattern and re.fullmatch(allowed, pattern) is not None


def _separators_removed(x: str) -> str:
    # replace() is several times faster than regexp_replace or translate here.
    for ch in " -.()":
        x = f"replace({x}, {_lit(ch)}, '')"
    return x


class _Rules:
    """SQL replaying phonenumberutil's checks against one region's PhoneMetadata."""

    def __init__(self, md):
        self.md = md
        self.np = md.national_prefix_for_parsing or ""
        # With a transform rule the prefix is rewritten, not cut (AR, BR, ...): slow path.
        self.np_transforms = bool(self.np and md.national_prefix_transform_rule)
        self.gen = md.general_desc.national_number_pattern if md.general_desc else None
        # parse keeps a stripped national prefix unless the rest is too short, local-only or
        # of an invalid length.
        self.keep_lengths = _lengths_where(
            md, {ValidationResult.IS_POSSIBLE, ValidationResult.TOO_LONG})
        self.too_long_lengths = _lengths_where(md, {ValidationResult.TOO_LONG})

    def general(self, x: str) -> str:
        """_match_national_number(x, general_desc): the regex only, no lengths."""
        return _full(x, self.gen) if self.gen else "FALSE"

    def np_match(self, x: str) -> str:
        return _prefix(x, self.np)

    def np_text(self, x: str) -> str:
        """What the national prefix pattern matches at the start of x ('' for no match)."""
        if not self.np:
            return "''"
        if re.fullmatch(r"\d+", self.np):
            return f"CASE WHEN starts_with({x}, {_lit(self.np)}) THEN {_lit(self.np)} ELSE '' END"
        return f"regexp_extract({x}, {_lit('^(?:' + self.np + ')')})"

    def strip_undecided(self, x: str) -> str:
        return self.np_match(x) if self.np_transforms else "FALSE"

    def strip(self, x: str) -> str:
        """_maybe_strip_national_prefix_carrier_code(x)[1] where strip_undecided(x) is false."""
        if not self.np:
            return x
        rest = f"substr({x}, length({self.np_text(x)}) + 1)"
        # The prefix stays when the number fit the general pattern and the rest would not.
        return (f"CASE WHEN {self.np_match(x)} THEN "
                f"CASE WHEN {self.general(x)} AND NOT {self.general(rest)} THEN {x} "
                f"ELSE {rest} END ELSE {x} END")

    def strip_if_possible(self, x: str) -> str:
        """parse's national prefix step: the stripped number only if its length is usable."""
        stripped = self.strip(x)
        if stripped == x:
            return x
        return (f"CASE WHEN {_length_in(stripped, self.keep_lengths)} "
                f"THEN {stripped} ELSE {x} END")

    def too_long(self, x: str) -> str:
        return _length_in(x, self.too_long_lengths)

    def known_type(self, x: str) -> str:
        """_number_type_helper(x) != UNKNOWN: x fits the general description and some type.

        Which type does not matter, so types with the same possible lengths are tested as one
        alternation.
        """
        md = self.md
        gen = md.general_desc
        if gen is None or not gen.national_number_pattern:
            return "FALSE"
        descs = [md.fixed_line]
        if not md.same_mobile_and_fixed_line_pattern:
            # Otherwise a number matching `mobile` but not `fixed_line` is UNKNOWN.
            descs.append(md.mobile)
        descs += [md.toll_free, md.premium_rate, md.shared_cost, md.voip,
                  md.personal_number, md.pager, md.uan, md.voicemail]
        by_lengths: dict[tuple[int, ...], list[str]] = {}
        for desc in descs:
            if desc is not None and desc.national_number_pattern:
                key = tuple(sorted(set(desc.possible_length)))
                by_lengths.setdefault(key, []).append(desc.national_number_pattern)
        if not by_lengths:
            return "FALSE"

        def fits(lengths, patterns) -> str:
            regex = _full(x, "|".join(f"(?:{p})" for p in patterns))
            # No possible lengths means no limit (_is_number_matching_desc).
            return f"{_length_in(x, lengths)} AND {regex}" if lengths else regex

        whens = " ".join(f"WHEN {fits(k, v)} THEN TRUE" for k, v in by_lengths.items())
        return (f"CASE WHEN NOT ({fits(gen.possible_length, [gen.national_number_pattern])}) "
                f"THEN FALSE {whens} ELSE FALSE END")


def _region_rules(region: str) -> _Rules | None:
    md = PhoneMetadata.metadata_for_region(region)
    return _Rules(md) if md is not None else None


def _valid(x: str, cc: int) -> str:
    """is_valid_number for national number x under country code cc.

    The regions sharing cc are asked in order; the first that claims x (by its leading digits,
    or else by knowing its type) decides. Runs of regions claiming by leading digits are
    skipped with one regex when none of them matches (25 regions share +1).
    """
    rules = [r for r in map(_region_rules, phonenumbers.COUNTRY_CODE_TO_REGION_CODE[cc]) if r]
    if len(rules) == 1:
        return rules[0].known_type(x)
    whens, run = [], []

    def close_run():
        if run:
            inner = " ".join(f"WHEN {_prefix(x, r.md.leading_digits)} THEN {r.known_type(x)}"
                             for r in run)
            any_ld = "|".join(f"(?:{r.md.leading_digits})" for r in run)
            whens.append(f"WHEN {_prefix(x, any_ld)} THEN CASE {inner} ELSE FALSE END")
            run.clear()

    for r in rules:
        if r.md.leading_digits:
            run.append(r)
        else:
            close_run()
            whens.append(f"WHEN {r.known_type(x)} THEN TRUE")
    close_run()
    return f"CASE {' '.join(whens)} ELSE FALSE END"


# --- the fast path for one default region ---------------------------------------------------


class _Plan:
    def __init__(self, region: str):
        md = PhoneMetadata.metadata_for_region(region)
        self.cc = str(md.country_code)
        self.own = _Rules(md)
        self.idd = md.international_prefix
        # Once a country code is found, parse switches to the metadata of the code's main
        # region (CA -> US, JE -> GB).
        main = phonenumbers.region_code_for_country_code(md.country_code)
        self.cc_rules = self.own if main == region else _Rules(
            PhoneMetadata.metadata_for_region_or_calling_code(md.country_code, main))
        # _extract_country_code takes the shortest known code; the '+' routes assume that is
        # ours. Country codes are prefix-free, so this only guards against odd metadata.
        self.plus_ok = not any(int(self.cc[:i]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE
                               for i in range(1, len(self.cc)))
        self.valid = functools.partial(_valid, cc=md.country_code)

    def direct_steps(self) -> list[tuple[str, str]]:
        """Output _H: the E.164 string, or NULL for rows the general route must see.

        _HN is the national number parse ends with on the usual routes, or NULL for a value
        that takes another one: each branch checks what parse checks on its way.
        """
        cc, lc, own, ccr = self.cc, len(self.cc), self.own, self.cc_rules
        plus = f"{str(self.plus_ok).upper()} AND starts_with({_HS}, {_lit('+' + cc)})"
        after_plus, after_cc = f"substr({_HS}, {lc + 2})", f"substr({_HS}, {lc + 1})"
        after_np = f"substr({_HS}, length({_HP}) + 1)"
        # Written nationally: parse cuts a national prefix (_HP) when the rest fits the
        # general pattern and has a usable length. An empty match changes nothing.
        if own.np_transforms:
            national = f"CASE WHEN NOT {own.np_match(_HS)} THEN {_HS} END"
        else:
            digits = "" if _digits_only(own.np) else f"regexp_full_match({_HP}, '[0-9]+') AND "
            national = (f"CASE WHEN {_HP} = '' THEN {_HS} "
                        f"WHEN {digits}{_length_in(after_np, own.keep_lengths)} "
                        f"AND {own.general(after_np)} THEN {after_np} END")
        nsn = (
            f"CASE WHEN length({_V}) > {_MAX_RAW_LENGTH} THEN NULL "
            # '+<cc>': parse then tries the national prefix of the code's metadata.
            f"WHEN {plus} THEN CASE WHEN NOT {ccr.np_match(after_plus)} THEN {after_plus} END "
            f"WHEN {_prefix(_HS, self.idd)} THEN NULL "  # an IDD (011 in the US)
            # '<cc>' without '+': parse drops the code only if the number is too long with it
            # or fits the general pattern only without it.
            f"WHEN starts_with({_HS}, {_lit(cc)}) THEN CASE WHEN NOT {own.np_match(after_cc)} "
            f"AND NOT {ccr.np_match(after_cc)} AND CASE WHEN {own.too_long(_HS)} THEN TRUE "
            f"ELSE NOT {own.general(_HS)} AND {own.general(after_cc)} END THEN {after_cc} END "
            f"ELSE {national} END")
        direct = (f"CASE WHEN length({_HN}) BETWEEN {_MIN_DIGITS} AND {_MAX_DIGITS} "
                  f"AND {self.valid(_HN)} THEN {_lit('+' + cc)} || {_HN} END")
        return [(_HS, _separators_removed(_V)), (_HP, own.np_text(_HS)), (_HN, nsn), (_H, direct)]

    def general_steps(self) -> list[tuple[str, str]]:
        """Output _R: NULL = undecided, '' = decided invalid, else the E.164 string.
        Each step replays one part of phonenumberutil.parse."""
        cc, lc, own = self.cc, len(self.cc), self.own
        # Separators, an optional '+' before any digit, 3..17 ASCII digits: extraction,
        # viability and extension checks of parse leave such a value as it is.
        shape = _full(_S, r"\+?[0-9]{%d,%d}" % (_MIN_DIGITS, _MAX_DIGITS))
        d = f"CASE WHEN length({_V}) <= {_MAX_RAW_LENGTH} AND {shape} THEN {_S} END"
        # _maybe_extract_country_code: 'plus' = '+' and our code; 'cc' = our code without
        # '+', dropped because the number only makes sense without it; 'none' = no code.
        rest = f"substr({_D}, {lc + 1})"
        takes_cc = (f"((NOT {own.general(_D)} AND {own.general(own.strip(rest))}) "
                    f"OR {own.too_long(_D)})")
        k = (f"CASE WHEN {_D} IS NULL THEN NULL "
             f"WHEN starts_with({_D}, '+') THEN "
             f"CASE WHEN {str(self.plus_ok).upper()} AND starts_with({_D}, {_lit('+' + cc)}) "
             f"THEN 'plus' END "
             f"WHEN {_prefix(_D, self.idd)} THEN NULL "  # an IDD: slow path
             f"WHEN starts_with({_D}, {_lit(cc)}) THEN "
             f"CASE WHEN {own.strip_undecided(rest)} THEN NULL "
             f"WHEN {takes_cc} THEN 'cc' ELSE 'none' END "
             f"ELSE 'none' END")
        n1 = (f"CASE {_K} WHEN 'plus' THEN substr({_D}, {lc + 2}) "
              f"WHEN 'cc' THEN {own.strip(rest)} WHEN 'none' THEN {_D} END")

        # parse strips the national prefix (again, after 'cc') with the metadata in force.
        def national(rules: _Rules) -> str:
            return (f"CASE WHEN {rules.strip_undecided(_N1)} THEN NULL "
                    f"ELSE {rules.strip_if_possible(_N1)} END")

        n2 = national(own) if self.cc_rules is own else (
            f"CASE WHEN {_K} = 'none' THEN {national(own)} ELSE {national(self.cc_rules)} END")
        # parse rejects national numbers outside 2..17 digits; then is_valid_number. parse
        # keeps leading zeros, so E.164 is '+' || cc || national number.
        r = (f"CASE WHEN {_V} IS NULL THEN '' WHEN {_N2} IS NULL THEN NULL "
             f"WHEN length({_N2}) BETWEEN {_MIN_LENGTH_FOR_NSN} AND {_MAX_LENGTH_FOR_NSN} "
             f"AND {self.valid(_N2)} THEN {_lit('+' + cc)} || {_N2} ELSE '' END")
        return [(_S, _separators_removed(_V)), (_D, d), (_K, k), (_N1, n1), (_N2, n2), (_R, r)]


@functools.lru_cache(maxsize=64)
def _plan(region: str) -> _Plan:
    return _Plan(check_region(region))


def _steps_sql(region: str, from_sql: str) -> str:
    """SELECT *, ..., result FROM from_sql (which has the raw value as _V): one nested SELECT
    per step, so each value is computed once. DuckDB SQL has no LET; repeating a step's text
    instead recomputes it (common-subexpression elimination does not catch these), and
    binding steps as lambda parameters runs ~6x slower.

    result: NULL = undecided, '' = decided invalid, else the E.164 string.
    """
    plan = _plan(region)
    # The general steps only run where the direct route gave no answer (CASE is lazy).
    steps = plan.direct_steps() + [
        (name, f"CASE WHEN {_H} IS NULL THEN {step} END") for name, step in plan.general_steps()]
    sql = from_sql
    for name, step in steps:
        sql = f"SELECT *, {step} AS {name} FROM ({sql})"
    return f"SELECT *, coalesce({_H}, {_R}) AS {_RESULT} FROM ({sql})"


def phone_fast_sql(col_sql: str, region: str) -> tuple[str, str]:
    """(decided, e164): two DuckDB SQL expressions over the VARCHAR expression col_sql.
    decided: BOOLEAN, true when the fast path decides this value exactly.
    e164: VARCHAR E.164 string, or NULL when the (decided) value is not a valid number.

    Each is a scalar subquery over the outer value (the steps need their own SELECTs);
    DuckDB decorrelates it into a vectorised pass plus a hash join on the value, about three
    times the cost of normalize_phones' single pass (twice that when both are used). Prefer
    normalize_phones for bulk work."""
    result = f"(SELECT {_RESULT} FROM ({_steps_sql(region, f'SELECT ({col_sql}) AS {_V}')}))"
    return f"{result} IS NOT NULL", f"nullif({result}, '')"


def phone_slow(values: list[str], region: str) -> list[str | None]:
    """phonenumbers on each value: E.164 or None."""
    check_region(region)
    e164 = phonenumbers.PhoneNumberFormat.E164
    out: list[str | None] = []
    for value in values:
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            out.append(None)
            continue
        out.append(phonenumbers.format_number(number, e164)
                   if phonenumbers.is_valid_number(number) else None)
    return out


def normalize_phones(db, in_table: str, out_table: str, region: str) -> PhoneStats:
    """in_table has a VARCHAR column `raw` of DISTINCT values. Creates the session relation
    out_table(raw VARCHAR, norm VARCHAR) with one row per input row (norm NULL = invalid),
    using the fast path in SQL and phone_slow only on undecided values. Returns counts."""
    from ..backends import as_backend

    db = as_backend(db)
    out, fast = _ident(out_table), _ident(out_table + "__fast")
    if not db.dialect.phone_fast_path:
        # The fast path is DuckDB SQL. Elsewhere every distinct value goes through
        # phonenumbers where the engine runs Python (Spark: the executors, in Arrow batches).
        slow = _ident(out_table + "__slow")
        db.map_values(slow, f"SELECT raw FROM {_ident(in_table)}", functools.partial(phone_slow, region=region))
        db.materialise(out, f"SELECT value AS raw, result AS norm FROM {slow}")
        db.drop(slow)
        total, invalid = db.one(f"SELECT count(*), count(*) - count(norm) FROM {out}")
        return PhoneStats(total=total, fast=0, slow=total, invalid=invalid)
    rows = f"SELECT raw, raw AS {_V} FROM {_ident(in_table)}"
    # One pass; norm is NULL where undecided and '' where decided invalid until the end.
    db.materialise(fast, f"SELECT raw, {_RESULT} AS norm FROM ({_steps_sql(region, rows)}) AS idr_p")
    undecided = f"SELECT raw FROM {fast} WHERE norm IS NULL"
    slow_count = db.count(f"SELECT count(*) FROM ({undecided}) AS u")
    if slow_count:
        # Values reach phonenumbers as bound values, never through SQL text.
        slow = _ident(out_table + "__slow")
        db.map_values(slow, undecided, functools.partial(phone_slow, region=region))
        db.materialise(out, f"SELECT f.raw, nullif(coalesce(f.norm, s.result), '') AS norm FROM {fast} AS f "
                            f"LEFT JOIN {slow} AS s ON s.value = f.raw AND f.norm IS NULL")
        db.drop(slow)
    else:
        db.materialise(out, f"SELECT raw, nullif(norm, '') AS norm FROM {fast}")
    db.drop(fast)
    total, invalid = db.one(f"SELECT count(*), count(*) - count(norm) FROM {out}")
    return PhoneStats(total=total, fast=total - slow_count, slow=slow_count, invalid=invalid)
