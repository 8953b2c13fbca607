"""One run, start to finish: lock, validate, stages, atomic publish, audit.

Order matters: the configuration is validated before anything is written, so bad input
leaves no trace; the RUNNING row is committed before the pipeline starts, so a killed
process is visible afterwards; outputs and the final run_history row commit together.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from contextlib import contextmanager

from dataclasses import dataclass, field

from pathlib import Path

from ..backends import open_backend
from ..backends.base import Backend
from ..config.models import SETTINGS
from ..config.meta import read_config
from ..config.validate import build_plan
from ..errors import ConfigError, IdrError, InputError, Interrupted, LockedError, RunError
from ..pipeline import clusters, edges, extract, golden, normalize, scope
from ..logs import RUN_ID
from ..pipeline.context import RunContext, StageRecord, utcnow
from ..publish import layout, snapshot, spark_catalog
from ..retry import RETRIES, RetryPolicy, call_with_retries, wait_for
from ..schema import MEMBERSHIP, require_initialised
from . import gate, golden_publish, publish, watermark_check
from . import rollback as rb
from .history import Status, finish, insert_running, mark_interrupted
from .state import choose_mode, config_fingerprint, config_snapshot, read_baseline

MODES = ("FULL", "INCR")
log = logging.getLogger("idr.run")

# The engine's lock (DuckDB: the file lock) stops other processes; within one process a
# second connection to the same file would succeed, so runs in progress are also tracked here.
_active_runs: set[str] = set()
_active_lock = threading.Lock()


_stop_requested: list[int] = []


def request_stop(signum: int, frame=None) -> None:
    """Signal handler: stop the run in progress. DuckDB may turn the exception raised here
    into its own "Query interrupted" error, so the request is also remembered."""
    _stop_requested.append(signum)
    raise Interrupted(f"received signal {signum}", signum=signum)


@dataclass
class RunResult:
    run_id: str
    mode: str
    status: str
    duration_seconds: float
    counts: dict
    stages: list[StageRecord]
    warnings: list[str]  # all of the run's warnings, as in run_history.warnings (exporter failures too)
    interrupted_runs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dry_run: object = None  # dryrun.DryRunSummary of a dry run


def new_run_id(now, dry_run: bool = False) -> str:
    return f"{'dry_run' if dry_run else 'run'}_{now:%Y%m%d_%H%M%S}_{secrets.token_hex(3)}"


def _preload_heavy_modules() -> None:
    """Import what later stages need while DuckDB works: DuckDB releases the GIL during a
    query, so this overlaps start-up with the extract stage. (numpy, pyarrow and scipy are
    left to the components stage: small graphs need none of them, graph/components.py.)"""

    def load():
        import phonenumbers  # noqa: F401

    threading.Thread(target=load, name="idr-preload", daemon=True).start()


def run(db: str, mode: str = "FULL", *, max_iters: int | None = None, strategy: str | None = None,
        progress=None, dry_run: bool = False, auto_full: bool = True, wait: float | None = None,
        engine: str | None = None) -> RunResult:
    """Run identity resolution on the DuckDB database at `db` and publish the results.

    mode: FULL recomputes everything; INCR only what changed since the last published run
    (it runs as FULL when that would not be exact, unless auto_full is False: InputError).
    dry_run: compute everything, publish nothing, record the would-be changes.
    progress: optional callable, called with each StageRecord as its stage finishes.
    wait: seconds to wait for a run in progress on the database (None: a few retries with
    backoff, then LockedError).
    engine: "duckdb" or "spark" (default: the IDR_ENGINE setting); the state and the published
    snapshot stay with `db` either way (docs/spark.md)."""
    mode = mode.upper()
    if mode not in MODES:
        raise InputError(f"--run-mode {mode!r}: expected one of {', '.join(MODES)}")
    if max_iters is not None and max_iters <= 0:
        raise InputError(f"--max-iters {max_iters}: must be a positive integer")
    if wait is not None and wait < 0:
        raise InputError(f"--wait {wait:g}: must be zero or more seconds")
    retries_before = sum(RETRIES.values())
    token = RUN_ID.set("-")  # _run sets the run id its log lines carry
    try:
        with _exclusive(db, wait, engine) as backend:
            return _run(backend, db, mode, max_iters, strategy, progress, dry_run, auto_full, retries_before)
    finally:
        RUN_ID.reset(token)


def _claim(db: str, key: str, engine: str | None = "duckdb") -> Backend:
    """Open the database for this run alone, or LockedError."""
    with _active_lock:
        if key in _active_runs:
            raise LockedError(f"--db {db}: a run is already in progress on this database in this process")
        _active_runs.add(key)
    try:
        return open_backend(db, engine, create=False)
    except BaseException:
        with _active_lock:
            _active_runs.discard(key)
        raise


@contextmanager
def _exclusive(db: str, wait: float | None = None, engine: str | None = "duckdb"):
    """The database's backend, opened for writing by this run alone. A busy database
    (another run, here or in another process) is a transient error: retried with backoff,
    or, with `wait`, waited for up to that many seconds."""
    key = os.path.realpath(db)
    busy = lambda e: isinstance(e, LockedError)  # noqa: E731
    if wait:
        backend = wait_for(lambda: _claim(db, key, engine), wait, f"the run in progress on {db}", busy, kind="lock")
    else:
        backend = call_with_retries(lambda: _claim(db, key, engine), RetryPolicy.from_settings(), f"opening {db}", busy,
                                    kind="lock")
    try:
        yield backend
    finally:
        try:
            backend.close()
        finally:
            with _active_lock:
                _active_runs.discard(key)


def _retention_runs(backend: Backend) -> int:
    raw = backend.scalar("SELECT config_value FROM idr_meta.config WHERE config_key = 'rollback_retention_runs'")
    raw = SETTINGS["rollback_retention_runs"][0] if raw is None else raw
    try:
        value = int(raw)
        if value <= 0:
            raise ValueError
    except ValueError:
        raise ConfigError([f"idr_meta.config rollback_retention_runs={raw!r}: expected a positive integer"]) from None
    return value


@dataclass
class RollbackResult:
    run_id: str
    target: str
    undone: list[str]


def rollback(db: str, target: str, engine: str | None = None) -> RollbackResult:
    """Return the published outputs and watermarks to exactly what they were after run
    `target` (one of the last rollback_retention_runs published runs). Recorded in
    run_history as a ROLLBACK run; the undone runs get rolled_back_by set. With engine
    spark and IDR_SPARK_CATALOG=hive, Spark's catalog is switched to the restored snapshot."""
    from ..settings import get_settings

    settings = get_settings()
    register = (engine or settings.engine) == "spark" and settings.spark_catalog == "hive"
    if register:  # before anything is written: a Spark that cannot start stops the rollback (exit 2)
        from ..backends.spark import spark_problem

        problem = spark_problem(settings, db)
        if problem:
            raise InputError(problem)
    with _exclusive(db) as backend:
        require_initialised(backend, db)
        mark_interrupted(backend)
        snapshot.reconcile(backend)
        # Only the one setting: a rollback is most wanted when the configuration is broken.
        retention = _retention_runs(backend)
        undo = rb.check_target(backend, target, retention, db)
        started = utcnow()
        run_id = f"rollback_{started:%Y%m%d_%H%M%S}_{secrets.token_hex(3)}"
        with backend.transaction():
            rb.undo_runs(backend, undo)
            if undo:
                backend.run("UPDATE idr_out.run_history SET rolled_back_by = ? WHERE run_id IN "
                            f"({', '.join('?' for _ in undo)})", [run_id, *undo])
            ended = utcnow()
            backend.run(
                "INSERT INTO idr_out.run_history (run_id, run_mode, status, started_at, ended_at, duration_seconds, "
                "rollback_to, warnings, pid) VALUES (?, 'ROLLBACK', 'SUCCESS', ?, ?, ?, ?, ?, ?)",
                [run_id, started, ended, (ended - started).total_seconds(), target,
                 f"undid {len(undo)} run(s): {', '.join(undo)}" if undo else "nothing to undo", os.getpid()])
            pending = snapshot.finish(backend, snapshot.write_rollback(backend, run_id, target))
        snapshot.after_commit(backend, pending, retention)
        if register:
            try:
                spark_catalog.register_database(db, state=backend)
            except Exception as e:  # noqa: BLE001 - the rollback has committed; the catalog lags behind
                log.warning("rollback done, but Spark's catalog still names the previous snapshot (%s); "
                            "`idr results register --engine spark` retries", _describe(e))
        return RollbackResult(run_id, target, undo)


