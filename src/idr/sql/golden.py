"""Pure SQL builders for golden profiles: survivorship in three set-based passes.

Input: a relation of candidates, one row per record of a cluster member, `gid, ek, src,
rec, a0, a1, ...` (gid: the cluster, ek: the entity_key, src: the source's number in the
plan, rec: the record's recency, a<j>: the mapped attributes); identifier-derived
attributes have their own, `gid, ek, src, rec, type_idx, v`, unless each record holds one
value at most of their type (then that value is one more a<j> of the record). The caller chooses what
identifies clusters (FULL: the component number, which groups faster than a key; INCR:
resolved_id). Output: one row per cluster, `gid`, one column per attribute, and `k<i>`,
the entity_key each block's value came from (provenance).

Every block (a group of attributes, or one attribute alone) picks one record per cluster:
the first in an order made of the strategy's terms followed by the documented tie-break
(source trust rank, then most recent, then smallest entity_key, then the record's values).
Records whose block is all NULL or blank are never candidates; a group's complete blocks
come first. The passes, the same for any number of attributes:

1. `ranked_sql`: the candidates with blank values made NULL and `tb`, each record's place
   in its cluster by the tie-break (one window sort). tb is unique in a cluster, so it
   names the record, and every later ordering ends with it.
2. `picks_sql`: one aggregation over the clusters: per block, the tb of the first record
   by its strategy. The strategy's terms are non-negative integers packed with tb into
   one ordering key (the dialect's `ordered_key`: a 128-bit integer on DuckDB, a struct
   elsewhere), compared by one `arg_min` per block. A sort key of mixed text and
   directions per block cost ten times more (measured at 1M records, 2026-12-04); MIN and
   MAX order by the value itself, then tb. MOST_FREQUENT's counts come from one grouped
   count joined back (a window per attribute sorted every record once more).
3. `values_sql`: the winners' values and entity keys, one more aggregation over the
   winning records only.

Clusters of one record (half the clusters of the benchmark's 1M records) skip all three:
`single_values_sql` reads their values as they are (a record is its own winner).
"""

from __future__ import annotations

from dataclasses import dataclass

from .dialects import Dialect, OrderTerm
from .quoting import ident

_COUNT_BITS = 40  # counts and lengths: far above any cluster's records or a value's length
_RANK_BITS = 16  # source ranks are dense positions among a few sources
_TB_BITS = 32  # a cluster's records


@dataclass(frozen=True)
class Block:
    """One survivorship decision: the attributes that survive together, their columns in the
    candidates, and how to order records."""

    names: tuple[str, ...]  # attribute names (output columns)
    columns: tuple[str, ...]  # their columns in the candidate relation (c<j>, or v)
    strategy: str
    rank_sql: str  # the record's rank for the SOURCE_PRIORITY strategies: 0, 1, ... or NULL (unranked)
    recency_sql: str  # the record's recency for MOST_RECENT (NULL: unknown)
    type_idx: int | None = None  # identifier-derived: the identifier type it reads


def valid_sql(d: Dialect, col: str, text: bool = True) -> str:
    """A value that can win: not NULL, not blank."""
    return f"({col} IS NOT NULL AND trim({d.cast(col, 'VARCHAR')}) <> '')" if text else f"({col} IS NOT NULL)"


def kept_sql(d: Dialect, col: str, text: bool = True) -> str:
    return f"CASE WHEN {valid_sql(d, col, text)} THEN {col} END" if text else col


# --- pass 1: candidates ranked by the tie-break ------------------------------------------

def ranked_sql(d: Dialect, candidates: str, values: list[tuple[str, str, bool]], trust_sql: str,
               partition: str = "gid", extra: list[str] = (), unique_keys: bool = False) -> str:
    """The candidates with blank values made NULL (values: [(column, output name, is text)])
    and tb, the record's place in its cluster (partition) by trust rank, recency (newest
    first), entity_key, then the record's values: unique per record of a cluster.
    unique_keys: no two candidates of a cluster share an entity_key, so the values never
    decide and are left out of the sort (0.89 -> 0.77 s CPU at 1M records)."""
    kept = "".join(f", {kept_sql(d, c, text)} AS {out}" for c, out, text in values)
    order = ", ".join(["trust ASC NULLS LAST", "rec DESC NULLS LAST", "ek ASC NULLS LAST"] +
                      ([] if unique_keys else [f"{out} ASC NULLS LAST" for _, out, _ in values]))
    return (f"SELECT q.*, row_number() OVER (PARTITION BY {partition} ORDER BY {order}) AS tb "
            f"FROM (SELECT gid, ek, src, rec{''.join(', ' + c for c in extra)}, {trust_sql} AS trust{kept} "
            f"FROM {candidates}) AS q")


