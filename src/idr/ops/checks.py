"""The checks of `idr doctor`, in the order it prints them. Each returns one Check.

Sources: the pre-production checklist of the user manual (sources registered and active,
mappings complete, max_group_size configured, known bad identifiers excluded, a dry run
completed, large-cluster threshold set, monitoring configured, backups, access controls,
scheduling) and the security checklist (credentials in environment variables, not stored).
"""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from ..backends import as_backend
from ..config.meta import read_config
from ..config.models import SETTINGS, Config
from ..config.validate import build_plan
from ..errors import ConfigError
from ..runs.state import PUBLISHED, config_fingerprint
from ..sql.quoting import literal
from .doctor import Check, Status

# A group this large is never one person (the manual suggests 10,000 for EMAIL, 5,000 for
# PHONE): above it max_group_size no longer guards anything.
UNGUARDED_GROUP_SIZE = 100_000

_SECRET_KEY = re.compile(r"secret|passw|token|api[_-]?key|apikey|credential|private[_-]?key|auth", re.I)
_SECRET_PARAM = re.compile(r"^(token|key|api[_-]?key|secret|sig|signature|password|pass|auth|access_token)$", re.I)
# Shapes of credentials that have no business in a configuration table.
_SECRET_VALUE = {
    "a webhook signing secret (whsec_...)": re.compile(r"whsec_[A-Za-z0-9+/=]{8,}"),
    "a DataDog API or application key (32/40 hex digits)": re.compile(r"\b[0-9a-f]{32}(?:[0-9a-f]{8})?\b"),
    "a Slack token (xox?-...)": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "an AWS access key id": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "a private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "a bearer token": re.compile(r"\bBearer\s+[A-Za-z0-9._~+/=-]{8,}"),
}


# The order `idr doctor` reports them in, whatever fails.
CHECK_IDS = ("configuration", "sources", "max_group_size", "junk_values", "dry_run", "large_cluster_threshold",
             "exporters", "backup", "permissions", "secrets", "schedule")


def run_checks(con, db: Path, now: datetime, network_timeout: float) -> list[Check]:
    try:
        cfg: Config | None = read_config(con)
    except ConfigError as e:
        cfg, problems = None, e.problems
    plan = None
    if cfg is not None:
        try:
            plan, problems = build_plan(con, cfg), []
        except ConfigError as e:
            problems = e.problems
    checks = {"configuration": _configuration(cfg, problems)}
    if cfg is not None:
        checks.update(sources=_sources(cfg), max_group_size=_max_group_size(cfg),
                      junk_values=_junk_values(con, cfg, plan), dry_run=_dry_run(con, plan),
                      large_cluster_threshold=_large_cluster_threshold(cfg),
                      exporters=_exporters(cfg, network_timeout))
    checks.update(backup=_backup(con, cfg, now), permissions=_permissions(con, db), secrets=_secrets(con))
    if cfg is not None:
        checks["schedule"] = _schedule(con, cfg, now)
    return [checks.get(i) or Check(i, i.replace("_", " "), Status.FAIL, "not checked: idr_meta cannot be read (see "
                                   "configuration)", "fix the rows the configuration check names") for i in CHECK_IDS]


def _configuration(cfg, problems: list[str]) -> Check:
    title = "configuration valid"
    if problems:
        return Check("configuration", title, Status.FAIL,
                     f"{len(problems)} problem(s): " + "; ".join(problems),
                     "correct the rows named (edit idr_meta, or `idr config export`, edit, `idr config load`)")
    return Check("configuration", title, Status.PASS, "idr_meta is valid: the next run will start")


def _sources(cfg: Config) -> Check:
    title = "active sources with identifier mappings"
    active = [s for s in cfg.sources if s.is_active and s.table_fqn]
    if not active:
        return Check("sources", title, Status.FAIL, "no active source: a run has nothing to read",
                     "register sources in idr_meta.source_table with is_active = TRUE")
    rules = set(cfg.active_rules())
    bare = [s.table_id for s in active if not s.identifiers]
    unused = sorted({f"{s.table_id}.{m.identifier_type}" for s in active for m in s.identifiers
                     if m.identifier_type not in rules})
    if bare or unused:
        parts = ([f"active source(s) without identifier mappings, whose records never link: {', '.join(bare)}"]
                 if bare else []) + ([f"mappings of identifier types without an active rule: {', '.join(unused)}"]
                                     if unused else [])
        return Check("sources", title, Status.WARN, "; ".join(parts),
                     "add rows to idr_meta.identifier_mapping (and idr_meta.rule), or set is_active = FALSE "
                     "on sources that should not be read")
    n_map = sum(len(s.identifiers) for s in active)
    return Check("sources", title, Status.PASS, f"{len(active)} active source(s), {n_map} identifier mapping(s), "
                 "every mapped type has an active rule")


