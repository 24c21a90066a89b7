"""The upload service's HTTP side of ingest: bucket notifications in, one submission's status out.

- `POST /notifications`: MinIO's webhook target (or an S3 relay) posts `s3:ObjectCreated:*` events;
  the `Authorization` header carries the shared secret (MinIO sends its `auth_token` as given, or
  as `Bearer <token>`). 200 once every object is handled (queued, waiting, duplicate ...), 503 when
  Redis or S3 is down so that the store sends it again (MinIO keeps it in its `queue_dir`), 401 on a
  wrong secret with nothing read or enqueued, 400 on a body that is not a notification.
- `HEAD /notifications`: MinIO checks that its target answers, without credentials.
- `GET /submissions/<id>`: `workers.ops.submission_status` as JSON, behind a bearer token.

The standard library's threading server is enough for these few small requests (MinIO posts one
event per object); every connection has a read timeout and every body a size limit.
"""

from __future__ import annotations

import hmac
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import redis
import structlog

from pipeline.errors import TransientError
from pipeline.notifications import NotificationError, parse_notification

from .outages import outage_of

log = structlog.get_logger("ingest")

MAX_BODY = 1024 * 1024
MAX_CONNECTIONS = 64
SUBMISSION = re.compile(r"^/submissions/([A-Za-z0-9._-]{1,64})/?$")


def authorized(header: str | None, secret: str) -> bool:
    """The secret as sent, bare or as `Bearer <secret>`; never when no secret is configured."""
    if not secret or not header:
        return False
    given = header[7:] if header[:7].lower() == "bearer " else header
    return hmac.compare_digest(given.strip().encode(), secret.encode())


class IngestAPI:
    """What the handler calls: the intake of notifications and the status reader."""

    def __init__(self, intake, status, *, notify_secret: str, status_token: str):
        self.intake = intake              # workers.notifications.BucketIntake
        self.status = status              # submission_id -> dict | None
        self.notify_secret = notify_secret
        self.status_token = status_token


def _handler(api: IngestAPI):
    class Handler(BaseHTTPRequestHandler):
        timeout = 15                       # a client that stops sending does not hold a thread
        server_version = "smartedu-ingest"
        sys_version = ""

        def log_message(self, format, *args):   # noqa: A002 - the base class's name
            pass                                 # requests are logged as structured lines below

        def _reply(self, code: int, document: dict | None = None) -> None:
            body = json.dumps(document or {}, ensure_ascii=False).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _path(self) -> str:
            return self.path.split("?", 1)[0]

        def do_HEAD(self):
            self._reply(200 if self._path().rstrip("/") == "/notifications" else 404)

        def do_POST(self):
            if self._path().rstrip("/") != "/notifications":
                return self._reply(404, {"error": "not found"})
            if not authorized(self.headers.get("Authorization"), api.notify_secret):
                log.warning("notification_unauthorized", peer=self.client_address[0])
                return self._reply(401, {"error": "wrong or missing secret"})
            try:
                length = int(self.headers.get("Content-Length") or -1)
            except ValueError:
                length = -1
            if length < 0 or length > MAX_BODY:
                return self._reply(413 if length > MAX_BODY else 411, {"error": f"a body of at most {MAX_BODY} bytes, with its length"})
            try:
                objects = parse_notification(self.rfile.read(length))
            except NotificationError as exc:
                log.warning("notification_malformed", reason=str(exc)[:200])
                return self._reply(400, {"error": str(exc)[:300]})
            try:
                outcome = api.intake.receive(objects)
            except (redis.RedisError, TransientError, OSError) as exc:
                outage = outage_of(exc)
                if outage is not None:
                    outage.failed(exc)
                log.warning("notification_retry_later", error=type(exc).__name__, reason=str(exc)[:200])
                return self._reply(503, {"error": "a service is unavailable; send again"})
            except Exception as exc:          # noqa: BLE001 - a bug of ours: logged, answered, sent again later
                log.error("notification_failed", error=type(exc).__name__, reason=str(exc)[:200])
                return self._reply(500, {"error": "internal error; send again"})
            log.info("notification_received", objects=len(objects), **outcome)
            self._reply(200, {"objects": len(objects), **outcome})

        def do_GET(self):
            match = SUBMISSION.match(self._path())
            if match is None:
                return self._reply(404, {"error": "not found"})
            if not authorized(self.headers.get("Authorization"), api.status_token):
                return self._reply(401, {"error": "wrong or missing token"})
            try:
                answer = api.status(match[1])
            except (redis.RedisError, TransientError, OSError) as exc:
                log.warning("status_unavailable", error=type(exc).__name__)
                return self._reply(503, {"error": "a service is unavailable"})
            except Exception as exc:          # noqa: BLE001 - a bug of ours: logged and answered, not a dropped connection
                log.error("status_failed", error=type(exc).__name__, reason=str(exc)[:200])
                return self._reply(500, {"error": "internal error"})
            if answer is None:
                return self._reply(404, {"submission_id": match[1], "state": "unknown"})
            self._reply(200, answer)

    return Handler


class BoundedHTTPServer(ThreadingHTTPServer):
    """A thread per connection, at most `MAX_CONNECTIONS` at once: a flood of idle connections
    is turned away (closed), never a thread each."""

    daemon_threads = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request, client_address):
        if not self._slots.acquire(blocking=False):
            log.warning("http_connection_refused", reason="too many connections", peer=client_address[0])
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def serve(api: IngestAPI, host: str, port: int, stop: threading.Event) -> ThreadingHTTPServer:
    """Start serving in a thread; it shuts down when `stop` is set. Returns the server (its port)."""
    server = BoundedHTTPServer((host, port), _handler(api))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.5}, name="ingest-http", daemon=True).start()
    threading.Thread(target=lambda: (stop.wait(), server.shutdown()), name="ingest-http-stop", daemon=True).start()
    log.info("ingest_http_started", host=host, port=server.server_address[1])
    return server
