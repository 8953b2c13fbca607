"""Publish golden profiles (pipeline/golden.py's idr_golden) inside the run's transaction.

FULL: the previous golden table and provenance are kept whole for rollback and new ones
are created (the golden table's columns follow the configuration). INCR: the rows of
idr_golden_scope are made equal to idr_golden's, the replaced rows kept for rollback.
"""

from __future__ import annotations

from ..pipeline.context import RunContext
from ..pipeline.golden import output_columns, provenance_sql
from ..schema import GOLDEN, PROVENANCE, out
from ..sql.quoting import ident
from . import rollback


# The session relations publish_golden reads beyond publish.READS (idr_types): what a run
# held by the anomaly gate keeps for `idr approve` when golden profiles are configured.
READS = {"FULL": ("idr_golden",), "INCR": ("idr_golden", "idr_golden_scope")}


def reads(ctx: RunContext) -> tuple[str, ...]:
    return READS[ctx.mode] if ctx.plan.golden is not None else ()


def publish_golden(ctx: RunContext) -> int:
    """Rows written to golden_profile_current."""
    db, d, run_id = ctx.db, ctx.d, ctx.run_id
    if ctx.mode == "FULL":
        if ctx.plan.golden is None:
            for table in (GOLDEN, PROVENANCE):
                rollback.replace_whole(db, table, run_id)
            return 0
        rollback.keep_whole(db, GOLDEN, run_id)
        attrs = "".join(f", {ident(c)}" for c in output_columns(ctx))
        db.create_table(out(GOLDEN), f"SELECT resolved_id{attrs}, CAST({d.param('ts')} AS TIMESTAMP) AS updated_ts, "
                                     f"CAST({d.param('run_id')} AS VARCHAR) AS run_id FROM idr_golden",
                        {"ts": ctx.started_at, "run_id": run_id})
        rollback.replace_whole(db, PROVENANCE, run_id)
        sql, params = provenance_sql(ctx)
        db.run(f"INSERT INTO {out(PROVENANCE)} SELECT p.*, {d.param('run_id')} FROM ({sql}) AS p",
               {**params, "run_id": run_id})
        return ctx.count("SELECT count(*) FROM idr_golden")
    if ctx.plan.golden is None:
        return 0
    scope = "resolved_id IN (SELECT resolved_id FROM idr_golden_scope)"
    cols = ["resolved_id", *output_columns(ctx)]
    written = rollback.replace_rows(db, GOLDEN, run_id, cols, f"SELECT {', '.join(ident(c) for c in cols)} "
                                    "FROM idr_golden", scope, {"updated_ts": ctx.started_at, "run_id": run_id},
                                    null_safe=True)
    sql, params = provenance_sql(ctx)
    rollback.replace_rows(db, PROVENANCE, run_id, ["resolved_id", "attribute_name", "entity_key", "strategy"],
                          sql, scope, {"run_id": run_id}, params)
    return written