# --- pass 2: one winner per block --------------------------------------------------------

def frequency_name(i: int) -> str:
    return f"f{i}"


def frequencies_sql(blocks: list[tuple[int, Block]], ranked: str) -> tuple[str, str]:
    """(the columns, the joins) that give each MOST_FREQUENT block i its count f<i>: how many
    records of the cluster carry the same block (NULL-or-blank blocks are not counted)."""
    cols, joins = "", ""
    for i, b in blocks:
        if b.strategy != "MOST_FREQUENT":
            continue
        key = ["gid"] + (["type_idx"] if b.type_idx is not None else []) + list(b.columns)
        where = " OR ".join(f"{c} IS NOT NULL" for c in b.columns)
        if b.type_idx is not None:
            where = f"type_idx = {int(b.type_idx)} AND ({where})"
        on = " AND ".join(f"n{i}.{c} IS NOT DISTINCT FROM r.{c}" for c in key)
        joins += (f" LEFT JOIN (SELECT {', '.join(key)}, count(*) AS {frequency_name(i)} FROM {ranked} "
                  f"WHERE {where} GROUP BY {', '.join(key)}) AS n{i} ON {on}")
        cols += f", n{i}.{frequency_name(i)}"
    return cols, joins


def order_terms(d: Dialect, block: Block, freq_col: str) -> list[OrderTerm]:
    """The strategy's terms as integers (MIN and MAX: see pick_sql), before tb."""
    cols = block.columns
    terms: list[OrderTerm] = []
    if len(cols) > 1:  # complete blocks first
        present = " + ".join(d.cast(f"{c} IS NOT NULL", "INTEGER") for c in cols)
        terms.append(OrderTerm(present, 8, descending=True))
    s = block.strategy
    recency = OrderTerm(block.recency_sql, 64, descending=True, signed=True, epoch=True)
    rank = OrderTerm(block.rank_sql, _RANK_BITS)
    if s == "MOST_RECENT":
        terms.append(recency)
    elif s == "SOURCE_PRIORITY":
        terms.append(rank)
    elif s == "SOURCE_PRIORITY + MOST_RECENT":
        terms += [rank, recency]
    elif s == "MOST_FREQUENT":
        terms.append(OrderTerm(freq_col, _COUNT_BITS, descending=True))
    elif s == "LONGEST":
        length = " + ".join(f"coalesce(length({d.cast(c, 'VARCHAR')}), 0)" for c in cols)
        terms.append(OrderTerm(length, _COUNT_BITS, descending=True))
    elif s not in ("MIN", "MAX"):
        raise ValueError(f"unknown strategy {s!r}")
    return terms + [OrderTerm("tb", _TB_BITS)]


def pick_sql(d: Dialect, block: Block, freq_col: str) -> str:
    """Aggregate: the tb of the block's winning record in the cluster."""
    where = " OR ".join(f"{c} IS NOT NULL" for c in block.columns)
    if block.type_idx is not None:
        where = f"type_idx = {int(block.type_idx)} AND ({where})"
    if block.strategy in ("MIN", "MAX"):
        # The value itself orders (any type, so no integer key), then tb. MAX takes the
        # largest of (value, -tb): the largest value, then the smallest tb. A group orders
        # by its first attribute, complete blocks first, records without it last.
        first, lowest = block.columns[0], block.strategy == "MIN"
        head = []
        if len(block.columns) > 1:
            present = " + ".join(d.cast(f"{c} IS NOT NULL", "INTEGER") for c in block.columns)
            head = [f"{len(block.columns)} - ({present})" if lowest else present,
                    f"{first} IS NULL" if lowest else f"{first} IS NOT NULL"]
        if lowest:
            return f"{d.arg_min('tb', d.row_of(*head, first, 'tb'))} FILTER (WHERE {where})"
        return f"{d.arg_max('tb', d.row_of(*head, first, '-tb'))} FILTER (WHERE {where})"
    return f"{d.arg_min('tb', d.ordered_key(order_terms(d, block, freq_col)))} FILTER (WHERE {where})"


