"""The same submissions through `smartedu check` and through real workers on Redis and S3 give
the same verdict, field by field, apart from object keys, run ids, times and timestamps; the
timing keys are the same in both modes.

The cases go one after the other in the same order in both modes, against an activity state
of their own in each (a fresh `--state` folder, a flushed Redis DB), so duplication and
topic checks see the same earlier submissions."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from pipeline.sample import VideoSpec
from tests.helpers import comparable_verdict, run_check, sample
from tests.services import stop_process
from tests.cluster import add_event, notices, verdict_of, wait_for

pytestmark = pytest.mark.integration

# name -> (sample spec, the status both modes must give)
CASES = {
    "pass": ({"project": "case"}, "pass"),
    # a 720p recording scaled up to 1080p, its speech too quiet: the picture and sound checks agree too
    "warn": ({"project": "lesson", "video": VideoSpec(duration_s=2.0, native=(1280, 720), bitrate="8M", audio_lufs=-35.0),
              "authors": [{"name": "李四", "unit": "高新区实验小学"}]}, "warn"),
    "fail": ({"project": "case", "uploaded_at": "2023-08-01T10:00:00+08:00", "video": VideoSpec(duration_s=2.0, width=640, height=360),
              "authors": [{"name": "王五", "unit": "高新区实验小学"}]}, "fail"),
}


def assert_same(distributed: dict, embedded: dict, name: str) -> None:
    ours, theirs = comparable_verdict(distributed), comparable_verdict(embedded)
    for field in sorted(set(ours) | set(theirs)):
        assert ours.get(field) == theirs.get(field), (name, field)


def through_workers(cluster, archive: Path, event: dict, *, media: bool) -> dict:
    sid = event["submission_id"]
    cluster["s3"].fput_object("uploads", event["archive"]["key"], str(archive))
    add_event(cluster, event)
    wait_for(lambda: notices(cluster, sid, kind="media" if media else "verdict"), 240, f"verdict for {sid}")
    return verdict_of(cluster, sid)


def case(tmp_path: Path, name: str, spec: dict) -> tuple[Path, dict]:
    sid = f"parity-{name}-{uuid.uuid4().hex[:6]}"
    archive, event = sample(tmp_path, sid, submission_id=sid, **spec)
    event["archive"] = {"bucket": "uploads", "key": f"{sid}/{archive.name}"}
    return archive, event


def test_pass_warn_fail_and_error_are_the_same_in_both_modes(cluster, processes, tmp_path):
    worker = processes("worker", "--processes", "1", "--threads", "2")
    processes("ingest", "--claim-idle", "5")
    state = tmp_path / "embedded-activity"
    for name, (spec, status) in CASES.items():
        archive, event = case(tmp_path, name, spec)
        _code, embedded, stderr = run_check(archive, out=tmp_path / f"out-{name}", event=event, state=state)
        assert embedded is not None, stderr
        distributed = through_workers(cluster, archive, event, media=True)
        assert embedded["status"] == status, (name, embedded["findings"])
        if name == "warn":
            assert {"VIDEO_UPSCALED", "AUDIO_TOO_QUIET"} <= {f["code"] for f in distributed["findings"]}
        assert_same(distributed, embedded, name)
        assert distributed["videos"][0]["renditions"] and distributed["timings"]["media"] > 0

    # A tool missing from the machine (no ffprobe on PATH) breaks the video part in both modes:
    # an `error` verdict that names the stage and the exception, and keeps the other parts.
    no_tools = tmp_path / "bin-without-ffmpeg"
    no_tools.mkdir()
    stop_process(worker, timeout=20)
    cluster["env"] = {**cluster["env"], "PATH": str(no_tools)}
    processes("worker", "--processes", "1", "--threads", "2")
    archive, event = case(tmp_path, "error", {"project": "case", "authors": [{"name": "赵六", "unit": "高新区实验小学"}]})
    code, embedded, stderr = run_check(archive, out=tmp_path / "out-error", event=event, state=state,
                                       env={"PATH": str(no_tools)})
    assert code == 2 and embedded is not None, stderr
    assert embedded["error"]["stage"] == "video" and embedded["error"]["type"] == "FileNotFoundError", embedded["error"]
    assert embedded["documents"] and embedded["materials"]
    distributed = through_workers(cluster, archive, event, media=False)
    assert_same(distributed, embedded, "error")
