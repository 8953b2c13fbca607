"""Tables idr owns, as data: schema -> table -> ordered columns.

`idr init` creates what is missing and adds columns that later versions introduced, so
it is safe to run on an existing database. Leading columns of the idr_meta tables are in
the order the user manual's positional `INSERT ... VALUES` statements expect. DuckDB wants a
value for every column in a positional INSERT, so these tables have exactly those columns.
"""

from __future__ import annotations

import re

from .sql import edges as edges_sql
from .sql.dialects import DUCKDB, Dialect
from .sql.quoting import ident, qualified

SCHEMAS = ("idr_meta", "idr_work", "idr_out")

# The state a run publishes and `idr rollback` restores, all in idr_out (see out()).
MEMBERSHIP = "identity_resolved_membership_current"
CLUSTERS = "identity_clusters_current"
PAIRS = "identity_identifier_pairs_current"
SKIPPED = "identity_skipped_groups_current"
IDENTIFIERS = "identity_identifiers_current"  # a view over PAIRS; a table in earlier versions
GOLDEN = "golden_profile_current"  # one column per attribute: rebuilt by a FULL run (pipeline/golden.py)
PROVENANCE = "golden_profile_provenance_current"
# The tables a run publishes. They live only in the published snapshot (Parquet files,
# publish/); inside the database file these names are views over the current snapshot.
STATE = (MEMBERSHIP, CLUSTERS, PAIRS, SKIPPED, GOLDEN, PROVENANCE)


def out(table: str) -> str:
    """The qualified name of an idr_out table."""
    return qualified("idr_out", table)


