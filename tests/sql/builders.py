"""Every SQL builder idr has, called with fixed arguments: what the golden tests render per
dialect (tests/sql/golden/<dialect>.sql) and run on DuckDB. A new builder gets a line here."""

from __future__ import annotations

from idr.config.validate import MappingPlan, SourcePlan
from idr.dryrun import diff
from idr.graph import star_contraction as sc
from idr.normalize import canonical
from idr.pipeline import normalize as norm
from idr.pipeline.extract import Kind
from idr.runs import publish
from idr.schema import views
from idr.sql import clusters, edges, extract, scope
from idr.sql import golden as gsql
from idr.sql.dialects import DUCKDB

SRC = SourcePlan(table_id="crm", relation_sql='"crm"', key_sql='"id"',
                 mappings=(MappingPlan("EMAIL", '"email"', False), MappingPlan("LOYALTY", '"card"', False)),
                 watermark_sql='CAST("ts" AS TIMESTAMP)', lookback_minutes=0, deleted_sql='"is_deleted"')
KINDS = [Kind(0, 0, "EMAIL", "EMAIL", False, 100), Kind(1, 0, "EMAIL", "EMAIL", True, 100),
         Kind(2, 1, "LOYALTY", "NONE", False, 100)]
PAIRS = '"idr_out"."identity_identifier_pairs_current"'
SKIPPED = '"idr_out"."identity_skipped_groups_current"'
MEMBERSHIP = '"idr_out"."identity_resolved_membership_current"'
CLUSTERS = '"idr_out"."identity_clusters_current"'


class _Exclusion:
    def __init__(self, identifier_type, identifier_value_pattern, is_pattern):
        self.identifier_type, self.identifier_value_pattern, self.is_pattern = \
            identifier_type, identifier_value_pattern, is_pattern


EXCLUSIONS = [_Exclusion("EMAIL", "%@example.com", True), _Exclusion("LOYALTY", "0000%", True)]

def _over_v(expr: str) -> str:
    """An expression builder's output as a statement over one value column v."""
    return f"SELECT {expr} AS x FROM (SELECT ' A.b+c@Gmail.com ' AS v) AS t"

# Golden profiles: a group by recency, each other strategy once, an identifier attribute.
_RANK = "CASE src WHEN 0 THEN 0 WHEN 1 THEN 1 END"
GOLDEN_BLOCKS = list(enumerate([
    gsql.Block(("city", "postcode"), ("c0", "c1"), "MOST_RECENT", _RANK, "rec"),
    gsql.Block(("first_name",), ("c2",), "SOURCE_PRIORITY + MOST_RECENT", _RANK, "TRY_CAST(c3 AS TIMESTAMP)"),
    gsql.Block(("color",), ("c2",), "MOST_FREQUENT", _RANK, "rec"),
    gsql.Block(("nick",), ("c2",), "LONGEST", _RANK, "rec"),
    gsql.Block(("age",), ("c4",), "MIN", _RANK, "rec"),
    gsql.Block(("visits",), ("c4",), "MAX", _RANK, "rec"),
    gsql.Block(("tier",), ("c2",), "SOURCE_PRIORITY", _RANK, "rec"),
]))
GOLDEN_ID_BLOCKS = [(7, gsql.Block(("best_email",), ("v",), "MOST_FREQUENT", _RANK, "rec", 0))]

