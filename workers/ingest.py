"""Read upload events from the `smartedu:uploads` stream and start their runs.

An entry is acknowledged only after its run is enqueued; a consumer that dies leaves its
entries pending, and any live consumer claims them back after `claim_idle_ms`. The run id is
derived from the entry id, so an entry processed twice starts the same run, not a second.
"""

from __future__ import annotations

import json
import os
import socket
import threading

import redis
import structlog

from pipeline.errors import EventError, TransientError

from .outages import REDIS, S3, outage_of
from .state import PREFIX, TTL_S, UPLOADS_STREAM, VERDICTS_STREAM

log = structlog.get_logger("ingest")
GROUP = "ingest"


def run_id_for_entry(entry_id: str) -> str:
    return "e" + entry_id.replace("-", "x")


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def ensure_group(r: redis.Redis) -> None:
    try:
        r.xgroup_create(UPLOADS_STREAM, GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def guess_submission_id(raw: str | bytes | None) -> str:
    """The submission id of an event that failed validation, for its error notice ("" if none)."""
    try:
        value = json.loads(raw or "").get("submission_id")
        return value if isinstance(value, str) else ""
    except (ValueError, AttributeError):
        return ""


def answer_bad_event(r: redis.Redis, entry_id: str, raw: str | None, reason: str) -> None:
    """An `error` verdict notice for an event that cannot be processed, once per entry."""
    if r.set(f"{PREFIX}bad-event:{entry_id}", 1, nx=True, ex=TTL_S):
        r.xadd(VERDICTS_STREAM, {"submission_id": guess_submission_id(raw)[:64], "status": "error", "key": "",
                                 "kind": "verdict", "reason": reason[:500], "entry_id": entry_id})


def claim_event(r: redis.Redis, event, run_id: str) -> str:
    """The run of this very event: `run_id`, or the run an identical event (the same fields,
    re-sent) already has. The upload service re-sends an event whose XADD a replica did not
    confirm (`WAIT`) before a failover: the copy must not start a second run."""
    import hashlib

    canonical = json.dumps(event.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    key = f"{PREFIX}event-run:{hashlib.sha256(canonical.encode()).hexdigest()[:32]}"
    if r.set(key, run_id, nx=True, ex=TTL_S):
        return run_id
    return r.get(key) or run_id


def handle_entry(r: redis.Redis, entry_id: str, fields: dict, start) -> bool:
    """Start the run for one entry; True when the entry may be acknowledged."""
    from pipeline.models import parse_event

    raw = fields.get("event")
    try:
        event = parse_event(raw if raw is not None else b"")
        run_id = claim_event(r, event, run_id_for_entry(entry_id))
        if run_id != run_id_for_entry(entry_id):
            log.info("event_repeated", submission_id=event.submission_id, run_id=run_id, entry_id=entry_id)
            return True
        run_id = start(event, run_id)
        log.info("event_ingested", submission_id=event.submission_id, run_id=run_id, entry_id=entry_id)
        return True
    except EventError as exc:
        log.warning("bad_event", entry_id=entry_id, reason=str(exc)[:300])
        answer_bad_event(r, entry_id, raw, str(exc))
        return True
    except (TransientError, redis.RedisError, OSError) as exc:
        outage = outage_of(exc)
        if outage is not None:
            outage.failed(exc)              # logged once per outage; the entry stays pending
        else:
            log.warning("ingest_retry_later", entry_id=entry_id, error=type(exc).__name__, reason=str(exc)[:300])
        return False


def ingest_once(r: redis.Redis, start, *, consumer: str, block_ms: int = 2000, claim_idle_ms: int = 60000, count: int = 20) -> int:
    handled = 0
    _, claimed, _ = r.xautoclaim(UPLOADS_STREAM, GROUP, consumer, min_idle_time=claim_idle_ms, start_id="0-0", count=count)
    batches = [claimed] if claimed else []
    read = r.xreadgroup(GROUP, consumer, {UPLOADS_STREAM: ">"}, count=count, block=block_ms)
    batches += [entries for _stream, entries in read or []]
    for entries in batches:
        for entry_id, fields in entries:
            if fields is None:      # trimmed from the stream while pending
                r.xack(UPLOADS_STREAM, GROUP, entry_id)
                continue
            if handle_entry(r, entry_id, fields, start):
                r.xack(UPLOADS_STREAM, GROUP, entry_id)
                handled += 1
    return handled


def run_ingest(r: redis.Redis, start, stop: threading.Event, *, claim_idle_ms: int = 60000) -> None:
    ensure_group(r)
    consumer = consumer_name()
    log.info("ingest_started", consumer=consumer)
    while not stop.is_set():
        try:
            if ingest_once(r, start, consumer=consumer, claim_idle_ms=claim_idle_ms):
                S3.recovered()
            REDIS.recovered()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            REDIS.failed(exc)
            stop.wait(2)
        except redis.RedisError as exc:
            if "NOGROUP" in str(exc):       # Redis came back without its data (no AOF): the group is gone
                ensure_group(r)
            else:
                log.warning("ingest_redis_error", error=str(exc)[:200])
            stop.wait(2)
