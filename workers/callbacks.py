"""The verdict announced to the upload service's callback URL, signed."""

from __future__ import annotations

import hashlib
import hmac
import urllib.error
import urllib.request

import structlog

from pipeline.errors import EventError, TransientError

log = structlog.get_logger("workers")


class Callbacks:
    def __init__(self, flow):
        self.flow = flow

    def deliver(self, submission_id: str, run_id: str) -> int | None:
        """POST the verdict to the event's callback URL, signed; raises TransientError to retry."""
        ctx = self.flow.context(submission_id, run_id)
        if ctx is None or not ctx.event.callback_url:
            return None
        body = self.flow.store.get_bytes(ctx.layout.verdict())
        status = post_signed(ctx.event.callback_url, body, self.flow.settings.callback_secret.get_secret_value())
        log.info("callback_delivered", http_status=status)
        return status


def sign(body: bytes, secret: str) -> str:
    """The `X-Smartedu-Signature` header value: HMAC-SHA256 of the exact body bytes."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_signed(url: str, body: bytes, secret: str, timeout_s: float = 10) -> int:
    if not url.startswith(("http://", "https://")):
        raise EventError(f"callback URL scheme not allowed: {url[:40]}")
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "X-Smartedu-Signature": sign(body, secret), "User-Agent": "smartedu-pipeline"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 (scheme checked above)
            return response.status
    except urllib.error.HTTPError as exc:
        if 400 <= exc.code < 500 and exc.code not in (408, 429):
            raise EventError(f"callback refused with HTTP {exc.code}") from exc
        raise TransientError(f"callback answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise TransientError(f"callback unreachable: {exc}") from exc

