"""`idr explain` and `idr show`: chains checked against networkx shortest paths on random
data; not-linked reasons (skipped, excluded, placeholder, invalid, nothing shared)."""

from __future__ import annotations

import random

import networkx as nx
import idr.publish.reader
import pytest

from idr.lookup.explain import explain
from idr.lookup.show import show
from idr.runs.runner import run
from idr_testing import hold_lock, idr_cli, make_db, query


def test_chains_are_shortest_paths(tmp_path):
    rnd = random.Random(16)
    rows = [{"id": i, "k1": f"v{rnd.randrange(60)}", "k2": rnd.choice([f"w{rnd.randrange(80)}", None]),
             "k3": rnd.choice(["z1", "z2", None, None, None])} for i in range(120)]
    cfg = {"sources": [{"table_id": "s", "table_fqn": "people", "entity_key_expr": "id",
                        "identifiers": [{"identifier_type": t.upper(), "identifier_value_expr": t}
                                        for t in ("k1", "k2", "k3")]}],
           "rules": [{"rule_id": t, "identifier_type": t.upper(), "canonicalize": "NONE", "max_group_size": 6}
                     for t in ("k1", "k2", "k3")]}
    db = make_db(tmp_path / "idr.duckdb", {"people": rows}, cfg)
    run(str(db), "FULL")
    holders: dict[tuple, set] = {}
    for r in rows:
        for t in ("k1", "k2", "k3"):
            if r[t] is not None:
                holders.setdefault((t.upper(), r[t]), set()).add(f"s:{r['id']}")
    g = nx.Graph()
    g.add_nodes_from(f"s:{r['id']}" for r in rows)
    for members in holders.values():
        if 1 < len(members) <= 6:
            g.add_edges_from((a, b) for a in members for b in members if a < b)
    assert any(len(members) > 6 for members in holders.values())  # some groups are skipped
    keys = sorted(g.nodes)
    components = [sorted(c) for c in nx.connected_components(g) if len(c) > 2]
    checked = 0
    for i in range(30):  # two in three pairs from one component, the others anywhere
        a, b = rnd.sample(rnd.choice(components) if i % 3 else keys, 2)
        e = explain(str(db), a, b)
        assert e.linked == nx.has_path(g, a, b)
        if not e.linked:
            continue
        checked += 1
        assert len(e.hops) == nx.shortest_path_length(g, a, b)
        assert e.hops[0].from_key == a and e.hops[-1].to_key == b
        for h, nxt in zip(e.hops, e.hops[1:]):
            assert h.to_key == nxt.from_key
        for h in e.hops:  # each hop: both records hold the value, and its group links
            members = holders[(h.identifier_type, h.value_norm)]
            assert {h.from_key, h.to_key} <= members and len(members) <= 6
            assert h.raw_from == h.raw_to == (h.value_norm,)
    assert checked >= 10


@pytest.fixture
def reasons_db(tmp_path):
    rows = [
        (1, "shared@x.com", None), (2, "shared@x.com", None), (3, "shared@x.com", None),  # group of 3 > 2
        (4, "N/A", None), (5, "n/a ", None),  # placeholder
        (6, None, "12"), (7, None, "12"),  # invalid phone
        (8, "test@test.com", None), (9, "TEST@test.com", None),  # excluded
        (10, "x@y.com", None), (11, "z@y.com", None),  # nothing shared
        (20, "u@x.com", "4155552671"), (21, None, "4155552671"), (22, "u@x.com", "4155552672"),
        (23, None, "4155552672"), (24, "u@x.com", None),
    ]
    cfg = {"sources": [{"table_id": "s", "table_fqn": "people", "entity_key_expr": "id",
                        "identifiers": [{"identifier_type": "EMAIL", "identifier_value_expr": "email"},
                                        {"identifier_type": "PHONE", "identifier_value_expr": "phone"}]}],
           "rules": [{"rule_id": "email_rule", "identifier_type": "EMAIL", "canonicalize": "EMAIL",
                      "max_group_size": 2},
                     {"rule_id": "phone_rule", "identifier_type": "PHONE", "canonicalize": "PHONE"}],
           "exclusions": [{"identifier_type": "EMAIL", "identifier_value_pattern": "test@test.com"}]}
    db = make_db(tmp_path / "idr.duckdb", {"people": [{"id": i, "email": e, "phone": p} for i, e, p in rows]}, cfg)
    run(str(db), "FULL")
    return db


