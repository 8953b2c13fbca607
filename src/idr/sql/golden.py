"""Pure SQL builders for golden profiles: survivorship as one set-based SELECT.

Inputs are relations of candidates, one row per record of a cluster member:
`gid, ek, h, src, rec, a0, a1, ...` (gid: the cluster, ek: the entity, h: hash(entity_key),
src: the source's number in the plan, rec: the record's recency, a<j>: the mapped
attributes), and for each identifier-derived attribute `gid, ek, h, src, rec, v`. The
caller chooses what identifies clusters and entities (FULL: integers, which group and
carry faster than keys; INCR: resolved_id and entity_key). The output has one row per
cluster: `gid`, one column per attribute, and `k<i>`, the ek each block's value came from
(provenance).

Every block (a group of attributes, or one attribute alone) picks one record per cluster:
the first in an order made of the strategy's terms followed by the documented tie-break
(source trust rank, then most recent, then hash(entity_key), then a hash of the values).
Records whose block is all NULL or blank are never candidates; a group's complete blocks
come first. The pick is an `arg_min` over a sort key built by DuckDB's `create_sort_key`,
which mixes ascending and descending terms with NULLs last in one hash aggregation (a
window per attribute would sort every record once per attribute). Another engine renders
`first_by_sql` differently (row_number() over a window); nothing else here is DuckDB-only.
"""

from __future__ import annotations

from dataclasses import dataclass

from .quoting import ident

LAST = 2**62  # stands in for "unranked": after every real rank


@dataclass(frozen=True)
class Block:
    """One survivorship decision: the attributes that survive together, their columns in the
    candidates, and how to order records."""

    names: tuple[str, ...]  # attribute names (output columns)
    columns: tuple[str, ...]  # their columns in the candidate relation (a<j>, or v)
    strategy: str
    rank_sql: str  # the record's rank for the SOURCE_PRIORITY strategies (NULL: unranked)
    recency_sql: str  # the record's recency for MOST_RECENT (NULL: unknown)


def valid_sql(col: str) -> str:
    """A value that can win: not NULL, not blank."""
    return f"({col} IS NOT NULL AND trim(CAST({col} AS VARCHAR)) <> '')"


def kept_sql(col: str) -> str:
    return f"CASE WHEN {valid_sql(col)} THEN {col} END"


def first_by_sql(payload: str, terms: list[tuple[str, str]], where: str) -> str:
    """The payload of the first row (per group) in the order of `terms` [(expr, ASC|DESC)],
    NULLs last, among rows where `where` holds."""
    key = ", ".join(f"{expr}, '{direction} NULLS LAST'" for expr, direction in terms)
    return f"arg_min({payload}, create_sort_key({key})) FILTER (WHERE {where})"


def values_hash_sql(cols) -> str:
    """The last tie-break: a fixed order of different values of one record's entity (a key
    repeated in its source). A hash, not the text: it keeps the sort key numeric."""
    return f"hash({', '.join(kept_sql(c) for c in cols)})"


def completeness_sql(cols) -> str:
    return " + ".join(f"CAST({valid_sql(c)} AS INTEGER)" for c in cols)


def order_terms(block: Block, trust_sql: str, freq_col: str) -> list[tuple[str, str]]:
    """The strategy's terms, then the tie-break every strategy ends with."""
    cols = block.columns
    terms: list[tuple[str, str]] = []
    if len(cols) > 1:  # complete blocks first
        terms.append((completeness_sql(cols), "DESC"))
    s = block.strategy
    if s == "MOST_RECENT":
        terms.append((block.recency_sql, "DESC"))
    elif s == "SOURCE_PRIORITY":
        terms.append((block.rank_sql, "ASC"))
    elif s == "SOURCE_PRIORITY + MOST_RECENT":
        terms += [(block.rank_sql, "ASC"), (block.recency_sql, "DESC")]
    elif s == "MOST_FREQUENT":
        terms.append((freq_col, "DESC"))
    elif s == "LONGEST":
        terms.append((" + ".join(f"coalesce(length(CAST({kept_sql(c)} AS VARCHAR)), 0)" for c in cols), "DESC"))
    elif s in ("MIN", "MAX"):
        terms.append((cols[0], "ASC" if s == "MIN" else "DESC"))
    else:
        raise ValueError(f"unknown strategy {s!r}")
    return terms + [(trust_sql, "ASC"), ("rec", "DESC"), ("h", "ASC"), (values_hash_sql(cols), "ASC")]


def block_pick_sql(block: Block, trust_sql: str, freq_col: str) -> str:
    payload = "struct_pack(k := ek, " + ", ".join(
        f"v{i} := {kept_sql(c)}" for i, c in enumerate(block.columns)) + ")"
    where = " OR ".join(valid_sql(c) for c in block.columns)
    return first_by_sql(payload, order_terms(block, trust_sql, freq_col), where)


def frequency_sql(block: Block) -> str:
    """Records of the cluster that carry the same block (all NULL-or-blank blocks never win)."""
    return f"count(*) OVER (PARTITION BY gid, {', '.join(kept_sql(c) for c in block.columns)})"


def golden_select_sql(clusters: str, candidates: str, blocks: list[Block], id_blocks: list[tuple[Block, str]],
                      trust_sql: str) -> str:
    """One row per cluster of `clusters` (a relation with gid): every attribute's golden
    value and, per block i, k<i> = the ek it came from.

    blocks: over `candidates`, all picked in one aggregation; id_blocks: (block, its own
    candidate relation)."""
    parts, outs, keys = [], [], []
    every = [(b, candidates) for b in blocks] + list(id_blocks)
    for n, group in enumerate([list(enumerate(blocks))] * bool(blocks) +
                              [[(len(blocks) + j, b)] for j, (b, _) in enumerate(id_blocks)]):
        relation = every[group[0][0]][1]
        windows = "".join(f", {frequency_sql(b)} AS f{i}" for i, b in group if b.strategy == "MOST_FREQUENT")
        picks = ", ".join(f"{block_pick_sql(b, trust_sql, f'f{i}')} AS b{i}" for i, b in group)
        parts.append(f"(SELECT gid, {picks} FROM (SELECT *{windows} FROM {relation}) GROUP BY gid) r{n}")
        for i, b in group:
            outs += [f"r{n}.b{i}.v{j} AS {ident(name)}" for j, name in enumerate(b.names)]
            keys.append(f"r{n}.b{i}.k AS k{i}")
    sql = f"SELECT c.gid{''.join(', ' + o for o in outs + keys)} FROM {clusters} c"
    for n, part in enumerate(parts):
        sql += f" LEFT JOIN {part} ON r{n}.gid = c.gid"
    return sql


def case_sql(column: str, mapping: dict[int, int | None]) -> str:
    """CASE column WHEN i THEN value ... END over idr's own integers (never user text)."""
    whens = " ".join(f"WHEN {int(k)} THEN {int(v)}" for k, v in sorted(mapping.items()) if v is not None)
    return f"CASE {column} {whens} END" if whens else "CAST(NULL AS BIGINT)"
