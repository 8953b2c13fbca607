"""DataDog: submit a run's metrics as v2 series with the official datadog-api-client.

One request per run, every point stamped with the time the run recorded its metrics.
Types follow the seed: a count of what happened in the run is a COUNT (so rollups over a
day add runs up), a level is a GAUGE. Tags: `env:<metrics_env>` and the allowed
dimensions (`rule:EMAIL`, `stage:edges`, `status:FAILED`); no run id, since every tag
combination is a separate custom metric to DataDog. Per-rule rows go out as
`idr_rule_<name>` (as for Prometheus), so a sum over a metric's tags is its total. The API key comes from $DD_API_KEY
only and is sent in the DD-API-KEY header by the client; it never appears in a message.
"""

from __future__ import annotations

from datetime import datetime, timezone

from ..errors import ExportError
from .retry import RetryPolicy, call_with_retries, redact_url
from .store import Sample
from .taxonomy import LABEL_KEYS, per_rule_name

# DataDog's intake drops points more than an hour old. A run whose export failed for
# longer is not sent (with a warning) rather than stamped with a time it did not run at.
MAX_AGE_SECONDS = 3300


def series(samples: list[Sample], at: datetime, env: str = "") -> list:
    from datadog_api_client.v2.model.metric_intake_type import MetricIntakeType
    from datadog_api_client.v2.model.metric_point import MetricPoint
    from datadog_api_client.v2.model.metric_series import MetricSeries

    ts = int(at.replace(tzinfo=timezone.utc).timestamp())
    out = []
    for s in samples:
        tags = [f"env:{env}"] if env else []
        tags += [f"{k}:{s.dimensions[k]}" for k in LABEL_KEYS if k in s.dimensions]
        kind = MetricIntakeType.COUNT if s.type == "counter" else MetricIntakeType.GAUGE
        name = per_rule_name(s.name) if "rule" in s.dimensions else s.name
        out.append(MetricSeries(metric=name, type=kind, points=[MetricPoint(timestamp=ts, value=float(s.value))],
                                tags=tags))
    return out


def configuration(site: str, host: str = "", timeout: float = 10.0):
    """The client's configuration: https://api.<site> unless `host` overrides the URL."""
    from datadog_api_client import Configuration
    from urllib3.util import Retry

    config = Configuration(host=host or None, request_timeout=timeout)
    if not host:
        config.server_variables["site"] = site or "datadoghq.com"
    # Retries are ours (the same policy for every exporter), not urllib3's.
    config.retry_policy = Retry(total=0, raise_on_status=False)
    return config


def submit(samples: list[Sample], at: datetime, *, site: str, host: str = "", env: str = "",
           policy: RetryPolicy | None = None) -> None:
    """Send one run's samples. Raises ExportError (after retries on 5xx and no answer)."""
    from datadog_api_client import ApiClient
    from datadog_api_client.v2.api.metrics_api import MetricsApi
    from datadog_api_client.v2.model.metric_payload import MetricPayload

    from ..settings import get_settings

    key = get_settings().dd_api_key
    api_key = key.get_secret_value() if key else ""
    if not api_key:
        raise ExportError("DataDog: DD_API_KEY is not set")
    policy = policy or RetryPolicy.from_settings()
    config = configuration(site, host, policy.timeout)
    config.api_key["apiKeyAuth"] = api_key
    where = f"DataDog {redact_url(host)}" if host else f"DataDog site {config.server_variables['site']}"
    body = MetricPayload(series=series(samples, at, env))
    with ApiClient(config) as client:
        api = MetricsApi(client)
        call_with_retries(lambda: api.submit_metrics(body=body), policy, where)
