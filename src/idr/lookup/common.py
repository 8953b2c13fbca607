"""What `idr explain` and `idr show` share: the published state opened read-only, entity
lookups, raw values re-read from the sources, and values normalised by the run's own code.

Everything reads the published snapshot (as idr.open_results does: never the database
file's tables, never a run's scratch state), through its lookup index when it has one
(index.py), so lookups work while a run holds the database, and
with the configuration of the run that published it (run_history.config_snapshot in the
snapshot). Raw values are re-read from the sources: files always; tables inside the
database only while no run holds it (it is then attached read-only for the lookup).
Identifier values reach SQL as bound parameters only; values shown to the user can be
masked.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ..backends import as_backend
from ..backends.duckdb import open_database
from ..config.meta import read_config
from ..config.models import Config
from ..config.validate import Plan, build_plan, lookup_plan
from ..errors import InputError
from ..publish import layout
from ..publish.reader import open_snapshot
from ..schema import MEMBERSHIP, out
from ..sql.quoting import literal
from . import index

DATABASE = "idr_db"  # the name the database file is attached under, when no run holds it


@contextmanager
def published(db: str):
    """(connection, plan) on the published results, read-only. plan.unread lists the
    sources whose raw values cannot be read now (see the module doc)."""
    if layout.read_pointer(Path(db)) is None:  # nothing published as a snapshot yet: the file
        yield from _legacy(db)
        return
    snapshot, raw = open_snapshot(db)
    try:
        index.use(raw, db, snapshot)
        con = as_backend(raw)
        attached = _attach(raw, db)
        cfg = _published_config(con)
        if cfg is None:  # published by an idr that did not record its configuration
            if not attached:
                raise InputError(f"--db {db}: a run holds the database and the published snapshot does not say "
                                 "which configuration made it; try again when the run is over")
            raw.execute(f"USE {DATABASE}")  # its idr_meta, for a moment
            try:
                cfg = read_config(con)
            finally:
                raw.execute("USE memory")
        yield con, lookup_plan(con, cfg, Path(db).resolve().parent, DATABASE if attached else None)
    finally:
        raw.close()


def _legacy(db: str):
    from ..schema import require_initialised

    raw = open_database(db, create=False, read_only=True)
    try:
        con = as_backend(raw)
        require_initialised(con, db)
        raw.execute(f"CREATE TEMP VIEW {index.BY_KEY} AS SELECT * FROM {out(MEMBERSHIP)}")
        yield con, build_plan(con, read_config(con))
    finally:
        raw.close()


def _attach(con, db: str) -> bool:
    """Attach the database file read-only for its source tables, unless a run holds it."""
    try:
        con.execute(f"ATTACH {literal(str(Path(db).resolve()))} AS {DATABASE} (READ_ONLY)")
        return True
    except duckdb.IOException:
        return False


def _published_config(con) -> Config | None:
    """The configuration of the newest run whose results the snapshot holds."""
    rows = con.rows("SELECT config_snapshot FROM idr_out.run_history WHERE status IN ('SUCCESS', "
                    "'SUCCESS_WITH_WARNINGS') AND run_mode IN ('FULL', 'INCR') ORDER BY started_at DESC, run_id DESC LIMIT 1")
    if not rows or not rows[0][0]:
        return None
    return Config.model_validate(json.loads(rows[0][0]))


@dataclass(frozen=True)
class Entity:
    entity_key: str
    entity_id: int
    resolved_id: str
    table_id: str


def entity(con, key: str) -> Entity:
    row = con.rows(f"SELECT entity_key, entity_id, resolved_id, table_id FROM {index.BY_KEY} WHERE entity_key = ?",
                   [key])
    if not row:
        raise InputError(f"{key!r}: no such entity_key in idr_out.{MEMBERSHIP} (keys look like table_id:key, "
                         "e.g. crm:C000042)")
    return Entity(*row[0])


def mask(value, on: bool) -> str:
    """A value as shown: masked, it keeps its first character and its length's order only."""
    text = "NULL" if value is None else str(value)
    if not on or value is None:
        return text
    return (text[:1] + "*" * max(len(text) - 1, 3)) if len(text) > 1 else "***"


