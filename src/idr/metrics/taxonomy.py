"""The metrics idr records, as data: the seed's taxonomy plus a few data-quality counts.

Names are the ones users query in idr_out.metrics_export and must not change. `type` is
the seed's kind of a per-run value: `counter` for a count of things that happened in the
run, `gauge` for a level. Exporters map it to their own model (docs/metrics.md): every
per-run value is a Prometheus gauge (it is reset by each run, so it is not a Prometheus
counter), and a DataDog COUNT or GAUGE.
"""

from __future__ import annotations

from dataclasses import dataclass

# Dimension keys that may become labels or tags. Their values are drawn from small fixed
# sets (statuses, stage names, identifier types from idr_meta.rule); anything else in a
# dimensions object (a run id, an identifier value) is never turned into a label.
LABEL_KEYS = ("status", "stage", "rule", "direction")

# Statuses of the idr_run_status enum as exported (a dry run publishes nothing, so it is
# not "the last run" for monitoring; it still has its rows in metrics_export).
# HELD: the anomaly gate kept the result unpublished; REJECTED: `idr reject` discarded it.
RUN_STATUSES = ("SUCCESS", "SUCCESS_WITH_WARNINGS", "FAILED", "INTERRUPTED", "HELD", "REJECTED")
PUBLISHED_STATUSES = ("SUCCESS", "SUCCESS_WITH_WARNINGS")
DRY_RUN_STATUS = "DRY_RUN_COMPLETE"


@dataclass(frozen=True)
class Metric:
    name: str
    type: str  # gauge | counter (the metric_type column)
    help: str
    scope: str  # run | cluster | stage
    counts_key: str | None = None  # RunContext.counts key it comes from, if any
    per_rule_key: str | None = None  # counts key of its {identifier_type: n} breakdown


RUN_DURATION = "idr_run_duration_seconds"
STAGE_CPU = "idr_stage_cpu_seconds"
STAGE_MEMORY = "idr_stage_peak_memory_bytes"
STAGE_BYTES = "idr_stage_bytes"
RUN_STATUS = "idr_run_status"
STAGE_DURATION = "idr_stage_duration_seconds"
STAGE_ROWS = "idr_stage_rows_processed"

METRICS: dict[str, Metric] = {m.name: m for m in (
    # Run metrics (per execution)
    Metric(RUN_DURATION, "gauge", "Duration of the run in seconds", "run"),
    Metric(RUN_STATUS, "gauge", "Status of the run (1 for the run's status)", "run"),
    Metric("idr_entities_processed", "counter", "Entities processed by the run", "run", "entities"),
    Metric("idr_edges_created", "counter", "Edges created by the run", "run", "edges", "edges_by_type"),
    Metric("idr_edges_updated", "counter", "Edges updated (removed or replaced) by an incremental run",
           "run", "edges_updated"),
    Metric("idr_lp_iterations", "gauge", "Rounds of the connected-components computation", "run",
           "components_rounds"),
    Metric("idr_groups_skipped", "counter", "Identifier groups skipped for exceeding max_group_size", "run",
           "groups_skipped", "groups_skipped_by_type"),
    Metric("idr_values_excluded", "counter", "Identifier values matching the exclusion list", "run",
           "values_excluded", "values_excluded_by_type"),
    Metric("idr_values_invalid", "counter", "Identifier values the canonicaliser rejected", "run",
           "values_invalid", "values_invalid_by_type"),
    Metric("idr_values_placeholder", "counter", "Identifier values that are placeholders (N/A, unknown, ...)",
           "run", "values_placeholder", "values_placeholder_by_type"),
    Metric("idr_run_retries", "counter", "Transient errors retried by the run (database busy, source I/O)",
           "run", "retries"),
    Metric("idr_gate_figures_flagged", "gauge", "Figures the anomaly gate flagged (warned or held) in the run",
           "run", "gate_figures_flagged"),
    # Cluster metrics (point in time: the published clusters after the run)
    Metric("idr_total_clusters", "gauge", "Clusters in the published results", "cluster"),
    Metric("idr_total_entities_resolved", "gauge", "Entities in the published membership", "cluster"),
    Metric("idr_largest_cluster_size", "gauge", "Entities in the largest published cluster", "cluster"),
    Metric("idr_clusters_over_1000", "gauge", "Published clusters with more than 1000 entities", "cluster"),
    Metric("idr_singleton_count", "gauge", "Published clusters of a single entity", "cluster"),
    Metric("idr_avg_cluster_size", "gauge", "Mean entities per published cluster", "cluster"),
    # Stage metrics (per stage per run)
    Metric(STAGE_DURATION, "gauge", "Duration of a pipeline stage in seconds", "stage"),
    Metric(STAGE_ROWS, "counter", "Rows into (direction=in) and out of (direction=out) a pipeline stage",
           "stage"),
    Metric(STAGE_CPU, "gauge", "CPU seconds of a pipeline stage (all threads of the process)", "stage"),
    Metric(STAGE_MEMORY, "gauge", "Peak resident memory of the process during a pipeline stage, in bytes", "stage"),
    Metric(STAGE_BYTES, "counter", "Bytes a pipeline stage read (direction=in) and wrote (direction=out)", "stage"),
)}


def per_rule_name(name: str) -> str:
    """Name under which exporters send the per-rule rows of a metric: idr_groups_skipped ->
    idr_rule_groups_skipped. A separate name keeps sum() over all series of one metric from
    adding the total to its own parts."""
    return "idr_rule_" + name[len("idr_"):]
