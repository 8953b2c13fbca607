"""Golden profiles: hand-built clusters whose winners are known, and random data compared
with an independent plain-Python statement of the rules (golden_oracle.py)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from golden_oracle import golden_profiles
from idr.runs.runner import run
from idr_testing import make_db, query

T = dt.datetime(2026, 1, 1)
COLS = ["first_name", "nick", "city", "postcode", "age", "visits", "color", "tier"]
SCHEMA = pa.schema([("id", pa.int64()), ("email", pa.string()), ("first_name", pa.string()), ("nick", pa.string()),
                    ("city", pa.string()), ("postcode", pa.string()), ("age", pa.int64()), ("visits", pa.int64()),
                    ("color", pa.string()), ("tier", pa.string()), ("ts", pa.timestamp("us"))])
RULES = [
    {"attribute_name": "first_name", "strategy": "MOST_RECENT"},
    {"attribute_name": "nick", "strategy": "LONGEST"},
    {"attribute_name": "city", "strategy": "SOURCE_PRIORITY + MOST_RECENT", "attribute_group": "address"},
    {"attribute_name": "postcode", "strategy": "SOURCE_PRIORITY + MOST_RECENT", "attribute_group": "address"},
    {"attribute_name": "age", "strategy": "MIN"},
    {"attribute_name": "visits", "strategy": "MAX"},
    {"attribute_name": "color", "strategy": "MOST_FREQUENT"},
    {"attribute_name": "tier", "strategy": "SOURCE_PRIORITY", "source_priority_list": "web, crm"},
    {"attribute_name": "best_email", "strategy": "MOST_FREQUENT", "identifier_type": "EMAIL"},
]
TRUST = {"crm": 1, "web": 2}  # shop has no row in idr_meta.source: unranked


def config() -> dict:
    def source(table_id, recency_attribute):
        attrs = [{"attribute_name": c, "attribute_expr": c} for c in COLS]
        if recency_attribute:  # crm: recency from an attribute; the others: their watermark
            attrs.append({"attribute_name": "record_updated_at", "attribute_expr": "ts"})
        s = {"table_id": table_id, "table_fqn": f"src_{table_id}", "entity_key_expr": "id",
             "watermark_column": None if recency_attribute else "ts",
             "identifiers": [{"identifier_type": "EMAIL", "identifier_value_expr": "email"}], "attributes": attrs}
        if table_id in TRUST:
            s["trust"] = {"source_name": table_id.upper(), "trust_rank": TRUST[table_id]}
        return s
    return {"sources": [source("crm", True), source("web", False), source("shop", False)],
            "rules": [{"rule_id": "email", "identifier_type": "EMAIL", "canonicalize": "EMAIL"}],
            "survivorship": RULES}


def oracle_rules() -> list[dict]:
    return [{**r, "priority": [t.strip() for t in r["source_priority_list"].split(",")]}
            if "source_priority_list" in r else r for r in RULES if "identifier_type" not in r]


def build(tmp_path, rows: dict[str, list[dict]]):
    tables = {f"src_{t}": pa.Table.from_pylist(rs, schema=SCHEMA) for t, rs in rows.items()}
    db = make_db(tmp_path / "idr.duckdb", tables, config())
    run(str(db), "FULL")
    return db


def published(db) -> dict:
    """resolved_id -> {attribute: (value, entity_key)} from the golden and provenance tables."""
    names = [r["attribute_name"] for r in RULES]
    cols = ", ".join(f'"{n}"' for n in names)
    prov = {(rid, a): k for rid, a, k in query(db, "SELECT resolved_id, attribute_name, entity_key "
                                                    "FROM idr_out.golden_profile_provenance_current")}
    out = {}
    for row in query(db, f"SELECT resolved_id, {cols} FROM idr_out.golden_profile_current"):
        out[row[0]] = {n: (v, prov.get((row[0], n))) for n, v in zip(names, row[1:])}
    return out


def expected(db, rows: dict[str, list[dict]]) -> dict:
    clusters = dict(query(db, "SELECT entity_key, resolved_id FROM idr_out.identity_resolved_membership_current"))
    records = [{**r, "entity_key": f"{t}:{r['id']}", "table_id": t, "rec": r["ts"]}
               for t, rs in rows.items() for r in rs]
    want = golden_profiles(records, clusters, oracle_rules(), TRUST)
    # best_email: every member's normalised email (placeholders never count) is a candidate.
    emails = [{"entity_key": r["entity_key"], "table_id": r["table_id"], "rec": r["rec"],
               "best_email": (r["email"] or "").strip().lower() if (r["email"] or "").strip().lower() not in
               ("", "n/a") else None} for r in records]
    email = golden_profiles(emails, clusters, [RULES[-1]], TRUST)
    for rid in want:
        want[rid]["best_email"] = email[rid]["best_email"]
    return want


def rec(id, email, ts=None, **values):
    return {"id": id, "email": email, "ts": ts, **{c: values.get(c) for c in COLS}}


def test_hand_built_winners(tmp_path):
    d = [T + dt.timedelta(days=i) for i in range(5)]
    rows = {
        "crm": [rec(1, "ann@x.com", d[1], first_name="Ann", nick="Annie", city="Paris", postcode=None, age=40,
                    visits=3, color="red", tier="gold"),
                rec(2, "ANN@x.com ", d[1], first_name="  ", nick="Nan", city="Lyon", postcode="69001", age=None,
                    visits=9, color="blue", tier="silver")],
        "web": [rec(1, "ann@x.com", d[3], first_name="Anne", nick="A", city="Nice", postcode="06000", age=38,
                    visits=1, color="blue", tier="bronze"),
                rec(2, "bob@x.com", d[2], first_name="Bob")],
        "shop": [rec(1, "ann@x.com", d[4], first_name="", nick="Annabelle", city="Metz", postcode="57000", age=38,
                     visits=None, color="red", tier="tin")],
    }
    db = build(tmp_path, rows)
    got = published(db)
    ann = got["crm:1"]
    assert ann["first_name"] == ("Anne", "web:1")  # newest non-blank (shop's is newer but empty)
    assert ann["nick"] == ("Annabelle", "shop:1")  # longest
    # Complete blocks first: crm:1 lacks a postcode; among the complete ones crm ranks first.
    assert (ann["city"], ann["postcode"]) == (("Lyon", "crm:2"), ("69001", "crm:2"))
    assert ann["age"] == (38, "web:1")  # MIN tie between web:1 and shop:1: web is ranked, shop is not
    assert ann["visits"] == (9, "crm:2")
    # red and blue twice each: the tie goes to the most trusted source, then the newest record.
    assert ann["color"] == ("red", "crm:1")
    assert ann["tier"] == ("bronze", "web:1")  # source_priority_list puts web first
    assert ann["best_email"] == ("ann@x.com", "crm:1")  # 4 of 4 members; crm ranks first, then newer, key
    bob = got["web:2"]
    assert bob["first_name"] == ("Bob", "web:2") and bob["city"] == (None, None) and bob["age"] == (None, None)
    assert got == expected(db, rows)


values = {"first_name": st.sampled_from(["Al", "Alice", "alice", "Zoë", "O'Neil", "", " ", None]),
          "nick": st.sampled_from(["x", "xy", "yx", "Line\nBreak", "", None]),
          "city": st.sampled_from(["Paris", "Lyon", "", None]), "postcode": st.sampled_from(["1", "2", " ", None]),
          "age": st.sampled_from([30, 31, 4, None]), "visits": st.sampled_from([0, 7, 12, None]),
          "color": st.sampled_from(["red", "blue", "", None]), "tier": st.sampled_from(["a", "b", None])}
record = st.fixed_dictionaries({"id": st.integers(0, 5), "email": st.sampled_from(["a@x.com", "A@X.com ", "b@x.com",
                                                                                  "c@x.com", "N/A", None]),
                                "ts": st.sampled_from([T, T + dt.timedelta(hours=1), None]), **values})


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(crm=st.lists(record, max_size=5, unique_by=lambda r: r["id"]),
       web=st.lists(record, max_size=5, unique_by=lambda r: r["id"]),
       shop=st.lists(record, max_size=4, unique_by=lambda r: r["id"]))
def test_random_clusters_match_the_oracle(tmp_path_factory, crm, web, shop):
    rows = {"crm": crm, "web": web, "shop": shop}
    db = build(tmp_path_factory.mktemp("golden"), rows)
    assert published(db) == expected(db, rows)


def _golden_exact(db) -> dict:
    return {t: sorted(query(db, f"SELECT * FROM idr_out.{t}"), key=repr)
            for t in ("golden_profile_current", "golden_profile_provenance_current")}


def test_dry_run_counts_changes_and_rollback_restores(tmp_path):
    from idr.runs.runner import rollback
    from idr_testing import execute

    rows = {"crm": [rec(1, "a@x.com", T, first_name="Ann", nick="Annie", city="Paris", postcode="1", age=40)],
            "web": [rec(1, "a@x.com", T, first_name="Anne", nick="An", city="Lyon", postcode="2", age=41),
                    rec(2, "b@x.com", T, first_name="Bob", age=50)],
            "shop": []}
    db = build(tmp_path, rows)
    first = query(db, "SELECT run_id FROM idr_out.run_history")[0][0]
    before = _golden_exact(db)
    # The winning record of first_name and age changes; Bob's cluster is untouched.
    execute(db, "UPDATE src_web SET first_name = 'Annette', age = 20, ts = TIMESTAMP '2026-02-01' WHERE id = 1")
    dry = run(str(db), "INCR", dry_run=True)
    assert dry.mode == "INCR"
    [(counted,)] = query(db, "SELECT golden_values_changed FROM idr_out.dry_run_summary")
    assert counted == dry.counts["golden_values_changed"] == 2
    assert _golden_exact(db) == before  # a dry run publishes nothing
    incr = run(str(db), "INCR")
    golden = {r[0]: r[1:] for r in query(db, "SELECT resolved_id, first_name, age FROM idr_out.golden_profile_current")}
    assert golden == {"crm:1": ("Annette", 20), "web:2": ("Bob", 50)}
    # Only the changed cluster's row was rewritten.
    assert dict(query(db, "SELECT resolved_id, run_id FROM idr_out.golden_profile_current"))["web:2"] == first
    # A configuration change adds a column (a FULL run); rolling back both runs restores the first state.
    execute(db, "INSERT INTO idr_meta.survivorship_rule VALUES ('nick2', 'MIN', NULL, NULL)",
            "INSERT INTO idr_meta.entity_attribute_mapping VALUES ('web', 'nick2', 'lower(nick)')")
    full = run(str(db), "INCR")
    assert full.mode == "FULL"
    assert "nick2" in [c for (c,) in query(db, "SELECT column_name FROM information_schema.columns "
                                               "WHERE table_name = 'golden_profile_current'")]
    rollback(str(db), incr.run_id)
    rollback(str(db), first)
    assert _golden_exact(db) == before


def test_records_of_one_entity_tie_on_their_values_in_attribute_name_order(tmp_path):
    # crm key 1 repeats with the same recency: every tie-break up to the entity_key is equal,
    # so the record whose values come first (age, city, color, first_name, ... by name) wins
    # each block, even where its own value is not the smaller one (nick: 'c' over 'b').
    rows = {"crm": [rec(1, "a@x.com", T, first_name="Zed", nick="b"),
                    rec(1, "a@x.com", T, first_name="Amy", nick="c")],
            "web": [], "shop": []}
    db = build(tmp_path, rows)
    got = published(db)["crm:1"]
    assert got["first_name"] == ("Amy", "crm:1") and got["nick"] == ("c", "crm:1")
