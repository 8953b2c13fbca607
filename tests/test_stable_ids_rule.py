"""The stable-id rule (pipeline/stable_ids.py) against a plain-Python statement of it, on
random old clusterings and new partitions: which new cluster keeps which old id, the new
ids of the others (never a published one), and the merge/split lineage."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from idr.backends import as_backend
from idr.pipeline.stable_ids import assign_resolved_ids
from idr.schema import ensure_schema
from idr_testing import state_as_tables

# Keys may contain '#' themselves, as new ids add "#n" to keys.
KEYS = [f"e{i:02d}" for i in range(8)] + ["e01#2", "e01#2#3"]
# Old ids look like what idr hands out: entity keys, sometimes with a #n suffix.
OLD_IDS = KEYS + [k + "#2" for k in KEYS[:4]]


def _expected(old: dict[str, str], new: dict[str, int]):
    components = {c: sorted(k for k, v in new.items() if v == c) for c in set(new.values())}
    min_key = {c: keys[0] for c, keys in components.items()}
    overlap: dict[tuple[int, str], int] = {}
    for key, c in new.items():
        if key in old:
            overlap[(c, old[key])] = overlap.get((c, old[key]), 0) + 1
    heir = {}  # 1. each old id goes to the new cluster holding most of it; ties: smallest key
    for old_id in {o for _, o in overlap}:
        parts = [(c, n) for (c, o), n in overlap.items() if o == old_id]
        heir[old_id] = min(parts, key=lambda p: (-p[1], min_key[p[0]]))[0]
    final = {}
    for c in components:  # 2. a cluster offered several keeps its largest part's; ties: smallest id
        offered = [(o, overlap[(c, o)]) for o, h in heir.items() if h == c]
        if offered:
            final[c] = min(offered, key=lambda p: (-p[1], p[0]))[0]
    # 3. The others: their smallest key, or key#2, key#3, ... while that is published, or
    # (keys may contain '#') is another new cluster's id and this one has already moved on.
    published = set(old.values())
    fresh = {c: (min_key[c], 1) for c in components if c not in final}
    while True:
        used = Counter(i for i, _ in fresh.values())
        clash = [c for c, (i, n) in fresh.items() if i in published or (used[i] > 1 and n > 1)]
        if not clash:
            break
        for c in clash:
            n = fresh[c][1] + 1
            fresh[c] = (f"{min_key[c]}#{n}", n)
    final.update({c: i for c, (i, _) in fresh.items()})
    clusters = sorted((final[c], len(keys)) for c, keys in components.items())
    kept = {final[c] for c in components} & published
    lineage = sorted(
        ("SPLIT", o, final[c], n) if o in kept else ("MERGE", final[c], o, n)
        for (c, o), n in overlap.items() if final[c] != o)
    return clusters, lineage


def _actual(old: dict[str, str], new: dict[str, int]):
    con = duckdb.connect()
    ensure_schema(con)
    state_as_tables(con)
    sizes: dict[str, int] = {}
    for i, (key, rid) in enumerate(sorted(old.items())):
        con.execute("INSERT INTO idr_out.identity_resolved_membership_current VALUES (?, ?, 't', 'r0', now(), ?)",
                    [key, rid, i])
        sizes[rid] = sizes.get(rid, 0) + 1
    for rid, n in sizes.items():
        con.execute("INSERT INTO idr_out.identity_clusters_current VALUES (?, ?, 'r0', now())", [rid, n])
    keys = sorted(new)
    con.execute("CREATE TEMP TABLE idr_entities (entity_key VARCHAR, table_id VARCHAR, eid BIGINT, h UBIGINT)")
    con.execute("CREATE TEMP TABLE idr_cc (node BIGINT, component BIGINT)")
    for eid, key in enumerate(keys):
        con.execute("INSERT INTO idr_entities VALUES (?, 't', ?, hash(?))", [key, eid, key])
        con.execute("INSERT INTO idr_cc VALUES (?, ?)", [eid, min(i for i, k in enumerate(keys) if new[k] == new[key])])
    con.execute("CREATE TEMP TABLE idr_clusters AS SELECT c.component, min(e.entity_key) AS min_key, "
                "count(*) AS cluster_size FROM idr_entities e JOIN idr_cc c ON c.node = e.eid GROUP BY ALL")
    db = as_backend(con)
    ctx = SimpleNamespace(db=db, d=db.dialect, mode="FULL", cc_table="idr_cc", counts={}, count=db.count)
    assign_resolved_ids(ctx)
    clusters = sorted(con.execute("SELECT resolved_id, cluster_size FROM idr_proposed_clusters").fetchall())
    lineage = sorted(con.execute("SELECT event, resolved_id, related_resolved_id, entities_moved "
                                 "FROM idr_lineage").fetchall())
    return clusters, lineage


@settings(max_examples=150, deadline=None)
@given(data=st.data(), n=st.integers(2, len(KEYS)))
def test_ids_follow_the_rule(data, n):
    keys = KEYS[:n]
    old_ids = data.draw(st.lists(st.sampled_from(OLD_IDS), min_size=1, max_size=4, unique=True))
    # Each key: published in an old cluster or new; each current key in a new cluster. Keys
    # published but absent now were removed.
    old = {k: old_ids[j] for k in keys
           if (j := data.draw(st.integers(-1, len(old_ids) - 1))) >= 0}
    new = {k: c for k in keys if (c := data.draw(st.integers(-1, 3))) >= 0}
    if not new or not old:
        return
    assert _actual(old, new) == _expected(old, new)


def test_a_tie_goes_to_the_smaller_key_then_the_smaller_id():
    # Old cluster X splits evenly: the part with the smaller smallest key keeps X.
    old = {"e01": "X", "e02": "X", "e03": "Y"}
    new = {"e01": 0, "e02": 1, "e03": 1}
    clusters, _ = _actual(old, new)
    assert clusters == _expected(old, new)[0] == [("X", 1), ("Y", 2)]
    # Two old clusters merge with equal parts: the smaller id survives.
    old = {"e01": "B", "e02": "A"}
    new = {"e01": 0, "e02": 0}
    assert _actual(old, new) == _expected(old, new) == ([("A", 2)], [("MERGE", "A", "B", 1)])


def test_a_new_id_never_takes_another_new_clusters_key():
    # {e01} needs a new id: e01 is kept by {e00, e03}, and e01#2 is the key of the new
    # cluster {e01#2}, which keeps it; so {e01} gets e01#3.
    old = {"e00": "e01", "e03": "e01"}
    new = {"e00": 0, "e03": 0, "e01": 1, "e01#2": 2}
    expected = [("e01", 2), ("e01#2", 1), ("e01#3", 1)]
    assert _actual(old, new)[0] == _expected(old, new)[0] == expected
