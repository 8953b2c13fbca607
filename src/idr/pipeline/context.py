"""What one run carries through its stages: the backend, the plan, timings and counts."""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..backends.base import Backend
from ..config.validate import Plan
from ..logs import log_context
from .cost import Meter, StageCost

log = logging.getLogger("idr.run")


def utcnow() -> datetime:
    # Naive UTC: DuckDB TIMESTAMP columns carry no zone; every timestamp idr writes is UTC.
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass
class StageRecord:
    name: str
    started_at: datetime
    ended_at: datetime | None = None
    seconds: float = 0.0
    rows_in: int | None = None
    rows_out: int | None = None
    cost: StageCost | None = None  # CPU, peak memory, bytes read and written (pipeline/cost.py)


@dataclass
class RunContext:
    db: Backend
    run_id: str
    mode: str
    plan: Plan
    started_at: datetime
    max_iters: int
    strategy: str
    stages: list[StageRecord] = field(default_factory=list)
    counts: dict[str, object] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    current_stage: str | None = None
    on_stage: object = None  # optional callable(StageRecord), for progress output
    cc_table: str | None = None  # (node, component) relation made by the components stage
    baseline: object = None  # runs.state.Baseline: the published state this run starts from
    watermarks: dict = field(default_factory=dict)  # table_id -> newest watermark read
    dry_run: bool = False
    golden_unique_rows: bool = False  # extract: idr_golden_rows holds at most one row per entity

    @contextmanager
    def stage(self, name: str):
        rec = StageRecord(name, utcnow())
        self.current_stage = name
        t0 = time.perf_counter()
        meter = Meter().start()
        with log_context(stage=name):
            try:
                yield rec
            finally:
                rec.cost = meter.stop()
            rec.seconds = time.perf_counter() - t0
            log.info("stage finished in %.2f s (rows in %s, out %s)", rec.seconds, rec.rows_in, rec.rows_out)
        rec.ended_at = utcnow()
        self.stages.append(rec)
        self.current_stage = None
        if self.on_stage is not None:
            self.on_stage(rec)

    @property
    def d(self):
        """The dialect the run's SQL is rendered in."""
        return self.db.dialect

    def count(self, sql: str, params=None) -> int:
        return self.db.count(sql, params)
