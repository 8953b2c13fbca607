"""Dependencies the routers declare: the service, the served index, an authorised key.

All `async def`: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per
dependency and request (a third of a lookup's time when measured). None of them blocks
for long: the key check reads SQLite's change counter (microseconds); scrypt runs once per
key and process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from .errors import ApiError
from .index import SnapshotIndex
from .keys import ApiKey
from .metrics import AUTH_FAILURES
from .service import Service


async def get_service(request: Request) -> Service:
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]


def current_index(service: Service) -> SnapshotIndex:
    """The index requests answer from: taken once per request (see snapshots.py)."""
    index = service.snapshots.current
    if index is None:
        raise ApiError(503, "not_ready", "no published snapshot is loaded yet (run `idr run` or `idr init`, "
                       "or wait for the service to finish loading)", {"Retry-After": "5"})
    return index


@dataclass(frozen=True)
class Ctx:
    """What a /v1 route answers with: the service, the index it took, the caller's key."""
    service: Service
    index: SnapshotIndex | None
    key: ApiKey


def authenticate(service: Service, x_api_key: str | None) -> ApiKey:
    """The caller's key when it is valid, else the 401 to answer. This and `admit` are
    shared by the dependency below and the fast path of GET /v1/lookup (fastpath.py)."""
    if not x_api_key:
        AUTH_FAILURES.labels(reason="missing").inc()
        raise ApiError(401, "missing_api_key", "send an API key in the X-API-Key header",
                       {"WWW-Authenticate": "ApiKey"})
    key = service.keys.verify(x_api_key)
    if key is None:
        AUTH_FAILURES.labels(reason="invalid").inc()
        raise ApiError(401, "invalid_api_key", "the API key is unknown, malformed or revoked",
                       {"WWW-Authenticate": "ApiKey"})
    return key


def admit(service: Service, key: ApiKey, scope: str, route_class: str) -> None:
    """Raises the 403 or 429 to answer when the key lacks `scope` or is over its rate."""
    if not key.allows(scope):
        AUTH_FAILURES.labels(reason="scope").inc()
        raise ApiError(403, "forbidden", f"this key's scope ({key.scope}) does not allow this route "
                       f"(needs {scope})")
    if service.settings.rate_limit_enabled:
        verdict = service.limits.hit(route_class, key.key_id)
        if not verdict.allowed:
            raise ApiError(429, "rate_limited", f"rate limit {verdict.limit} for {route_class} routes reached; "
                           f"retry in {verdict.retry_after} s", {"Retry-After": str(verdict.retry_after)})


def authorised(scope: str, route_class: str, *, needs_index: bool = True):
    """A dependency: the caller's key must be valid, have `scope`, and be within the rate
    of `route_class`; then the served index is taken (once for the whole request). One
    dependency rather than three: FastAPI's cost grows with each."""

    async def check(request: Request,
                    x_api_key: Annotated[str | None, Header(description="API key (`idr apikey create`)")] = None
                    ) -> Ctx:
        service: Service = request.app.state.service
        key = authenticate(service, x_api_key)
        request.state.key_name = key.name  # for the access log, also when refused below
        admit(service, key, scope, route_class)
        return Ctx(service, current_index(service) if needs_index else None, key)

    return check


LookupCtx = Annotated[Ctx, Depends(authorised("read", "lookup"))]
BatchCtx = Annotated[Ctx, Depends(authorised("read", "batch"))]
ReadCtx = Annotated[Ctx, Depends(authorised("read", "read"))]
AdminCtx = Annotated[Ctx, Depends(authorised("admin", "admin", needs_index=False))]
