"""Run the exporters named in idr_meta.config after a run (or on `idr metrics export`).

An exporter failure is a warning, never an error: the run has already been published,
and its metrics stay in idr_out.metrics_export until delivered. Delivery is tracked per
exporter (`exported_to`); `exported_at` is set on a row once every configured exporter
has delivered it. Each export sends everything still pending for an exporter, oldest run
first, so the rows of earlier runs whose export failed go out with the next one; an
exporter stops at its first failure rather than retrying every pending run against an
endpoint that is down.

What each exporter sends: pushgateway and textfile the latest state (it supersedes
every pending row at once), datadog and webhook one request per pending run.
"""

from __future__ import annotations

from ..backends import as_backend
from dataclasses import dataclass

from ..config.models import EXPORTERS, parse_exporters
from ..errors import ExportError, IdrError
from . import store
from .retry import RetryPolicy, describe
from .store import utcnow
from .taxonomy import DRY_RUN_STATUS

RETRIED_NEXT_TIME = "the metrics stay in idr_out.metrics_export and are retried at the next export"


@dataclass(frozen=True)
class Settings:
    exporters: tuple[str, ...]
    unknown: tuple[str, ...]
    pushgateway_url: str
    textfile_path: str
    webhook_url: str
    datadog_site: str
    datadog_host: str
    env: str


def settings_from(config) -> Settings:
    """Settings from a Config (idr.config.models), defaults included."""
    known, unknown = parse_exporters(config.setting("metrics_exporters"))
    return Settings(
        exporters=known, unknown=unknown,
        pushgateway_url=config.setting("metrics_pushgateway_url").strip(),
        textfile_path=config.setting("metrics_textfile_path").strip(),
        webhook_url=config.setting("metrics_webhook_url").strip(),
        datadog_site=config.setting("metrics_datadog_site").strip() or "datadoghq.com",
        datadog_host=config.setting("metrics_datadog_host").strip(),
        env=config.setting("metrics_env").strip(),
    )


def read_settings(db) -> Settings:
    db = as_backend(db)
    from ..config.meta import read_config

    return settings_from(read_config(db))


def export_after_run(db, run_id: str | None = None, *, policy: RetryPolicy | None = None) -> list[str]:
    """Run the configured exporters; return warnings (one per failed exporter), never raise
    for an exporter's failure. `run_id` is the run that just finished; pending rows of
    earlier runs are exported too."""
    db = as_backend(db)
    try:
        s = read_settings(db)
    except IdrError as e:
        return [f"metrics export skipped: {e}; {RETRIED_NEXT_TIME}"]
    warnings = [f"metrics export: unknown exporter {n!r} in idr_meta.config metrics_exporters (expected one of "
                f"{', '.join(EXPORTERS)}); ignored" for n in s.unknown]
    if not s.exporters:
        return warnings
    policy = policy or RetryPolicy.from_settings()
    for name in s.exporters:
        try:
            notes = _RUN[name](db, s, policy)
            warnings += notes or []
        except (ExportError, IdrError) as e:
            warnings.append(f"metrics export to {name} failed: {e}; {RETRIED_NEXT_TIME}")
        except Exception as e:  # noqa: BLE001 - a bug in one exporter must not lose the others
            warnings.append(f"metrics export to {name} failed: {describe(e)}; {RETRIED_NEXT_TIME}")
    try:
        store.mark_exported(db, list(s.exporters), utcnow())
    except Exception as e:  # noqa: BLE001 - the deliveries are recorded in exported_to already
        warnings.append(f"metrics export: could not set exported_at: {describe(e)}")
    return warnings


def _prometheus_state(db, const_labels=None) -> list:
    from .prometheus import families

    return families(store.latest_state(db), const_labels)


def _pushgateway(db, s: Settings, policy: RetryPolicy) -> None:
    from .prometheus import push_gateway

    pending = [i for run in store.pending_runs(db, "pushgateway") for i in run.metric_ids]
    if not pending:
        return
    if not s.pushgateway_url:
        raise ExportError("metrics_pushgateway_url is empty")
    push_gateway(s.pushgateway_url, _prometheus_state(db), grouping_key={"env": s.env} if s.env else None,
                 policy=policy)
    store.mark_delivered(db, "pushgateway", pending)


def _textfile(db, s: Settings, policy: RetryPolicy) -> None:
    from .prometheus import write_textfile

    pending = [i for run in store.pending_runs(db, "textfile") for i in run.metric_ids]
    if not pending:
        return
    if not s.textfile_path:
        raise ExportError("metrics_textfile_path is empty")
    write_textfile(s.textfile_path, _prometheus_state(db, {"env": s.env} if s.env else None))
    store.mark_delivered(db, "textfile", pending)


def _datadog(db, s: Settings, policy: RetryPolicy) -> list[str]:
    from .datadog import MAX_AGE_SECONDS, submit

    too_old = 0
    for run in store.pending_runs(db, "datadog"):
        # Dry runs are not production runs: monitoring (Prometheus, DataDog) leaves them out.
        if run.status != DRY_RUN_STATUS:
            if (utcnow() - run.recorded_at).total_seconds() > MAX_AGE_SECONDS:
                too_old += 1
            else:
                submit(run.samples, run.recorded_at, site=s.datadog_site, host=s.datadog_host, env=s.env,
                       policy=policy)
        store.mark_delivered(db, "datadog", run.metric_ids)
    if too_old:
        return [f"metrics export to datadog: {too_old} run(s) older than DataDog accepts "
                f"({MAX_AGE_SECONDS // 60} min) were not sent; they remain in idr_out.metrics_export"]
    return []


def _webhook(db, s: Settings, policy: RetryPolicy) -> None:
    from . import webhook

    runs = store.pending_runs(db, "webhook")
    if not runs:
        return
    if not s.webhook_url:
        raise ExportError("metrics_webhook_url is empty")
    key = webhook.load_secret()
    for run in runs:
        body = webhook.payload(run.run_id, run.status, run.recorded_at, run.samples, s.env)
        webhook.post(s.webhook_url, body, webhook.message_id(run.run_id), key, policy)
        store.mark_delivered(db, "webhook", run.metric_ids)


_RUN = {"pushgateway": _pushgateway, "textfile": _textfile, "datadog": _datadog, "webhook": _webhook}


def append_run_warnings(db, run_id: str, warnings: list[str]) -> None:
    """Add warnings to a finished run's run_history row. The status is left as it is: the
    run's results were published; only the delivery of its metrics failed."""
    db = as_backend(db)
    if not warnings:
        return
    text = "; ".join(warnings)
    db.run(
        "UPDATE idr_out.run_history SET warnings = "
        "CASE WHEN coalesce(warnings, '') = '' THEN ? ELSE warnings || '; ' || ? END WHERE run_id = ?",
        [text, text, run_id],
    )


__all__ = ["export_after_run", "append_run_warnings", "EXPORTERS"]
