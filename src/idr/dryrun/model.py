"""The dry-run summary as Python sees it, and how it is read back from idr_out.dry_run_summary.

One dataclass serves the runner (which prints it right after the diff), `idr dry-run show`
(which reads it back) and the HTML report, so the three always show the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime

from ..backends import as_backend
from ..errors import InputError

CHANGE_TYPES = ("NEW", "MOVED", "UNCHANGED", "REMOVED")


@dataclass(frozen=True)
class DryRunSummary:
    """Every column of idr_out.dry_run_summary (definitions: docs/dry-run.md)."""

    run_id: str
    mode: str
    total_entities: int          # entities in the proposed state: new + moved + unchanged
    new_entities: int
    moved_entities: int
    removed_entities: int
    unchanged_entities: int      # all of them, listed in dry_run_results or not
    affected_entities: int       # rows in dry_run_results for this run
    merged_clusters: int         # current clusters that combine with another current cluster
    merged_into_clusters: int    # proposed clusters that hold entities of 2+ current clusters
    split_clusters: int          # current clusters whose remaining entities end up in 2+ clusters
    largest_proposed_cluster: int
    current_entities: int
    current_clusters: int
    proposed_clusters: int
    edges_would_create: int
    groups_would_skip: int
    values_would_exclude: int
    execution_seconds: float
    created_at: datetime
    warnings: list[str] = field(default_factory=list)  # what the run would have warned about (run_history.warnings)
    compared_to_run_id: str | None = None  # the published run it was compared with (None: nothing published)

    @property
    def execution_time_seconds(self) -> int:
        """The seed's INT column: whole seconds, rounded."""
        return int(round(self.execution_seconds))

    @property
    def listed_unchanged(self) -> int:
        """UNCHANGED entities that have a row (their cluster gains or loses members)."""
        return self.affected_entities - self.new_entities - self.moved_entities - self.removed_entities


FIELDS = tuple(f.name for f in fields(DryRunSummary))


def load_summary(db, run_id: str) -> DryRunSummary:
    """Read one run's summary back; an unknown run id is the user's input error (exit 2)."""
    db = as_backend(db)
    cols = ", ".join(FIELDS)
    rows = db.rows(f"SELECT {cols} FROM idr_out.dry_run_summary WHERE run_id = ?", [run_id])
    if not rows:
        raise InputError(f"no dry run with run id {run_id!r} in idr_out.dry_run_summary "
                         "(list them: SELECT run_id, created_at FROM idr_out.dry_run_summary; "
                         "rows older than dry_run_retention_days are removed at every run)")
    values = dict(zip(FIELDS, rows[0]))
    for name in FIELDS:
        if values[name] is None and name not in ("created_at", "mode", "run_id", "warnings", "compared_to_run_id"):
            values[name] = 0.0 if name == "execution_seconds" else 0
    values["mode"] = values["mode"] or "-"
    if values["warnings"] is None:  # recorded by an idr without the column: the run's row has them
        found = db.rows("SELECT warnings FROM idr_out.run_history WHERE run_id = ?", [run_id])
        values["warnings"] = [found[0][0]] if found and found[0][0] else []
    values["warnings"] = list(values["warnings"])
    return DryRunSummary(**values)