# (column name, type and default). Order matters for idr_meta (positional inserts).
# A column added by a later version must allow NULL or have a default: `idr init` adds it
# to existing tables, and `idr rollback` puts back rows saved before it existed.
TABLES: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("idr_meta", "source_table"): [
        ("table_id", "VARCHAR NOT NULL PRIMARY KEY"),
        ("table_fqn", "VARCHAR NOT NULL"),
        ("entity_key_expr", "VARCHAR NOT NULL"),
        ("watermark_column", "VARCHAR"),
        ("watermark_lookback_minutes", "INTEGER DEFAULT 0"),
        ("is_active", "BOOLEAN DEFAULT TRUE"),
    ],
    ("idr_meta", "identifier_mapping"): [
        ("table_id", "VARCHAR NOT NULL"),
        ("identifier_type", "VARCHAR NOT NULL"),
        ("identifier_value_expr", "VARCHAR NOT NULL"),
        ("is_hashed", "BOOLEAN DEFAULT FALSE"),
    ],
    ("idr_meta", "rule"): [
        ("rule_id", "VARCHAR NOT NULL PRIMARY KEY"),
        ("identifier_type", "VARCHAR NOT NULL"),
        ("canonicalize", "VARCHAR DEFAULT 'NONE'"),
        ("max_group_size", "INTEGER DEFAULT 10000"),
        ("is_active", "BOOLEAN DEFAULT TRUE"),
        ("priority", "INTEGER DEFAULT 100"),
    ],
    ("idr_meta", "identifier_exclusion"): [
        ("identifier_type", "VARCHAR NOT NULL"),
        ("identifier_value_pattern", "VARCHAR NOT NULL"),
        ("is_pattern", "BOOLEAN DEFAULT FALSE"),
        ("reason", "VARCHAR"),
    ],
    ("idr_meta", "config"): [
        ("config_key", "VARCHAR NOT NULL PRIMARY KEY"),
        ("config_value", "VARCHAR"),
        ("description", "VARCHAR"),
        ("updated_at", "TIMESTAMP DEFAULT current_timestamp"),
    ],
    ("idr_meta", "source_soft_delete"): [
        ("table_id", "VARCHAR NOT NULL PRIMARY KEY"),
        ("deleted_expr", "VARCHAR NOT NULL"),
    ],
    # Golden profiles (docs/golden-profiles.md). source, entity_attribute_mapping and
    # survivorship_rule have exactly the columns of the seed family's tables, so their
    # positional INSERTs work; groups and identifier-derived attributes have tables of their own.
    ("idr_meta", "source"): [
        ("table_id", "VARCHAR NOT NULL PRIMARY KEY"),
        ("source_name", "VARCHAR"),
        ("trust_rank", "INTEGER"),
        ("is_active", "BOOLEAN DEFAULT TRUE"),
    ],
    ("idr_meta", "entity_attribute_mapping"): [
        ("table_id", "VARCHAR NOT NULL"),
        ("attribute_name", "VARCHAR NOT NULL"),
        ("attribute_expr", "VARCHAR NOT NULL"),
    ],
    ("idr_meta", "survivorship_rule"): [
        ("attribute_name", "VARCHAR NOT NULL"),
        ("strategy", "VARCHAR NOT NULL"),
        ("source_priority_list", "VARCHAR"),
        ("recency_field", "VARCHAR"),
    ],
    ("idr_meta", "attribute_group"): [
        ("group_name", "VARCHAR NOT NULL"),
        ("attribute_name", "VARCHAR NOT NULL"),
    ],
    ("idr_meta", "identifier_attribute"): [
        ("attribute_name", "VARCHAR NOT NULL"),
        ("identifier_type", "VARCHAR NOT NULL"),
    ],
    ("idr_meta", "run_state"): [
        ("table_id", "VARCHAR NOT NULL PRIMARY KEY"),
        ("last_watermark_value", "TIMESTAMP"),
        ("last_run_id", "VARCHAR"),
        ("last_run_ts", "TIMESTAMP"),
        ("source_fingerprint", "VARCHAR"),
    ],
    # Per watermarked source, what the last published run saw (runs/watermark_check.py):
    # checksums of its rows in buckets by key, up to checked_watermark.
    ("idr_meta", "source_checksum"): [
        ("table_id", "VARCHAR NOT NULL"),
        ("checked_watermark", "TIMESTAMP"),
        ("bucket", "INTEGER NOT NULL"),
        ("row_count", "BIGINT NOT NULL"),
        ("checksum", "BIGINT NOT NULL"),
    ],
    ("idr_out", "run_history"): [
        ("run_id", "VARCHAR NOT NULL PRIMARY KEY"),
        ("run_mode", "VARCHAR NOT NULL"),
        ("status", "VARCHAR NOT NULL"),
        ("started_at", "TIMESTAMP NOT NULL"),
        ("ended_at", "TIMESTAMP"),
        ("duration_seconds", "DOUBLE"),
        ("entities_processed", "BIGINT"),
        ("rows_without_key", "BIGINT"),
        ("identifiers_extracted", "BIGINT"),
        ("edges_created", "BIGINT"),
        ("clusters_total", "BIGINT"),
        ("clusters_impacted", "BIGINT"),
        ("largest_cluster", "BIGINT"),
        ("large_clusters", "BIGINT"),
        ("groups_skipped", "BIGINT"),
        ("values_excluded", "BIGINT"),
        ("values_invalid", "BIGINT"),
        ("values_placeholder", "BIGINT"),
        ("components_rounds", "INTEGER"),
        ("components_strategy", "VARCHAR"),
        ("warnings", "VARCHAR"),
        ("error_message", "VARCHAR"),
        ("error_stage", "VARCHAR"),
        ("idr_version", "VARCHAR"),
        ("pid", "INTEGER"),
        ("requested_mode", "VARCHAR"),
        ("mode_reason", "VARCHAR"),
        ("config_fingerprint", "VARCHAR"),
        ("last_watermark_value", "TIMESTAMP"),
        ("entities_removed", "BIGINT"),
        ("rolled_back_by", "VARCHAR"),
        ("rollback_to", "VARCHAR"),
        ("config_snapshot", "VARCHAR"),  # JSON of the configuration the run used (dry-run reports diff it)
        ("merges", "BIGINT"),
        ("splits", "BIGINT"),
        # The anomaly gate's verdict (JSON: decision, flags with reasons; docs/gate.md).
        ("gate_report", "VARCHAR"),
        # A HELD run: the published run it was computed on, and what approving it needs
        # besides the kept relations (JSON: watermarks read, source fingerprints, relations).
        ("baseline_run_id", "VARCHAR"),
        ("held_state", "VARCHAR"),
    ],
    ("idr_out", "stage_metrics"): [
        ("run_id", "VARCHAR NOT NULL"),
        ("stage_name", "VARCHAR NOT NULL"),
        ("started_at", "TIMESTAMP NOT NULL"),
        ("ended_at", "TIMESTAMP"),
        ("duration_seconds", "DOUBLE"),
        ("rows_in", "BIGINT"),
        ("rows_out", "BIGINT"),
        ("rows_affected", "BIGINT"),
        # What the stage cost the machine (pipeline/cost.py); NULL where unknown.
        ("cpu_seconds", "DOUBLE"),
        ("peak_memory_bytes", "BIGINT"),
        ("bytes_read", "BIGINT"),
        ("bytes_written", "BIGINT"),
    ],
    ("idr_out", "skipped_identifier_groups"): [
        ("run_id", "VARCHAR NOT NULL"),
        ("identifier_type", "VARCHAR NOT NULL"),
        ("identifier_value_norm", "VARCHAR NOT NULL"),
        ("group_size", "BIGINT NOT NULL"),
        ("max_allowed", "BIGINT NOT NULL"),
        ("sample_entity_keys", "VARCHAR[]"),
        ("reason", "VARCHAR"),
        ("skipped_at", "TIMESTAMP DEFAULT current_timestamp"),
    ],
    ("idr_out", MEMBERSHIP): [
        ("entity_key", "VARCHAR NOT NULL"),
        ("resolved_id", "VARCHAR NOT NULL"),
        ("table_id", "VARCHAR NOT NULL"),
        ("run_id", "VARCHAR NOT NULL"),
        ("updated_ts", "TIMESTAMP NOT NULL"),
        # idr's number for the entity, what identity_identifier_pairs_current refers to.
        ("entity_id", "BIGINT"),
    ],
    ("idr_out", CLUSTERS): [
        ("resolved_id", "VARCHAR NOT NULL"),
        ("cluster_size", "BIGINT NOT NULL"),
        ("run_id", "VARCHAR NOT NULL"),
        ("updated_ts", "TIMESTAMP NOT NULL"),
    ],
    # Every usable (entity, identifier) pair, linking or not: what INCR needs to find the
    # entities that share a value with changed records without re-reading the sources.
    # Entities by number (membership's entity_id), not key: 15M keys written again cost a
    # FULL run ~2 s at 10M records, and INCR's lookups compare integers. Users read it
    # with the keys through the view identity_identifiers_current.
    ("idr_out", PAIRS): [
        ("entity_id", "BIGINT NOT NULL"),
        ("identifier_type", "VARCHAR NOT NULL"),
        ("identifier_value_norm", "VARCHAR NOT NULL"),
        ("run_id", "VARCHAR NOT NULL"),
    ],
    # Groups currently over max_group_size, with their full size (INCR keeps them skipped
    # without reading all their members).
    ("idr_out", SKIPPED): [
        ("identifier_type", "VARCHAR NOT NULL"),
        ("identifier_value_norm", "VARCHAR NOT NULL"),
        ("group_size", "BIGINT NOT NULL"),
        ("max_allowed", "BIGINT NOT NULL"),
        ("run_id", "VARCHAR NOT NULL"),
    ],
    # The attribute columns come between resolved_id and updated_ts; a FULL run creates the
    # table with the configured attributes (pipeline/golden.py), these are the fixed ones.
    ("idr_out", GOLDEN): [
        ("resolved_id", "VARCHAR NOT NULL"),
        ("updated_ts", "TIMESTAMP NOT NULL"),
        ("run_id", "VARCHAR NOT NULL"),
    ],
    # For every golden value: the entity it came from and the strategy that chose it.
    ("idr_out", PROVENANCE): [
        ("resolved_id", "VARCHAR NOT NULL"),
        ("attribute_name", "VARCHAR NOT NULL"),
        ("entity_key", "VARCHAR NOT NULL"),
        ("strategy", "VARCHAR NOT NULL"),
        ("run_id", "VARCHAR NOT NULL"),
    ],
    ("idr_out", "resolved_id_lineage"): [
        ("run_id", "VARCHAR NOT NULL"),
        ("event", "VARCHAR NOT NULL"),
        ("resolved_id", "VARCHAR NOT NULL"),
        ("related_resolved_id", "VARCHAR NOT NULL"),
        ("entities_moved", "BIGINT NOT NULL"),
        ("resolved_cluster_size", "BIGINT"),
        ("related_cluster_size", "BIGINT"),
        ("recorded_at", "TIMESTAMP DEFAULT current_timestamp"),
    ],
    # Dry runs (docs/dry-run.md). The seed's columns in the seed's order, extras after them.
    # No PRIMARY KEY (run_id, entity_key) on the results: DuckDB's index made a 3M-row
    # insert 2x slower, the file 5x larger and the retention DELETE 90 s instead of 0.03 s;
    # keys are unique by construction (one row per entity and run).
    ("idr_out", "dry_run_results"): [
        ("run_id", "VARCHAR NOT NULL"),
        ("entity_key", "VARCHAR NOT NULL"),
        ("current_resolved_id", "VARCHAR"),
        ("proposed_resolved_id", "VARCHAR"),
        ("change_type", "VARCHAR"),
        ("current_cluster_size", "INTEGER"),
        ("proposed_cluster_size", "INTEGER"),
        ("created_at", "TIMESTAMP DEFAULT current_timestamp"),
        ("table_id", "VARCHAR"),
    ],
    ("idr_out", "dry_run_summary"): [
        ("run_id", "VARCHAR NOT NULL PRIMARY KEY"),
        ("total_entities", "INTEGER"),
        ("new_entities", "INTEGER"),
        ("moved_entities", "INTEGER"),
        ("merged_clusters", "INTEGER"),
        ("split_clusters", "INTEGER"),
        ("largest_proposed_cluster", "INTEGER"),
        ("edges_would_create", "INTEGER"),
        ("groups_would_skip", "INTEGER"),
        ("values_would_exclude", "INTEGER"),
        ("execution_time_seconds", "INTEGER"),
        ("created_at", "TIMESTAMP DEFAULT current_timestamp"),
        ("mode", "VARCHAR"),
        ("removed_entities", "BIGINT"),
        ("unchanged_entities", "BIGINT"),
        ("affected_entities", "BIGINT"),
        ("merged_into_clusters", "BIGINT"),
        ("current_entities", "BIGINT"),
        ("current_clusters", "BIGINT"),
        ("proposed_clusters", "BIGINT"),
        ("execution_seconds", "DOUBLE"),
        ("golden_values_changed", "BIGINT"),  # golden values (cluster x attribute) that would change
        ("warnings", "VARCHAR[]"),  # the run's warnings, e.g. clusters over large_cluster_threshold
        ("compared_to_run_id", "VARCHAR"),  # the published run whose results the dry run was compared with
    ],
    # Why the merges of a dry run happen: identifier values held by entities of two or more
    # parts of a merge (a current cluster, or a new entity).
    ("idr_out", "dry_run_bridges"): [
        ("run_id", "VARCHAR NOT NULL"),
        ("proposed_resolved_id", "VARCHAR NOT NULL"),
        ("identifier_type", "VARCHAR NOT NULL"),
        ("identifier_value_norm", "VARCHAR NOT NULL"),
        ("parts", "BIGINT NOT NULL"),
        ("entities", "BIGINT NOT NULL"),
        ("created_at", "TIMESTAMP"),
    ],
    # One row per `idr backup` (docs/backup.md): what `idr doctor` checks for a recent backup.
    ("idr_out", "backup_history"): [
        ("backup_id", "VARCHAR NOT NULL PRIMARY KEY"),
        ("started_at", "TIMESTAMP NOT NULL"),
        ("finished_at", "TIMESTAMP"),
        ("path", "VARCHAR"),
        ("tables", "INTEGER"),
        ("total_rows", "BIGINT"),
        ("bytes", "BIGINT"),
        ("idr_version", "VARCHAR"),
    ],
    # One row per metric per run (docs/metrics.md): the seed's columns, then exported_to,
    # the exporters that have delivered the row. The seed's partial index on
    # exported_at IS NULL is left out: DuckDB does not support partial indexes.
    ("idr_out", "metrics_export"): [
        ("metric_id", "VARCHAR DEFAULT uuid() PRIMARY KEY"),
        ("run_id", "VARCHAR"),
        ("metric_name", "VARCHAR NOT NULL"),
        ("metric_value", "DOUBLE NOT NULL"),
        ("metric_type", "VARCHAR DEFAULT 'gauge'"),
        ("dimensions", "VARCHAR"),
        ("recorded_at", "TIMESTAMP DEFAULT current_timestamp"),
        ("exported_at", "TIMESTAMP"),
        ("exported_to", "VARCHAR"),
    ],
}


