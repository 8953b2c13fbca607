"""Timeouts and retries shared by the network exporters.

A delivery is retried (idr/retry.py: exponential backoff with full jitter, so several
databases that fail at the same moment do not retry in lockstep) on connection errors,
timeouts and 5xx answers. A 4xx answer (and any 3xx: exporters do not follow redirects
with a body) means the request itself is wrong or unauthorised; sending it again cannot
help, so it is not retried.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from ..errors import ExportError
from ..retry import RetryPolicy
from ..retry import call_with_retries as _retry

__all__ = ["ExportError", "RetryPolicy", "call_with_retries", "describe", "is_retryable", "redact_url"]


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


def call_with_retries(fn, policy: RetryPolicy, what: str, *, sleep=None):
    """fn() until it succeeds, fails for good, or the attempts run out (ExportError)."""
    attempts = [0]

    def counted():
        attempts[0] += 1
        return fn()

    try:
        return _retry(counted, policy, what, is_retryable, kind="export", sleep=sleep)
    except Exception as e:  # noqa: BLE001 - classified, re-raised as ExportError
        n = attempts[0]
        tries = "not retried" if not is_retryable(e) else f"after {n} attempt{'s' if n > 1 else ''}"
        raise ExportError(f"{what}: {describe(e)} ({tries})") from e


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
