"""How idr's SQL is spelled on each engine: capability flags and small rendering hooks.

The builders in idr.sql take a Dialect and call these hooks for every construct engines
spell differently; everything else they write is the portable core (SELECT, JOIN ... ON /
USING, CASE, CAST to the types in TYPES, CTEs, UNION ALL, EXCEPT, window row_number()
OVER (... ORDER BY ...), aggregates with FILTER (WHERE ...), md5, lower/upper, split_part).
Quirks are data where they can be (TYPES), hooks where they are syntax. Golden tests
(tests/sql/test_golden.py) pin the text of every builder in every dialect: sqlglot's
transpiler was measured to mistranslate several of these constructs silently
(DESIGN.md section 5), so nothing here relies on transpiling.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

# Portable type names used by the builders -> the engine's own.
_DUCKDB_TYPES = {"VARCHAR": "VARCHAR", "BIGINT": "BIGINT", "INTEGER": "INTEGER", "SMALLINT": "SMALLINT",
                 "TINYINT": "TINYINT", "BOOLEAN": "BOOLEAN", "DOUBLE": "DOUBLE", "TIMESTAMP": "TIMESTAMP"}
_SPARK_TYPES = {**_DUCKDB_TYPES, "VARCHAR": "STRING"}
# Types whose values can never be blank text (numbers, dates, times): a NULL check is all a
# golden value of such a type needs, no cast to text and trim. Prefixes of type names as
# engines describe them (DECIMAL(18,3), TIMESTAMP WITH TIME ZONE, ...).
_NEVER_BLANK = ("BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "INT", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                "UINTEGER", "UBIGINT", "FLOAT", "REAL", "DOUBLE", "DECIMAL", "DATE", "TIME", "TIMESTAMP", "INTERVAL")

# The portable hash: the first 15 hex digits (60 bits, so it fits a signed BIGINT) of the
# md5 of the UTF-8 text. Python: int(hashlib.md5(s.encode()).hexdigest()[:15], 16).
HASH_HEX_DIGITS = 15


class OrderTerm(NamedTuple):
    """One term of an ordering key (Dialect.ordered_key): an integer expression (a timestamp
    when epoch) whose values fit in `bits` bits (as two's complement when signed); NULLs
    sort after every value in either direction."""

    expr: str
    bits: int
    descending: bool = False
    signed: bool = False
    epoch: bool = False  # expr is a timestamp, ordered by its microseconds since 1970


@dataclass(frozen=True)
class Dialect:
    """Base: the portable spelling. Subclasses override what their engine spells otherwise."""

    name: str = "ansi"
    types: dict = field(default_factory=lambda: dict(_DUCKDB_TYPES))
    # Capability flags: what the engine offers, so callers (and the golden tests) can ask.
    supports_qualify: bool = False  # QUALIFY filter on window functions
    supports_temp_tables: bool = False  # CREATE TEMP TABLE; otherwise temp views + persist
    has_row_position: bool = False  # a free dense 0-based row number of a fresh table
    supports_update_from: bool = False  # UPDATE t SET ... FROM s
    temp_relation_kind: str = "TEMP VIEW"
    phone_fast_path: bool = False  # normalize/phone.py's SQL decides most phones without phonenumbers
    # Session settings the backend applies so that the builders' text means what it says.
    session_settings: dict = field(default_factory=dict)

    # -- names and values -----------------------------------------------------------------
    def can_be_blank(self, type_name: str) -> bool:
        """Whether values of this (described) type can be blank text."""
        return not type_name.upper().startswith(_NEVER_BLANK)

    def param(self, name: str) -> str:
        """A named bound parameter."""
        return f":{name}"

    def cast(self, expr: str, type_name: str) -> str:
        return f"CAST({expr} AS {self.types[type_name]})"

    # -- joins --------------------------------------------------------------------------------
    def anti_join(self, relation: str, on: str | None = None, using: str | None = None) -> str:
        """' <keyword> relation ON ...': rows of the left side with no match."""
        return f" LEFT ANTI JOIN {relation}{_condition(on, using)}"

    def semi_join(self, relation: str, on: str | None = None, using: str | None = None) -> str:
        """' <keyword> relation ON ...': rows of the left side with a match, once each."""
        return f" LEFT SEMI JOIN {relation}{_condition(on, using)}"

    # -- aggregates ---------------------------------------------------------------------------
    def arg_min(self, value: str, key: str) -> str:
        return f"min_by({value}, {key})"

    def arg_max(self, value: str, key: str) -> str:
        return f"max_by({value}, {key})"

    def epoch_us(self, expr: str) -> str:
        """Microseconds since 1970-01-01 of a timestamp, as BIGINT."""
        return f"unix_micros({expr})"

    def ordered_key(self, terms: list[OrderTerm]) -> str:
        """A value whose order is the order of `terms`, term by term (golden profiles' picks,
        sql/golden.py). Here a struct of (is NULL, the value negated when descending) pairs."""
        fields = []
        for t in terms:
            v = self.epoch_us(t.expr) if t.epoch else t.expr
            fields += [f"({v}) IS NULL", f"-({v})" if t.descending else f"({v})"]
        return self.row_of(*fields)

    def row_of(self, *exprs: str) -> str:
        """A composite value ordered field by field (an ordering key of several columns)."""
        return f"struct({', '.join(exprs)})"

    def first_sorted(self, expr: str, n: int) -> str:
        """The n smallest values of `expr` in the group, as an array in ascending order."""
        return f"slice(array_sort(collect_list({expr})), 1, {int(n)})"

    def rows_of(self, columns: dict[str, list[str]]) -> str:
        """Select-list items turning each input row into n rows, one per position of the
        lists (column name -> its n values, every list as long): an unpivot in one scan."""
        n = len(next(iter(columns.values())))
        structs = ", ".join("struct(" + ", ".join(f"{vals[i]} AS {name}" for name, vals in columns.items()) + ")"
                            for i in range(n))
        return f"inline(array({structs}))"

    # -- rows -------------------------------------------------------------------------------
    def first_per_group(self, columns: list[str], source: str, partition_by: str, order_by: str) -> str:
        """SELECT columns FROM source, keeping the first row of each partition."""
        cols, names = ", ".join(columns), ", ".join(c.split(".")[-1] for c in columns)
        return (f"SELECT {names} FROM (SELECT {cols}, row_number() OVER (PARTITION BY {partition_by} "
                f"ORDER BY {order_by}) AS idr_rn FROM {source}) AS idr_q WHERE idr_rn = 1")

    def row_position(self) -> str:
        """A fresh copy's 0-based row number (see Backend.number_rows for engines without one)."""
        return "idr_row"

    def unordered_row_number(self) -> str:
        """1, 2, 3, ... over a result in any order (an order costs a sort)."""
        return "row_number() OVER (ORDER BY monotonically_increasing_id())"

    def node_range(self, n: int) -> str:
        """SELECT node FROM 0..n-1."""
        return f"SELECT id AS node FROM range({int(n)})"

    # -- scalar functions ---------------------------------------------------------------------
    def portable_hash(self, expr: str) -> str:
        """A BIGINT hash of a string that every engine computes identically (see HASH_HEX_DIGITS)."""
        return f"CAST(conv(substr(md5({expr}), 1, {HASH_HEX_DIGITS}), 16, 10) AS BIGINT)"

    def row_hash(self, *exprs: str) -> str:
        """A fast BIGINT hash of several values (not portable across engines: for checksums
        an engine compares with its own earlier values, runs/watermark_check.py)."""
        return f"xxhash64({', '.join(exprs)})"

    def hash_bucket(self, expr: str, buckets: int) -> str:
        """expr's bucket among 0..buckets-1, by a fast engine-local hash."""
        return f"pmod(xxhash64({expr}), {int(buckets)})"

    def last_char(self, expr: str) -> str:
        return f"substring({expr}, -1, 1)"

    def regexp_full_match(self, expr: str, pattern: str) -> str:
        """`pattern` is a SQL string literal (already quoted)."""
        return f"regexp_like({expr}, concat('^(?:', {pattern}, ')$'))"

    def regexp_replace_all(self, expr: str, pattern: str, replacement: str) -> str:
        return f"regexp_replace({expr}, {pattern}, {replacement})"

    def nfc(self, expr: str) -> str:
        """Unicode NFC normalisation. Engines without a built-in get idr's function of this name
        (Spark: a SQL function over ICU, backends/spark.py)."""
        return f"idr_nfc({expr})"

    def lower(self, expr: str) -> str:
        """Lower case, one code point at a time as DuckDB maps it (sql/casemap.py):
        engines differ beyond ASCII (Spark's 'İ' is two code points, 'ΑΣ' ends in 'ς'), so
        non-ASCII values (more bytes than characters) go through idr's function (Spark: a
        translate() over DuckDB's table, backends/spark.py)."""
        return f"CASE WHEN length({expr}) = octet_length({expr}) THEN lower({expr}) ELSE idr_lower({expr}) END"

    def upper(self, expr: str) -> str:
        """Upper case, as `lower`."""
        return f"CASE WHEN length({expr}) = octet_length({expr}) THEN upper({expr}) ELSE idr_upper({expr}) END"


def _huge(n: int) -> str:
    return f"CAST('{int(n)}' AS HUGEINT)"


def _condition(on: str | None, using: str | None) -> str:
    if (on is None) == (using is None):
        raise ValueError("a join needs exactly one of on= and using=")
    return f" ON {on}" if on is not None else f" USING ({using})"


@dataclass(frozen=True)
class DuckDBDialect(Dialect):
    name: str = "duckdb"
    supports_qualify: bool = True
    supports_temp_tables: bool = True
    has_row_position: bool = True
    supports_update_from: bool = True
    temp_relation_kind: str = "TEMP TABLE"
    phone_fast_path: bool = True

    def param(self, name: str) -> str:
        return f"${name}"

    def anti_join(self, relation: str, on: str | None = None, using: str | None = None) -> str:
        return f" ANTI JOIN {relation}{_condition(on, using)}"

    def semi_join(self, relation: str, on: str | None = None, using: str | None = None) -> str:
        return f" SEMI JOIN {relation}{_condition(on, using)}"

    def arg_min(self, value: str, key: str) -> str:
        return f"arg_min({value}, {key})"

    def arg_max(self, value: str, key: str) -> str:
        return f"arg_max({value}, {key})"

    def epoch_us(self, expr: str) -> str:
        return f"epoch_us({expr})"

    def ordered_key(self, terms: list[OrderTerm]) -> str:
        # One HUGEINT: each term becomes a non-negative field of bits + 1 bits (the top value
        # is NULL), packed most significant first. arg_min over it is ~3x faster than over a
        # struct and ~10x faster than over create_sort_key's blob (measured at 1M records).
        if sum(t.bits + 1 for t in terms) > 126:
            return super().ordered_key(terms)
        fields, shift = [], 0
        for t in reversed(terms):
            v = f"CAST({self.epoch_us(t.expr) if t.epoch else t.expr} AS HUGEINT)"
            if t.signed:
                v = f"({v} + {_huge(1 << (t.bits - 1))})"
            if t.descending:
                v = f"({_huge((1 << t.bits) - 1)} - {v})"
            fields.append(f"(coalesce({v}, {_huge(1 << t.bits)}) << {shift})" if shift else
                          f"coalesce({v}, {_huge(1 << t.bits)})")
            shift += t.bits + 1
        return "(" + " + ".join(reversed(fields)) + ")"

    def row_of(self, *exprs: str) -> str:
        return f"({', '.join(exprs)})"

    def first_sorted(self, expr: str, n: int) -> str:
        return f"list({expr} ORDER BY {expr})[1:{int(n)}]"

    def rows_of(self, columns: dict[str, list[str]]) -> str:
        return ", ".join(f"unnest([{', '.join(vals)}]) AS {name}" for name, vals in columns.items())

    def first_per_group(self, columns: list[str], source: str, partition_by: str, order_by: str) -> str:
        # QUALIFY: no extra column and no outer query (measured the same speed, simpler plan).
        return (f"SELECT {', '.join(columns)} FROM {source} "
                f"QUALIFY row_number() OVER (PARTITION BY {partition_by} ORDER BY {order_by}) = 1")

    def row_position(self) -> str:
        return "rowid"  # a new table's rowids are 0..n-1 (extract checks it)

    def unordered_row_number(self) -> str:
        return "row_number() OVER ()"

    def node_range(self, n: int) -> str:
        return f"SELECT range AS node FROM range({int(n)})"

    def portable_hash(self, expr: str) -> str:
        return f"CAST(('0x' || substr(md5({expr}), 1, {HASH_HEX_DIGITS})) AS BIGINT)"

    def row_hash(self, *exprs: str) -> str:
        return f"CAST(hash({', '.join(exprs)}) >> 1 AS BIGINT)"

    def hash_bucket(self, expr: str, buckets: int) -> str:
        return f"hash({expr}) % {int(buckets)}"

    def last_char(self, expr: str) -> str:
        return f"{expr}[-1]"

    def regexp_full_match(self, expr: str, pattern: str) -> str:
        return f"regexp_full_match({expr}, {pattern})"

    def regexp_replace_all(self, expr: str, pattern: str, replacement: str) -> str:
        return f"regexp_replace({expr}, {pattern}, {replacement}, 'g')"

    def lower(self, expr: str) -> str:
        return f"lower({expr})"

    def upper(self, expr: str) -> str:
        return f"upper({expr})"

    def nfc(self, expr: str) -> str:
        # nfc_normalize stops at a NUL in a non-ASCII value ('\x00İ' becomes ''), so such
        # values are normalised piece by piece between NULs (NUL composes with nothing, so
        # that is the NFC of the whole). Costs ~3% of the EMAIL cleaning (measured at 5M).
        return (f"CASE WHEN contains({expr}, chr(0)) THEN array_to_string(list_transform("
                f"string_split({expr}, chr(0)), lambda s: nfc_normalize(s)), chr(0)) "
                f"ELSE nfc_normalize({expr}) END")


@dataclass(frozen=True)
class SparkDialect(Dialect):
    """Spark SQL (3.5 / 4): temp views persisted by the backend stand in for temp tables."""

    name: str = "spark"
    types: dict = field(default_factory=lambda: dict(_SPARK_TYPES))
    # "x" is an identifier (quoting.py quotes the standard way), and a backslash in a string
    # literal stays a backslash (the canonicalisers' regular expressions use \s).
    session_settings: dict = field(default_factory=lambda: {
        "spark.sql.ansi.enabled": "true",
        "spark.sql.ansi.doubleQuotedIdentifiers": "true",
        "spark.sql.parser.escapedStringLiterals": "true",
    })

    def first_by(self, fields: list[tuple[str, str]], terms: list[tuple[str, str]], where: str) -> str:
        # No sort key function: the group's candidates are sorted by a comparator written
        # term by term (NULLs last in both directions) and the first one is kept. An empty
        # group gives NULL (try_element_at).
        payload = ", ".join(f"{e} AS {n}" for n, e in fields)
        keys = "".join(f", {e} AS t{i}" for i, (e, _) in enumerate(terms))
        whens = []
        for i, (_, direction) in enumerate(terms):
            a, b, first = f"idr_l.t{i}", f"idr_r.t{i}", -1 if direction == "ASC" else 1
            whens.append(f"WHEN {a} IS NULL AND {b} IS NOT NULL THEN 1 WHEN {a} IS NOT NULL AND {b} IS NULL THEN -1 "
                         f"WHEN {a} < {b} THEN {first} WHEN {a} > {b} THEN {-first}")
        items = f"collect_list(struct(struct({payload}) AS p{keys})) FILTER (WHERE {where})"
        return f"try_element_at(array_sort({items}, (idr_l, idr_r) -> CASE {' '.join(whens)} ELSE 0 END), 1).p"


DUCKDB = DuckDBDialect()
SPARK = SparkDialect()
DIALECTS = {d.name: d for d in (DUCKDB, SPARK)}
