"""Builders of the INCR scope stage (pipeline/scope.py); see that module for why it is exact.

Every function returns one SELECT. `pairs`, `skipped` and `membership` are the published
tables' qualified names; the other names are the stage's session relations.
"""

from __future__ import annotations

from .dialects import Dialect


def delta_old_sql(membership: str) -> str:
    return f"SELECT entity_key, entity_id, resolved_id FROM {membership} " \
           "WHERE entity_key IN (SELECT entity_key FROM idr_delta_keys)"


def removed_entities_sql(d: Dialect) -> str:
    return "SELECT entity_key FROM idr_delta_old" + d.anti_join("idr_entities", using="entity_key")


def numbered_entities_sql(d: Dialect, free: int) -> str:
    """idr_entities with entity_id: the published number, or the next free ones for new
    entities (in key order, so the same delta numbers its entities the same way)."""
    return ("SELECT e.entity_key, e.table_id, e.eid, coalesce(o.entity_id, n.entity_id) AS entity_id "
            "FROM idr_entities e LEFT JOIN idr_delta_old o USING (entity_key) LEFT JOIN ("
            f"  SELECT entity_key, {int(free)} + row_number() OVER (ORDER BY entity_key) - 1 AS entity_id "
            "  FROM idr_entities" + d.anti_join("idr_delta_old", using="entity_key") + ") n USING (entity_key)")


def new_ids_sql(ok: int) -> str:
    return ("SELECT DISTINCT e.entity_id, s.type_idx, s.value_norm "
            f"FROM idr_status s JOIN idr_entities e USING (eid) WHERE s.status = {int(ok)}")


def published_pairs_sql(d: Dialect, pairs: str) -> str:
    """One pass over the published pairs for what the scope needs from them: the rows of
    the delta's entities (`own`: what they held before; also the rows publishing replaces)
    and the holders of every value they hold now (`probed`, see idr_probe_values). The
    published columns are kept, so publishing needs no second pass."""
    return ("SELECT i.entity_id, i.identifier_type, i.identifier_value_norm, i.run_id, "
            f"{d.cast('t.type_idx', 'SMALLINT')} AS type_idx, o.entity_id IS NOT NULL AS own, "
            "p.value_norm IS NOT NULL AS probed "
            f"FROM {pairs} i JOIN idr_types t USING (identifier_type) "
            "LEFT JOIN idr_delta_old o ON o.entity_id = i.entity_id "
            "LEFT JOIN idr_probe_values p ON p.identifier_type = i.identifier_type "
            "AND p.value_norm = i.identifier_value_norm "
            "WHERE o.entity_id IS NOT NULL OR p.value_norm IS NOT NULL")


def old_ids_sql() -> str:
    return "SELECT entity_id, type_idx, identifier_value_norm AS value_norm FROM idr_published_pairs WHERE own"


def probe_values_sql(d: Dialect, skipped: str) -> str:
    return ("SELECT DISTINCT t.identifier_type, n.type_idx, n.value_norm "
            "FROM idr_new_ids n JOIN idr_types t USING (type_idx)"
            + d.anti_join(f"{skipped} s", on="s.identifier_type = t.identifier_type "
                                             "AND s.identifier_value_norm = n.value_norm"))


def hits_sql() -> str:
    return ("SELECT entity_id, type_idx, identifier_value_norm AS value_norm FROM idr_published_pairs WHERE probed "
            "UNION SELECT entity_id, type_idx, value_norm FROM idr_old_ids")


def changed_pairs_sql() -> str:
    cols = "entity_id, type_idx, value_norm"
    return (f"SELECT {cols}, 1 AS change FROM (SELECT {cols} FROM idr_new_ids EXCEPT SELECT {cols} FROM idr_old_ids) "
            f"AS a UNION ALL SELECT {cols}, -1 AS change FROM (SELECT {cols} FROM idr_old_ids EXCEPT "
            f"SELECT {cols} FROM idr_new_ids) AS r")


def value_change_sql(skipped: str) -> str:
    return ("SELECT p.type_idx, p.value_norm, sum(p.change) AS change, any_value(s.group_size) AS skipped_size, "
            "  any_value(t.max_group_size) AS max_size, any_value(t.identifier_type) AS identifier_type "
            "FROM idr_changed_pairs p JOIN idr_types t USING (type_idx) "
            f"LEFT JOIN {skipped} s ON s.identifier_type = t.identifier_type AND s.identifier_value_norm = p.value_norm "
            "GROUP BY p.type_idx, p.value_norm")


