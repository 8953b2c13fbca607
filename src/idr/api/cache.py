"""The lookup cache: answers by snapshot version and SHA-256 of the normalised value.

The version in the key makes invalidation free: a new snapshot's lookups use new keys,
and the old ones expire (CACHE_TTL_SECONDS). With Redis the cache is shared by every
replica; when Redis is away it is bypassed (each process keeps answering from its index).
Without Redis a bounded in-process cache is used. Keys hold a hash, never the value.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict

from .metrics import CACHE
from .shared import SharedRedis

PREFIX = "idr:lookup:"


def cache_key(version: str, identifier_type: str, value_norm: str) -> str:
    digest = hashlib.sha256(f"{identifier_type}\x00{value_norm}".encode()).hexdigest()
    return f"{PREFIX}{version}:{digest}"


class _Local:
    """A bounded in-process TTL cache (least recently used first out)."""

    def __init__(self, ttl: float, max_entries: int):
        self.ttl, self.max_entries = ttl, max_entries
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            if item[0] < time.monotonic():
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return item[1]

    def put(self, key: str, value: bytes) -> None:
        with self._lock:
            self._data[key] = (time.monotonic() + self.ttl, value)
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


class LookupCache:
    def __init__(self, enabled: bool, ttl: int, max_entries: int, shared: SharedRedis | None):
        self.enabled, self.ttl, self.shared = enabled, ttl, shared
        self.local = _Local(ttl, max_entries) if enabled and shared is None else None
        self.hits = self.misses = self.bypassed = 0

    def store(self) -> str:
        if not self.enabled:
            return "off"
        if self.shared is None:
            return "memory"
        return "redis" if self.shared.up else "bypassed (redis down)"

    def get(self, key: str) -> bytes | None:
        if not self.enabled:
            return None
        if self.shared is None:
            value = self.local.get(key)
            self._count(value, "memory")
            return value
        if not self.shared.available():
            self.bypassed += 1
            return None
        try:
            value = self.shared.client.get(key)
        except Exception as e:  # noqa: BLE001 - Redis away: answer from the index
            self.shared.failed(e)
            return None
        self._count(value, "redis")
        return value

    def put(self, key: str, value: bytes) -> None:
        if not self.enabled:
            return
        if self.shared is None:
            self.local.put(key, value)
        elif self.shared.up:
            try:
                self.shared.client.set(key, value, ex=self.ttl)
            except Exception as e:  # noqa: BLE001
                self.shared.failed(e)

    def _count(self, value, store: str) -> None:
        if value is None:
            self.misses += 1
            CACHE.labels(result="miss", store=store).inc()
        else:
            self.hits += 1
            CACHE.labels(result="hit", store=store).inc()

    def status(self) -> dict:
        reads = self.hits + self.misses
        return {"store": self.store(), "ttl_seconds": self.ttl, "hits": self.hits, "misses": self.misses,
                "bypassed": self.bypassed, "hit_rate": round(self.hits / reads, 4) if reads else None,
                "entries": len(self.local) if self.local is not None else None}
