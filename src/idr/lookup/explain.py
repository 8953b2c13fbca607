"""Why are two records linked? The shortest chain of records and shared identifier values
between them, or, when they are not linked, the nearest reason.

Linked records share a cluster, and a cluster is connected by its linking values: those of
the published identifier pairs whose group was not skipped. A breadth-first search over
the cluster's members only (records and values as the two kinds of node) finds a chain
with the fewest hops; each hop is two records holding one value. Among chains of the same
length the search prefers smaller identifier types, values and keys, so the answer is the
same every time.

When the records are in different clusters, the reasons are looked for nearest first: a
value the two records share that cannot link (its group is over max_group_size, or it is a
placeholder, an invalid or an excluded value), then a skipped value shared by a member of
each cluster, else nothing shared.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from ..schema import MEMBERSHIP, PAIRS, SKIPPED, out
from .common import Entity, entity, members, normalise, published, raw_values


@dataclass(frozen=True)
class Hop:
    from_key: str
    from_table: str
    to_key: str
    to_table: str
    identifier_type: str
    value_norm: str
    raw_from: tuple[str, ...]  # the values as the sources hold them
    raw_to: tuple[str, ...]
    rule_id: str | None


@dataclass
class Explanation:
    key_a: str
    key_b: str
    linked: bool
    resolved_id_a: str
    resolved_id_b: str
    hops: list[Hop] = field(default_factory=list)
    reason: str | None = None  # not linked: skipped, placeholder, invalid, excluded, nothing shared
    details: list[dict] = field(default_factory=list)  # not linked: the values behind the reason
    note: str | None = None  # what could not be read (sources inside a database a run holds)


def explain(db: str, key_a: str, key_b: str) -> Explanation:
    """The shortest chain linking two records, or why they are not linked (see module doc)."""
    with published(db) as (con, plan):
        a, b = entity(con, key_a), entity(con, key_b)
        result = Explanation(key_a, key_b, a.resolved_id == b.resolved_id, a.resolved_id, b.resolved_id)
        if plan.unread:
            result.note = (f"a run holds the database, so the raw values of source(s) {', '.join(plan.unread)} "
                           "(tables inside it) cannot be read now; the chain and reasons come from the published "
                           "normalised values")
        if a.entity_key == b.entity_key:
            return result
        if result.linked:
            result.hops = _chain(con, plan, a, b)
        else:
            result.reason, result.details = _why_not(con, plan, a, b)
        return result


def shortest_chain(con, ids: list[int], start: int, goal: int) -> list[tuple[int, str, str, int]]:
    """[(entity_id, type, value, next entity_id)] from start to goal inside one cluster (its
    members' entity ids), by breadth-first search over their linking values."""
    holds: dict[int, list[tuple[str, str]]] = {}
    holders: dict[tuple[str, str], list[int]] = {}
    for eid, t, v in con.rows(
            f"SELECT p.entity_id, p.identifier_type, p.identifier_value_norm FROM {out(PAIRS)} p "
            f"ANTI JOIN {out(SKIPPED)} s ON s.identifier_type = p.identifier_type "
            "AND s.identifier_value_norm = p.identifier_value_norm "
            "WHERE p.entity_id IN (SELECT unnest(?::BIGINT[])) "
            "ORDER BY p.identifier_type, p.identifier_value_norm, p.entity_id", [ids]):
        holds.setdefault(eid, []).append((t, v))
        holders.setdefault((t, v), []).append(eid)
    came: dict[int, tuple[int, str, str] | None] = {start: None}
    seen_values: set[tuple[str, str]] = set()
    queue = deque([start])
    while queue and goal not in came:
        here = queue.popleft()
        for value in holds.get(here, []):
            if value in seen_values:
                continue
            seen_values.add(value)
            for other in holders[value]:
                if other not in came:
                    came[other] = (here, *value)
                    queue.append(other)
    if goal not in came:
        raise RuntimeError("no chain inside the cluster: the published tables disagree")
    steps, node = [], goal
    while came[node] is not None:
        prev, t, v = came[node]
        steps.append((prev, t, v, node))
        node = prev
    return steps[::-1]


def _chain(con, plan, a: Entity, b: Entity) -> list[Hop]:
    # Three reads: the cluster's members (keys included), their identifier pairs by
    # entity_id, the raw values of the chain's records by key.
    keys = members(con, a.resolved_id)
    steps = shortest_chain(con, sorted(keys), a.entity_id, b.entity_id)
    on_chain = sorted({keys[s[0]][0] for s in steps} | {keys[s[3]][0] for s in steps})
    raws = raw_values(con, plan, on_chain)
    rules = {t: r.rule_id for t, r in plan.rules.items()}

    def raw(key, t):
        return tuple(sorted({v for typ, v in raws.get(key, []) if typ == t}))

    hops = []
    for x, t, v, y in steps:
        (kx, tx), (ky, ty) = keys[x], keys[y]
        hops.append(Hop(kx, tx, ky, ty, t, v, raw(kx, t), raw(ky, t), rules.get(t)))
    return hops


def _why_not(con, plan, a: Entity, b: Entity) -> tuple[str, list[dict]]:
    raws = raw_values(con, plan, [a.entity_key, b.entity_key])
    tagged = [(0, t, v) for t, v in raws[a.entity_key]] + [(1, t, v) for t, v in raws[b.entity_key]]
    normalised = normalise(con, plan, tagged)
    skipped = {(t, v): (n, m) for t, v, n, m in con.rows(
        f"SELECT identifier_type, identifier_value_norm, group_size, max_allowed FROM {out(SKIPPED)}")}

    def match_key(t, raw, norm, status):  # invalid values have no normal form: compare the raw text
        return (t, norm) if norm is not None else (t, "raw:" + raw.strip().lower())

    side: dict[tuple, dict] = {}
    for tag, t, raw, norm, status in normalised:
        side.setdefault(match_key(t, raw, norm, status), {}).setdefault(tag, (raw, norm, status))
    shared = [(k, v) for k, v in sorted(side.items()) if 0 in v and 1 in v]
    order = {"skipped": 0, "excluded": 1, "placeholder": 2, "invalid": 3}
    found = []
    for (t, _), sides in shared:
        (raw_a, norm, status), (raw_b, _, status_b) = sides[0], sides[1]
        reason = "skipped" if status == "ok" and (t, norm) in skipped else status if status != "ok" else status_b
        if reason == "ok":
            continue  # a linking value shared by records in two clusters: the state is being rebuilt
        detail = {"identifier_type": t, "value_norm": norm, "raw_a": raw_a, "raw_b": raw_b, "reason": reason,
                  "rule_id": plan.rules[t].rule_id if t in plan.rules else None}
        if reason == "skipped":
            detail["group_size"], detail["max_allowed"] = skipped[(t, norm)]
        found.append(detail)
    if found:
        found.sort(key=lambda d: (order.get(d["reason"], 9), d["identifier_type"], str(d["value_norm"])))
        return found[0]["reason"], found
    # A member of each cluster sharing a value whose group is skipped.
    rows = con.rows(
        f"WITH m AS (SELECT entity_id, entity_key, resolved_id FROM {out(MEMBERSHIP)} WHERE resolved_id IN (?, ?)) "
        "SELECT p.identifier_type, p.identifier_value_norm, s.group_size, s.max_allowed, "
        "  min(m.entity_key) FILTER (WHERE m.resolved_id = ?), min(m.entity_key) FILTER (WHERE m.resolved_id = ?) "
        f"FROM {out(PAIRS)} p JOIN m USING (entity_id) JOIN {out(SKIPPED)} s "
        "ON s.identifier_type = p.identifier_type AND s.identifier_value_norm = p.identifier_value_norm "
        "GROUP BY ALL HAVING count(DISTINCT m.resolved_id) = 2 ORDER BY 1, 2 LIMIT 5",
        [a.resolved_id, b.resolved_id, a.resolved_id, b.resolved_id])
    if rows:
        return "skipped", [{"identifier_type": t, "value_norm": v, "group_size": n, "max_allowed": mx,
                            "member_a": ka, "member_b": kb, "reason": "skipped",
                            "rule_id": plan.rules[t].rule_id if t in plan.rules else None}
                           for t, v, n, mx, ka, kb in rows]
    return "nothing shared", []
