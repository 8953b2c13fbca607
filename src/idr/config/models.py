"""Typed configuration. The idr_meta tables are the truth; these models are how Python sees them."""

from __future__ import annotations

import json

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from .gate import GATE_SETTINGS

# The idr_meta columns are 32-bit INTEGER: larger numbers are refused here, not by DuckDB.
Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]

CANONICALIZERS = ("NONE", "TRIM", "LOWERCASE", "UPPERCASE", "EMAIL", "EMAIL_GMAIL", "PHONE", "DIGITS")

DEFAULT_PLACEHOLDERS = (
    "n/a", "na", "n.a.", "none", "null", "nil", "nan", "unknown", "undefined", "not available",
    "-", "--", ".", "0", "x", "xx", "xxx", "?", "tbd", "test", "0000000000", "1234567890",
    "9999999999", "null@null.com", "none@none.com", "noemail@noemail.com",
)

# config_key -> (default, description). Values are stored as text in idr_meta.config.
SETTINGS: dict[str, tuple[str, str]] = {
    "large_cluster_threshold": ("5000", "Warn (SUCCESS_WITH_WARNINGS) on clusters larger than this"),
    "phone_default_region": ("US", "Region for phone numbers written without a +country code"),
    "placeholder_values": (
        json.dumps(list(DEFAULT_PLACEHOLDERS)),
        "JSON list of values that never link (compared case-insensitively after trimming)",
    ),
    "components_strategy": ("inprocess", "Connected components: inprocess (scipy) or sql (star contraction)"),
    "max_iters": ("100", "Round limit for the sql components strategy; reaching it fails the run"),
    "memory_limit": ("", "DuckDB memory limit for a run, e.g. 3GB (empty: DuckDB's default, 80% of RAM)"),
    "rollback_retention_runs": ("3", "How many recent published runs `idr rollback --to` can return to"),
    "dry_run_retention_days": ("7", "Dry-run rows older than this many days are removed at the start of every run"),
    "backup_retention_days": ("30", "`idr backup` removes backups in its folder older than this many days"),
    "backup_max_age_hours": ("26", "`idr doctor` warns when the last backup is older than this many hours"),
    "schedule_window_hours": ("", "Hours within which a scheduled run must have published (empty: no schedule); "
                                  "checked by `idr doctor`"),
    "metrics_exporters": ("", "Comma-separated exporters run after every run: pushgateway, textfile, datadog, webhook"),
    "metrics_pushgateway_url": ("", "Pushgateway base URL for the pushgateway exporter, e.g. http://127.0.0.1:9091"),
    "metrics_textfile_path": ("", "File the textfile exporter writes (node-exporter textfile collector)"),
    "metrics_webhook_url": ("", "URL the webhook exporter POSTs to (secret from $IDR_WEBHOOK_SECRET)"),
    "metrics_datadog_site": ("datadoghq.com", "DataDog site (API key from $DD_API_KEY)"),
    "metrics_datadog_host": ("", "DataDog API base URL override, e.g. a proxy (empty: https://api.<site>)"),
    "metrics_env": ("", "Value of the env tag/label on exported metrics (empty: none)"),
    "watermark_check": ("warn", "Changes that bypass a source's watermark: warn (INCR warns and recommends FULL), "
                                "full (INCR runs as FULL) or off (no check)"),
}
SETTINGS.update(GATE_SETTINGS)

EXPORTERS = ("pushgateway", "textfile", "datadog", "webhook")


def parse_exporters(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """('pushgateway, Webhook,,x') -> (('pushgateway', 'webhook'), ('x',)): known and unknown names."""
    names = list(dict.fromkeys(n.strip().lower() for n in (text or "").split(",") if n.strip()))
    return tuple(n for n in names if n in EXPORTERS), tuple(n for n in names if n not in EXPORTERS)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class IdentifierMapping(_Model):
    identifier_type: str
    identifier_value_expr: str
    is_hashed: bool = False


class Trust(_Model):
    """A source's row in idr_meta.source: how far its attribute values are trusted."""

    source_name: str | None = None
    # Lower = more trusted; NULL ranks after every ranked source. Typed loosely so that a
    # non-integer is reported with every other problem (config/golden.py), not alone.
    trust_rank: int | float | str | None = None
    is_active: bool = True  # FALSE: the source's values take no part in golden profiles


class AttributeMapping(_Model):
    """A row of idr_meta.entity_attribute_mapping: an attribute's value in this source."""

    attribute_name: str
    attribute_expr: str


class Source(_Model):
    table_id: str
    table_fqn: str
    entity_key_expr: str
    watermark_column: str | None = None
    watermark_lookback_minutes: Int32 = 0
    is_active: bool = True
    # SQL condition over the source's columns; rows where it is TRUE count as deleted.
    # Stored in idr_meta.source_soft_delete (source_table keeps the manual's six columns).
    deleted_expr: str | None = None
    identifiers: list[IdentifierMapping] = Field(default_factory=list)
    # Golden profiles (docs/golden-profiles.md): idr_meta.source and entity_attribute_mapping.
    trust: Trust | None = None
    attributes: list[AttributeMapping] = Field(default_factory=list)


class SurvivorshipRule(_Model):
    """A row of idr_meta.survivorship_rule, with the attribute's group (idr_meta.attribute_group)
    and, for an identifier-derived attribute, its identifier type (idr_meta.identifier_attribute)."""

    attribute_name: str
    strategy: str | None = None  # None only for a group or identifier row without a rule (reported)
    source_priority_list: str | None = None  # table_ids, most trusted first: "crm, web" or '["crm", "web"]'
    recency_field: str | None = None  # an attribute whose value is the record's recency for this rule
    attribute_group: str | None = None
    identifier_type: str | None = None


class Rule(_Model):
    rule_id: str
    identifier_type: str
    canonicalize: str = "NONE"
    max_group_size: Int32 = 10000
    is_active: bool = True
    priority: Int32 = 100


class Exclusion(_Model):
    identifier_type: str
    identifier_value_pattern: str
    is_pattern: bool = False
    reason: str | None = None


class Config(_Model):
    """Everything `idr config load` writes and `idr config export` reads."""

    sources: list[Source] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    exclusions: list[Exclusion] = Field(default_factory=list)
    config: dict[str, str] = Field(default_factory=dict)
    survivorship: list[SurvivorshipRule] = Field(default_factory=list)

    def setting(self, key: str) -> str:
        return self.config.get(key, SETTINGS[key][0])

    def active_rules(self) -> dict[str, Rule]:
        return {r.identifier_type: r for r in self.rules if r.is_active}