@pytest.mark.parametrize("a, b, reason, value", [
    ("s:1", "s:2", "skipped", "shared@x.com"),
    ("s:4", "s:5", "placeholder", None),  # not an email either: matched by its raw text
    ("s:6", "s:7", "invalid", None),
    ("s:8", "s:9", "excluded", "test@test.com"),
    ("s:10", "s:11", "nothing shared", None),
    ("s:21", "s:23", "skipped", "u@x.com"),  # not shared by the two records: by a member of each cluster
])
def test_not_linked_reasons(reasons_db, a, b, reason, value):
    e = explain(str(reasons_db), a, b)
    assert not e.linked and e.reason == reason
    if value is not None:
        assert e.details[0]["value_norm"] == value
    if (a, b) == ("s:1", "s:2"):
        assert (e.details[0]["group_size"], e.details[0]["max_allowed"]) == (3, 2)
        assert (e.details[0]["raw_a"], e.details[0]["raw_b"]) == ("shared@x.com", "shared@x.com")
    if (a, b) == ("s:21", "s:23"):
        assert (e.details[0]["member_a"], e.details[0]["member_b"]) == ("s:20", "s:22")


def test_cli_masks_values_and_refuses_unknown_keys(reasons_db):
    linked = idr_cli("explain", "s:20", "s:21", "--mask", "--db", str(reasons_db))
    assert linked.returncode == 0, linked.stderr
    assert "PHONE" in linked.stdout and "phone_rule" in linked.stdout and "4155552671" not in linked.stdout
    plain = idr_cli("explain", "s:20", "s:21", "--db", str(reasons_db))
    assert "+14155552671" in plain.stdout and "'4155552671'" in plain.stdout
    missing = idr_cli("explain", "s:20", "s:999", "--db", str(reasons_db))
    assert missing.returncode == 2 and "s:999" in missing.stderr


def test_show_by_key_and_by_value(reasons_db):
    by_key = show(str(reasons_db), "s:21")
    [card] = by_key.cards
    assert card.resolved_id == "s:20" and card.members == [("s:20", "s"), ("s:21", "s")]
    assert ("PHONE", "+14155552671", 2, False) in card.identifiers
    assert ("EMAIL", "u@x.com", 1, True) in card.identifiers  # held by 3 records in all: skipped
    by_value = show(str(reasons_db), identifier_type="PHONE", value="(415) 555-2671")
    assert [c.resolved_id for c in by_value.cards] == ["s:20"]
    skipped = show(str(reasons_db), identifier_type="EMAIL", value="U@X.com")
    assert [c.resolved_id for c in skipped.cards] == ["s:20", "s:22", "s:24"]
    assert show(str(reasons_db), identifier_type="EMAIL", value="N/A").note.startswith("the value is placeholder")
    out = idr_cli("show", "s:21", "--db", str(reasons_db))
    assert out.returncode == 0 and "cluster s:20: 2 record(s)" in out.stdout, out.stderr
    assert query(reasons_db, "SELECT count(*) FROM idr_out.run_history") == [(1,)]  # reading writes nothing


def test_explain_and_show_read_the_snapshot_while_a_run_holds_the_database(reasons_db):
    # Another process holds the database file for writing, as a run does: lookups read the
    # published snapshot and the configuration its run recorded. The source is a table
    # inside the held file, so its raw values are missing, and the output says why.
    proc = hold_lock(reasons_db, 60)
    try:
        e = explain(str(reasons_db), "s:20", "s:21")
        assert e.linked and [h.value_norm for h in e.hops] == ["+14155552671"] and e.hops[0].rule_id == "phone_rule"
        assert e.hops[0].raw_from == () and "a run holds the database" in e.note
        not_linked = explain(str(reasons_db), "s:21", "s:23")
        assert not not_linked.linked and not_linked.reason == "skipped"
        [card] = show(str(reasons_db), "s:21").cards
        assert card.resolved_id == "s:20" and ("PHONE", "+14155552671", 2, False) in card.identifiers
        by_value = show(str(reasons_db), identifier_type="PHONE", value="(415) 555-2671")
        assert [c.resolved_id for c in by_value.cards] == ["s:20"]
        cli = idr_cli("explain", "s:20", "s:21", "--db", str(reasons_db))
        assert cli.returncode == 0 and "+14155552671" in cli.stdout and "NOTE: a run holds" in cli.stdout, cli.stderr
        assert idr_cli("show", "s:21", "--db", str(reasons_db)).returncode == 0
    finally:
        proc.kill()
        proc.wait()
    # Free again: the raw values are back.
    assert explain(str(reasons_db), "s:20", "s:21").hops[0].raw_to == ("4155552671",)


