"""Both component strategies against networkx, the oracle.

Both strategies document component = smallest node id of the component, so results are
compared to the oracle's partition canonicalised the same way: one label per node, exactly.
"""

from __future__ import annotations

import duckdb
import networkx as nx
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idr.errors import ComponentsDidNotConverge, InputError, InternalError
from idr.graph import STRATEGIES, Components, connected_components
from idr.graph.components import _smallest_node_labels


@pytest.fixture
def con():
    c = duckdb.connect()
    yield c
    c.close()


@pytest.fixture(scope="module")
def shared_con():
    # For hypothesis: opening a DuckDB connection costs ~65 ms, more than a small example.
    c = duckdb.connect()
    yield c
    c.close()


def load_edges(con, src, dst, name="edges"):
    # A real table, as the pipeline will pass; BIGINT like the pipeline's dense ids.
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    con.register("edges_arrow", pa.table({"src": src, "dst": dst}))
    con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT src, dst FROM edges_arrow")
    con.unregister("edges_arrow")
    return name


def oracle_labels(n, src, dst):
    """networkx components, each node labelled with the smallest node of its component."""
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(zip(np.asarray(src).tolist(), np.asarray(dst).tolist()))
    labels = np.empty(n, dtype=np.int64)
    for comp in nx.connected_components(g):
        members = np.fromiter(comp, dtype=np.int64, count=len(comp))
        labels[members] = members.min()
    return labels


def fetch_labels(con, result: Components, n):
    cols = con.execute(
        f'SELECT node, component FROM "{result.table}" ORDER BY node'
    ).fetchnumpy()
    assert np.array_equal(cols["node"], np.arange(n)), "one row per node 0..n-1"
    return np.asarray(cols["component"], dtype=np.int64)


def check(con, n, src, dst, strategy, **kwargs):
    """Run one strategy and assert it equals the oracle exactly; return the result."""
    table = load_edges(con, src, dst)
    result = connected_components(con, table, n, strategy=strategy, **kwargs)
    expected = oracle_labels(n, src, dst)
    got = fetch_labels(con, result, n)
    assert np.array_equal(got, expected)
    assert result.count == len(np.unique(expected))
    if strategy == "inprocess":
        assert result.rounds == 1
    return result


def shuffled_chain(n, rng):
    perm = rng.permutation(n)
    return perm[:-1], perm[1:]


# --- random graphs ------------------------------------------------------------------


@st.composite
def small_graphs(draw):
    n = draw(st.integers(min_value=0, max_value=40))
    if n == 0:
        return 0, [], []
    node = st.integers(min_value=0, max_value=n - 1)
    pairs = draw(st.lists(st.tuples(node, node), max_size=60))
    # Duplicates, reversed duplicates and self-loops on purpose.
    extra = draw(st.lists(st.sampled_from(pairs), max_size=10)) if pairs else []
    loops = draw(st.lists(node, max_size=3))
    pairs = pairs + [(b, a) for a, b in extra] + [(v, v) for v in loops]
    return n, [a for a, _ in pairs], [b for _, b in pairs]


@pytest.mark.parametrize("strategy", STRATEGIES)
@settings(max_examples=100, deadline=None)
@given(graph=small_graphs())
def test_small_random_graphs_match_networkx(shared_con, strategy, graph):
    n, src, dst = graph
    check(shared_con, n, src, dst, strategy)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize(
    ("seed", "n", "edges_per_node"), [(1, 10_000, 0.5), (2, 10_000, 1.0), (3, 12_000, 3.0)]
)
def test_seeded_random_graphs_match_networkx(con, strategy, seed, n, edges_per_node):
    rng = np.random.default_rng(seed)
    m = int(n * edges_per_node)
    check(con, n, rng.integers(0, n, m), rng.integers(0, n, m), strategy)


# --- shapes that stress the algorithm -----------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_long_shuffled_chain(con, strategy):
    n = 100_000
    src, dst = shuffled_chain(n, np.random.default_rng(7))
    result = check(con, n, src, dst, strategy)
    assert result.count == 1
    if strategy == "sql":
        print(f"\nSQL star contraction: {result.rounds} rounds on a {n:,}-node shuffled chain")
        # log2(100k) ~ 17; label propagation would need ~n/2 rounds.
        assert result.rounds <= 60


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("order", ["ascending", "descending"])
def test_chain_with_ordered_ids(con, strategy, order):
    n = 20_000
    ids = np.arange(n) if order == "ascending" else np.arange(n)[::-1]
    result = check(con, n, ids[:-1], ids[1:], strategy)
    assert result.count == 1
    if strategy == "sql":
        assert result.rounds <= 40


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("hub", ["smallest", "largest", "random"])
def test_star(con, strategy, hub):
    n = 5_000
    rng = np.random.default_rng(11)
    hub_id = {"smallest": 0, "largest": n - 1, "random": 1234}[hub]
    leaves = np.array([v for v in range(n) if v != hub_id])
    leaves = rng.choice(leaves, size=4_000, replace=False)  # the other ~1000 stay isolated
    # Edges in both directions, so the hub is sometimes src and sometimes dst.
    flip = rng.random(leaves.size) < 0.5
    src = np.where(flip, leaves, hub_id)
    dst = np.where(flip, hub_id, leaves)
    result = check(con, n, src, dst, strategy)
    assert result.count == 1 + (n - 1 - leaves.size)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_disjoint_chains(con, strategy):
    rng = np.random.default_rng(5)
    lengths = [1, 2, 3, 10, 100, 1_000, 5_000, 5_000, 3_000]
    n = sum(lengths) + 50  # 50 isolated nodes on top
    perm = rng.permutation(n)
    src, dst, start = [], [], 0
    for length in lengths:
        ids = perm[start : start + length]
        src.append(ids[:-1])
        dst.append(ids[1:])
        start += length
    result = check(con, n, np.concatenate(src), np.concatenate(dst), strategy)
    assert result.count == len(lengths) + 50


