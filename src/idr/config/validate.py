"""Check a Config against the database and compile it into a run plan.

Every problem is collected before anything is reported, so one message lists them all.
`*_expr` values are parsed with sqlglot: exactly one scalar expression over the source's
own columns, no statements, no subqueries, no qualified or unknown columns. The plan holds
SQL text re-rendered from the parsed tree, never the user's raw text (a bare column name
that the parser would give back unchanged is taken as written, without importing sqlglot).
"""

from __future__ import annotations

from ..backends import as_backend
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ..errors import ConfigError, InvalidSqlText
from ..sql.quoting import ident, literal, qualified
from .models import CANONICALIZERS, EXPORTERS, SETTINGS, Config, Rule, parse_exporters

WATERMARK_TYPES = {"DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS",
                   "DATETIME", "TIMESTAMPTZ"}
FILE_SUFFIXES = {".parquet": "parquet", ".csv": "csv", ".tsv": "csv", ".gz": "csv"}


@dataclass(frozen=True)
class MappingPlan:
    identifier_type: str
    value_sql: str
    is_hashed: bool


@dataclass(frozen=True)
class SourcePlan:
    table_id: str
    relation_sql: str
    key_sql: str
    mappings: tuple[MappingPlan, ...]
    watermark_sql: str | None  # the watermark as a TIMESTAMP expression, if configured
    lookback_minutes: int
    deleted_sql: str | None  # TRUE for rows that count as deleted


@dataclass(frozen=True)
class Plan:
    sources: tuple[SourcePlan, ...]
    rules: dict[str, Rule]
    config: Config
    settings: dict = field(default_factory=dict)
    golden: object = None  # config.golden.GoldenPlan, or None when no attribute is configured
    unread: tuple[str, ...] = ()  # lookups only: sources that cannot be read now (lookup_plan)


def relation_sql(table_fqn: str, base: Path | None = None, catalog: str | None = None, db=None) -> str:
    """SQL for a source: a quoted table/view name, or a reader over a parquet/CSV path
    (the engine's: Backend.source_file; DuckDB's when no backend is given).

    A relative path is resolved against `base`, the database file's folder: the same
    configuration then reads the same files whichever directory idr is started in.
    catalog: the name the database is attached under, for a reader that is not the
    database's own connection (lookups, lookup/common.py)."""
    suffix = Path(table_fqn.lower()).suffix
    if suffix in FILE_SUFFIXES or "/" in table_fqn or "*" in table_fqn:
        reader = FILE_SUFFIXES.get(suffix, "parquet" if "parquet" in table_fqn.lower() else "csv")
        path = table_fqn
        if base is not None and "://" not in path and not Path(path).is_absolute():
            path = str(base / path)
        if db is None:
            from ..backends.duckdb import DuckDBBackend

            return DuckDBBackend.source_file(reader, path)
        return db.source_file(reader, path)
    if _SIMPLE_NAME.fullmatch(table_fqn):  # name or schema.name: no parser (sqlglot) to import
        parts = table_fqn.split(".")
    else:
        from sqlglot import exp

        parts = [p.name for p in exp.to_table(table_fqn, dialect="duckdb").parts]
    if catalog is not None and len(parts) < 3:
        parts = [catalog, *(parts if len(parts) == 2 else ["main", *parts])]
    return qualified(*parts)


