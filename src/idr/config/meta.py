"""Read and write the configuration held in the idr_meta tables."""

from __future__ import annotations

from ..backends import as_backend
from pydantic import ValidationError

from ..errors import ConfigError
from ..schema import TABLES
from ..sql.quoting import ident, qualified
from .models import Config, Exclusion, IdentifierMapping, Rule, Source


def _rows(db, table: str, order_by: str) -> list[dict]:
    sql = f"SELECT * FROM {qualified('idr_meta', table)} ORDER BY {order_by}"
    names = [c for c, _ in db.describe(sql)]
    return [dict(zip(names, r)) for r in db.rows(sql)]


def _known(table: str, row: dict) -> dict:
    """Only the columns the model knows (users may add their own columns)."""
    cols = {c for c, _ in TABLES[("idr_meta", table)]}
    return {k: v for k, v in row.items() if k in cols}


def _build(cls, table: str, row: dict, problems: list[str], **extra):
    """A model from a row; a NULL or out-of-range value becomes a problem, not a default."""
    try:
        return cls(**_known(table, row), **extra)
    except ValidationError as e:
        key = next((str(row[c]) for c in ("rule_id", "table_id", "config_key") if row.get(c) is not None), "?")
        for err in e.errors():
            field = ".".join(str(p) for p in err["loc"])
            value = "NULL" if err.get("input") is None else repr(err.get("input"))
            problems.append(f"idr_meta.{table} ({key!r}): {field} = {value}: {err['msg']}")
        return None


def read_config(db) -> Config:
    """The configuration in idr_meta; ConfigError lists every row that cannot be read."""
    db = as_backend(db)
    problems: list[str] = []
    mappings: dict[str, list[IdentifierMapping]] = {}
    for row in _rows(db, "identifier_mapping", "table_id, identifier_type, identifier_value_expr"):
        m = _build(IdentifierMapping, "identifier_mapping", {k: v for k, v in row.items() if k != "table_id"},
                   problems)
        if m is not None:
            mappings.setdefault(row["table_id"], []).append(m)
    deleted = {r["table_id"]: r["deleted_expr"] for r in _rows(db, "source_soft_delete", "table_id")}
    sources = [s for row in _rows(db, "source_table", "table_id")
               if (s := _build(Source, "source_table", row, problems, deleted_expr=deleted.pop(row["table_id"], None),
                               identifiers=mappings.pop(row["table_id"], []))) is not None]
    for table_id in deleted:
        problems.append(f"idr_meta.source_soft_delete: table_id {table_id!r} has no row in idr_meta.source_table")
    # Mappings whose table_id names no source are kept visible so validation can report them.
    orphans = [
        Source(table_id=tid, table_fqn="", entity_key_expr="", is_active=False, identifiers=ms)
        for tid, ms in mappings.items()
    ]
    rules = [r for row in _rows(db, "rule", "priority, rule_id")
             if (r := _build(Rule, "rule", row, problems)) is not None]
    exclusions = [e for row in _rows(db, "identifier_exclusion", "identifier_type, identifier_value_pattern")
                  if (e := _build(Exclusion, "identifier_exclusion", row, problems)) is not None]
    if problems:
        raise ConfigError(problems)
    return Config(
        sources=sources + orphans,
        rules=rules,
        exclusions=exclusions,
        config={r["config_key"]: r["config_value"] for r in _rows(db, "config", "config_key")
                if r["config_value"] is not None},
    )


def _insert(db, table: str, rows: list[dict]) -> None:
    if not rows:
        return
    cols = list(rows[0])
    sql = (
        f"INSERT INTO {qualified('idr_meta', table)} ({', '.join(ident(c) for c in cols)}) "
        f"VALUES ({', '.join('?' for _ in cols)})"
    )
    db.run_many(sql, [[r[c] for c in cols] for r in rows])


def write_config(db, cfg: Config) -> None:
    """Replace the configuration tables' contents. The caller owns the transaction."""
    db = as_backend(db)
    for table in ("identifier_mapping", "source_soft_delete", "source_table", "rule", "identifier_exclusion",
                  "config"):
        db.run(f"DELETE FROM {qualified('idr_meta', table)}")
    _insert(db, "source_table", [s.model_dump(exclude={"identifiers", "deleted_expr"}) for s in cfg.sources])
    _insert(db, "source_soft_delete", [{"table_id": s.table_id, "deleted_expr": s.deleted_expr}
                                        for s in cfg.sources if s.deleted_expr])
    _insert(db, "identifier_mapping", [
        {"table_id": s.table_id, **m.model_dump()} for s in cfg.sources for m in s.identifiers
    ])
    _insert(db, "rule", [r.model_dump() for r in cfg.rules])
    _insert(db, "identifier_exclusion", [e.model_dump() for e in cfg.exclusions])
    _insert(db, "config", [{"config_key": k, "config_value": v} for k, v in cfg.config.items()])
