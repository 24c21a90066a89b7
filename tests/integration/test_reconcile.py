"""The reconciler on real Redis: what it re-sends, what it leaves alone, when it gives up."""

from __future__ import annotations

import json
import time

import pytest

from tests.services import own_redis_db
from workers import ledger
from workers.reconcile import LOCK, ReconcilePolicy, Reconciler, summary
from workers.state import INFLIGHT, MEDIA_INFLIGHT, RunState, progress_key

pytestmark = pytest.mark.integration


@pytest.fixture
def r(redis_url):
    with own_redis_db(redis_url, 12) as client:
        yield client


class Recorder:
    def __init__(self):
        self.sent, self.errors, self.media = [], [], []

    def reconciler(self, r, **policy) -> Reconciler:
        return Reconciler(RunState(r), lambda actor, args: self.sent.append((actor, list(args))),
                          lambda sid, run, stage, reason: self.errors.append((sid, run, stage)),
                          lambda sid, run, index, reason: self.media.append((sid, run, index, reason)),
                          ReconcilePolicy(grace_s=5, max_attempts=2, **policy))


def record(r, sid, run, name, actor, args, queue="video", where="lost"):
    """A ledger entry whose message is queued, dead-lettered or gone."""
    redis_id = f"id-{name}"
    r.hset(ledger.ledger_key(sid, run), name, json.dumps({"queue": queue, "id": redis_id, "actor": actor, "args": args}))
    if where == "queued":
        r.hset(f"{ledger.NAMESPACE}:{queue}.msgs", redis_id, "{}")
    elif where == "delayed":
        r.hset(f"{ledger.NAMESPACE}:{queue}.DQ.msgs", redis_id, "{}")
    elif where == "dead":
        r.hset(f"{ledger.NAMESPACE}:{queue}.XQ.msgs", redis_id, "{}")


def started(r, sid="s1", run="r1", stage="analyse", parts=(), done=(), idle_s=60.0) -> RunState:
    state = RunState(r)
    state.start_run(sid, run)
    if parts:
        state.expect_parts(sid, run, list(parts))
    for name in done:
        state.part_done(sid, run, name)
    state.set_stage(sid, run, stage)
    r.hset(progress_key(sid, run), "touched_at", time.time() - idle_s)
    return state


def test_a_lost_unpack_is_sent_again(r):
    started(r, stage="unpack")
    record(r, "s1", "r1", "unpack", "unpack_submission", ["s1", "r1"], queue="unpack")
    rec = Recorder()
    report = rec.reconciler(r).run_pass()
    assert rec.sent == [("unpack_submission", ["s1", "r1"])] and report.resent == ["s1:unpack"]
    assert summary(r)["counters"]["resend"] == 1 and summary(r)["recent_actions"][0]["part"] == "unpack"


def test_queued_delayed_and_recent_work_is_left_alone(r):
    started(r, parts=["video-0", "document-1"])
    record(r, "s1", "r1", "video-0", "analyse_video_part", ["s1", "r1", 0], where="queued")
    record(r, "s1", "r1", "document-1", "analyse_document_part", ["s1", "r1", 1], queue="documents", where="delayed")
    started(r, sid="s2", run="r2", parts=["video-0"], idle_s=1)          # moved a second ago
    rec = Recorder()
    report = rec.reconciler(r).run_pass()
    assert rec.sent == [] and report.watched == 1


def test_only_the_lost_parts_are_sent_again_even_without_a_ledger_entry(r):
    started(r, parts=["video-0", "document-1", "main_work-0"], done=["video-0"])
    record(r, "s1", "r1", "document-1", "analyse_document_part", ["s1", "r1", 1], queue="documents", where="queued")
    rec = Recorder()
    rec.reconciler(r).run_pass()
    assert rec.sent == [("hash_main_work", ["s1", "r1", 0])]        # never recorded: its sender died first


def test_a_long_video_whose_jobs_are_still_queued_is_left_alone_and_sent_again_once_they_are_lost(r):
    started(r, parts=["video-0"])
    record(r, "s1", "r1", "video-0", "analyse_video_part", ["s1", "r1", 0])       # done: it sent its jobs
    record(r, "s1", "r1", "video-0/window-0", "analyse_video_job", ["s1", "r1", 0, "window-0"])
    record(r, "s1", "r1", "video-0/window-1", "analyse_video_job", ["s1", "r1", 0, "window-1"], where="delayed")
    rec = Recorder()
    rec.reconciler(r).run_pass()
    assert rec.sent == [], "a job of the part is still waiting for its retry"
    r.hdel(f"{ledger.NAMESPACE}:video.DQ.msgs", "id-video-0/window-1")         # lost with a Redis restart
    rec.reconciler(r).run_pass()
    assert rec.sent == [("analyse_video_part", ["s1", "r1", 0])]     # the part again: it sends its jobs again


