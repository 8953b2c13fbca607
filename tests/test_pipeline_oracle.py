"""The published partition equals an independent oracle (networkx) on the same records.

The oracle re-implements the linking rule in plain Python: records sharing a normalised
value of the same identifier type are linked, unless the value is a placeholder, excluded,
or its group is larger than max_group_size.
"""

from __future__ import annotations

import random

import pyarrow as pa

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idr import run
from idr.config.models import DEFAULT_PLACEHOLDERS

from idr_testing import execute, make_db, partition, query, simple_config

# Runs on every engine under test (conftest.ENGINES).
pytestmark = pytest.mark.usefixtures("engine")

WS = " \t\n\r\x0b\x0c\u00a0"
PLACEHOLDERS = set(DEFAULT_PLACEHOLDERS) | {""}


def oracle(rows: list[dict], types: list[str], max_group_size: int, excluded=frozenset()) -> set[frozenset[str]]:
    g = nx.Graph()
    groups: dict[tuple[str, str], set[str]] = {}
    for r in rows:
        key = f"src:{r['id']}"
        g.add_node(key)
        for t in types:
            v = r.get(t)
            if v is None:
                continue
            norm = v.strip(WS).lower()
            if norm in PLACEHOLDERS or norm in excluded:
                continue
            groups.setdefault((t, norm), set()).add(key)
    for members in groups.values():
        if 2 <= len(members) <= max_group_size:
            first, *rest = sorted(members)
            g.add_edges_from((first, m) for m in rest)
    return {frozenset(c) for c in nx.connected_components(g)}


# Values are data: quotes, semicolons, LIKE wildcards, backslashes, newlines, non-ASCII.
TRICKY = st.sampled_from(["a", "B", "'", '"', ";", "%", "_", "\\", "\n", "é", "中", " ", "--", "x@y.z"])
VALUE = st.one_of(st.none(), st.sampled_from(["N/A", " unknown ", "", "NULL"]),
                  st.lists(TRICKY, min_size=1, max_size=3).map("".join))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.fixed_dictionaries({"id": st.integers(0, 40), "email": VALUE, "loyalty": VALUE}),
                     min_size=1, max_size=60),
       max_group_size=st.integers(1, 6),
       strategy=st.sampled_from(["inprocess", "sql"]))
def test_partition_matches_oracle_on_random_records(tmp_path_factory, rows, max_group_size, strategy):
    db = tmp_path_factory.mktemp("oracle") / "idr.duckdb"
    types = {"email": "LOWERCASE", "loyalty": "LOWERCASE"}
    make_db(db, {"people": rows}, simple_config(types=types, max_group_size=max_group_size))
    result = run(str(db), "FULL", strategy=strategy)
    assert result.status == "SUCCESS"
    assert partition(db) == oracle(rows, list(types), max_group_size)
    # The published edges (a view over the identifiers) are the run's edges and rebuild the partition.
    edges = query(db, "SELECT entity_key, anchor_entity_key FROM idr_out.identity_edges_current")
    assert len(edges) == result.counts["edges"]
    graph = nx.Graph(edges)
    graph.add_nodes_from(k for (k,) in query(db, "SELECT entity_key FROM idr_out.identity_resolved_membership_current"))
    assert {frozenset(c) for c in nx.connected_components(graph)} == partition(db)


@pytest.mark.on_spark
def test_exclusions_and_placeholders_never_link(tmp_path):
    rows = [{"id": i, "email": e} for i, e in enumerate(
        ["Test@Test.com", "test@test.com ", "a@x.com", "A@X.com", "N/A", "n/a", "bob@example.com",
         "eve@example.com", "noreply@shop.com", "noreply@shop.com"])]
    cfg = simple_config(types={"email": "EMAIL"}, extra={"exclusions": [
        {"identifier_type": "EMAIL", "identifier_value_pattern": "TEST@test.com", "is_pattern": False},
        {"identifier_type": "EMAIL", "identifier_value_pattern": "%@example.com", "is_pattern": True},
        {"identifier_type": "EMAIL", "identifier_value_pattern": "noreply@%", "is_pattern": True},
    ]})
    db = make_db(tmp_path / "x.duckdb", {"people": rows}, cfg)
    result = run(str(db))
    linked = [c for c in partition(db) if len(c) > 1]
    assert linked == [frozenset({"src:2", "src:3"})]
    # Counted per value read: 2x test@test.com, bob@ and eve@example.com, 2x noreply@shop.com.
    assert result.counts["values_excluded"] == 6
    assert result.counts["values_placeholder"] == 2  # 'N/A' and 'n/a'


