"""What operators ask: queue depths, workers alive, submissions in flight, stage latencies,
reruns and dead letters. Everything is read from Redis as dramatiq and the flow keep it."""

from __future__ import annotations

import json
import statistics
import time

import redis

from .notifications import UNPAIRED, WAITING
from .reconcile import summary as reconcile_summary
from .state import DRAMATIQ_NAMESPACE, FAILED, INFLIGHT, MEDIA_INFLIGHT, TIMINGS_STREAM

NAMESPACE = DRAMATIQ_NAMESPACE


def queue_stats(r: redis.Redis, queues: list[str]) -> list[dict]:
    rows = []
    for queue in queues:
        inflight = 0
        for key in r.scan_iter(match=f"{NAMESPACE}:__acks__.*.{queue}", count=500):
            inflight += r.scard(key)
        rows.append({"queue": queue, "ready": r.llen(f"{NAMESPACE}:{queue}"), "delayed": r.llen(f"{NAMESPACE}:{queue}.DQ"),
                     "in_flight": inflight, "dead": r.zcard(f"{NAMESPACE}:{queue}.XQ")})
    return rows


def workers_alive(r: redis.Redis, heartbeat_timeout_ms: int = 60000) -> int:
    now_ms = int(time.time() * 1000)
    return r.zcount(f"{NAMESPACE}:__heartbeats__", now_ms - heartbeat_timeout_ms, "+inf")


def stage_latencies(r: redis.Redis, window_s: int = 3600) -> dict[str, dict]:
    since = int((time.time() - window_s) * 1000)
    per_stage: dict[str, list[float]] = {}
    for _id, fields in r.xrange(TIMINGS_STREAM, min=f"{since}-0", max="+", count=100_000):
        per_stage.setdefault(fields["stage"], []).append(float(fields["seconds"]))
    out = {}
    for stage, values in sorted(per_stage.items()):
        values.sort()
        out[stage] = {"count": len(values), "p50": statistics.median(values),
                      "p95": values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]}
    return out


def status(r: redis.Redis, queues: list[str]) -> dict:
    oldest = r.zrange(INFLIGHT, 0, 0, withscores=True)
    return {
        "queues": queue_stats(r, queues),
        "workers_alive": workers_alive(r),
        "in_progress": r.zcard(INFLIGHT),
        "oldest_in_progress_s": round(time.time() - oldest[0][1], 1) if oldest else None,
        "oldest_submission": oldest[0][0] if oldest else None,
        "failed": r.zcard(FAILED),
        "media_in_progress": r.zcard(MEDIA_INFLIGHT),
        "stages_last_hour": stage_latencies(r),
        "reconciler": reconcile_summary(r),
        # bucket notifications: manifests waiting for their zip, uploads waiting for a manifest
        "uploads_waiting": {"manifests": r.zcard(WAITING), "unpaired": r.zcard(UNPAIRED)},
    }


def failed_since(r: redis.Redis, since_ts: float) -> list[str]:
    return list(r.zrangebyscore(FAILED, since_ts, "+inf"))


def dead_letters(r: redis.Redis, queues: list[str]) -> list[dict]:
    rows = []
    for queue in queues:
        entries = r.zrange(f"{NAMESPACE}:{queue}.XQ", 0, -1, withscores=True)
        if not entries:
            continue
        bodies = r.hmget(f"{NAMESPACE}:{queue}.XQ.msgs", [message_id for message_id, _ in entries])
        for (message_id, failed_ms), body in zip(entries, bodies):
            data = json.loads(body) if body else {}
            rows.append({"queue": queue, "message_id": message_id, "actor": data.get("actor_name"), "args": data.get("args"),
                         "failed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(failed_ms / 1000)), "raw": body})
    return rows


def requeue_dead_letters(r: redis.Redis, broker, queues: list[str]) -> int:
    """Put dead-lettered messages back on their queues with their retry count reset."""
    import dramatiq

    moved = 0
    for row in dead_letters(r, queues):
        if not row["raw"]:
            continue
        message = dramatiq.Message.decode(row["raw"].encode())
        options = {k: v for k, v in message.options.items() if k not in ("retries", "traceback", "requeue_timestamp")}
        broker.enqueue(message.copy(options=options))
        pipe = r.pipeline()
        pipe.zrem(f"{NAMESPACE}:{row['queue']}.XQ", row["message_id"])
        pipe.hdel(f"{NAMESPACE}:{row['queue']}.XQ.msgs", row["message_id"])
        pipe.execute()
        moved += 1
    return moved


def _iso(stamp) -> str | None:
    from datetime import datetime, timezone

    try:
        return datetime.fromtimestamp(float(stamp), tz=timezone.utc).isoformat(timespec="seconds")
    except (TypeError, ValueError):
        return None


def _newer(stamp, than) -> bool:
    try:
        return float(stamp) > float(than)
    except (TypeError, ValueError):
        return False


def submission_status(r: redis.Redis, store, submission_id: str) -> dict | None:
    """Where one submission is, for the upload service's status endpoint: how its manifest was
    received (waiting for its archive, queued, refused), its current run's stage and parts, whether
    its previews are still being made, and its verdict's key and status. None when nothing is known.

    `state`: waiting | refused | queued | running | done. A verdict written more than the run
    state's 7 days ago is still found in the bucket.
    """
    from pipeline.layout import Layout

    from .notifications import intake_key
    from .state import RunState

    runs = RunState(r)
    intake = r.hgetall(intake_key(submission_id))
    run_id = runs.current_run(submission_id)
    progress = runs.progress(submission_id, run_id) if run_id else {}
    verdict_key = Layout(submission_id).verdict()
    answer: dict = {"submission_id": submission_id}
    if intake:
        answer["intake"] = {"state": intake.get("state"), "manifest": intake.get("manifest") or None,
                            "missing": json.loads(intake.get("missing") or "[]"), "reason": intake.get("reason") or None,
                            "at": _iso(intake.get("at"))}
    if progress:
        stage = progress.get("stage", "queued")
        done = runs.done_count(submission_id, run_id, "parts")
        answer.update({
            "state": "done" if stage == "done" else "queued" if stage == "queued" else "running",
            "run_id": run_id, "stage": stage,
            "started_at": _iso(progress.get("started_at")), "updated_at": _iso(progress.get("touched_at")),
            "parts": {"done": done, "expected": int(progress["expected"]) if progress.get("expected") else None},
            "previews": "pending" if r.zscore(MEDIA_INFLIGHT, submission_id) is not None else
                        "done" if stage == "done" else None,
        })
        if stage == "done":
            answer["verdict"] = {"key": verdict_key, "status": progress.get("status")}
        if intake and _newer(intake.get("at"), progress.get("started_at")):
            answer["state"] = intake.get("state")   # a re-submission queued, waiting or refused: that is where it is
        return answer
    if intake:
        answer["state"] = intake.get("state")       # waiting | queued (not yet started) | refused
        return answer
    stored = store.get_json(verdict_key) if store is not None else None
    if stored:
        answer.update({"state": "done", "verdict": {"key": verdict_key, "status": stored.get("status")}})
        return answer
    return None
