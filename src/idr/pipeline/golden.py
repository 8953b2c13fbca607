"""Stage 8: golden profiles, one row per cluster, and where each value came from.

Candidates are the records of each cluster's members. Extract adds the attribute columns
to its one copy of each source (extract_columns) and keeps them as idr_golden_rows; FULL
reads nothing else. INCR recomputes the golden rows of the clusters it recomputes and of
the unchanged clusters that have a member in the delta (an attribute can change without
any identifier changing). The delta's records come from the extract copy; the other
members of those clusters are read again from their sources, by key, and their
identifiers come from the published pairs. So every recomputed golden row sees exactly
the records FULL would see, and every other row has no member whose records changed.

The choice itself is one SELECT built in sql/golden.py. Output: idr_golden(resolved_id,
<attributes>, k<i>) and, for INCR, idr_golden_scope(resolved_id): the published rows it
replaces (runs/golden_publish.py writes both tables).
"""

from __future__ import annotations

from dataclasses import replace

from ..schema import GOLDEN, MEMBERSHIP, PAIRS, out
from ..sql.extract import entity_key_sql, key_sql
from ..sql.golden import (Block, case_sql, dense_ranks, golden_select_sql, picks_sql, ranked_sql, single_values_sql,
                          values_sql)
from ..sql.quoting import ident, literal
from .context import RunContext


# --- extract: attribute columns of the source copy -------------------------------------

def extract_columns(ctx: RunContext, src) -> str:
    """Extra columns for extract's copy of `src`: the record's recency and its attributes."""
    golden = ctx.plan.golden
    g = golden.sources.get(src.table_id) if golden else None
    if g is None:
        return ""
    cols = f", {g.recency_sql or 'CAST(NULL AS TIMESTAMP)'} AS g_rec"
    return cols + "".join(f", ({g.values[a]}) AS g_{j}" for j, a in enumerate(golden.mapped) if a in g.values)


def rows_select(ctx: RunContext, src, eid: str, rows_from: str, where: str) -> str | None:
    """SELECT of idr_golden_rows for one source copy: eid, entity_key, src, rec, a0..an."""
    golden = ctx.plan.golden
    g = golden.sources.get(src.table_id) if golden else None
    if g is None:
        return None
    return (f"SELECT {eid} AS eid, {entity_key_sql(ctx.d, src.table_id)} AS entity_key, "
            f"CAST({_src_number(golden, src.table_id)} AS SMALLINT) AS src, g_rec AS rec, "
            f"{_attribute_columns(golden, g)} FROM {rows_from} WHERE {where}")


def _attribute_columns(golden, g) -> str:
    return ", ".join(f"g_{j} AS a{j}" if a in g.values else f"CAST(NULL AS {golden.types[a]}) AS a{j}"
                     for j, a in enumerate(golden.mapped)) or "NULL AS a_none"


def _src_number(golden, table_id: str) -> int:
    return sorted(golden.sources).index(table_id)


def _value_columns(golden) -> str:
    return ", ".join(["src", "rec"] + [f"a{j}" for j in range(len(golden.mapped))])


# --- the stage -------------------------------------------------------------------------