@pytest.mark.on_spark
def test_group_guard_records_skipped_groups(tmp_path):
    rows = [{"id": i, "email": "shared@x.com"} for i in range(5)] + [{"id": 10, "email": "p@x.com"},
                                                                      {"id": 11, "email": "P@x.com"}]
    db = make_db(tmp_path / "x.duckdb", {"people": rows}, simple_config(types={"email": "EMAIL"}, max_group_size=4))
    result = run(str(db))
    assert result.counts["groups_skipped"] == 1
    assert partition(db) == {frozenset({f"src:{i}"}) for i in range(5)} | {frozenset({"src:10", "src:11"})}
    (row,) = query(db, "SELECT identifier_type, identifier_value_norm, group_size, max_allowed, sample_entity_keys, "
                       "reason, run_id FROM idr_out.skipped_identifier_groups")
    assert row[:4] == ("EMAIL", "shared@x.com", 5, 4)
    assert row[4] == [f"src:{i}" for i in range(5)]
    assert "max_group_size" in row[5] and row[6] == result.run_id
    # Singletons keep their own key as resolved_id.
    assert query(db, "SELECT resolved_id FROM idr_out.identity_resolved_membership_current "
                     "WHERE entity_key = 'src:3'") == [("src:3",)]


@pytest.mark.parametrize("strategy", ["inprocess", "sql"])
def test_long_chain_with_shuffled_keys(tmp_path, strategy):
    """100k records linked only pairwise in a chain (record i shares a value with i+1)."""
    n = 100_000
    keys = list(range(n))
    random.Random(3).shuffle(keys)
    rows = {"id": keys, "a": [f"v{i // 2}" for i in range(n)], "b": [f"w{(i + 1) // 2}" for i in range(n)]}

    db = make_db(tmp_path / "chain.duckdb", {"people": pa.table(rows)},
                 simple_config(types={"a": "NONE", "b": "NONE"}))
    result = run(str(db), strategy=strategy)
    assert result.counts["clusters"] == 1
    assert query(db, "SELECT count(*), min(cluster_size) FROM idr_out.identity_clusters_current") == [(1, n)]
    assert query(db, "SELECT count(DISTINCT resolved_id), min(resolved_id) FROM "
                     "idr_out.identity_resolved_membership_current") == [(1, "src:0")]
    if strategy == "sql":
        assert result.counts["components_rounds"] <= 60


def test_repeated_full_keeps_resolved_ids(tmp_path):
    rng = random.Random(5)
    rows = [{"id": i, "email": f"p{rng.randint(0, 300)}@x.com"} for i in range(1000)]
    db = make_db(tmp_path / "x.duckdb", {"people": rows}, simple_config(types={"email": "EMAIL"}))
    edges_sql = ("SELECT identifier_type, identifier_value_norm, entity_key, anchor_entity_key "
                 "FROM idr_out.identity_edges_current ORDER BY ALL")
    run(str(db))
    first = query(db, "SELECT entity_key, resolved_id FROM idr_out.identity_resolved_membership_current ORDER BY 1")
    first_edges = query(db, edges_sql)
    run(str(db), strategy="sql")
    second = query(db, "SELECT entity_key, resolved_id FROM idr_out.identity_resolved_membership_current ORDER BY 1")
    assert first == second and len(first) == 1000
    assert query(db, edges_sql) == first_edges and len(first_edges) > 500  # edges are stable too
    sizes = query(db, "SELECT c.cluster_size = m.n FROM idr_out.identity_clusters_current c JOIN "
                      "(SELECT resolved_id, count(*) n FROM idr_out.identity_resolved_membership_current GROUP BY 1) m "
                      "USING (resolved_id)")
    assert len(sizes) == len({r for _, r in first}) and all(ok for (ok,) in sizes)


