"""Stage 1: read every active source into entities and raw identifier values.

Entities get dense integer ids (eid) once, here; everything after this works on integers
and joins back to entity keys only when writing outputs. The order of eids is arbitrary
(ordering 10M keys costs seconds), so where a choice must be the same on every run over
the same data, h = hash(entity_key) decides. Identifier types are mapped to
small integers too ("kinds"), so no user-supplied name is ever spliced into SQL text.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from ..sql.quoting import literal
from .context import RunContext


@dataclass(frozen=True)
class Kind:
    """One (identifier type, hashed?) pair; hashed values skip the canonicaliser."""

    kind: int
    type_idx: int
    identifier_type: str
    canonicalize: str
    is_hashed: bool
    max_group_size: int


def plan_kinds(ctx: RunContext) -> list[Kind]:
    types = sorted({m.identifier_type for s in ctx.plan.sources for m in s.mappings})
    pairs = sorted({(m.identifier_type, m.is_hashed) for s in ctx.plan.sources for m in s.mappings})
    kinds = []
    for i, (t, hashed) in enumerate(pairs):
        rule = ctx.plan.rules[t]
        kinds.append(Kind(i, types.index(t), t, rule.canonicalize.upper(), hashed, rule.max_group_size))
    return kinds


def register_kinds(con, kinds: list[Kind]) -> None:
    """idr_kinds / idr_types as temp tables, filled through Arrow (names stay data)."""
    tbl = pa.table({
        "kind": [k.kind for k in kinds],
        "type_idx": [k.type_idx for k in kinds],
        "identifier_type": [k.identifier_type for k in kinds],
        "max_group_size": [k.max_group_size for k in kinds],
    })
    con.register("idr_kinds_arrow", tbl)
    con.execute("CREATE OR REPLACE TEMP TABLE idr_kinds AS SELECT * FROM idr_kinds_arrow")
    con.execute("CREATE OR REPLACE TEMP TABLE idr_types AS "
                "SELECT DISTINCT type_idx, identifier_type, max_group_size FROM idr_kinds")
    con.unregister("idr_kinds_arrow")


def _key_sql(src) -> str:
    return f"{literal(src.table_id + ':')} || CAST(({src.key_sql}) AS VARCHAR)"


def extract(ctx: RunContext, kinds: list[Kind]) -> None:
    con = ctx.con
    kind_of = {(k.identifier_type, k.is_hashed): k.kind for k in kinds}
    with ctx.stage("extract") as st:
        keys = " UNION ALL ".join(
            f"SELECT {_key_sql(s)} AS entity_key, {literal(s.table_id)} AS table_id FROM {s.relation_sql}"
            for s in ctx.plan.sources
        )
        con.execute(f"CREATE OR REPLACE TEMP TABLE idr_source_keys AS {keys}")
        rows = ctx.count("SELECT count(*) FROM idr_source_keys")
        ctx.counts["rows_without_key"] = ctx.count("SELECT count(*) FROM idr_source_keys WHERE entity_key IS NULL")
        # Dense ids 0..n-1; their order does not matter, only that they are dense.
        con.execute(
            "CREATE OR REPLACE TEMP TABLE idr_entities AS "
            "SELECT entity_key, table_id, (row_number() OVER ()) - 1 AS eid, hash(entity_key) AS h "
            "FROM (SELECT DISTINCT entity_key, table_id FROM idr_source_keys WHERE entity_key IS NOT NULL)"
        )
        con.execute("DROP TABLE idr_source_keys")
        ctx.counts["entities"] = ctx.count("SELECT count(*) FROM idr_entities")

        values = [
            f"SELECT {_key_sql(s)} AS entity_key, {kind_of[(m.identifier_type, m.is_hashed)]} AS kind, "
            f"CAST(({m.value_sql}) AS VARCHAR) AS raw_value FROM {s.relation_sql}"
            for s in ctx.plan.sources for m in s.mappings
        ]
        if values:
            con.execute(
                "CREATE OR REPLACE TEMP TABLE idr_raw_ids AS SELECT e.eid, e.h, r.kind, r.raw_value "
                f"FROM ({' UNION ALL '.join(values)}) r JOIN idr_entities e USING (entity_key) "
                "WHERE r.raw_value IS NOT NULL"
            )
        else:
            con.execute("CREATE OR REPLACE TEMP TABLE idr_raw_ids "
                        "(eid BIGINT, h UBIGINT, kind INTEGER, raw_value VARCHAR)")
        ctx.counts["identifiers_extracted"] = ctx.count("SELECT count(*) FROM idr_raw_ids")
        st.rows_in, st.rows_out = rows, ctx.counts["entities"]
