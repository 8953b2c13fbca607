"""Stages 2-3: normalise identifier values, then drop placeholders, invalid and excluded ones.

SQL canonicalisers run inline on every row: they are cheap vectorised string functions,
cheaper than collapsing to distinct values and joining back. PHONE is the exception: its
exact answer may need the phonenumbers library, so it runs once per distinct value (see
normalize/phone.py) and rows pick their result up with a join.

Exact exclusions go through the same canonicaliser as the data (so 'Test@Test.com '
excludes test@test.com); LIKE patterns match the normalised value.
"""

from __future__ import annotations

from ..normalize.canonical import clean_sql, placeholder_key_sql, trim_sql, valid_sql
from ..sql.dialects import Dialect
from .context import RunContext
from .extract import Kind


# Status codes of identifier values (TINYINT, not text: 16M rows of text cost memory).
STATUS = {"ok": 0, "placeholder": 1, "invalid": 2, "excluded": 3}


def _register_guards(ctx: RunContext, types: dict[str, int]) -> None:
    ctx.db.small_relation("idr_exclusions", {"type_idx": "INTEGER", "value": "VARCHAR", "is_pattern": "BOOLEAN"},
                          [(types[e.identifier_type], e.identifier_value_pattern, bool(e.is_pattern))
                           for e in ctx.plan.config.exclusions if e.identifier_type in types])
    ctx.db.small_relation("idr_placeholders", {"key": "VARCHAR"},
                          [(p,) for p in sorted(set(ctx.plan.settings["placeholder_values"]) | {""})])


def patterns_sql(d: Dialect, exclusions, types: dict[str, int], type_col: str, value_col: str) -> tuple[str, dict]:
    """A predicate "value matches one of its type's LIKE exclusions", patterns bound as
    parameters. Written out per type rather than joined: a correlated join against the
    pattern table costs a hash aggregation over every row."""
    by_type: dict[int, list[str]] = {}
    for e in exclusions:
        if e.is_pattern and e.identifier_type in types:
            by_type.setdefault(types[e.identifier_type], []).append(e.identifier_value_pattern)
    params, whens = {}, []
    for type_idx, patterns in sorted(by_type.items()):
        likes = []
        for pattern in patterns:
            name = f"pattern_{len(params)}"
            params[name] = pattern
            likes.append(f"{value_col} LIKE {d.param(name)}")
        whens.append(f"WHEN {type_idx} THEN ({' OR '.join(likes)})")
    if not whens:
        return "FALSE", {}
    return f"coalesce(CASE {type_col} {' '.join(whens)} ELSE FALSE END, FALSE)", params


def _in_list(kinds: list[Kind]) -> str:
    return ", ".join(str(k.kind) for k in kinds)  # integers idr assigned, not user text


def normalised_sql(d: Dialect, kinds: list[Kind], source: str, col: str, key: str) -> str:
    """SELECT <key columns>, kind, value_norm, ph_key over `source`: clean in an inner query, check in
    the outer. ph_key, the lower-cased cleaned value, is what the placeholder list is matched against."""
    clean = " ".join(f"WHEN {k.kind} THEN {clean_sql(k.canonicalize, col, hashed=k.is_hashed, d=d)}" for k in kinds)
    checks = [(k, valid_sql(k.canonicalize, "clean", hashed=k.is_hashed, d=d)) for k in kinds]
    check = " ".join(f"WHEN {k.kind} THEN {v}" for k, v in checks if v)
    value = f"CASE WHEN CASE kind {check} ELSE TRUE END THEN clean END" if check else "clean"
    # NONE keeps values as they are, so only its placeholder key needs trimming here.
    untrimmed = [k for k in kinds if k.canonicalize == "NONE" and not k.is_hashed]
    ph_key = (d.lower(f"CASE WHEN kind IN ({_in_list(untrimmed)}) THEN {trim_sql('clean', d)} ELSE clean END")
              if untrimmed else d.lower("clean"))
    return (f"SELECT {key}, kind, nullif({value}, '') AS value_norm, {ph_key} AS ph_key FROM ("
            f"SELECT {key}, kind, CASE kind {clean} END AS clean FROM {source} WHERE kind IN ({_in_list(kinds)})) AS idr_c")


