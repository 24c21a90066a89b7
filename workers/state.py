"""What the runtime keeps in Redis: the current run of each submission, which of its parts
are done, which notices were announced, stage timings and failures.

Completion is a set of part names (SADD is idempotent), never a counter: a redelivered
message re-adds its name and changes nothing. Keys share the contract's `smartedu:` prefix.
"""

from __future__ import annotations

import time
import uuid
from typing import Protocol

import redis

from pipeline.state.base import KEY_PREFIX

PREFIX = KEY_PREFIX
DRAMATIQ_NAMESPACE = f"{PREFIX}dramatiq"         # dramatiq's queues, acks, heartbeats and dead letters
UPLOADS_STREAM = f"{PREFIX}uploads"
VERDICTS_STREAM = f"{PREFIX}verdicts"
TIMINGS_STREAM = f"{PREFIX}timings"
INFLIGHT = f"{PREFIX}inflight"
MEDIA_INFLIGHT = f"{PREFIX}media-inflight"      # submission_id -> when its verdict went out with previews pending
FAILED = f"{PREFIX}failed"
RECONCILER = f"{PREFIX}reconciler"              # hash: last pass, counters
RECONCILER_ACTIONS = f"{PREFIX}reconciler:actions"
VERDICT_METRICS = f"{PREFIX}metrics:verdicts"   # hash: status:<s> counts, le:<bound> latency buckets, sum
LATENCY_BUCKETS_S = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600)
TTL_S = 7 * 24 * 3600
STREAM_MAXLEN = 100_000

# Announce a notice once per (run, kind): the membership test and the XADD are one atomic step.
_NOTICE_ONCE = """
if redis.call('SADD', KEYS[1], ARGV[1]) == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  if ARGV[7] ~= '' then
    return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*',
                      'submission_id', ARGV[2], 'status', ARGV[3], 'key', ARGV[4], 'kind', ARGV[1], 'reason', ARGV[7])
  end
  return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*',
                    'submission_id', ARGV[2], 'status', ARGV[3], 'key', ARGV[4], 'kind', ARGV[1])
end
return false
"""


def progress_key(submission_id: str, run_id: str) -> str:
    """The hash of one run's progress (stage, started and touched times, expected parts, status)."""
    return f"{PREFIX}progress:{submission_id}:{run_id}"


def new_run_id() -> str:
    return uuid.uuid4().hex[:16]


def latency_bucket(seconds: float) -> str:
    """The histogram field a latency falls in (counts per bucket; the exporter accumulates)."""
    bound = next((b for b in LATENCY_BUCKETS_S if seconds <= b), None)
    return f"le:{bound:g}" if bound is not None else "le:+Inf"


class FlowState(Protocol):
    """What the flow keeps about its runs: `RunState` (Redis) in a deployment, `LocalRunState`
    (SQLite) where the flow runs without Redis (its unit tests)."""

    def start_run(self, submission_id: str, run_id: str) -> None: ...
    def is_current(self, submission_id: str, run_id: str) -> bool: ...
    def set_stage(self, submission_id: str, run_id: str, stage: str) -> None: ...
    def expect(self, submission_id: str, run_id: str, group: str, names: list[str], *, replace: bool = True) -> None: ...
    def mark_done(self, submission_id: str, run_id: str, group: str, name: str) -> bool: ...
    def complete(self, submission_id: str, run_id: str, group: str) -> bool: ...
    def pending(self, submission_id: str, run_id: str, group: str) -> set[str]: ...
    def expected(self, submission_id: str, run_id: str, group: str) -> set[str]: ...
    def expect_parts(self, submission_id: str, run_id: str, names: list[str]) -> None: ...
    def part_done(self, submission_id: str, run_id: str, name: str) -> bool: ...
    def all_done(self, submission_id: str, run_id: str) -> bool: ...
    def announce(self, submission_id: str, run_id: str, kind: str, status: str, key: str, reason: str = "") -> bool: ...
    def finish(self, submission_id: str, run_id: str, status: str, *, media_pending: bool = False) -> None: ...
    def media_finished(self, submission_id: str) -> None: ...
    def record_verdict(self, submission_id: str, run_id: str, status: str) -> float | None: ...
    def add_seconds(self, submission_id: str, run_id: str, what: str, seconds: float) -> None: ...
    def seconds(self, submission_id: str, run_id: str, what: str) -> float | None: ...
    def record_timing(self, stage: str, seconds: float, ok: bool) -> None: ...


