"""The request id of the request being answered (set by the middleware, read by errors and logs)."""

from __future__ import annotations

import contextvars
import itertools
import os
import re

REQUEST_ID = contextvars.ContextVar("idr_request_id", default="-")
# A caller's id is kept when it is a plain token; anything else (long, odd characters that
# could forge log lines) is replaced by a fresh one.
_OK = re.compile(r"[A-Za-z0-9._:-]{1,128}")


# Fresh ids: 64 random bits per process and a counter, 32 hex digits like a uuid4's hex
# (uuid4() per request cost 2% of a lookup's CPU, profiled); unique across replicas.
_PREFIX = os.urandom(8).hex()
_COUNT = itertools.count(int.from_bytes(os.urandom(4), "big"))


def choose(header: str | None) -> str:
    return header if header and _OK.fullmatch(header) else f"{_PREFIX}{next(_COUNT) & 0xFFFFFFFFFFFFFFFF:016x}"