# --- edge cases and contract --------------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_no_edges_means_all_singletons(con, strategy):
    result = check(con, 7, [], [], strategy)
    assert result.count == 7
    if strategy == "sql":
        assert result.rounds == 0


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_no_nodes(con, strategy):
    result = check(con, 0, [], [], strategy)
    assert result.count == 0


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_integer_columns_and_custom_out_table(con, strategy):
    con.execute("CREATE TABLE small_edges (src INTEGER, dst INTEGER)")
    con.execute("INSERT INTO small_edges VALUES (3, 1), (1, 4), (6, 6), (5, 2)")
    result = connected_components(con, "small_edges", 8, strategy=strategy, out_table="my_cc")
    assert result.table == "my_cc"
    rows = con.execute("SELECT node, component FROM my_cc ORDER BY node").fetchall()
    assert rows == [(0, 0), (1, 1), (2, 2), (3, 1), (4, 1), (5, 2), (6, 6), (7, 7)]
    types = con.execute("SELECT column_name, column_type FROM (DESCRIBE my_cc)").fetchall()
    assert types == [("node", "BIGINT"), ("component", "BIGINT")]
    assert result.count == 5


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_out_of_range_node_is_refused(con, strategy):
    load_edges(con, [0, 5], [1, 2])
    with pytest.raises(InternalError, match="0..4"):
        connected_components(con, "edges", 5, strategy=strategy)


def test_unknown_strategy_is_refused(con):
    load_edges(con, [0], [1])
    with pytest.raises(InputError, match="unknown components strategy"):
        connected_components(con, "edges", 2, strategy="spark-magic")


def test_strategies_can_reuse_one_out_table(con):
    # in-process registers a view, sql creates a temp table: each must replace the other.
    src, dst = shuffled_chain(500, np.random.default_rng(3))
    load_edges(con, src, dst)
    load_edges(con, [0, 2], [1, 3], name="other_edges")
    for strategy, table, expected_count in [
        ("sql", "edges", 1),
        ("inprocess", "other_edges", 498),
        ("sql", "other_edges", 498),
        ("inprocess", "edges", 1),
    ]:
        result = connected_components(con, table, 500, strategy=strategy)
        [(count,)] = con.execute("SELECT COUNT(DISTINCT component) FROM idr_cc").fetchall()
        assert count == result.count == expected_count


def temp_tables(con):
    return sorted(
        name for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE temporary"
        ).fetchall()
    )


def test_sql_strategy_leaves_only_its_output(con):
    src, dst = shuffled_chain(2_000, np.random.default_rng(9))
    load_edges(con, src, dst)
    connected_components(con, "edges", 2_000, strategy="sql")
    assert temp_tables(con) == ["idr_cc"]


def test_max_iters_too_small_fails_loudly_and_publishes_nothing(con):
    src, dst = shuffled_chain(10_000, np.random.default_rng(13))
    load_edges(con, src, dst)
    with pytest.raises(ComponentsDidNotConverge) as failure:
        connected_components(con, "edges", 10_000, strategy="sql", max_iters=2)
    message = str(failure.value)
    assert "after 2 rounds" in message
    assert "--max-iters" in message
    assert "nothing was published" in message
    assert temp_tables(con) == []  # no output table, no leftover intermediate tables


def test_max_iters_exactly_enough_succeeds(con):
    src, dst = shuffled_chain(10_000, np.random.default_rng(13))
    load_edges(con, src, dst)
    needed = connected_components(con, "edges", 10_000, strategy="sql").rounds
    result = connected_components(con, "edges", 10_000, strategy="sql", max_iters=needed)
    assert result.rounds == needed and result.count == 1
    with pytest.raises(ComponentsDidNotConverge):
        connected_components(con, "edges", 10_000, strategy="sql", max_iters=needed - 1)


