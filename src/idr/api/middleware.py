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
_children: dict[tuple, tuple] = {}  # (route, method, status) -> the metrics' children


def _observers(template: str, method: str, status: int) -> tuple:
    """The request counter and latency histogram of one route, method and status, looked
    up once (prometheus_client's labels() costs a lock and a tuple per call)."""
    found = _children.get((template, method, status))
    if found is None:
        found = _children[(template, method, status)] = (
            REQUESTS.labels(route=template, method=method, status=str(status)), LATENCY.labels(route=template))
    return found


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
            requests, latency = _observers(template, scope["method"], status[0])
            requests.inc()
            latency.observe(elapsed)
            if log.isEnabledFor(logging.INFO):
                log.info("%s %s %s", scope["method"], template, status[0],
                         extra={"request_id": request_id, "method": scope["method"], "route": template,
                                "status": status[0], "latency_ms": round(elapsed * 1000, 3),
                                "key_name": scope["state"].get("key_name", "-")})
            REQUEST_ID.reset(token)
