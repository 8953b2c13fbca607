"""Webhook: POST one run's metrics as JSON, signed per Standard Webhooks.

https://www.standardwebhooks.com: the headers `webhook-id` (the same for every attempt at
one message, so a receiver can drop duplicates), `webhook-timestamp` (Unix seconds of the
attempt, against replays) and `webhook-signature` = `v1,` + base64 of HMAC-SHA256 over
`{id}.{timestamp}.{body}`. The secret comes from $IDR_WEBHOOK_SECRET in the standard
`whsec_<base64>` form (the prefix is optional), decoded exactly as the reference library
decodes it, so any Standard Webhooks verifier accepts the signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.request
from datetime import datetime

from ..errors import ExportError
from .retry import RetryPolicy, call_with_retries, redact_url
from .store import Sample

SECRET_ENV = "IDR_WEBHOOK_SECRET"
EVENT_TYPE = "idr.run.metrics"


def load_secret(text: str | None = None) -> bytes:
    """The signing key from `text` (default: $IDR_WEBHOOK_SECRET). Never echoed in errors."""
    if text is None:
        from ..settings import get_settings

        secret = get_settings().webhook_secret
        text = secret.get_secret_value() if secret else ""
    text = text.strip()
    if text.startswith("whsec_"):
        text = text[len("whsec_"):]
    try:
        # Padding added and stray characters skipped, as the reference implementation does.
        key = base64.b64decode(text + "==")
    except ValueError:
        key = b""
    if not key:
        raise ExportError(f"webhook: {SECRET_ENV} is not set or is not a base64 secret (whsec_...)")
    return key


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def message_id(run_id: str) -> str:
    return f"msg_{run_id}"


def payload(run_id: str, status: str | None, at: datetime, samples: list[Sample], env: str = "") -> bytes:
    """The JSON body: the run, its status, when it recorded its metrics (UTC) and every metric."""
    doc = {
        "type": EVENT_TYPE,
        "run_id": run_id,
        "status": status,
        "timestamp": at.isoformat(timespec="milliseconds") + "Z",
        **({"env": env} if env else {}),
        "metrics": [{"name": s.name, "value": s.value, "type": s.type, "dimensions": s.dimensions}
                    for s in samples],
    }
    return json.dumps(doc, separators=(",", ":")).encode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect becomes an HTTPError (3xx): not followed, not retried


def post(url: str, body: bytes, msg_id: str, key: bytes, policy: RetryPolicy | None = None, *,
         sleep=time.sleep) -> None:
    """Deliver `body` to `url`; each attempt is signed with its own timestamp."""
    from .. import __version__

    if not url:
        raise ExportError("webhook: no URL (idr_meta.config metrics_webhook_url)")
    policy = policy or RetryPolicy.from_settings()
    opener = urllib.request.build_opener(_NoRedirect)

    def attempt():
        ts = int(time.time())
        req = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json",
            "User-Agent": f"idr/{__version__}",
            "webhook-id": msg_id,
            "webhook-timestamp": str(ts),
            "webhook-signature": sign(key, msg_id, ts, body),
        })
        with opener.open(req, timeout=policy.timeout) as resp:
            resp.read()

    call_with_retries(attempt, policy, f"webhook {redact_url(url)}", sleep=sleep)
