"""Stage 8: golden profiles, one row per cluster, and where each value came from.

Candidates are the records of each cluster's members. Extract adds the attribute columns
to its one copy of each source (extract_columns) and keeps them as idr_golden_rows; FULL
reads nothing else. INCR recomputes the golden rows of the clusters it recomputes and of
the unchanged clusters that have a member in the delta (an attribute can change without
any identifier changing). The delta's records come from the extract copy; the other
members of those clusters are read again from their sources, by key, and their
identifiers come from the published pairs. So every recomputed golden row sees exactly
the records FULL would see, and every other row has no member whose records changed.

The choice itself is one SELECT built in sql/golden.py.
"""

from __future__ import annotations

from ..backends.duckdb import small_temp_table
from ..schema import GOLDEN, MEMBERSHIP, PAIRS, PROVENANCE, out
from ..sql.golden import Block, case_sql, golden_select_sql
from ..sql.quoting import ident, literal, qualified
from .context import RunContext


# --- extract: attribute columns of the source copy -------------------------------------

def extract_columns(plan, src) -> str:
    """Extra columns for extract's copy of `src`: the record's recency and its attributes."""
    g = plan.golden.sources.get(src.table_id) if plan.golden else None
    if g is None:
        return ""
    cols = f", {g.recency_sql or 'CAST(NULL AS TIMESTAMP)'} AS g_rec"
    return cols + "".join(f", ({g.values[a]}) AS g_{j}" for j, a in enumerate(plan.golden.mapped) if a in g.values)


def rows_select(ctx: RunContext, src, eid: str, h: str, rows_from: str, where: str) -> str | None:
    """SELECT of idr_golden_rows for one source copy: eid, h, src, rec, a0..an (INCR: entity_key too)."""
    golden = ctx.plan.golden
    g = golden.sources.get(src.table_id) if golden else None
    if g is None:
        return None
    key = f", {literal(src.table_id + ':')} || CAST(k AS VARCHAR) AS entity_key" if ctx.mode == "INCR" else ""
    return (f"SELECT {eid} AS eid{key}, {h} AS h, {_src_number(golden, src.table_id)}::SMALLINT AS src, g_rec AS rec, "
            f"{_attribute_columns(golden, g)} FROM {rows_from} WHERE {where}")


def _attribute_columns(golden, g) -> str:
    return ", ".join(f"g_{j} AS a{j}" if a in g.values else f"CAST(NULL AS {golden.types[a]}) AS a{j}"
                     for j, a in enumerate(golden.mapped)) or "NULL AS a_none"


def _src_number(golden, table_id: str) -> int:
    return sorted(golden.sources).index(table_id)


# --- the stage -------------------------------------------------------------------------

