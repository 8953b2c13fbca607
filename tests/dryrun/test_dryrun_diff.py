"""record_dry_run against an independent Python oracle: constructed merges, splits, new,
removed and unchanged entities, FULL and INCR scope, and random partitions (hypothesis)."""

from __future__ import annotations

import dataclasses

import pytest
from dryrun_testing import load_state, new_db, oracle, stored_rows, stored_summary
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idr.dryrun import record_dry_run
from idr.errors import RunError

COUNTS = {"edges": 1234567, "groups_skipped": 4, "values_excluded": 12}


def check(con, current, scope, removed=(), *, full, run_id="run_t"):
    """Run the diff and compare every summary field and every row with the oracle."""
    want_summary, want_rows = oracle(current, scope, removed, full=full)
    s = record_dry_run(con, run_id, "FULL" if full else "INCR", full, COUNTS, 2.6)
    got = dataclasses.asdict(s)
    assert {k: got[k] for k in want_summary} == want_summary
    assert (s.edges_would_create, s.groups_would_skip, s.values_would_exclude) == (1234567, 4, 12)
    assert s.execution_seconds >= 2.6 and s.execution_time_seconds == round(s.execution_seconds)
    assert stored_rows(con, run_id) == want_rows
    stored = stored_summary(con, run_id)
    assert {k: stored[k] for k in got} == got
    assert stored["execution_time_seconds"] == s.execution_time_seconds
    return s


# Current state used by the constructed cases; resolved id = a member's key.
A = {"crm:a1": "crm:a1", "crm:a2": "crm:a1"}
B = {"crm:b1": "crm:b1", "crm:b2": "crm:b1", "crm:b3": "crm:b1"}
C = {"web:c1": "web:c1", "web:c2": "web:c1", "web:c3": "web:c1", "web:c4": "web:c1"}
U = {"pos:u1": "pos:u1", "pos:u2": "pos:u1"}  # never touched


def moved_to(rid, *parts):
    return {k: rid for part in parts for k in part}


@pytest.mark.parametrize("full", [True, False], ids=["FULL", "INCR"])
def test_two_clusters_merge(full):
    con = new_db()
    current = {**A, **B, **U}
    scope = moved_to("crm:b1", A, B) | (U if full else {})
    load_state(con, current, scope, full=full)
    s = check(con, current, scope, full=full)
    # Only A's entities move (stable ids); B's are listed unchanged because their cluster grows.
    assert (s.moved_entities, s.merged_clusters, s.merged_into_clusters, s.split_clusters) == (2, 2, 1, 0)
    assert (s.affected_entities, s.unchanged_entities, s.largest_proposed_cluster) == (5, 5, 5)
    assert (s.current_clusters, s.proposed_clusters, s.total_entities) == (3, 2, 7)


@pytest.mark.parametrize("full", [True, False], ids=["FULL", "INCR"])
def test_three_clusters_merge(full):
    con = new_db()
    current = {**A, **B, **C, **U}
    scope = moved_to("web:c1", A, B, C) | (U if full else {})
    load_state(con, current, scope, full=full)
    s = check(con, current, scope, full=full)
    assert (s.moved_entities, s.merged_clusters, s.merged_into_clusters, s.largest_proposed_cluster) == (5, 3, 1, 9)


@pytest.mark.parametrize("full", [True, False], ids=["FULL", "INCR"])
def test_split(full):
    con = new_db()
    current = {**C, **U}
    scope = {"web:c1": "web:c1", "web:c2": "web:c1", "web:c3": "web:c3", "web:c4": "web:c3"} | (U if full else {})
    load_state(con, current, scope, full=full)
    s = check(con, current, scope, full=full)
    assert (s.moved_entities, s.split_clusters, s.merged_clusters, s.affected_entities) == (2, 1, 0, 4)


@pytest.mark.parametrize("full", [True, False], ids=["FULL", "INCR"])
def test_merge_and_split_together(full):
    con = new_db()
    current = {**C, **B, **U}
    # C breaks in two; one half joins B.
    scope = {"web:c1": "web:c1", "web:c2": "web:c1"} | moved_to("crm:b1", B, {"web:c3": 0, "web:c4": 0}) \
        | (U if full else {})
    load_state(con, current, scope, full=full)
    s = check(con, current, scope, full=full)
    assert (s.merged_clusters, s.merged_into_clusters, s.split_clusters, s.moved_entities) == (2, 1, 1, 2)