def views(d: Dialect = DUCKDB) -> dict[tuple[str, str], str]:
    """Views, created in this order. The edges are the links that built the clusters,
    derived from the identifiers rather than stored: storing them would cost FULL runs a
    third of their publishing time and INCR runs a rewrite, for a table users only read
    now and then."""
    return {
        ("idr_out", IDENTIFIERS):
            "SELECT m.entity_key, p.identifier_type, p.identifier_value_norm, p.run_id "
            f"FROM {out(PAIRS)} p JOIN {out(MEMBERSHIP)} m USING (entity_id)",
        ("idr_out", "identity_edges_current"): edges_sql.star_edges_sql(
            d, f"SELECT i.* FROM {out(IDENTIFIERS)} i" + d.anti_join(
                f"{out(SKIPPED)} s", on="s.identifier_type = i.identifier_type "
                                        "AND s.identifier_value_norm = i.identifier_value_norm"),
            "identifier_type", "identifier_value_norm", ", h.run_id"),
    }


VIEWS = views()


def column_types(schema: str, table: str) -> list[tuple[str, str]]:
    """(column, bare type) of a declared table: the type without constraints or default."""
    return [(c, re.split(r" (?:NOT NULL|PRIMARY KEY|DEFAULT)\b", t, maxsplit=1)[0]) for c, t in TABLES[(schema, table)]]


