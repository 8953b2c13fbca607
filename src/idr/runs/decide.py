"""`idr approve` and `idr reject`: decide on a run the anomaly gate held (runs/gate.py).

Approving publishes the kept result exactly as it was computed, through the same publish
stage a run uses, and only while it still applies: nothing may have been published since
the run was computed (its baseline is still the current published run) and the
configuration must be the one it was computed with. Otherwise it must be rejected and the
run repeated. Rejecting discards the kept result. Both keep the run's row in run_history
(status SUCCESS_WITH_WARNINGS or REJECTED, the decision appended to its warnings).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from ..config.meta import read_config
from ..config.validate import build_plan
from ..errors import InputError
from ..pipeline.context import RunContext, StageRecord, utcnow
from ..publish import snapshot
from ..schema import require_initialised
from . import gate, publish
from .history import Status, counts_of, finish
from .state import config_fingerprint, last_published_run, read_baseline, source_fingerprint


@dataclass
class Decision:
    run_id: str
    status: str
    published_since: str | None = None


def _held(db, run_id: str) -> dict:
    row = db.rows(
        "SELECT run_mode, status, started_at, config_fingerprint, baseline_run_id, held_state, warnings, "
        "components_strategy FROM idr_out.run_history WHERE run_id = ?", [run_id])
    if not row:
        raise InputError(f"{run_id}: no such run in idr_out.run_history (see `idr runs`)")
    keys = ("mode", "status", "started_at", "fingerprint", "baseline", "state", "warnings", "strategy")
    held = dict(zip(keys, row[0]))
    if held["status"] != Status.HELD.value:
        raise InputError(f"{run_id}: run has status {held['status']}; only a HELD run can be approved or rejected")
    held["state"] = json.loads(held["state"] or "{}")
    held["warnings"] = [w for w in (held["warnings"] or "").split("; ") if w]
    return held


def approve_run(db: str, run_id: str) -> Decision:
    """Publish a HELD run's kept result as computed (InputError when it no longer applies)."""
    from .history import mark_interrupted
    from .runner import _exclusive, _export_metrics

    with _exclusive(db) as backend:
        require_initialised(backend, db)
        mark_interrupted(backend)
        held = _held(backend, run_id)
        if snapshot.reconcile(backend).lost:
            raise InputError(f"{run_id}: the published results it was computed on cannot be read any more; "
                             f"`idr reject {run_id}` and run FULL")
        last = last_published_run(backend)
        current = last[0] if last else None
        if current != held["baseline"]:
            raise InputError(f"{run_id}: run {current} published results after this run was computed on "
                             f"{held['baseline'] or 'an empty database'}, so this result no longer applies; "
                             f"`idr reject {run_id}` and run again")
        plan = build_plan(backend, read_config(backend))
        sources = {s.table_id: source_fingerprint(s) for s in plan.sources}
        if config_fingerprint(plan, backend.name) != held["fingerprint"] or sources != held["state"].get("sources"):
            raise InputError(f"{run_id}: the configuration changed since this run was computed, so its result "
                             f"does not match it; `idr reject {run_id}` and run again")
        ctx = RunContext(db=backend, run_id=run_id, mode=held["mode"], plan=plan, started_at=held["started_at"],
                         max_iters=plan.settings["max_iters"], strategy=held["strategy"] or "inprocess",
                         baseline=read_baseline(backend),
                         watermarks={t: datetime.fromisoformat(w)
                                     for t, w in held["state"].get("watermarks", {}).items()})
        ctx.counts = counts_of(backend, run_id)
        ctx.warnings = held["warnings"] + [f"approved by `idr approve` at {utcnow():%Y-%m-%d %H:%M:%S} UTC"]
        gate.restore_result(backend, run_id, held["state"].get("relations", []))
        status = Status.SUCCESS_WITH_WARNINGS

        def finalize(c):
            finish(c, ctx, status, ended_at=utcnow(), record_metrics=False)
            _restate_metrics(c, run_id, status.value, published=True, stages=ctx.stages)
            gate.drop_result(c, run_id)

        with backend.transaction():
            pending = publish.publish(ctx, finalize)
        # Readers switch to the new snapshot, as after a run (publish/snapshot.py).
        snapshot.after_commit(backend, pending, plan.settings["rollback_retention_runs"])
        _export_metrics(backend, run_id)
        return Decision(run_id, status.value)


def reject_run(db: str, run_id: str) -> Decision:
    """Discard a HELD run's kept result; the published results stay as they are."""
    from .history import mark_interrupted
    from .runner import _exclusive, _export_metrics

    with _exclusive(db) as backend:
        require_initialised(backend, db)
        mark_interrupted(backend)
        held = _held(backend, run_id)
        warnings = held["warnings"] + [f"rejected by `idr reject` at {utcnow():%Y-%m-%d %H:%M:%S} UTC"]
        with backend.transaction():
            backend.run("UPDATE idr_out.run_history SET status = ?, warnings = ? WHERE run_id = ?",
                        [Status.REJECTED.value, "; ".join(warnings), run_id])
            gate.drop_result(backend, run_id)
            _restate_metrics(backend, run_id, Status.REJECTED.value, published=False, stages=[])
        _export_metrics(backend, run_id)
        return Decision(run_id, Status.REJECTED.value)


def _restate_metrics(db, run_id: str, status: str, *, published: bool, stages: list[StageRecord]) -> None:
    """The run's metrics after a decision: its new status, and for a published run the
    cluster metrics and the publish stage. Recorded at the run's original time, so a run
    decided on later does not pass for the newest run in monitoring."""
    from ..metrics.collect import cluster_rows, insert_rows, stage_rows
    from ..metrics.taxonomy import RUN_STATUS

    at = db.scalar("SELECT max(recorded_at) FROM idr_out.metrics_export WHERE run_id = ?", [run_id])
    db.run("DELETE FROM idr_out.metrics_export WHERE run_id = ? AND metric_name = ?", [run_id, RUN_STATUS])
    rows = [(RUN_STATUS, 1.0, {"status": status})]
    if published:
        rows += cluster_rows(db) + stage_rows(stages)
    insert_rows(db, run_id, rows, recorded_at=at)