def _max_group_size(cfg: Config) -> Check:
    title = "rules guarded by max_group_size"
    rules = list(cfg.active_rules().values())
    if not rules:
        return Check("max_group_size", title, Status.FAIL, "no active rule: nothing can link",
                     "add rules to idr_meta.rule")
    loose = [f"{r.rule_id} ({r.max_group_size:,})" for r in rules if r.max_group_size > UNGUARDED_GROUP_SIZE]
    if loose:
        return Check("max_group_size", title, Status.WARN,
                     f"max_group_size above {UNGUARDED_GROUP_SIZE:,} guards nothing: {', '.join(loose)}",
                     "UPDATE idr_meta.rule SET max_group_size = 10000 WHERE rule_id = '<rule>' "
                     "(the manual suggests 10,000 for EMAIL, 5,000 for PHONE, 1 for SSN)")
    sizes = ", ".join(f"{r.identifier_type} {r.max_group_size:,}" for r in rules)
    return Check("max_group_size", title, Status.PASS, f"every active rule has a max_group_size: {sizes}")


def _junk_values(con, cfg: Config, plan) -> Check:
    from .junk import JUNK, unguarded

    title = "known junk values excluded or guarded"
    try:
        placeholders = {v.strip().lower() for v in json.loads(cfg.setting("placeholder_values"))}
    except (ValueError, AttributeError):
        placeholders = set()
    region = cfg.setting("phone_default_region").strip().upper()
    try:
        found = unguarded(con, list(cfg.active_rules().values()), cfg.exclusions, placeholders, region)
    except Exception as e:  # noqa: BLE001 - e.g. an unknown phone region: reported by the configuration check
        return Check("junk_values", title, Status.WARN, f"not checked: {type(e).__name__}",
                     "fix the configuration first")
    if found:
        listed = ", ".join(f"{t} {j.value} ({j.reason})" for t, j in found)
        fix = "\n".join(f"INSERT INTO idr_meta.identifier_exclusion VALUES ({literal(t)}, {literal(j.value)}, FALSE, "
                        f"{literal(j.reason)});" for t, j in found)
        return Check("junk_values", title, Status.WARN,
                     f"{len(found)} known junk value(s) would link records: {listed}", fix)
    return Check("junk_values", title, Status.PASS,
                 f"all {len(JUNK)} known junk values are excluded, placeholders or rejected by the canonicalisers")


def _dry_run(con, plan) -> Check:
    title = "dry run since the last configuration change"
    fix = "idr run --dry-run --run-mode FULL, review it (`idr dry-run show RUN_ID`), then run for real"
    if plan is None:
        return Check("dry_run", title, Status.WARN, "not checked: the configuration is invalid", fix)
    current = config_fingerprint(plan, as_backend(con).name)
    dry = con.execute("SELECT run_id FROM idr_out.run_history WHERE status = 'DRY_RUN_COMPLETE' "
                      "AND config_fingerprint = ? ORDER BY started_at DESC LIMIT 1", [current]).fetchall()
    if dry:
        return Check("dry_run", title, Status.PASS, f"dry run {dry[0][0]} used the configuration in force now")
    published = con.execute(
        "SELECT run_id, config_fingerprint FROM idr_out.run_history WHERE status IN "
        f"{PUBLISHED} AND run_mode IN ('FULL', 'INCR') ORDER BY started_at DESC LIMIT 1").fetchall()
    if published and published[0][1] == current:
        return Check("dry_run", title, Status.WARN, f"no dry run of the configuration in force, though run "
                     f"{published[0][0]} published with it", fix)
    return Check("dry_run", title, Status.FAIL, "the configuration changed since the last published run (or "
                 "nothing was published) and no dry run has tried it: the next run publishes it untested", fix)


def _large_cluster_threshold(cfg: Config) -> Check:
    title = "large-cluster threshold set"
    if "large_cluster_threshold" not in cfg.config:
        return Check("large_cluster_threshold", title, Status.WARN,
                     f"not set: runs use the default {SETTINGS['large_cluster_threshold'][0]}, which may not fit "
                     "your data", "INSERT OR REPLACE INTO idr_meta.config (config_key, config_value) VALUES "
                     "('large_cluster_threshold', '<largest cluster you expect>'), and the same number in "
                     "deploy/prometheus/alerts.yml IDRLargeClusterCreated")
    return Check("large_cluster_threshold", title, Status.PASS,
                 f"large_cluster_threshold = {cfg.config['large_cluster_threshold']}")