@pytest.mark.parametrize("full", [True, False], ids=["FULL", "INCR"])
def test_new_and_removed_entities(full):
    con = new_db()
    current = {**A, **B, **U, "crm:gone": "crm:gone"}
    scope = {**A, **B, "crm:a3": "crm:a1", "web:n1": "web:n1"} | (U if full else {})
    removed = ["crm:b3", "crm:gone", "crm:not-current"]
    if full:
        del scope["crm:b3"]  # FULL: gone from the sources = not proposed
    else:
        scope = {k: v for k, v in scope.items() if k != "crm:b3"}
    load_state(con, current, scope, removed, full=full)
    s = check(con, current, scope, removed, full=full)
    assert (s.new_entities, s.removed_entities, s.moved_entities, s.merged_clusters, s.split_clusters) == (2, 2, 0, 0, 0)
    rows = stored_rows(con, "run_t")
    assert rows["crm:gone"][:4] == ("crm:gone", None, "REMOVED", 1)
    assert rows["web:n1"][:5] == (None, "web:n1", "NEW", None, 1)
    assert "pos:u1" not in rows  # untouched cluster: counted, not listed


def test_full_and_incr_describe_the_same_change_the_same_way():
    current = {**A, **B, **C, **U}
    final = {**moved_to("crm:b1", A, B), "web:c1": "web:c1", "web:c2": "web:c1", "web:c3": "web:c3",
             "web:c4": "web:c3", "web:new": "web:c3", **U}
    results = []
    for full in (True, False):
        con = new_db()
        scope = final if full else {k: v for k, v in final.items() if not k.startswith("pos:")}
        load_state(con, current, scope, full=full)
        s = check(con, current, scope, full=full)
        results.append((dataclasses.replace(s, mode="", execution_seconds=0, created_at=None), stored_rows(con, "run_t")))
    assert results[0] == results[1]


def test_first_run_everything_is_new_and_empty_proposal_removes_everything():
    con = new_db()
    scope = {**A, **B}
    load_state(con, {}, scope, full=True)
    s = check(con, {}, scope, full=True, run_id="r1")
    assert (s.new_entities, s.affected_entities, s.current_clusters, s.merged_clusters) == (5, 5, 0, 0)
    load_state(con, scope, {}, full=True)
    s = check(con, scope, {}, full=True, run_id="r2")
    assert (s.removed_entities, s.total_entities, s.largest_proposed_cluster, s.proposed_clusters) == (5, 0, 0, 0)


def test_scope_entity_proposed_into_an_untouched_cluster_joins_it():
    """INCR: a new entity given the id of a cluster outside the scope makes that cluster grow;
    its unscoped members are listed as UNCHANGED in a changed cluster."""
    con = new_db()
    current = {**A, **U}
    scope = {"pos:u3": "pos:u1"}
    load_state(con, current, scope, full=False)
    s = check(con, current, scope, full=False)
    assert (s.new_entities, s.affected_entities, s.largest_proposed_cluster, s.proposed_clusters) == (1, 3, 3, 2)


def test_wrong_proposed_cluster_sizes_fail_loudly():
    con = new_db()
    load_state(con, A, {**A, **B}, full=True, proposed_sizes={"crm:a1": 2, "crm:b1": 4})
    with pytest.raises(RunError, match="crm:b1"):
        record_dry_run(con, "run_bad", "FULL", True, COUNTS, 0.0)
    assert con.execute("SELECT count(*) FROM idr_out.dry_run_summary").fetchall() == [(0,)]


def _snapshot(con) -> dict:
    tables = con.execute("SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema IN "
                         "('idr_meta', 'idr_out') AND table_name NOT LIKE 'dry_run_%' ORDER BY 1, 2").fetchall()
    return {t: sorted(map(repr, con.execute(f'SELECT * FROM "{t[0]}"."{t[1]}"').fetchall())) for t in tables}


def test_diff_writes_only_the_dry_run_tables():
    con = new_db()
    current = {**A, **B}
    con.execute("INSERT INTO idr_meta.run_state (table_id, last_run_id) VALUES ('crm', 'run_prev')")
    con.execute("INSERT INTO idr_out.identity_identifier_pairs_current VALUES (7, 'EMAIL', 'a@x.com', 'run_prev')")
    load_state(con, current, moved_to("crm:b1", A, B), full=True)
    before = _snapshot(con)
    record_dry_run(con, "run_t", "FULL", True, COUNTS, 0.0)
    assert _snapshot(con) == before
    temps = con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary AND table_name LIKE 'idr_dr_%'").fetchall()
    assert temps == []


