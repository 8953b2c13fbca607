"""A cluster's card: its members, identifiers, golden profile with provenance, and the
lineage of its id. Found by an entity key, or by an identifier value (normalised the way
runs normalise it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import InputError
from ..schema import GOLDEN, MEMBERSHIP, PAIRS, PROVENANCE, SKIPPED, out
from .common import entity, normalise, published


@dataclass
class Card:
    resolved_id: str
    cluster_size: int
    members: list[tuple[str, str]]  # (entity_key, table_id), the first `limit` by key
    identifiers: list[tuple[str, str, int, bool]]  # (type, value, members holding it, skipped)
    golden: list[tuple[str, object, str | None, str | None]]  # (attribute, value, entity_key, strategy)
    lineage: list[tuple]  # (run_id, event, resolved_id, related_resolved_id, entities_moved, recorded_at)
    updated_ts: object = None
    run_id: str | None = None


@dataclass
class ShowResult:
    cards: list[Card] = field(default_factory=list)
    note: str | None = None


def show(db: str, key: str | None = None, identifier_type: str | None = None, value: str | None = None,
         limit: int = 50) -> ShowResult:
    """Cards of the cluster holding `key`, or of the clusters holding the identifier value."""
    with published(db) as (con, plan):
        if key is not None:
            return ShowResult([_card(con, entity(con, key).resolved_id, limit)])
        if identifier_type is None or value is None:
            raise InputError("give an entity key, or --type and --value")
        if identifier_type not in plan.rules:
            raise InputError(f"--type {identifier_type!r}: no active rule for this identifier type "
                             f"(known: {', '.join(sorted(plan.rules))})")
        [(_, _, _, norm, status)] = normalise(con, plan, [(0, identifier_type, value)]) or [(0, 0, 0, None, "?")]
        if status != "ok":
            return ShowResult(note=f"the value is {status} for {identifier_type}: it links no records")
        ids = [r for (r,) in con.rows(
            f"SELECT DISTINCT m.resolved_id FROM {out(PAIRS)} p JOIN {out(MEMBERSHIP)} m USING (entity_id) "
            "WHERE p.identifier_type = ? AND p.identifier_value_norm = ? ORDER BY 1 LIMIT 6",
            [identifier_type, norm])]
        if not ids:
            return ShowResult(note=f"no record holds this {identifier_type} value")
        note = "more than 5 clusters hold this value (its group is skipped); showing 5" if len(ids) > 5 else None
        return ShowResult([_card(con, rid, limit) for rid in ids[:5]], note)


def _card(con, rid: str, limit: int) -> Card:
    # One pass over the members (the published files are not ordered by resolved_id, so
    # each lookup by it reads the whole file: at 10M records 0.35 s CPU); the identifiers
    # are then read by entity_id, which the pairs file's row groups can skip by.
    everyone = con.rows(f"SELECT entity_key, table_id, entity_id FROM {out(MEMBERSHIP)} WHERE resolved_id = ? "
                        "ORDER BY entity_key", [rid])
    members = [(k, t) for k, t, _ in everyone[:limit]]
    identifiers = con.rows(
        f"SELECT p.identifier_type, p.identifier_value_norm, count(*), any_value(s.group_size IS NOT NULL) "
        f"FROM {out(PAIRS)} p LEFT JOIN {out(SKIPPED)} s ON s.identifier_type = p.identifier_type "
        "AND s.identifier_value_norm = p.identifier_value_norm WHERE p.entity_id IN (SELECT unnest(?::BIGINT[])) "
        "GROUP BY ALL ORDER BY 3 DESC, 1, 2 LIMIT ?", [[e for _, _, e in everyone], limit])
    names = [c for c, _ in con.describe(f"SELECT * FROM {out(GOLDEN)}")]
    row = con.rows(f"SELECT * FROM {out(GOLDEN)} WHERE resolved_id = ?", [rid])
    prov = {a: (k, s) for a, k, s in con.rows(
        f"SELECT attribute_name, entity_key, strategy FROM {out(PROVENANCE)} WHERE resolved_id = ?", [rid])}
    golden, updated_ts, run_id = [], None, None
    if row:
        values = dict(zip(names, row[0]))
        updated_ts, run_id = values.pop("updated_ts"), values.pop("run_id")
        values.pop("resolved_id")
        golden = [(a, v, *prov.get(a, (None, None))) for a, v in values.items()]
    lineage = con.rows(
        "SELECT run_id, event, resolved_id, related_resolved_id, entities_moved, recorded_at "
        "FROM idr_out.resolved_id_lineage WHERE ? IN (resolved_id, related_resolved_id) "
        "ORDER BY recorded_at, run_id", [rid])
    return Card(rid, len(everyone), members, identifiers, golden, lineage, updated_ts, run_id)
