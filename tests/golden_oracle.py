"""An independent, plain-Python statement of the survivorship rules (docs/golden-profiles.md),
for tests to compare the published golden profiles with."""

from __future__ import annotations

from functools import cmp_to_key


def valid(v) -> bool:
    return v is not None and str(v).strip() != ""


def _cmp_terms(a: list, b: list) -> int:
    """Compare two lists of (value, 'ASC'|'DESC'); None sorts last in either direction."""
    for (x, d), (y, _) in zip(a, b):
        if x == y:
            continue
        if x is None:
            return 1
        if y is None:
            return -1
        less = x < y
        return (-1 if less else 1) if d == "ASC" else (1 if less else -1)
    return 0


def pick(records: list[dict], names: list[str], strategy: str, trust: dict, priority: list[str] | None,
         recency_field: str | None = None, value_order: list[str] | None = None) -> tuple[dict | None, dict | None]:
    """(values of the winning block, the winning record) among records (dicts with
    entity_key, table_id, rec and attribute values). value_order: the attributes whose
    values break the last ties (records of one entity), in order; default the block's."""
    cands = [r for r in records if any(valid(r.get(n)) for n in names)]
    if not cands:
        return None, None

    def kept(r, n):
        return r.get(n) if valid(r.get(n)) else None

    def rank(r):
        if priority:
            return priority.index(r["table_id"]) if r["table_id"] in priority else None
        return trust.get(r["table_id"])

    def recency(r):
        return r.get(recency_field) if recency_field else r["rec"]

    def freq(r):
        block = tuple(kept(r, n) for n in names)
        return sum(1 for o in records if tuple(kept(o, n) for n in names) == block)

    def terms(r):
        t = []
        if len(names) > 1:
            t.append((sum(valid(r.get(n)) for n in names), "DESC"))
        if strategy == "MOST_RECENT":
            t.append((recency(r), "DESC"))
        elif strategy == "SOURCE_PRIORITY":
            t.append((rank(r), "ASC"))
        elif strategy == "SOURCE_PRIORITY + MOST_RECENT":
            t += [(rank(r), "ASC"), (recency(r), "DESC")]
        elif strategy == "MOST_FREQUENT":
            t.append((freq(r), "DESC"))
        elif strategy == "LONGEST":
            t.append((sum(len(str(kept(r, n))) for n in names if kept(r, n) is not None), "DESC"))
        elif strategy in ("MIN", "MAX"):
            t.append((kept(r, names[0]), "ASC" if strategy == "MIN" else "DESC"))
        t += [(trust.get(r["table_id"]), "ASC"), (r["rec"], "DESC"), (r["entity_key"], "ASC")]
        t += [(kept(r, n), "ASC") for n in (value_order or names)]
        return t

    best = sorted(cands, key=cmp_to_key(lambda a, b: _cmp_terms(terms(a), terms(b))))[0]
    return {n: kept(best, n) for n in names}, best


def golden_profiles(records: list[dict], clusters: dict[str, str], rules: list[dict], trust: dict) -> dict:
    """resolved_id -> {attribute: (value, entity_key)} for the given records (each with
    entity_key, table_id, rec and values), membership (entity_key -> resolved_id) and rules
    (attribute_name, strategy, optional attribute_group, source_priority_list as a list)."""
    by_cluster: dict[str, list[dict]] = {rid: [] for rid in set(clusters.values())}
    for r in records:
        if r["entity_key"] in clusters:
            by_cluster[clusters[r["entity_key"]]].append(r)
    out = {}
    for rid, recs in by_cluster.items():
        prof, done = {}, set()
        for rule in rules:
            if rule["attribute_name"] in done:
                continue
            group = [x for x in rules if rule.get("attribute_group") and x.get("attribute_group") == rule["attribute_group"]]
            names = [x["attribute_name"] for x in group] or [rule["attribute_name"]]
            done.update(names)
            values, best = pick(recs, names, rule["strategy"], trust, rule.get("priority"), rule.get("recency_field"))
            for n in names:
                v = None if values is None else values[n]
                prof[n] = (v, best["entity_key"] if v is not None else None)
        out[rid] = prof
    return out
