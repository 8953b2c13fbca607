"""The Redis that replicas share (REDIS_URL), and what happens when it is away.

Every Redis call goes through `call`: on a failure the service marks Redis down, counts it
and answers without it (limits per process, cache bypassed); it tries Redis again at most
every REDIS_RETRY_SECONDS, so a Redis that returns is used again without a restart, and a
Redis that is away costs one failed call per interval, not one per request. Timeouts are
short (REDIS_TIMEOUT_SECONDS): a hung Redis must not hold requests.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

from .metrics import REDIS_ERRORS, REDIS_UP


class SharedRedis:
    def __init__(self, url: str, timeout: float, retry_seconds: float):
        import redis

        self.url = url
        self.pool = redis.ConnectionPool.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                                  health_check_interval=0)
        self.client = redis.Redis(connection_pool=self.pool)
        self.retry_seconds = retry_seconds
        self._lock = threading.Lock()
        self._up = False
        self._next_try = 0.0
        self.last_error: str | None = None
        self.errors = 0
        self.available()

    @property
    def where(self) -> str:
        """The URL without credentials, for status pages."""
        u = urlsplit(self.url)
        host = u.hostname or ""
        return f"{u.scheme}://{host}{':' + str(u.port) if u.port else ''}{u.path}"

    def available(self) -> bool:
        """Whether to use Redis now (pings it when it was down and the retry interval passed)."""
        if self._up:
            return True
        now = time.monotonic()
        with self._lock:
            if now < self._next_try:
                return False
            self._next_try = now + self.retry_seconds
        try:
            self.client.ping()
        except Exception as e:  # noqa: BLE001 - any failure means "not now"
            self.failed(e)
            return False
        self._up = True
        REDIS_UP.set(1)
        return True

    def failed(self, exc: BaseException) -> None:
        self._up = False
        self._next_try = time.monotonic() + self.retry_seconds
        self.last_error = type(exc).__name__  # never the message: it may carry the URL
        self.errors += 1
        REDIS_ERRORS.inc()
        REDIS_UP.set(0)

    @property
    def up(self) -> bool:
        return self._up

    def close(self) -> None:
        self.pool.disconnect()
