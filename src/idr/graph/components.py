"""Exact connected components of the identity graph, behind one function.

Two strategies give the same table, (node, component) with component = the smallest node
id of the node's component:

- "inprocess" (default on DuckDB): the edges are fetched as numpy arrays and solved by
  scipy's compiled graph search (small graphs: by numpy alone, hook_and_compress, which
  spares small runs scipy's import; tiny ones by union-find in Python, which spares them
  numpy and pyarrow too); the labels go back to DuckDB as a registered Arrow table. About
  3 s for 10M nodes / 10M edges on the reference machine.
- "sql": large-star / small-star contraction run as SQL (see `star_contraction`), the path
  for engines whose data does not fit one process (Spark, warehouses).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from idr.backends import Backend, as_backend
from idr.errors import InputError, InternalError
from idr.graph.star_contraction import quote_ident, run_star_contraction

if TYPE_CHECKING:
    import numpy as np

STRATEGIES = ("inprocess", "sql")


@dataclass(frozen=True)
class Components:
    table: str  # table or view (node BIGINT, component BIGINT), one row per node 0..n_nodes-1
    rounds: int  # in-SQL: contraction rounds run; in-process: 1
    count: int  # number of components, singletons included


def connected_components(
    db: Backend,
    edges_table: str,
    n_nodes: int,
    *,
    strategy: str = "inprocess",
    max_iters: int = 100,
    out_table: str = "idr_cc",
) -> Components:
    """Label nodes 0..n_nodes-1 by connected component of the undirected `edges_table`.

    `edges_table` has non-null integer columns src, dst in 0..n_nodes-1; duplicates and
    self-loops are allowed. The result lives in `out_table` (an unqualified name) in this
    backend's session only: an Arrow relation ("inprocess") or a materialised one ("sql");
    the caller persists it if needed. `max_iters` bounds the SQL rounds; hitting it raises
    ComponentsDidNotConverge rather than returning a partial answer.
    """
    if strategy not in STRATEGIES:
        raise InputError(f"unknown components strategy {strategy!r}; expected one of {STRATEGIES}")
    db = as_backend(db)
    n_edges = _check_edges(db, edges_table, n_nodes)
    if strategy == "inprocess":
        if n_edges <= TINY_GRAPH_EDGES and n_nodes <= TINY_GRAPH_NODES:
            count = _tiny(db, edges_table, n_nodes, out_table)
        else:
            count = _inprocess(db, edges_table, n_nodes, out_table)
        return Components(table=out_table, rounds=1, count=count)
    rounds, count = run_star_contraction(
        db, edges_table, n_nodes, max_iters=max_iters, out_table=out_table
    )
    return Components(table=out_table, rounds=rounds, count=count)


def _check_edges(db: Backend, edges_table: str, n_nodes: int) -> int:
    # One cheap scan, so both strategies refuse the same bad input instead of one of them
    # failing late (scipy) or silently dropping rows (SQL drops NULLs and self-loops).
    if n_nodes < 0:
        raise InternalError(f"n_nodes must be >= 0, got {n_nodes}")
    [(nulls, lo, hi, n_edges)] = db.rows(
        "SELECT SUM(CASE WHEN src IS NULL OR dst IS NULL THEN 1 ELSE 0 END),"
        " LEAST(MIN(src), MIN(dst)), GREATEST(MAX(src), MAX(dst)), COUNT(*)"
        f" FROM {quote_ident(edges_table)}"
    )
    if nulls:
        raise InternalError(f"{edges_table} has {nulls} edges with a NULL endpoint")
    if lo is not None and (lo < 0 or hi >= n_nodes):
        raise InternalError(
            f"edge endpoints must lie in 0..{n_nodes - 1}, found {lo}..{hi} in {edges_table}"
        )
    return int(n_edges)


# Up to this size the graph is solved in plain Python (union-find, _tiny): a run of a few
# thousand records then imports neither numpy nor pyarrow (~0.2 s CPU, most of such a run).
TINY_GRAPH_EDGES = 20_000
TINY_GRAPH_NODES = 50_000


def _tiny(db: Backend, edges_table: str, n_nodes: int, out_table: str) -> int:
    """Union-find in Python; a root is always the smallest node of its set (the larger root
    is hung under the smaller), so the labels are the same as the other paths'."""
    parent = list(range(n_nodes))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]  # path halving
            x = parent[x]
        return x

    for src, dst in db.rows(f"SELECT src, dst FROM {quote_ident(edges_table)}"):
        a, b = root(src), root(dst)
        if a < b:
            parent[b] = a
        elif b < a:
            parent[a] = b
    labels = [root(x) for x in range(n_nodes)]
    db.from_columns(out_table, {"node": ("BIGINT", list(range(n_nodes))), "component": ("BIGINT", labels)})
    return sum(1 for x in range(n_nodes) if labels[x] == x)