def test_whitespace_only_values_never_link_even_without_normalisation(tmp_path):
    rows = [{"id": 1, "code": "   "}, {"id": 2, "code": " \t "}, {"id": 3, "code": " N/A"}, {"id": 4, "code": "n/a"},
            {"id": 5, "code": "A1"}, {"id": 6, "code": "A1"}]
    db = make_db(tmp_path / "ws.duckdb", {"people": rows}, simple_config(types={"code": "NONE"}))
    result = run(str(db))
    assert [c for c in partition(db) if len(c) > 1] == [frozenset({"src:5", "src:6"})]
    assert result.counts["values_placeholder"] == 4


@pytest.mark.on_spark
def test_sources_of_every_kind_and_blank_keys(tmp_path):
    """Views, parquet and CSV files, integer/date keys, empty sources, and blank keys (no entity)."""
    import duckdb

    db = tmp_path / "kinds.duckdb"
    parquet, csv = tmp_path / "loyalty.parquet", tmp_path / "web.csv"
    con = duckdb.connect()
    con.execute(f"COPY (SELECT 10 AS id, 'shared@x.com' AS email) TO '{parquet}' (FORMAT parquet)")
    con.close()
    # '1.0' and '1' are different codes: CSV values must be read as text, not sniffed as numbers.
    csv.write_text("id,email,code\nw1,SHARED@x.com,1.0\nw2,other@x.com,1\nw3,third@x.com,1.0\n")
    cfg = {
        "sources": [
            {"table_id": "crm", "table_fqn": "crm_view", "entity_key_expr": "id",
             "identifiers": [{"identifier_type": "EMAIL", "identifier_value_expr": "email"}]},
            {"table_id": "blank", "table_fqn": "blank_keys", "entity_key_expr": "k",
             "identifiers": [{"identifier_type": "EMAIL", "identifier_value_expr": "email"}]},
            {"table_id": "empty", "table_fqn": "nothing", "entity_key_expr": "d",
             "identifiers": [{"identifier_type": "EMAIL", "identifier_value_expr": "email"}]},
            {"table_id": "loyalty", "table_fqn": str(parquet), "entity_key_expr": "id",
             "identifiers": [{"identifier_type": "EMAIL", "identifier_value_expr": "email"}]},
            {"table_id": "web", "table_fqn": str(csv), "entity_key_expr": "id",
             "identifiers": [{"identifier_type": "EMAIL", "identifier_value_expr": "email"},
                             {"identifier_type": "CODE", "identifier_value_expr": "code"}]},
        ],
        "rules": [{"rule_id": "email", "identifier_type": "EMAIL", "canonicalize": "EMAIL"},
                  {"rule_id": "code", "identifier_type": "CODE", "canonicalize": "NONE"}],
    }
    make_db(db, {"people": [{"id": 1, "email": "shared@x.com"}, {"id": 2, "email": "other@x.com"}],
                 "blank_keys": [{"k": "", "email": "shared@x.com"}, {"k": " ", "email": "other@x.com"}],
                 "nothing": pa.table({"d": pa.array([], pa.date32()), "email": pa.array([], pa.string())})}, cfg)
    execute(db, "CREATE VIEW crm_view AS SELECT * FROM people")
    result = run(str(db))
    assert result.counts["rows_without_key"] == 2
    assert {c for c in partition(db) if len(c) > 1} == {
        frozenset({"crm:1", "loyalty:10", "web:w1", "web:w3"}), frozenset({"crm:2", "web:w2"})}
