"""Stage 1: read every active source into entities and raw identifier values.

Entities get dense integer ids (eid) once, here; everything after this works on integers
and joins back to entity keys only when writing outputs. The order of eids is arbitrary
(ordering 10M keys costs seconds), so where a choice must be the same on every run over
the same data, a rule on entity keys decides (stable_ids.py), never the eid. Identifier
types are mapped to small integers too ("kinds"), so no user-supplied name is ever spliced into SQL text.
"""

from __future__ import annotations

from dataclasses import dataclass

from datetime import timedelta

from ..errors import InternalError
from ..retry import RetryPolicy, call_with_retries
from ..schema import MEMBERSHIP, out
from ..sql import extract as q
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


def register_kinds(db, kinds: list[Kind]) -> None:
    """idr_kinds / idr_types as session relations (identifier type names stay data)."""
    db.small_relation("idr_kinds", {"kind": "INTEGER", "type_idx": "INTEGER", "identifier_type": "VARCHAR",
                                    "max_group_size": "BIGINT"},
                      [(k.kind, k.type_idx, k.identifier_type, k.max_group_size) for k in kinds])
    db.materialise("idr_types", "SELECT DISTINCT type_idx, identifier_type, max_group_size FROM idr_kinds")


def _copy_source(ctx: RunContext, si: int, src) -> str | None:
    """Copy one source's key and mapped values into idr_src_<si>: every row (FULL), or the
    delta (INCR). Returns, for INCR, the SQL of the delta's entity keys.

    One scan per source; the copy gives both the entity list and the identifier values
    the same row numbers (its row positions), which a second scan of a view or file could
    not promise. Rows a soft-delete condition marks are kept (flag `del`) so their
    watermark still counts.

    The delta is every row of each key that has a row at or after the watermark minus the
    lookback (at, not only after: a DATE or whole-second watermark can tie with a row
    changed after the last run read it; re-reading the tied rows changes nothing): an
    entity's identifiers are the union of all its rows, so a key that gained, changed or
    soft-deleted one row is re-read whole. A source with no watermark (or new since the
    last run) is read whole, and its keys that vanished count as deleted.
    """
    db, d, table = ctx.db, ctx.d, f"idr_src_{si}"
    extra = golden.extract_columns(ctx, src)  # golden attributes, when configured
    # Numbering rows in the scan (row_number() OVER ()) would make it single-threaded;
    # a new copy's row positions are 0..n-1 (checked in _source_counts).
    keys = q.copy_keys_sql(d, src.table_id, table)
    state = ctx.baseline.sources.get(src.table_id) if ctx.mode == "INCR" else None
    if state is None or src.watermark_sql is None or state.last_watermark is None:
        _store_copy(ctx, table, q.source_rows_sql(d, src, "TRUE", extra))
        if ctx.mode != "INCR":
            return None
        return q.published_keys_sql(out(MEMBERSHIP), src.table_id, keys)
    cutoff = {"cutoff": state.last_watermark - timedelta(minutes=src.lookback_minutes)}
    plain = _store_copy(ctx, table, q.source_rows_sql(d, src, q.changed_since_sql(d, src), extra), cutoff)
    # The other rows of those keys (a source whose keys repeat). Looking for them reads
    # the key column alone; reading rows by their keys reads every column of every row, so
    # that is done only when some exist.
    db.materialise(f"idr_xkeys_{si}", q.older_keys_sql(d, src, table), cutoff)
    if db.count(f"SELECT count(*) FROM idr_xkeys_{si}"):
        # A new relation (dense row positions again), not an append to the copy.
        _store_copy(ctx, table, f"SELECT * FROM {plain} UNION ALL {q.older_rows_sql(d, src, f'idr_xkeys_{si}', extra)}",
                    cutoff)
    return keys


def _store_copy(ctx: RunContext, table: str, select: str, params=None) -> str:
    """Store a source copy whose row positions are 0..n-1; returns the relation holding its
    rows without the position column. On an engine without free row positions the copy
    is numbered (Backend.number_rows, any order) from a plain copy kept beside it."""
    if ctx.d.has_row_position:
        ctx.db.materialise(table, select, params)
        return table
    plain = f"{table}_plain"
    ctx.db.materialise(plain, select, params)  # may read the plain copy it replaces: stored first
    ctx.db.number_rows(table, f"SELECT * FROM {plain}", ctx.d.row_position())
    return plain


