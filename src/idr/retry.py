"""Retrying transient errors: a busy database lock, an I/O error reading a source, an
exporter's timeout. Bad input is never retried: only errors the caller classifies as
transient are.

Waits grow exponentially with full jitter (a random wait between 0 and
initial x factor^(n-1), capped), so several processes that failed at the same moment do
not retry in lockstep. Defaults: 3 attempts, factor 2, 1 s initial, 60 s cap, from the
process settings (IDR_RETRY_*). Each retry is logged (logger idr.retry) and counted in
RETRIES by kind, which runs record as the idr_run_retries metric.
"""

from __future__ import annotations

import collections
import logging
import time
from dataclasses import dataclass

import tenacity

log = logging.getLogger("idr.retry")

# kind -> retries made by this process (lock, source, export).
RETRIES: collections.Counter = collections.Counter()


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


# What waits between attempts; tests replace it to act between two attempts.
SLEEP = [_sleep]


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3  # tries in all, the first one included
    base_delay: float = 1.0  # seconds; the cap of the wait before retry n is base * factor^(n-1)
    max_delay: float = 60.0
    factor: float = 2.0
    timeout: float = 10.0  # seconds per network request

    @classmethod
    def from_settings(cls, **overrides) -> "RetryPolicy":
        from .settings import get_settings

        s = get_settings()
        values = dict(attempts=s.retry_attempts, base_delay=s.retry_initial_seconds, max_delay=s.retry_max_seconds,
                      factor=s.retry_factor)
        return cls(**{**values, **overrides})


def call_with_retries(fn, policy: RetryPolicy, what: str, transient, *, kind: str, sleep=None):
    """fn() until it succeeds, raises an error `transient(e)` rejects, or the attempts run
    out; then the last error is raised as it was."""

    def before_sleep(state: tenacity.RetryCallState) -> None:
        RETRIES[kind] += 1
        e = state.outcome.exception()
        log.warning("retrying %s after %s (attempt %d of %d, waiting %.1f s)", what, type(e).__name__,
                    state.attempt_number + 1, policy.attempts, state.upcoming_sleep)

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(policy.attempts),
        wait=tenacity.wait_random_exponential(multiplier=policy.base_delay, exp_base=policy.factor,
                                              max=policy.max_delay),
        retry=tenacity.retry_if_exception(transient),
        sleep=sleep or (lambda s: SLEEP[0](s)),
        before_sleep=before_sleep,
        reraise=True,
    )
    return retrying(fn)


def wait_for(fn, seconds: float, what: str, transient, *, kind: str, poll_max: float = 5.0):
    """fn() until it succeeds or `seconds` have passed (then its last error), retrying the
    errors `transient` accepts with waits growing to poll_max: for `idr run --wait`."""

    def before_sleep(state: tenacity.RetryCallState) -> None:
        RETRIES[kind] += 1
        log.info("waiting for %s (%.0f s so far)", what, state.seconds_since_start or 0.0)

    backoff = tenacity.wait_random_exponential(multiplier=0.2, max=poll_max)

    def wait(state: tenacity.RetryCallState) -> float:
        # Never sleep past the deadline, so the last attempt comes when the time is up
        # (stopping *before* a long random wait would give up early).
        return max(0.0, min(backoff(state), seconds - (state.seconds_since_start or 0.0)))

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_delay(seconds),
        wait=wait,
        retry=tenacity.retry_if_exception(transient),
        sleep=lambda s: SLEEP[0](s),
        before_sleep=before_sleep,
        reraise=True,
    )
    return retrying(fn)
