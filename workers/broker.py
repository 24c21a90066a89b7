"""The broker and its middleware: configured once, before any actor is declared."""

from __future__ import annotations

import logging
import os
import threading
import time

import dramatiq
import redis
import structlog
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.errors import ConnectionClosed
from dramatiq.message import Message
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


ORPHAN_SWEEP_S = 30.0


class HandedOutConsumer(_RedisConsumer):
    """dramatiq's Redis consumer, telling its broker which messages it handed to the worker and
    which of those were settled (acked or nacked)."""

    def __next__(self):
        message = super().__next__()
        if message is not None:
            self.broker.handed_out(self.queue_name, message.options["redis_message_id"])
        return message

    def ack(self, message):
        super().ack(message)              # raises while Redis is down: the message stays handed out
        self.broker.settled(self.queue_name, message.options["redis_message_id"])

    def nack(self, message):
        super().nack(message)
        self.broker.settled(self.queue_name, message.options["redis_message_id"])


class DurableRedisBroker(RedisBroker):
    """A Redis broker that loses no message when Redis goes away and comes back (a restart, a
    Sentinel failover).

    - Enqueue waits for Redis instead of failing. dramatiq's Retries middleware enqueues a failed
      message's retry after the actor ran; if Redis is down just then, the enqueue raises, the
      failure is logged and the message is acknowledged: the retry is gone. Waiting here keeps
      the message (and every next-stage send of an actor) until the broker answers again.
    - Orphans go back on their queue. A message id in this process's acks set in Redis that
      the process does not hold is an orphan, and only a dead worker's messages are ever
      requeued: a live worker would keep it forever. Two ways make one:
      - On a connection error dramatiq drops the consumer's prefetched messages and the delayed
        ones (retries waiting for their time) it holds in memory. So each new consumer (at
        start, and after every connection error) first requeues what its queue's acks set
        holds beyond what is handed to the worker threads and not yet settled.
      - A failover that lost the last writes brings back, on the new primary, the acks-set
        entry of a message this process already acked on the old one (redis-py may reconnect
        before dramatiq ever sees an error). Every ORPHAN_SWEEP_S a thread requeues ids that
        were in the acks set, neither handed out nor in a consumer's prefetch cache, at two
        sweeps in a row (a message being fetched right now is in the cache by the next).
      Such a message runs again (stages are idempotent) instead of never.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._handed: dict[str, set[str]] = {}
        self._consumers: dict[str, _RedisConsumer] = {}
        self._handed_lock = threading.Lock()
        self._sweeper: threading.Thread | None = None

    @property
    def consumer_class(self):
        return HandedOutConsumer

    def handed_out(self, queue_name: str, redis_message_id: str) -> None:
        with self._handed_lock:
            self._handed.setdefault(queue_name, set()).add(redis_message_id)

    def settled(self, queue_name: str, redis_message_id: str) -> None:
        with self._handed_lock:
            self._handed.get(queue_name, set()).discard(redis_message_id)

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000):
        with self._handed_lock:
            self._consumers.pop(queue_name, None)
            if queue_name.endswith(".DQ"):
                self._handed.pop(queue_name, None)    # the consumer thread's delay queue was dropped with it
        try:
            self._requeue(queue_name, self._unclaimed(queue_name))
        except redis.RedisError as exc:
            raise ConnectionClosed(exc) from None      # dramatiq restarts the consumer, and we try again
        consumer = super().consume(queue_name, prefetch, timeout)
        with self._handed_lock:
            self._consumers[queue_name] = consumer
            if self._sweeper is None:
                self._sweeper = threading.Thread(target=self._sweep_orphans, name="orphan-sweep", daemon=True)
                self._sweeper.start()
        return consumer

    def _unclaimed(self, queue_name: str) -> set[str]:
        """Ids in this process's acks set of the queue that no worker thread, delay queue or
        prefetch cache of this process holds. What is held is read first, then the set."""
        with self._handed_lock:
            live = set(self._handed.get(queue_name, ()))
            consumer = self._consumers.get(queue_name)
            cached = list(consumer.message_cache) if consumer is not None else []
        for data in cached:
            if data is not None:
                live.add(Message.decode(data).options.get("redis_message_id"))
        held = self.client.smembers(f"{self.namespace}:__acks__.{self.broker_id}.{queue_name}")
        return {m.decode() if isinstance(m, bytes) else m for m in held} - live

    def _requeue(self, queue_name: str, orphans: set[str]) -> None:
        if orphans:
            self.do_requeue(queue_name, *sorted(orphans))
            log.warning("orphans_requeued", queue=queue_name, count=len(orphans))

    def sweep_orphans_once(self, suspects: dict[str, set[str]]) -> dict[str, set[str]]:
        """Requeue what was unclaimed at the last sweep and still is; returns this sweep's suspects."""
        with self._handed_lock:
            queues = list(self._consumers)
        now = {}
        for queue_name in queues:
            unclaimed = self._unclaimed(queue_name)
            self._requeue(queue_name, unclaimed & suspects.get(queue_name, set()))
            now[queue_name] = unclaimed - suspects.get(queue_name, set())
        return now

    def _sweep_orphans(self) -> None:
        suspects: dict[str, set[str]] = {}
        while True:
            time.sleep(ORPHAN_SWEEP_S)
            try:
                suspects = self.sweep_orphans_once(suspects)
            except redis.RedisError:
                suspects = {}                          # an outage: the consumers' restart requeues

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
