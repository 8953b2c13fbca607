"""Exact connected components in SQL by large-star / small-star contraction.

Algorithm: the "Alternating" algorithm of R. Kiveris, S. Lattanzi, V. Mirrokni,
V. Rastogi, S. Vassilvitskii, "Connected Components in MapReduce and Beyond",
ACM SoCC 2014. Each round is one large-star followed by one small-star; both keep the
connectivity of the graph and only ever point edges at smaller node ids, so the graph
contracts into one star per component, centred on the component's smallest node. It
needs O(log^2 n) rounds in the worst case and about log n in practice, where min-label
propagation needs one round per link of the longest chain.

Edges are kept as directed rows (src, dst) with src > dst: an undirected edge stored once,
pointing at its smaller end. Then "the neighbours of u smaller than u" are the dst of the
rows whose src is u, and "the neighbours larger than u" are the src of rows whose dst is u.

The `*_sql()` builders return portable SELECT statements (CASE, CTEs, DISTINCT, UNION ALL,
scalar and IN subqueries; no engine-specific syntax) so another backend (Spark, a
warehouse) can materialise them its own way. They take relation names already quoted for
the target engine. `run_star_contraction` runs them on any backend: it materialises
each step as a session relation and drops the intermediate ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from idr.errors import ComponentsDidNotConverge
from idr.sql.quoting import qualified

if TYPE_CHECKING:
    from idr.backends import Backend


def quote_ident(name: str) -> str:
    """Quote a (possibly schema-qualified) internal name through the shared builder."""
    return qualified(*name.split("."))


# ---------------------------------------------------------------------------------------
# SQL builders (portable)
# ---------------------------------------------------------------------------------------


def canonical_edges_sql(edges: str) -> str:
    """Undirected input edges as distinct rows (src=larger end, dst=smaller end).

    Self-loops carry no connectivity and are dropped; duplicates collapse.
    """
    return f"""
SELECT DISTINCT
  CASE WHEN src > dst THEN src ELSE dst END AS src,
  CASE WHEN src > dst THEN dst ELSE src END AS dst
FROM (SELECT CAST(src AS BIGINT) AS src, CAST(dst AS BIGINT) AS dst FROM {edges}) AS e
WHERE src <> dst"""


def _smallest_below_sql(edges: str) -> str:
    # For every node with a smaller neighbour: the smallest of them, which is also the
    # smallest of the node's closed neighbourhood. Nodes absent here are their own minimum.
    return f"SELECT src AS node, MIN(dst) AS m FROM {edges} GROUP BY src"


def large_star_sql(edges: str) -> str:
    """Large-star: connect every larger neighbour v of u to m(u), the minimum around u.

    Each row (v, u) is looked at from its smaller end u, so it becomes (v, m(u)); since
    m(u) <= u < v the orientation src > dst holds. One row out per row in, so no DISTINCT
    (measured 30% cheaper): the small-star's DISTINCT removes the duplicates right after.
    """
    return f"""
WITH mins AS ({_smallest_below_sql(edges)})
SELECT e.src AS src, COALESCE(mins.m, e.dst) AS dst
FROM {edges} AS e
LEFT JOIN mins ON e.dst = mins.node"""


def small_star_sql(edges: str) -> str:
    """Small-star: connect u and all its smaller neighbours to m(u), the smallest of them.

    Each row (u, w) is looked at from its larger end u: w becomes (w, m(u)) unless w is
    m(u) itself, and u gets (u, m(u)) once. (DISTINCT over UNION ALL rather than a bare
    UNION, which BigQuery rejects; this form parses in every dialect we target.)
    """
    return f"""
WITH mins AS ({_smallest_below_sql(edges)})
SELECT DISTINCT src, dst FROM (
  SELECT e.dst AS src, mins.m AS dst
  FROM {edges} AS e
  JOIN mins ON e.src = mins.node
  WHERE e.dst <> mins.m
  UNION ALL
  SELECT node AS src, m AS dst FROM mins
) AS s"""


def convergence_sql(edges: str) -> str:
    """Counts that say whether the edges already form stars centred on their minimum.

    Converged iff edge_count = child_count (every non-centre node has exactly one edge)
    and deep_edges = 0 (every edge points at a centre, i.e. a node with no edge of its own).
    Such a graph is a fixed point of both steps: a further round would change nothing.
    """
    return f"""
SELECT
  (SELECT COUNT(*) FROM {edges}) AS edge_count,
  (SELECT COUNT(DISTINCT src) FROM {edges}) AS child_count,
  (SELECT COUNT(*) FROM {edges} WHERE dst IN (SELECT src FROM {edges})) AS deep_edges"""


def labels_sql(star_edges: str, nodes: str) -> str:
    """(node, component) for every node; component is the smallest node of its component.

    `nodes` is a query with one column `node` listing 0..n-1 (Dialect.node_range: DuckDB
    and Spark spell a number range differently). Nodes without an edge are centres or isolated
    nodes, which label themselves.
    """
    return f"""
SELECT n.node AS node, COALESCE(e.dst, n.node) AS component
FROM ({nodes}) AS n
LEFT JOIN {star_edges} AS e ON e.src = n.node"""


# ---------------------------------------------------------------------------------------
# Executor
# ---------------------------------------------------------------------------------------


def run_star_contraction(
    db: Backend,
    edges_table: str,
    n_nodes: int,
    *,
    max_iters: int,
    out_table: str,
) -> tuple[int, int]:
    """Write (node, component) into session relation `out_table`; return (rounds, component count).

    Expects valid input (ids in 0..n_nodes-1, no NULLs): `connected_components` checks it.
    """
    edges = f"{out_table}__cc_edges"  # the current graph
    large = f"{out_table}__cc_large"  # the graph after this round's large-star
    temps = (edges, large)

    def materialise(name: str, select: str) -> None:
        db.materialise(quote_ident(name), select)

    def drop(name: str) -> None:
        db.drop(quote_ident(name))

    try:
        # 1. Canonical, deduplicated, loop-free edge list.
        materialise(edges, canonical_edges_sql(quote_ident(edges_table)))

        rounds = 0
        while True:
            # 2. Stop once the graph is a set of stars around each component's minimum.
            #    (fetchall, not fetchone: an unread result would block the connection.)
            [(edge_count, child_count, deep_edges)] = db.rows(convergence_sql(quote_ident(edges)))
            if edge_count == child_count and deep_edges == 0:
                break
            if rounds >= max_iters:
                raise ComponentsDidNotConverge(
                    f"connected components did not converge after {rounds} rounds "
                    f"(limit --max-iters={max_iters}); nothing was published. "
                    "Raise --max-iters to let the run finish."
                )
            # 3. Large-star, then 4. small-star; each replaces the previous graph.
            materialise(large, large_star_sql(quote_ident(edges)))
            drop(edges)
            materialise(edges, small_star_sql(quote_ident(large)))
            drop(large)
            rounds += 1

        # 5. Label every node 0..n-1, isolated ones included. Each non-centre node has one
        #    edge, so the number of components is n minus the number of edges.
        db.release_arrow(out_table)  # one left by an in-process run would shadow the table
        materialise(out_table, labels_sql(quote_ident(edges), db.dialect.node_range(n_nodes)))
        return rounds, n_nodes - edge_count
    finally:
        for name in temps:
            drop(name)
