import pytest
import redis
from structlog.testing import capture_logs

from pipeline import ffmpeg
from pipeline.errors import InputVanishedError, TransientError
from pipeline.probe import blame_tool_failure
from pipeline.storage import LocalStore
from workers.ledger import part_of
from workers.outages import Outage, outage_of, wait_for_redis


def test_an_outage_is_one_line_when_it_starts_and_one_when_it_ends():
    outage = Outage("s3")
    with capture_logs() as logs:
        for _ in range(50):
            outage.failed(TransientError("S3 transport: refused"))
        outage.recovered()
        outage.recovered()
    assert [(e["event"], e.get("failures")) for e in logs] == [("service_unavailable", None), ("service_available", 50)]


def test_which_service_an_error_blames():
    assert outage_of(redis.ConnectionError("x")).service == "redis"
    assert outage_of(TransientError("S3 503")).service == "s3"
    assert outage_of(KeyError("ours")) is None


def test_waiting_for_redis_keeps_the_operation_until_it_succeeds(monkeypatch):
    monkeypatch.setattr("workers.outages.time.sleep", lambda s: None)
    attempts = iter([redis.ConnectionError("down"), redis.ConnectionError("down"), "sent"])

    def operation():
        value = next(attempts)
        if isinstance(value, Exception):
            raise value
        return value

    with capture_logs() as logs:
        assert wait_for_redis(operation, what="retry") == "sent"
    assert [e["event"] for e in logs] == ["service_unavailable", "service_available"]
    with pytest.raises(redis.ConnectionError):
        wait_for_redis(lambda: (_ for _ in ()).throw(redis.ConnectionError("down")), what="x", max_wait_s=0)


def error(stderr: str, source: str = "http://127.0.0.1:9000/b/k?X-Amz-Signature=s") -> ffmpeg.FFmpegError:
    return ffmpeg.FFmpegError("failed", cmd=["ffmpeg", "-i", source, "-f", "null", "-"], returncode=1, stderr_tail=stderr)


@pytest.mark.parametrize("stderr,transport", [
    ("http://127.0.0.1:9000/b/k: Connection refused", True),
    ("Server returned 503 Service Unavailable", True),
    ("Server returned 403 Forbidden (access denied)", True),
    ("moov atom not found", False),
    ("Invalid data found when processing input", False),
])
def test_transport_failures_are_told_from_broken_files(stderr, transport):
    assert ffmpeg.transport_failed(error(stderr)) is transport
    assert ffmpeg.transport_failed(error(stderr, source="/tmp/local.mp4")) is False


def test_a_tool_failure_is_blamed_on_the_store_only_when_the_store_failed(tmp_path):
    store = LocalStore(tmp_path)
    store.put_bytes("members/v.mp4", b"x")
    with pytest.raises(TransientError):
        blame_tool_failure(store, "members/v.mp4", error("Connection refused"))
    blame_tool_failure(store, "members/v.mp4", error("moov atom not found"))      # the upload's fault: returns
    with pytest.raises(InputVanishedError):
        blame_tool_failure(store, "members/gone.mp4", error("No such file"))


def test_flow_messages_are_named_by_part():
    import dramatiq

    def message(actor, *args):
        return dramatiq.Message(queue_name="q", actor_name=actor, args=args, kwargs={}, options={})

    assert part_of(message("analyse_video_part", "s", "r", 3)) == ("s", "r", "video-3")
    assert part_of(message("encode_media_piece", "s", "r", 1, -1)) == ("s", "r", "piece-1--1")
    assert part_of(message("analyse_video_job", "s", "r", 3, "window-0")) == ("s", "r", "video-3/window-0")
    assert part_of(message("finish_video_part", "s", "r", 3)) == ("s", "r", "video-3/finish")
    assert part_of(message("deliver_callback", "s", "r")) is None
    assert part_of(message("stage_gave_up", {"args": []}, {})) is None


def test_dramatiqs_reconnect_warnings_pass_once_per_window_whatever_the_consumer():
    import logging

    from workers.outages import RepeatFilter

    repeats = RepeatFilter(window_s=300)

    def record(logger: str, msg: str) -> logging.LogRecord:
        return logging.LogRecord(logger, logging.INFO, __file__, 1, msg, (3.0,), None)

    consumers = [f"dramatiq.worker.ConsumerThread(smartedu:dramatiq:{q})" for q in ("unpack", "video", "documents")]
    passed = [repeats.filter(record(name, "Restarting consumer in %0.2f seconds.")) for name in consumers * 4]
    assert passed.count(True) == 1
    assert repeats.filter(record("dramatiq.worker", "Retries exceeded for message %r."))     # other lines untouched
    assert repeats.filter(record("workers", "Restarting consumer in %0.2f seconds."))         # only dramatiq's
