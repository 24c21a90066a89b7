"""Every process's Redis: one URL, or the primary that Redis Sentinel names, found again after a failover.

With `SMARTEDU_REDIS_SENTINELS` set, each client asks the sentinels for the primary of
`SMARTEDU_REDIS_MASTER` whenever it opens a connection (redis-py's SentinelConnectionPool). A
connection to a primary that died fails, and the next one goes to the promoted replica. A
connection to a primary that was demoted gets READONLY on its first write: redis-py drops it
as a connection error and asks again, so no process keeps writing to a demoted primary. For our
code both are the outage it already survives (a Redis restart). The URL still gives the
database, user and password. A process logs one `redis_failover` line when the primary it
is given changes.
"""

from __future__ import annotations

import threading

import redis
import structlog
from redis.connection import parse_url
from redis.sentinel import Sentinel

log = structlog.get_logger("workers")

SENTINEL_TIMEOUT_S = 1.0      # a sentinel that does not answer in this long is skipped for the next
SOCKET_TIMEOUT_S = 30.0       # above every blocking read we make (XREADGROUP, BLMOVE: 2 s), so a
                              # primary whose machine vanished (no RST) is noticed, not waited on forever


class WatchedSentinel(Sentinel):
    """Sentinel whose answers are compared: a new primary is one log line per process."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()
        self._primary: dict[str, tuple] = {}

    def discover_master(self, service_name):
        address = super().discover_master(service_name)
        with self._lock:
            before = self._primary.get(service_name)
            self._primary[service_name] = address
        if before is not None and before != address:
            log.warning("redis_failover", master=service_name, primary=f"{address[0]}:{address[1]}",
                        previous=f"{before[0]}:{before[1]}")
        return address


_sentinels: dict[tuple, WatchedSentinel] = {}
_sentinels_lock = threading.Lock()


def _sentinel(settings) -> WatchedSentinel:
    hosts = tuple((host.rsplit(":", 1)[0], int(host.rsplit(":", 1)[1]) if ":" in host else 26379)
                  for host in settings.redis_sentinels)
    password = settings.redis_sentinel_password.get_secret_value() or None
    with _sentinels_lock:
        found = _sentinels.get((hosts, password))
        if found is None:
            found = _sentinels[(hosts, password)] = WatchedSentinel(
                list(hosts), socket_timeout=SENTINEL_TIMEOUT_S,
                sentinel_kwargs={"password": password, "socket_timeout": SENTINEL_TIMEOUT_S, "socket_connect_timeout": SENTINEL_TIMEOUT_S})
        return found


def connect(settings, *, decode_responses: bool = True) -> redis.Redis:
    """A client of the deployment's Redis: `settings.redis_url`, or Sentinel's primary."""
    if not settings.redis_sentinels:
        return redis.Redis.from_url(settings.redis_url, decode_responses=decode_responses)
    given = parse_url(settings.redis_url)
    auth = {name: given[name] for name in ("db", "username", "password") if given.get(name) is not None}
    return _sentinel(settings).master_for(settings.redis_master, redis_class=redis.Redis, decode_responses=decode_responses,
                                          socket_timeout=SOCKET_TIMEOUT_S, socket_connect_timeout=SENTINEL_TIMEOUT_S * 2,
                                          socket_keepalive=True, **auth)


def confirm_replicated(client: redis.Redis, settings, what: str) -> bool:
    """After a write that must survive a failover: WAIT for one replica (Sentinel mode only).
    False, and one warning, when none confirmed in time: the write may be lost if the primary
    dies now, and the caller says what covers it."""
    if not settings.redis_sentinels:
        return True
    confirmed = client.wait(1, settings.redis_wait_ms)
    if confirmed < 1:
        log.warning("replication_unconfirmed", what=what, wait_ms=settings.redis_wait_ms)
    return confirmed >= 1
