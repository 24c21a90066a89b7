"""An operator's bad day, with real Redis (AOF), real S3 and real workers: nothing is lost.

While submissions are processed, a worker node is SIGKILLed and restarted, Redis is SIGKILLed
and restarted from its AOF, and S3 is stopped for longer than one retry's backoff. Then every
submission must have exactly one `verdict` notice, its verdict object, and its previews (or a
`media` notice saying why not). Sized for CI; `SMARTEDU_FAULT_SUBMISSIONS=20
SMARTEDU_FAULT_S3_DOWN_S=40` gives the issue's full run.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter

import pytest
import redis

from pipeline.sample import VideoSpec
from tests import services
from tests.helpers import SMARTEDU, sample

pytestmark = pytest.mark.integration
SUBMISSIONS = int(os.environ.get("SMARTEDU_FAULT_SUBMISSIONS", "4"))
S3_DOWN_S = float(os.environ.get("SMARTEDU_FAULT_S3_DOWN_S", "25"))


@pytest.fixture
def world(tmp_path, ffmpeg_available):
    """A Redis with AOF and an S3 server of this test's own: the test kills both."""
    if services.weed_binary() is None:
        pytest.skip("weed not installed") if os.environ.get("CI") != "true" else pytest.fail("weed not installed")
    url, redis_proc = services.start_redis(tmp_path / "redis", aof=True)
    s3 = services.start_seaweedfs(tmp_path / "s3")
    env = {**os.environ, "SMARTEDU_REDIS_URL": url, "SMARTEDU_S3_ENDPOINT": s3.endpoint, "SMARTEDU_S3_ACCESS_KEY": s3.access_key,
           "SMARTEDU_S3_SECRET_KEY": s3.secret_key, "SMARTEDU_S3_SECURE": "false", "SMARTEDU_BUCKET": "smartedu",
           "SMARTEDU_WORK_DIR": str(tmp_path / "scratch"), "SMARTEDU_HEARTBEAT_MS": "3000",
           "SMARTEDU_MAINTENANCE_CHANCE": "1000000", "SMARTEDU_PROMETHEUS": "0",
           "SMARTEDU_RECONCILE_GRACE_S": "10", "SMARTEDU_RECONCILE_INTERVAL_S": "2"}
    client = s3.client()
    for bucket in ("uploads", "smartedu"):
        client.make_bucket(bucket)
    state = {"url": url, "redis": redis_proc, "s3": s3, "env": env, "tmp": tmp_path, "procs": []}
    yield state
    for proc in state["procs"]:
        services.stop_process(proc, timeout=20)
    services.stop_process(state["redis"])
    state["s3"].stop()


def launch(world, *args: str):
    log = open(world["tmp"] / f"{args[0]}-{uuid.uuid4().hex[:6]}.log", "wb")
    proc = services.subprocess.Popen([SMARTEDU, *args], env=world["env"], stdout=log, stderr=services.subprocess.STDOUT,
                                     start_new_session=True)
    world["procs"].append(proc)
    return proc


def client(world) -> redis.Redis:
    return redis.Redis.from_url(world["url"], decode_responses=True, socket_connect_timeout=2)


def notices(world) -> list[dict]:
    try:
        return [fields for _id, fields in client(world).xrange("smartedu:verdicts")]
    except redis.RedisError:
        return []


def settled(world, sids: list[str]) -> bool:
    """Every submission has its verdict notice and, for its previews, a media notice."""
    seen = notices(world)
    return all(any(n["submission_id"] == sid and n["kind"] == kind for n in seen) for sid in sids for kind in ("verdict", "media"))


