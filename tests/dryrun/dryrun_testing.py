"""Helpers for the dry-run tests: build a current and a proposed state, and an independent
oracle in plain Python (dicts and sets) that says what record_dry_run must produce.

The oracle works on whole partitions (the complete proposed state), not on the scope and
per-cluster counts the SQL uses, so the two computations share no logic.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import duckdb

from idr.schema import ensure_schema
from idr_testing import state_as_tables

TS = datetime(2026, 1, 1)


def new_db(path=None):
    con = duckdb.connect(str(path) if path else ":memory:")
    con.execute("SET TimeZone = 'UTC'")
    ensure_schema(con)
    state_as_tables(con)
    return con


def table_of(key: str) -> str:
    return key.split(":", 1)[0]


def _insert(con, sql: str, rows: list) -> None:
    """One multi-row INSERT with bound values (executemany runs one statement per row)."""
    if rows:
        one = "(" + ", ".join("?" for _ in rows[0]) + ")"
        con.execute(sql.replace(one, ", ".join(one for _ in rows)), [v for r in rows for v in r])


def load_state(con, current: dict[str, str], scope: dict[str, str], removed=(), *, full: bool,
               proposed_sizes: dict[str, int] | None = None) -> None:
    """Publish `current` (entity -> resolved id) and create the pipeline's TEMP tables for a
    run whose scope proposes `scope` (entity -> resolved id) and removes `removed`."""
    con.execute("DELETE FROM idr_out.identity_resolved_membership_current")
    con.execute("DELETE FROM idr_out.identity_clusters_current")
    sizes: dict[str, int] = defaultdict(int)
    for rid in current.values():
        sizes[rid] += 1
    _insert(con, "INSERT INTO idr_out.identity_resolved_membership_current VALUES (?, ?, ?, ?, ?, ?)",
                    [[k, r, table_of(k), "run_prev", TS, n] for n, (k, r) in enumerate(current.items())])
    _insert(con, "INSERT INTO idr_out.identity_clusters_current VALUES (?, ?, ?, ?)",
                    [[r, n, "run_prev", TS] for r, n in sizes.items()])
    con.execute("CREATE OR REPLACE TEMP TABLE idr_proposed_membership "
                "(entity_key VARCHAR, resolved_id VARCHAR, table_id VARCHAR)")
    _insert(con, "INSERT INTO idr_proposed_membership VALUES (?, ?, ?)",
                    [[k, r, table_of(k)] for k, r in scope.items()])
    if proposed_sizes is None:
        final = final_state(current, scope, removed, full=full)
        members = group(final)
        proposed_sizes = {r: len(members[r]) for r in set(scope.values())}
    con.execute("CREATE OR REPLACE TEMP TABLE idr_proposed_clusters (resolved_id VARCHAR, cluster_size BIGINT)")
    _insert(con, "INSERT INTO idr_proposed_clusters VALUES (?, ?)", [[r, n] for r, n in proposed_sizes.items()])
    con.execute("CREATE OR REPLACE TEMP TABLE idr_removed_entities (entity_key VARCHAR)")
    _insert(con, "INSERT INTO idr_removed_entities VALUES (?)", [[k] for k in removed])
    # The scope's identifiers (for the bridges of merges): none here.
    con.execute("CREATE OR REPLACE TEMP TABLE idr_entities (eid BIGINT, entity_key VARCHAR)")
    con.execute("CREATE OR REPLACE TEMP TABLE idr_ids (eid BIGINT, type_idx INTEGER, value_norm VARCHAR)")
    con.execute("CREATE OR REPLACE TEMP TABLE idr_types (type_idx INTEGER, identifier_type VARCHAR)")
    con.execute("CREATE OR REPLACE TEMP TABLE idr_skipped (identifier_type VARCHAR, identifier_value_norm VARCHAR)")


def group(state: dict[str, str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for k, r in state.items():
        out[r].add(k)
    return dict(out)


def final_state(current, scope, removed, *, full: bool) -> dict[str, str]:
    """The complete membership the run would publish."""
    if full:
        return dict(scope)
    gone = set(removed) - set(scope)
    final = {k: r for k, r in current.items() if k not in scope and k not in gone}
    final.update(scope)
    return final


def oracle(current: dict[str, str], scope: dict[str, str], removed=(), *, full: bool):
    """Expected (summary fields, {entity_key: result row}) from the definitions in docs/dry-run.md."""
    final = final_state(current, scope, removed, full=full)
    before, after = group(current), group(final)
    kind = {}
    for k in set(current) | set(final):
        if k not in final:
            kind[k] = "REMOVED"
        elif k not in current:
            kind[k] = "NEW"
        else:
            kind[k] = "UNCHANGED" if current[k] == final[k] else "MOVED"
    changed = {r for r in set(before) | set(after) if before.get(r, set()) != after.get(r, set())}
    rows = {}
    for k, t in kind.items():
        if t == "UNCHANGED" and final[k] not in changed:
            continue
        cur, prop = current.get(k), final.get(k)
        rows[k] = (cur, prop, t, len(before[cur]) if cur else None, len(after[prop]) if prop else None, table_of(k))
    contributors = {p: {current[k] for k in keys if k in current} for p, keys in after.items()}
    merging = [c for c in contributors.values() if len(c) >= 2]
    split = sum(1 for keys in before.values() if len({final[k] for k in keys if k in final}) >= 2)
    count = lambda t: sum(1 for v in kind.values() if v == t)  # noqa: E731
    summary = dict(
        total_entities=len(final), new_entities=count("NEW"), moved_entities=count("MOVED"),
        removed_entities=count("REMOVED"), unchanged_entities=count("UNCHANGED"), affected_entities=len(rows),
        merged_clusters=len(set().union(*merging)) if merging else 0, merged_into_clusters=len(merging),
        split_clusters=split, largest_proposed_cluster=max((len(v) for v in after.values()), default=0),
        current_entities=len(current), current_clusters=len(before), proposed_clusters=len(after),
    )
    return summary, rows


def stored_rows(con, run_id: str) -> dict[str, tuple]:
    got = con.execute("SELECT entity_key, current_resolved_id, proposed_resolved_id, change_type, "
                      "current_cluster_size, proposed_cluster_size, table_id FROM idr_out.dry_run_results "
                      "WHERE run_id = ?", [run_id]).fetchall()
    out = {r[0]: tuple(r[1:]) for r in got}
    assert len(out) == len(got), "one row per entity and run"
    return out


def stored_summary(con, run_id: str) -> dict:
    cols = [c for c, _ in con.execute("SELECT column_name, data_type FROM information_schema.columns "
                                      "WHERE table_schema = 'idr_out' AND table_name = 'dry_run_summary' "
                                      "ORDER BY ordinal_position").fetchall()]
    (row,) = con.execute(f"SELECT {', '.join(cols)} FROM idr_out.dry_run_summary WHERE run_id = ?",
                         [run_id]).fetchall()
    return dict(zip(cols, row))