class RunState:
    def __init__(self, client: redis.Redis):
        self.r = client
        self._notice = client.register_script(_NOTICE_ONCE)

    # runs -----------------------------------------------------------------
    def start_run(self, submission_id: str, run_id: str) -> None:
        """Make `run_id` the submission's current run; messages of older runs are dropped."""
        now = time.time()
        pipe = self.r.pipeline()
        pipe.set(f"{PREFIX}run:{submission_id}", run_id, ex=TTL_S)
        pipe.hset(progress_key(submission_id, run_id), mapping={"started_at": now, "touched_at": now, "stage": "queued"})
        pipe.expire(progress_key(submission_id, run_id), TTL_S)
        pipe.zadd(INFLIGHT, {submission_id: now})
        pipe.execute()

    def current_run(self, submission_id: str) -> str | None:
        return self.r.get(f"{PREFIX}run:{submission_id}")

    def is_current(self, submission_id: str, run_id: str) -> bool:
        return self.current_run(submission_id) == run_id

    def set_stage(self, submission_id: str, run_id: str, stage: str) -> None:
        self.r.hset(progress_key(submission_id, run_id), mapping={"stage": stage, "touched_at": time.time()})

    def touch(self, submission_id: str, run_id: str, pipe=None) -> None:
        """The run moved (a part done): the reconciler leaves it alone for a while."""
        (pipe or self.r).hset(progress_key(submission_id, run_id), "touched_at", time.time())

    def progress(self, submission_id: str, run_id: str) -> dict:
        return self.r.hgetall(progress_key(submission_id, run_id))

    def add_seconds(self, submission_id: str, run_id: str, what: str, seconds: float) -> None:
        """Time spent on `what` across messages (the previews of a run, made by many workers)."""
        self.r.hincrbyfloat(progress_key(submission_id, run_id), f"seconds:{what}", seconds)

    def seconds(self, submission_id: str, run_id: str, what: str) -> float | None:
        value = self.r.hget(progress_key(submission_id, run_id), f"seconds:{what}")
        return float(value) if value is not None else None

    # completion sets -------------------------------------------------------
    # A group ("parts", "media", "segments-3" ...) is a set of expected names and a set of
    # done names; it is complete when nothing expected is missing.
    def _keys(self, submission_id: str, run_id: str, group: str) -> tuple[str, str]:
        return f"{PREFIX}expected:{group}:{submission_id}:{run_id}", f"{PREFIX}done:{group}:{submission_id}:{run_id}"

    def expect(self, submission_id: str, run_id: str, group: str, names: list[str], *, replace: bool = True) -> None:
        expected, done = self._keys(submission_id, run_id, group)
        pipe = self.r.pipeline()
        if replace:
            pipe.delete(expected, done)
        if names:
            pipe.sadd(expected, *names)
        pipe.expire(expected, TTL_S)
        pipe.execute()

    def mark_done(self, submission_id: str, run_id: str, group: str, name: str) -> bool:
        """Record a finished name; True when every expected name of the group is done."""
        expected, done = self._keys(submission_id, run_id, group)
        pipe = self.r.pipeline()
        pipe.sadd(done, name)
        pipe.expire(done, TTL_S)
        self.touch(submission_id, run_id, pipe)
        pipe.sdiff(expected, done)
        missing = pipe.execute()[-1]
        return not missing

    def done_count(self, submission_id: str, run_id: str, group: str) -> int:
        return self.r.scard(self._keys(submission_id, run_id, group)[1])

    def complete(self, submission_id: str, run_id: str, group: str) -> bool:
        return not self.r.sdiff(*self._keys(submission_id, run_id, group))

    def pending(self, submission_id: str, run_id: str, group: str) -> set[str]:
        return set(self.r.sdiff(*self._keys(submission_id, run_id, group)))

    def expected(self, submission_id: str, run_id: str, group: str) -> set[str]:
        return set(self.r.smembers(self._keys(submission_id, run_id, group)[0]))

    def expect_parts(self, submission_id: str, run_id: str, names: list[str]) -> None:
        self.expect(submission_id, run_id, "parts", names)
        self.r.hset(progress_key(submission_id, run_id), "expected", len(names))

    def part_done(self, submission_id: str, run_id: str, name: str) -> bool:
        return self.mark_done(submission_id, run_id, "parts", name)

    def all_done(self, submission_id: str, run_id: str) -> bool:
        return self.complete(submission_id, run_id, "parts")

    # notices --------------------------------------------------------------
    def announce(self, submission_id: str, run_id: str, kind: str, status: str, key: str, reason: str = "") -> bool:
        """Add a notice to `smartedu:verdicts` once per run and kind (with `reason` when a step
        failed, e.g. previews that could not be made); False if already there."""
        added = self._notice(keys=[f"{PREFIX}notices:{submission_id}:{run_id}", VERDICTS_STREAM],
                             args=[kind, submission_id, status, key, TTL_S, STREAM_MAXLEN, reason[:500]])
        return bool(added)

    def finish(self, submission_id: str, run_id: str, status: str, *, media_pending: bool = False) -> None:
        pipe = self.r.pipeline()
        pipe.zrem(INFLIGHT, submission_id)
        if media_pending:
            pipe.zadd(MEDIA_INFLIGHT, {submission_id: time.time()})
        pipe.hset(progress_key(submission_id, run_id), mapping={"stage": "done", "status": status})
        if status == "error":
            pipe.zadd(FAILED, {submission_id: time.time()})
        else:
            pipe.zrem(FAILED, submission_id)
        pipe.execute()

    def media_finished(self, submission_id: str) -> None:
        self.r.zrem(MEDIA_INFLIGHT, submission_id)

    def record_verdict(self, submission_id: str, run_id: str, status: str) -> float | None:
        """Count a verdict by status and its latency from the run's start (once per run: the
        caller records only the first announcement). Returns the latency."""
        started = self.r.hget(progress_key(submission_id, run_id), "started_at")
        seconds = max(0.0, time.time() - float(started)) if started else None
        pipe = self.r.pipeline()
        pipe.hincrby(VERDICT_METRICS, f"status:{status}", 1)
        if seconds is not None:
            pipe.hincrby(VERDICT_METRICS, latency_bucket(seconds), 1)
            pipe.hincrbyfloat(VERDICT_METRICS, "sum", seconds)
        pipe.execute()
        return seconds

    # timings --------------------------------------------------------------
    def record_timing(self, stage: str, seconds: float, ok: bool) -> None:
        self.r.xadd(TIMINGS_STREAM, {"stage": stage, "seconds": f"{seconds:.3f}", "ok": int(ok)},
                    maxlen=STREAM_MAXLEN, approximate=True)
