"""Stage 8: publish the run's outputs, watermarks and audit rows in the runner's transaction.

The outputs go to the run's snapshot (publish/snapshot.py), the only copy of the published
state: FULL writes each state table as one Parquet file straight from the run's relations;
INCR writes change files (rows of its scope that changed). Readers see the previous
results or the new ones, never a mix; if anything fails here the transaction rolls back,
the database's views still read the previous snapshot and the new files are never used.
Previous snapshots stay on disk within the rollback window (`idr rollback` switches back).
"""

from __future__ import annotations

from ..pipeline.context import RunContext
from ..publish import snapshot
from ..schema import CLUSTERS, MEMBERSHIP, PAIRS, SKIPPED
from ..sql.clusters import lineage_insert_sql
from ..sql.dialects import Dialect
from ..sql.quoting import qualified
from . import rollback
from .changes import publish_changes
from .golden_publish import publish_golden
from .state import write_run_state

# identity_identifiers_current and identity_edges_current are views over these (schema.views).

# FULL: every output from the run's relations, in the table's declared column order.
# (Dropping a temp table inside the publishing transaction would free nothing before the
# COMMIT, so the run's intermediates are dropped, where they can be, before it.)
def full_selects(d: Dialect) -> dict[str, str]:
    run_id, ts = d.param("run_id"), d.param("ts")
    return {
        PAIRS: f"SELECT i.eid, t.identifier_type, i.value_norm, {run_id} FROM idr_ids i JOIN idr_types t USING (type_idx)",
        MEMBERSHIP: f"SELECT entity_key, resolved_id, table_id, {run_id}, {ts}, entity_id FROM idr_proposed_membership",
        CLUSTERS: f"SELECT resolved_id, cluster_size, {run_id}, {ts} FROM idr_proposed_clusters",
        SKIPPED: f"SELECT identifier_type, identifier_value_norm, group_size, max_allowed, {run_id} FROM idr_skipped",
    }


# INCR: (data columns, the scope's new rows, which published rows the scope covers: a
# condition, or a SELECT of rows the scope stage already read with every column).
INCR_UPDATES = {
    MEMBERSHIP: (["entity_key", "resolved_id", "table_id", "entity_id"],
                 "SELECT entity_key, resolved_id, table_id, entity_id FROM idr_proposed_membership",
                 "SELECT * FROM idr_scope_old"),
    CLUSTERS: (["resolved_id", "cluster_size"], "SELECT resolved_id, cluster_size FROM idr_proposed_clusters",
               "resolved_id IN (SELECT resolved_id FROM idr_scope_clusters)"),
    PAIRS: (["entity_id", "identifier_type", "identifier_value_norm"],
            "SELECT n.entity_id, t.identifier_type, n.value_norm FROM idr_new_ids n JOIN idr_types t USING (type_idx)",
            "SELECT entity_id, identifier_type, identifier_value_norm, run_id FROM idr_published_pairs WHERE own"),
    SKIPPED: (["identifier_type", "identifier_value_norm", "group_size", "max_allowed"],
              "SELECT identifier_type, value_norm, new_size, max_size FROM idr_group_change WHERE new_size > max_size",
              "(identifier_type, identifier_value_norm) IN (SELECT identifier_type, value_norm FROM idr_group_change)"),
}


def skipped_groups_insert_sql(d: Dialect) -> str:
    return ("INSERT INTO idr_out.skipped_identifier_groups "
            "(run_id, identifier_type, identifier_value_norm, group_size, max_allowed, sample_entity_keys, reason) "
            f"SELECT {d.param('run_id')}, identifier_type, identifier_value_norm, group_size, max_allowed, "
            "sample_entity_keys, 'group_size ' || group_size || ' > max_group_size ' || max_allowed FROM idr_skipped")


STAMPED = {MEMBERSHIP, CLUSTERS}  # tables with an updated_ts column

# Every session relation publish() reads, by mode: what a run held by the anomaly gate
# keeps so that `idr approve` can publish it later (runs/gate.py). A test holds and
# approves runs of both modes and compares with publishing at once, so a missing name shows.
READS = {
    "FULL": ("idr_entities", "idr_ids", "idr_types", "idr_proposed_membership", "idr_proposed_clusters",
             "idr_skipped", "idr_lineage"),
    "INCR": ("idr_entities", "idr_types", "idr_proposed_membership", "idr_proposed_clusters", "idr_skipped",
             "idr_lineage", "idr_scope_old", "idr_scope_clusters", "idr_new_ids", "idr_delta_old",
             "idr_published_pairs", "idr_group_change"),
}


