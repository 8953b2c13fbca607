"""Read and write the configuration held in the idr_meta tables."""

from __future__ import annotations

from ..schema import TABLES
from ..sql.quoting import ident, qualified
from .models import Config, Exclusion, IdentifierMapping, Rule, Source


def _rows(con, table: str, order_by: str) -> list[dict]:
    cur = con.execute(f"SELECT * FROM {qualified('idr_meta', table)} ORDER BY {order_by}")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def _known(table: str, row: dict) -> dict:
    """Drop columns the model does not know (users may add their own) and NULLs that have defaults."""
    cols = {c for c, _ in TABLES[("idr_meta", table)]}
    return {k: v for k, v in row.items() if k in cols and v is not None}


def read_config(con) -> Config:
    mappings: dict[str, list[IdentifierMapping]] = {}
    for row in _rows(con, "identifier_mapping", "table_id, identifier_type, identifier_value_expr"):
        mappings.setdefault(row["table_id"], []).append(
            IdentifierMapping(**{k: v for k, v in _known("identifier_mapping", row).items() if k != "table_id"})
        )
    sources = [
        Source(**_known("source_table", row), identifiers=mappings.pop(row["table_id"], []))
        for row in _rows(con, "source_table", "table_id")
    ]
    # Mappings whose table_id names no source are kept visible so validation can report them.
    orphans = [
        Source(table_id=tid, table_fqn="", entity_key_expr="", is_active=False, identifiers=ms)
        for tid, ms in mappings.items()
    ]
    return Config(
        sources=sources + orphans,
        rules=[Rule(**_known("rule", r)) for r in _rows(con, "rule", "priority, rule_id")],
        exclusions=[
            Exclusion(**_known("identifier_exclusion", r))
            for r in _rows(con, "identifier_exclusion", "identifier_type, identifier_value_pattern")
        ],
        config={r["config_key"]: r["config_value"] for r in _rows(con, "config", "config_key")
                if r["config_value"] is not None},
    )


def _insert(con, table: str, rows: list[dict]) -> None:
    if not rows:
        return
    cols = list(rows[0])
    sql = (
        f"INSERT INTO {qualified('idr_meta', table)} ({', '.join(ident(c) for c in cols)}) "
        f"VALUES ({', '.join('?' for _ in cols)})"
    )
    con.executemany(sql, [[r[c] for c in cols] for r in rows])


def write_config(con, cfg: Config) -> None:
    """Replace the configuration tables' contents. The caller owns the transaction."""
    for table in ("identifier_mapping", "source_table", "rule", "identifier_exclusion", "config"):
        con.execute(f"DELETE FROM {qualified('idr_meta', table)}")
    _insert(con, "source_table", [s.model_dump(exclude={"identifiers"}) for s in cfg.sources])
    _insert(con, "identifier_mapping", [
        {"table_id": s.table_id, **m.model_dump()} for s in cfg.sources for m in s.identifiers
    ])
    _insert(con, "rule", [r.model_dump() for r in cfg.rules])
    _insert(con, "identifier_exclusion", [e.model_dump() for e in cfg.exclusions])
    _insert(con, "config", [{"config_key": k, "config_value": v} for k, v in cfg.config.items()])