# A bare column, or a dotted table name of bare parts: read as written, without sqlglot (its
# import is ~0.07 s CPU, a tenth of a small run); anything else goes through the parser.
_SIMPLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}")
_BARE_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Bare words sqlglot does not give back as the same column name (keywords it quotes or reads
# as something else): these go through the parser. tests/test_config_validate.py checks
# the list against sqlglot for every DuckDB keyword and function name.
_PARSER_WORDS = frozenset("""
all alter analyse analyze and anti any array as asc asof asymmetric at attach authorization
begin between binary both by cache call case cast check collate collation column columns comment
commit concurrently connect constraint copy create cross current_catalog current_date
current_role current_user default deferrable delete desc describe detach disconnect distinct do
drop else end except execute explain false fetch for force foreign freeze from full generated
glob grant group having if ilike in initially inner insert install intersect into is isnull join
lambda lateral leading left like limit load map merge natural not notnull null offset on only or
order outer overlaps pivot pivot_longer pivot_wider placing positional pragma prepare primary
qualify references rename reset returning revoke right rollback select semi session_user set
show similar some struct summarize symmetric table tablesample then to trailing true truncate
try_cast tuple union unique unpack unpivot update use user using vacuum variadic verbose when
where window with xor
""".split())


# Set-returning or column-expanding functions would change the number of rows or columns.
_ROW_CHANGING = {"unnest", "explode", "columns", "generate_subscripts", "unnest_tokens"}


def compile_expr(text: str, columns: set[str], where: str, problems: list[str]) -> str | None:
    """Parse one user expression; return safe SQL text or record a problem."""
    if _BARE_COLUMN.fullmatch(text) and text.lower() in columns and text.lower() not in _PARSER_WORDS:
        return text  # what the parser returns for a bare column
    import sqlglot
    from sqlglot import exp

    try:
        trees = [t for t in sqlglot.parse(text, read="duckdb") if t is not None]
    except sqlglot.errors.SqlglotError as e:
        problems.append(f"{where}: {text!r} is not a valid SQL expression ({str(e).splitlines()[0]})")
        return None
    if len(trees) != 1:
        problems.append(f"{where}: {text!r} must be one expression, found {len(trees) or 'none'}")
        return None
    tree = trees[0]
    if isinstance(tree, (exp.Query, exp.DDL, exp.DML, exp.Command, exp.Drop, exp.Set, exp.Use)) or \
            tree.find(exp.Query) is not None:
        problems.append(f"{where}: {text!r} must be an expression, not a statement or subquery")
        return None
    if tree.find(exp.Star) is not None:
        problems.append(f"{where}: {text!r}: '*' is not allowed; name the column")
        return None
    names = {f.sql_name().lower() if not isinstance(f, exp.Anonymous) else f.name.lower()
             for f in tree.find_all(exp.Func)}
    if tree.find(exp.Unnest, exp.Explode) is not None or names & _ROW_CHANGING:
        problems.append(f"{where}: {text!r}: functions that return several rows or columns "
                        f"({', '.join(sorted(_ROW_CHANGING))}) are not allowed; one value per row")
        return None
    if tree.find(exp.AggFunc, exp.Window) is not None:
        problems.append(f"{where}: {text!r}: aggregate and window functions are not allowed "
                        "(the expression is evaluated once per row)")
        return None
    ok = True
    for col in tree.find_all(exp.Column):
        if col.table:
            problems.append(f"{where}: {text!r}: use the bare column name, not {col.sql('duckdb')}")
            ok = False
        elif col.name.lower() not in columns:
            problems.append(f"{where}: unknown column {col.name!r} (columns: {', '.join(sorted(columns))})")
            ok = False
    return tree.sql(dialect="duckdb", comments=False) if ok else None


def bind_check(db, rel: str, first_col: str, sql: str | None, text: str, where: str,
               problems: list[str]) -> str | None:
    """Let DuckDB's binder judge what sqlglot cannot: unknown functions, impossible types, and
    aggregates sqlglot does not know (selected beside a plain column they need a GROUP BY)."""
    db = as_backend(db)
    if sql is None:
        return None
    try:
        described = db.describe(f"SELECT {sql}, {ident(first_col)} FROM {rel}")
        if len(described) != 2:
            problems.append(f"{where}: {text!r} yields {len(described) - 1} columns; it must yield one value")
            return None
    except (duckdb.Error, InvalidSqlText) as e:  # BinderException, CatalogException, ParserException, ...
        reason = str(e).strip().splitlines()[0]
        if "GROUP BY" in reason:
            reason = "it aggregates over rows; the expression is evaluated once per row"
        problems.append(f"{where}: {text!r} cannot be evaluated: {reason}")
        return None
    return sql


def _check_settings(cfg: Config, problems: list[str]) -> dict:
    out: dict = {}
    import difflib

    for key in cfg.config:
        if key not in SETTINGS:
            close = difflib.get_close_matches(key, SETTINGS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(SETTINGS)})"
            problems.append(f"idr_meta.config: unknown config_key {key!r}{hint}")
    for key in ("large_cluster_threshold", "max_iters", "rollback_retention_runs", "dry_run_retention_days",
                "backup_retention_days", "backup_max_age_hours", "schedule_window_hours"):
        raw = cfg.setting(key)
        if key == "schedule_window_hours" and not raw.strip():
            out[key] = None  # no schedule declared
            continue
        try:
            out[key] = int(raw)
            if out[key] <= 0:
                raise ValueError
        except ValueError:
            problems.append(f"idr_meta.config {key}={raw!r}: expected a positive integer")
    region = cfg.setting("phone_default_region").strip().upper()
    out["phone_default_region"] = region
    try:
        values = json.loads(cfg.setting("placeholder_values"))
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ValueError
        out["placeholder_values"] = sorted({v.strip().lower() for v in values})
    except ValueError:
        problems.append("idr_meta.config placeholder_values: expected a JSON list of strings")
    out["memory_limit"] = cfg.setting("memory_limit").strip()
    if out["memory_limit"] and not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", out["memory_limit"], re.I):
        problems.append(f"idr_meta.config memory_limit={out['memory_limit']!r}: expected a size such as 3GB or 512MB")
    problems += exporter_problems(cfg)
    strategy = cfg.setting("components_strategy").strip().lower()
    if strategy not in ("inprocess", "sql"):
        problems.append(f"idr_meta.config components_strategy={strategy!r}: expected inprocess or sql")
    out["components_strategy"] = strategy
    check = cfg.setting("watermark_check").strip().lower()
    if check not in ("off", "warn", "full"):
        problems.append(f"idr_meta.config watermark_check={check!r}: expected off, warn or full")
    out["watermark_check"] = check
    from .gate import parse_settings

    out["gate"] = parse_settings(cfg.setting, problems)
    return out


