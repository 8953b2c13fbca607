"""The FastAPI application: routers, error handlers, middleware, and the service opened
in the lifespan (the snapshot is loaded in the background: /v1/health answers 503 until
it is)."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from ..settings import ServeSettings
from . import errors
from .fastpath import PATH as FAST_PATH
from .fastpath import FastLookup
from .middleware import RequestContext
from .routers import entities, health, lookup, runs
from .service import Service

DESCRIPTION = """Identity lookups over idr's published results (docs/serve.md).

Send an API key in `X-API-Key` (`idr apikey create --name NAME --scope read|admin`).
Every error has one shape: `{"error": {"code", "message", "request_id"}}`.
Every response carries `X-Request-ID` (yours when you send a plain one)."""


def create_app(db: str | Path, settings: ServeSettings, *, service: Service | None = None,
               fast_lookup: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        svc = service or Service.open(db, settings)
        app.state.service = svc
        svc.start()
        try:
            yield
        finally:
            svc.close()

    app = FastAPI(title="idr lookup API", version=_version(), description=DESCRIPTION, lifespan=lifespan)
    errors.install(app)
    for r in (health.router, lookup.router, entities.router, runs.router):
        app.include_router(r)
    if fast_lookup:  # inside RequestContext: request ids, metrics and logs as for any route
        route = next(r for r in lookup.router.routes if r.path == FAST_PATH and "GET" in r.methods)
        app.add_middleware(FastLookup, route=route)
    app.add_middleware(RequestContext)
    return app


def app_from_environment() -> FastAPI:
    """One worker's app under `idr serve --workers N`: uvicorn imports this in every worker
    process; the command put the database and the log options in the environment."""
    import os

    from ..settings import get_serve_settings, get_settings
    from .cli import access_logs

    access_logs(os.environ.get("IDR_SERVE_LOG_FORMAT"), os.environ.get("IDR_SERVE_LOG_FILE"))
    return create_app(get_settings().db, get_serve_settings())


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("idr")
    except PackageNotFoundError:
        return "0"