def golden(ctx: RunContext) -> None:
    """idr_golden(resolved_id, <attributes>, k<i>) for the clusters the run recomputes."""
    golden = ctx.plan.golden
    if golden is None:
        return
    db = ctx.db
    with ctx.stage("golden") as st:
        numbers = sorted(golden.sources)
        db.small_relation("idr_gsrc", {"table_id": "VARCHAR", "src": "SMALLINT"},
                          [(t, i) for i, t in enumerate(numbers)])
        blocks, id_blocks = _blocks(ctx)
        text = [ctx.d.can_be_blank(golden.types[a]) for a in golden.mapped]
        single = None
        if ctx.mode == "FULL":
            # Clusters by their component number: grouping by it is cheaper than by a key.
            cc = ctx.cc_table
            rows, columns = f"idr_golden_rows g JOIN {cc} c ON c.node = g.eid", _value_columns(golden)
            if id_blocks and _one_value_per_entity(ctx):
                # Every record is one entity holding one value at most of each identifier type
                # read: that value is one more column of the record, and each identifier-derived
                # block one more attribute block (the tie-break's order among a type's records,
                # trust rank, recency, entity_key, is the same: no second ranking).
                at = {t: len(text) + k for k, t in enumerate(sorted({b.type_idx for b in id_blocks}))}
                for t, j in at.items():
                    rows += (f" LEFT JOIN (SELECT eid, value_norm FROM idr_ids WHERE type_idx = {int(t)}) AS i{j} "
                             f"ON i{j}.eid = g.eid")
                    columns += f", i{j}.value_norm AS a{j}"
                blocks += [replace(b, columns=(f"c{at[b.type_idx]}",), type_idx=None) for b in id_blocks]
                text += [True] * len(at)
                id_blocks = []
            cand = f"SELECT c.component AS gid, g.entity_key AS ek, g.eid, {columns} FROM {rows}"
            if ctx.golden_unique_rows:
                # A cluster of one entity then has one record at most, its own winner: only
                # the larger clusters are ranked (single_values_sql).
                sized = f"{cand} JOIN idr_proposed_clusters p ON p.component = c.component WHERE p.cluster_size"
                db.view("idr_gcand", f"{sized} > 1")
                db.view("idr_gsingle", f"{sized} = 1")
                single = "idr_gsingle"
                per_entity = "idr_golden_rows"
            else:
                db.view("idr_gcand", cand)
                per_entity = ("(SELECT eid, min(entity_key) AS entity_key, min(src) AS src, max(rec) AS rec "
                              "FROM idr_golden_rows GROUP BY eid)")
            db.view("idr_gclusters", "SELECT component AS gid, resolved_id FROM idr_proposed_clusters")
            ids = ("SELECT c.component AS gid, r.entity_key AS ek, r.src, r.rec, i.type_idx, i.value_norm AS v "
                   f"FROM idr_ids i JOIN {cc} c ON c.node = i.eid JOIN {per_entity} r ON r.eid = i.eid")
            named, carry = "{}", ("resolved_id",)
        else:
            ids = _incremental_candidates(ctx)
            named, carry = "SELECT gid AS resolved_id, g.* FROM ({}) AS g", ()
        trust = case_sql("src", {i: golden.sources[t].trust_rank for i, t in enumerate(numbers)})
        parts = []
        if blocks:
            values = [(f"a{j}", f"c{j}", t) for j, t in enumerate(text)]
            db.materialise("idr_granked", ranked_sql(ctx.d, "idr_gcand", values, trust,
                                                     unique_keys=ctx.mode == "FULL" and ctx.golden_unique_rows))
            parts.append(_part(ctx, "idr_granked", list(enumerate(blocks)),
                               single and single_values_sql(ctx.d, single, values, list(enumerate(blocks)))))
        if id_blocks:
            types = sorted({b.type_idx for b in id_blocks if b.type_idx >= 0}) or [-1]
            of_types = f"type_idx IN ({', '.join(str(int(t)) for t in types)})"
            db.materialise("idr_granked_ids", ranked_sql(
                ctx.d, f"(SELECT * FROM ({ids}) AS i WHERE {of_types})",
                [("v", "v", True)], trust, partition="gid, type_idx", extra=["type_idx"]))
            parts.append(_part(ctx, "idr_granked_ids", list(enumerate(id_blocks, len(blocks)))))
        db.materialise("idr_golden", named.format(golden_select_sql("idr_gclusters", parts, carry)))
        db.drop("idr_granked", "idr_granked_ids")
        st.rows_in = st.rows_out = ctx.counts["golden_rows"] = ctx.count("SELECT count(*) FROM idr_golden")


def _part(ctx: RunContext, ranked: str, blocks: list, single: str | None = None) -> tuple[str, list]:
    """The winners' values of one candidate family (attributes, or identifiers), as a
    relation golden_select_sql joins (not stored first: measured 0.1-0.2 s less at 1M);
    single: the same columns for the clusters of one record, which `ranked` leaves out."""
    select = values_sql(ranked, f"({picks_sql(ctx.d, ranked, blocks)})", blocks)
    return f"({select} UNION ALL {single})" if single else f"({select})", blocks


