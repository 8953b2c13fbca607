"""Timeouts and retries shared by the network exporters.

A delivery is retried on connection errors, timeouts and 5xx answers, with exponential
backoff and full jitter (a random wait between 0 and base * 2^n, capped), so several
databases that fail at the same moment do not retry in lockstep. A 4xx answer (and any
3xx: exporters do not follow redirects with a body) means the request itself is wrong or
unauthorised; sending it again cannot help, so it is not retried.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from ..errors import IdrError


class ExportError(IdrError):
    """An exporter could not deliver. The metrics stay in metrics_export for the next try."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3  # tries in all, the first one included
    base_delay: float = 1.0  # seconds; the cap of the wait before retry n is base * 2^(n-1)
    max_delay: float = 30.0
    timeout: float = 10.0  # seconds per request

    def delay(self, retry: int) -> float:
        return random.uniform(0.0, min(self.max_delay, self.base_delay * 2 ** (retry - 1)))


def http_status(e: BaseException) -> int | None:
    """The HTTP status of a failed request, or None when no answer came (0 from the
    DataDog client means the same)."""
    for attr in ("code", "status"):
        value = getattr(e, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def is_retryable(e: BaseException) -> bool:
    status = http_status(e)
    if status is not None:
        return status >= 500
    # No answer: connection refused or reset, DNS failure, timeout.
    return isinstance(e, OSError) or type(e).__module__.startswith(("urllib3", "datadog_api_client"))


def describe(e: BaseException) -> str:
    """One line about a failure, without request headers, bodies or credentials."""
    status = http_status(e)
    if status is not None:
        reason = getattr(e, "reason", None) or getattr(e, "msg", None) or ""
        return f"HTTP {status} {reason}".strip()
    reason = getattr(e, "reason", None)
    text = str(reason if reason is not None else e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


def call_with_retries(fn, policy: RetryPolicy, what: str, *, sleep=time.sleep):
    """fn() until it succeeds, fails for good, or the attempts run out (ExportError)."""
    for attempt in range(1, policy.attempts + 1):
        try:
            return fn()
        except Exception as e:  # noqa: BLE001 - classified below, re-raised as ExportError
            if not is_retryable(e) or attempt == policy.attempts:
                tries = f"after {attempt} attempts" if attempt > 1 else "not retried" if not is_retryable(e) \
                    else "after 1 attempt"
                raise ExportError(f"{what}: {describe(e)} ({tries})") from e
            sleep(policy.delay(attempt))
    raise AssertionError("unreachable")


def redact_url(url: str) -> str:
    """A URL fit for a message: user and password removed, query string dropped."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
