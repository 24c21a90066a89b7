"""The broker and its middleware: configured once, before any actor is declared."""

from __future__ import annotations

import logging
import os
import time

import dramatiq
import redis
import structlog
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AgeLimit, Callbacks, CurrentMessage, Pipelines, Retries, ShutdownNotifications, TimeLimit

from config.policy import StagePolicy, stage_policies
from config.settings import Settings
from pipeline.errors import PermanentError, TransientError

from . import outages
from .ledger import MessageLedger, part_of
from .outages import RepeatFilter, outage_of, wait_for_redis
from .redis_conn import connect
from .state import DRAMATIQ_NAMESPACE

log = structlog.get_logger("workers")


class LogContext(dramatiq.Middleware):
    """Binds submission_id, stage and message_id to every log line of a message, writes one
    summary line per stage, and records the stage's duration for `smartedu status`."""

    def __init__(self, stages: dict[str, str], state_factory):
        self.stages = stages
        self.state_factory = state_factory
        self._state = None

    def _state_or_none(self):
        if self._state is None:
            try:
                self._state = self.state_factory()
            except Exception:  # timings are best effort; the stage itself must not fail for them
                return None
        return self._state

    def before_process_message(self, broker, message):
        structlog.contextvars.clear_contextvars()
        first = message.args[0] if message.args else None
        if isinstance(first, dict):        # a gave-up actor: its first argument is the failed message
            first = (first.get("args") or [None])[0]
        submission_id = first if isinstance(first, str) else message.kwargs.get("submission_id")
        structlog.contextvars.bind_contextvars(submission_id=submission_id, stage=self.stages.get(message.actor_name, message.actor_name),
                                               message_id=message.message_id, retries=message.options.get("retries", 0))
        named = part_of(message)
        if named is not None:       # which part, window or piece: "video-3/window-0", "piece-3-7"
            structlog.contextvars.bind_contextvars(part=named[2])
        message.options["_started"] = time.monotonic()

    def after_process_message(self, broker, message, *, result=None, exception=None):
        seconds = time.monotonic() - message.options.pop("_started", time.monotonic())
        outage = outage_of(exception) if exception is not None else None
        if exception is None:
            log.info("stage_done", seconds=round(seconds, 3))
            outages.REDIS.recovered()
            outages.S3.recovered()
        elif outage is not None:
            outage.failed(exception)         # one line per outage; each message's retry is debug
            log.debug("stage_retry_outage", seconds=round(seconds, 3), service=outage.service)
        else:
            log.warning("stage_failed", seconds=round(seconds, 3), error=type(exception).__name__, reason=str(exception)[:300])
        state = self._state_or_none()
        if state is not None:
            try:
                state.record_timing(self.stages.get(message.actor_name, message.actor_name), seconds, exception is None)
            except Exception:
                pass
        structlog.contextvars.clear_contextvars()

    after_skip_message = after_process_message


def retry_when_for(policy: StagePolicy):
    """An outage is retried long enough to be outlasted, our own bug briefly, a bad upload never."""

    def retry_when(retries: int, exception: BaseException) -> bool:
        if isinstance(exception, PermanentError):
            return False
        if is_infrastructure_error(exception):
            return retries < policy.max_retries
        return retries < policy.max_unexpected_retries

    return retry_when


def is_infrastructure_error(exception: BaseException) -> bool:
    """Redis, S3 or the network failed, not the upload and not our code."""
    import urllib3

    return isinstance(exception, (TransientError, redis.RedisError, urllib3.exceptions.HTTPError, ConnectionError,
                                  TimeoutError))


def actor_options(stage: str) -> dict:
    policy = stage_policies()[stage]
    return {
        "queue_name": policy.queue,
        "max_retries": policy.max_retries,
        "retry_when": retry_when_for(policy),
        "min_backoff": int(policy.min_backoff_s * 1000),
        "max_backoff": int(policy.max_backoff_s * 1000),
        "time_limit": int(policy.time_limit_s * 1000),
        "max_age": int(policy.max_age_s * 1000),
        "priority": policy.priority,
    }


class DurableRedisBroker(RedisBroker):
    """A Redis broker whose enqueue waits for Redis to come back instead of failing.

    dramatiq's Retries middleware enqueues a failed message's retry after the actor ran; if
    Redis is down just then, the enqueue raises, the failure is logged and the message is
    acknowledged: the retry is gone. Waiting here keeps the message (and every next-stage
    send of an actor) until the broker answers again."""

    def enqueue(self, message, *, delay=None):
        parent = super().enqueue
        return wait_for_redis(lambda: parent(message, delay=delay), what=message.actor_name)


def build_broker(settings: Settings, stages: dict[str, str], timings) -> dramatiq.Broker:
    """A Redis broker, or dramatiq's stub one when the settings say `broker: stub` (the flow's
    unit tests: no Redis, so no message ledger). `timings` gives the state stage times go to."""
    middleware = [AgeLimit(), TimeLimit(), ShutdownNotifications(), Callbacks(), Pipelines(), Retries(), CurrentMessage(),
                  LogContext(stages, timings)]
    if settings.broker != "stub":
        middleware.append(MessageLedger(lambda: connect(settings)))
    repeats = RepeatFilter()
    for handler in logging.getLogger().handlers:
        handler.addFilter(repeats)
    if settings.prometheus and settings.broker != "stub":
        from dramatiq.middleware.prometheus import Prometheus

        os.environ.setdefault("dramatiq_prom_port", str(settings.metrics_port))
        middleware.append(Prometheus())
    if settings.broker == "stub":
        broker = StubBroker(middleware=middleware)
    else:
        broker = DurableRedisBroker(client=connect(settings, decode_responses=False), middleware=middleware, namespace=DRAMATIQ_NAMESPACE,
                                    heartbeat_timeout=settings.heartbeat_ms, maintenance_chance=settings.maintenance_chance)
    dramatiq.set_broker(broker)
    return broker
