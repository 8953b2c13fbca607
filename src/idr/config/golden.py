"""Check the golden-profile configuration and compile it into a GoldenPlan.

Tables (docs/golden-profiles.md): idr_meta.source (trust ranks), entity_attribute_mapping
(an attribute's expression per source), survivorship_rule (strategy per attribute),
attribute_group (attributes that survive together) and identifier_attribute (attributes
taken from an identifier type's normalised values). Every problem is appended to the
caller's list, so one message reports them all. Attribute expressions go through the same
check as every other `*_expr`; the plan holds the re-rendered SQL, cast to one type per
attribute so that FULL and INCR compare values the same way whichever sources they read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from .models import Config

STRATEGIES = ("MOST_RECENT", "SOURCE_PRIORITY", "SOURCE_PRIORITY + MOST_RECENT", "MOST_FREQUENT", "LONGEST",
              "MIN", "MAX")
PRIORITY_STRATEGIES = ("SOURCE_PRIORITY", "SOURCE_PRIORITY + MOST_RECENT")
SINGLE_VALUE_STRATEGIES = ("MIN", "MAX")  # they compare one value; a block has several
DEFAULT_STRATEGY = "MOST_RECENT"  # for an attribute that is mapped but has no rule
RECENCY_ATTRIBUTE = "record_updated_at"
RESERVED = ("resolved_id", "updated_ts", "run_id")
# Types kept as they are (their names are DuckDB's, never user text); ENUMs become text and
# nested types are refused: a golden value is one scalar.
_PLAIN_TYPE = re.compile(r"[A-Z][A-Z0-9_ ]*(\(\d+(, ?\d+)?\))?")


@dataclass(frozen=True)
class AttributePlan:
    name: str
    strategy: str
    group: str | None  # attributes of one group survive together, from one record
    identifier_type: str | None  # identifier-derived: candidates are the members' normalised values
    priority: tuple[str, ...]  # source_priority_list (table_ids), empty: the sources' trust ranks
    recency_field: str | None  # an attribute whose value orders records for this rule


@dataclass(frozen=True)
class GoldenSource:
    table_id: str
    trust_rank: int | None
    values: dict[str, str]  # attribute -> SQL over the source's columns, cast to the attribute's type
    recency_sql: str | None  # the record's recency as a TIMESTAMP expression


@dataclass(frozen=True)
class GoldenPlan:
    attributes: tuple[AttributePlan, ...]  # the golden table's columns, in order
    sources: dict[str, GoldenSource]  # active sources whose values take part
    types: dict[str, str]  # mapped attribute -> SQL type

    @property
    def mapped(self) -> tuple[str, ...]:
        """Attributes read from the sources (golden ones and recency fields)."""
        return tuple(self.types)

    def fingerprint_data(self) -> dict:
        """What decides golden values for all sources (each source's part is in its own
        fingerprint, runs/state.py: a new source does not force a FULL run)."""
        return {"attributes": [a.__dict__ for a in self.attributes], "types": self.types}


def normalise_strategy(text: str) -> str:
    return re.sub(r"\s*\+\s*", " + ", " ".join(text.strip().upper().split()))


def parse_priority_list(text: str | None) -> list[str]:
    """"crm, web" or the seed family's '["crm", "web"]' -> ["crm", "web"]."""
    if not text or not text.strip():
        return []
    text = text.strip()
    if text.startswith("["):
        try:
            items = json.loads(text)
        except ValueError:
            items = text.strip("[]").replace("'", "").replace('"', "").split(",")
    else:
        items = text.split(",")
    return [str(i).strip() for i in items if str(i).strip()]


