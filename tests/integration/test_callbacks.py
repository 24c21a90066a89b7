"""Callbacks over real HTTP on loopback: the allowed upload service gets the signed POST; a
loopback or private address, a name resolving to one and a redirect to one are refused."""

from __future__ import annotations

import hashlib
import hmac
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from structlog.testing import capture_logs

from workers.callbacks import CallbackRefused, Callbacks, allowed_target, post_signed

pytestmark = pytest.mark.integration
SECRET = "s3cret"


class Service:
    """An HTTP server on loopback that records what it is sent; `redirect_to` answers 302 there."""

    def __init__(self, redirect_to: str | None = None):
        hits: list[tuple[str, bytes, str]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hits.append((self.path, body, self.headers.get("X-Smartedu-Signature", "")))
                self.send_response(302 if redirect_to else 204)
                if redirect_to:
                    self.send_header("Location", redirect_to)
                self.end_headers()

            do_GET = do_POST

            def log_message(self, *args):
                pass

        self.hits = hits
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}/hooks/verdict"

    def close(self):
        self.server.shutdown()


@pytest.fixture
def service():
    served = Service()
    yield served
    served.close()


def test_the_allowed_upload_service_gets_the_signed_post(service):
    target = allowed_target(service.url(), ["127.0.0.1"], ["127.0.0.1/32"])
    assert post_signed(target, b'{"status": "pass"}', SECRET) == 204
    path, body, signature = service.hits[0]
    assert path == "/hooks/verdict" and body == b'{"status": "pass"}'
    assert signature == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize("host,hosts", [("127.0.0.1", ["127.0.0.1"]),       # loopback, no network allowed
                                        ("localhost", ["localhost"]),       # a name resolving to loopback
                                        ("127.0.0.1", [])])                  # not on the allowlist
def test_loopback_and_names_resolving_to_it_are_refused_before_connecting(service, host, hosts):
    with pytest.raises(CallbackRefused):
        allowed_target(service.url(host), hosts, [])
    assert service.hits == []


def test_a_redirect_is_not_followed(service):
    redirecting = Service(redirect_to=service.url())
    try:
        target = allowed_target(redirecting.url(), ["127.0.0.1"], ["127.0.0.1/32"])
        with pytest.raises(CallbackRefused, match="redirect"):
            post_signed(target, b"{}", SECRET)
        assert len(redirecting.hits) == 1 and service.hits == []
    finally:
        redirecting.close()


def test_a_refused_callback_is_one_log_line_and_no_retry(service):
    """The worker's delivery: refused, logged once, nothing raised (the notice is already on the stream)."""
    event = SimpleNamespace(callback_url="http://169.254.169.254/latest/meta-data/")
    flow = SimpleNamespace(context=lambda sid, rid: SimpleNamespace(event=event, layout=None), store=None,
                           settings=SimpleNamespace(callback_hosts=["169.254.169.254"], callback_networks=[],
                                                    callback_secret=SimpleNamespace(get_secret_value=lambda: SECRET)))
    with capture_logs() as logs:
        assert Callbacks(flow).deliver("s1", "r1") is None
    refused = [line for line in logs if line["event"] == "callback_refused"]
    assert len(refused) == 1 and refused[0]["host"] == "169.254.169.254" and "not allowed" in refused[0]["reason"]
