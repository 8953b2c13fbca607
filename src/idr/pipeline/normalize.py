"""Stages 2-3: normalise distinct raw values, then drop placeholders, invalid and excluded ones.

Work is done once per distinct (kind, raw value), never per row. Exact exclusions are fed
through the same canonicaliser as the data (so 'Test@Test.com ' excludes test@test.com);
LIKE patterns match the normalised value.
"""

from __future__ import annotations

import pyarrow as pa

from ..backends.duckdb import one_row
from ..normalize.canonical import canonical_sql, placeholder_key_sql
from .context import RunContext
from .extract import Kind


def _register_exclusions(ctx: RunContext, kinds: list[Kind]) -> None:
    types = {k.identifier_type: k.type_idx for k in kinds}
    rows = [(types[e.identifier_type], e.identifier_value_pattern, bool(e.is_pattern))
            for e in ctx.plan.config.exclusions if e.identifier_type in types]
    tbl = pa.table({
        "type_idx": pa.array([r[0] for r in rows], pa.int32()),
        "value": pa.array([r[1] for r in rows], pa.string()),
        "is_pattern": pa.array([r[2] for r in rows], pa.bool_()),
    })
    ctx.con.register("idr_exclusions_arrow", tbl)
    ctx.con.execute("CREATE OR REPLACE TEMP TABLE idr_exclusions AS SELECT * FROM idr_exclusions_arrow")
    ctx.con.unregister("idr_exclusions_arrow")


def normalize(ctx: RunContext, kinds: list[Kind]) -> None:
    con = ctx.con
    _register_exclusions(ctx, kinds)
    with ctx.stage("normalize") as st:
        # Distinct values, plus exact exclusion values so they get the same treatment.
        con.execute(
            "CREATE OR REPLACE TEMP TABLE idr_distinct AS "
            "SELECT kind, raw_value, bool_or(in_data) AS in_data FROM ("
            "  SELECT DISTINCT kind, raw_value, TRUE AS in_data FROM idr_raw_ids"
            "  UNION ALL SELECT k.kind, x.value, FALSE FROM idr_exclusions x JOIN idr_kinds k USING (type_idx)"
            "  WHERE NOT x.is_pattern) GROUP BY kind, raw_value"
        )
        st.rows_in = ctx.count("SELECT count(*) FROM idr_distinct")
        sql_kinds = [k for k in kinds if k.is_hashed or k.canonicalize != "PHONE"]
        phone_kinds = [k for k in kinds if not k.is_hashed and k.canonicalize == "PHONE"]
        con.execute("CREATE OR REPLACE TEMP TABLE idr_norm "
                    "(kind INTEGER, raw_value VARCHAR, in_data BOOLEAN, value_norm VARCHAR)")
        if sql_kinds:
            cases = " ".join(
                f"WHEN {k.kind} THEN {canonical_sql(k.canonicalize, 'raw_value', hashed=k.is_hashed)}"
                for k in sql_kinds
            )
            in_list = ", ".join(str(k.kind) for k in sql_kinds)
            con.execute(
                f"INSERT INTO idr_norm SELECT kind, raw_value, in_data, CASE kind {cases} END "
                f"FROM idr_distinct WHERE kind IN ({in_list})"
            )
        if phone_kinds:
            from ..normalize.phone import normalize_phones

            in_list = ", ".join(str(k.kind) for k in phone_kinds)
            con.execute("CREATE OR REPLACE TEMP TABLE idr_phone_in AS SELECT DISTINCT raw_value AS raw "
                        f"FROM idr_distinct WHERE kind IN ({in_list})")
            stats = normalize_phones(con, "idr_phone_in", "idr_phone_out", ctx.plan.settings["phone_default_region"])
            ctx.counts["phone_fast_path"] = stats.fast
            ctx.counts["phone_slow_path"] = stats.slow
            con.execute(
                "INSERT INTO idr_norm SELECT d.kind, d.raw_value, d.in_data, p.norm FROM idr_distinct d "
                f"JOIN idr_phone_out p ON p.raw = d.raw_value WHERE d.kind IN ({in_list})"
            )
            con.execute("DROP TABLE idr_phone_in")
            con.execute("DROP TABLE idr_phone_out")
        st.rows_out = ctx.count("SELECT count(*) FROM idr_norm WHERE value_norm IS NOT NULL")

    with ctx.stage("exclude") as st:
        # Status per distinct value. Placeholders are judged on the raw text as well as the
        # normalised one ('N/A' and ' n/a ' both), and never link.
        con.execute(
            "CREATE OR REPLACE TEMP TABLE idr_excluded_norm AS "
            "SELECT DISTINCT k.kind, n.value_norm FROM idr_exclusions x JOIN idr_kinds k USING (type_idx) "
            "JOIN idr_norm n ON n.kind = k.kind AND n.value_norm IS NOT NULL AND ("
            "  (NOT x.is_pattern AND n.raw_value = x.value) OR (x.is_pattern AND n.value_norm LIKE x.value))"
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE idr_value_status AS "
            "SELECT n.kind, n.raw_value, n.in_data, n.value_norm, CASE "
            f"  WHEN list_contains($placeholders, {placeholder_key_sql('n.raw_value')}) "
            "     OR list_contains($placeholders, lower(n.value_norm)) THEN 'placeholder' "
            "  WHEN n.value_norm IS NULL THEN 'invalid' "
            "  WHEN x.kind IS NOT NULL THEN 'excluded' "
            "  ELSE 'ok' END AS status "
            "FROM idr_norm n LEFT JOIN idr_excluded_norm x ON x.kind = n.kind AND x.value_norm = n.value_norm",
            {"placeholders": ctx.plan.settings["placeholder_values"] + [""]},
        )
        # Counts are over values seen in the data (exclusion-list entries alone do not count).
        # Counted over distinct values seen in the data (exclusion-list entries alone do not count).
        row = one_row(
            con,
            f"SELECT count(DISTINCT (kind, {placeholder_key_sql('raw_value')})) FILTER (status = 'placeholder'), "
            "count(DISTINCT (kind, raw_value)) FILTER (status = 'invalid'), "
            "count(DISTINCT (kind, value_norm)) FILTER (status = 'excluded') "
            "FROM idr_value_status WHERE in_data",
        )
        ctx.counts.update(values_placeholder=row[0], values_invalid=row[1], values_excluded=row[2])
        con.execute(
            "CREATE OR REPLACE TEMP TABLE idr_ids AS "
            "SELECT DISTINCT r.eid, k.type_idx, s.value_norm FROM idr_raw_ids r "
            "JOIN idr_value_status s ON s.kind = r.kind AND s.raw_value = r.raw_value AND s.status = 'ok' "
            "JOIN idr_kinds k ON k.kind = r.kind"
        )
        st.rows_in = ctx.counts["identifiers_extracted"]
        st.rows_out = ctx.count("SELECT count(*) FROM idr_ids")
        for t in ("idr_distinct", "idr_norm", "idr_excluded_norm", "idr_raw_ids"):
            con.execute(f"DROP TABLE {t}")
