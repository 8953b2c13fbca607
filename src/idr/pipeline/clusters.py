"""Stages 6-7: connected components over the edges, then membership and cluster tables.

resolved_id is the smallest entity key of the cluster: deterministic, so repeating a FULL
run on unchanged data yields the same ids, and a singleton's id is its own entity key.
"""

from __future__ import annotations

from ..backends.duckdb import one_row
from ..graph import connected_components
from .context import RunContext


def components(ctx: RunContext) -> None:
    with ctx.stage("components") as st:
        st.rows_in = ctx.counts["edges"]
        cc = connected_components(ctx.con, "idr_edges", ctx.counts["nodes"], strategy=ctx.strategy,
                                  max_iters=ctx.max_iters, out_table="idr_cc")
        ctx.counts["components_rounds"] = cc.rounds
        # Node ids no entity uses (rows without a key, repeated keys) are isolated nodes,
        # one component each: not clusters.
        st.rows_out = cc.count - (ctx.counts["nodes"] - ctx.counts["entities"])
        ctx.cc_table = cc.table


def membership(ctx: RunContext) -> None:
    con = ctx.con
    with ctx.stage("membership") as st:
        st.rows_in = ctx.counts["entities"]
        con.execute(
            "CREATE OR REPLACE TEMP TABLE idr_clusters AS "
            "SELECT c.component, min(e.entity_key) AS resolved_id, count(*) AS cluster_size "
            f"FROM idr_entities e JOIN {ctx.cc_table} c ON c.node = e.eid GROUP BY c.component"
        )
        # Membership is a view: publishing reads it once, so materialising it would only
        # copy a million rows of strings.
        con.execute(
            "CREATE OR REPLACE TEMP VIEW idr_membership AS "
            "SELECT e.entity_key, cl.resolved_id, e.table_id FROM idr_entities e "
            f"JOIN {ctx.cc_table} c ON c.node = e.eid JOIN idr_clusters cl USING (component)"
        )
        threshold = ctx.plan.settings["large_cluster_threshold"]
        total, largest, singletons, large = one_row(
            con,
            "SELECT count(*), coalesce(max(cluster_size), 0), count(*) FILTER (cluster_size = 1), "
            "count(*) FILTER (cluster_size > ?) FROM idr_clusters", [threshold],
        )
        ctx.counts.update(clusters=total, largest_cluster=largest, singletons=singletons, large_clusters=large)
        if large:
            ctx.warnings.append(
                f"{large:,} cluster(s) larger than large_cluster_threshold={threshold:,} (largest: {largest:,})"
            )
        st.rows_out = total