def exporter_problems(cfg: Config) -> list[str]:
    """Exporter names are known and each has its destination; credentials come from the
    environment at export time and are not checked here."""
    known, unknown = parse_exporters(cfg.setting("metrics_exporters"))
    problems = [f"idr_meta.config metrics_exporters: unknown exporter {n!r} (expected one of {', '.join(EXPORTERS)})"
                 for n in unknown]
    needs = {"pushgateway": "metrics_pushgateway_url", "textfile": "metrics_textfile_path",
             "webhook": "metrics_webhook_url"}
    problems += [f"idr_meta.config metrics_exporters names {name} but {needs[name]} is empty"
                 for name in known if name in needs and not cfg.setting(needs[name]).strip()]
    return problems


def _check_rules(cfg: Config, problems: list[str]) -> dict[str, Rule]:
    active: dict[str, Rule] = {}
    seen_ids: set[str] = set()
    for r in cfg.rules:
        where = f"idr_meta.rule {r.rule_id!r}"
        if r.rule_id in seen_ids:
            problems.append(f"{where}: duplicate rule_id")
        seen_ids.add(r.rule_id)
        if r.canonicalize.upper() not in CANONICALIZERS:
            problems.append(f"{where}: unknown canonicalize {r.canonicalize!r} (known: {', '.join(CANONICALIZERS)})")
        if r.max_group_size is None or r.max_group_size <= 0:
            problems.append(f"{where}: max_group_size must be a positive integer, got {r.max_group_size}")
        if r.is_active:
            if r.identifier_type in active:
                problems.append(f"{where}: identifier type {r.identifier_type!r} already has active rule "
                                f"{active[r.identifier_type].rule_id!r}")
            active[r.identifier_type] = r
    return active


def _parse_errors() -> tuple:
    """sqlglot's error class once relation_sql has imported it (it is not imported for
    plain names); an except clause evaluates this only when an error arrives."""
    errors = sys.modules.get("sqlglot.errors")
    return (errors.SqlglotError,) if errors else ()


def _plan_source(db, s, active: dict[str, Rule], base: Path, problems: list[str],
                 catalog: str | None = None) -> SourcePlan | None:
    where = f"idr_meta.source_table {s.table_id!r}"
    if not s.table_fqn:  # an orphan mapping (config/meta.py); attributes are reported by config/golden.py
        if s.identifiers:
            problems.append(f"idr_meta.identifier_mapping: table_id {s.table_id!r} has no row in "
                            "idr_meta.source_table")
        return None
    try:
        rel = relation_sql(s.table_fqn, base, catalog, db)
        described = db.describe(f"SELECT * FROM {rel}")
        columns = {r[0].lower() for r in described}
    except (duckdb.Error, InvalidSqlText, *_parse_errors()) as e:  # no such table or file, unreadable, bad name
        problems.append(f"{where}: source {s.table_fqn!r} cannot be read ({str(e).strip().splitlines()[0]})")
        return None
    key_where = f"{where} entity_key_expr"
    key_sql = bind_check(db, rel, described[0][0], compile_expr(s.entity_key_expr, columns, key_where, problems),
                         s.entity_key_expr, key_where, problems)
    watermark_sql = None
    if s.watermark_column and s.watermark_column.lower() not in columns:
        problems.append(f"{where}: watermark_column {s.watermark_column!r} is not a column of {s.table_fqn!r}")
    elif s.watermark_column:
        col_type = next(t for c, t, *_ in described if c.lower() == s.watermark_column.lower())
        if col_type.split("(")[0] not in WATERMARK_TYPES:
            problems.append(f"{where}: watermark_column {s.watermark_column!r} has type {col_type}; "
                            "expected a DATE or TIMESTAMP column")
        else:
            name = next(c for c, *_ in described if c.lower() == s.watermark_column.lower())
            watermark_sql = f"CAST({ident(name)} AS TIMESTAMP)"
    deleted_sql = None
    if s.deleted_expr:
        dwhere = f"idr_meta.source_soft_delete {s.table_id!r} deleted_expr"
        deleted_sql = bind_check(db, rel, described[0][0], compile_expr(s.deleted_expr, columns, dwhere, problems),
                                 s.deleted_expr, dwhere, problems)
        if deleted_sql is not None:
            kind = db.describe(f"SELECT ({deleted_sql}) FROM {rel}")[0][1]
            if kind != "BOOLEAN":
                problems.append(f"{dwhere}: {s.deleted_expr!r} has type {kind}; it must be a TRUE/FALSE condition "
                                "such as is_deleted or deleted_at IS NOT NULL")
                deleted_sql = None
    if s.watermark_lookback_minutes is not None and s.watermark_lookback_minutes < 0:
        problems.append(f"{where}: watermark_lookback_minutes must be >= 0")
    mappings = []
    for m in s.identifiers:
        mwhere = f"idr_meta.identifier_mapping ({s.table_id!r}, {m.identifier_type!r})"
        if m.identifier_type not in active:
            problems.append(f"{mwhere}: identifier type {m.identifier_type!r} has no active rule in idr_meta.rule")
        vwhere = f"{mwhere} identifier_value_expr"
        sql = bind_check(db, rel, described[0][0], compile_expr(m.identifier_value_expr, columns, vwhere, problems),
                         m.identifier_value_expr, vwhere, problems)
        if sql is not None:
            mappings.append(MappingPlan(m.identifier_type, sql, bool(m.is_hashed)))
    if key_sql is None:
        return None
    return SourcePlan(s.table_id, rel, key_sql, tuple(mappings), watermark_sql,
                      int(s.watermark_lookback_minutes or 0), deleted_sql)


