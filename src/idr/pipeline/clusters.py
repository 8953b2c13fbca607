"""Stages 6-7: connected components over the edges, then the proposed clusters with stable ids.

Output (temp relations the publish and dry-run stages read):
- idr_proposed_clusters(component, resolved_id, cluster_size): every cluster of the scope;
- idr_proposed_membership(entity_key, resolved_id, table_id, entity_id): every entity of the scope;
- idr_lineage(event, resolved_id, related_resolved_id, entities_moved, resolved_cluster_size,
  related_cluster_size): merges and splits, sizes taken before publishing replaces the clusters.
The scope is everything for FULL and the affected clusters for INCR (pipeline/scope.py).
"""

from __future__ import annotations

from ..graph import connected_components
from ..schema import CLUSTERS, out
from ..sql import clusters as q
from .context import RunContext
from .stable_ids import assign_resolved_ids


def components(ctx: RunContext) -> None:
    with ctx.stage("components") as st:
        st.rows_in = ctx.counts["edges"]
        cc = connected_components(ctx.db, "idr_edges", ctx.counts["nodes"], strategy=ctx.strategy,
                                  max_iters=ctx.max_iters, out_table="idr_cc")
        ctx.counts["components_rounds"] = cc.rounds
        ctx.db.drop("idr_edges")  # nothing reads the edges again: free their memory now
        # Node ids no entity uses (rows without a key, repeated keys) are isolated nodes,
        # one component each: not clusters.
        st.rows_out = cc.count - (ctx.counts["nodes"] - ctx.count("SELECT count(*) FROM idr_entities"))
        ctx.cc_table = cc.table


def membership(ctx: RunContext) -> None:
    db = ctx.db
    with ctx.stage("membership") as st:
        st.rows_in = ctx.count("SELECT count(*) FROM idr_entities")
        db.materialise("idr_clusters", q.clusters_sql(ctx.cc_table))
        assign_resolved_ids(ctx)
        # read no more: free them
        db.drop("idr_clusters", "idr_overlap", "idr_kept", "idr_fresh", "idr_clash", "idr_taken")
        # A view: publishing reads it once, so materialising it would only copy strings.
        db.view("idr_proposed_membership", q.proposed_membership_sql(ctx.cc_table, ctx.mode == "INCR"))
        st.rows_out = ctx.counts["clusters_impacted"] = ctx.count("SELECT count(*) FROM idr_proposed_clusters")
        _cluster_counts(ctx)


def _cluster_counts(ctx: RunContext) -> None:
    """Totals over the clusters as they will be after publishing. INCR: the published
    totals, minus the scope's old clusters, plus its new ones; no pass over the ids."""
    db, d = ctx.db, ctx.d
    threshold = ctx.plan.settings["large_cluster_threshold"]
    t = {"t": threshold}
    total, largest, singletons, large, resolved, over_1000 = (int(v or 0) for v in db.one(
        q.cluster_stats_sql(d, "idr_proposed_clusters"), t))
    if ctx.mode == "INCR":
        now = db.one(q.cluster_stats_sql(d, out(CLUSTERS)), t)
        old = db.one(q.cluster_stats_sql(d, "(SELECT count(*) AS cluster_size FROM idr_scope_old "
                                            "GROUP BY resolved_id) AS o"), t)
        total, singletons, large, resolved, over_1000 = (p + int(n or 0) - int(o or 0) for p, n, o in zip(
            (total, singletons, large, resolved, over_1000), (now[0], now[2], now[3], now[4], now[5]),
            (old[0], old[2], old[3], old[4], old[5])))
        # The largest cluster the run leaves alone: among the K+1 largest published ones
        # (K = clusters in scope) at least one is outside the scope; only those few are
        # checked against the scope's ids.
        k = ctx.count("SELECT count(*) FROM idr_scope_clusters")
        floor = db.scalar(f"SELECT cluster_size FROM {out(CLUSTERS)} ORDER BY cluster_size DESC LIMIT 1 OFFSET ?", [k])
        if floor is not None:
            kept = db.scalar(f"SELECT max(cluster_size) FROM {out(CLUSTERS)} WHERE cluster_size >= ? "
                             "AND resolved_id NOT IN (SELECT resolved_id FROM idr_scope_clusters)", [floor])
            largest = max(largest, int(kept or 0))
    ctx.counts.update(clusters=total, largest_cluster=largest, singletons=singletons, large_clusters=large,
                      entities_resolved=resolved, clusters_over_1000=over_1000)
    if large:
        ctx.warnings.append(
            f"{large:,} cluster(s) larger than large_cluster_threshold={threshold:,} (largest: {largest:,})"
        )