def _exporters(cfg: Config, timeout: float) -> Check:
    from ..config.validate import exporter_problems
    from ..metrics.export import settings_from
    from ..metrics.retry import redact_url

    title = "metrics exporters configured and reachable"
    s = settings_from(cfg)
    problems = exporter_problems(cfg)
    if not s.exporters and not problems:
        return Check("exporters", title, Status.WARN,
                     "no exporter in metrics_exporters: alerts depend on Prometheus scraping `idr metrics serve`",
                     "set idr_meta.config metrics_exporters (pushgateway, textfile, datadog, webhook) or make sure "
                     "Prometheus scrapes `idr metrics serve` (docs/metrics.md)")
    reached = []
    for name in s.exporters:
        if name == "pushgateway" and s.pushgateway_url:
            problem = _http_ok(s.pushgateway_url.rstrip("/") + "/-/ready", timeout)
            where = redact_url(s.pushgateway_url)
        elif name == "textfile" and s.textfile_path:
            folder = Path(s.textfile_path).parent
            problem = None if folder.is_dir() and os.access(folder, os.W_OK) else f"cannot write in {folder}"
            where = s.textfile_path
        elif name == "webhook" and s.webhook_url:
            problem = _tcp_ok(s.webhook_url, timeout) or _secret_set("IDR_WEBHOOK_SECRET", "webhook_secret")
            where = redact_url(s.webhook_url)
        elif name == "datadog":
            host = s.datadog_host or f"https://api.{s.datadog_site}"
            problem = _secret_set("DD_API_KEY", "dd_api_key") or _tcp_ok(host, timeout)
            where = redact_url(host)
        else:
            continue  # its missing setting is in `problems`
        if problem:
            problems.append(f"{name} ({where}): {problem}")
        else:
            reached.append(f"{name} ({where})")
    if problems:
        return Check("exporters", title, Status.FAIL, "; ".join(problems),
                     "correct the metrics_* settings in idr_meta.config, set the secret in the environment, or "
                     "start the endpoint; until then runs cannot deliver their metrics and alerts stay silent")
    return Check("exporters", title, Status.PASS, "reached " + ", ".join(reached))


def _http_ok(url: str, timeout: float) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - the configured exporter URL
            r.read()
        return None
    except OSError as e:
        from ..metrics.retry import describe

        return f"not reachable ({describe(e)})"


def _tcp_ok(url: str, timeout: float) -> str | None:
    """A TCP connection to the URL's host and port: reachable without sending anything."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout):
            return None
    except OSError as e:
        return f"not reachable ({e.strerror or type(e).__name__})"


def _secret_set(name: str, attr: str) -> str | None:
    """The exporter's secret is in the process settings (environment or .env), as the run reads it."""
    from ..settings import get_settings

    try:
        value = getattr(get_settings(), attr)
    except ConfigError as e:
        return f"the process settings are invalid ({e})"
    return None if value is not None and value.get_secret_value().strip() else \
        f"${name} is not set (environment or .env)"


def _backup(con, cfg: Config | None, now: datetime) -> Check:
    title = "recent backup"
    fix = "idr backup --to /path/to/backups (schedule it daily; see docs/backup.md)"
    raw = cfg.setting("backup_max_age_hours") if cfg is not None else SETTINGS["backup_max_age_hours"][0]
    try:
        max_age = float(raw)
    except ValueError:
        max_age = float(SETTINGS["backup_max_age_hours"][0])
    rows = con.execute("SELECT backup_id, finished_at, path FROM idr_out.backup_history "
                       "ORDER BY finished_at DESC LIMIT 1").fetchall()
    if not rows:
        return Check("backup", title, Status.FAIL, "no backup recorded in idr_out.backup_history", fix)
    backup_id, finished, path = rows[0]
    age = now - finished
    if not Path(path).is_dir():
        return Check("backup", title, Status.WARN, f"the last backup {backup_id} is no longer at {path}", fix)
    if age > timedelta(hours=max_age):
        return Check("backup", title, Status.WARN, f"the last backup {backup_id} is {_hours(age)} old (more "
                     f"than backup_max_age_hours = {raw})", fix)
    return Check("backup", title, Status.PASS, f"backup {backup_id}, {_hours(age)} old, at {path}")


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f} h"


