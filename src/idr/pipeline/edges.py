"""Stages 4-5: group entities by identifier value, skip oversized groups, build star edges.

A group of n entities sharing a value yields n-1 edges (each member to the group's anchor),
never n(n-1)/2 pairs. Groups larger than the rule's max_group_size
create no edges and are recorded, with a few sample entity keys, for review.
"""

from __future__ import annotations

from ..schema import SKIPPED, out
from ..sql import edges as q
from .context import RunContext


def group_guard(ctx: RunContext) -> None:
    db, d = ctx.db, ctx.d
    with ctx.stage("group_guard") as st:
        st.rows_in = ctx.counts["identifiers_linkable"]
        db.materialise("idr_groups", q.groups_sql(ctx.mode == "INCR"))
        # The five smallest entity keys of each skipped group, as a sample for review.
        db.materialise("idr_skipped", q.skipped_sql(d))
        ctx.counts["groups_skipped"] = ctx.count("SELECT count(*) FROM idr_skipped")
        ctx.counts["groups_linking"] = ctx.count("SELECT count(*) FROM idr_groups WHERE NOT skipped")
        st.rows_out = ctx.counts["groups_linking"]
        ctx.counts["groups_skipped_by_type"] = dict(db.rows(q.skipped_by_type_sql()))


def build_edges(ctx: RunContext) -> None:
    db, d = ctx.db, ctx.d
    with ctx.stage("edges") as st:
        st.rows_in = ctx.counts["groups_linking"]
        db.materialise("idr_edges", q.edges_sql())
        if ctx.mode == "INCR":
            ctx.counts["edges_updated"] = ctx.count(q.edges_replaced_sql(d, out(SKIPPED)))
        db.drop("idr_groups")  # idr_ids stays: publish writes the identifiers
        ctx.counts["edges_by_type"] = dict(db.rows(q.edges_by_type_sql()))
        ctx.counts["edges"] = st.rows_out = sum(ctx.counts["edges_by_type"].values())