def build_golden_plan(db, cfg: Config, source_plans: dict, problems: list[str]) -> GoldenPlan | None:
    """None when nothing is configured. source_plans: table_id -> validate.SourcePlan (active)."""
    from .validate import bind_check, compile_expr

    if not cfg.survivorship and not any(s.attributes for s in cfg.sources):
        return None
    active_types = {r.identifier_type for r in cfg.rules if r.is_active}
    mapped_types = {m.identifier_type for s in cfg.sources if s.is_active for m in s.identifiers}
    known_sources = {s.table_id for s in cfg.sources if s.table_fqn}
    for s in cfg.sources:
        if not s.table_fqn and s.attributes:
            problems.append(f"idr_meta.entity_attribute_mapping: table_id {s.table_id!r} has no row in "
                            "idr_meta.source_table")
        if not s.table_fqn and s.trust is not None:
            problems.append(f"idr_meta.source: table_id {s.table_id!r} has no row in idr_meta.source_table")
        rank = s.trust.trust_rank if s.trust else None
        if rank is not None and (type(rank) is not int or not -(2**31) <= rank < 2**31):
            problems.append(f"idr_meta.source {s.table_id!r}: trust_rank {rank!r} is not an integer "
                            "(lower = more trusted)")

    # Attribute expressions, per active source whose values take part.
    described: dict[str, dict[str, str]] = {}  # attribute -> table_id -> DuckDB type
    compiled: dict[str, dict[str, str]] = {}  # table_id -> attribute -> SQL
    for s in cfg.sources:
        if not (s.is_active and s.table_fqn and s.attributes) or s.table_id not in source_plans:
            continue
        if s.trust is not None and not s.trust.is_active:
            continue
        rel = source_plans[s.table_id].relation_sql
        cols = db.describe(f"SELECT * FROM {rel}")
        columns, first = {c[0].lower() for c in cols}, cols[0][0]
        seen: set[str] = set()
        for a in s.attributes:
            where = f"idr_meta.entity_attribute_mapping ({s.table_id!r}, {a.attribute_name!r}) attribute_expr"
            if a.attribute_name in seen:
                problems.append(f"{where}: the attribute is mapped twice for this source")
                continue
            seen.add(a.attribute_name)
            sql = bind_check(db, rel, first, compile_expr(a.attribute_expr, columns, where, problems),
                             a.attribute_expr, where, problems)
            if sql is None:
                continue
            kind = db.describe(f"SELECT ({sql}) FROM {rel}")[0][1]
            if kind.startswith("ENUM"):
                sql, kind = f"CAST(({sql}) AS VARCHAR)", "VARCHAR"
            if not _PLAIN_TYPE.fullmatch(kind):
                problems.append(f"{where}: {a.attribute_expr!r} has type {kind}; an attribute must be one value "
                                "(text, number, date or time)")
                continue
            if a.attribute_name == RECENCY_ATTRIBUTE:
                try:
                    db.describe(f"SELECT CAST(({sql}) AS TIMESTAMP) FROM {rel}")
                except Exception:  # duckdb.Error: no cast from this type
                    problems.append(f"{where}: {a.attribute_expr!r} has type {kind}; {RECENCY_ATTRIBUTE} must be "
                                    "a date or time")
                    continue
            described.setdefault(a.attribute_name, {})[s.table_id] = kind
            compiled.setdefault(s.table_id, {})[a.attribute_name] = sql
    mapped_anywhere = {a.attribute_name for s in cfg.sources if s.is_active and s.table_fqn for a in s.attributes}
    types = {name: _common_type(db, sorted(set(kinds.values()))) for name, kinds in sorted(described.items())}

    # Rules.
    rules: dict[str, AttributePlan] = {}
    for r in cfg.survivorship:
        where = f"idr_meta.survivorship_rule {r.attribute_name!r}"
        strategy = normalise_strategy(r.strategy or "")
        if r.attribute_name in rules:
            problems.append(f"{where}: two rules for one attribute; keep one")
            continue
        if r.strategy is None:
            table = "attribute_group" if r.attribute_group else "identifier_attribute"
            problems.append(f"idr_meta.{table}: attribute {r.attribute_name!r} has no rule (strategy) in "
                            "idr_meta.survivorship_rule")
        elif strategy not in STRATEGIES:
            problems.append(f"{where}: unknown strategy {r.strategy!r} (known: {', '.join(STRATEGIES)})")
        if r.attribute_name.lower() in RESERVED:
            problems.append(f"{where}: {r.attribute_name!r} is a column of every golden profile; "
                            "choose another attribute name")
        if r.identifier_type:
            if r.attribute_name in mapped_anywhere:
                problems.append(f"{where}: the attribute is both identifier-derived (idr_meta.identifier_attribute) "
                                "and mapped in idr_meta.entity_attribute_mapping; keep one")
            if r.identifier_type not in active_types or r.identifier_type not in mapped_types:
                problems.append(f"idr_meta.identifier_attribute {r.attribute_name!r}: identifier type "
                                f"{r.identifier_type!r} has no active rule mapped by an active source")
        elif r.attribute_name not in mapped_anywhere:
            problems.append(f"{where}: no active source maps attribute {r.attribute_name!r} "
                            "(idr_meta.entity_attribute_mapping)")
        priority = parse_priority_list(r.source_priority_list)
        for t in priority:
            if t not in known_sources:
                problems.append(f"{where}: source_priority_list names {t!r}, which is not a source")
        if priority and strategy not in PRIORITY_STRATEGIES:
            problems.append(f"{where}: source_priority_list is used by {' and '.join(PRIORITY_STRATEGIES)} only, "
                            f"not by {strategy}")
        if r.recency_field == RECENCY_ATTRIBUTE:
            pass  # the record's own recency, mapped or not (the seed family's usual value)
        elif r.recency_field and r.recency_field not in mapped_anywhere:
            problems.append(f"{where}: recency_field {r.recency_field!r} is not a mapped attribute")
        elif r.recency_field and types.get(r.recency_field) and not _castable(db, types[r.recency_field]):
            problems.append(f"{where}: recency_field {r.recency_field!r} has type {types[r.recency_field]}; "
                            "it must be a date or time")
        recency = None if r.recency_field == RECENCY_ATTRIBUTE else r.recency_field
        rules[r.attribute_name] = AttributePlan(r.attribute_name, strategy, r.attribute_group, r.identifier_type,
                                                tuple(priority), recency)
    # A mapped attribute without a rule is kept with the default strategy; the recency
    # attribute only orders records unless a rule asks for it.
    for name in sorted(mapped_anywhere - set(rules) - {RECENCY_ATTRIBUTE}):
        if name.lower() in RESERVED:
            problems.append(f"idr_meta.entity_attribute_mapping: attribute {name!r} is a column of every golden "
                            "profile; choose another attribute name")
        rules[name] = AttributePlan(name, DEFAULT_STRATEGY, None, None, (), None)
    _check_groups(rules, problems)

    sources = {}
    for s in cfg.sources:  # every active source takes part (identifier-derived attributes need no mapping)
        t = s.table_id
        if not (s.is_active and t in source_plans) or (s.trust is not None and not s.trust.is_active):
            continue
        values = compiled.get(t, {})
        cast = {a: sql if types[a] == described[a][t] else f"CAST(({sql}) AS {types[a]})" for a, sql in values.items()}
        recency = f"TRY_CAST(({values[RECENCY_ATTRIBUTE]}) AS TIMESTAMP)" if RECENCY_ATTRIBUTE in values \
            else source_plans[t].watermark_sql
        rank = s.trust.trust_rank if s.trust else None
        sources[t] = GoldenSource(t, rank if type(rank) is int else None, cast, recency)
    ordered = sorted(rules.values(), key=lambda a: (a.group is None, a.group or "", _rule_order(cfg, a.name)))
    return GoldenPlan(tuple(ordered), sources, types)