def build_plan(db, cfg: Config) -> Plan:
    """Validate everything; raise ConfigError listing every problem, or return the plan."""
    db = as_backend(db)
    problems: list[str] = []
    settings = _check_settings(cfg, problems)
    active = _check_rules(cfg, problems)
    ids = [s.table_id for s in cfg.sources if s.table_fqn]
    for dup in sorted({t for t in ids if ids.count(t) > 1}):
        problems.append(f"idr_meta.source_table: duplicate table_id {dup!r}")
    for s in cfg.sources:
        if ":" in s.table_id:
            problems.append(f"idr_meta.source_table {s.table_id!r}: table_id must not contain ':'")
    base = db.folder() or Path.cwd()
    sources = [p for s in cfg.sources if s.is_active or not s.table_fqn
               if (p := _plan_source(db, s, active, base, problems)) is not None]
    if not any(s.is_active for s in cfg.sources):
        problems.append("idr_meta.source_table: no active sources configured")
    elif not any(s.identifiers for s in cfg.sources if s.is_active):
        problems.append("idr_meta.identifier_mapping: no active source maps any identifier, so nothing can link")
    mapped = {m.identifier_type for s in cfg.sources if s.is_active for m in s.identifiers}
    for t, r in active.items():
        if t not in mapped:
            problems.append(f"idr_meta.rule {r.rule_id!r}: no active source maps identifier type {t!r}")
    if "phone_default_region" in settings and any(r.canonicalize.upper() == "PHONE" for r in active.values()):
        import phonenumbers

        if settings["phone_default_region"] not in phonenumbers.SUPPORTED_REGIONS:
            problems.append(f"idr_meta.config phone_default_region={settings['phone_default_region']!r}: "
                            "not a region phonenumbers knows (use a two-letter code such as US, GB, DE)")
    from .golden import build_golden_plan

    golden = build_golden_plan(db, cfg, {p.table_id: p for p in sources}, problems)
    if problems:
        raise ConfigError(problems)
    return Plan(tuple(sources), active, cfg, settings, golden)


def lookup_plan(db, cfg: Config, base: Path, catalog: str | None) -> Plan:
    """What `idr explain` and `idr show` read results with: the plan of a configuration
    already validated by the run that published it, with the sources `db` can read now;
    the table_ids of those it cannot (a table inside a database a run holds) are listed in
    plan.unread instead of failing. catalog: see relation_sql."""
    problems: list[str] = []
    settings = _check_settings(cfg, problems)
    active = _check_rules(cfg, problems)
    sources, unread = [], []
    for s in cfg.sources:
        if s.is_active and s.table_fqn:
            p = _plan_source(db, s, active, base, [], catalog)
            if p is None:
                unread.append(s.table_id)
            else:
                sources.append(p)
    return Plan(tuple(sources), active, cfg, settings, unread=tuple(unread))
