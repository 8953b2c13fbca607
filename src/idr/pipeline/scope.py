"""INCR only: from the delta to the part of the graph that can change, and nothing more.

Why this is exact. Clusters are the connected components of "shares a linking value".
A value's group changes only if the delta adds or removes one of its holders; call those
values changed. A cluster can change only if one of its members changed identifiers, was
added or removed, or holds a changed value whose group links before or after the run.
All such clusters are recomputed together with the delta (the scope); every other
cluster keeps exactly the same members and the same links, because each of its values
has the same group, and a value that links has all its holders in one cluster (so in the
scope, or wholly outside it). The only groups whose holders straddle the scope boundary
are skipped ones (over max_group_size); their true sizes are supplied to the group guard
(idr_group_sizes) so that a handful of in-scope holders cannot make them link.

Reads only the published state (membership, identifier pairs, skipped groups): never the
sources beyond the delta.
"""

from __future__ import annotations

from ..schema import MEMBERSHIP, PAIRS, SKIPPED, out
from .context import RunContext
from .normalize import STATUS


def build_scope(ctx: RunContext) -> None:
    con = ctx.con
    ok = STATUS["ok"]
    with ctx.stage("scope") as st:
        st.rows_in = ctx.counts["entities"]
        _number_delta(ctx)
        # What the delta's entities hold now, and what they held before.
        con.execute("CREATE OR REPLACE TEMP TABLE idr_new_ids AS SELECT DISTINCT e.entity_id, s.type_idx, s.value_norm "
                    f"FROM idr_status s JOIN idr_entities e USING (eid) WHERE s.status = {ok}")
        # What they held before: a probe of integers, cheap.
        con.execute(
            "CREATE OR REPLACE TEMP TABLE idr_old_ids AS "
            "SELECT i.entity_id, t.type_idx::SMALLINT AS type_idx, i.identifier_value_norm AS value_norm "
            f"FROM {out(PAIRS)} i JOIN idr_types t USING (identifier_type) "
            "WHERE i.entity_id IN (SELECT entity_id FROM idr_delta_old)")
        # The published holders of every value they hold now (idr_hits, with the rows
        # above). Values over the limit are left out (a group of thousands stays skipped,
        # see below).
        con.execute(
            "CREATE OR REPLACE TEMP TABLE idr_probe_values AS SELECT DISTINCT t.identifier_type, n.type_idx, n.value_norm "
            f"FROM idr_new_ids n JOIN idr_types t USING (type_idx) ANTI JOIN {out(SKIPPED)} s "
            "ON s.identifier_type = t.identifier_type AND s.identifier_value_norm = n.value_norm")
        con.execute(
            "CREATE OR REPLACE TEMP TABLE idr_hits AS "
            f"SELECT i.entity_id, p.type_idx, p.value_norm FROM {out(PAIRS)} i JOIN idr_probe_values p "
            "ON i.identifier_type = p.identifier_type AND i.identifier_value_norm = p.value_norm "
            "UNION SELECT * FROM idr_old_ids")
        con.execute(
            "CREATE OR REPLACE TEMP TABLE idr_changed_pairs AS "
            "SELECT *, 1 AS change FROM (SELECT * FROM idr_new_ids EXCEPT SELECT * FROM idr_old_ids) UNION ALL "
            "SELECT *, -1 AS change FROM (SELECT * FROM idr_old_ids EXCEPT SELECT * FROM idr_new_ids)")
        # Changed values, with the size of their group before and after. A group that
        # linked and lost holders had them all in one cluster, that of the delta entity
        # that left it: that cluster is in the scope anyway, so its holders need no lookup.
        con.execute(
            "CREATE OR REPLACE TEMP TABLE idr_value_change AS "
            "SELECT p.type_idx, p.value_norm, sum(p.change) AS change, any_value(s.group_size) AS skipped_size, "
            "  any_value(t.max_group_size) AS max_size, any_value(t.identifier_type) AS identifier_type "
            "FROM idr_changed_pairs p JOIN idr_types t USING (type_idx) "
            f"LEFT JOIN {out(SKIPPED)} s ON s.identifier_type = t.identifier_type AND s.identifier_value_norm = p.value_norm "
            "GROUP BY p.type_idx, p.value_norm")
        # Holders of the changed values that link before or after the run: from the pass
        # above, plus (rarely) a skipped group shrinking under its limit.
        con.execute(
            "CREATE OR REPLACE TEMP TABLE idr_value_holders AS SELECT h.* FROM idr_hits h "
            "SEMI JOIN (SELECT * FROM idr_value_change WHERE skipped_size IS NULL) v "
            "ON v.type_idx = h.type_idx AND v.value_norm = h.value_norm")
        reopened = "SELECT * FROM idr_value_change WHERE skipped_size IS NOT NULL AND skipped_size + change <= max_size"
        if ctx.count(f"SELECT count(*) FROM ({reopened})"):
            con.execute(
                "INSERT INTO idr_value_holders SELECT i.entity_id, v.type_idx, v.value_norm "
                f"FROM {out(PAIRS)} i JOIN ({reopened}) v "
                "ON i.identifier_type = v.identifier_type AND i.identifier_value_norm = v.value_norm")
        # Sizes: a skipped group's is stored; a linking group's old holders were all found
        # (a value a delta entity holds now was probed; one it only lost cannot grow).
        con.execute(
            "CREATE OR REPLACE TEMP TABLE idr_group_change AS "
            "SELECT v.*, coalesce(v.skipped_size, h.n, 0) + v.change AS new_size FROM idr_value_change v LEFT JOIN ("
            "  SELECT type_idx, value_norm, count(*) AS n FROM idr_hits GROUP BY ALL) h USING (type_idx, value_norm)")

        # Clusters that can change: those of entities whose identifiers changed, that were
        # removed, or that hold a changed value; and every entity in them.
        con.execute(
            "CREATE OR REPLACE TEMP TABLE idr_scope_clusters AS "
            "SELECT resolved_id FROM idr_delta_old WHERE entity_id IN (SELECT entity_id FROM idr_changed_pairs) "
            "  OR entity_key IN (SELECT entity_key FROM idr_removed_entities) UNION "
            f"SELECT resolved_id FROM {out(MEMBERSHIP)} WHERE entity_id IN (SELECT entity_id FROM idr_value_holders)")
        con.execute(f"CREATE OR REPLACE TEMP TABLE idr_scope_old AS SELECT entity_key, table_id, resolved_id, entity_id "
                    f"FROM {out(MEMBERSHIP)} WHERE resolved_id IN (SELECT resolved_id FROM idr_scope_clusters)")

        # Delta entities whose identifiers did not change and whose cluster is not in scope
        # keep everything: leave them out (their groups are not all in the scope).
        con.execute("DELETE FROM idr_entities WHERE entity_id NOT IN (SELECT entity_id FROM idr_scope_old) "
                    "AND entity_id IN (SELECT entity_id FROM idr_delta_old)")
        con.execute("DELETE FROM idr_status WHERE eid NOT IN (SELECT eid FROM idr_entities)")

        # The scope's other members come from the published state with their identifiers.
        nodes = ctx.counts["nodes"]
        con.execute(
            "CREATE OR REPLACE TEMP TABLE idr_carried AS "
            f"SELECT entity_key, table_id, {int(nodes)} + row_number() OVER () - 1 AS eid, hash(entity_key) AS h, "
            "entity_id FROM idr_scope_old WHERE entity_key NOT IN (SELECT entity_key FROM idr_delta_keys)")
        carried = ctx.count("SELECT count(*) FROM idr_carried")
        con.execute("INSERT INTO idr_entities BY NAME SELECT * FROM idr_carried")
        con.execute(
            "CREATE OR REPLACE TEMP TABLE idr_carried_ids AS "
            "SELECT c.eid, c.h, t.type_idx::SMALLINT AS type_idx, i.identifier_value_norm AS value_norm "
            f"FROM {out(PAIRS)} i JOIN idr_carried c USING (entity_id) JOIN idr_types t USING (identifier_type)")
        con.execute(
            "CREATE OR REPLACE TEMP VIEW idr_ids AS "
            f"SELECT eid, h, type_idx, value_norm FROM idr_status WHERE status = {ok} AND NOT dup UNION ALL "
            f"SELECT DISTINCT eid, h, type_idx, value_norm FROM idr_status WHERE status = {ok} AND dup UNION ALL "
            "SELECT eid, h, type_idx, value_norm FROM idr_carried_ids")

        # True sizes of the groups whose holders may straddle the scope: the skipped ones
        # (a linking group's holders are all in the scope, so counting them there is exact).
        con.execute(
            "CREATE OR REPLACE TEMP TABLE idr_group_sizes AS "
            "SELECT type_idx, value_norm, new_size AS n FROM idr_group_change WHERE skipped_size IS NOT NULL UNION ALL "
            "SELECT t.type_idx, s.identifier_value_norm, s.group_size "
            f"FROM {out(SKIPPED)} s JOIN idr_types t USING (identifier_type) "
            "ANTI JOIN idr_group_change g ON g.type_idx = t.type_idx AND g.value_norm = s.identifier_value_norm")

        ctx.counts["nodes"] = nodes + carried
        ctx.counts["entities_removed"] = ctx.count("SELECT count(*) FROM idr_removed_entities")
        ctx.counts["scope_entities"] = st.rows_out = ctx.count("SELECT count(*) FROM idr_entities")
        ctx.counts["identifiers_linkable"] = ctx.count("SELECT count(*) FROM idr_ids")


