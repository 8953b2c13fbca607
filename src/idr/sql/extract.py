"""Builders of the extract stage (pipeline/extract.py): pure functions returning SELECTs."""

from __future__ import annotations

from .dialects import Dialect
from .quoting import literal


def key_sql(d: Dialect, key: str) -> str:
    # An empty or blank key is no key: otherwise every such row would become one entity.
    return f"CASE WHEN trim({d.cast(f'({key})', 'VARCHAR')}) = '' THEN NULL ELSE ({key}) END"


def source_rows_sql(d: Dialect, src, where: str) -> str:
    """One source's key (k), soft-delete flag (del), watermark (wm) and mapped values
    (v0, v1, ...) for the rows matching `where`."""
    values = "".join(f", {d.cast(f'({m.value_sql})', 'VARCHAR')} AS v{j}" for j, m in enumerate(src.mappings))
    extra = (f", coalesce({d.cast(f'({src.deleted_sql})', 'BOOLEAN')}, FALSE) AS del" if src.deleted_sql else "") + \
        (f", {src.watermark_sql} AS wm" if src.watermark_sql else "")
    return f"SELECT {key_sql(d, src.key_sql)} AS k{extra}{values} FROM {src.relation_sql} WHERE {where}"


def changed_since_sql(d: Dialect, src) -> str:
    """Rows at or after the cutoff (a bound parameter)."""
    return f"{src.watermark_sql} >= {d.param('cutoff')}"


def older_keys_sql(d: Dialect, src, copy: str) -> str:
    """Keys of the copy's rows that also have rows before the cutoff. (The plain key
    expression: the delta's keys are never blank.)"""
    return (f"SELECT DISTINCT ({src.key_sql}) AS k FROM {src.relation_sql} "
            f"WHERE ({changed_since_sql(d, src)}) IS NOT TRUE AND ({src.key_sql}) IN (SELECT k FROM {copy})")


def older_rows_sql(d: Dialect, src, keys: str) -> str:
    return source_rows_sql(d, src, f"({changed_since_sql(d, src)}) IS NOT TRUE AND ({src.key_sql}) IN "
                                   f"(SELECT k FROM {keys})")


def entity_key_sql(d: Dialect, table_id: str, col: str = "k") -> str:
    return f"{literal(table_id + ':')} || {d.cast(col, 'VARCHAR')}"


def copy_keys_sql(d: Dialect, table_id: str, copy: str) -> str:
    return f"SELECT {entity_key_sql(d, table_id)} FROM {copy} WHERE k IS NOT NULL"


def published_keys_sql(membership: str, table_id: str, copy_keys: str) -> str:
    """A source read whole by INCR: its published keys and its keys now (vanished ones count as deleted)."""
    return f"SELECT entity_key FROM {membership} WHERE table_id = {literal(table_id)} UNION {copy_keys}"


def copy_counts_sql(d: Dialect, copy: str, live: str) -> str:
    """(rows, rows numbered, live rows without a key, live rows with a key, distinct live keys)."""
    return (f"SELECT count(*), coalesce(max({d.row_position()}) + 1, 0), count(*) FILTER (WHERE k IS NULL AND {live}), "
            f"count(k) FILTER (WHERE {live}), count(DISTINCT k) FILTER (WHERE {live}) FROM {copy}")


def first_row_of_key_sql(d: Dialect, copy: str, live: str, offset: int) -> str:
    return (f"SELECT k, min({d.row_position()}) + {int(offset)} AS eid FROM {copy} "
            f"WHERE k IS NOT NULL AND {live} GROUP BY k")


def entities_sql(d: Dialect, table_id: str, eid: str, source: str, where: str) -> str:
    return (f"SELECT {entity_key_sql(d, table_id)} AS entity_key, {literal(table_id)} AS table_id, {eid} AS eid "
            f"FROM {source} WHERE {where}")


def raw_values_sql(eid: str, kind: int, column: str, dup: bool, source: str, where: str) -> str:
    return (f"SELECT {eid} AS eid, {int(kind)} AS kind, {column} AS raw_value, {'TRUE' if dup else 'FALSE'} AS dup "
            f"FROM {source} WHERE {where} AND {column} IS NOT NULL")


def union_all(selects: list[str]) -> str:
    return " UNION ALL ".join(selects)


def delta_keys_sql(selects: list[str]) -> str:
    return f"SELECT DISTINCT entity_key FROM ({union_all(selects)}) AS d(entity_key)"


RAW_IDS_COLUMNS = {"eid": "BIGINT", "kind": "INTEGER", "raw_value": "VARCHAR", "dup": "BOOLEAN"}