def golden(ctx: RunContext) -> None:
    """idr_golden(resolved_id, <attributes>, k<i>) for the clusters in idr_golden_scope."""
    golden = ctx.plan.golden
    if golden is None:
        return
    con = ctx.con
    with ctx.stage("golden") as st:
        numbers = sorted(golden.sources)
        small_temp_table(con, "idr_gsrc", {"table_id": "VARCHAR", "src": "SMALLINT"},
                         [(t, i) for i, t in enumerate(numbers)])
        if ctx.mode == "FULL":
            # Clusters and entities by their integers (component, eid): grouping and carrying
            # them is cheaper than keys; keys are joined to the winners only.
            cc = ctx.cc_table
            con.execute("CREATE OR REPLACE TEMP VIEW idr_gcand AS SELECT c.component AS gid, g.eid AS ek, "
                        f"g.* EXCLUDE (eid) FROM idr_golden_rows g JOIN {cc} c ON c.node = g.eid")
            con.execute("CREATE OR REPLACE TEMP VIEW idr_gclusters AS SELECT component AS gid FROM idr_proposed_clusters")
            ids = ("SELECT c.component AS gid, i.eid AS ek, i.h, r.src, r.rec, i.type_idx, i.value_norm AS v "
                   f"FROM idr_ids i JOIN {cc} c ON c.node = i.eid JOIN (SELECT eid, any_value(src) AS src, "
                   "max(rec) AS rec FROM idr_golden_rows GROUP BY eid) r USING (eid)")
            named = "SELECT p.resolved_id, g.* EXCLUDE (gid) FROM ({}) g JOIN idr_proposed_clusters p ON p.component = g.gid"
        else:
            members = ("SELECT e.eid, e.entity_key, e.table_id, p.resolved_id FROM idr_entities e "
                       f"JOIN {ctx.cc_table} c ON c.node = e.eid JOIN idr_proposed_clusters p USING (component)")
            ids = _incremental_candidates(ctx, members)
            named = "SELECT gid AS resolved_id, * EXCLUDE (gid) FROM ({})"
        blocks, id_blocks = _blocks(ctx, ids)
        trust = case_sql("src", {i: golden.sources[t].trust_rank for i, t in enumerate(numbers)})
        con.execute("CREATE OR REPLACE TEMP TABLE idr_golden AS "
                    + named.format(golden_select_sql("idr_gclusters", "idr_gcand", blocks, id_blocks, trust)))
        st.rows_in = ctx.count("SELECT count(*) FROM idr_golden")
        st.rows_out = ctx.counts["golden_rows"] = ctx.count("SELECT count(*) FROM idr_golden")


def _blocks(ctx: RunContext, ids_sql: str) -> tuple[list[Block], list[tuple[Block, str]]]:
    golden = ctx.plan.golden
    numbers = sorted(golden.sources)
    column = {a: f"a{j}" for j, a in enumerate(golden.mapped)}
    type_idx = dict(ctx.con.execute("SELECT identifier_type, type_idx FROM idr_types").fetchall())
    blocks, id_blocks, seen = [], [], set()
    for a in golden.attributes:
        if a.name in seen:
            continue
        members = [m for m in golden.attributes if a.group and m.group == a.group] or [a]
        seen.update(m.name for m in members)
        if a.priority:
            rank = case_sql("src", {numbers.index(t): p for p, t in enumerate(a.priority) if t in numbers})
        else:
            rank = case_sql("src", {i: golden.sources[t].trust_rank for i, t in enumerate(numbers)})
        recency = f"TRY_CAST({column[a.recency_field]} AS TIMESTAMP)" if a.recency_field else "rec"
        if a.identifier_type:
            if a.identifier_type not in type_idx:  # validated; an inactive source may leave it unmapped
                relation = "(SELECT NULL AS gid, NULL AS ek, NULL AS h, NULL AS src, NULL AS rec, NULL AS v LIMIT 0)"
            else:
                relation = f"(SELECT * EXCLUDE (type_idx) FROM ({ids_sql}) WHERE type_idx = {int(type_idx[a.identifier_type])})"
            id_blocks.append((Block((a.name,), ("v",), a.strategy, rank, recency), relation))
        else:
            blocks.append(Block(tuple(m.name for m in members), tuple(column[m.name] for m in members),
                                a.strategy, rank, recency))
    return blocks, id_blocks


def output_columns(ctx: RunContext) -> list[str]:
    """The golden table's attribute columns, in the order golden_select_sql writes them."""
    blocks, id_blocks = _blocks(ctx, "SELECT NULL")
    return [n for b in blocks for n in b.names] + [b.names[0] for b, _ in id_blocks]