def _number_delta(ctx: RunContext) -> None:
    """The published number and cluster of each delta entity that existed before
    (idr_delta_old), the removed ones (idr_removed_entities), and entity_id on idr_entities:
    the published number, or the next free ones for new entities (in key order, so the
    same delta numbers its entities the same way)."""
    con = ctx.con
    con.execute(f"CREATE OR REPLACE TEMP TABLE idr_delta_old AS SELECT entity_key, entity_id, resolved_id "
                f"FROM {out(MEMBERSHIP)} WHERE entity_key IN (SELECT entity_key FROM idr_delta_keys)")
    con.execute("CREATE OR REPLACE TEMP TABLE idr_removed_entities AS SELECT entity_key FROM idr_delta_old "
                "ANTI JOIN idr_entities USING (entity_key)")
    free = ctx.count(f"SELECT coalesce(max(entity_id) + 1, 0) FROM {out(MEMBERSHIP)}")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE idr_entities AS SELECT e.*, coalesce(o.entity_id, n.entity_id) AS entity_id "
        "FROM idr_entities e LEFT JOIN idr_delta_old o USING (entity_key) LEFT JOIN ("
        f"  SELECT entity_key, {int(free)} + row_number() OVER (ORDER BY entity_key) - 1 AS entity_id "
        "  FROM idr_entities ANTI JOIN idr_delta_old USING (entity_key)) n USING (entity_key)")
