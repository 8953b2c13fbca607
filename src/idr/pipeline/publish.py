"""Stage 8: replace the *_current outputs in one transaction.

Readers see the previous results or the new ones, never a mix; if anything fails here the
transaction rolls back and the previous results stay exactly as they were.
"""

from __future__ import annotations

from ..backends.duckdb import transaction
from ..schema import table_ddl
from ..sql.quoting import qualified
from .context import RunContext

OUTPUT_SELECTS = {
    "identity_resolved_membership_current":
        "SELECT entity_key, resolved_id, table_id, $run_id, $ts FROM idr_membership",
    "identity_clusters_current":
        "SELECT resolved_id, cluster_size, $run_id, $ts FROM idr_clusters",
    "identity_edges_current":
        "SELECT t.identifier_type, d.value_norm, s.entity_key, a.entity_key, $run_id FROM idr_edges d "
        "JOIN idr_entities s ON s.eid = d.src JOIN idr_entities a ON a.eid = d.dst JOIN idr_types t USING (type_idx)",
}


def publish(ctx: RunContext, finalize) -> None:
    """Write outputs, then call finalize(con) inside the same transaction (run_history etc.)."""
    con = ctx.con
    params = {"run_id": ctx.run_id, "ts": ctx.started_at}
    with transaction(con):
        with ctx.stage("publish") as st:
            st.rows_in = ctx.counts["entities"]
            for table, select in OUTPUT_SELECTS.items():
                # Drop and recreate: cheaper than DELETE for a full replacement, and
                # leaves no deleted rows behind to vacuum.
                con.execute(f"DROP TABLE IF EXISTS {qualified('idr_out', table)}")
                con.execute(table_ddl("idr_out", table))
                used = {k: v for k, v in params.items() if f"${k}" in select}
                con.execute(f"INSERT INTO {qualified('idr_out', table)} {select}", used)
            con.execute(
                "INSERT INTO idr_out.skipped_identifier_groups "
                "(run_id, identifier_type, identifier_value_norm, group_size, max_allowed, sample_entity_keys, reason) "
                "SELECT $run_id, identifier_type, identifier_value_norm, group_size, max_allowed, sample_entity_keys, "
                "'group_size ' || group_size || ' > max_group_size ' || max_allowed FROM idr_skipped",
                {"run_id": ctx.run_id},
            )
            st.rows_out = ctx.counts["entities"]
        # run_history and stage_metrics commit together with the outputs they describe.
        finalize(con)
