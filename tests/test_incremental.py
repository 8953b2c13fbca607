"""INCR equals FULL: random sequences of inserts, updates, soft deletes and identifier
changes, INCR after each step on one database, FULL after each step on another; both
must give the oracle's partition (networkx over the final data) and the same resolved ids,
and the same golden profiles (attribute-only changes, winning records updated or deleted)."""

from __future__ import annotations

import datetime as dt

import duckdb
import networkx as nx
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idr.runs.runner import run
from idr_testing import copy_db, assert_entity_numbers_consistent, make_db, partition, query

# Runs on every engine under test (conftest.ENGINES).
pytestmark = pytest.mark.usefixtures("engine")

T0 = dt.datetime(2026, 1, 1)
EMAILS = [f"p{i}@x.com" for i in range(6)] + ["N/A", "", None]
PHONES = ["555-0100", "555-0101", "555-0102", None]
NAMES = ["Ann", "Anne", "Bo", "", None]
GOLDEN_RULES = [{"attribute_name": "name", "strategy": "MOST_RECENT"},
                {"attribute_name": "mail", "strategy": "MOST_FREQUENT"},
                {"attribute_name": "phone_raw", "strategy": "SOURCE_PRIORITY + MOST_RECENT", "attribute_group": "contact"},
                {"attribute_name": "shout", "strategy": "SOURCE_PRIORITY + MOST_RECENT", "attribute_group": "contact"},
                {"attribute_name": "best_phone", "strategy": "LONGEST", "identifier_type": "PHONE"}]
GOLDEN_COLS = "resolved_id, name, mail, phone_raw, shout, best_phone"


def _config(max_group_size: int, lookback: int) -> dict:
    def source(table_id, table):
        return {"table_id": table_id, "table_fqn": table, "entity_key_expr": "id", "watermark_column": "ts",
                "watermark_lookback_minutes": lookback, "deleted_expr": "deleted",
                "identifiers": [{"identifier_type": "EMAIL", "identifier_value_expr": "email"},
                                {"identifier_type": "PHONE", "identifier_value_expr": "phone"}],
                "attributes": [{"attribute_name": "name", "attribute_expr": "name"},
                               {"attribute_name": "mail", "attribute_expr": "email"},
                               {"attribute_name": "phone_raw", "attribute_expr": "phone"},
                               {"attribute_name": "shout", "attribute_expr": "upper(name)"}]}
    a = {**source("a", "src_a"), "trust": {"source_name": "A", "trust_rank": 1}}
    return {"sources": [a, source("b", "src_b")], "survivorship": GOLDEN_RULES,
            "rules": [{"rule_id": "email", "identifier_type": "EMAIL", "canonicalize": "EMAIL",
                       "max_group_size": max_group_size},
                      {"rule_id": "phone", "identifier_type": "PHONE", "canonicalize": "DIGITS",
                       "max_group_size": max_group_size}]}


row = st.fixed_dictionaries({"table": st.sampled_from(["src_a", "src_b"]), "id": st.integers(0, 7),
                             "email": st.sampled_from(EMAILS), "phone": st.sampled_from(PHONES),
                             "name": st.sampled_from(NAMES)})
change = st.one_of(
    st.tuples(st.just("insert"), row),
    st.tuples(st.just("update"), row),  # new identifiers for every row of that key
    st.tuples(st.just("delete"), row),  # soft delete: deleted = TRUE
    st.tuples(st.just("undelete"), row),
    st.tuples(st.just("rename"), row),  # an attribute changes, no identifier does
)


def _apply(con, step: int, ops) -> None:
    ts = T0 + dt.timedelta(hours=step + 1)
    for op, r in ops:
        t = r["table"]
        if op == "insert":
            con.execute(f"INSERT INTO {t} VALUES (?, ?, ?, ?, FALSE, ?)",
                        [r["id"], r["email"], r["phone"], ts, r["name"]])
        elif op == "update":
            con.execute(f"UPDATE {t} SET email = ?, phone = ?, ts = ?, name = ? WHERE id = ?",
                        [r["email"], r["phone"], ts, r["name"], r["id"]])
        elif op == "rename":
            con.execute(f"UPDATE {t} SET name = ?, ts = ? WHERE id = ?", [r["name"], ts, r["id"]])
        else:
            con.execute(f"UPDATE {t} SET deleted = ?, ts = ? WHERE id = ?", [op == "delete", ts, r["id"]])


