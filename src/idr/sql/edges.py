"""Builders of the group guard and edges stages (pipeline/edges.py)."""

from __future__ import annotations

from .dialects import Dialect


def groups_sql(incremental: bool) -> str:
    """Groups of two or more entities sharing a value, with their anchor and whether they
    are over the limit. The anchor is any fixed member (the smallest eid): only the
    connectivity of the edges matters inside a run; the published edges' anchors are
    chosen by the portable rule of star_edges_sql. INCR: a group may have holders outside
    the scope; idr_group_sizes has its true size."""
    size, sizes = ("coalesce(o.n, g.n)", " LEFT JOIN idr_group_sizes o USING (type_idx, value_norm)") \
        if incremental else ("g.n", "")
    return (f"SELECT g.type_idx, g.value_norm, {size} AS n, g.anchor, {size} > t.max_group_size AS skipped, "
            "t.max_group_size FROM ("
            "  SELECT type_idx, value_norm, count(*) AS n, min(eid) AS anchor FROM idr_ids "
            f"  GROUP BY type_idx, value_norm HAVING count(*) > 1) g JOIN idr_types t USING (type_idx){sizes}")


def skipped_sql(d: Dialect, samples: int = 5) -> str:
    """Each skipped group with its `samples` smallest entity keys, for review."""
    return ("SELECT t.identifier_type, s.value_norm AS identifier_value_norm, s.n AS group_size, "
            "  s.max_group_size AS max_allowed, s.sample_entity_keys "
            "FROM (SELECT g.type_idx, g.value_norm, any_value(g.n) AS n, any_value(g.max_group_size) AS max_group_size, "
            f"        {d.first_sorted('e.entity_key', samples)} AS sample_entity_keys "
            "      FROM idr_groups g JOIN idr_ids i USING (type_idx, value_norm) JOIN idr_entities e USING (eid) "
            "      WHERE g.skipped GROUP BY g.type_idx, g.value_norm) s "
            "JOIN idr_types t USING (type_idx)")


def skipped_by_type_sql() -> str:
    return "SELECT identifier_type, count(*) FROM idr_skipped GROUP BY identifier_type"


def edges_sql() -> str:
    return ("SELECT i.eid AS src, g.anchor AS dst, i.type_idx, i.value_norm "
            "FROM idr_ids i JOIN idr_groups g USING (type_idx, value_norm) WHERE NOT g.skipped AND i.eid <> g.anchor")


def edges_by_type_sql() -> str:
    return ("SELECT t.identifier_type, count(*) FROM idr_edges JOIN idr_types t USING (type_idx) "
            "GROUP BY t.identifier_type")


def star_edges_sql(d: Dialect, holders: str, type_col: str, value_col: str, extra: str = "") -> str:
    """The published edges of the groups in `holders` (a query with entity_key, type_col,
    value_col and the `extra` columns, one row per holder): every group of two or more
    links each member to its anchor, the member with the smallest (portable hash of
    entity_key, entity_key), so every engine publishes the same edges. The one definition
    of an edge row, for the view and for INCR's count of the edges it replaced."""
    h = d.portable_hash("entity_key")
    return (f"WITH idr_holders AS ({holders}) "
            f"SELECT h.{type_col}, h.{value_col}, h.entity_key, g.anchor_entity_key{extra} FROM idr_holders h JOIN ("
            f"  SELECT {type_col}, {value_col}, {d.arg_min('entity_key', d.row_of(h, 'entity_key'))} "
            f"AS anchor_entity_key FROM idr_holders GROUP BY {type_col}, {value_col} HAVING count(*) > 1) g "
            f"USING ({type_col}, {value_col}) WHERE h.entity_key <> g.anchor_entity_key")


def edges_replaced_sql(d: Dialect, skipped: str) -> str:
    """INCR: how many rows of the published edges the run removes or replaces. Only the
    groups of values whose holders changed can change (same holders, same anchor, same
    limit check), and all their holders are in the scope before and after the run (a
    linking group's holders share a cluster; skipped groups have no edges), so the
    scope's identifiers give both edge sets."""
    def changed(alias: str) -> str:
        return d.semi_join("idr_value_change v", on=f"v.type_idx = {alias}.type_idx AND v.value_norm = {alias}.value_norm")

    before = star_edges_sql(
        d, "SELECT c.entity_key, i.type_idx, i.value_norm FROM idr_carried_ids i JOIN idr_carried c USING (eid)"
        f"{changed('i')} UNION ALL SELECT s.entity_key, o.type_idx, o.value_norm FROM idr_old_ids o "
        f"JOIN idr_scope_old s USING (entity_id){changed('o')}", "type_idx", "value_norm")
    after = star_edges_sql(
        d, "SELECT e.entity_key, i.type_idx, i.value_norm FROM idr_ids i JOIN idr_entities e USING (eid)"
        + d.semi_join("idr_groups g", on="g.type_idx = i.type_idx AND g.value_norm = i.value_norm AND NOT g.skipped")
        + changed('i'), "type_idx", "value_norm")
    kept = (f"SELECT t.type_idx, s.identifier_value_norm AS value_norm FROM {skipped} s "
            "JOIN idr_types t USING (identifier_type)")
    return (f"SELECT count(*) FROM (SELECT * FROM ({before}) b" + d.anti_join(f"({kept}) k", using="type_idx, value_norm")
            + f" EXCEPT SELECT * FROM ({after}) a) AS x")