def _permissions(con, db: Path) -> Check:
    """Files with personal data (the database, its log, snapshots, backups) must not be open to
    everyone; nothing of idr's may be writable by everyone. The database's folder is only
    checked for writing: other files may live there."""
    from ..publish.layout import root as snapshot_root

    title = "files not writable by everyone"
    paths = [(db, "database"), (Path(f"{db}.wal"), "write-ahead log"), (snapshot_root(db), "snapshot folder"),
             (db.resolve().parent, "database folder")]
    rows = con.execute("SELECT path FROM idr_out.backup_history ORDER BY finished_at DESC LIMIT 1").fetchall()
    if rows:
        paths.append((Path(rows[0][0]), "last backup"))
    fails, warns = [], []
    for path, what in paths:
        try:
            mode = path.stat().st_mode
        except OSError:
            continue  # no WAL, no snapshots yet, or a backup moved away (the backup check says so)
        folder = stat.S_ISDIR(mode)
        if mode & stat.S_IWOTH and not (folder and mode & stat.S_ISVTX):
            fails.append(f"{what} {path} is writable by everyone ({stat.filemode(mode)})")
        elif what != "database folder" and mode & (stat.S_IROTH | (stat.S_IXOTH if folder else 0)):
            warns.append(f"{what} {path} is readable by everyone ({stat.filemode(mode)}): it holds personal data")
    fix = f"chmod 600 {db} (640 to share with a reader group); chmod o-rwx on the folders named; run idr with umask 077"
    if fails:
        return Check("permissions", title, Status.FAIL, "; ".join(fails + warns), fix)
    if warns:
        return Check("permissions", title, Status.WARN, "; ".join(warns), fix)
    return Check("permissions", title, Status.PASS, "the database, its snapshots, its folder and the last backup "
                 "are not open to everyone")


def _secrets(con) -> Check:
    """Credentials come from the environment (or a .env file only its owner can read); none
    may be stored in idr_meta, where every `idr config export`, backup and reader of the
    database sees them. Values are never echoed."""
    title = "secrets only from the environment"
    found = []
    for key, value in con.execute("SELECT config_key, config_value FROM idr_meta.config").fetchall():
        why = _looks_secret(key, value or "")
        if why:
            found.append(f"idr_meta.config {key!r} holds {why}")
    for table_id, fqn in con.execute("SELECT table_id, table_fqn FROM idr_meta.source_table").fetchall():
        if _url_password(fqn or ""):
            found.append(f"idr_meta.source_table {table_id!r} table_fqn holds a password in a URL")
    env_file = Path(".env")
    if env_file.is_file() and env_file.stat().st_mode & (stat.S_IROTH | stat.S_IWOTH):
        found.append(f"{env_file.resolve()} (read for IDR_* settings and secrets) is open to everyone "
                     f"({stat.filemode(env_file.stat().st_mode)}): chmod 600 it")
    if found:
        return Check("secrets", title, Status.FAIL, "; ".join(found),
                     "delete the value from idr_meta (and from old backups and exports) and rotate it; idr reads "
                     "secrets from the environment only: $IDR_WEBHOOK_SECRET, $DD_API_KEY")
    return Check("secrets", title, Status.PASS, "no credential stored in idr_meta.config or source paths")


def _looks_secret(key: str, value: str) -> str | None:
    if _SECRET_KEY.search(key) and value.strip():
        return "a value under a credential's name"
    if _url_password(value):
        return "a password in a URL"
    try:
        params = parse_qsl(urlsplit(value).query) if "://" in value else []
    except ValueError:
        params = []
    if any(_SECRET_PARAM.match(k) for k, _ in params):
        return "a credential in a URL's query string"
    return next((what for what, pattern in _SECRET_VALUE.items() if pattern.search(value)), None)


def _url_password(value: str) -> bool:
    try:
        return "://" in value and bool(urlsplit(value.strip()).password)
    except ValueError:
        return False


def _schedule(con, cfg: Config, now: datetime) -> Check:
    title = "last scheduled run within its window"
    raw = cfg.setting("schedule_window_hours").strip()
    if not raw:
        return Check("schedule", title, Status.WARN, "no schedule declared (schedule_window_hours is empty)",
                     "schedule `idr run` (docs/scheduling.md), then INSERT OR REPLACE INTO idr_meta.config "
                     "(config_key, config_value) VALUES ('schedule_window_hours', '<hours between runs plus slack>')")
    try:
        window = float(raw)
    except ValueError:
        return Check("schedule", title, Status.FAIL, f"schedule_window_hours={raw!r} is not a number",
                     "set it to a number of hours")
    rows = con.execute("SELECT run_id, ended_at FROM idr_out.run_history WHERE status IN "
                       f"{PUBLISHED} AND run_mode IN ('FULL', 'INCR') ORDER BY ended_at DESC LIMIT 1").fetchall()
    fix = "check the scheduler and `idr runs` for failed or held runs; see docs/runbook.md#idrnorecentsuccess"
    if not rows:
        return Check("schedule", title, Status.FAIL, "no run has published results yet", fix)
    run_id, ended = rows[0]
    age = now - ended
    if age > timedelta(hours=window):
        return Check("schedule", title, Status.FAIL, f"the last published run {run_id} ended {_hours(age)} ago, "
                     f"more than schedule_window_hours = {raw}", fix)
    return Check("schedule", title, Status.PASS, f"run {run_id} published {_hours(age)} ago (window {raw} h)")
