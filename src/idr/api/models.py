"""Request and response bodies, as the OpenAPI document (/docs) shows them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

MAX_VALUE = 1024  # characters of an identifier value: real ones are far shorter
MAX_NAME = 256    # identifier types, entity keys, resolved ids, run ids

Value = Annotated[str, Field(min_length=1, max_length=MAX_VALUE)]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]


class Record(BaseModel):
    entity_key: str
    table_id: str


class ClusterMatch(BaseModel):
    resolved_id: str
    cluster_size: int
    records: list[Record] = Field(description="the cluster's records holding the value (at most IDR_RECORDS_MAX)")
    records_total: int


class LookupResult(BaseModel):
    status: Literal["found", "not_found", "invalid", "placeholder", "excluded", "unknown_identifier_type"]
    identifier_type: str
    normalised_value: str | None = Field(description="the value as the served run normalised it")
    resolved_id: str | None = Field(description="the cluster holding the value (null when none, or several "
                                    "because the value's group is over max_group_size)")
    cluster_size: int | None
    skipped_group: bool = Field(description="the value is held by more records than max_group_size: it links none")
    matches: list[ClusterMatch] = Field(description="largest clusters first, at most IDR_RECORDS_MAX")
    clusters_total: int
    snapshot: str


class LookupItem(BaseModel):
    type: Name
    value: Value


class BatchRequest(BaseModel):
    lookups: list[LookupItem] = Field(min_length=1, max_length=1000)


class BatchResult(BaseModel):
    results: list[LookupResult]
    snapshot: str


class Identifier(BaseModel):
    identifier_type: str
    value: str
    skipped_group: bool


class Entity(BaseModel):
    entity_key: str
    table_id: str
    resolved_id: str
    cluster_size: int
    identifiers: list[Identifier]
    snapshot: str


class Cluster(BaseModel):
    resolved_id: str
    cluster_size: int
    members: list[Record]
    members_truncated: bool
    identifiers: list[Identifier]
    golden_profile: dict[str, Any] | None
    snapshot: str


class LastRun(BaseModel):
    run_id: str
    run_mode: str
    ended_at: str | None
    age_seconds: float | None


class Health(BaseModel):
    status: Literal["ok", "starting", "degraded"]
    snapshot: str | None
    snapshot_reachable: bool
    last_successful_run: LastRun | None


class Run(BaseModel):
    run_id: str
    run_mode: str
    status: str
    started_at: str | None = None
    ended_at: str | None = None
    duration_seconds: float | None = None
    entities_processed: int | None = None
    identifiers_extracted: int | None = None
    edges_created: int | None = None
    clusters_total: int | None = None
    clusters_impacted: int | None = None
    largest_cluster: int | None = None
    groups_skipped: int | None = None
    warnings: str | None = None
    error_message: str | None = None
    rollback_to: str | None = None
    rolled_back_by: str | None = None


class Stage(BaseModel):
    stage_name: str
    started_at: str | None = None
    ended_at: str | None = None
    duration_seconds: float | None = None
    rows_in: int | None = None
    rows_out: int | None = None
    rows_affected: int | None = None


class RunList(BaseModel):
    runs: list[Run]
    snapshot: str


class RunDetail(Run):
    stages: list[Stage]
    snapshot: str


class Status(BaseModel):
    snapshot: dict[str, Any]
    redis: dict[str, Any]
    cache: dict[str, Any]
    keys: dict[str, int]
    rate_limits: dict[str, Any]
    uptime_seconds: float
