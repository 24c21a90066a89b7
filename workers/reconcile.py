"""The reconciler: a lost message must not lose a submission.

Runs in progress live in Redis (`smartedu:inflight`, and `smartedu:media-inflight` for
previews still being made after the verdict). A pass looks at every run that has not moved
for `grace_s`, finds the parts it still waits for, and asks the ledger where each part's
message is: still queued, delayed or in flight (leave it), dead-lettered (its stage gave up),
or gone (re-send it: every stage is idempotent). After `max_attempts` re-sends of one part
the run gets its `error` verdict, or the video its `media` notice saying the previews failed.
One pass at a time per deployment (a Redis lock), so running two reconcilers is safe.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis
import structlog

from pipeline.layout import Layout

from . import ledger, messages
from .state import INFLIGHT, MEDIA_INFLIGHT, PREFIX, RECONCILER, RECONCILER_ACTIONS, TTL_S, RunState

log = structlog.get_logger("reconciler")
LOCK = f"{PREFIX}reconciler:lock"
ACTIONS_MAXLEN = 10_000


@dataclass
class ReconcilePolicy:
    grace_s: float = 120.0          # a run that moved more recently than this is left alone
    max_attempts: int = 3           # re-sends of one part before the run (or the preview) is given up
    lock_s: float = 60.0


@dataclass
class PassReport:
    watched: int = 0
    resent: list[str] = field(default_factory=list)
    gave_up: list[str] = field(default_factory=list)


class Reconciler:
    """`resend(actor_name, args)` enqueues a message; `give_up(sid, run, stage, reason)` writes the
    error verdict; `media_gave_up(sid, run, index, reason)` completes a video's media with its reason."""

    def __init__(self, state: RunState, resend: Callable[[str, list], None], give_up: Callable[[str, str, str, str], None],
                 media_gave_up: Callable[[str, str, int, str], None], policy: ReconcilePolicy | None = None):
        self.state, self.r = state, state.r
        self.resend, self.give_up, self.media_gave_up = resend, give_up, media_gave_up
        self.policy = policy or ReconcilePolicy()

    def run_pass(self, now: float | None = None) -> PassReport | None:
        """One look at every run in progress; None when another reconciler holds the lock."""
        if not self.r.set(LOCK, "1", nx=True, px=int(self.policy.lock_s * 1000)):
            return None
        report = PassReport()
        now = now or time.time()
        try:
            for submission_id in self.r.zrange(INFLIGHT, 0, 999):
                self._verdict_path(submission_id, now, report)
            for submission_id in self.r.zrange(MEDIA_INFLIGHT, 0, 999):
                self._media_path(submission_id, now, report)
            self.r.hset(RECONCILER, mapping={"last_pass_at": now, "watching": report.watched})
            self.r.hincrby(RECONCILER, "passes", 1)
        finally:
            self.r.delete(LOCK)
        return report

    # the verdict path ------------------------------------------------------------------------
    def _idle_run(self, submission_id: str, now: float) -> tuple[str, dict] | None:
        run_id = self.state.current_run(submission_id)
        if run_id is None:
            return None
        progress = self.state.progress(submission_id, run_id)
        touched = float(progress.get("touched_at") or progress.get("started_at") or 0)
        if now - touched < self.policy.grace_s:
            return None
        return run_id, progress

    def _verdict_path(self, submission_id: str, now: float, report: PassReport) -> None:
        idle = self._idle_run(submission_id, now)
        if idle is None:
            return
        run_id, progress = idle
        report.watched += 1
        stage = progress.get("stage", "queued")
        if stage == "done":
            self.r.zrem(INFLIGHT, submission_id)
            return
        known = ledger.entries(self.r, submission_id, run_id)
        if stage in ("queued", "unpack"):
            wanted = ["unpack"]
        else:
            wanted = sorted(self.state.pending(submission_id, run_id, "parts")) or ["decide"]
        for name in wanted:
            where = ledger.part_whereabouts(self.r, known, name)
            if where == "queued":
                continue
            stage_name = stage_of(name)
            if where == "dead" or not self._attempt(submission_id, run_id, name):
                reason = (f"{stage_name} gave up (dead letter)" if where == "dead"
                          else f"{stage_name} lost its message {self.policy.max_attempts} times")
                self._act("error_verdict", submission_id, run_id, name, reason)
                self.give_up(submission_id, run_id, stage_name, reason)
                report.gave_up.append(f"{submission_id}:{name}")
                return
            self._act("resend", submission_id, run_id, name, f"message {where}")
            self.resend(*message_for(name, submission_id, run_id, known.get(name)))
            report.resent.append(f"{submission_id}:{name}")

    # the media path --------------------------------------------------------------------------
    def _media_path(self, submission_id: str, now: float, report: PassReport) -> None:
        idle = self._idle_run(submission_id, now)
        if idle is None:
            return
        run_id, _progress = idle
        pending = self.state.pending(submission_id, run_id, "media")
        if not pending:
            self.r.zrem(MEDIA_INFLIGHT, submission_id)
            return
        report.watched += 1
        known = ledger.entries(self.r, submission_id, run_id)
        for media_name in sorted(pending):
            index = Layout.media_index(media_name)
            mine = [entry for name, entry in known.items() if messages.media_index(name) == index]
            where = {ledger.whereabouts(self.r, e) for e in mine} or {"lost"}
            if "queued" in where:
                continue
            if "dead" in where or not self._attempt(submission_id, run_id, media_name):
                reason = "预览转码多次中断，未能生成" if "dead" not in where else "预览转码失败"
                self._act("media_failed", submission_id, run_id, media_name, reason)
                self.media_gave_up(submission_id, run_id, index, reason)
                report.gave_up.append(f"{submission_id}:{media_name}")
                continue
            self._act("replan_media", submission_id, run_id, media_name, "no message of its previews left")
            self.resend("plan_media", [submission_id, run_id, index])
            report.resent.append(f"{submission_id}:{media_name}")

    # bookkeeping -----------------------------------------------------------------------------
    def _attempt(self, submission_id: str, run_id: str, name: str) -> bool:
        """Count one re-send of a part; False once the policy's attempts are used up."""
        key = f"{PREFIX}reconciles:{submission_id}:{run_id}"
        pipe = self.r.pipeline()
        pipe.hincrby(key, name, 1)
        pipe.expire(key, TTL_S)
        attempts = pipe.execute()[0]
        return attempts <= self.policy.max_attempts

    def _act(self, action: str, submission_id: str, run_id: str, part: str, reason: str) -> None:
        log.warning("reconciler_" + action, submission_id=submission_id, run_id=run_id, part=part, reason=reason)
        self.r.xadd(RECONCILER_ACTIONS, {"action": action, "submission_id": submission_id, "run_id": run_id, "part": part,
                                         "reason": reason, "at": f"{time.time():.0f}"}, maxlen=ACTIONS_MAXLEN, approximate=True)
        self.r.hincrby(RECONCILER, action, 1)


