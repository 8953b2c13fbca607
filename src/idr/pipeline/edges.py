"""Stages 4-5: group entities by identifier value, skip oversized groups, build star edges.

A group of n entities sharing a value yields n-1 edges (each member to the group's anchor),
never n(n-1)/2 pairs. Groups larger than the rule's max_group_size
create no edges and are recorded, with a few sample entity keys, for review.
"""

from __future__ import annotations

from ..schema import SKIPPED, out, star_edges_sql
from .context import RunContext


def group_guard(ctx: RunContext) -> None:
    con = ctx.con
    with ctx.stage("group_guard") as st:
        st.rows_in = ctx.counts["identifiers_linkable"]
        # Groups of two or more entities. The anchor is the member with the smallest
        # hash(entity_key), so the published edges are the same on every run over the
        # same data and configuration.
        # INCR: a group may have holders outside the scope; idr_group_sizes has its true size.
        size, sizes = ("coalesce(o.n, g.n)", "LEFT JOIN idr_group_sizes o USING (type_idx, value_norm)") \
            if ctx.mode == "INCR" else ("g.n", "")
        con.execute(
            "CREATE OR REPLACE TEMP TABLE idr_groups AS "
            f"SELECT g.type_idx, g.value_norm, {size} AS n, g.anchor, {size} > t.max_group_size AS skipped, "
            "t.max_group_size FROM ("
            "  SELECT type_idx, value_norm, count(*) AS n, arg_min(eid, h) AS anchor FROM idr_ids "
            f"  GROUP BY type_idx, value_norm HAVING count(*) > 1) g JOIN idr_types t USING (type_idx) {sizes}"
        )
        # The five smallest entity keys of each skipped group, as a sample for review.
        con.execute(
            "CREATE OR REPLACE TEMP TABLE idr_skipped AS "
            "SELECT t.identifier_type, s.value_norm AS identifier_value_norm, s.n AS group_size, "
            "  s.max_group_size AS max_allowed, s.sample_entity_keys "
            "FROM (SELECT g.type_idx, g.value_norm, any_value(g.n) AS n, any_value(g.max_group_size) AS max_group_size,"
            "        list(e.entity_key ORDER BY e.entity_key)[1:5] AS sample_entity_keys "
            "      FROM idr_groups g JOIN idr_ids i USING (type_idx, value_norm) JOIN idr_entities e USING (eid) "
            "      WHERE g.skipped GROUP BY g.type_idx, g.value_norm) s "
            "JOIN idr_types t USING (type_idx)"
        )
        ctx.counts["groups_skipped"] = ctx.count("SELECT count(*) FROM idr_skipped")
        ctx.counts["groups_linking"] = ctx.count("SELECT count(*) FROM idr_groups WHERE NOT skipped")
        st.rows_out = ctx.counts["groups_linking"]
        ctx.counts["groups_skipped_by_type"] = dict(con.execute(
            "SELECT identifier_type, count(*) FROM idr_skipped GROUP BY ALL").fetchall())


def build_edges(ctx: RunContext) -> None:
    con = ctx.con
    with ctx.stage("edges") as st:
        st.rows_in = ctx.counts["groups_linking"]
        con.execute(
            "CREATE OR REPLACE TEMP TABLE idr_edges AS "
            "SELECT i.eid AS src, g.anchor AS dst, i.type_idx, i.value_norm "
            "FROM idr_ids i JOIN idr_groups g USING (type_idx, value_norm) WHERE NOT g.skipped AND i.eid <> g.anchor"
        )
        if ctx.mode == "INCR":
            ctx.counts["edges_updated"] = _edges_replaced(ctx)
        con.execute("DROP TABLE idr_groups")  # idr_ids stays: publish writes the identifiers
        ctx.counts["edges_by_type"] = dict(con.execute(
            "SELECT t.identifier_type, count(*) FROM idr_edges JOIN idr_types t USING (type_idx) GROUP BY ALL").fetchall())
        ctx.counts["edges"] = st.rows_out = sum(ctx.counts["edges_by_type"].values())


def _edges_replaced(ctx: RunContext) -> int:
    """INCR: rows of identity_edges_current the run removes or replaces. Only the groups of
    values whose holders changed can change (same holders, same anchor, same limit check),
    and all their holders are in the scope before and after the run (a linking group's
    holders share a cluster; skipped groups have no edges), so the scope's identifiers
    give both edge sets."""
    changed = "SEMI JOIN idr_value_change v ON v.type_idx = {0}.type_idx AND v.value_norm = {0}.value_norm"
    before = star_edges_sql(
        "SELECT c.entity_key, i.type_idx, i.value_norm FROM idr_carried_ids i JOIN idr_carried c USING (eid) "
        f"{changed.format('i')} UNION ALL SELECT s.entity_key, o.type_idx, o.value_norm FROM idr_old_ids o "
        f"JOIN idr_scope_old s USING (entity_id) {changed.format('o')}", "type_idx", "value_norm")
    after = star_edges_sql(
        "SELECT e.entity_key, i.type_idx, i.value_norm FROM idr_ids i JOIN idr_entities e USING (eid) "
        f"SEMI JOIN idr_groups g ON g.type_idx = i.type_idx AND g.value_norm = i.value_norm AND NOT g.skipped "
        f"{changed.format('i')}", "type_idx", "value_norm")
    skipped = f"SELECT t.type_idx, s.identifier_value_norm AS value_norm FROM {out(SKIPPED)} s JOIN idr_types t USING (identifier_type)"
    return ctx.count(f"SELECT count(*) FROM (SELECT * FROM ({before}) b ANTI JOIN ({skipped}) k USING (type_idx, value_norm) "
                     f"EXCEPT SELECT * FROM ({after}))")
