"""Bucket notifications into the real endpoint of `smartedu ingest` (real Redis and S3): a manifest
after its zip starts one run, repeats and reorderings start none, what is missing gets one error
notice naming it, a wrong secret is refused; the status endpoint follows a real run to its verdict."""

from __future__ import annotations

import io
import json
import time
import urllib.error
import urllib.request
import uuid

import pytest

from tests.bucket_events import aws_event, for_object, minio_redis_access, minio_webhook
from tests.cluster import notices, start, upload, verdict_of, wait_for
from tests.services import free_port_block, stop_process
from workers.ops import status as deployment_status

pytestmark = pytest.mark.integration
NOTIFY_SECRET, STATUS_TOKEN, LIST = "notify-s3cret", "status-t0ken", "smartedu-test:bucket-events"
PAIRING_S = 4


@pytest.fixture(scope="module")
def endpoint(cluster):
    port = free_port_block(1, grpc_offset=None)
    env = {**cluster["env"], "SMARTEDU_INGEST_HTTP_PORT": str(port), "SMARTEDU_INGEST_HTTP_HOST": "127.0.0.1",
           "SMARTEDU_NOTIFY_SECRET": NOTIFY_SECRET, "SMARTEDU_STATUS_TOKEN": STATUS_TOKEN,
           "SMARTEDU_PAIRING_TIMEOUT_S": str(PAIRING_S), "SMARTEDU_NOTIFY_LIST": LIST}
    ingest = start(cluster, "ingest", "--claim-idle", "5", env=env)
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: _call("HEAD", f"{base}/notifications")[0] == 200, 30, "the ingest endpoint")
    yield base
    stop_process(ingest, timeout=20)


