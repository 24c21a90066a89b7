"""Redis Sentinel failover on the deadline day (issue 28), with real processes: a primary, a
replica and three sentinels (Debian's redis-server), a worker, ingest with the reconciler, real S3.
Submissions go in; the replica stops following the primary for LAG_S seconds, so what the primary
acknowledges then is lost; the primary is SIGKILLed mid-load, Sentinel promotes the replica, the
old primary comes back as a replica. Every submission ends with exactly one `verdict` notice, its
verdict object and its `media` notice (previews); none is processed twice to a second notice.

CI runs a few submissions and one failover; the issue's full size is the same test:

    SMARTEDU_FAILOVER_SUBMISSIONS=20 SMARTEDU_FAILOVERS=2 .venv/bin/python -m pytest -s tests/integration/test_failover.py

It prints the time from each primary's death to the first message processed on the new primary
and to the last verdict.
"""

from __future__ import annotations

import json
import os
import time
import uuid

import pytest
import redis
from redis.sentinel import Sentinel

from tests.cluster import start, wait_for
from tests.helpers import sample
from tests.services import SentinelGroup, stop_process

pytestmark = pytest.mark.integration
SUBMISSIONS = int(os.environ.get("SMARTEDU_FAILOVER_SUBMISSIONS", "3"))
FAILOVERS = int(os.environ.get("SMARTEDU_FAILOVERS", "1"))
LAG_S = 1.5          # the replica falls this far behind before the primary dies: those writes are lost


@pytest.fixture
def group(tmp_path):
    started = SentinelGroup(tmp_path / "redis")
    yield started
    started.stop()


def send_event(primary: redis.Redis, event: dict) -> None:
    """What the README asks of the upload service: XADD, then WAIT for one replica; on an error
    or an unconfirmed write, send the same event again (ingest starts no second run for it)."""
    raw = json.dumps(event, ensure_ascii=False)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            primary.xadd("smartedu:uploads", {"event": raw})
            if primary.wait(1, 1000) >= 1:
                return
        except redis.ConnectionError:
            pass
        time.sleep(0.5)
    raise AssertionError("the event could not be added")


def first_stage_after(primary: redis.Redis, since: float, timeout: float) -> float:
    """When the first message after `since` was processed: its timing entry's id (ms) on the primary."""
    def found():
        try:
            newest = primary.xrevrange("smartedu:timings", count=1)
        except redis.ConnectionError:
            return None
        stamp = int(newest[0][0].split("-")[0]) / 1000 if newest else 0
        return stamp if stamp > since else None
    return wait_for(found, timeout, "a message processed on the new primary")


def diagnose(primary: redis.Redis, events: list[dict]) -> str:
    """Where each unfinished submission stands: its run, stage, parts pending, and where each of
    its messages is (queued, in which worker's acks set, payload kept or gone)."""
    lines = []
    notices = {(f["submission_id"], f["kind"]) for _id, f in primary.xrange("smartedu:verdicts")}
    acks = {key: primary.smembers(key) for key in primary.scan_iter("smartedu:dramatiq:__acks__.*")}
    for event in events:
        sid = event["submission_id"]
        if (sid, "verdict") in notices and (sid, "media") in notices:
            continue
        run = primary.get(f"smartedu:run:{sid}")
        progress = primary.hgetall(f"smartedu:progress:{sid}:{run}")
        pending = primary.sdiff(f"smartedu:expected:parts:{sid}:{run}", f"smartedu:done:parts:{sid}:{run}")
        lines.append(f"{sid} run={run} stage={progress.get('stage')} pending={sorted(pending)} "
                     f"notices={[k for s, k in notices if s == sid]}")
        for name, raw in primary.hgetall(f"smartedu:messages:{sid}:{run}").items():
            entry = json.loads(raw)
            queue = entry["queue"].removesuffix(".DQ")
            where = [key.rsplit("__acks__.", 1)[1] for key, ids in acks.items() if entry["id"] in ids]
            listed = entry["id"] in primary.lrange(f"smartedu:dramatiq:{queue}", 0, -1)
            kept = primary.hexists(f"smartedu:dramatiq:{queue}.msgs", entry["id"]) or \
                primary.hexists(f"smartedu:dramatiq:{queue}.DQ.msgs", entry["id"])
            lines.append(f"   {name}: {entry['queue']} listed={listed} acks={where} payload={kept}")
    return "\n".join(lines)