def _run(backend: Backend, db, requested, max_iters, strategy, progress, dry_run, auto_full,
         retries_before: int = 0) -> RunResult:
    require_initialised(backend, db)
    interrupted = mark_interrupted(backend)
    if not dry_run:  # a dry run touches nothing, its folder included
        lost = snapshot.reconcile(backend).lost
    else:
        lost = snapshot.unreadable(backend)
        if lost:
            raise InputError(f"--dry-run: the published results cannot be read, so there is nothing to compare "
                             f"with: {lost}")
    _attach_snapshot(backend, db)
    plan = build_plan(backend, read_config(backend))
    configured = "components_strategy" in plan.config.config
    strategy = (strategy or (plan.settings["components_strategy"] if configured else backend.components_strategy)).lower()
    if strategy not in ("inprocess", "sql"):
        raise InputError(f"--strategy {strategy!r}: expected inprocess or sql")
    baseline = read_baseline(backend)
    mode, reason = choose_mode(requested, plan, baseline, auto_full, backend.name, db)
    if mode == "INCR" and lost:
        if not auto_full:
            raise InputError(f"--run-mode INCR --no-auto-full: an incremental run needs the published results, "
                             f"which cannot be read: {lost}. Run `idr run --run-mode FULL`")
        mode, reason = "FULL", "INCR requested; ran FULL because the published snapshot cannot be read (rebuilt)"
    bypass = watermark_check.check(backend, plan, baseline, mode)
    if mode == "INCR" and bypass.force_full:
        if not auto_full:
            raise InputError(f"--run-mode INCR --no-auto-full: an incremental run would not be exact: "
                             f"{bypass.force_full}. Run `idr run --run-mode FULL`")
        mode, reason = "FULL", f"INCR requested; ran FULL because {bypass.force_full} (watermark_check=full)"
    from ..dryrun.diff import record_dry_run
    from ..dryrun.retention import cleanup_expired

    cleanup_expired(backend.state(), plan.settings["dry_run_retention_days"])
    notes = [reason] if reason else []
    _stop_requested.clear()
    backend.tune_for_run(mode, plan.settings["memory_limit"])
    _preload_heavy_modules()
    started = utcnow()
    ctx = RunContext(db=backend, run_id=new_run_id(started, dry_run), mode=mode, plan=plan, started_at=started,
                     max_iters=max_iters or plan.settings["max_iters"], strategy=strategy, on_stage=progress,
                     baseline=baseline, dry_run=dry_run)
    ctx.warnings += bypass.warnings
    if mode == "INCR":  # where the scope stage numbers new entities from (runs/publish.py records it)
        published = snapshot.published_manifest(backend.state()) or {}
        ctx.counts["published_max_entity_id"] = published.get("tables", {}).get(MEMBERSHIP, {}).get("max_entity_id")
    insert_running(backend, ctx, requested, reason, config_fingerprint(plan, backend.name), config_snapshot(plan))
    RUN_ID.set(ctx.run_id)
    log.info("run started: mode %s (requested %s)%s", mode, requested, " dry run" if dry_run else "")
    status = Status.SUCCESS
    duration: dict[str, float] = {}
    try:
        kinds = extract.plan_kinds(ctx)
        extract.register_kinds(backend, kinds)
        extract.extract(ctx, kinds)
        normalize.normalize(ctx, kinds)
        if mode == "INCR":
            scope.build_scope(ctx)
        edges.group_guard(ctx)
        edges.build_edges(ctx)
        clusters.components(ctx)
        clusters.membership(ctx)
        golden.golden(ctx)
        # The rest (gate, dry-run diff, publishing) runs where the state lives.
        ctx.db = backend.hand_over()
        ctx.counts["retries"] = sum(RETRIES.values()) - retries_before
        verdict = _judge(ctx, notes)
        if dry_run:
            status = Status.DRY_RUN_COMPLETE
            with ctx.db.transaction():
                summary = record_dry_run(ctx.db, ctx.run_id, mode, scope_is_full=mode == "FULL", counts=ctx.counts,
                                         execution_seconds=(utcnow() - ctx.started_at).total_seconds(),
                                         warnings=ctx.warnings, compared_to=baseline.run_id)
                if ctx.plan.golden is not None:  # cluster x attribute values that would change
                    changed = ctx.counts["golden_values_changed"] = golden.changed_values(ctx)
                    ctx.db.run("UPDATE idr_out.dry_run_summary SET golden_values_changed = ? WHERE run_id = ?",
                                [changed, ctx.run_id])
                    notes.append(f"golden profiles: {changed:,} value(s) would change "
                                 "(idr_out.dry_run_summary.golden_values_changed)")
                duration["s"] = finish(ctx.db, ctx, status)
                gate.record(ctx.db, ctx.run_id, verdict)
            duration["committed"] = True
        elif verdict.hold:
            status = Status.HELD
            with ctx.db.transaction():
                gate.hold(ctx, verdict, publish.READS[mode] + golden_publish.reads(ctx))
                duration["s"] = finish(ctx.db, ctx, status)
            duration["committed"] = True
        else:
            status = Status.SUCCESS_WITH_WARNINGS if ctx.warnings else Status.SUCCESS

            def finalize(b):
                duration["s"] = finish(b, ctx, status)
                gate.record(b, ctx.run_id, verdict)
                watermark_check.store(b, bypass, mode)

            with ctx.db.transaction():  # the runner owns the publishing transaction
                pending = publish.publish(ctx, finalize)
            duration["committed"] = True  # only now: the COMMIT itself can fail
            # Readers switch to the new snapshot (publish/snapshot.py: crash points).
            snapshot.after_commit(backend, pending, plan.settings["rollback_retention_runs"])
            try:
                _attach_snapshot(backend, db, published=True)
            except Exception as e:  # noqa: BLE001 - published already; the next run attaches it
                log.warning("the engine could not attach the new snapshot: %s", type(e).__name__)
    except BaseException as e:
        if "committed" in duration:
            # The publish transaction committed: the run succeeded, whatever came after.
            raise
        ctx.counts["retries"] = sum(RETRIES.values()) - retries_before
        log.error("run %s in stage %s: %s", "interrupted" if _is_interrupt(backend, e) else "failed",
                  ctx.current_stage or "setup", type(e).__name__)  # never the message: it may quote a value
        _record_failure(backend, ctx, e)
        if not _is_interrupt(backend, e):  # a failure must reach the alerts; Ctrl-C must not wait for retries
            _export_metrics(backend.state(), ctx.run_id)
        if _is_interrupt(backend, e) and not isinstance(e, Interrupted):
            signum = _stop_requested[-1] if _stop_requested else None
            raise Interrupted(str(e) or "interrupted", signum=signum) from e
        if isinstance(e, (IdrError, Interrupted)):
            raise
        translated = backend.translate_error(e)
        if isinstance(translated, IdrError):
            raise translated from e
        raise RunError(f"run {ctx.run_id} failed in stage {ctx.current_stage or 'setup'}: {_describe(translated)}") \
            from e
    # An exporter's failure is a warning of the run but leaves its status as it is: the
    # results are published and the status was recorded and exported already (docs/metrics.md).
    warnings = ctx.warnings + _export_metrics(backend.state(), ctx.run_id)
    for w in warnings:  # the CLI prints them on standard error; the log keeps them at INFO
        log.info("run warning: %s", w)
    log.info("run finished: %s in %.2f s (retries: %d)", status.value, duration["s"], ctx.counts["retries"])
    return RunResult(ctx.run_id, mode, status.value, duration["s"], dict(ctx.counts), ctx.stages,
                     warnings, interrupted, notes, summary if dry_run else None)


