"""Changes that bypass the watermark: a row updated without moving its watermark_column,
deleted outright, or inserted with an old watermark. INCR reads only rows newer than the
last watermark, so it misses them; this check notices them and recommends (or forces) FULL.

How, cheaply: every published run stores, per source, a checksum of its rows (key,
watermark, identifier values, deleted condition) in 65,536 buckets by key, together with
the newest watermark it saw (idr_meta.source_checksum). The next INCR run recomputes the
buckets over the rows with a watermark at or before that stored one: the buckets holding
a key of the delta one by one, all the others as one total compared with the sum of
their stored buckets (an ungrouped pass: _compare says why). A bucket may legitimately differ when one of its keys has a row at or after the
stored watermark (minus the lookback): INCR re-reads those keys. Any other bucket must be
identical; if not, some row changed behind INCR's back. The check therefore sees a
bypassing change unless a legitimate change shares its bucket in the same run: with K
changed keys per run, a bypass goes unnoticed with probability about K / 65,536 (per run;
an INCR run that finds a difference keeps the stored checksums, so every following INCR
warns again until a FULL run has read the source whole).

Setting `watermark_check` (idr_meta.config): `warn` (default: INCR runs, ends
SUCCESS_WITH_WARNINGS, recommends FULL), `full` (INCR runs as FULL, saying why), `off`
(no scan). Sources without a watermark_column are read whole by INCR and not checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from ..config.validate import Plan, SourcePlan

BUCKETS = 65536
MODES = ("off", "warn", "full")


@dataclass
class Check:
    warnings: list[str] = field(default_factory=list)
    force_full: str | None = None  # the reason, when the setting says full
    # table_id -> temp table of its buckets now (bucket, n_all, x_all, newest), to store on publishing
    states: dict[str, str] = field(default_factory=dict)
    differing: set[str] = field(default_factory=set)  # sources whose checksums differ


def _rows_sql(d, src: SourcePlan) -> str:
    parts = [src.key_sql, src.watermark_sql, *(m.value_sql for m in src.mappings)]
    if src.deleted_sql:
        parts.append(f"({src.deleted_sql})")
    return (f"SELECT {src.key_sql} AS k, {src.watermark_sql} AS wm, {d.row_hash(*parts)} AS h "
            f"FROM {src.relation_sql} WHERE {src.watermark_sql} IS NOT NULL")


def check(db, plan: Plan, baseline, mode: str) -> Check:
    """Check each watermarked source: compare with the stored checksums (INCR) and keep
    the new ones in temp tables for store(). Nothing is written to the database."""
    setting = plan.settings["watermark_check"]
    out = Check()
    if setting == "off":
        return out
    for i, src in enumerate(plan.sources):
        if src.watermark_sql is None:
            continue
        stored_wm = db.scalar("SELECT max(checked_watermark) FROM idr_meta.source_checksum WHERE table_id = ?",
                              [src.table_id]) if mode == "INCR" else None
        state = baseline.sources.get(src.table_id) if baseline is not None else None
        read_from = state.last_watermark if state is not None else None
        table = f"idr_wm_check_{i}"
        out.states[src.table_id] = table
        if stored_wm is None or read_from is None:  # FULL, or nothing stored yet: every bucket, once
            db.materialise(table, _buckets_sql(db.dialect, src), {"stored": None, "since": None})
            continue
        since = min(stored_wm, read_from) - timedelta(minutes=src.lookback_minutes)
        differ = _compare(db, src, table, stored_wm, since)
        if differ:
            out.differing.add(src.table_id)
            text = (f"source {src.table_id!r}: rows changed, appeared or disappeared without a newer watermark "
                    f"since {stored_wm:%Y-%m-%d %H:%M:%S} ({differ} of {BUCKETS} key buckets differ); "
                    "an INCR run cannot see such changes")
            if setting == "full":
                out.force_full = out.force_full or text
            else:
                out.warnings.append(f"{text}: run `idr run --run-mode FULL`")
    return out


def _buckets_sql(d, src: SourcePlan) -> str:
    """Per bucket: rows and checksum at or before the stored watermark, rows at or after
    `since` (touched), all rows, newest watermark."""
    stored, since = d.param("stored"), d.param("since")
    return (f"SELECT bucket, count(*) FILTER (WHERE wm <= {stored}) AS n_old, "
            f"coalesce(bit_xor(h) FILTER (WHERE wm <= {stored}), 0) AS x_old, "
            f"count(*) FILTER (WHERE wm >= {since}) AS touched, count(*) AS n_all, bit_xor(h) AS x_all, "
            f"max(wm) AS newest FROM (SELECT {d.hash_bucket('k', BUCKETS)} AS bucket, wm, h "
            f"FROM ({_rows_sql(d, src)}) r) b GROUP BY bucket")


def _compare(db, src: SourcePlan, table: str, stored_wm, since) -> int:
    """INCR: the number of buckets that differ from the stored ones, leaving out those
    holding a key INCR re-reads; leaves in `table` the buckets to store when none differ.

    A bucket per group costs a 65,536-group aggregation over every row (~5x an ungrouped
    one, measured at 1M records). So: the touched buckets (their keys have rows since the
    watermark: the delta, read through the watermark filter like INCR's extract) are
    aggregated one by one; every other row goes into one total, compared with the sum of
    the stored buckets it covers. Only when that total differs are the buckets counted
    one by one, for the warning."""
    d = db.dialect
    params = {"stored": stored_wm, "since": since}
    db.materialise("idr_wm_touched", f"SELECT DISTINCT {d.hash_bucket('k', BUCKETS)} AS bucket "
                                     f"FROM ({_rows_sql(d, src)}) r WHERE wm >= {d.param('since')}", {"since": since})
    touched = "bucket IN (SELECT bucket FROM idr_wm_touched)"
    stored = d.param("stored")
    # One pass, few groups: each touched bucket alone, every other row in group -1.
    db.materialise("idr_wm_now", f"SELECT coalesce(t.bucket, -1) AS bucket, "
                                 f"count(*) FILTER (WHERE wm <= {stored}) AS n_old, "
                                 f"coalesce(bit_xor(h) FILTER (WHERE wm <= {stored}), 0) AS x_old, "
                                 "count(*) AS n_all, bit_xor(h) AS x_all, max(wm) AS newest "
                                 f"FROM (SELECT {d.hash_bucket('k', BUCKETS)} AS bucket, wm, h "
                                 f"FROM ({_rows_sql(d, src)}) r) b LEFT JOIN idr_wm_touched t USING (bucket) "
                                 "GROUP BY coalesce(t.bucket, -1)", {"stored": stored_wm})
    same = db.scalar(
        "SELECT coalesce(r.n_old, 0) = coalesce(s.n, 0) AND coalesce(r.x_old, 0) = coalesce(s.x, 0) "
        "FROM (SELECT sum(row_count) AS n, bit_xor(checksum) AS x FROM idr_meta.source_checksum "
        f"WHERE table_id = ? AND NOT ({touched})) s LEFT JOIN idr_wm_now r ON r.bucket = -1", [src.table_id])
    if not same:  # rare: count the differing buckets one by one (a whole grouped scan)
        db.materialise(table, _buckets_sql(d, src), params)
        differ = db.scalar(
            f"SELECT count(*) FROM {table} c FULL JOIN (SELECT bucket, row_count, checksum "
            "FROM idr_meta.source_checksum WHERE table_id = ?) s USING (bucket) "
            "WHERE coalesce(c.touched, 0) = 0 AND (coalesce(c.n_old, 0) <> coalesce(s.row_count, 0) "
            "OR coalesce(c.x_old, 0) <> coalesce(s.checksum, 0))", [src.table_id])
        if differ:
            return differ
    # Unchanged buckets keep their stored sums; the touched ones are recomputed.
    db.materialise(table, "SELECT bucket, n_all, x_all, newest FROM idr_wm_now WHERE bucket >= 0 "
                          "UNION ALL SELECT bucket, row_count, checksum, (SELECT max(newest) FROM idr_wm_now) "
                          f"FROM idr_meta.source_checksum WHERE table_id = {d.param('table_id')} "
                          f"AND NOT ({touched})", {"table_id": src.table_id})
    db.drop("idr_wm_touched", "idr_wm_now")
    return 0


def store(db, result: Check, mode: str) -> None:
    """Replace the stored checksums of the checked sources (inside the publishing
    transaction). An INCR run keeps those of a source whose rows changed behind its back,
    so the next runs compare with what was last read whole and warn again."""
    for table_id, table in result.states.items():
        if mode == "INCR" and table_id in result.differing:
            continue
        db.run("DELETE FROM idr_meta.source_checksum WHERE table_id = ?", [table_id])
        db.run(f"INSERT INTO idr_meta.source_checksum SELECT ?, (SELECT max(newest) FROM {table}), bucket, "
                    f"n_all, x_all FROM {table}", [table_id])