# Below this many edges the graph is solved by numpy alone (hook_and_compress): importing
# scipy costs more (0.25-1 s) than solving a small graph, which matters to small runs.
SMALL_GRAPH_EDGES = 200_000


def _inprocess(
    db: Backend, edges_table: str, n_nodes: int, out_table: str
) -> int:
    # Imported here, not at module level: numpy, pyarrow and scipy take ~0.4 s to import and
    # the run preloads them in a background thread while DuckDB extracts.
    import numpy as np
    import pyarrow as pa

    # int32 halves memory and is what scipy's csgraph uses internally anyway.
    id_type = "INTEGER" if n_nodes < 2**31 else "BIGINT"
    cols = db.to_numpy(
        f"SELECT CAST(src AS {id_type}) AS src, CAST(dst AS {id_type}) AS dst "
        f"FROM {quote_ident(edges_table)}"
    )
    src, dst = np.asarray(cols["src"]), np.asarray(cols["dst"])  # no NULLs: checked
    del cols

    if n_nodes == 0:
        labels = np.empty(0, dtype=np.int64)
        count = 0
    elif src.size <= SMALL_GRAPH_EDGES:
        labels = hook_and_compress(src, dst, n_nodes)
        count = int(np.count_nonzero(labels == np.arange(n_nodes)))
    else:
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components as _scipy_components

        # Weak components of the edges read as directed = undirected components, with no
        # symmetrised copy of the edges (about 3 s for 10M nodes / 10M edges).
        ones = np.ones(src.size, dtype=np.int8)
        graph = coo_matrix((ones, (src, dst)), shape=(n_nodes, n_nodes))
        del src, dst, ones
        count, scipy_labels = _scipy_components(graph, directed=True, connection="weak")
        del graph
        labels = _smallest_node_labels(scipy_labels, count)

    db.from_arrow(out_table, pa.table({"node": np.arange(n_nodes, dtype=np.int64), "component": labels}))
    return int(count)


def hook_and_compress(src: "np.ndarray", dst: "np.ndarray", n_nodes: int) -> "np.ndarray":
    """Component labels (the smallest node id of each component) by vectorised hooking and
    pointer jumping, in the manner of Shiloach and Vishkin (1982).

    1. hook: every edge lowers the label of the roots of both its ends to the smaller of
       the two labels;
    2. compress: labels[i] = labels[labels[i]] until every node points at a root;
    3. repeat until no edge joins two roots.
    Labels only decrease and always name a node of the same component, so the smallest
    node of a component is its own root and, at the fixpoint (one root per component:
    otherwise an edge between two roots would still hook), every node's label."""
    import numpy as np

    labels = np.arange(n_nodes, dtype=np.int64)
    src, dst = src.astype(np.int64, copy=False), dst.astype(np.int64, copy=False)
    while True:
        a, b = labels[src], labels[dst]
        differ = a != b
        if not differ.any():
            return labels
        a, b = a[differ], b[differ]
        low = np.minimum(a, b)
        np.minimum.at(labels, a, low)  # 1. hook (a and b are roots: compressed below)
        np.minimum.at(labels, b, low)
        while True:  # 2. compress
            jumped = labels[labels]
            if np.array_equal(jumped, labels):
                break
            labels = jumped


def _smallest_node_labels(labels: "np.ndarray", count: int) -> "np.ndarray":
    """Relabel components 0..count-1 to the smallest node id of each component (int64).

    scipy numbers components in the order it first meets them scanning nodes 0, 1, 2, ...,
    so label k first appears at the smallest node of component k, and first appearances
    are exactly the positions where the running maximum grows. If that ever stops holding
    (fewer new maxima than components), fall back to an explicit minimum per label.
    """
    import numpy as np

    is_first = np.empty(labels.size, dtype=bool)
    is_first[0] = True
    np.greater(labels[1:], np.maximum.accumulate(labels)[:-1], out=is_first[1:])
    firsts = np.flatnonzero(is_first)
    if firsts.size != count:
        firsts = np.full(count, labels.size, dtype=np.int64)
        np.minimum.at(firsts, labels, np.arange(labels.size, dtype=np.int64))
    return firsts.astype(np.int64, copy=False)[labels]
