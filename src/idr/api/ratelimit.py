"""Rate limits per API key and route class, with the `limits` library.

Fixed windows (one Redis round trip per request: an atomic INCR with expiry): a client
may get up to twice its rate across a window edge, the price of the cheapest shared
counter. With Redis the counters are shared by every replica; without it (unset, or
away) each process counts on its own.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.storage import RedisStorage
from limits.strategies import FixedWindowRateLimiter

from .metrics import RATE_LIMITED
from .shared import SharedRedis

ROUTE_CLASSES = ("lookup", "batch", "read", "admin")


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int  # seconds, when refused
    limit: str
    store: str  # redis or memory


class ProcessWindows:
    """Fixed windows counted in this process: the fallback without Redis. Not limits'
    MemoryStorage, which starts a timer thread on most hits (about 1 ms each, measured:
    a third of a lookup's time at 1,000 lookups/s)."""

    def __init__(self):
        self._counts: dict[tuple, list] = {}  # (route class, key id) -> [window start, count]
        self._lock = threading.Lock()

    def hit(self, item: RateLimitItem, route_class: str, key_id: str) -> tuple[bool, float]:
        """(allowed, end of the current window as a Unix time)."""
        length = item.get_expiry()
        now = time.time()
        start = now - now % length
        with self._lock:
            if len(self._counts) > 100_000:  # forget finished windows now and then
                self._counts = {k: v for k, v in self._counts.items() if v[0] + length > now}
            entry = self._counts.get((route_class, key_id))
            if entry is None or entry[0] != start:
                entry = self._counts[(route_class, key_id)] = [start, 0]
            allowed = entry[1] < item.amount
            if allowed:
                entry[1] += 1
        return allowed, start + length


class RateLimits:
    def __init__(self, rates: dict[str, str], shared: SharedRedis | None):
        self.rates = rates
        self.items = {cls: parse(rate) for cls, rate in rates.items()}
        self.memory = ProcessWindows()
        self.shared = shared
        self.redis = None
        if shared is not None:
            storage = RedisStorage(shared.url, connection_pool=shared.pool, wrap_exceptions=False)
            self.redis = FixedWindowRateLimiter(storage)
        self.refused = {cls: 0 for cls in rates}

    def hit(self, route_class: str, key_id: str) -> Verdict:
        item = self.items[route_class]
        if self.redis is not None and self.shared.available():
            try:
                if self.redis.hit(item, "idr", key_id):
                    return Verdict(True, 0, self.rates[route_class], "redis")
                return self._refused(route_class, self.redis.get_window_stats(item, "idr", key_id).reset_time, "redis")
            except Exception as e:  # noqa: BLE001 - Redis away: count on our own
                self.shared.failed(e)
        allowed, reset = self.memory.hit(item, route_class, key_id)
        if allowed:
            return Verdict(True, 0, self.rates[route_class], "memory")
        return self._refused(route_class, reset, "memory")

    def _refused(self, route_class: str, reset: float, store: str) -> Verdict:
        self.refused[route_class] += 1
        RATE_LIMITED.labels(route_class=route_class).inc()
        return Verdict(False, max(1, math.ceil(reset - time.time())), self.rates[route_class], store)

    def status(self) -> dict:
        store = "redis" if self.redis is not None and self.shared.up else "memory"
        return {"store": store, "limits": dict(self.rates), "refused": dict(self.refused)}