REOPENED = ("SELECT type_idx, value_norm, identifier_type FROM idr_value_change "
            "WHERE skipped_size IS NOT NULL AND skipped_size + change <= max_size")


def value_holders_sql(d: Dialect, pairs: str, reopened: bool) -> str:
    """Holders of the changed values that link before or after the run: from the hits,
    plus (when `reopened`) the members of skipped groups shrinking under their limit."""
    linking = ("SELECT h.entity_id, h.type_idx, h.value_norm FROM idr_hits h"
               + d.semi_join("(SELECT type_idx, value_norm FROM idr_value_change WHERE skipped_size IS NULL) v",
                             on="v.type_idx = h.type_idx AND v.value_norm = h.value_norm"))
    if not reopened:
        return linking
    return (f"{linking} UNION ALL SELECT i.entity_id, v.type_idx, v.value_norm FROM {pairs} i JOIN ({REOPENED}) v "
            "ON i.identifier_type = v.identifier_type AND i.identifier_value_norm = v.value_norm")


def group_change_sql() -> str:
    return ("SELECT v.type_idx, v.value_norm, v.change, v.skipped_size, v.max_size, v.identifier_type, "
            "coalesce(v.skipped_size, h.n, 0) + v.change AS new_size FROM idr_value_change v LEFT JOIN ("
            "  SELECT type_idx, value_norm, count(*) AS n FROM idr_hits GROUP BY type_idx, value_norm) h "
            "USING (type_idx, value_norm)")


def scope_clusters_sql(membership: str) -> str:
    return ("SELECT resolved_id FROM idr_delta_old WHERE entity_id IN (SELECT entity_id FROM idr_changed_pairs) "
            "  OR entity_key IN (SELECT entity_key FROM idr_removed_entities) UNION "
            f"SELECT resolved_id FROM {membership} WHERE entity_id IN (SELECT entity_id FROM idr_value_holders)")


def scope_old_sql(membership: str) -> str:
    """Every published column of the scope's rows: publishing replaces exactly these."""
    return (f"SELECT * FROM {membership} "
            "WHERE resolved_id IN (SELECT resolved_id FROM idr_scope_clusters)")


def carried_sql() -> str:
    """The scope's members the delta did not re-read (numbered into eids by the backend)."""
    return ("SELECT entity_key, table_id, entity_id FROM idr_scope_old "
            "WHERE entity_key NOT IN (SELECT entity_key FROM idr_delta_keys)")


def scope_entities_sql() -> str:
    """Delta entities whose identifiers did not change and whose cluster is not in scope
    keep everything: left out (their groups are not all in the scope). The carried
    members join them."""
    return ("SELECT entity_key, table_id, eid, entity_id FROM idr_entities "
            "WHERE entity_id IN (SELECT entity_id FROM idr_scope_old) "
            "OR entity_id NOT IN (SELECT entity_id FROM idr_delta_old) "
            "UNION ALL SELECT entity_key, table_id, eid, entity_id FROM idr_carried")


def scope_status_sql() -> str:
    return ("SELECT eid, type_idx, value_norm, dup, status FROM idr_status "
            "WHERE eid IN (SELECT eid FROM idr_entities)")


def carried_ids_sql(d: Dialect, pairs: str) -> str:
    return (f"SELECT c.eid, {d.cast('t.type_idx', 'SMALLINT')} AS type_idx, i.identifier_value_norm AS value_norm "
            f"FROM {pairs} i JOIN idr_carried c USING (entity_id) JOIN idr_types t USING (identifier_type)")


def scope_ids_sql(ids: str) -> str:
    """idr_ids of the scope: the delta's usable values and the carried members' published ones."""
    return f"{ids} UNION ALL SELECT eid, type_idx, value_norm FROM idr_carried_ids"


def group_sizes_sql(d: Dialect, skipped: str) -> str:
    """True sizes of the groups whose holders may straddle the scope: the skipped ones."""
    return ("SELECT type_idx, value_norm, new_size AS n FROM idr_group_change WHERE skipped_size IS NOT NULL "
            "UNION ALL SELECT t.type_idx, s.identifier_value_norm, s.group_size "
            f"FROM {skipped} s JOIN idr_types t USING (identifier_type)"
            + d.anti_join("idr_group_change g", on="g.type_idx = t.type_idx AND g.value_norm = s.identifier_value_norm"))
