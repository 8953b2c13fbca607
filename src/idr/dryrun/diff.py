"""The diff phase of a dry run: proposed membership vs the published one.

Called by the runner after the membership stage, instead of publishing. It reads the
pipeline's TEMP tables (contract below) and idr_out.*_current, and writes only
idr_out.dry_run_results and idr_out.dry_run_summary (the caller owns the transaction).

Contract with the pipeline, on the run's connection:
  idr_proposed_membership(entity_key, resolved_id, table_id)  every entity of the run's scope
  idr_proposed_clusters(resolved_id, cluster_size)             every proposed cluster of the scope
  idr_removed_entities(entity_key)                             current entities the run removes
  idr_ids(eid, type_idx, value_norm), idr_entities(eid, entity_key), idr_types(type_idx,
  identifier_type), idr_skipped(identifier_type, identifier_value_norm): the scope's linkable
  identifiers and the groups over max_group_size (they link nothing), for the bridges.
  scope_is_full: every current entity outside idr_proposed_membership is removed (FULL).
Otherwise (INCR) a current entity outside the scope keeps its current cluster and id.

Why the work is shaped like this: in an INCR run the scope is small and the published state
may hold millions of entities, so everything is computed on the scope ("idr_dr_scope") plus
per-cluster counts of the current clusters the scope touches; the current membership is only
scanned with filters, never materialised. Definitions are in docs/dry-run.md.
"""

from __future__ import annotations

import time

from ..backends import as_backend
from ..sql.dialects import Dialect
from ..errors import RunError
from ..pipeline.context import utcnow
from ..schema import MEMBERSHIP, out
from .model import DryRunSummary

CUR = out(MEMBERSHIP)
TEMP_TABLES = ("idr_dr_scope", "idr_dr_rids", "idr_dr_changed")


def scope_sql(scope_is_full: bool) -> str:
    """One row per entity in the scope or removed by the run, with its change type.

    An entity listed as removed that the scope also contains is not removed (the scope wins:
    the pipeline proposes a cluster for it). A removed key that is not current is ignored.
    FULL reads each side once (idr_proposed_membership may be a view over the whole run)
    and never reads idr_removed_entities, which a FULL run need not create."""
    if scope_is_full:
        return f"""
        SELECT coalesce(p.entity_key, c.entity_key) AS entity_key, coalesce(p.table_id, c.table_id) AS table_id,
               c.resolved_id AS cur_rid, p.resolved_id AS prop_rid,
               CASE WHEN p.entity_key IS NULL THEN 'REMOVED'
                    WHEN c.entity_key IS NULL THEN 'NEW'
                    WHEN c.resolved_id IS NOT DISTINCT FROM p.resolved_id THEN 'UNCHANGED'
                    ELSE 'MOVED' END AS change_type
        FROM idr_proposed_membership p FULL OUTER JOIN {CUR} c ON c.entity_key = p.entity_key
    """
    return f"""
        SELECT p.entity_key, coalesce(p.table_id, c.table_id) AS table_id,
               c.resolved_id AS cur_rid, p.resolved_id AS prop_rid,
               CASE WHEN c.entity_key IS NULL THEN 'NEW'
                    WHEN c.resolved_id IS NOT DISTINCT FROM p.resolved_id THEN 'UNCHANGED'
                    ELSE 'MOVED' END AS change_type
        FROM idr_proposed_membership p LEFT JOIN {CUR} c ON c.entity_key = p.entity_key
        UNION ALL
        SELECT c.entity_key, c.table_id, c.resolved_id, NULL, 'REMOVED'
        FROM {CUR} c
        WHERE c.entity_key IN (SELECT entity_key FROM idr_removed_entities)
          AND NOT EXISTS (SELECT 1 FROM idr_proposed_membership p WHERE p.entity_key = c.entity_key)
    """


