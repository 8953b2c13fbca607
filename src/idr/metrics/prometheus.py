"""Prometheus: the latest state of metrics_export as metric families, and three ways out.

Conventions (https://prometheus.io/docs/practices/naming/): every name starts with `idr_`,
durations are seconds and times are Unix seconds, only true counters end in `_total`, and
labels carry only small fixed sets of values (status, stage, rule, direction, env): never
a run id or an identifier value, each of which would create a new series per run.

Each per-run value is exported as a gauge holding the value of the last run (a count that
starts again at every run is not a Prometheus counter). Per-rule rows go to their own
family, `idr_rule_<name>{rule=...}`, so that sum() over a family never adds a total to its
own parts. `idr_singleton_count` is exported as `idr_singleton_clusters`: a `_count`
suffix is reserved for summaries and histograms.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

from ..errors import InputError
from ..errors import ExportError
from .retry import RetryPolicy, call_with_retries, redact_url
from .store import LatestState
from .taxonomy import LABEL_KEYS, METRICS, RUN_STATUS, RUN_STATUSES, per_rule_name

RENAMED = {"idr_singleton_count": "idr_singleton_clusters"}
DEFAULT_JOB = "idr"


def prom_name(name: str, dimensions: dict) -> str:
    name = RENAMED.get(name, name)
    return per_rule_name(name) if "rule" in dimensions else name


def _epoch(at: datetime) -> float:
    return at.replace(tzinfo=timezone.utc).timestamp()


def families(state: LatestState, const_labels: dict[str, str] | None = None) -> list:
    """prometheus_client metric families for `state`; `const_labels` (e.g. env) go on every series."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    const = dict(sorted((const_labels or {}).items()))
    grouped: dict[str, dict[tuple, float]] = {}
    keys: dict[str, tuple[str, ...]] = {}
    helps: dict[str, str] = {}
    for s in state.samples:
        if s.name not in METRICS or s.name == RUN_STATUS:
            continue  # names from later versions or hand-written rows; the status is below
        labels = {k: str(v) for k, v in s.dimensions.items() if k in LABEL_KEYS}
        name = prom_name(s.name, labels)
        keys.setdefault(name, tuple(sorted(labels)))
        m = METRICS[s.name]
        when = "last published run" if m.scope == "cluster" else "last run"
        helps[name] = f"{m.help}{' per rule' if 'rule' in labels else ''} ({when})"
        values = tuple(labels.get(k, "") for k in keys[name])
        grouped.setdefault(name, {})[values] = s.value  # a duplicate row: the last one wins
    out = []
    for name in sorted(grouped):
        fam = GaugeMetricFamily(name, helps[name], labels=[*keys[name], *const])
        for values, value in sorted(grouped[name].items()):
            fam.add_metric([*values, *const.values()], value)
        out.append(fam)
    if state.last_status is not None:
        fam = GaugeMetricFamily(RUN_STATUS, "Status of the last run: 1 for its status, 0 for the others",
                                labels=["status", *const])
        for status in RUN_STATUSES:
            fam.add_metric([status, *const.values()], 1.0 if status == state.last_status else 0.0)
        out.append(fam)
    for name, at, help_ in (
        ("idr_last_run_timestamp_seconds", state.last_run_at, "When the last run finished (Unix time)"),
        ("idr_last_success_timestamp_seconds", state.last_success_at,
         "When the last run that published results finished (Unix time)"),
    ):
        if at is not None:
            fam = GaugeMetricFamily(name, help_, labels=list(const))
            fam.add_metric(list(const.values()), _epoch(at))
            out.append(fam)
    runs = CounterMetricFamily("idr_runs", "Runs recorded in idr_out.metrics_export, by status",
                               labels=["status", *const])
    for status in sorted(set(RUN_STATUSES) | set(state.runs_by_status)):
        runs.add_metric([status, *const.values()], float(state.runs_by_status.get(status, 0)))
    out.append(runs)
    return out


class StateCollector:
    """A custom collector: yields whatever `load()` returns at scrape time."""

    def __init__(self, load):
        self._load = load

    def collect(self):
        yield from self._load()


def registry_for(fams_or_load):
    """A registry holding the given families (a list), or calling load() on every scrape."""
    from prometheus_client import CollectorRegistry

    load = fams_or_load if callable(fams_or_load) else (lambda: fams_or_load)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector(load))
    return registry


def exposition(fams: list) -> bytes:
    """The text exposition format (0.0.4), as scraped and as `promtool check metrics` reads it."""
    from prometheus_client import generate_latest

    return generate_latest(registry_for(fams))


def push_gateway(url: str, fams: list, *, job: str = DEFAULT_JOB, grouping_key: dict | None = None,
                 replace: bool = False, policy: RetryPolicy | None = None) -> None:
    """POST (push-add) the families to a Pushgateway group: metrics not pushed now keep
    their last value there, so a failed run's push does not erase what the last success
    pushed. replace=True PUTs instead and clears the group first."""
    from prometheus_client import push_to_gateway, pushadd_to_gateway

    if not url:
        raise InputError("no Pushgateway URL (--pushgateway URL or idr_meta.config metrics_pushgateway_url)")
    policy = policy or RetryPolicy.from_settings()
    push = push_to_gateway if replace else pushadd_to_gateway
    registry = registry_for(fams)
    call_with_retries(lambda: push(url, job=job, registry=registry, grouping_key=grouping_key,
                                   timeout=policy.timeout),
                      policy, f"Pushgateway {redact_url(url)}")


def write_textfile(path: str, fams: list) -> None:
    """Write the exposition to `path` atomically (a temporary file in the same directory,
    then rename), so node-exporter's textfile collector never reads half a file."""
    from prometheus_client import write_to_textfile

    if not path:
        raise InputError("no textfile path (--textfile PATH or idr_meta.config metrics_textfile_path)")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise InputError(f"textfile {path}: directory {directory} does not exist")
    try:
        write_to_textfile(path, registry_for(fams))
    except OSError as e:
        raise ExportError(f"textfile {path}: {e.strerror or e}") from e
