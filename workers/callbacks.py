"""The verdict announced to the upload service's callback URL, signed, and only there.

An event names its callback URL, and an event is upload-side input: a URL at our Redis, a
cloud metadata address or any machine inside the deployment's network would have our workers
send requests there. So a callback goes only to a host on the allowlist (settings
`callback_hosts`: the upload service), every address its name resolves to is checked before
connecting (loopback, private, link-local, multicast and reserved addresses are refused unless
a network of `callback_networks` holds them), the connection is made to the address that was
checked (a second lookup cannot answer differently), and a redirect is never followed. A
refused callback is one `callback_refused` log line; the notice stays on the stream.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit

import structlog

from pipeline.errors import EventError, TransientError

log = structlog.get_logger("workers")

Resolver = Callable[[str, int], list[str]]


class CallbackRefused(EventError):
    """The callback URL is not one the deployment allows: never retried."""


class Callbacks:
    def __init__(self, flow):
        self.flow = flow

    def deliver(self, submission_id: str, run_id: str) -> int | None:
        """POST the verdict to the event's callback URL, signed, where the allowlist lets it;
        raises TransientError to retry."""
        ctx = self.flow.context(submission_id, run_id)
        if ctx is None or not ctx.event.callback_url:
            return None
        settings = self.flow.settings
        try:
            target = allowed_target(ctx.event.callback_url, settings.callback_hosts, settings.callback_networks)
        except CallbackRefused as exc:
            log.warning("callback_refused", reason=str(exc), host=_host_of(ctx.event.callback_url))
            return None
        body = self.flow.store.get_bytes(ctx.layout.verdict())
        try:
            status = post_signed(target, body, settings.callback_secret.get_secret_value())
        except CallbackRefused as exc:
            log.warning("callback_refused", reason=str(exc), host=target.host)
            return None
        log.info("callback_delivered", http_status=status)
        return status


@dataclass(frozen=True)
class Target:
    """A checked callback: where to connect (`address`) and what to ask for there."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


def _host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "")[:100]
    except ValueError:
        return ""


def resolve(host: str, port: int) -> list[str]:
    """Every address the name resolves to (the system's resolver).

    Raises:
        TransientError: the name does not resolve now (DNS may be down: retried).
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise TransientError(f"callback host does not resolve: {exc}") from exc
    return sorted({info[4][0] for info in infos})


def host_allowed(host: str, allowed_hosts: list[str]) -> bool:
    """The exact name, or a name under an entry written as `.example.edu.cn` or `*.example.edu.cn`."""
    host = host.lower().rstrip(".")
    for entry in (e.strip().lower().rstrip(".") for e in allowed_hosts):
        if not entry:
            continue
        if entry.startswith(("*.", ".")):
            if host.endswith("." + entry.lstrip("*.")):
                return True
        elif host == entry:
            return True
    return False


def address_allowed(address: str, networks: list[str]) -> bool:
    """A public unicast address, or one inside a network the settings name."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in ipaddress.ip_network(net.strip(), strict=False) for net in networks if net.strip()):
        return True
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local or ip.is_private)


def allowed_target(url: str, allowed_hosts: list[str], networks: list[str], resolver: Resolver = resolve) -> Target:
    """The URL checked: http(s), no user info, a host on the allowlist, every address it
    resolves to allowed. Returns where to connect.

    Raises:
        CallbackRefused: any of these fails (said once, never retried).
        TransientError: the name does not resolve now.
    """
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise CallbackRefused("callback URL does not parse") from exc
    if parts.scheme not in ("http", "https"):
        raise CallbackRefused(f"callback URL scheme not allowed: {parts.scheme[:10]!r}")
    if parts.username is not None or parts.password is not None or not parts.hostname:
        raise CallbackRefused("callback URL with user info or without a host")
    host = parts.hostname
    if not host_allowed(host, allowed_hosts):
        raise CallbackRefused(f"callback host {host[:100]!r} is not on the allowlist (SMARTEDU_CALLBACK_HOSTS)")
    addresses = resolver(host, port)
    if not addresses:
        raise TransientError(f"callback host {host[:100]!r} resolves to nothing")
    refused = [a for a in addresses if not address_allowed(a, networks)]
    if refused:
        raise CallbackRefused(f"callback host {host[:100]!r} resolves to {refused[0]}, an address not allowed "
                              f"(loopback, private, link-local or reserved; SMARTEDU_CALLBACK_NETWORKS)")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, host, port, path, addresses[0])


class _Pinned(http.client.HTTPConnection):
    """Connects to the checked address, whatever the name would resolve to now."""

    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self.address = target.address

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedTLS(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self.address = target.address

    def connect(self):
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


def sign(body: bytes, secret: str) -> str:
    """The `X-Smartedu-Signature` header value: HMAC-SHA256 of the exact body bytes."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_signed(target: Target, body: bytes, secret: str, timeout_s: float = 10) -> int:
    """POST to the checked address; a redirect is an answer, never followed.

    Raises:
        CallbackRefused: a redirect, or a 4xx the service will answer again.
        TransientError: unreachable, or an answer worth retrying (5xx, 408, 429).
    """
    connection = (_PinnedTLS if target.scheme == "https" else _Pinned)(target, timeout_s)
    headers = {"Content-Type": "application/json", "X-Smartedu-Signature": sign(body, secret), "User-Agent": "smartedu-pipeline"}
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        status = connection.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        raise TransientError(f"callback unreachable: {exc}") from exc
    finally:
        connection.close()
    if 300 <= status < 400:
        raise CallbackRefused(f"callback answered a redirect (HTTP {status}), not followed")
    if 400 <= status < 500 and status not in (408, 429):
        raise EventError(f"callback refused with HTTP {status}")
    if status >= 500 or status in (408, 429):
        raise TransientError(f"callback answered HTTP {status}")
    return status