def _oracle(path, max_group_size) -> set[frozenset[str]]:
    """Clusters computed from scratch in Python: live rows, identifiers normalised the same
    way for these values (lower-case email, digits), groups over the limit ignored."""
    g = nx.Graph()
    holders: dict[tuple[str, str], set[str]] = {}
    for table, prefix in (("src_a", "a"), ("src_b", "b")):
        for key, email, phone, deleted in query(path, f"SELECT id, email, phone, deleted FROM {table}"):
            if deleted:
                continue
            g.add_node(f"{prefix}:{key}")
            if email and email.strip() and email.strip().lower() != "n/a":
                holders.setdefault(("EMAIL", email.strip().lower()), set()).add(f"{prefix}:{key}")
            if phone:
                holders.setdefault(("PHONE", "".join(c for c in phone if c.isdigit())), set()).add(f"{prefix}:{key}")
    live = set(g.nodes)
    for members in holders.values():
        members &= live
        if 1 < len(members) <= max_group_size:
            first, *rest = sorted(members)
            g.add_edges_from((first, m) for m in rest)
    return {frozenset(c) for c in nx.connected_components(g)}


def _ids(path) -> dict[str, str]:
    return dict(query(path, "SELECT entity_key, resolved_id FROM idr_out.identity_resolved_membership_current"))


def _state(path) -> dict[str, list]:
    """Every published table, as sorted rows without run ids and timestamps."""
    out = {}
    for table, cols in {"identity_clusters_current": "resolved_id, cluster_size",
                        "identity_edges_current": "identifier_type, identifier_value_norm, entity_key, anchor_entity_key",
                        "identity_identifiers_current": "entity_key, identifier_type, identifier_value_norm",
                        "identity_skipped_groups_current": "identifier_type, identifier_value_norm, group_size",
                        "golden_profile_current": GOLDEN_COLS,
                        "golden_profile_provenance_current": "resolved_id, attribute_name, entity_key, strategy",
                        }.items():
        out[table] = sorted(query(path, f"SELECT {cols} FROM idr_out.{table}"), key=repr)
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(initial=st.lists(row, max_size=10), steps=st.lists(st.lists(change, min_size=1, max_size=4), min_size=1,
                                                               max_size=4),
       max_group_size=st.integers(2, 4), lookback=st.sampled_from([0, 90]))
def test_incr_equals_full_after_every_step(tmp_path_factory, initial, steps, max_group_size, lookback):
    base = tmp_path_factory.mktemp("incr")
    schema = pa.schema([("id", pa.int64()), ("email", pa.string()), ("phone", pa.string()),
                        ("ts", pa.timestamp("us")), ("deleted", pa.bool_()), ("name", pa.string())])
    tables = {t: pa.Table.from_pylist([{"id": r["id"], "email": r["email"], "phone": r["phone"], "ts": T0,
                                        "deleted": False, "name": r["name"]} for r in initial if r["table"] == t],
                                      schema=schema)
              for t in ("src_a", "src_b")}
    incr_db, full_db = base / "incr.duckdb", base / "full.duckdb"
    make_db(incr_db, tables, _config(max_group_size, lookback))
    run(str(incr_db), "FULL")
    for step, ops in enumerate(steps):
        for db in (incr_db,):
            con = duckdb.connect(str(db))
            _apply(con, step, ops)
            con.close()
        copy_db(incr_db, full_db)
        edges_before = set(_state(full_db)["identity_edges_current"])
        incr = run(str(incr_db), "INCR")
        assert incr.mode == "INCR", incr.notes
        # The published edges the run removed or replaced, as the run counted them.
        assert incr.counts["edges_updated"] == len(edges_before - set(_state(incr_db)["identity_edges_current"]))
        full = run(str(full_db), "FULL")
        expected = _oracle(incr_db, max_group_size)
        assert partition(incr_db) == expected
        assert partition(full_db) == expected
        # Same ids and the same published tables, whichever way the state was reached.
        assert _ids(incr_db) == _ids(full_db)
        assert _state(incr_db) == _state(full_db)
        # One golden row per cluster, recomputed only where the delta reached.
        assert query(incr_db, "SELECT count(*) FROM idr_out.golden_profile_current") == [(len(expected),)]
        assert_entity_numbers_consistent(incr_db)
        assert incr.counts["clusters"] == full.counts["clusters"] == len(expected)