def stage_of(name: str) -> str:
    """The stage a part name belongs to (its policy, and an error verdict's stage)."""
    return messages.stage_of(name)


def message_for(name: str, submission_id: str, run_id: str, entry: ledger.LedgerEntry | None) -> tuple[str, list]:
    """The actor and arguments that make part `name` again (from the ledger, else from the name).

    Raises:
        ValueError: no message of the flow has this name."""
    if entry is not None:
        return entry.actor, entry.args
    parsed = messages.parse(name)
    if parsed is None:
        raise ValueError(f"no message named {name!r}")
    kind, rest = parsed
    return kind.actor, [submission_id, run_id, *rest]


def summary(r: redis.Redis, last: int = 10) -> dict:
    """What `smartedu status` shows: the last pass, the counters and the latest actions."""
    stats = r.hgetall(RECONCILER)
    last_pass = float(stats.pop("last_pass_at", 0) or 0)
    actions = [fields for _id, fields in r.xrevrange(RECONCILER_ACTIONS, count=last)]
    return {"last_pass_s_ago": round(time.time() - last_pass, 1) if last_pass else None,
            "watching": int(stats.pop("watching", 0)), "counters": {k: int(v) for k, v in stats.items()},
            "recent_actions": actions}


def reconcile_forever(reconciler: Reconciler, stop, interval_s: float) -> None:
    """Passes every `interval_s` until `stop` is set; Redis outages are waited out, logged once."""
    from .outages import REDIS, S3, outage_of

    log.info("reconciler_started", interval_s=interval_s, grace_s=reconciler.policy.grace_s)
    while not stop.is_set():
        try:
            reconciler.run_pass()
            REDIS.recovered()
            S3.recovered()
        except Exception as exc:  # a pass that broke must not stop the next one
            outage = outage_of(exc)
            if outage is not None:
                outage.failed(exc)
            else:
                log.error("reconciler_pass_failed", error=type(exc).__name__, reason=str(exc)[:300])
        stop.wait(interval_s)
