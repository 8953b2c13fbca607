"""Stage 1: read every active source into entities and raw identifier values.

Entities get dense integer ids (eid) once, here; everything after this works on integers
and joins back to entity keys only when writing outputs. The order of eids is arbitrary
(ordering 10M keys costs seconds), so where a choice must be the same on every run over
the same data, h = hash(entity_key) decides. Identifier types are mapped to
small integers too ("kinds"), so no user-supplied name is ever spliced into SQL text.
"""

from __future__ import annotations

from dataclasses import dataclass

from datetime import timedelta

from ..backends.duckdb import one_row, scalar, small_temp_table
from ..schema import MEMBERSHIP, out
from ..sql.quoting import literal
from . import golden
from .context import RunContext


@dataclass(frozen=True)
class Kind:
    """One (identifier type, hashed?) pair; hashed values skip the canonicaliser."""

    kind: int
    type_idx: int
    identifier_type: str
    canonicalize: str
    is_hashed: bool
    max_group_size: int


def plan_kinds(ctx: RunContext) -> list[Kind]:
    types = sorted({m.identifier_type for s in ctx.plan.sources for m in s.mappings})
    pairs = sorted({(m.identifier_type, m.is_hashed) for s in ctx.plan.sources for m in s.mappings})
    kinds = []
    for i, (t, hashed) in enumerate(pairs):
        rule = ctx.plan.rules[t]
        kinds.append(Kind(i, types.index(t), t, rule.canonicalize.upper(), hashed, rule.max_group_size))
    return kinds


def register_kinds(con, kinds: list[Kind]) -> None:
    """idr_kinds / idr_types as temp tables (identifier type names stay data)."""
    small_temp_table(con, "idr_kinds", {"kind": "INTEGER", "type_idx": "INTEGER", "identifier_type": "VARCHAR",
                                        "max_group_size": "BIGINT"},
                     [(k.kind, k.type_idx, k.identifier_type, k.max_group_size) for k in kinds])
    con.execute("CREATE OR REPLACE TEMP TABLE idr_types AS "
                "SELECT DISTINCT type_idx, identifier_type, max_group_size FROM idr_kinds")


def key_sql(src) -> str:
    # An empty or blank key is no key: otherwise every such row would become one entity.
    return f"CASE WHEN trim(CAST(({src.key_sql}) AS VARCHAR)) = '' THEN NULL ELSE ({src.key_sql}) END"


def _copy_source(ctx: RunContext, si: int, src) -> str | None:
    """Copy one source's key and mapped values into idr_src_<si>: every row (FULL), or the
    delta (INCR). Returns, for INCR, the SQL of the delta's entity keys.

    One scan per source; the copy gives both the entity list and the identifier values
    the same row numbers (its rowids), which a second scan of a view or file could not
    promise. Rows a soft-delete condition marks are kept (flag `del`) so their watermark
    still counts.

    The delta is every row of each key that has a row at or after the watermark minus the
    lookback (at, not only after: a DATE or whole-second watermark can tie with a row
    changed after the last run read it; re-reading the tied rows changes nothing): an
    entity's identifiers are the union of all its rows, so a key that gained, changed or
    soft-deleted one row is re-read whole. A source with no watermark (or new since the
    last run) is read whole, and its keys that vanished count as deleted.
    """
    con, table = ctx.con, f"idr_src_{si}"
    values = "".join(f", CAST(({m.value_sql}) AS VARCHAR) AS v{j}" for j, m in enumerate(src.mappings))
    extra = (f", coalesce(CAST(({src.deleted_sql}) AS BOOLEAN), FALSE) AS del" if src.deleted_sql else "") + \
        (f", {src.watermark_sql} AS wm" if src.watermark_sql else "") + golden.extract_columns(ctx.plan, src)
    # Numbering rows in the scan (row_number() OVER ()) would make it single-threaded;
    # a new table's rowids are 0..n-1 (checked in _source_counts).
    rows_where = f"SELECT {key_sql(src)} AS k{extra}{values} FROM {src.relation_sql} WHERE "
    keys = f"SELECT {literal(src.table_id + ':')} || CAST(k AS VARCHAR) FROM {table} WHERE k IS NOT NULL"
    state = ctx.baseline.sources.get(src.table_id) if ctx.mode == "INCR" else None
    if state is None or src.watermark_sql is None or state.last_watermark is None:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {rows_where}TRUE")
        if ctx.mode != "INCR":
            return None
        return f"SELECT entity_key FROM {out(MEMBERSHIP)} WHERE table_id = {literal(src.table_id)} UNION {keys}"
    cutoff = {"cutoff": state.last_watermark - timedelta(minutes=src.lookback_minutes)}
    changed = f"{src.watermark_sql} >= $cutoff"
    older = f"({changed}) IS NOT TRUE"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {rows_where}{changed}", cutoff)
    # The other rows of those keys (a source whose keys repeat). Looking for them reads
    # the key column alone; reading rows by their keys reads every column of every row, so
    # that is done only when some exist. (The plain key expression: the delta's keys are
    # never blank, so the blank-key check need not run on every row of the source.)
    con.execute(f"CREATE OR REPLACE TEMP TABLE idr_xkeys_{si} AS SELECT DISTINCT ({src.key_sql}) AS k "
                f"FROM {src.relation_sql} WHERE {older} AND ({src.key_sql}) IN (SELECT k FROM {table})", cutoff)
    if scalar(con, f"SELECT count(*) FROM idr_xkeys_{si}"):
        con.execute(f"INSERT INTO {table} {rows_where}{older} AND ({src.key_sql}) IN (SELECT k FROM idr_xkeys_{si})",
                    cutoff)
    return keys