def _rule_order(cfg: Config, name: str) -> int:
    names = [r.attribute_name for r in cfg.survivorship]
    return names.index(name) if name in names else len(names)


def _check_groups(rules: dict[str, AttributePlan], problems: list[str]) -> None:
    groups: dict[str, list[AttributePlan]] = {}
    for a in rules.values():
        if a.group:
            groups.setdefault(a.group, []).append(a)
    for g, members in sorted(groups.items()):
        where = f"idr_meta.attribute_group {g!r}"
        if len({m.strategy for m in members}) > 1:
            problems.append(f"{where}: mixes strategies ({', '.join(f'{m.name} {m.strategy}' for m in members)}); "
                            "a group survives as one block, so its attributes need one strategy")
        elif members[0].strategy in SINGLE_VALUE_STRATEGIES:
            problems.append(f"{where}: strategy {members[0].strategy} compares single values; a group needs "
                            "MOST_RECENT, SOURCE_PRIORITY, SOURCE_PRIORITY + MOST_RECENT, MOST_FREQUENT or LONGEST")
        if len({(m.priority, m.recency_field) for m in members}) > 1:
            problems.append(f"{where}: its attributes' source_priority_list and recency_field differ; "
                            "a block is ordered one way")
        for m in members:
            if m.identifier_type:
                problems.append(f"{where}: {m.name!r} is identifier-derived and cannot be part of a group")


def _common_type(db, kinds: list[str]) -> str:
    """The type the engine gives a column that unites these types (DATE and VARCHAR: VARCHAR)."""
    if len(kinds) == 1:
        return kinds[0]
    return db.describe(" UNION ALL ".join(f"SELECT CAST(NULL AS {k}) AS x" for k in kinds))[0][1]


def _castable(db, kind: str) -> bool:
    try:
        db.describe(f"SELECT CAST(CAST(NULL AS {kind}) AS TIMESTAMP)")
        return True
    except Exception:  # duckdb.Error: no such cast
        return False