def test_relabelling_to_smallest_node_does_not_rely_on_label_order():
    # scipy's numbering (first met, first numbered) takes the fast path ...
    assert _smallest_node_labels(np.array([0, 1, 0, 2, 1]), 3).tolist() == [0, 1, 0, 3, 1]
    # ... any other numbering takes the explicit minimum and gives the same answer.
    assert _smallest_node_labels(np.array([1, 0, 1, 2, 0]), 3).tolist() == [0, 1, 0, 3, 1]


# The builders' text per dialect is pinned (and the DuckDB text run) by tests/sql/test_golden.py.


def sqlite_star_contraction(n, src, dst, max_iters=200):
    """The portable builders of star_contraction driven on SQLite, a second real engine:
    steps 1-5 of run_star_contraction with SQLite's spelling of the node range."""
    import sqlite3

    from idr.graph import star_contraction as sc

    db = sqlite3.connect(":memory:")
    try:
        db.execute("CREATE TABLE input (src INTEGER, dst INTEGER)")
        db.executemany("INSERT INTO input VALUES (?, ?)", zip(np.asarray(src).tolist(), np.asarray(dst).tolist()))
        db.execute(f"CREATE TABLE g AS {sc.canonical_edges_sql('input')}")
        for _ in range(max_iters):
            edge_count, child_count, deep_edges = db.execute(sc.convergence_sql("g")).fetchone()
            if edge_count == child_count and deep_edges == 0:
                break
            db.execute(f"CREATE TABLE large AS {sc.large_star_sql('g')}")
            db.execute("DROP TABLE g")
            db.execute(f"CREATE TABLE g AS {sc.small_star_sql('large')}")
            db.execute("DROP TABLE large")
        else:
            raise AssertionError("star contraction did not converge on SQLite")
        nodes = f"WITH RECURSIVE r(node) AS (SELECT 0 UNION ALL SELECT node + 1 FROM r WHERE node < {n - 1}) " \
                "SELECT node FROM r"
        rows = db.execute(f"SELECT node, component FROM ({sc.labels_sql('g', nodes)}) ORDER BY node").fetchall()
    finally:
        db.close()
    assert [node for node, _ in rows] == list(range(n))
    return np.array([component for _, component in rows], dtype=np.int64)


@pytest.mark.parametrize("seed", range(4))
def test_star_contraction_builders_run_on_another_engine(seed):
    # The builders are meant for reuse by other backends (Spark, warehouses). Running them
    # on SQLite, which shares none of DuckDB's extensions (range(), list(), QUALIFY, ANTI
    # JOIN, hash()), fails on DuckDB-only syntax and on any answer that differs from the
    # oracle, which a parse check could not.
    rng = np.random.default_rng(seed)
    n = 300
    src, dst = rng.integers(0, n, 250), rng.integers(0, n, 250)
    chain_src, chain_dst = shuffled_chain(60, rng)
    src, dst = np.concatenate([src, chain_src]), np.concatenate([dst, chain_dst])
    np.testing.assert_array_equal(sqlite_star_contraction(n, src, dst), oracle_labels(n, src, dst))


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([(0, 1), (7, 7)], "0..4"),  # an out-of-range self-loop is still out of range
        ([(0, 1), (-1, 2)], "0..4"),
        ([(0, 1), (2, None)], "NULL"),
    ],
)
def test_bad_edges_are_refused_by_both_strategies(con, strategy, rows, message):
    con.execute("CREATE TABLE bad_edges (src BIGINT, dst BIGINT)")
    con.executemany("INSERT INTO bad_edges VALUES (?, ?)", rows)
    with pytest.raises(InternalError, match=message):
        connected_components(con, "bad_edges", 5, strategy=strategy)


# --- the two in-process solvers (numpy hook-and-compress for small graphs, scipy above) ---


@pytest.mark.parametrize("solver", ["numpy", "scipy"])
@pytest.mark.parametrize("seed,n,edges_per_node", [(1, 500, 0.3), (2, 2000, 1.0), (3, 3000, 2.5)])
def test_both_inprocess_solvers_match_networkx(con, monkeypatch, solver, seed, n, edges_per_node):
    from idr.graph import components

    monkeypatch.setattr(components, "SMALL_GRAPH_EDGES", 10**12 if solver == "numpy" else -1)
    rng = np.random.default_rng(seed)
    m = int(n * edges_per_node)
    check(con, n, rng.integers(0, n, m), rng.integers(0, n, m), "inprocess")
    src, dst = shuffled_chain(n, rng)  # the worst case for label propagation
    check(con, n, src, dst, "inprocess")


@settings(max_examples=200, deadline=None)
@given(graph=small_graphs())
def test_hook_and_compress_matches_networkx(graph):
    from idr.graph.components import hook_and_compress

    n, src, dst = graph
    got = hook_and_compress(np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64), n)
    assert np.array_equal(got, oracle_labels(n, src, dst))
