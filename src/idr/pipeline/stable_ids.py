"""resolved_id that survive runs: unchanged clusters keep theirs, merges and splits are decided
by rule and recorded in idr_out.resolved_id_lineage.

Each new cluster is compared with the published clusters its members came from (the
overlap: how many of its members each old cluster gave it).
1. Each old id goes to the new cluster that received most of its members (a split: the
   largest part keeps the id); ties go to the part with the smallest entity key.
2. A new cluster offered several old ids keeps the one whose part is largest (a merge:
   the part with most members), ties broken by the smallest id.
3. A new cluster offered none gets a new id: its smallest entity key, unless another
   cluster uses that string as its id now (then key#2, key#3, ...). So a first run's ids
   are the smallest entity keys, and the same history gives the same ids, FULL or INCR.
"""

from __future__ import annotations

from ..schema import CLUSTERS, MEMBERSHIP, out
from ..sql import clusters as q
from .context import RunContext


def assign_resolved_ids(ctx: RunContext) -> None:
    db, d = ctx.db, ctx.d
    published = ctx.count(f"SELECT count(*) FROM (SELECT 1 FROM {out(CLUSTERS)} LIMIT 1) AS p") > 0
    if not published:  # first run: nothing to keep, nothing to collide with
        db.materialise("idr_proposed_clusters", q.first_run_clusters_sql())
        db.empty_relation("idr_lineage", q.LINEAGE_COLUMNS)
        return
    old = "idr_scope_old" if ctx.mode == "INCR" else out(MEMBERSHIP)
    db.materialise("idr_overlap", q.overlap_sql(ctx.cc_table, old))
    db.materialise("idr_kept", q.kept_sql(d))  # steps 1 and 2 (see module docstring)
    # Step 3: new ids, never one that another cluster uses.
    db.materialise("idr_fresh", q.fresh_sql(d))
    db.materialise("idr_taken", q.taken_sql(d, out(CLUSTERS)))
    while True:  # clashes are rare, rounds few
        db.materialise("idr_clash", q.clash_sql())
        if not ctx.count("SELECT count(*) FROM idr_clash"):
            break
        db.materialise("idr_fresh", q.next_attempt_sql(d))
    db.materialise("idr_proposed_clusters", q.proposed_clusters_sql())
    db.materialise("idr_lineage_pairs", q.lineage_pairs_sql(d))
    db.materialise("idr_lineage", q.lineage_sql(old))
    db.drop("idr_lineage_pairs")
    ctx.counts["merges"], ctx.counts["splits"] = db.one(q.lineage_counts_sql())