def _provenance_sql(ctx: RunContext) -> tuple[str, dict]:
    """(resolved_id, attribute_name, entity_key, strategy) of every golden value; names bound."""
    blocks, id_blocks = _blocks(ctx, "SELECT NULL")
    parts, params = [], {}
    for i, b in enumerate(blocks + [b for b, _ in id_blocks]):
        for name in b.names:
            n = len(params) // 2
            params[f"an{n}"], params[f"st{n}"] = name, b.strategy
            parts.append(f"SELECT resolved_id, $an{n} AS attribute_name, k{i} AS k, $st{n} AS strategy "
                         f"FROM idr_golden WHERE {ident(name)} IS NOT NULL")
    rows = " UNION ALL ".join(parts)
    if ctx.mode == "FULL":  # k is the winner's eid
        return (f"SELECT p.resolved_id, p.attribute_name, e.entity_key, p.strategy FROM ({rows}) p "
                "JOIN idr_entities e ON e.eid = p.k"), params
    return f"SELECT resolved_id, attribute_name, k AS entity_key, strategy FROM ({rows})", params


# --- INCR ------------------------------------------------------------------------------

def _incremental_candidates(ctx: RunContext, members: str) -> str:
    """idr_gclusters, idr_gcand for INCR; returns the identifier candidates' SELECT."""
    con, golden = ctx.con, ctx.plan.golden
    # Unchanged clusters with a member in the delta (its attributes may have changed).
    con.execute("CREATE OR REPLACE TEMP TABLE idr_gonly AS SELECT DISTINCT resolved_id FROM idr_delta_old "
                "WHERE resolved_id NOT IN (SELECT resolved_id FROM idr_scope_clusters)")
    con.execute("CREATE OR REPLACE TEMP TABLE idr_gclusters AS SELECT resolved_id AS gid FROM idr_proposed_clusters "
                "UNION ALL SELECT resolved_id FROM idr_gonly")
    con.execute("CREATE OR REPLACE TEMP TABLE idr_golden_scope AS SELECT resolved_id FROM idr_scope_clusters "
                "UNION SELECT gid FROM idr_gclusters")
    con.execute(f"CREATE OR REPLACE TEMP TABLE idr_gmembers AS SELECT entity_key, table_id, resolved_id, eid, "
                f"NULL::BIGINT AS entity_id FROM ({members}) UNION ALL SELECT entity_key, table_id, resolved_id, "
                f"NULL, entity_id FROM {out(MEMBERSHIP)} WHERE resolved_id IN (SELECT resolved_id FROM idr_gonly)")
    cols = ", ".join(["h", "src", "rec"] + [f"a{j}" for j in range(len(golden.mapped))])
    con.execute(f"CREATE OR REPLACE TEMP TABLE idr_gcand AS SELECT m.resolved_id AS gid, m.entity_key AS ek, {cols} "
                "FROM idr_golden_rows g JOIN idr_gmembers m USING (entity_key)")
    # The other members' records, read again from their sources by key.
    con.execute("CREATE OR REPLACE TEMP TABLE idr_gneed AS SELECT entity_key, table_id, resolved_id FROM idr_gmembers "
                "WHERE entity_key NOT IN (SELECT entity_key FROM idr_delta_keys)")
    needed = {t for (t,) in con.execute("SELECT DISTINCT table_id FROM idr_gneed").fetchall()}
    for src in ctx.plan.sources:
        g = golden.sources.get(src.table_id)
        if g is None or src.table_id not in needed:
            continue
        from .extract import key_sql

        live = f"NOT coalesce(CAST(({src.deleted_sql}) AS BOOLEAN), FALSE)" if src.deleted_sql else "TRUE"
        copy = f"(SELECT {key_sql(src)} AS k{extract_columns(ctx.plan, src)} FROM {src.relation_sql} WHERE {live})"
        con.execute(
            f"INSERT INTO idr_gcand SELECT n.resolved_id, n.entity_key, hash(n.entity_key), "
            f"{_src_number(golden, src.table_id)}, g_rec, "
            f"{_attribute_columns(golden, g)} FROM {copy} r JOIN idr_gneed n "
            f"ON n.entity_key = {literal(src.table_id + ':')} || CAST(r.k AS VARCHAR) "
            f"WHERE n.table_id = {literal(src.table_id)}")
    # Identifiers: the recomputed clusters' from the run, the others' from the published pairs.
    recency = "LEFT JOIN (SELECT ek AS entity_key, max(rec) AS rec FROM idr_gcand GROUP BY ALL) r USING (entity_key)"
    return ("SELECT m.resolved_id AS gid, m.entity_key AS ek, hash(m.entity_key) AS h, s.src, r.rec, i.type_idx, "
            "i.value_norm AS v FROM idr_ids i JOIN idr_gmembers m USING (eid) JOIN idr_gsrc s USING (table_id) "
            f"{recency} UNION ALL SELECT m.resolved_id, m.entity_key, hash(m.entity_key), s.src, r.rec, t.type_idx, "
            f"p.identifier_value_norm FROM {out(PAIRS)} p JOIN idr_gmembers m USING (entity_id) "
            f"JOIN idr_gsrc s USING (table_id) JOIN idr_types t USING (identifier_type) {recency}")


