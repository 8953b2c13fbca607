"""Publish golden profiles (pipeline/golden.py's idr_golden) inside the run's transaction.

Both tables go to the run's snapshot like every state table (runs/publish.py): FULL writes
them whole (the golden table's columns follow the configuration; without golden profiles
configured, empty); INCR makes the rows of
idr_golden_scope equal to idr_golden's, as change files.
"""

from __future__ import annotations

from ..pipeline.context import RunContext
from ..pipeline.golden import output_columns, provenance_sql
from ..publish import snapshot
from ..schema import GOLDEN, PROVENANCE, empty_state_sql
from ..sql.quoting import ident
from .changes import publish_changes


# The session relations publish_golden reads beyond publish.READS (idr_types): what a run
# held by the anomaly gate keeps for `idr approve` when golden profiles are configured.
READS = {"FULL": ("idr_golden",), "INCR": ("idr_golden", "idr_golden_scope")}


def reads(ctx: RunContext) -> tuple[str, ...]:
    return READS[ctx.mode] if ctx.plan.golden is not None else ()


def publish_golden(ctx: RunContext, pending: snapshot.Pending, previous: dict | None) -> int:
    """Rows written to golden_profile_current. previous: the published snapshot's manifest
    (INCR)."""
    db, d, run_id = ctx.db, ctx.d, ctx.run_id
    tables = (previous or {}).get("tables", {})
    if ctx.plan.golden is None:  # published empty, so readers of the snapshot find both tables
        for table in (GOLDEN, PROVENANCE):
            if ctx.mode == "INCR" and table in tables:
                pending.tables[table] = tables[table]
            else:
                snapshot.write_whole(db, pending, table, empty_state_sql(table))
        return 0
    if ctx.mode == "FULL":
        attrs = "".join(f", {ident(c)}" for c in output_columns(ctx))
        rows = snapshot.write_whole(
            db, pending, GOLDEN, f"SELECT resolved_id{attrs}, CAST({d.param('ts')} AS TIMESTAMP) AS updated_ts, "
                                 f"CAST({d.param('run_id')} AS VARCHAR) AS run_id FROM idr_golden",
            {"ts": ctx.started_at, "run_id": run_id})
        sql, params = provenance_sql(ctx)
        snapshot.write_whole(db, pending, PROVENANCE, f"SELECT p.*, {d.param('run_id')} FROM ({sql}) AS p",
                             {**params, "run_id": run_id})
        return rows
    scope = "resolved_id IN (SELECT resolved_id FROM idr_golden_scope)"
    cols = ["resolved_id", *output_columns(ctx)]
    written = publish_changes(db, pending, tables.get(GOLDEN), GOLDEN, cols,
                              f"SELECT {', '.join(ident(c) for c in cols)} FROM idr_golden", scope,
                              {"updated_ts": ctx.started_at, "run_id": run_id}, null_safe=True)
    sql, params = provenance_sql(ctx)
    publish_changes(db, pending, tables.get(PROVENANCE), PROVENANCE,
                    ["resolved_id", "attribute_name", "entity_key", "strategy"], sql, scope, {"run_id": run_id},
                    params)
    return written