def empty_state_sql(table: str) -> str:
    """A state table with no rows (nothing published yet), typed as declared."""
    cols = ", ".join(f"CAST(NULL AS {t}) AS {ident(c)}" for c, t in column_types("idr_out", table))
    return f"SELECT {cols} WHERE false"


def table_ddl(schema: str, table: str) -> str:
    cols = ",\n  ".join(f"{ident(c)} {t}" for c, t in TABLES[(schema, table)])
    return f"CREATE TABLE IF NOT EXISTS {qualified(schema, table)} (\n  {cols}\n)"


def _strip_constraints(col_type: str) -> str:
    # ALTER TABLE ADD COLUMN cannot add PRIMARY KEY / NOT NULL to existing rows.
    return col_type.replace(" NOT NULL", "").replace(" PRIMARY KEY", "")


def ensure_schema(db) -> list[str]:
    """Create missing schemas, tables and columns. Returns what was created, for the CLI."""
    from .backends import as_backend

    db = as_backend(db)
    created: list[str] = []
    for schema in SCHEMAS:
        db.run(f"CREATE SCHEMA IF NOT EXISTS {ident(schema)}")
    existing = db.columns(("idr_meta", "idr_out"))
    existing_tables = {(s, t) for s, t, _ in existing}
    kinds = db.tables(("idr_meta", "idr_out"))
    # A database from before snapshots keeps its state as tables until publish/snapshot.py's
    # reconcile (`idr init`) converts them all at once.
    legacy = any(kinds.get(("idr_out", t)) == "BASE TABLE" for t in STATE)
    for (schema, table), cols in TABLES.items():
        if schema == "idr_out" and table in STATE and not legacy:
            # Published state: a view over the current snapshot (publish/snapshot.py points
            # it, adding columns a snapshot written by an older idr lacks); empty until then.
            if (schema, table) not in existing_tables:
                db.run(f"CREATE VIEW {qualified(schema, table)} AS {empty_state_sql(table)}")
                created.append(f"{schema}.{table}")
            continue
        if (schema, table) not in existing_tables:
            db.run(table_ddl(schema, table))
            created.append(f"{schema}.{table}")
            continue
        for col, col_type in cols:
            if (schema, table, col) not in existing:
                db.run(f"ALTER TABLE {qualified(schema, table)} ADD COLUMN {ident(col)} "
                       f"{_strip_constraints(col_type)}")
                created.append(f"{schema}.{table}.{col}")
    kinds = db.tables(("idr_meta", "idr_out"))
    if kinds.get(("idr_out", IDENTIFIERS)) == "BASE TABLE":
        _number_entities(db)
    for (schema, view), sql in views(db.dialect).items():
        if kinds.get((schema, view)) == "BASE TABLE":  # stored as a table by earlier idr versions
            db.run(f"DROP TABLE {qualified(schema, view)}")
        if kinds.get((schema, view)) != "VIEW":
            created.append(f"{schema}.{view}")
        db.run(f"CREATE OR REPLACE VIEW {qualified(schema, view)} AS {sql}")
    return created


