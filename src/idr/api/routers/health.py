"""GET /v1/health (public), GET /internal/status (admin), GET /metrics (Prometheus)."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import JSONResponse, Response

from ..deps import AdminCtx, ServiceDep
from ..errors import documented
from ..metrics import REGISTRY
from ..models import Health, Status

router = APIRouter()


def _last_run(index) -> dict | None:
    run = index.last_success if index is not None else None
    if run is None:
        return None
    ended = run.get("ended_at")
    age = None
    if isinstance(ended, datetime):
        age = round((datetime.now(timezone.utc) - ended.replace(tzinfo=ended.tzinfo or timezone.utc)).total_seconds(), 1)
    return {"run_id": run["run_id"], "run_mode": run["run_mode"],
            "ended_at": ended.isoformat() if isinstance(ended, datetime) else None, "age_seconds": age}


@router.get("/v1/health", response_model=Health, tags=["health"], responses={503: {"model": Health}},
            summary="Liveness and readiness (no key needed)")
async def health(service: ServiceDep):
    """200 while a snapshot is served; 503 until the first one is loaded. `snapshot_reachable`
    says whether the snapshot pointer can be read now."""
    index = service.snapshots.current
    pointer = service.snapshots.pointer()
    status = "starting" if index is None else ("ok" if pointer is not None else "degraded")
    body = {"status": status, "snapshot": index.version if index else None, "snapshot_reachable": pointer is not None,
            "last_successful_run": _last_run(index)}
    return JSONResponse(body, status_code=503 if index is None else 200)


@router.get("/internal/status", response_model=Status, tags=["internal"],
            responses=documented(401, 403, 429), summary="Service state (admin keys only)")
async def status(ctx: AdminCtx):
    service = ctx.service
    index = service.snapshots.current
    snap = {"version": index.version if index else None, "pointer": service.snapshots.pointer(),
            "records": index.records if index else None, "clusters": len(index.cluster_rid) if index else None,
            "load_seconds": round(index.build_seconds, 3) if index else None,
            "loaded_at": service.snapshots.loaded_at, "last_error": service.snapshots.last_error}
    shared = service.shared
    redis = {"configured": shared is not None}
    if shared is not None:
        shared.available()  # a Redis that returned shows up here without waiting for traffic
        redis.update(up=shared.up, url=shared.where, errors=shared.errors, last_error=shared.last_error)
    return {"snapshot": snap, "redis": redis, "cache": service.cache.status(), "keys": service.keys.counts(),
            "rate_limits": {"enabled": service.settings.rate_limit_enabled, **service.limits.status()},
            "uptime_seconds": round(time.time() - service.started_at, 1)}


@router.get("/metrics", tags=["internal"], include_in_schema=False)
async def metrics():
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
