"""The request id of the request being answered (set by the middleware, read by errors and logs)."""

from __future__ import annotations

import contextvars
import re
import uuid

REQUEST_ID = contextvars.ContextVar("idr_request_id", default="-")
# A caller's id is kept when it is a plain token; anything else (long, odd characters that
# could forge log lines) is replaced by a fresh one.
_OK = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def choose(header: str | None) -> str:
    return header if header and _OK.fullmatch(header) else uuid.uuid4().hex
