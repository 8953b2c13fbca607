"""Everything one service process holds, built from its settings (opened in the app's lifespan)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from ..settings import ServeSettings
from ..sql import casemap
from .cache import LookupCache
from .index import warm_up
from .keys import KeyVerifier, store_path
from .ratelimit import RateLimits
from .shared import SharedRedis
from .snapshots import SnapshotHolder


@dataclass
class Service:
    db: Path
    settings: ServeSettings
    keys: KeyVerifier
    limits: RateLimits
    cache: LookupCache
    snapshots: SnapshotHolder
    shared: SharedRedis | None = None
    started_at: float = field(default_factory=time.time)

    @classmethod
    def open(cls, db, settings: ServeSettings) -> Service:
        db = Path(db)
        shared = None
        if settings.redis_url is not None:
            shared = SharedRedis(settings.redis_url.get_secret_value(), settings.redis_timeout_seconds,
                                 settings.redis_retry_seconds)
        rates = {"lookup": settings.rate_limit_lookup, "batch": settings.rate_limit_batch,
                 "read": settings.rate_limit_read, "admin": settings.rate_limit_admin}
        return cls(db=db, settings=settings, keys=KeyVerifier(store_path(db, settings.apikey_file)),
                   limits=RateLimits(rates, shared),
                   cache=LookupCache(settings.cache_enabled, settings.cache_ttl_seconds,
                                     settings.cache_max_entries, shared),
                   snapshots=SnapshotHolder(db, settings.snapshot_poll_seconds), shared=shared)

    def start(self) -> None:
        warm_up()
        casemap.load()
        self.snapshots.start()

    def close(self) -> None:
        self.snapshots.stop()
        if self.shared is not None:
            self.shared.close()
