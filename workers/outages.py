"""Outages of Redis and S3 as operators want to read them: one line when a service goes away,
one when it is back (with how long it was gone), never one per message or per retry."""

from __future__ import annotations

import logging
import threading
import time

import redis
import structlog

from pipeline.errors import TransientError

log = structlog.get_logger("workers")


class Outage:
    def __init__(self, service: str):
        self.service = service
        self.since: float | None = None
        self.failures = 0
        self._lock = threading.Lock()

    def failed(self, error: BaseException) -> None:
        with self._lock:
            self.failures += 1
            if self.since is None:
                self.since = time.monotonic()
                log.warning("service_unavailable", service=self.service, error=type(error).__name__, reason=str(error)[:200])

    def recovered(self) -> None:
        with self._lock:
            if self.since is not None:
                log.info("service_available", service=self.service, outage_s=round(time.monotonic() - self.since, 1),
                         failures=self.failures)
                self.since, self.failures = None, 0

    @property
    def down(self) -> bool:
        return self.since is not None


REDIS = Outage("redis")
S3 = Outage("s3")


def outage_of(error: BaseException) -> Outage | None:
    """The service an exception says is down, if it is an infrastructure failure."""
    if isinstance(error, (redis.ConnectionError, redis.TimeoutError)):
        return REDIS
    if isinstance(error, TransientError) and str(error).startswith("S3"):
        return S3
    return None


def wait_for_redis(operation, *, what: str, max_wait_s: float = 600.0, first_delay_s: float = 0.5):
    """Run `operation()` until Redis answers, waiting with backoff; the outage is logged once.

    A retry or a next-stage message that cannot be enqueued while Redis restarts must not be
    dropped: the caller waits for the broker instead. Past `max_wait_s` the error is raised
    (the reconciler finds what was lost).
    """
    deadline = time.monotonic() + max_wait_s
    delay = first_delay_s
    while True:
        try:
            result = operation()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            REDIS.failed(exc)
            if time.monotonic() + delay > deadline:
                log.error("redis_wait_gave_up", what=what, waited_s=round(max_wait_s, 1))
                raise
            time.sleep(delay)
            delay = min(delay * 2, 10.0)
            continue
        REDIS.recovered()
        return result


class RepeatFilter(logging.Filter):
    """Lets the first of dramatiq's connection warnings through per window: while Redis is down,
    'Restarting consumer in 3.00 seconds' comes every 3 s from every consumer thread."""

    PATTERNS = ("connection error", "restarting consumer", "error while", "connectionerror")

    def __init__(self, window_s: float = 300.0):
        super().__init__()
        self.window_s = window_s
        self._seen: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("dramatiq") or not isinstance(record.msg, str):
            return True
        if not any(p in record.msg.lower() for p in self.PATTERNS):
            return True
        key = record.msg        # not the logger: each queue's consumer thread has a logger of its own
        now = time.monotonic()
        last = self._seen.get(key)
        if last is not None and now - last < self.window_s:
            return False
        if len(self._seen) > 1000:
            self._seen.clear()
        self._seen[key] = now
        return True