def _one_value_per_entity(ctx: RunContext) -> bool:
    """Whether an entity has one value at most of each identifier type a golden attribute
    reads: one row per entity (ctx.golden_unique_rows) and no source maps such a type twice."""
    types = {a.identifier_type for a in ctx.plan.golden.attributes if a.identifier_type}
    return ctx.golden_unique_rows and all(
        sum(m.identifier_type == t for m in s.mappings) <= 1 for s in ctx.plan.sources for t in types)


def _blocks(ctx: RunContext) -> tuple[list[Block], list[Block]]:
    golden = ctx.plan.golden
    numbers = sorted(golden.sources)
    column = {a: f"c{j}" for j, a in enumerate(golden.mapped)}
    type_idx = dict(ctx.db.rows("SELECT identifier_type, type_idx FROM idr_types"))
    blocks, id_blocks, seen = [], [], set()
    for a in golden.attributes:
        if a.name in seen:
            continue
        members = [m for m in golden.attributes if a.group and m.group == a.group] or [a]
        seen.update(m.name for m in members)
        if a.priority:
            ranks = {numbers.index(t): p for p, t in enumerate(a.priority) if t in numbers}
        else:
            ranks = {i: golden.sources[t].trust_rank for i, t in enumerate(numbers)}
        rank = case_sql("src", dense_ranks(ranks))
        recency = f"TRY_CAST({column[a.recency_field]} AS TIMESTAMP)" if a.recency_field else "rec"
        if a.identifier_type:
            # validated; an inactive source may leave the type unmapped: -1 matches nothing
            id_blocks.append(Block((a.name,), ("v",), a.strategy, rank, recency,
                                   int(type_idx.get(a.identifier_type, -1))))
        else:
            blocks.append(Block(tuple(m.name for m in members), tuple(column[m.name] for m in members),
                                a.strategy, rank, recency))
    return blocks, id_blocks


def output_columns(ctx: RunContext) -> list[str]:
    """The golden table's attribute columns, in the order golden_select_sql writes them."""
    blocks, id_blocks = _blocks(ctx)
    return [n for b in blocks + id_blocks for n in b.names]


def provenance_sql(ctx: RunContext) -> tuple[str, dict]:
    """(resolved_id, attribute_name, entity_key, strategy) of every golden value; names bound.

    One scan of idr_golden, each row unpivoted into its attributes: a cluster's rows stay
    together, so the Parquet writer dictionary-encodes resolved_id and adds a Bloom filter
    that `idr show` reads a cluster's rows by (measured at 1M records: 0.12 s -> 0.003 s CPU
    per lookup, file 36 -> 12 MB; a UNION ALL per attribute wrote the same rows apart)."""
    blocks, id_blocks = _blocks(ctx)
    names, keys, strategies, params, d = [], [], [], {}, ctx.d
    for i, b in enumerate(blocks + id_blocks):
        for name in b.names:
            n = len(names)
            params[f"an{n}"], params[f"st{n}"] = name, b.strategy
            names.append(d.cast(d.param(f"an{n}"), "VARCHAR"))
            strategies.append(d.cast(d.param(f"st{n}"), "VARCHAR"))
            keys.append(f"CASE WHEN {ident(name)} IS NOT NULL THEN k{i} END")
    if not names:
        return ("SELECT resolved_id, CAST(NULL AS VARCHAR) AS attribute_name, CAST(NULL AS VARCHAR) AS entity_key, "
                "CAST(NULL AS VARCHAR) AS strategy FROM idr_golden WHERE FALSE"), {}
    rows = d.rows_of({"attribute_name": names, "entity_key": keys, "strategy": strategies})
    return (f"SELECT resolved_id, attribute_name, entity_key, strategy FROM (SELECT resolved_id, {rows} "
            "FROM idr_golden) AS p WHERE entity_key IS NOT NULL"), params


def changed_values(ctx: RunContext) -> int:
    """Dry runs: golden values (cluster x attribute) the run would add, change or remove."""
    if ctx.plan.golden is None:
        return 0
    published = {c for c, _ in ctx.db.describe(f"SELECT * FROM {out(GOLDEN)}")}
    old = out(GOLDEN) if ctx.mode == "FULL" else \
        f"(SELECT * FROM {out(GOLDEN)} WHERE resolved_id IN (SELECT resolved_id FROM idr_golden_scope))"
    total = 0
    for c in output_columns(ctx):
        if c in published:
            total += ctx.count(f"SELECT count(*) FROM idr_golden n FULL JOIN {old} o ON o.resolved_id = n.resolved_id "
                               f"WHERE n.{ident(c)} IS DISTINCT FROM o.{ident(c)}")
        else:
            total += ctx.count(f"SELECT count({ident(c)}) FROM idr_golden")
    return total


