"""What the last published run left behind, and whether an INCR run may build on it.

An INCR run is only exact if the configuration that produced the published state is the
one in force now. The run therefore records fingerprints: one of everything that changes
the answer for all sources (active rules, exclusions, placeholder list, phone region, and
the engine and the versions of idr and phonenumbers: engines agree on the answer, but an
INCR builds only on state its own engine published) in
run_history.config_fingerprint, and one per source (table, key, mappings, soft-delete
condition) in idr_meta.run_state.source_fingerprint. A new source is read whole by INCR;
any other change makes the run FULL (or, with --no-auto-full, stops it).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime

from ..config.validate import Plan, SourcePlan
from ..errors import InputError
from ..hints import idr_command

# Statuses whose outputs were published.
PUBLISHED = ("SUCCESS", "SUCCESS_WITH_WARNINGS")


def _digest(data) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def config_fingerprint(plan: Plan, engine: str) -> str:
    rules = sorted((t, r.canonicalize.upper(), r.max_group_size) for t, r in plan.rules.items())
    exclusions = sorted((e.identifier_type, e.identifier_value_pattern, bool(e.is_pattern))
                        for e in plan.config.exclusions)
    settings = {k: plan.settings[k] for k in ("placeholder_values", "phone_default_region")}
    # A new idr or phonenumbers may normalise values differently: INCR must not mix them.
    from importlib.metadata import version

    code = {"idr": version("idr"), "phonenumbers": version("phonenumbers"), "engine": engine}
    return _digest({"rules": rules, "exclusions": exclusions, "settings": settings, "code": code})


def config_snapshot(plan: Plan) -> str:
    """The whole configuration the run uses, as JSON (run_history.config_snapshot), so a
    dry-run report can say what changed since the published run."""
    return json.dumps(plan.config.model_dump(mode="json"), sort_keys=True)


def source_fingerprint(src: SourcePlan) -> str:
    return _digest({"relation": src.relation_sql, "key": src.key_sql, "deleted": src.deleted_sql,
                    "mappings": sorted((m.identifier_type, m.value_sql, m.is_hashed) for m in src.mappings)})


@dataclass(frozen=True)
class SourceState:
    table_id: str
    last_watermark: datetime | None
    fingerprint: str | None


@dataclass
class Baseline:
    """The published state a run starts from (run_id None: nothing published yet)."""

    run_id: str | None = None
    config_fingerprint: str | None = None
    sources: dict[str, SourceState] = field(default_factory=dict)


def last_published_run(db) -> tuple[str, str | None] | None:
    """(run_id, config_fingerprint) of the run whose outputs are current, if any."""
    row = db.rows(
        "SELECT run_id, config_fingerprint FROM idr_out.run_history "
        f"WHERE status IN {PUBLISHED} AND run_mode IN ('FULL', 'INCR') AND rolled_back_by IS NULL "
        "ORDER BY started_at DESC, run_id DESC LIMIT 1")
    return row[0] if row else None


def read_baseline(db) -> Baseline:
    last = last_published_run(db)
    if last is None:
        return Baseline()
    sources = {t: SourceState(t, wm, fp) for t, wm, fp in db.rows(
        "SELECT table_id, last_watermark_value, source_fingerprint FROM idr_meta.run_state")}
    return Baseline(last[0], last[1], sources)


def why_not_incremental(plan: Plan, baseline: Baseline, engine: str) -> str | None:
    """None if INCR can build on the baseline; otherwise the reason it cannot."""
    if baseline.run_id is None:
        return "no earlier published run to build on"
    if baseline.config_fingerprint != config_fingerprint(plan, engine):
        return f"rules, exclusions or settings changed since run {baseline.run_id}"
    active = {s.table_id: s for s in plan.sources}
    for table_id in sorted(baseline.sources):
        if table_id not in active:
            return f"source {table_id!r} was removed or deactivated since run {baseline.run_id}"
    for table_id, src in sorted(active.items()):
        state = baseline.sources.get(table_id)
        if state is not None and state.fingerprint != source_fingerprint(src):
            return f"source {table_id!r} changed (table, key, identifiers or deleted_expr) since run {baseline.run_id}"
    return None


def choose_mode(requested: str, plan: Plan, baseline: Baseline, auto_full: bool, engine: str,
                db: str) -> tuple[str, str | None]:
    """(mode to run, reason when an INCR request runs as FULL)."""
    if requested == "FULL":
        return "FULL", None
    reason = why_not_incremental(plan, baseline, engine)
    if reason is None:
        return "INCR", None
    if not auto_full:
        raise InputError(f"--run-mode INCR --no-auto-full: an incremental run would not be exact: {reason}. "
                         f"Run `{idr_command('run', '--run-mode', 'FULL', db=db)}`, or drop --no-auto-full to let "
                         "INCR run as FULL")
    return "FULL", f"INCR requested; ran FULL because {reason}"


def write_run_state(db, plan: Plan, run_id: str, ts: datetime, watermarks: dict[str, datetime | None]) -> None:
    """One row per active source; rows of sources no longer active are dropped (a FULL run
    removed their entities, and a later INCR must read them whole if they come back)."""
    db.run("DELETE FROM idr_meta.run_state")
    db.run_many(
        "INSERT INTO idr_meta.run_state (table_id, last_watermark_value, last_run_id, last_run_ts, "
        "source_fingerprint) VALUES (?, ?, ?, ?, ?)",
        [[s.table_id, watermarks.get(s.table_id), run_id, ts, source_fingerprint(s)] for s in plan.sources])