def _attach_snapshot(backend: Backend, db: str, published: bool = False) -> None:
    """Name the published snapshot inside an engine that does not hold the state itself
    (Spark reads it as idr_out.<table>): in its shared catalog when it has one, for every
    process (publish/spark_catalog.py), with a copy of idr_meta once the run `published`;
    a damaged or missing snapshot attaches nothing."""
    try:
        manifest = layout.current_snapshot(Path(db))
    except InputError:
        return
    if manifest is None:
        return
    session = backend.shared_catalog()
    if session is not None:  # other processes read it: register it there (its views serve the stages too)
        spark_catalog.register(session, db, manifest, backend.state() if published else None)
        if not published:
            spark_catalog.verify(session, manifest)
    else:
        backend.attach_snapshot(manifest, layout.derived_views(manifest, backend.dialect))


def _judge(ctx: RunContext, notes: list[str]):
    """The anomaly gate's verdict (runs/gate.py). Its reasons become the run's warnings;
    a dry run only reports what the gate would do."""
    verdict = gate.judge(ctx)
    ctx.counts["gate_figures_flagged"] = len(verdict.flags)
    if ctx.dry_run:
        notes += [f"the anomaly gate would {verdict.decision}: {r}" for r in verdict.reasons()]
    else:
        ctx.warnings += verdict.reasons()
    return verdict