def _answers(db, pairs, keys):
    return ([explain(str(db), a, b) for a, b in pairs], [show(str(db), k) for k in keys],
            show(str(db), identifier_type="EMAIL", value="U@X.com"))


LOOKUPS = ([("s:20", "s:24"), ("s:21", "s:23"), ("s:1", "s:2"), ("s:10", "s:11"), ("s:20", "s:21")],
           ["s:21", "s:24", "s:1"])


def test_lookup_index_same_answers_built_once_and_reused(reasons_db, monkeypatch, capsys):
    from idr.lookup import index
    from idr.publish import layout

    plain = _answers(reasons_db, *LOOKUPS)  # a small snapshot: no index, whole files read
    folder = layout.snapshot_dir(reasons_db, layout.read_pointer(reasons_db)["snapshot"])
    assert not any(f.name.startswith("lookup.") for f in folder.iterdir())
    assert "lookup index" not in capsys.readouterr().err
    monkeypatch.setattr(index, "MIN_ROWS", 0)
    assert _answers(reasons_db, *LOOKUPS) == plain
    assert capsys.readouterr().err.count("building the lookup index") == 1
    built = {name: (folder / name).stat().st_mtime_ns for name, _ in index.FILES.values()}
    assert not [f for f in folder.iterdir() if f.name.endswith(".tmp")]
    assert _answers(reasons_db, *LOOKUPS) == plain  # reused: not rebuilt
    assert "lookup index" not in capsys.readouterr().err
    assert {name: (folder / name).stat().st_mtime_ns for name in built} == built
    snapshot, con = idr.publish.reader.open_snapshot(reasons_db)
    try:
        assert index.use(con, reasons_db, snapshot, build=False)
        sql = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'identity_resolved_membership_current'")
        assert "lookup.membership.parquet" in sql.fetchone()[0]
        # sorted, in row groups the statistics skip by
        assert con.execute("SELECT count(*) FROM (SELECT resolved_id, lag(resolved_id) OVER () p FROM "
                           "idr_out.identity_resolved_membership_current) WHERE p > resolved_id").fetchone() == (0,)
    finally:
        con.close()


def test_lookup_index_unwritable_falls_back(reasons_db, monkeypatch, capsys):
    from idr.lookup import index
    from idr.publish import layout

    plain = _answers(reasons_db, *LOOKUPS)
    monkeypatch.setattr(index, "MIN_ROWS", 0)
    folder = layout.snapshot_dir(reasons_db, layout.read_pointer(reasons_db)["snapshot"])
    before = sorted(folder.iterdir())

    def refuse(*args):
        raise PermissionError("read-only")

    monkeypatch.setattr(index.os, "replace", refuse)  # the build fails at its rename
    assert _answers(reasons_db, *LOOKUPS) == plain
    assert sorted(folder.iterdir()) == before  # nothing left behind, not even temporary files
    monkeypatch.setattr(index.os, "access", lambda *a: False)  # a folder this user cannot write
    assert _answers(reasons_db, *LOOKUPS) == plain and sorted(folder.iterdir()) == before
    capsys.readouterr()


def test_pruning_a_snapshot_removes_its_index(tmp_path, monkeypatch):
    from idr.lookup import index
    from idr.publish import layout
    from idr_testing import execute

    monkeypatch.setattr(index, "MIN_ROWS", 0)
    cfg = {"sources": [{"table_id": "s", "table_fqn": "people", "entity_key_expr": "id",
                        "identifiers": [{"identifier_type": "EMAIL", "identifier_value_expr": "email"}]}],
           "rules": [{"rule_id": "email_rule", "identifier_type": "EMAIL", "canonicalize": "EMAIL"}]}
    db = make_db(tmp_path / "idr.duckdb", {"people": [{"id": i, "email": f"e{i % 3}@x.com"} for i in range(9)]}, cfg)
    execute(db, "INSERT INTO idr_meta.config VALUES ('rollback_retention_runs', '1', NULL, now())")
    first = run(str(db), "FULL").run_id
    assert explain(str(db), "s:0", "s:3").linked
    assert (layout.snapshot_dir(db, first) / "lookup.pairs.parquet").is_file()
    for _ in range(2):
        run(str(db), "FULL")
    assert not layout.snapshot_dir(db, first).exists()


