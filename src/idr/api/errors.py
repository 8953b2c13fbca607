"""The one error shape of the service, and the handlers that give every failure that shape.

    {"error": {"code": "not_found", "message": "...", "request_id": "..."}}

`code` is stable and machine-readable (docs/serve.md lists them); `message` is for people
and never repeats a looked-up value or a key; `request_id` is the X-Request-ID header.
"""

from __future__ import annotations

import json

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from .metrics import ERRORS
from .requestid import REQUEST_ID


class ErrorDetail(BaseModel):
    code: str
    message: str
    request_id: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def error_response(status: int, code: str, message: str, headers: dict | None = None) -> Response:
    ERRORS.labels(code=code).inc()
    body = {"error": {"code": code, "message": message, "request_id": REQUEST_ID.get()}}
    return Response(json.dumps(body), status_code=status, media_type="application/json", headers=headers)


_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 406: "not_acceptable", 413: "too_large", 415: "unsupported_media_type"}


def _where(loc) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("query", "path", "header", "body"):
        kind = {"query": "query parameter", "path": "path parameter", "header": "header", "body": "body"}[parts[0]]
        rest = ".".join(parts[1:])
        return f"{kind} {rest}" if rest else kind
    return ".".join(parts) or "request"


def _validation_message(exc: RequestValidationError) -> str:
    # pydantic's messages describe the rule, not the input: the input is never repeated.
    problems = [f"{_where(e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in exc.errors()[:5]]
    more = len(exc.errors()) - len(problems)
    return "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        types = {e.get("type") for e in exc.errors()}
        if request.method == "POST" and "json" not in request.headers.get("content-type", "").lower():
            return error_response(415, "unsupported_media_type", "the body must be JSON (Content-Type: application/json)")
        if "json_invalid" in types:
            return error_response(400, "invalid_json", "the body is not valid JSON")
        return error_response(422, "invalid_request", _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = "no such route" if exc.status_code == 404 else str(exc.detail)
        return error_response(exc.status_code, code, message, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        import logging

        logging.getLogger("idr.api").error("unexpected error: %s", type(exc).__name__)
        return error_response(500, "internal_error", "unexpected error (logged with this request id)")


# For routes' `responses=`: the documented error answers.
def documented(*statuses: int) -> dict:
    return {s: {"model": ErrorBody, "description": _HTTP_CODES.get(s, {422: "invalid request", 429: "rate limited",
                                                                        503: "no snapshot loaded yet"}.get(s, "error"))}
            for s in statuses}
