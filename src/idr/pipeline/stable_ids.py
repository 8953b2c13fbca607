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

from ..backends.duckdb import one_row
from ..schema import CLUSTERS, MEMBERSHIP, out
from .context import RunContext


def assign_resolved_ids(ctx: RunContext) -> None:
    con = ctx.con
    published = ctx.count(f"SELECT count(*) FROM (SELECT 1 FROM {out(CLUSTERS)} LIMIT 1)") > 0
    if not published:  # first run: nothing to keep, nothing to collide with
        con.execute("CREATE OR REPLACE TEMP TABLE idr_proposed_clusters AS "
                    "SELECT component, min_key AS resolved_id, cluster_size FROM idr_clusters")
        _empty_lineage(con)
        return
    old = "idr_scope_old" if ctx.mode == "INCR" else out(MEMBERSHIP)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE idr_overlap AS "
        "SELECT c.component, m.resolved_id AS old_id, count(*) AS n "
        f"FROM idr_entities e JOIN {ctx.cc_table} c ON c.node = e.eid JOIN {old} m USING (entity_key) GROUP BY ALL")
    # Steps 1 and 2 (see module docstring). Windows, not arg_min aggregates: measured at
    # 10M records the aggregates took 10% longer and 1 GiB more memory.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE idr_kept AS "
        "SELECT component, old_id FROM ("
        "  SELECT o.component, o.old_id, o.n FROM idr_overlap o JOIN idr_clusters k USING (component) "
        "  QUALIFY row_number() OVER (PARTITION BY o.old_id ORDER BY o.n DESC, k.min_key) = 1) "
        "QUALIFY row_number() OVER (PARTITION BY component ORDER BY n DESC, old_id) = 1")
    # Step 3: new ids, never one that another cluster uses.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE idr_fresh AS SELECT component, min_key, min_key AS resolved_id, 1 AS attempt "
        "FROM idr_clusters ANTI JOIN idr_kept USING (component)")
    # The published ids a new id could clash with: key or key#n for a new cluster's key
    # (one pass over the published ids; each round below then looks only at these).
    con.execute(
        "CREATE OR REPLACE TEMP TABLE idr_taken AS SELECT resolved_id FROM ("
        f"  SELECT resolved_id, CASE WHEN contains(resolved_id, '#') THEN regexp_replace(resolved_id, '#[0-9]+$', '') "
        f"  END AS base FROM {out(CLUSTERS)}) "
        "WHERE resolved_id IN (SELECT min_key FROM idr_fresh) OR base IN (SELECT min_key FROM idr_fresh)")
    while True:  # clashes are rare, rounds few
        con.execute(
            "CREATE OR REPLACE TEMP TABLE idr_clash AS SELECT component FROM idr_fresh "
            "WHERE resolved_id IN (SELECT resolved_id FROM idr_taken) "
            "OR resolved_id IN (SELECT resolved_id FROM idr_fresh GROUP BY 1 HAVING count(*) > 1) AND attempt > 1")
        if not ctx.count("SELECT count(*) FROM idr_clash"):
            break
        con.execute("UPDATE idr_fresh SET attempt = attempt + 1, resolved_id = min_key || '#' || (attempt + 1) "
                    "WHERE component IN (SELECT component FROM idr_clash)")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE idr_proposed_clusters AS "
        "SELECT c.component, coalesce(k.old_id, f.resolved_id) AS resolved_id, c.cluster_size FROM idr_clusters c "
        "LEFT JOIN idr_kept k USING (component) LEFT JOIN idr_fresh f USING (component)")
    # Every (new cluster, old cluster) pair whose ids differ is a merge or a split: a split
    # when the old id lives on elsewhere, a merge when it was absorbed. Those are the pairs
    # not kept (a fresh id is never a published one), found first since they are few.
    # Sizes are taken now, while the published tables still hold the state before the run:
    # the surviving side's size after the run; the other side's, the part that split off
    # or the absorbed cluster's size before the run (counted in the old membership, which
    # INCR has for every cluster of its scope).
    con.execute(
        "CREATE OR REPLACE TEMP TABLE idr_lineage_pairs AS "
        "SELECT CASE WHEN k.old_id IS NULL THEN 'MERGE' ELSE 'SPLIT' END AS event, "
        "  CASE WHEN k.old_id IS NULL THEN p.resolved_id ELSE o.old_id END AS resolved_id, "
        "  CASE WHEN k.old_id IS NULL THEN o.old_id ELSE p.resolved_id END AS related_resolved_id, "
        "  o.n AS entities_moved, p.cluster_size AS new_size, o.old_id "
        "FROM (SELECT * FROM idr_overlap ANTI JOIN idr_kept USING (component, old_id)) o "
        "JOIN idr_proposed_clusters p USING (component) "
        "LEFT JOIN idr_kept k ON k.old_id = o.old_id "  # an old id is kept by one cluster at most
        "WHERE p.resolved_id <> o.old_id")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE idr_lineage AS "
        "SELECT l.event, l.resolved_id, l.related_resolved_id, l.entities_moved, "
        "  CASE WHEN l.event = 'SPLIT' THEN s.cluster_size ELSE l.new_size END AS resolved_cluster_size, "
        "  CASE WHEN l.event = 'SPLIT' THEN l.new_size ELSE b.old_size END AS related_cluster_size "
        "FROM idr_lineage_pairs l "
        "LEFT JOIN idr_proposed_clusters s ON l.event = 'SPLIT' AND s.resolved_id = l.resolved_id "
        "LEFT JOIN (SELECT resolved_id AS old_id, count(*) AS old_size "
        f"           FROM {old} WHERE resolved_id IN (SELECT old_id FROM idr_lineage_pairs WHERE event = 'MERGE') "
        "           GROUP BY 1) b ON l.event = 'MERGE' AND b.old_id = l.old_id")
    con.execute("DROP TABLE idr_lineage_pairs")
    ctx.counts["merges"], ctx.counts["splits"] = one_row(
        con, "SELECT count(*) FILTER (event = 'MERGE'), count(*) FILTER (event = 'SPLIT') FROM idr_lineage")


def _empty_lineage(con) -> None:
    con.execute("CREATE OR REPLACE TEMP TABLE idr_lineage (event VARCHAR, resolved_id VARCHAR, "
                "related_resolved_id VARCHAR, entities_moved BIGINT, resolved_cluster_size BIGINT, "
                "related_cluster_size BIGINT)")


# Published with the run's outputs (pipeline/publish.py).
LINEAGE_INSERT = (
    "INSERT INTO idr_out.resolved_id_lineage (run_id, event, resolved_id, related_resolved_id, entities_moved, "
    "resolved_cluster_size, related_cluster_size, recorded_at) "
    "SELECT $run_id, event, resolved_id, related_resolved_id, entities_moved, resolved_cluster_size, "
    "related_cluster_size, $ts FROM idr_lineage"
)