def _source_counts(ctx: RunContext, si: int, src) -> tuple[int, int, int, int]:
    """(rows, live rows without a key, live rows with a key, distinct live keys) of idr_src_<si>."""
    live = "NOT del" if src.deleted_sql else "TRUE"
    rows, numbered, *counts = one_row(
        ctx.con, f"SELECT count(*), coalesce(max(rowid) + 1, 0), count(*) FILTER (k IS NULL AND {live}), "
                 f"count(k) FILTER ({live}), count(DISTINCT k) FILTER ({live}) FROM idr_src_{si}")
    if numbered != rows:
        raise RuntimeError(f"source {src.table_id}: rowids of its copy are not 0..{rows - 1}")
    return rows, *counts


def extract(ctx: RunContext, kinds: list[Kind]) -> None:
    """idr_entities(entity_key, table_id, eid, h) and idr_raw_ids(eid, h, kind, raw_value, dup).

    FULL reads every row of every active source; INCR (ctx.baseline set) reads the delta
    and also writes idr_delta_keys(entity_key): every entity whose rows it re-read,
    deleted ones included.

    eid is the source row number (offset per source), so identifier values need no join
    on entity keys; only a source whose keys repeat maps its rows to one eid per key.
    eids therefore have gaps (rows without a key, repeated keys): harmless, such ids are
    isolated nodes that no entity refers to. h = hash(entity_key) orders members where
    a choice must be the same on every run.
    """
    con = ctx.con
    incremental = ctx.mode == "INCR"
    kind_of = {(k.identifier_type, k.is_hashed): k.kind for k in kinds}
    entities, values, delta_keys, temps, golden_rows = [], [], [], [], []
    offset = without_key = n_entities = 0
    with ctx.stage("extract") as st:
        for si, src in enumerate(ctx.plan.sources):
            keys = _copy_source(ctx, si, src)
            rows, no_key, keyed, distinct = _source_counts(ctx, si, src)
            without_key += no_key
            n_entities += distinct
            table = f"idr_src_{si}"
            temps += [table, f"idr_keys_{si}", f"idr_xkeys_{si}"]
            live = "NOT del" if src.deleted_sql else "TRUE"
            h = f"hash({literal(src.table_id + ':')} || CAST(k AS VARCHAR))"  # = hash(entity_key)
            if distinct == keyed:  # each live key has one row: its row number is its eid
                entity_src = rows_from = table
                eid = f"rowid + {offset}"
                keyed_rows = entity_rows = f"k IS NOT NULL AND {live}"
            else:  # repeated keys: every live row of a key takes the key's first row number
                con.execute(f"CREATE OR REPLACE TEMP TABLE idr_keys_{si} AS "
                            f"SELECT k, min(rowid) + {offset} AS eid FROM {table} WHERE k IS NOT NULL AND {live} GROUP BY k")
                entity_src, rows_from = f"idr_keys_{si}", f"{table} JOIN idr_keys_{si} USING (k)"
                eid, keyed_rows = "eid", live  # the join already dropped rows without a key
                entity_rows = "TRUE"
            entities.append(
                f"SELECT {literal(src.table_id + ':')} || CAST(k AS VARCHAR) AS entity_key, "
                f"{literal(src.table_id)} AS table_id, {eid} AS eid, {h} AS h "
                f"FROM {entity_src} WHERE {entity_rows}"
            )
            # Can one entity carry the same (type, value) twice? Only with repeated keys or two
            # mappings of one type in a source; later stages deduplicate just those rows.
            types = [m.identifier_type for m in src.mappings]
            dup = "TRUE" if distinct != keyed or len(set(types)) < len(types) else "FALSE"
            values += [
                f"SELECT {eid} AS eid, {h} AS h, "
                f"{kind_of[(m.identifier_type, m.is_hashed)]} AS kind, "
                f"v{j} AS raw_value, {dup} AS dup FROM {rows_from} WHERE {keyed_rows} AND v{j} IS NOT NULL"
                for j, m in enumerate(src.mappings)
            ]
            if (golden_sql := golden.rows_select(ctx, src, eid, h, rows_from, keyed_rows)) is not None:
                golden_rows.append(golden_sql)
            if src.watermark_sql:
                ctx.watermarks[src.table_id] = scalar(con, f"SELECT max(wm) FROM {table}")
            if keys is not None:
                delta_keys.append(keys)
            offset += rows
        con.execute(f"CREATE OR REPLACE TEMP TABLE idr_entities AS {' UNION ALL '.join(entities)}")
        if values:
            con.execute(f"CREATE OR REPLACE TEMP TABLE idr_raw_ids AS {' UNION ALL '.join(values)}")
        else:
            con.execute("CREATE OR REPLACE TEMP TABLE idr_raw_ids "
                        "(eid BIGINT, h UBIGINT, kind INTEGER, raw_value VARCHAR, dup BOOLEAN)")
        if golden_rows:  # attribute values of every record, for the golden stage
            con.execute(f"CREATE OR REPLACE TEMP TABLE idr_golden_rows AS {' UNION ALL '.join(golden_rows)}")
        if incremental:
            con.execute("CREATE OR REPLACE TEMP TABLE idr_delta_keys AS SELECT DISTINCT entity_key "
                        f"FROM ({' UNION ALL '.join(delta_keys)}) AS d(entity_key)")
        for t in temps:
            con.execute(f"DROP TABLE IF EXISTS {t}")
        ctx.counts["rows_without_key"] = without_key
        ctx.counts["nodes"] = offset
        ctx.counts["entities"] = n_entities  # count(DISTINCT k) leaves NULL keys out
        ctx.counts["identifiers_extracted"] = ctx.count("SELECT count(*) FROM idr_raw_ids")
        st.rows_in, st.rows_out = offset, ctx.counts["entities"]
