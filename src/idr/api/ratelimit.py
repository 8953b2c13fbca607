"""Rate limits per API key and route class, with the `limits` library.

Fixed windows (one Redis round trip per request: an atomic INCR with expiry): a client
may get up to twice its rate across a window edge, the price of the cheapest shared
counter. With Redis the counters are shared by every replica; without it (unset, or
away) each process counts on its own.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import parse
from limits.storage import MemoryStorage, RedisStorage
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


class RateLimits:
    def __init__(self, rates: dict[str, str], shared: SharedRedis | None):
        self.rates = rates
        self.items = {cls: parse(rate) for cls, rate in rates.items()}
        self.memory = FixedWindowRateLimiter(MemoryStorage())
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
                return self._hit(self.redis, item, route_class, key_id, "redis")
            except Exception as e:  # noqa: BLE001 - Redis away: count on our own
                self.shared.failed(e)
        return self._hit(self.memory, item, route_class, key_id, "memory")

    def _hit(self, limiter, item, route_class: str, key_id: str, store: str) -> Verdict:
        if limiter.hit(item, "idr", key_id):
            return Verdict(True, 0, self.rates[route_class], store)
        reset = limiter.get_window_stats(item, "idr", key_id).reset_time
        self.refused[route_class] += 1
        RATE_LIMITED.labels(route_class=route_class).inc()
        return Verdict(False, max(1, math.ceil(reset - time.time())), self.rates[route_class], store)

    def status(self) -> dict:
        store = "redis" if self.redis is not None and self.shared.up else "memory"
        return {"store": store, "limits": dict(self.rates), "refused": dict(self.refused)}
