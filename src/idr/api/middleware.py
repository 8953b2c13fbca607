"""Request ids, access logs and request metrics, as one plain ASGI middleware (cheaper per
request than Starlette's BaseHTTPMiddleware).

The log line names the route template (/v1/entities/{entity_key}), never the path or the
query string, so identifier values, entity keys and API keys never reach a log.
"""

from __future__ import annotations

import logging
import time

from .metrics import LATENCY, REQUESTS
from .requestid import REQUEST_ID, choose

log = logging.getLogger("idr.api.access")


class RequestContext:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        header = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                header = value.decode("latin-1")
                break
        request_id = choose(header)
        token = REQUEST_ID.set(request_id)
        scope.setdefault("state", {})
        status = [500]

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = list(message.get("headers", [])) + [(b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            REQUESTS.labels(route=template, method=scope["method"], status=str(status[0])).inc()
            LATENCY.labels(route=template).observe(elapsed)
            if log.isEnabledFor(logging.INFO):
                log.info("%s %s %s", scope["method"], template, status[0],
                         extra={"request_id": request_id, "method": scope["method"], "route": template,
                                "status": status[0], "latency_ms": round(elapsed * 1000, 3),
                                "key_name": scope["state"].get("key_name", "-")})
            REQUEST_ID.reset(token)