# --- publish ---------------------------------------------------------------------------

def publish_golden(ctx: RunContext) -> int:
    """Write golden_profile_current and its provenance (inside publish's transaction).
    FULL: new tables (the old ones kept for rollback); INCR: the rows of idr_golden_scope."""
    from ..runs import rollback

    con, run_id = ctx.con, ctx.run_id
    if ctx.mode == "FULL":
        if ctx.plan.golden is None:
            for table in (GOLDEN, PROVENANCE):
                rollback.replace_whole(con, table, run_id)
            return 0
        rollback.keep_whole(con, GOLDEN, run_id)
        attrs = "".join(f", {ident(c)}" for c in output_columns(ctx))
        con.execute(f"CREATE TABLE {out(GOLDEN)} AS SELECT resolved_id{attrs}, CAST($ts AS TIMESTAMP) AS updated_ts, "
                    "CAST($run_id AS VARCHAR) AS run_id FROM idr_golden", {"ts": ctx.started_at, "run_id": run_id})
        rollback.replace_whole(con, PROVENANCE, run_id)
        sql, params = _provenance_sql(ctx)
        con.execute(f"INSERT INTO {out(PROVENANCE)} SELECT *, $run_id FROM ({sql})", {**params, "run_id": run_id})
        return ctx.count("SELECT count(*) FROM idr_golden")
    if ctx.plan.golden is None:
        return 0
    scope = "resolved_id IN (SELECT resolved_id FROM idr_golden_scope)"
    cols = ["resolved_id", *output_columns(ctx)]
    written = rollback.replace_rows(con, GOLDEN, run_id, cols, f"SELECT {', '.join(ident(c) for c in cols)} "
                                    "FROM idr_golden", scope, {"updated_ts": ctx.started_at, "run_id": run_id},
                                    null_safe=True)
    sql, params = _provenance_sql(ctx)
    rollback.replace_rows(con, PROVENANCE, run_id, ["resolved_id", "attribute_name", "entity_key", "strategy"],
                          sql, scope, {"run_id": run_id}, params)
    return written


def changed_values(ctx: RunContext) -> int:
    """Dry runs: golden values (cluster x attribute) the run would add, change or remove."""
    if ctx.plan.golden is None:
        return 0
    con = ctx.con
    published = {c for (c,) in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'idr_out' AND table_name = ?",
        [GOLDEN]).fetchall()}
    old = out(GOLDEN) if ctx.mode == "FULL" else \
        f"(SELECT * FROM {out(GOLDEN)} WHERE resolved_id IN (SELECT resolved_id FROM idr_golden_scope))"
    total = 0
    for c in output_columns(ctx):
        if c in published:
            total += ctx.count(f"SELECT count(*) FROM idr_golden n FULL JOIN {old} o USING (resolved_id) "
                               f"WHERE n.{ident(c)} IS DISTINCT FROM o.{ident(c)}")
        else:
            total += ctx.count(f"SELECT count({ident(c)}) FROM idr_golden")
    return total


__all__ = ["extract_columns", "rows_select", "golden", "publish_golden", "changed_values", "qualified"]