def status_sql(d: Dialect, values: str, patterns: str) -> str:
    """Status of every identifier value read, as a small code (see STATUS)."""
    return ("SELECT v.eid, " + d.cast("k.type_idx", "SMALLINT") + " AS type_idx, v.value_norm, v.dup, "
            + d.cast(f"CASE WHEN v.ph_key IN (SELECT key FROM idr_placeholders) THEN {STATUS['placeholder']} "
                     f"WHEN v.value_norm IS NULL THEN {STATUS['invalid']} "
                     f"WHEN x.kind IS NOT NULL OR {patterns} THEN {STATUS['excluded']} "
                     f"ELSE {STATUS['ok']} END", "TINYINT") + " AS status "
            f"FROM ({values}) AS v JOIN idr_kinds k ON k.kind = v.kind "
            "LEFT JOIN idr_excluded_exact x ON x.kind = v.kind AND x.value_norm = v.value_norm")


def ids_sql(ok: int = STATUS["ok"]) -> str:
    """One row per (entity, type, value). Only rows flagged dup (repeated keys, two
    mappings of one type in a source) can repeat, so only they pay for DISTINCT."""
    return (f"SELECT eid, type_idx, value_norm FROM idr_status WHERE status = {ok} AND NOT dup UNION ALL "
            f"SELECT DISTINCT eid, type_idx, value_norm FROM idr_status WHERE status = {ok} AND dup")


def status_counts_sql() -> str:
    return ("SELECT " + ", ".join(f"count(*) FILTER (WHERE status = {code})" for code in STATUS.values())
            + " FROM idr_status")


def normalize(ctx: RunContext, kinds: list[Kind]) -> None:
    db, d = ctx.db, ctx.d
    types = {k.identifier_type: k.type_idx for k in kinds}
    _register_guards(ctx, types)
    sql_kinds = [k for k in kinds if k.is_hashed or k.canonicalize != "PHONE"]
    phone_kinds = [k for k in kinds if not k.is_hashed and k.canonicalize == "PHONE"]
    exact_src = "(SELECT x.value AS raw_value, k.kind FROM idr_exclusions x " \
                "JOIN idr_kinds k USING (type_idx) WHERE NOT x.is_pattern)"
    patterns, pattern_params = patterns_sql(d, ctx.plan.config.exclusions, types, "k.type_idx", "v.value_norm")
    with ctx.stage("normalize") as st:
        st.rows_in = ctx.counts["identifiers_extracted"]
        rows, exact = [], []  # per-row normalised values; normalised exact exclusions
        if sql_kinds:
            rows.append(normalised_sql(d, sql_kinds, "idr_raw_ids", "raw_value", "eid, dup"))
            exact.append(normalised_sql(d, sql_kinds, exact_src, "raw_value", "raw_value"))
        if phone_kinds:
            from ..normalize.phone import normalize_phones

            phones = _in_list(phone_kinds)
            db.materialise("idr_phone_in",
                           f"SELECT DISTINCT raw_value AS raw FROM idr_raw_ids WHERE kind IN ({phones}) "
                           f"UNION SELECT raw_value FROM {exact_src} AS x WHERE kind IN ({phones})")
            stats = normalize_phones(db, "idr_phone_in", "idr_phone_out", ctx.plan.settings["phone_default_region"])
            ctx.counts.update(phone_fast_path=stats.fast, phone_slow_path=stats.slow)
            # Phones are cleaned inside normalize_phones; their placeholder key is taken from
            # the raw text, once per distinct value.
            phone_out = f"(SELECT raw, norm, {placeholder_key_sql('raw', d)} AS ph_key FROM idr_phone_out)"
            for out, src, keys in ((rows, "idr_raw_ids", "r.eid, r.dup"), (exact, exact_src, "r.raw_value")):
                out.append(f"SELECT {keys}, r.kind, p.norm AS value_norm, p.ph_key FROM {src} r "
                           f"JOIN {phone_out} p ON p.raw = r.raw_value WHERE r.kind IN ({phones})")
        db.materialise("idr_excluded_exact", "SELECT DISTINCT kind, value_norm "
                       f"FROM ({' UNION ALL '.join(exact)}) AS x WHERE value_norm IS NOT NULL")
        db.materialise("idr_status", status_sql(d, " UNION ALL ".join(rows), patterns), pattern_params)
        db.drop("idr_raw_ids", "idr_phone_in", "idr_phone_out", "idr_excluded_exact")
        st.rows_out = ctx.count("SELECT count(value_norm) FROM idr_status")

    with ctx.stage("exclude") as st:
        st.rows_in = ctx.counts["identifiers_extracted"]
        # Counted per value read: a record's email, phone, ...
        counts = dict(zip(STATUS, db.one(status_counts_sql())))
        ctx.counts.update(values_placeholder=counts["placeholder"], values_invalid=counts["invalid"],
                          values_excluded=counts["excluded"])
        st.rows_out = ctx.counts["identifiers_linkable"] = counts["ok"]
        db.view("idr_ids", ids_sql())
