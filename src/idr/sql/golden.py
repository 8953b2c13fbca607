"""Pure SQL builders for golden profiles: survivorship as one set-based SELECT.

Inputs are relations of candidates, one row per record of a cluster member:
`resolved_id, entity_key, src, rec, a0, a1, ...` (src: the source's number in the plan,
rec: the record's recency, a<j>: the mapped attributes), and for each identifier-derived
attribute `resolved_id, entity_key, src, rec, v`. The output has one row per cluster:
`resolved_id`, one column per attribute, and `k<i>`, the entity_key each block's value
came from (provenance).

Every block (a group of attributes, or one attribute alone) picks one record per cluster:
the first in an order made of the strategy's terms followed by the documented tie-break
(source trust rank, then most recent, then smallest entity_key, then the values as text).
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


def order_terms(block: Block, trust_sql: str, freq_col: str | None) -> list[tuple[str, str]]:
    """The strategy's terms, then the tie-break every strategy ends with."""
    cols = block.columns
    terms: list[tuple[str, str]] = []
    if len(cols) > 1:  # complete blocks first
        terms.append((" + ".join(f"CAST({valid_sql(c)} AS INTEGER)" for c in cols), "DESC"))
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
    terms += [(trust_sql, "ASC"), ("rec", "DESC"), ("entity_key", "ASC")]
    terms += [(f"CAST({c} AS VARCHAR)", "ASC") for c in cols]
    return terms


def block_pick_sql(block: Block, trust_sql: str, freq_col: str | None) -> str:
    payload = "struct_pack(k := entity_key, " + ", ".join(
        f"v{i} := {kept_sql(c)}" for i, c in enumerate(block.columns)) + ")"
    where = " OR ".join(valid_sql(c) for c in block.columns)
    return first_by_sql(payload, order_terms(block, trust_sql, freq_col), where)


def frequency_sql(block: Block) -> str:
    """Records of the cluster that carry the same block (all NULL-or-blank blocks never win)."""
    return f"count(*) OVER (PARTITION BY resolved_id, {', '.join(kept_sql(c) for c in block.columns)})"


def golden_select_sql(clusters: str, candidates: str, blocks: list[Block], id_blocks: list[tuple[Block, str]],
                      trust_sql: str) -> str:
    """One row per cluster of `clusters` (a relation with resolved_id): every attribute's
    golden value and, per block i, k<i> = the entity_key it came from.

    blocks: over `candidates`; id_blocks: (block, its own candidate relation)."""
    parts, joins, outs = [], [], []
    freq = {i: f"f{i}" for i, b in enumerate(blocks) if b.strategy == "MOST_FREQUENT"}
    if blocks:
        windows = "".join(f", {frequency_sql(blocks[i])} AS {col}" for i, col in freq.items())
        picks = ", ".join(f"{block_pick_sql(b, trust_sql, freq.get(i))} AS b{i}" for i, b in enumerate(blocks))
        parts.append(f"(SELECT resolved_id, {picks} FROM (SELECT *{windows} FROM {candidates}) "
                     "GROUP BY resolved_id) r0")
        joins.append("r0")
        for i, b in enumerate(blocks):
            outs += [f"r0.b{i}.v{j} AS {ident(name)}" for j, name in enumerate(b.names)]
    for n, (b, relation) in enumerate(id_blocks):
        i = len(blocks) + n
        windows = f", {frequency_sql(b)} AS f" if b.strategy == "MOST_FREQUENT" else ""
        pick = block_pick_sql(b, trust_sql, "f" if windows else None)
        parts.append(f"(SELECT resolved_id, {pick} AS b{i} FROM (SELECT *{windows} FROM {relation}) "
                     f"GROUP BY resolved_id) r{i + 1}")
        joins.append(f"r{i + 1}")
        outs.append(f"r{i + 1}.b{i}.v0 AS {ident(b.names[0])}")
    keys = [f"r0.b{i}.k AS k{i}" for i in range(len(blocks))] + \
        [f"r{len(blocks) + n + 1}.b{len(blocks) + n}.k AS k{len(blocks) + n}" for n in range(len(id_blocks))]
    sql = f"SELECT c.resolved_id{''.join(', ' + o for o in outs + keys)} FROM {clusters} c"
    for part, alias in zip(parts, joins):
        sql += f" LEFT JOIN {part} ON {alias}.resolved_id = c.resolved_id"
    return sql


def case_sql(column: str, mapping: dict[int, int | None]) -> str:
    """CASE column WHEN i THEN value ... END over idr's own integers (never user text)."""
    whens = " ".join(f"WHEN {int(k)} THEN {int(v)}" for k, v in sorted(mapping.items()) if v is not None)
    return f"CASE {column} {whens} END" if whens else "CAST(NULL AS BIGINT)"