def publish(ctx: RunContext, finalize) -> snapshot.Pending:
    """Write outputs, then call finalize(db) inside the same transaction (run_history etc.).
    The caller (the runner) owns the transaction: this runs inside it. Returns the run's
    snapshot, written and not yet current (publish/snapshot.py)."""
    db, d = ctx.db, ctx.d
    params = {"run_id": ctx.run_id, "ts": ctx.started_at}
    with ctx.stage("publish") as st:
        st.rows_in = ctx.count("SELECT count(*) FROM idr_entities")
        written = 0
        pending = snapshot.start(db, ctx.run_id)
        previous = snapshot.published_manifest(db, exclude=ctx.run_id) if ctx.mode == "INCR" else None
        selects = full_selects(d)
        for table in selects:
            if ctx.mode == "FULL":
                select = selects[table]
                used = {k: v for k, v in params.items() if d.param(k) in select}
                snapshot.write_whole(db, pending, table, select, used)
            else:
                cols, new_sql, scope = INCR_UPDATES[table]
                stamps = {"run_id": ctx.run_id, **({"updated_ts": ctx.started_at} if table in STAMPED else {})}
                rows = scope.startswith("SELECT ")
                written += publish_changes(db, pending, _entry(previous, table), table, cols, new_sql,
                                           None if rows else scope, stamps, scope_rows=scope if rows else None)
        _bound_entity_ids(db, pending, _entry(previous, MEMBERSHIP), ctx.mode, ctx.counts.get("free_entity_id"))
        written += publish_golden(ctx, pending, previous)
        # From here on this transaction reads the new state (the audit rows finalize writes,
        # e.g. cluster metrics, describe it); other connections see it at the commit.
        snapshot.point_views(db, snapshot.as_manifest(pending))
        rollback.save_run_state(db, ctx.run_id)
        previous = {t: s.last_watermark for t, s in (ctx.baseline.sources if ctx.mode == "INCR" else {}).items()}
        watermarks = _newest(previous, ctx.watermarks)
        write_run_state(db, ctx.plan, ctx.run_id, ctx.started_at, watermarks)
        ctx.counts["last_watermark"] = max((w for w in watermarks.values() if w is not None), default=None)
        db.run(skipped_groups_insert_sql(d), {"run_id": ctx.run_id})
        db.run(lineage_insert_sql(d), params)
        rollback.prune(db, ctx.plan.settings["rollback_retention_runs"], ctx.run_id)
        st.rows_out = written if ctx.mode == "INCR" else st.rows_in
    # run_history and stage_metrics commit together with the outputs they describe.
    finalize(db)
    return snapshot.finish(db, pending)  # the runner switches readers to it after the commit


def _bound_entity_ids(db, pending: snapshot.Pending, previous: dict | None, mode: str,
                      free: int | None) -> None:
    """Record in the membership's manifest entry a number no published entity_id exceeds
    ("max_entity_id"), so the next INCR numbers its new entities from there without a
    pass over the membership (with removed files such a pass reads every column: 0.9 s
    CPU at 10M). An upper bound: ids of entities removed since stay counted, which only
    leaves holes (entity ids are internal numbers; FULL renumbers them). free: the first
    number the scope stage gave new entities (everything published is below it)."""
    new = db.scalar("SELECT max(entity_id) FROM idr_proposed_membership")
    if mode == "INCR":
        known = (previous or {}).get("max_entity_id")
        if known is None and free is None:
            return  # not known: the next INCR reads the membership
        known = int(known) if known is not None else int(free) - 1
        new = max(known, int(new if new is not None else -1))
    if new is not None:
        pending.tables[MEMBERSHIP]["max_entity_id"] = int(new)


def _entry(manifest: dict | None, table: str) -> dict | None:
    return (manifest or {}).get("tables", {}).get(table)


def _newest(previous: dict, read: dict) -> dict:
    """Watermarks only move forward: a source with no newer rows keeps its value."""
    out = dict(previous)
    for table_id, wm in read.items():
        if wm is not None and (out.get(table_id) is None or wm > out[table_id]):
            out[table_id] = wm
    return out
