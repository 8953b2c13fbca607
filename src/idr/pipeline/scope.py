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
from ..sql import scope as q
from .context import RunContext
from .normalize import STATUS, ids_sql


def build_scope(ctx: RunContext) -> None:
    db, d = ctx.db, ctx.d
    pairs, skipped, membership = out(PAIRS), out(SKIPPED), out(MEMBERSHIP)
    with ctx.stage("scope") as st:
        st.rows_in = ctx.counts["entities"]
        _number_delta(ctx)
        # What the delta's entities hold now; then, in one pass over the published pairs,
        # what they held before (a probe of integers) and the published holders of every
        # value they hold now (idr_hits, with the rows above). Values over the limit are
        # left out (a group of thousands stays skipped, see below).
        db.materialise("idr_new_ids", q.new_ids_sql(STATUS["ok"]))
        db.materialise("idr_probe_values", q.probe_values_sql(d, skipped))
        db.materialise("idr_published_pairs", q.published_pairs_sql(d, pairs))
        db.materialise("idr_old_ids", q.old_ids_sql())
        db.materialise("idr_hits", q.hits_sql())
        db.materialise("idr_changed_pairs", q.changed_pairs_sql())
        # Changed values, with the size of their group before and after. A group that
        # linked and lost holders had them all in one cluster, that of the delta entity
        # that left it: that cluster is in the scope anyway, so its holders need no lookup.
        db.materialise("idr_value_change", q.value_change_sql(skipped))
        # Holders of the changed values that link before or after the run: from the pass
        # above, plus (rarely) a skipped group shrinking under its limit.
        reopened = db.count(f"SELECT count(*) FROM ({q.REOPENED}) AS r") > 0
        db.materialise("idr_value_holders", q.value_holders_sql(d, pairs, reopened))
        # Sizes: a skipped group's is stored; a linking group's old holders were all found
        # (a value a delta entity holds now was probed; one it only lost cannot grow).
        db.materialise("idr_group_change", q.group_change_sql())

        # Clusters that can change: those of entities whose identifiers changed, that were
        # removed, or that hold a changed value; and every entity in them.
        db.materialise("idr_scope_clusters", q.scope_clusters_sql(membership))
        db.materialise("idr_scope_old", q.scope_old_sql(membership))

        # The scope's other members come from the published state with their identifiers,
        # numbered after the delta's nodes.
        nodes = ctx.counts["nodes"]
        db.number_rows("idr_carried", q.carried_sql(), "eid", start=nodes)
        carried = ctx.count("SELECT count(*) FROM idr_carried")
        db.materialise("idr_entities", q.scope_entities_sql())
        db.materialise("idr_status", q.scope_status_sql())
        db.materialise("idr_carried_ids", q.carried_ids_sql(d, pairs))
        db.view("idr_ids", q.scope_ids_sql(ids_sql()))

        # True sizes of the groups whose holders may straddle the scope: the skipped ones
        # (a linking group's holders are all in the scope, so counting them there is exact).
        db.materialise("idr_group_sizes", q.group_sizes_sql(d, skipped))

        ctx.counts["nodes"] = nodes + carried
        ctx.counts["entities_removed"] = ctx.count("SELECT count(*) FROM idr_removed_entities")
        ctx.counts["scope_entities"] = st.rows_out = ctx.count("SELECT count(*) FROM idr_entities")
        ctx.counts["identifiers_linkable"] = ctx.count("SELECT count(*) FROM idr_ids")


def _number_delta(ctx: RunContext) -> None:
    """The published number and cluster of each delta entity that existed before
    (idr_delta_old), the removed ones (idr_removed_entities), and entity_id on idr_entities:
    the published number, or the next free ones for new entities (in key order, so the
    same delta numbers its entities the same way)."""
    db, d = ctx.db, ctx.d
    db.materialise("idr_delta_old", q.delta_old_sql(out(MEMBERSHIP)))
    db.materialise("idr_removed_entities", q.removed_entities_sql(d))
    bound = ctx.counts.get("published_max_entity_id")  # from the manifest (runs/runner.py)
    free = int(bound) + 1 if bound is not None else \
        ctx.count(f"SELECT coalesce(max(entity_id) + 1, 0) FROM {out(MEMBERSHIP)}")
    ctx.counts["free_entity_id"] = free
    db.materialise("idr_entities", q.numbered_entities_sql(d, free))