def rids_sql(d: Dialect, scope_is_full: bool) -> str:
    """Per cluster id the scope touches (as current or proposed id): its current size, how
    many of its current entities stay outside the scope ("kept", INCR only: they keep this
    id) and its proposed size (scope entities proposed into it + kept)."""
    kept = f"SELECT {d.cast('NULL', 'VARCHAR')} AS rid, {d.cast('0', 'BIGINT')} AS kept WHERE false" \
        if scope_is_full else f"""
        SELECT c.resolved_id AS rid, count(*) AS kept FROM {CUR} c
        WHERE c.resolved_id IN (SELECT rid FROM rids)
          AND NOT EXISTS (SELECT 1 FROM idr_dr_scope s WHERE s.entity_key = c.entity_key)
        GROUP BY 1"""
    return f"""
        WITH rids AS (
            SELECT cur_rid AS rid FROM idr_dr_scope WHERE cur_rid IS NOT NULL
            UNION SELECT prop_rid FROM idr_dr_scope WHERE prop_rid IS NOT NULL),
        in_cur AS (SELECT cur_rid AS rid, count(*) AS n FROM idr_dr_scope
                   WHERE cur_rid IS NOT NULL GROUP BY 1),
        in_prop AS (SELECT prop_rid AS rid, count(*) AS n FROM idr_dr_scope
                    WHERE prop_rid IS NOT NULL GROUP BY 1),
        kept AS ({kept})
        SELECT r.rid, coalesce(k.kept, 0) AS kept,
               coalesce(ic.n, 0) + coalesce(k.kept, 0) AS cur_size,
               coalesce(ip.n, 0) + coalesce(k.kept, 0) AS prop_size
        FROM rids r LEFT JOIN in_cur ic ON ic.rid = r.rid LEFT JOIN in_prop ip ON ip.rid = r.rid
        LEFT JOIN kept k ON k.rid = r.rid
    """


# A cluster id "changes" when its member set changes: someone leaves it (MOVED away or
# REMOVED) or joins it (NEW or MOVED in). Its UNCHANGED members are listed too, so the
# results hold the complete before/after membership of every cluster that changes.
CHANGED_SQL = """
    SELECT cur_rid AS rid FROM idr_dr_scope WHERE change_type IN ('MOVED', 'REMOVED')
    UNION SELECT prop_rid FROM idr_dr_scope WHERE change_type IN ('NEW', 'MOVED')
"""

RESULT_COLS = ("run_id, entity_key, current_resolved_id, proposed_resolved_id, change_type, "
               "current_cluster_size, proposed_cluster_size, created_at, table_id")


def results_sql(d: Dialect, scope_is_full: bool) -> str:
    run_id, ts = d.param("run_id"), d.param("ts")
    kept_rows = "" if scope_is_full else f"""
        UNION ALL
        SELECT {run_id}, c.entity_key, c.resolved_id, c.resolved_id, 'UNCHANGED', r.cur_size,
               r.prop_size, {ts}, c.table_id
        FROM {CUR} c JOIN idr_dr_rids r ON r.rid = c.resolved_id
        WHERE c.resolved_id IN (SELECT rid FROM idr_dr_changed)
          AND NOT EXISTS (SELECT 1 FROM idr_dr_scope s WHERE s.entity_key = c.entity_key)"""
    return f"""
        INSERT INTO idr_out.dry_run_results ({RESULT_COLS})
        SELECT {run_id}, s.entity_key, s.cur_rid, s.prop_rid, s.change_type, rc.cur_size,
               rp.prop_size, {ts}, s.table_id
        FROM idr_dr_scope s LEFT JOIN idr_dr_rids rc ON rc.rid = s.cur_rid
        LEFT JOIN idr_dr_rids rp ON rp.rid = s.prop_rid
        WHERE s.change_type <> 'UNCHANGED' OR s.prop_rid IN (SELECT rid FROM idr_dr_changed)
        {kept_rows}
    """