def _call(method: str, url: str, body: bytes | None = None, auth: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method=method, headers={"Authorization": auth} if auth else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
    except OSError:
        return 0, {}


def notify(endpoint, body: bytes, secret: str = NOTIFY_SECRET) -> tuple[int, dict]:
    return _call("POST", f"{endpoint}/notifications", body, secret)


def status(endpoint, sid: str, token: str = f"Bearer {STATUS_TOKEN}") -> tuple[int, dict]:
    return _call("GET", f"{endpoint}/submissions/{sid}", auth=token)


def put_manifest(cluster, event: dict, key: str | None = None) -> str:
    key = key or f"{event['archive']['key'].rsplit('/', 1)[0]}/event.json"
    raw = json.dumps(event, ensure_ascii=False).encode()
    cluster["s3"].put_object("uploads", key, io.BytesIO(raw), len(raw), content_type="application/json")
    return key


def entries_for(cluster, sid: str) -> list[dict]:
    """The stream entries the endpoint added for this submission (one per run it started)."""
    return [fields for _id, fields in cluster["redis"].xrange("smartedu:uploads")
            if "manifest" in fields and json.loads(fields["event"]).get("submission_id") == sid]


def run_of(cluster, sid: str) -> str | None:
    return cluster["redis"].get(f"smartedu:run:{sid}")


def test_a_manifest_after_its_zip_starts_one_run_and_the_status_endpoint_follows_it(cluster, endpoint, processes):
    event = upload(cluster, "notified")
    sid, zip_key = event["submission_id"], event["archive"]["key"]
    assert status(endpoint, sid) == (404, {"submission_id": sid, "state": "unknown"})
    assert notify(endpoint, minio_webhook(for_object(cluster["s3"], "uploads", zip_key))) == (200, {"objects": 1, "noted": 1})
    manifest = put_manifest(cluster, event)
    assert notify(endpoint, minio_webhook(for_object(cluster["s3"], "uploads", manifest))) == (200, {"objects": 1, "queued": 1})
    wait_for(lambda: run_of(cluster, sid), 30, "the run to start")
    code, during = status(endpoint, sid)
    assert code == 200 and during["state"] in ("queued", "running") and during["run_id"] == run_of(cluster, sid)
    assert during["intake"]["state"] == "queued" and during["intake"]["manifest"] == manifest and "verdict" not in during

    processes("worker", "--processes", "1", "--threads", "2")
    wait_for(lambda: notices(cluster, sid), 180, "the verdict notice")
    code, after = wait_for(lambda: (lambda s: s if s[1].get("state") == "done" else None)(status(endpoint, sid)), 30, "done")
    assert after["verdict"] == {"key": f"verdicts/{sid}.json", "status": verdict_of(cluster, sid)["status"]}
    assert after["parts"]["done"] == after["parts"]["expected"] >= 1 and after["stage"] == "done"
    assert len(notices(cluster, sid)) == 1 and len(entries_for(cluster, sid)) == 1

    assert status(endpoint, sid, token="Bearer wrong")[0] == 401 and status(endpoint, sid, token="")[0] == 401
    assert status(endpoint, "../../etc")[0] == 404


def test_repeated_and_reordered_notifications_start_no_second_run_and_a_new_manifest_is_a_resubmission(cluster, endpoint):
    event = upload(cluster, "reordered")
    sid, zip_key = event["submission_id"], event["archive"]["key"]
    manifest = put_manifest(cluster, event)
    first = for_object(cluster["s3"], "uploads", manifest)
    # the manifest's notification first (AWS's shape), then the zip's (MinIO's), then the manifest's again
    assert notify(endpoint, aws_event(first))[1]["queued"] == 1
    assert notify(endpoint, minio_webhook(for_object(cluster["s3"], "uploads", zip_key)))[1] == {"objects": 1, "paired": 1}
    assert notify(endpoint, minio_webhook(first))[1] == {"objects": 1, "duplicate": 1}
    assert notify(endpoint, minio_webhook(first, first))[1] == {"objects": 2, "duplicate": 2}
    run = wait_for(lambda: run_of(cluster, sid), 30, "the run")
    assert len(entries_for(cluster, sid)) == 1

    # a re-submission: a new event.json (a new eTag); the old write's notification comes late
    put_manifest(cluster, {**event, "title": event.get("title", "") + "（修改稿）"}, manifest)
    second = for_object(cluster["s3"], "uploads", manifest, sequencer="17B0C2D1E2F3A4C0")
    assert second["s3"]["object"]["eTag"] != first["s3"]["object"]["eTag"]
    assert notify(endpoint, minio_webhook(first))[1] == {"objects": 1, "queued": 1}     # it reads what is there now
    assert notify(endpoint, minio_webhook(second))[1] == {"objects": 1, "duplicate": 1}
    wait_for(lambda: run_of(cluster, sid) not in (None, run), 30, "the re-submission's run")
    assert len(entries_for(cluster, sid)) == 2


def test_a_manifest_waits_for_its_zip_and_names_it_when_it_never_comes(cluster, endpoint):
    late = upload(cluster, "late-zip")
    cluster["s3"].remove_object("uploads", late["archive"]["key"])
    late_manifest = put_manifest(cluster, late)
    assert notify(endpoint, minio_webhook(for_object(cluster["s3"], "uploads", late_manifest)))[1]["waiting"] == 1
    never = {**late, "submission_id": f"nozip-{uuid.uuid4().hex[:6]}",
             "archive": {"bucket": "uploads", "key": f"nozip-{uuid.uuid4().hex[:6]}/材料 终稿.zip"}}
    never_manifest = put_manifest(cluster, never)
    assert notify(endpoint, minio_webhook(for_object(cluster["s3"], "uploads", never_manifest)))[1]["waiting"] == 1
    code, waiting = status(endpoint, never["submission_id"])
    assert code == 200 and waiting["state"] == "waiting" and waiting["intake"]["missing"] == [never["archive"]["key"]]
    assert deployment_status(cluster["redis"], [])["uploads_waiting"]["manifests"] >= 2     # `smartedu status` shows them

    # the late zip arrives within the time: its notification takes the waiting manifest
    archive = cluster["work"] / f"{late['submission_id']}.zip"
    cluster["s3"].fput_object("uploads", late["archive"]["key"], str(archive))
    assert notify(endpoint, minio_webhook(for_object(cluster["s3"], "uploads", late["archive"]["key"])))[0] == 200
    wait_for(lambda: run_of(cluster, late["submission_id"]), 30, "the late zip's run")

    notice = wait_for(lambda: notices(cluster, never["submission_id"]), PAIRING_S + 20, "the missing zip's notice")
    assert len(notice) == 1 and notice[0]["status"] == "error" and json.loads(notice[0]["missing"]) == [never["archive"]["key"]]
    assert never["archive"]["key"] in notice[0]["reason"]
    assert status(endpoint, never["submission_id"])[1]["state"] == "refused"
    assert not notices(cluster, late["submission_id"]) and not entries_for(cluster, never["submission_id"])


def test_a_zip_without_a_manifest_gets_one_notice_and_a_lost_manifest_notification_is_found(cluster, endpoint):
    orphan, lost = upload(cluster, "orphan"), upload(cluster, "lost")
    put_manifest(cluster, lost)                       # its notification never comes
    for event in (orphan, lost):
        assert notify(endpoint, minio_webhook(for_object(cluster["s3"], "uploads", event["archive"]["key"])))[1]["noted"] == 1
    notice = wait_for(lambda: notices(cluster, orphan["submission_id"]), PAIRING_S + 20, "the orphan's notice")
    expected = f"{orphan['submission_id']}/event.json"
    assert len(notice) == 1 and json.loads(notice[0]["missing"]) == [expected] and expected in notice[0]["reason"]
    wait_for(lambda: run_of(cluster, lost["submission_id"]), 30, "the run of the manifest the sweep found")
    assert not notices(cluster, lost["submission_id"]) and len(entries_for(cluster, lost["submission_id"])) == 1


def test_keys_with_spaces_and_chinese_characters(cluster, endpoint):
    event = upload(cluster, "named")
    sid = event["submission_id"]
    folder = f"2025 第一批/{sid}/高新区 实验小学"
    key = f"{folder}/材料 (终稿)+附件.zip"
    cluster["s3"].fput_object("uploads", key, str(cluster["work"] / f"{sid}.zip"))
    event["archive"] = {"bucket": "uploads", "key": key}
    manifest = put_manifest(cluster, event, f"{folder}/event.json")
    body = minio_webhook(for_object(cluster["s3"], "uploads", manifest))
    assert "%E9%AB%98".encode() in body and b"+" in body
    assert notify(endpoint, minio_webhook(for_object(cluster["s3"], "uploads", key)))[1] == {"objects": 1, "noted": 1}
    assert notify(endpoint, body)[1] == {"objects": 1, "queued": 1}
    wait_for(lambda: run_of(cluster, sid), 30, "the run")
    assert json.loads(entries_for(cluster, sid)[0]["event"])["archive"]["key"] == key


def test_a_wrong_secret_is_refused_and_nothing_is_enqueued(cluster, endpoint):
    event = upload(cluster, "unsigned")
    body = minio_webhook(for_object(cluster["s3"], "uploads", put_manifest(cluster, event)))
    before = cluster["redis"].xlen("smartedu:uploads")
    for secret in ("wrong", "", f"Bearer {NOTIFY_SECRET}x"):
        assert notify(endpoint, body, secret=secret) == (401, {"error": "wrong or missing secret"})
    assert notify(endpoint, b"{not json", secret=f"Bearer {NOTIFY_SECRET}")[0] == 400
    assert cluster["redis"].xlen("smartedu:uploads") == before and not cluster["redis"].exists(f"smartedu:intake:{event['submission_id']}")
    assert status(endpoint, event["submission_id"])[1]["state"] == "unknown"


def test_a_manifest_that_is_not_an_event_gets_one_error_notice(cluster, endpoint):
    sid = f"broken-{uuid.uuid4().hex[:6]}"
    key = f"{sid}/event.json"
    truncated = b'{"submission_id": "%s", "project": "case"' % sid.encode()
    cluster["s3"].put_object("uploads", key, io.BytesIO(truncated), len(truncated))
    body = minio_webhook(for_object(cluster["s3"], "uploads", key))
    assert notify(endpoint, body)[1] == {"objects": 1, "refused": 1}
    assert notify(endpoint, body)[1] == {"objects": 1, "refused": 1}
    [notice] = notices(cluster, sid)
    assert notice["status"] == "error" and "JSON" in notice["reason"]


def test_minio_redis_access_list_is_read_too(cluster, endpoint):
    event = upload(cluster, "listed")
    manifest = put_manifest(cluster, event)
    cluster["redis"].rpush(LIST, "not json", minio_redis_access(for_object(cluster["s3"], "uploads", manifest)))
    wait_for(lambda: run_of(cluster, event["submission_id"]), 30, "the run from the list")
    wait_for(lambda: cluster["redis"].llen(LIST) == 0
             and not any(cluster["redis"].llen(k) for k in cluster["redis"].scan_iter(f"{LIST}:taking:*")), 10, "the list read")
    assert len(entries_for(cluster, event["submission_id"])) == 1


def test_the_rescan_takes_a_manifest_whose_notifications_all_were_lost(cluster, s3_server):
    """MinIO dropped them, or a Redis failover lost the write that took it: the bucket is read again."""
    from pipeline.storage.s3 import S3Store
    from workers.notifications import BucketIntake

    event = upload(cluster, "rescanned")
    put_manifest(cluster, event)
    intake = BucketIntake(cluster["redis"], S3Store(s3_server.client(), "uploads"), "uploads", pairing_timeout_s=600)
    assert intake.rescan(now=time.time()) >= 1
    assert len(entries_for(cluster, event["submission_id"])) == 1
    intake.rescan(now=time.time())                      # taken: not again
    assert len(entries_for(cluster, event["submission_id"])) == 1
    old = intake.rescan(now=time.time() + 4 * 24 * 3600)  # days later, nothing is taken twice either
    assert old == 0 and len(entries_for(cluster, event["submission_id"])) == 1