def _number_entities(db) -> None:
    """Earlier versions stored identifiers by entity key: number the published entities and
    move their identifiers to the pairs table (the old table is then replaced by the view).
    Rollback can still return to the last run published before this, but not further: the
    runs before it saved identifiers keyed the old way, and `idr rollback` refuses a run
    whose saved state is incomplete. (Only DuckDB databases have that old layout.)"""
    pos = db.dialect.row_position()
    db.run(f"UPDATE {out(MEMBERSHIP)} AS m SET entity_id = n.entity_id FROM ("
           f"SELECT {pos} AS r, row_number() OVER () - 1 AS entity_id "
           f"FROM {out(MEMBERSHIP)}) n WHERE m.{pos} = n.r")
    db.run(f"INSERT INTO {out(PAIRS)} SELECT m.entity_id, i.identifier_type, i.identifier_value_norm, i.run_id "
           f"FROM {out(IDENTIFIERS)} i JOIN {out(MEMBERSHIP)} m USING (entity_key)")


def is_initialised(db) -> bool:
    """Every idr table, column and view is there (a dropped one would fail a run half-way;
    a column added by a newer idr needs `idr init`); a view that older versions stored as
    a table (the derived views, and the published state before snapshots) needs `idr init`
    to become a view."""
    from .backends import as_backend

    backend = as_backend(db)
    found = backend.tables(("idr_meta", "idr_out"))
    columns = backend.columns(("idr_meta", "idr_out"))
    views_ = list(VIEWS) + [("idr_out", t) for t in STATE]
    return all(key in found for key in TABLES) and all(found.get(key) == "VIEW" for key in views_) \
        and all((s, t, c) in columns for (s, t), cols in TABLES.items() for c, _ in cols)


def require_initialised(db, path) -> None:
    """InputError (exit 2) unless `idr init` has made every table and view."""
    from .errors import InputError
    from .hints import idr_command

    if not is_initialised(db):
        raise InputError(f"--db {path}: idr's tables are missing or incomplete; run `{idr_command('init', db=path)}` "
                         "(safe to repeat) and load a configuration")