def raw_values(con, plan: Plan, keys: list[str], identifier_type: str | None = None) -> dict[str, list[tuple]]:
    """entity_key -> [(identifier_type, raw value), ...] as the sources hold them now
    (every mapping, or those of one type), read by key, one query per source. The keys are
    one bound list tested inside the scan (list_contains), so the scan reads the other
    columns of matching rows only: at 10M records 0.21-0.24 s CPU per source for ~480 keys,
    where a semi join on the unnested list, carrying every column to the join, took
    0.27-0.35 s."""
    by_source: dict[str, list[str]] = {}
    for k in keys:
        table_id, _, key = k.partition(":")
        by_source.setdefault(table_id, []).append(key)
    found: dict[str, list[tuple]] = {k: [] for k in keys}
    for src in plan.sources:
        wanted = by_source.get(src.table_id)
        maps = [m for m in src.mappings if identifier_type in (None, m.identifier_type)]
        if not wanted or not maps:
            continue
        cols = ", ".join(f"CAST(({m.value_sql}) AS VARCHAR)" for m in maps)
        live = f" AND NOT coalesce(CAST(({src.deleted_sql}) AS BOOLEAN), FALSE)" if src.deleted_sql else ""
        rows = con.rows(f"SELECT CAST(({src.key_sql}) AS VARCHAR), {cols} FROM {src.relation_sql} "
                        f"WHERE list_contains($keys, CAST(({src.key_sql}) AS VARCHAR)){live}",
                        {"keys": wanted})
        for key, *values in rows:
            for m, v in zip(maps, values):
                if v is not None:
                    found[f"{src.table_id}:{key}"].append((m.identifier_type, v))
    return found


STATUS_NAMES = {0: "ok", 1: "placeholder", 2: "invalid", 3: "excluded"}


def normalise(con, plan: Plan, values: list[tuple[int, str, str]]) -> list[tuple[int, str, str, str | None, str]]:
    """[(tag, identifier_type, raw)] -> [(tag, identifier_type, raw, value_norm, status)], by
    the pipeline's own normalise and exclude stages (status: ok, placeholder, invalid,
    excluded), run on temp tables of this read-only connection."""
    from ..pipeline.context import RunContext, utcnow
    from ..pipeline.extract import Kind, register_kinds
    from ..pipeline.normalize import normalize

    types = sorted({t for _, t, _ in values if t in plan.rules})
    kinds = [Kind(i, i, t, plan.rules[t].canonicalize.upper(), False, plan.rules[t].max_group_size)
             for i, t in enumerate(types)]
    if not kinds:
        return []
    register_kinds(con, kinds)
    kind_of = {k.identifier_type: k.kind for k in kinds}
    rows = [(i, 0, kind_of[t], raw, True) for i, (_, t, raw) in enumerate(values) if t in kind_of]
    rows = [(eid, kind, raw, dup) for eid, _, kind, raw, dup in rows]
    con.small_relation("idr_raw_ids", {"eid": "BIGINT", "kind": "INTEGER", "raw_value": "VARCHAR", "dup": "BOOLEAN"},
                       rows)
    ctx = RunContext(db=con, run_id="lookup", mode="FULL", plan=plan, started_at=utcnow(), max_iters=1,
                     strategy="inprocess")
    ctx.counts["identifiers_extracted"] = len(rows)
    normalize(ctx, kinds)
    status = {eid: (norm, STATUS_NAMES[int(code)]) for eid, norm, code in
              con.rows("SELECT eid, value_norm, status FROM idr_status")}
    return [(tag, t, raw, *status[i]) for i, (tag, t, raw) in enumerate(values) if i in status]


def members(con, resolved_id: str) -> dict[int, tuple[str, str]]:
    """entity_id -> (entity_key, table_id) of every member of a cluster, in one pass."""
    return {eid: (key, table) for eid, key, table in con.rows(
        f"SELECT entity_id, entity_key, table_id FROM {out(MEMBERSHIP)} WHERE resolved_id = ?", [resolved_id])}


__all__ = ["published", "entity", "members", "mask", "raw_values", "normalise", "literal"]