def test_a_sentinel_failover_mid_load_loses_no_submission_and_duplicates_no_notice(group, s3_server, tmp_path, ffmpeg_available):
    bucket = f"smartedu-{uuid.uuid4().hex[:8]}"
    client = s3_server.client()
    for name in ("uploads", bucket):
        if not client.bucket_exists(name):
            client.make_bucket(name)
    env = {**os.environ, "SMARTEDU_REDIS_URL": "redis://127.0.0.1:1/0", "SMARTEDU_REDIS_SENTINELS": group.sentinel_hosts,
           "SMARTEDU_REDIS_MASTER": group.MASTER, "SMARTEDU_S3_ENDPOINT": s3_server.endpoint,
           "SMARTEDU_S3_ACCESS_KEY": s3_server.access_key, "SMARTEDU_S3_SECRET_KEY": s3_server.secret_key,
           "SMARTEDU_S3_SECURE": "false", "SMARTEDU_UPLOADS_BUCKET": "uploads", "SMARTEDU_BUCKET": bucket,
           "SMARTEDU_WORK_DIR": str(tmp_path / "scratch"), "SMARTEDU_HEARTBEAT_MS": "5000", "SMARTEDU_PROMETHEUS": "0",
           "SMARTEDU_MAINTENANCE_CHANCE": "100000", "SMARTEDU_RECONCILE_INTERVAL_S": "3", "SMARTEDU_RECONCILE_GRACE_S": "20",
           "SMARTEDU_RECONCILE_ATTEMPTS": "5", "SMARTEDU_SEGMENT_THRESHOLD_S": "20", "SMARTEDU_SEGMENT_S": "10",
           "SMARTEDU_LOG_LEVEL": "INFO"}
    cluster = {"env": env, "work": tmp_path}
    primary = Sentinel([("127.0.0.1", p) for p in group.sentinel_ports], socket_timeout=1).master_for(
        group.MASTER, decode_responses=True, socket_timeout=5)
    events = []
    for n in range(SUBMISSIONS):
        sid = f"fo{n}-{uuid.uuid4().hex[:6]}"
        archive, event = sample(tmp_path, sid, submission_id=sid)
        client.fput_object("uploads", f"{sid}/{archive.name}", str(archive))
        events.append({**event, "archive": {"bucket": "uploads", "key": f"{sid}/{archive.name}"}})

    processes = [start(cluster, "worker", "--processes", "1", "--threads", "2"), start(cluster, "ingest", "--claim-idle", "5")]
    figures = []
    try:
        batches = [events[i::FAILOVERS + 1] for i in range(FAILOVERS + 1)]
        for batch in batches[:-1]:
            for event in batch:
                send_event(primary, event)
            first_stage_after(primary, time.time() - 1, 60)          # mid-load: messages are being processed
            old = group.primary()
            group.cut_off(next(p for p in group.redis_ports if p != old))
            time.sleep(LAG_S)             # what the primary acknowledges now never reaches the replica
            killed_at = time.time()
            group.kill(old)
            new = wait_for(lambda: (lambda p: p if p not in (None, old) else None)(group.primary()), 60, "the promotion")
            promoted_at = time.time()
            processed_at = first_stage_after(primary, promoted_at, 90)
            group.start_server(old)                                    # the old primary comes back ...
            wait_for(lambda: group.replica_in_sync(old), 60, "the old primary as a replica")   # ... as a replica
            figures.append({"killed": old, "promoted": new, "promotion_s": round(promoted_at - killed_at, 1),
                            "first_message_s": round(processed_at - killed_at, 1)})
        for event in batches[-1]:
            send_event(primary, event)

        def all_done():
            try:
                entries = primary.xrange("smartedu:verdicts")
            except redis.ConnectionError:
                return None
            kinds = {(f["submission_id"], f["kind"]) for _id, f in entries}
            return entries if all((e["submission_id"], k) in kinds for e in events for k in ("verdict", "media")) else None

        try:
            entries = wait_for(all_done, float(os.environ.get("SMARTEDU_FAILOVER_WAIT_S", 300 + 30 * SUBMISSIONS)), "every verdict and every previews notice")
        except AssertionError:
            print(diagnose(primary, events))
            raise
        time.sleep(5)                                                  # a late duplicate would show now
        entries = primary.xrange("smartedu:verdicts")
        last_verdict = max(int(i.split("-")[0]) / 1000 for i, f in entries if f["kind"] == "verdict")
        for figure in figures:
            figure["last_verdict_s"] = round(last_verdict - killed_at, 1) if figure is figures[-1] else None
        print(f"\nfailover figures ({SUBMISSIONS} submissions, {FAILOVERS} failovers): {json.dumps(figures)}")
    finally:
        for process in processes:
            stop_process(process, timeout=20)

    for event in events:
        sid = event["submission_id"]
        mine = [f for _id, f in entries if f["submission_id"] == sid]
        assert [f["kind"] for f in mine].count("verdict") == 1, (sid, mine)
        assert [f["kind"] for f in mine].count("media") == 1, (sid, mine)
        verdict = json.loads(client.get_object(bucket, f"verdicts/{sid}.json").read())
        assert verdict["status"] in ("pass", "warn", "fail") and verdict["videos"], sid
        assert all(video.get("renditions") for video in verdict["videos"]), sid