def test_results_index_builds_once_and_concurrent_builders_agree(reasons_db, monkeypatch, capsys):
    from concurrent.futures import ThreadPoolExecutor

    from idr.lookup import index
    from idr.publish import layout

    plain = _answers(reasons_db, *LOOKUPS)
    folder = layout.snapshot_dir(reasons_db, layout.read_pointer(reasons_db)["snapshot"])
    monkeypatch.setattr(index, "MIN_ROWS", 0)

    def build(_):
        snapshot, con = idr.publish.reader.open_snapshot(reasons_db)
        try:
            return index.use(con, reasons_db, snapshot)
        finally:
            con.close()

    with ThreadPoolExecutor(4) as pool:  # builders racing: each renames a whole, equal file
        assert all(pool.map(build, range(4)))
    assert not [f for f in folder.iterdir() if f.name.endswith(".tmp")]
    assert _answers(reasons_db, *LOOKUPS) == plain
    for name, _ in index.FILES.values():
        (folder / name).unlink()
    first = idr_cli("results", "index", "--db", str(reasons_db))  # any size, by hand
    assert first.returncode == 0 and first.stdout.strip() == str(folder), first.stderr
    assert "building the lookup index" in first.stderr
    again = idr_cli("results", "index", "--db", str(reasons_db))
    assert again.returncode == 0 and "building" not in again.stderr
    assert all((folder / name).is_file() for name, _ in index.FILES.values())
    assert _answers(reasons_db, *LOOKUPS) == plain
    capsys.readouterr()


def test_lookup_index_of_an_incr_snapshot(tmp_path, monkeypatch, capsys):
    # An INCR snapshot's tables are its predecessor's files minus removed rows plus its own:
    # the index holds exactly those rows.
    import datetime as dt

    import pyarrow as pa

    from idr.lookup import index
    from idr.publish import layout, snapshot
    from idr_testing import execute

    t0 = dt.datetime(2026, 1, 1)
    schema = pa.schema([("id", pa.int64()), ("email", pa.string()), ("ts", pa.timestamp("us")),
                        ("is_deleted", pa.bool_())])
    rows = pa.Table.from_pylist([{"id": i, "email": e, "ts": t0, "is_deleted": False} for i, e in
                                 [(1, "a@x.com"), (2, "a@x.com"), (3, "b@x.com"), (4, "b@x.com"), (5, "c@x.com")]],
                                schema=schema)
    cfg = {"sources": [{"table_id": "p", "table_fqn": "people", "entity_key_expr": "id", "watermark_column": "ts",
                        "deleted_expr": "is_deleted",
                        "identifiers": [{"identifier_type": "EMAIL", "identifier_value_expr": "email"}]}],
           "rules": [{"rule_id": "email", "identifier_type": "EMAIL", "canonicalize": "EMAIL"}]}
    db = make_db(tmp_path / "idr.duckdb", {"people": rows}, cfg)
    run(str(db), "FULL")
    later = t0 + dt.timedelta(hours=1)
    execute(db, "INSERT INTO people VALUES (6, 'a@x.com', ?, FALSE), (6, 'b@x.com', ?, FALSE)", params=[later] * 2)
    execute(db, "UPDATE people SET email = 'c@x.com', ts = ? WHERE id = 4", params=[later])
    monkeypatch.setattr(snapshot, "COMPACT_FRACTION", 100)  # change files, not a rewrite
    assert run(str(db), "INCR").mode == "INCR"
    manifest = layout.current_snapshot(db)
    assert manifest["tables"]["identity_resolved_membership_current"]["removed"]  # rows replaced
    pairs, keys = [("p:1", "p:3"), ("p:4", "p:5"), ("p:2", "p:5")], ["p:3", "p:4", "p:6"]
    plain = ([explain(str(db), a, b) for a, b in pairs], [show(str(db), k) for k in keys])
    assert plain[0][0].linked and plain[0][1].linked and not plain[0][2].linked
    monkeypatch.setattr(index, "MIN_ROWS", 0)
    assert ([explain(str(db), a, b) for a, b in pairs], [show(str(db), k) for k in keys]) == plain
    assert (layout.snapshot_dir(db, manifest["snapshot"]) / "lookup.membership.parquet").is_file()
    capsys.readouterr()
