"""Pure SQL builders for golden profiles: survivorship as one set-based SELECT.

Inputs are relations of candidates, one row per record of a cluster member:
`gid, ek, src, rec, a0, a1, ...` (gid: the cluster, ek: the entity_key, src: the source's
number in the plan, rec: the record's recency, a<j>: the mapped attributes), and for each
identifier-derived attribute `gid, ek, src, rec, v`. The caller chooses what identifies
clusters (FULL: the component number, which groups faster than a key; INCR: resolved_id).
The output has one row per cluster: `gid`, one column per attribute, and `k<i>`, the
entity_key each block's value came from (provenance).

Every block (a group of attributes, or one attribute alone) picks one record per cluster:
the first in an order made of the strategy's terms followed by the documented tie-break
(source trust rank, then most recent, then smallest entity_key, then the values as text).
Records whose block is all NULL or blank are never candidates; a group's complete blocks
come first. The pick is the dialect's `first_by` aggregate (sql/dialects.py; on DuckDB an
`arg_min` over a sort key that mixes ascending and descending terms with NULLs last), all
blocks of one relation in one hash aggregation: a window per attribute would sort every
record once per attribute. MOST_FREQUENT counts with a window.
"""

from __future__ import annotations

from dataclasses import dataclass

from .dialects import Dialect
from .quoting import ident


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
    return terms + [(trust_sql, "ASC"), ("rec", "DESC"), ("ek", "ASC")] + \
        [(f"CAST({kept_sql(c)} AS VARCHAR)", "ASC") for c in cols]


def block_pick_sql(d: Dialect, block: Block, trust_sql: str, freq_col: str) -> str:
    fields = [("k", "ek")] + [(f"v{i}", kept_sql(c)) for i, c in enumerate(block.columns)]
    where = " OR ".join(valid_sql(c) for c in block.columns)
    return d.first_by(fields, order_terms(block, trust_sql, freq_col), where)


def frequency_sql(block: Block) -> str:
    """Records of the cluster that carry the same block (all NULL-or-blank blocks never win)."""
    return f"count(*) OVER (PARTITION BY gid, {', '.join(kept_sql(c) for c in block.columns)})"


def golden_select_sql(d: Dialect, clusters: str, candidates: str, blocks: list[Block],
                      id_blocks: list[tuple[Block, str]], trust_sql: str) -> str:
    """One row per cluster of `clusters` (a relation with gid): every attribute's golden
    value and, per block i, k<i> = the entity_key it came from.

    blocks: over `candidates`, all picked in one aggregation; id_blocks: (block, its own
    candidate relation)."""
    parts, outs, keys = [], [], []
    every = [(b, candidates) for b in blocks] + list(id_blocks)
    groups = ([list(enumerate(blocks))] if blocks else []) + \
        [[(len(blocks) + j, b)] for j, (b, _) in enumerate(id_blocks)]
    for n, group in enumerate(groups):
        relation = every[group[0][0]][1]
        windows = "".join(f", {frequency_sql(b)} AS f{i}" for i, b in group if b.strategy == "MOST_FREQUENT")
        picks = ", ".join(f"{block_pick_sql(d, b, trust_sql, f'f{i}')} AS b{i}" for i, b in group)
        parts.append(f"(SELECT gid, {picks} FROM (SELECT *{windows} FROM {relation}) AS q GROUP BY gid) AS r{n}")
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