# name -> function of the dialect returning one statement
BUILDERS = {
    # extract
    "extract.source_rows_all": lambda d: extract.source_rows_sql(d, SRC, "TRUE"),
    "extract.source_rows_changed": lambda d: extract.source_rows_sql(d, SRC, extract.changed_since_sql(d, SRC)),
    "extract.older_keys": lambda d: extract.older_keys_sql(d, SRC, "idr_src_0"),
    "extract.older_rows": lambda d: extract.older_rows_sql(d, SRC, "idr_xkeys_0"),
    "extract.copy_counts": lambda d: extract.copy_counts_sql(d, "idr_src_0", "NOT del"),
    "extract.first_row_of_key": lambda d: extract.first_row_of_key_sql(d, "idr_src_0", "NOT del", 10),
    "extract.entities": lambda d: extract.entities_sql(d, "crm", f"{d.row_position()} + 10", "idr_src_0",
                                                       "k IS NOT NULL AND NOT del"),
    "extract.raw_values": lambda d: extract.raw_values_sql("eid", 2, "v1", True,
                                                           "idr_src_0 JOIN idr_keys_0 USING (k)", "NOT del"),
    "extract.delta_keys": lambda d: extract.delta_keys_sql(
        [extract.published_keys_sql(MEMBERSHIP, "crm", extract.copy_keys_sql(d, "crm", "idr_src_0"))]),
    # normalise and exclude
    "normalize.values": lambda d: norm.normalised_sql(d, KINDS, "idr_raw_ids", "raw_value", "eid, dup"),
    "normalize.status": lambda d: norm.status_sql(
        d, norm.normalised_sql(d, KINDS, "idr_raw_ids", "raw_value", "eid, dup"),
        norm.patterns_sql(d, EXCLUSIONS, {"EMAIL": 0, "LOYALTY": 1}, "k.type_idx", "v.value_norm")[0]),
    "normalize.ids": lambda d: norm.ids_sql(),
    "normalize.status_counts": lambda d: norm.status_counts_sql(),
    "canonical.trim": lambda d: _over_v(canonical.trim_sql("v", d)),
    "canonical.email_gmail": lambda d: _over_v(canonical.clean_sql("EMAIL_GMAIL", "v", d=d)),
    "canonical.digits": lambda d: _over_v(canonical.clean_sql("DIGITS", "v", d=d)),
    "canonical.email_valid": lambda d: _over_v(canonical.valid_sql("EMAIL", "v", d=d)),
    # INCR scope
    "scope.delta_old": lambda d: scope.delta_old_sql(MEMBERSHIP),
    "scope.removed_entities": lambda d: scope.removed_entities_sql(d),
    "scope.numbered_entities": lambda d: scope.numbered_entities_sql(d, 1000),
    "scope.new_ids": lambda d: scope.new_ids_sql(0),
    "scope.published_pairs": lambda d: scope.published_pairs_sql(d, PAIRS),
    "scope.old_ids": lambda d: scope.old_ids_sql(),
    "scope.probe_values": lambda d: scope.probe_values_sql(d, SKIPPED),
    "scope.hits": lambda d: scope.hits_sql(),
    "scope.changed_pairs": lambda d: scope.changed_pairs_sql(),
    "scope.value_change": lambda d: scope.value_change_sql(SKIPPED),
    "scope.value_holders": lambda d: scope.value_holders_sql(d, PAIRS, False),
    "scope.value_holders_reopened": lambda d: scope.value_holders_sql(d, PAIRS, True),
    "scope.group_change": lambda d: scope.group_change_sql(),
    "scope.scope_clusters": lambda d: scope.scope_clusters_sql(MEMBERSHIP),
    "scope.scope_old": lambda d: scope.scope_old_sql(MEMBERSHIP),
    "scope.carried": lambda d: scope.carried_sql(),
    "scope.scope_entities": lambda d: scope.scope_entities_sql(),
    "scope.scope_status": lambda d: scope.scope_status_sql(),
    "scope.carried_ids": lambda d: scope.carried_ids_sql(d, PAIRS),
    "scope.scope_ids": lambda d: scope.scope_ids_sql(norm.ids_sql()),
    "scope.group_sizes": lambda d: scope.group_sizes_sql(d, SKIPPED),
    # group guard and edges
    "edges.groups_full": lambda d: edges.groups_sql(False),
    "edges.groups_incr": lambda d: edges.groups_sql(True),
    "edges.skipped": lambda d: edges.skipped_sql(d),
    "edges.skipped_by_type": lambda d: edges.skipped_by_type_sql(),
    "edges.edges": lambda d: edges.edges_sql(),
    "edges.edges_by_type": lambda d: edges.edges_by_type_sql(),
    "edges.edges_replaced": lambda d: edges.edges_replaced_sql(d, SKIPPED),
    # components
    "graph.canonical_edges": lambda d: sc.canonical_edges_sql("idr_edges"),
    "graph.large_star": lambda d: sc.large_star_sql('"idr_cc__cc_edges"'),
    "graph.small_star": lambda d: sc.small_star_sql('"idr_cc__cc_large"'),
    "graph.convergence": lambda d: sc.convergence_sql('"idr_cc__cc_edges"'),
    "graph.labels": lambda d: sc.labels_sql('"idr_cc__cc_edges"', d.node_range(100)),
    # membership and stable ids
    "clusters.clusters": lambda d: clusters.clusters_sql("idr_cc"),
    "clusters.proposed_membership_full": lambda d: clusters.proposed_membership_sql("idr_cc", False),
    "clusters.proposed_membership_incr": lambda d: clusters.proposed_membership_sql("idr_cc", True),
    "clusters.cluster_stats": lambda d: clusters.cluster_stats_sql(d, "idr_proposed_clusters"),
    "clusters.first_run": lambda d: clusters.first_run_clusters_sql(),
    "clusters.overlap": lambda d: clusters.overlap_sql("idr_cc", MEMBERSHIP),
    "clusters.kept": lambda d: clusters.kept_sql(d),
    "clusters.fresh": lambda d: clusters.fresh_sql(d),
    "clusters.taken": lambda d: clusters.taken_sql(d, CLUSTERS),
    "clusters.clash": lambda d: clusters.clash_sql(),
    "clusters.next_attempt": lambda d: clusters.next_attempt_sql(d),
    "clusters.proposed_clusters": lambda d: clusters.proposed_clusters_sql(),
    "clusters.lineage_pairs": lambda d: clusters.lineage_pairs_sql(d),
    "clusters.lineage": lambda d: clusters.lineage_sql(MEMBERSHIP),
    "clusters.lineage_counts": lambda d: clusters.lineage_counts_sql(),
    "clusters.lineage_insert": lambda d: clusters.lineage_insert_sql(d),
    # golden profiles
    "golden.ranked": lambda d: gsql.ranked_sql(d, "idr_gcand", [("a0", "c0", True), ("a1", "c1", True),
                                                             ("a2", "c2", True), ("a3", "c3", True),
                                                             ("a4", "c4", False)], "CASE src WHEN 0 THEN 1 END"),
    "golden.ranked_unique_keys": lambda d: gsql.ranked_sql(d, "idr_gcand", [("a0", "c0", True), ("a4", "c4", False)],
                                                           "CASE src WHEN 0 THEN 1 END", unique_keys=True),
    "golden.ranked_ids": lambda d: gsql.ranked_sql(d, "idr_gcand_ids", [("v", "v", True)], "CASE src WHEN 0 THEN 1 END",
                                                   partition="gid, type_idx", extra=["type_idx"]),
    "golden.picks": lambda d: gsql.picks_sql(d, "idr_granked", GOLDEN_BLOCKS),
    "golden.picks_ids": lambda d: gsql.picks_sql(d, "idr_granked_ids", GOLDEN_ID_BLOCKS),
    "golden.values": lambda d: gsql.values_sql("idr_granked", f"({gsql.picks_sql(d, 'idr_granked', GOLDEN_BLOCKS)})",
                                               GOLDEN_BLOCKS),
    "golden.single_values": lambda d: gsql.single_values_sql(d, "idr_gsingle", [("a0", "c0", True), ("a1", "c1", True),
                                                                               ("a2", "c2", True), ("a3", "c3", True),
                                                                               ("a4", "c4", False)], GOLDEN_BLOCKS),
    "golden.provenance_rows": lambda d: "SELECT gid, " + d.rows_of(
        {"attribute_name": ["'city'", "'nick'"], "entity_key": ["resolved_id", d.cast("NULL", "VARCHAR")]}) +
        " FROM idr_gclusters",
    "golden.select": lambda d: gsql.golden_select_sql(
        "idr_gclusters", [("idr_gvalues_attrs", GOLDEN_BLOCKS), ("idr_gvalues_ids", GOLDEN_ID_BLOCKS)]),
    "golden.select_carry": lambda d: gsql.golden_select_sql(
        "idr_gclusters", [("idr_gvalues_attrs", GOLDEN_BLOCKS)], carry=("resolved_id",)),
    # publish
    **{f"publish.full.{t}": (lambda t: lambda d: publish.full_selects(d)[t])(t) for t in sorted(publish.full_selects(DUCKDB))},
    **{f"publish.incr.{t}": (lambda t: lambda d: publish.INCR_UPDATES[t][1])(t) for t in sorted(publish.INCR_UPDATES)},
    "publish.skipped_groups_insert": lambda d: publish.skipped_groups_insert_sql(d),
    # dry run
    "dryrun.scope_full": lambda d: diff.scope_sql(True),
    "dryrun.scope_incr": lambda d: diff.scope_sql(False),
    "dryrun.rids_full": lambda d: diff.rids_sql(d, True),
    "dryrun.rids_incr": lambda d: diff.rids_sql(d, False),
    "dryrun.changed": lambda d: diff.CHANGED_SQL,
    "dryrun.results_full": lambda d: diff.results_sql(d, True),
    "dryrun.results_incr": lambda d: diff.results_sql(d, False),
    "dryrun.merge_split": lambda d: diff.MERGE_SPLIT_SQL,
    "dryrun.counts": lambda d: diff.COUNTS_SQL,
    "dryrun.untouched": lambda d: diff.UNTOUCHED_SQL,
    "dryrun.check": lambda d: diff.CHECK_SQL,
    "dryrun.bridges": lambda d: diff.bridges_sql(d),
    # published views
    "schema.identifiers_view": lambda d: views(d)[("idr_out", "identity_identifiers_current")],
    "schema.edges_view": lambda d: views(d)[("idr_out", "identity_edges_current")],
}