def _source_counts(ctx: RunContext, si: int, src) -> tuple[int, int, int, int]:
    """(rows, live rows without a key, live rows with a key, distinct live keys) of idr_src_<si>."""
    live = "NOT del" if src.deleted_sql else "TRUE"
    rows, numbered, *counts = ctx.db.one(q.copy_counts_sql(ctx.d, f"idr_src_{si}", live))
    if numbered != rows:
        raise InternalError(f"source {src.table_id}: row positions of its copy are not 0..{rows - 1}")
    return rows, *counts


def extract(ctx: RunContext, kinds: list[Kind]) -> None:
    """idr_entities(entity_key, table_id, eid) and idr_raw_ids(eid, kind, raw_value, dup).

    FULL reads every row of every active source; INCR (ctx.baseline set) reads the delta
    and also writes idr_delta_keys(entity_key): every entity whose rows it re-read,
    deleted ones included.

    eid is the source row number (offset per source), so identifier values need no join
    on entity keys; only a source whose keys repeat maps its rows to one eid per key.
    eids therefore have gaps (rows without a key, repeated keys): harmless, such ids are
    isolated nodes that no entity refers to.
    """
    db, d = ctx.db, ctx.d
    incremental = ctx.mode == "INCR"
    kind_of = {(k.identifier_type, k.is_hashed): k.kind for k in kinds}
    entities, values, delta_keys, temps, golden_rows = [], [], [], [], []
    ctx.golden_unique_rows = True  # until a source with golden attributes repeats a key
    offset = without_key = n_entities = 0
    with ctx.stage("extract") as st:
        for si, src in enumerate(ctx.plan.sources):
            # A source's read is retried when the engine calls its error transient (an I/O
            # hiccup); bad input fails at once (idr/retry.py).
            keys = call_with_retries(lambda: _copy_source(ctx, si, src), RetryPolicy.from_settings(),
                                     f"reading source {src.table_id}", ctx.db.is_transient, kind="source")
            rows, no_key, keyed, distinct = _source_counts(ctx, si, src)
            without_key += no_key
            n_entities += distinct
            table = f"idr_src_{si}"
            temps += [table, f"idr_keys_{si}", f"idr_xkeys_{si}", f"{table}_plain"]
            live = "NOT del" if src.deleted_sql else "TRUE"
            if distinct == keyed:  # each live key has one row: its row number is its eid
                entity_src = rows_from = table
                eid = f"{d.row_position()} + {offset}"
                keyed_rows = entity_rows = f"k IS NOT NULL AND {live}"
            else:  # repeated keys: every live row of a key takes the key's first row number
                db.materialise(f"idr_keys_{si}", q.first_row_of_key_sql(d, table, live, offset))
                entity_src, rows_from = f"idr_keys_{si}", f"{table} JOIN idr_keys_{si} USING (k)"
                eid, keyed_rows = "eid", live  # the join already dropped rows without a key
                entity_rows = "TRUE"
            entities.append(q.entities_sql(d, src.table_id, eid, entity_src, entity_rows))
            # Can one entity carry the same (type, value) twice? Only with repeated keys or two
            # mappings of one type in a source; later stages deduplicate just those rows.
            types = [m.identifier_type for m in src.mappings]
            dup = distinct != keyed or len(set(types)) < len(types)
            values += [q.raw_values_sql(eid, kind_of[(m.identifier_type, m.is_hashed)], f"v{j}", dup, rows_from,
                                        keyed_rows)
                       for j, m in enumerate(src.mappings)]
            if (golden_sql := golden.rows_select(ctx, src, eid, rows_from, keyed_rows)) is not None:
                golden_rows.append(golden_sql)
                ctx.golden_unique_rows &= distinct == keyed
            if src.watermark_sql:
                ctx.watermarks[src.table_id] = db.scalar(f"SELECT max(wm) FROM {table}")
            if keys is not None:
                delta_keys.append(keys)
            offset += rows
        db.materialise("idr_entities", q.union_all(entities))
        if values:
            db.materialise("idr_raw_ids", q.union_all(values))
        else:
            db.empty_relation("idr_raw_ids", q.RAW_IDS_COLUMNS)
        if golden_rows:  # attribute values of every record, for the golden stage
            db.materialise("idr_golden_rows", q.union_all(golden_rows))
        if incremental:
            db.materialise("idr_delta_keys", q.delta_keys_sql(delta_keys))
        db.drop(*temps)
        ctx.counts["rows_without_key"] = without_key
        ctx.counts["nodes"] = offset
        ctx.counts["entities"] = n_entities  # count(DISTINCT k) leaves NULL keys out
        ctx.counts["identifiers_extracted"] = ctx.count("SELECT count(*) FROM idr_raw_ids")
        st.rows_in, st.rows_out = offset, ctx.counts["entities"]