# Overlap of current and proposed clusters over the entities that exist before and after:
# one (current id, proposed id) pair per pair of clusters sharing at least one entity.
# Kept entities (INCR, outside the scope) pair their id with itself.
MERGE_SPLIT_SQL = """
    WITH pairs AS (
        SELECT DISTINCT cur_rid, prop_rid FROM idr_dr_scope
        WHERE cur_rid IS NOT NULL AND prop_rid IS NOT NULL
        UNION SELECT rid, rid FROM idr_dr_rids WHERE kept > 0),
    merge_targets AS (SELECT prop_rid FROM pairs GROUP BY 1 HAVING count(*) >= 2),
    splits AS (SELECT cur_rid FROM pairs GROUP BY 1 HAVING count(*) >= 2)
    SELECT (SELECT count(DISTINCT cur_rid) FROM pairs WHERE prop_rid IN (SELECT prop_rid FROM merge_targets)),
           (SELECT count(*) FROM merge_targets),
           (SELECT count(*) FROM splits)
"""

COUNTS_SQL = """
    SELECT count(*) FILTER (WHERE change_type = 'NEW'),
           count(*) FILTER (WHERE change_type = 'MOVED'),
           count(*) FILTER (WHERE change_type = 'REMOVED'),
           count(*) FILTER (WHERE change_type = 'UNCHANGED'),
           count(*) FILTER (WHERE cur_rid IS NOT NULL)
    FROM idr_dr_scope
"""

# Proposed clusters outside the scope (INCR) are the current clusters the scope does not
# touch: same id, same size.
UNTOUCHED_SQL = """
    SELECT count(*), coalesce(max(cluster_size), 0) FROM idr_out.identity_clusters_current k
    WHERE NOT EXISTS (SELECT 1 FROM idr_dr_rids r WHERE r.rid = k.resolved_id)
"""

# The pipeline's cluster sizes must match its membership (plus kept entities): a mismatch
# means two clusters share an id or a size is wrong, and the preview would be wrong too.
CHECK_SQL = """
    SELECT coalesce(r.rid, p.resolved_id), p.cluster_size, coalesce(r.prop_size, 0)
    FROM (SELECT rid, prop_size FROM idr_dr_rids WHERE prop_size > 0
          AND rid IN (SELECT prop_rid FROM idr_dr_scope)) r
    FULL OUTER JOIN idr_proposed_clusters p ON p.resolved_id = r.rid
    WHERE p.cluster_size IS DISTINCT FROM r.prop_size
    LIMIT 3
"""

def bridges_sql(d: Dialect) -> str:
    """The identifier values that make each merge: values held by entities of two or more
    parts of a proposed cluster that combines current clusters. A part is a current cluster,
    or a new entity on its own (so a chain through a new entity shows both of its values)."""
    return f"""
    INSERT INTO idr_out.dry_run_bridges (run_id, proposed_resolved_id, identifier_type, identifier_value_norm,
                                         parts, entities, created_at)
    WITH merges AS (
        SELECT prop_rid FROM idr_dr_scope WHERE prop_rid IS NOT NULL
        GROUP BY prop_rid HAVING count(DISTINCT cur_rid) >= 2),
    held AS (
        SELECT DISTINCT s.prop_rid, coalesce(s.cur_rid, chr(0) || s.entity_key) AS part, s.entity_key,
               t.identifier_type, i.value_norm
        FROM idr_ids i JOIN idr_entities e USING (eid) JOIN idr_types t USING (type_idx)
        JOIN idr_dr_scope s ON s.entity_key = e.entity_key
        WHERE s.prop_rid IN (SELECT prop_rid FROM merges)
          AND NOT EXISTS (SELECT 1 FROM idr_skipped k WHERE k.identifier_type = t.identifier_type
                          AND k.identifier_value_norm = i.value_norm))
    SELECT {d.param('run_id')}, prop_rid, identifier_type, value_norm, count(DISTINCT part), count(*), {d.param('ts')}
    FROM held GROUP BY prop_rid, identifier_type, value_norm HAVING count(DISTINCT part) >= 2
"""


SUMMARY_COLS = ("run_id", "total_entities", "new_entities", "moved_entities", "merged_clusters",
                "split_clusters", "largest_proposed_cluster", "edges_would_create", "groups_would_skip",
                "values_would_exclude", "execution_time_seconds", "created_at", "mode", "removed_entities",
                "unchanged_entities", "affected_entities", "merged_into_clusters", "current_entities",
                "current_clusters", "proposed_clusters", "execution_seconds", "warnings", "compared_to_run_id")


