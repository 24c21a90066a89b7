"""The one parser of bucket notifications, on MinIO's and AWS's shapes, and the endpoint's secret check."""

from __future__ import annotations

import json

import pytest

from pipeline.notifications import MAX_RECORDS, NotificationError, ObjectCreated, parse_notification, submission_of
from tests.bucket_events import aws_event, minio_redis_access, minio_webhook, record
from workers.http_api import authorized

KEY = "2025-000123/高新区 实验小学/材料 (终稿).zip"


def test_a_minio_webhook_body_gives_the_decoded_key_etag_and_metadata():
    body = minio_webhook(record("uploads", KEY, "9b2cf535f27731c974343645a3985328", 1024, sequencer="17B0C2D1E2F3A4B5",
                                metadata={"X-Amz-Meta-Submission-Id": "2025-000123"}))
    assert b"%E9%AB%98" in body and b"+" in body          # form-encoded: Chinese as %XX, a space as +
    [created] = parse_notification(body)
    assert created == ObjectCreated("uploads", KEY, "9b2cf535f27731c974343645a3985328", 1024, "17B0C2D1E2F3A4B5",
                                    created.event_time)
    assert created.metadata["X-Amz-Meta-Submission-Id"] == "2025-000123" and submission_of(created) == "2025-000123"
    assert not created.is_manifest and created.prefix == "2025-000123/高新区 实验小学"


def test_aws_records_without_the_s3_prefix_and_a_quoted_etag():
    [created] = parse_notification(aws_event(record("uploads", "2025-000123/event.json", '"abc"', 900, aws=True)))
    assert (created.bucket, created.key, created.etag, created.size) == ("uploads", "2025-000123/event.json", "abc", 900)
    assert created.is_manifest and submission_of(created) == "2025-000123"
    assert created.identity == "uploads/2025-000123/event.json@abc"


def test_a_key_with_a_literal_plus_is_read_back_as_a_plus():
    [created] = parse_notification(minio_webhook(record("uploads", "a/C++ 课件.zip", "e", 1)))
    assert created.key == "a/C++ 课件.zip"


def test_minio_redis_access_entries_hold_their_events():
    entry = minio_redis_access(record("uploads", "s/event.json", "e1", 10), record("uploads", "s/m.zip", "e2", 20))
    assert [c.key for c in parse_notification(entry)] == ["s/event.json", "s/m.zip"]


def test_what_is_not_a_created_object_is_skipped_not_an_error():
    removed = record("uploads", "s/m.zip", "e", 1, name="ObjectRemoved:Delete")
    accessed = record("uploads", "s/m.zip", "e", 1, name="ObjectAccessed:Get")
    copied = record("uploads", "s/n.zip", "e", 1, name="ObjectCreated:CompleteMultipartUpload")
    assert [c.key for c in parse_notification(minio_webhook(removed, accessed, copied))] == ["s/n.zip"]
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2025-07-20T02:00:00.000Z", "Bucket": "uploads"}
    assert parse_notification(json.dumps(test_event)) == []


@pytest.mark.parametrize("body", [
    b"not json", b"[1, 2]", b'"a string"', b'{"Records": "x"}', b'{"EventName": "s3:ObjectCreated:Put"}',
    json.dumps({"Records": [{"eventName": "s3:ObjectCreated:Put", "s3": {"bucket": {"name": "uploads"}}}]}).encode(),
    json.dumps({"Records": [{"eventName": "s3:ObjectCreated:Put", "s3": {"bucket": {}, "object": {"key": "a"}}}]}).encode(),
    json.dumps({"Records": ["x"]}).encode(),
    json.dumps({"Records": [record("uploads", "k" * 1100, "e", 1)]}).encode(),
    b"\xff\xfe",
])
def test_what_is_not_a_notification_is_refused(body):
    with pytest.raises(NotificationError):
        parse_notification(body)


def test_a_notification_has_a_bounded_number_of_records():
    many = [record("uploads", f"s/{i}.zip", "e", 1) for i in range(MAX_RECORDS + 1)]
    with pytest.raises(NotificationError, match="records"):
        parse_notification(aws_event(*many))


@pytest.mark.parametrize("header, ok", [
    ("s3cret-token", True), ("Bearer s3cret-token", True), ("bearer s3cret-token", True),
    ("Bearer wrong", False), ("", False), (None, False), ("s3cret-token-and-more", False),
])
def test_the_shared_secret_bare_or_as_a_bearer_token(header, ok):
    assert authorized(header, "s3cret-token") is ok


def test_no_secret_configured_refuses_everyone():
    assert not authorized("", "") and not authorized("Bearer ", "")


def test_the_endpoint_turns_away_connections_beyond_its_bound(monkeypatch):
    """Idle connections (a slow client, a flood) never hold more than MAX_CONNECTIONS threads."""
    import socket
    import threading
    import time

    from workers import http_api

    monkeypatch.setattr(http_api, "MAX_CONNECTIONS", 2)
    stop = threading.Event()
    api = http_api.IngestAPI(intake=None, status=lambda sid: None, notify_secret="s", status_token="t")
    server = http_api.serve(api, "127.0.0.1", 0, stop)
    port = server.server_address[1]
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]     # they send nothing
    try:
        time.sleep(0.3)
        refused = socket.create_connection(("127.0.0.1", port))
        refused.settimeout(5)
        try:
            refused.sendall(b"HEAD /notifications HTTP/1.0\r\n\r\n")
            answer = refused.recv(100)
        except ConnectionResetError:
            answer = b""
        assert answer == b""                                                     # closed, not served
        for sock in idle:
            sock.close()
        time.sleep(0.3)
        served = socket.create_connection(("127.0.0.1", port))
        served.settimeout(5)
        served.sendall(b"HEAD /notifications HTTP/1.0\r\n\r\n")
        assert served.recv(100).startswith(b"HTTP/1.0 200")
    finally:
        stop.set()


@pytest.mark.parametrize("error, code", [(RuntimeError("a bug"), 500), (__import__("redis").ConnectionError("down"), 503)])
def test_the_endpoint_answers_a_failure_so_that_the_store_sends_again(error, code, monkeypatch):
    import threading
    import urllib.error
    import urllib.request

    from workers import http_api

    monkeypatch.setattr(http_api, "outage_of", lambda exc: None)    # the process-wide outage state stays as it was

    class Failing:
        def receive(self, objects):
            raise error

    stop = threading.Event()
    server = http_api.serve(http_api.IngestAPI(Failing(), lambda sid: None, notify_secret="s", status_token="t"), "127.0.0.1", 0, stop)
    body = minio_webhook(record("uploads", "s/event.json", "e", 1))
    request = urllib.request.Request(f"http://127.0.0.1:{server.server_address[1]}/notifications", data=body,
                                     method="POST", headers={"Authorization": "s"})
    try:
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(request, timeout=10)
        assert answer.value.code == code
    finally:
        stop.set()