# --- INCR ------------------------------------------------------------------------------

def _incremental_candidates(ctx: RunContext) -> str:
    """idr_gclusters, idr_gcand and idr_golden_scope for INCR; returns the identifier
    candidates' SELECT."""
    db, golden, d = ctx.db, ctx.plan.golden, ctx.d
    # Unchanged clusters with a member in the delta (its attributes may have changed).
    db.materialise("idr_gonly", "SELECT DISTINCT resolved_id FROM idr_delta_old "
                                "WHERE resolved_id NOT IN (SELECT resolved_id FROM idr_scope_clusters)")
    db.materialise("idr_gclusters", "SELECT resolved_id AS gid FROM idr_proposed_clusters "
                                    "UNION ALL SELECT resolved_id FROM idr_gonly")
    db.materialise("idr_golden_scope", "SELECT resolved_id FROM idr_scope_clusters UNION SELECT gid FROM idr_gclusters")
    db.materialise(
        "idr_gmembers",
        "SELECT e.entity_key, e.table_id, p.resolved_id, e.eid, CAST(NULL AS BIGINT) AS entity_id FROM idr_entities e "
        f"JOIN {ctx.cc_table} c ON c.node = e.eid JOIN idr_proposed_clusters p ON p.component = c.component "
        "UNION ALL SELECT entity_key, table_id, resolved_id, NULL, entity_id "
        f"FROM {out(MEMBERSHIP)} WHERE resolved_id IN (SELECT resolved_id FROM idr_gonly)")
    db.materialise("idr_gcand", f"SELECT m.resolved_id AS gid, m.entity_key AS ek, {_value_columns(golden)} "
                                "FROM idr_golden_rows g JOIN idr_gmembers m ON m.entity_key = g.entity_key")
    # The other members' records, read again from their sources by key.
    db.materialise("idr_gneed", "SELECT entity_key, table_id, resolved_id FROM idr_gmembers "
                                "WHERE entity_key NOT IN (SELECT entity_key FROM idr_delta_keys)")
    needed = {t for (t,) in db.rows("SELECT DISTINCT table_id FROM idr_gneed")}
    for src in ctx.plan.sources:
        g = golden.sources.get(src.table_id)
        if g is None or src.table_id not in needed:
            continue
        live = f"NOT coalesce(CAST(({src.deleted_sql}) AS BOOLEAN), FALSE)" if src.deleted_sql else "TRUE"
        copy = f"(SELECT {key_sql(d, src.key_sql)} AS k{extract_columns(ctx, src)} FROM {src.relation_sql} WHERE {live})"
        db.run(f"INSERT INTO idr_gcand SELECT n.resolved_id, n.entity_key, {_src_number(golden, src.table_id)}, "
               f"r.g_rec, {_attribute_columns(golden, g)} FROM {copy} AS r JOIN idr_gneed n "
               f"ON n.entity_key = {entity_key_sql(d, src.table_id, 'r.k')} WHERE n.table_id = {literal(src.table_id)}")
    # Identifiers: the recomputed clusters' from the run, the others' from the published pairs.
    recency = "LEFT JOIN (SELECT ek, max(rec) AS rec FROM idr_gcand GROUP BY ek) r ON r.ek = m.entity_key"
    return ("SELECT m.resolved_id AS gid, m.entity_key AS ek, s.src, r.rec, i.type_idx, i.value_norm AS v "
            "FROM idr_ids i JOIN idr_gmembers m ON m.eid = i.eid JOIN idr_gsrc s ON s.table_id = m.table_id "
            f"{recency} UNION ALL SELECT m.resolved_id, m.entity_key, s.src, r.rec, t.type_idx, "
            f"p.identifier_value_norm FROM {out(PAIRS)} p JOIN idr_gmembers m ON m.entity_id = p.entity_id "
            "JOIN idr_gsrc s ON s.table_id = m.table_id JOIN idr_types t ON t.identifier_type = p.identifier_type "
            f"{recency}")