def test_nothing_is_lost_when_a_worker_redis_and_s3_fail(world):
    s3 = world["s3"].client()
    events = []
    for i in range(SUBMISSIONS):
        sid = f"fault-{i:02d}-{uuid.uuid4().hex[:4]}"
        archive, event = sample(world["tmp"], sid, submission_id=sid, project="case", video=VideoSpec(duration_s=3.0))
        event["archive"] = {"bucket": "uploads", "key": f"{sid}/{archive.name}"}
        s3.fput_object("uploads", event["archive"]["key"], str(archive))
        events.append(event)
    node_a = launch(world, "worker", "--processes", "1", "--threads", "2")
    launch(world, "worker", "--processes", "1", "--threads", "2")
    launch(world, "ingest", "--claim-idle", "5")
    r = client(world)
    for event in events:
        r.xadd("smartedu:uploads", {"event": json.dumps(event, ensure_ascii=False)})
    started = time.monotonic()
    time.sleep(3)                                                     # mid-stage: unpack and videos running

    services.kill_group(node_a)                                       # a worker node dies ...
    time.sleep(4)
    launch(world, "worker", "--processes", "1", "--threads", "2")     # ... and comes back
    time.sleep(2)

    port = int(world["url"].rsplit(":", 1)[1].split("/")[0])
    services.kill_group(world["redis"])                               # Redis dies ...
    time.sleep(3)
    world["url"], world["redis"] = services.start_redis(world["tmp"] / "redis", aof=True, port=port)   # ... from its AOF
    time.sleep(2)

    base = services.base_port(world["s3"])
    services.kill_group(world["s3"].process)                          # S3 goes away for longer than a retry's backoff
    time.sleep(S3_DOWN_S)
    world["s3"] = services.start_seaweedfs(world["tmp"] / "s3", base=base)

    sids = [e["submission_id"] for e in events]
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and not settled(world, sids):
        time.sleep(2)
    elapsed = time.monotonic() - started
    seen = notices(world)
    verdict_notices = Counter(n["submission_id"] for n in seen if n["kind"] == "verdict")
    media_notices = Counter(n["submission_id"] for n in seen if n["kind"] == "media")
    s3 = world["s3"].client()
    with_previews, explained = 0, 0
    for sid in sids:
        assert verdict_notices[sid] == 1, f"{sid}: {verdict_notices[sid]} verdict notices"
        assert media_notices[sid] == 1, f"{sid}: {media_notices[sid]} media notices"
        verdict = json.loads(s3.get_object("smartedu", f"verdicts/{sid}.json").read())
        assert verdict["status"] in ("pass", "warn"), (sid, verdict["status"], verdict.get("error"))
        for video in verdict["videos"]:
            if video["renditions"].get("720p"):
                s3.stat_object("smartedu", video["renditions"]["720p"])
                with_previews += 1
            else:
                assert video.get("media_error") and any(n.get("reason") for n in seen if n["submission_id"] == sid)
                explained += 1
    actions = client(world).xrange("smartedu:reconciler:actions")
    print(f"\nfaults: {len(sids)} submissions, {sum(verdict_notices.values())} verdict notices, {with_previews} previews, "
          f"{explained} previews failed with a reason, {len(actions)} reconciler actions, settled in {elapsed:.0f} s")
    assert with_previews == len(sids)


def test_a_message_lost_from_the_queue_is_sent_again_and_status_says_so(world):
    """A submission's unpack message vanishes from Redis before any worker saw it (as a write lost
    with the AOF's last second would); the reconciler sends it again and the verdict arrives."""
    s3 = world["s3"].client()
    sid = f"lost-{uuid.uuid4().hex[:6]}"
    archive, event = sample(world["tmp"], sid, submission_id=sid, project="lesson", video=VideoSpec(duration_s=2.0))
    event["archive"] = {"bucket": "uploads", "key": f"{sid}/{archive.name}"}
    s3.fput_object("uploads", event["archive"]["key"], str(archive))
    event_path = world["tmp"] / "event.json"
    event_path.write_text(json.dumps(event, ensure_ascii=False))
    services.subprocess.run([SMARTEDU, "submit", str(event_path)], env=world["env"], check=True, timeout=60, capture_output=True)
    r = client(world)
    assert r.llen("smartedu:dramatiq:unpack") == 1
    r.delete("smartedu:dramatiq:unpack", "smartedu:dramatiq:unpack.msgs")          # the message is lost
    launch(world, "worker", "--processes", "1", "--threads", "2")
    launch(world, "ingest", "--claim-idle", "5")                                   # the reconciler runs beside ingest
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not settled(world, [sid]):
        time.sleep(1)
    assert settled(world, [sid])
    assert [n["kind"] for n in notices(world) if n["submission_id"] == sid] == ["verdict", "media"]
    status = json.loads(services.subprocess.run([SMARTEDU, "status", "--json"], env=world["env"], capture_output=True,
                                                timeout=60, check=True).stdout)
    reconciler = status["reconciler"]
    assert reconciler["counters"]["resend"] == 1 and reconciler["last_pass_s_ago"] is not None
    assert reconciler["recent_actions"][0]["submission_id"] == sid and reconciler["recent_actions"][0]["part"] == "unpack"
    human = services.subprocess.run([SMARTEDU, "status"], env=world["env"], capture_output=True, timeout=60, text=True)
    assert "reconciler:" in human.stdout and "resend 1" in human.stdout
