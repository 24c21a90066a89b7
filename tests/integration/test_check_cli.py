"""`smartedu check` end to end: real ffmpeg, real files, the real console script."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.sample import VideoSpec
from tests.helpers import add_member, codes, replace_member, run_check, sample, video_bytes

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def work(tmp_path_factory, ffmpeg_available) -> Path:
    return tmp_path_factory.mktemp("check")


@pytest.mark.parametrize("project,applicant", [("case", "teacher"), ("case", "school"), ("case", "district"),
                                               ("lesson", "teacher"), ("team", "team")])
def test_conformant_samples_pass(work, project, applicant):
    archive, event = sample(work, f"ok-{project}-{applicant}", project=project, applicant_type=applicant)
    code, verdict, stderr = run_check(archive, out=work / f"out-{project}-{applicant}", event=event)
    assert verdict is not None, stderr
    assert verdict["status"] in ("pass", "warn"), verdict["findings"]
    assert code == 0
    assert codes(verdict, "fail") == set()
    roles = {m["role"] for m in verdict["materials"]}
    assert "registration_form" in roles
    assert all(m["sha256"] and m["size"] > 0 for m in verdict["materials"])
    video = verdict["videos"][0]["probe"]
    assert (video["display_width"], video["display_height"], video["container"]) == (1920, 1080, "mp4")
    assert verdict["rules_version"] and verdict["pipeline_version"] and verdict["created_at"]
    assert (work / f"out-{project}-{applicant}" / "verdict.json").exists()


def test_human_summary_and_exit_code_without_event(work):
    archive, _ = sample(work, "summary", project="lesson")
    import subprocess
    from tests.helpers import SMARTEDU
    proc = subprocess.run([SMARTEDU, "check", str(archive), "--project", "lesson", "--out", str(work / "out-summary"),
                           "--state", str(work / ".state")], capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert b"summary (lesson)" in proc.stdout
    verdict = json.loads((work / "out-summary" / "verdict.json").read_text())
    assert verdict["submission_id"] == "summary"


def _variant(work: Path, name: str, *, video: VideoSpec | None = None, **spec):
    archive, event = sample(work, name, video=video, **spec)
    return archive, event


@pytest.mark.parametrize("name,video,expected", [
    ("res720", VideoSpec(width=1280, height=720, duration_s=2), {"VIDEO_RESOLUTION_LOW"}),
    ("aspect43", VideoSpec(width=1920, height=1440, duration_s=2), {"VIDEO_ASPECT_NOT_16_9"}),
    ("mov", VideoSpec(container="mov", duration_s=2), {"VIDEO_NOT_MP4"}),
    ("mkv", VideoSpec(container="matroska", duration_s=2), {"VIDEO_NOT_MP4"}),
    ("long", VideoSpec(duration_s=390, fps=1, width=1920, height=1080), {"VIDEO_TOO_LONG"}),
])
def test_video_variants_fail_with_their_code(work, name, video, expected):
    archive, event = _variant(work, name, video=video)
    code, verdict, stderr = run_check(archive, out=work / f"out-{name}", event=event)
    assert codes(verdict, "fail") == expected, verdict["findings"]
    assert verdict["status"] == "fail" and code == 1
    finding = next(f for f in verdict["findings"] if f["code"] in expected)
    assert finding["path"] == "应用视频.mp4" and "应用视频.mp4" in finding["message"]


def test_no_audio_is_a_warning(work):
    archive, event = _variant(work, "noaudio", video=VideoSpec(audio=False, duration_s=2))
    code, verdict, _ = run_check(archive, out=work / "out-noaudio", event=event)
    assert codes(verdict) >= {"VIDEO_NO_AUDIO"} and verdict["status"] == "warn" and code == 0


def test_case_video_of_5_50_passes(work):
    archive, event = _variant(work, "len550", video=VideoSpec(duration_s=350, fps=1))
    _, verdict, _ = run_check(archive, out=work / "out-len550", event=event)
    assert "VIDEO_TOO_LONG" not in codes(verdict)


def test_missing_courseware(work):
    archive, event = _variant(work, "nocourseware", project="lesson", drop_roles=("courseware",))
    code, verdict, _ = run_check(archive, out=work / "out-nocourseware", event=event)
    missing = [f for f in verdict["findings"] if f["code"] == "MATERIAL_MISSING"]
    assert [f["detail"]["role"] for f in missing] == ["courseware"] and code == 1
    assert "课件" in missing[0]["message"]


def test_three_authors_and_different_units(work):
    authors = [{"name": "张三", "unit": "一中"}, {"name": "李四", "unit": "二中"}, {"name": "王五", "unit": "一中"}]
    archive, event = _variant(work, "authors", authors=authors)
    _, verdict, _ = run_check(archive, out=work / "out-authors", event=event)
    assert {"AUTHORS_TOO_MANY", "AUTHORS_DIFFERENT_UNITS"} <= codes(verdict, "fail")
    too_many = next(f for f in verdict["findings"] if f["code"] == "AUTHORS_TOO_MANY")
    assert too_many["detail"]["count"] == 3 and too_many["detail"]["limit"] == 2


def test_late_upload(work):
    archive, event = _variant(work, "late", uploaded_at="2023-07-26T00:00:01+08:00")
    _, verdict, _ = run_check(archive, out=work / "out-late", event=event)
    assert codes(verdict, "fail") == {"SUBMITTED_AFTER_DEADLINE"}
    archive, event = _variant(work, "lastsecond", uploaded_at="2023-07-25T23:59:59+08:00")
    _, verdict, _ = run_check(archive, out=work / "out-lastsecond", event=event)
    assert "SUBMITTED_AFTER_DEADLINE" not in codes(verdict)


def test_not_a_zip(work):
    fake = work / "fake.zip"
    fake.write_bytes(b"%PDF-1.4 this is a pdf renamed to zip\n" * 50)
    code, verdict, _ = run_check(fake, "--project", "case", out=work / "out-fake")
    assert codes(verdict) == {"ARCHIVE_UNREADABLE"} and verdict["status"] == "fail" and code == 1


def test_too_large_archive_is_decided_without_reading_it(work):
    big = work / "big.zip"
    with open(big, "wb") as handle:
        handle.truncate(734_003_201)        # sparse: no disk used, never read
    code, verdict, _ = run_check(big, "--project", "case", out=work / "out-big")
    assert codes(verdict) == {"ARCHIVE_TOO_LARGE"} and code == 1


def test_unreadable_and_unrecognized_members(work):
    archive, event = _variant(work, "broken")
    replace_member(archive, "应用视频.mp4", video_bytes(work, "v.mp4", VideoSpec(duration_s=2))[:100_000])
    add_member(archive, "IMG_0001.heic.bin", b"\0" * 100)
    _, verdict, _ = run_check(archive, out=work / "out-broken", event=event)
    assert "VIDEO_UNREADABLE" in codes(verdict, "fail")
    assert "MATERIAL_UNRECOGNIZED" in codes(verdict, "info")


def test_hls_playlist_named_mp4_is_not_followed(work):
    secret = work / "secret.txt"
    secret.write_text("do not read")
    archive, event = _variant(work, "hls")
    replace_member(archive, "应用视频.mp4", f"#EXTM3U\n#EXTINF:10,\nfile://{secret}\n".encode())
    _, verdict, _ = run_check(archive, out=work / "out-hls", event=event)
    finding = next(f for f in verdict["findings"] if f["code"] == "VIDEO_UNREADABLE")
    assert finding["detail"]["container"] == "hls"
    assert "do not read" not in json.dumps(verdict, ensure_ascii=False)


@pytest.mark.parametrize("content,expected", [
    (b"{not json", 2), (json.dumps({"project": "case"}).encode(), 2),
])
def test_bad_event_is_a_usage_error(work, content, expected):
    archive, _ = sample(work, "badevent")
    event_path = work / "bad-event.json"
    event_path.write_bytes(content)
    import subprocess
    from tests.helpers import SMARTEDU
    proc = subprocess.run([SMARTEDU, "check", str(archive), "--event", str(event_path), "--out", str(work / "o")],
                          capture_output=True, timeout=60)
    assert proc.returncode == expected and b"Traceback" not in proc.stderr


def test_rerun_is_idempotent(work):
    archive, event = sample(work, "rerun")
    out = work / "out-rerun"
    _, first, _ = run_check(archive, out=out, event=event)
    _, second, _ = run_check(archive, out=out, event=event)
    strip = lambda v: {k: v[k] for k in ("status", "findings", "materials", "videos")}
    assert strip(first) == strip(second)
    assert len(list((out / "members").iterdir())) == len(first["materials"])


def test_an_archive_of_many_videos_is_analysed_within_the_bounds(work):
    import yaml

    from config.settings import DEFAULT_RULES

    data = yaml.safe_load(DEFAULT_RULES.read_text(encoding="utf-8"))
    data["archive"]["max_videos_analysed"] = 2
    bounded = work / "bounded-rules.yaml"
    bounded.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    archive, event = sample(work, "many-videos")
    for i in range(3):                                                  # the longest clip is the largest
        add_member(archive, f"花絮/片段{i}.mp4", video_bytes(work, f"clip{i}.mp4", VideoSpec(duration_s=1.0 + i, width=640, height=360)))
    _, verdict, stderr = run_check(archive, "--skip-media", out=work / "out-many", event=event,
                                   env={"SMARTEDU_RULES": str(bounded)})
    assert verdict is not None, stderr
    analysed = {v["path"] for v in verdict["videos"]}
    assert len(analysed) == 2 and "应用视频.mp4" in analysed and "花絮/片段2.mp4" in analysed
    finding = next(f for f in verdict["findings"] if f["code"] == "ANALYSIS_LIMITED")
    assert finding["detail"]["videos"] == 4 and finding["detail"]["videos_analysed"] == 2
    assert sum(m["kind"] == "video" for m in verdict["materials"]) == 4          # listed, though not all analysed