def test_seed_columns_in_seed_order_with_seed_types():
    con = new_db()
    def cols(table):
        return con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = "
                           "'idr_out' AND table_name = ? ORDER BY ordinal_position", [table]).fetchall()
    assert cols("dry_run_results")[:8] == [
        ("run_id", "VARCHAR"), ("entity_key", "VARCHAR"), ("current_resolved_id", "VARCHAR"),
        ("proposed_resolved_id", "VARCHAR"), ("change_type", "VARCHAR"), ("current_cluster_size", "INTEGER"),
        ("proposed_cluster_size", "INTEGER"), ("created_at", "TIMESTAMP")]
    seed = ["run_id", "total_entities", "new_entities", "moved_entities", "merged_clusters", "split_clusters",
            "largest_proposed_cluster", "edges_would_create", "groups_would_skip", "values_would_exclude",
            "execution_time_seconds", "created_at"]
    got = cols("dry_run_summary")
    assert [c for c, _ in got[:12]] == seed
    assert {t for c, t in got[1:11]} == {"INTEGER"}
    con.execute("INSERT INTO idr_out.dry_run_summary (run_id) VALUES ('x')")
    with pytest.raises(Exception, match="(?i)constraint|duplicate"):
        con.execute("INSERT INTO idr_out.dry_run_summary (run_id) VALUES ('x')")


# --- property test over random partitions -------------------------------------------------

KEYS = [f"{t}:{i}" for t in ("crm", "web") for i in range(8)]
labels = st.integers(min_value=0, max_value=5).map(lambda i: f"crm:{i}")  # ids shared by both sides


@st.composite
def transitions(draw):
    current = draw(st.dictionaries(st.sampled_from(KEYS), labels, max_size=14))
    scope = draw(st.dictionaries(st.sampled_from(KEYS), labels, max_size=14))
    removed = draw(st.lists(st.sampled_from(KEYS), max_size=5, unique=True))
    return current, scope, removed, draw(st.booleans())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(transitions())
def test_random_partitions_match_the_oracle(t):
    current, scope, removed, full = t
    con = _shared_con()
    for table in ("dry_run_results", "dry_run_summary"):
        con.execute(f"DELETE FROM idr_out.{table}")
    load_state(con, current, scope, removed, full=full)
    check(con, current, scope, removed, full=full)


_CON = []


def _shared_con():
    if not _CON:
        _CON.append(new_db())
    return _CON[0]


def test_pipeline_shapes_views_extra_columns_and_no_removed_table_in_full():
    """As the runner provides them: membership as a view, clusters with more columns, and a
    FULL run that never creates idr_removed_entities."""
    con = new_db()
    current = {**A, **B}
    scope = moved_to("crm:b1", A, B)
    load_state(con, current, scope, full=True)
    con.execute("ALTER TABLE idr_proposed_membership RENAME TO idr_pm_base")
    con.execute("CREATE TEMP VIEW idr_proposed_membership AS SELECT entity_key, resolved_id, table_id FROM idr_pm_base")
    con.execute("CREATE OR REPLACE TEMP TABLE idr_proposed_clusters AS "
                "SELECT 7 AS component, 'crm:b1' AS resolved_id, 5::BIGINT AS cluster_size")
    con.execute("DROP TABLE idr_removed_entities")
    s = check(con, current, scope, full=True)
    assert (s.moved_entities, s.merged_clusters) == (2, 2)


def test_failure_inside_the_callers_transaction_keeps_the_original_error():
    con = new_db()
    load_state(con, A, {**A, **B}, full=True, proposed_sizes={"crm:a1": 2, "crm:b1": 4})
    con.execute("BEGIN TRANSACTION")
    with pytest.raises(RunError, match="disagree"):
        record_dry_run(con, "run_bad", "FULL", True, COUNTS, 0.0)
    con.execute("ROLLBACK")
    con.execute("DROP TABLE idr_proposed_clusters")  # missing contract table: DuckDB's own error surfaces
    con.execute("BEGIN TRANSACTION")
    with pytest.raises(Exception, match="idr_proposed_clusters"):
        record_dry_run(con, "run_bad", "FULL", True, COUNTS, 0.0)
    con.execute("ROLLBACK")