def test_a_lost_decision_is_sent_again(r):
    started(r, parts=["video-0"], done=["video-0"])
    rec = Recorder()
    rec.reconciler(r).run_pass()
    assert rec.sent == [("decide_verdict", ["s1", "r1"])]


def test_after_the_policys_attempts_the_run_gets_its_error_verdict(r):
    started(r, parts=["video-0"])
    rec = Recorder()
    reconciler = rec.reconciler(r)
    for _ in range(3):
        reconciler.run_pass()
    assert rec.sent == [("analyse_video_part", ["s1", "r1", 0])] * 2
    assert rec.errors == [("s1", "r1", "video")]
    assert summary(r)["counters"]["error_verdict"] == 1


def test_a_dead_lettered_part_gives_the_run_up_at_once(r):
    started(r, parts=["video-0"])
    record(r, "s1", "r1", "video-0", "analyse_video_part", ["s1", "r1", 0], where="dead")
    rec = Recorder()
    rec.reconciler(r).run_pass()
    assert rec.sent == [] and rec.errors == [("s1", "r1", "video")]


def test_lost_previews_are_planned_again_then_reported_failed(r):
    state = started(r, stage="done", parts=["video-0"], done=["video-0"])
    state.expect("s1", "r1", "media", ["media-0", "media-1"])
    state.mark_done("s1", "r1", "media", "media-1")
    r.zrem(INFLIGHT, "s1")
    r.zadd(MEDIA_INFLIGHT, {"s1": time.time()})
    r.hset(progress_key("s1", "r1"), "touched_at", time.time() - 60)
    record(r, "s1", "r1", "piece-0-3", "encode_media_piece", ["s1", "r1", 0, 3], queue="transcode")
    rec = Recorder()
    reconciler = rec.reconciler(r)
    for _ in range(3):
        reconciler.run_pass()
    assert rec.sent == [("plan_media", ["s1", "r1", 0])] * 2
    assert [m[:3] for m in rec.media] == [("s1", "r1", 0)]


def test_one_pass_at_a_time(r):
    started(r, parts=["video-0"])
    r.set(LOCK, "1", px=10_000)
    rec = Recorder()
    assert rec.reconciler(r).run_pass() is None and rec.sent == []


def test_a_finished_run_leaves_the_watch_list(r):
    state = started(r, parts=["video-0"], done=["video-0"])
    state.finish("s1", "r1", "pass")
    r.zadd(INFLIGHT, {"s1": time.time()})          # as if the removal was lost with the AOF's last second
    r.hset(progress_key("s1", "r1"), "touched_at", time.time() - 60)
    rec = Recorder()
    rec.reconciler(r).run_pass()
    assert rec.sent == [] and r.zcard(INFLIGHT) == 0


def test_an_error_verdict_keeps_what_was_found_before_the_stage_broke(r, tmp_path, rules):
    """As in the embedded mode: materials and findings of the parts that finished stay in the error verdict."""
    from pipeline.models import Finding, Material, parse_event
    from pipeline.storage import LocalStore
    from tests.helpers import sample
    from config.settings import Settings
    from pipeline.plan import Unpacked
    from workers.flow import Flow

    _archive, event = sample(tmp_path, "broke", project="case")
    flow = Flow(Settings(), store=LocalStore(tmp_path / "bucket"), state=RunState(r))
    run_id = flow.accept_event(parse_event(event))
    ctx = flow.context(event["submission_id"], run_id)
    materials = [Material(path="报名表.docx", size=10, sha256="a" * 64, kind="document", role="registration_form",
                          role_source="name", role_evidence="文件名含“报名表”", key="members/0000.docx")]
    late = Finding(code="SUBMITTED_AFTER_DEADLINE", severity="fail", message="晚了", path=None)
    flow.store.put_json(ctx.layout.unpacked(run_id),
                        Unpacked(findings=[late], materials=materials, timings={"unpack": 1.0}).model_dump(mode="json"))
    verdict = flow.verdicts.fail_run(event["submission_id"], run_id, "video", "video gave up")
    assert verdict["status"] == "error" and verdict["error"]["stage"] == "video"
    assert [m["path"] for m in verdict["materials"]] == ["报名表.docx"]
    assert [f["code"] for f in verdict["findings"]] == ["SUBMITTED_AFTER_DEADLINE"]