def record_dry_run(db, run_id: str, mode: str, scope_is_full: bool, counts: dict,
                   execution_seconds: float, warnings: list[str] | tuple[str, ...] = (),
                   compared_to: str | None = None) -> DryRunSummary:
    """Compute the diff, write this run's rows to idr_out.dry_run_results and
    idr_out.dry_run_summary, and return the summary.

    execution_seconds is the run's time so far; the diff's own time is added to it, so the
    stored execution time covers the whole dry run. Writes nothing else; the caller wraps
    this and its run_history update in one transaction."""
    db = as_backend(db)
    t0 = time.perf_counter()
    created_at = utcnow()
    try:
        d = db.dialect
        db.materialise("idr_dr_scope", scope_sql(scope_is_full))
        db.materialise("idr_dr_rids", rids_sql(d, scope_is_full))
        _check_contract(db)
        db.materialise("idr_dr_changed", CHANGED_SQL)
        affected = db.insert(results_sql(d, scope_is_full), {"run_id": run_id, "ts": created_at})
        db.insert(bridges_sql(d), {"run_id": run_id, "ts": created_at})
        new, moved, removed, unchanged_in_scope, current_in_scope = db.one(COUNTS_SQL)
        merged, merged_into, split = db.one(MERGE_SPLIT_SQL)
        current_entities = int(db.scalar(f"SELECT count(*) FROM {CUR}"))
        current_clusters = int(db.scalar("SELECT count(*) FROM idr_out.identity_clusters_current"))
        touched_clusters, largest_touched = db.one(
            "SELECT count(*) FILTER (WHERE prop_size > 0), coalesce(max(prop_size), 0) FROM idr_dr_rids")
        kept_total = 0
        untouched_clusters, largest_untouched = 0, 0
        if not scope_is_full:
            kept_total = current_entities - current_in_scope
            untouched_clusters, largest_untouched = db.one(UNTOUCHED_SQL)
        unchanged = unchanged_in_scope + kept_total
        summary = DryRunSummary(
            run_id=run_id, mode=mode, total_entities=new + moved + unchanged, new_entities=new,
            moved_entities=moved, removed_entities=removed, unchanged_entities=unchanged,
            affected_entities=affected, merged_clusters=merged, merged_into_clusters=merged_into,
            split_clusters=split, largest_proposed_cluster=max(largest_touched, largest_untouched),
            current_entities=current_entities, current_clusters=current_clusters,
            proposed_clusters=touched_clusters + untouched_clusters,
            edges_would_create=int(counts.get("edges") or 0),
            groups_would_skip=int(counts.get("groups_skipped") or 0),
            values_would_exclude=int(counts.get("values_excluded") or 0),
            execution_seconds=execution_seconds + (time.perf_counter() - t0), created_at=created_at,
            warnings=list(warnings), compared_to_run_id=compared_to,
        )
        _insert_summary(db, summary)
        return summary
    finally:
        _drop_temps(db)


def _drop_temps(db) -> None:
    # After a failed statement DuckDB refuses everything until the caller rolls back (which
    # drops these too); the original error matters, so a failing DROP is ignored.
    for t in TEMP_TABLES:
        try:
            db.drop(t)
        except Exception:  # noqa: BLE001 - the original error matters more
            pass


def _check_contract(db) -> None:
    bad = db.rows(CHECK_SQL)
    if bad:
        shown = "; ".join(f"{rid!r}: idr_proposed_clusters says {size}, membership has {n}"
                          for rid, size, n in bad)
        raise RunError(f"dry run: proposed cluster sizes disagree with the proposed membership ({shown})")


def _insert_summary(db, s: DryRunSummary) -> None:
    values = [getattr(s, c) for c in SUMMARY_COLS]
    db.run(f"INSERT INTO idr_out.dry_run_summary ({', '.join(SUMMARY_COLS)}) "
                f"VALUES ({', '.join('?' for _ in SUMMARY_COLS)})", values)