def check_config(db: str, path: str | None = None, engine: str | None = None):
    """Validate a configuration as `idr run` does, without running or writing anything.

    path: a YAML file, checked against the database's sources as `idr config load` would;
    None: the configuration in idr_meta. engine: the one that reads the sources (default:
    the IDR_ENGINE setting). The database is opened read-only. Returns the checked Config;
    raises ConfigError listing every problem (or InputError)."""
    from ..config.yaml_io import load_yaml

    cfg = load_yaml(path) if path is not None else None
    backend = open_backend(db, engine, create=False, read_only=True)
    try:
        require_initialised(backend.state(), db)
        cfg = cfg if cfg is not None else read_config(backend.state())
        plan = build_plan(backend, cfg)
        backend.tune_for_run("FULL", plan.settings["memory_limit"])  # the engine judges the memory limit
        return cfg
    finally:
        backend.close()


def _export_metrics(backend: Backend, run_id: str) -> list[str]:
    """Run the exporters named in metrics_exporters. Their failures become warnings on the
    run (never a failed run); unexported rows are retried by the next export."""
    try:
        from ..metrics.export import append_run_warnings, export_after_run

        warnings = export_after_run(backend, run_id)
        append_run_warnings(backend, run_id, warnings)
        return warnings
    except Exception as e:  # noqa: BLE001 - the run's outcome stands whatever the exporters do
        return [f"metrics export failed: {type(e).__name__}"]


def _describe(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


def _is_interrupt(backend: Backend, e: BaseException) -> bool:
    return bool(_stop_requested) or isinstance(e, (Interrupted, KeyboardInterrupt)) or backend.is_interrupt(e)


def _record_failure(backend: Backend, ctx: RunContext, e: BaseException) -> None:
    stage = ctx.current_stage or "setup"
    status = Status.INTERRUPTED if _is_interrupt(backend, e) else Status.FAILED
    try:
        described = _describe(backend.translate_error(e))  # the engine's own words (Spark: the JVM's, not Py4J's)
    except Exception:  # noqa: BLE001
        described = _describe(e)
    try:
        finish(backend, ctx, status, error=described, error_stage=stage)
    except Exception:  # the failure itself matters more than its audit row; never mask it
        pass


__all__ = ["run", "check_config", "RunResult", "Interrupted", "ConfigError"]