def picks_sql(d: Dialect, ranked: str, blocks: list[tuple[int, Block]]) -> str:
    """gid, w<i> (the winning tb of block i) for every cluster with a candidate."""
    freq_cols, joins = frequencies_sql(blocks, ranked)
    picks = ", ".join(f"{pick_sql(d, b, frequency_name(i))} AS w{i}" for i, b in blocks)
    return f"SELECT r.gid, {picks} FROM (SELECT r.*{freq_cols} FROM {ranked} r{joins}) AS r GROUP BY r.gid"


# --- pass 3: the winners' values ---------------------------------------------------------

def values_sql(ranked: str, picks: str, blocks: list[tuple[int, Block]]) -> str:
    """gid, then per block i its values v<i>_<j> and k<i>, the winner's entity_key."""
    cols = []
    for i, b in blocks:
        won = f"r.tb = p.w{i}" + (f" AND r.type_idx = {int(b.type_idx)}" if b.type_idx is not None else "")
        cols += [f"max(r.{c}) FILTER (WHERE {won}) AS v{i}_{j}" for j, c in enumerate(b.columns)]
        cols.append(f"max(r.ek) FILTER (WHERE {won}) AS k{i}")
    winners = " OR ".join(f"r.tb = p.w{i}" for i, _ in blocks)
    return (f"SELECT p.gid, {', '.join(cols)} FROM {ranked} r JOIN {picks} p ON p.gid = r.gid "
            f"WHERE {winners} GROUP BY p.gid")


def single_values_sql(d: Dialect, candidates: str, values: list[tuple[str, str, bool]],
                      blocks: list[tuple[int, Block]]) -> str:
    """values_sql's output for clusters of one record each (candidates: one row per
    cluster): every block's winner is that record when any value of the block can win, so
    no ranking is needed. values: as in ranked_sql."""
    kept = "".join(f", {kept_sql(d, c, text)} AS {out}" for c, out, text in values)
    cols = []
    for i, b in blocks:
        cols += [f"r.{c} AS v{i}_{j}" for j, c in enumerate(b.columns)]
        cols.append(f"CASE WHEN {' OR '.join(f'r.{c} IS NOT NULL' for c in b.columns)} THEN r.ek END AS k{i}")
    return f"SELECT r.gid, {', '.join(cols)} FROM (SELECT gid, ek{kept} FROM {candidates}) AS r"


def golden_select_sql(clusters: str, parts: list[tuple[str, list[tuple[int, Block]]]],
                      carry: tuple[str, ...] = ()) -> str:
    """One row per cluster of `clusters` (a relation with gid): every attribute's golden
    value and, per block i, k<i>. parts: (a values_sql relation, its blocks); carry:
    further columns of `clusters` to keep."""
    outs, keys, joins = [f"c.{c}" for c in carry], [], ""
    for n, (relation, blocks) in enumerate(parts):
        for i, b in blocks:
            outs += [f"r{n}.v{i}_{j} AS {ident(name)}" for j, name in enumerate(b.names)]
            keys.append(f"r{n}.k{i} AS k{i}")
        joins += f" LEFT JOIN {relation} r{n} ON r{n}.gid = c.gid"
    return f"SELECT c.gid{''.join(', ' + o for o in outs + keys)} FROM {clusters} c{joins}"


def case_sql(column: str, mapping: dict[int, int | None]) -> str:
    """CASE column WHEN i THEN value ... END over idr's own integers (never user text)."""
    whens = " ".join(f"WHEN {int(k)} THEN {int(v)}" for k, v in sorted(mapping.items()) if v is not None)
    return f"CASE {column} {whens} END" if whens else "CAST(NULL AS BIGINT)"


def dense_ranks(ranks: dict[int, int | None]) -> dict[int, int | None]:
    """Ranks (any integers, lower first) -> their places 0, 1, ... among the distinct ranks:
    the same order in a few bits."""
    places = {r: p for p, r in enumerate(sorted({r for r in ranks.values() if r is not None}))}
    return {k: None if r is None else places[r] for k, r in ranks.items()}
