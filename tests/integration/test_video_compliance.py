"""Each video case of the notice gives exactly its codes through `smartedu check --json`."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from pipeline import ffmpeg
from pipeline.sample import VideoSpec, make_video
from tests import media
from tests.helpers import replace_member, run_check, sample

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def work(tmp_path_factory, ffmpeg_available) -> Path:
    return tmp_path_factory.mktemp("video")


def check_with_video(work: Path, name: str, video: Path, *, project: str = "case", media: bool = True) -> dict:
    archive, event = sample(work, name, project=project)
    member = {"case": "应用视频.mp4", "lesson": "课堂教学实录.mp4", "team": "专题介绍视频.mp4"}[project]
    replace_member(archive, member, video.read_bytes())
    extra = () if media else ("--skip-media",)
    code, verdict, stderr = run_check(archive, *extra, out=work / f"out-{name}", event=event, timeout=600)
    assert verdict is not None, stderr
    return verdict


def spec_video(work: Path, name: str, **spec) -> Path:
    return make_video(work / f"{name}.mp4", VideoSpec(**{"duration_s": 2, **spec}))


def not_info(verdict: dict) -> set[str]:
    return {f["code"] for f in verdict["findings"] if f["severity"] != "info"}


@pytest.mark.parametrize("name,spec,expected", [
    ("ok", {}, set()),
    ("r720p", {"width": 1280, "height": 720}, {"VIDEO_RESOLUTION_LOW"}),
    ("r43", {"width": 1920, "height": 1440}, {"VIDEO_ASPECT_NOT_16_9"}),
    ("portrait", {"rotate": 90}, {"VIDEO_ASPECT_NOT_16_9"}),
    ("upside", {"rotate": 180}, set()),
    ("hdv", {"width": 1440, "height": 1080, "sar": "4/3"}, set()),
    ("mov", {"container": "mov"}, {"VIDEO_NOT_MP4"}),
    ("mkv", {"container": "matroska"}, {"VIDEO_NOT_MP4"}),
    ("mute", {"audio": False}, {"VIDEO_NO_AUDIO"}),
])
def test_format_cases(work, name, spec, expected):
    verdict = check_with_video(work, name, spec_video(work, name, **spec))
    assert not_info(verdict) == expected, verdict["findings"]
    probe = verdict["videos"][0]["probe"]
    if name == "portrait":
        assert (probe["display_width"], probe["display_height"], probe["rotation"] % 180) == (1080, 1920, 90)
    if name == "hdv":
        assert (probe["width"], probe["display_width"], probe["display_height"]) == (1440, 1920, 1080)


def test_truncated_video(work):
    whole = spec_video(work, "whole")
    cut = work / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    verdict = check_with_video(work, "truncated", cut)
    assert not_info(verdict) == {"VIDEO_UNREADABLE"}


def test_moov_at_the_end_cut_off(work):
    moov_last = make_video(work / "moovlast.mp4", VideoSpec(duration_s=2, container="mov"))
    data = moov_last.read_bytes()
    cut = work / "nomoov.mp4"
    cut.write_bytes(data[: data.rfind(b"moov") - 4])
    verdict = check_with_video(work, "nomoov", cut)
    assert "VIDEO_UNREADABLE" in not_info(verdict)


@pytest.mark.parametrize("name,seconds,project,too_long", [
    ("case550", 350, "case", False), ("case630", 390, "case", True),
    ("rec4400", 2640, "lesson", False), ("rec4600", 2760, "lesson", True),
])
def test_duration_limits(work, name, seconds, project, too_long):
    video = media.long_recording(work / f"{name}.mp4", seconds, work)
    verdict = check_with_video(work, name, video, project=project, media=False)   # the rule, not the renditions
    # The test card carries no subtitles: SUBTITLES_ABSENT is part of its exact outcome.
    assert not_info(verdict) == ({"VIDEO_TOO_LONG"} if too_long else set()) | {"SUBTITLES_ABSENT"}, verdict["findings"]
    video.unlink()


@pytest.mark.parametrize("name,maker,code", [
    ("black", media.with_black, "VIDEO_BLACK_SEGMENTS"),
    ("frozen", media.with_freeze, "VIDEO_FROZEN_SEGMENTS"),
    ("silent", media.with_silence, "AUDIO_SILENT_SEGMENTS"),
    ("shaky", media.handheld_walk, "VIDEO_SHAKY"),
    ("stable", media.tripod, None),
])
def test_quality_cases(work, name, maker, code):
    verdict = check_with_video(work, name, maker(work / f"{name}.mp4"))
    # These cameras film a test card without subtitles: SUBTITLES_ABSENT is part of their exact outcome.
    assert not_info(verdict) == ({code} if code else set()) | {"SUBTITLES_ABSENT"}, verdict["findings"]
    if code and code != "VIDEO_SHAKY":
        finding = next(f for f in verdict["findings"] if f["code"] == code)
        start, end = finding["detail"]["ranges"][0]
        expected = {"VIDEO_BLACK_SEGMENTS": (2, 6), "VIDEO_FROZEN_SEGMENTS": (2, 15), "AUDIO_SILENT_SEGMENTS": (2, 19)}[code]
        assert abs(start - expected[0]) < 0.6 and abs(end - expected[1]) < 0.6, finding


class Listener:
    """A TCP listener on loopback that records every connection attempt."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.hits = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
                self.hits += 1
                conn.close()
            except OSError:
                continue

    def close(self):
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


@pytest.mark.parametrize("kind", ["hls", "ffconcat"])
def test_playlists_named_mp4_open_nothing_else(work, kind):
    listener = Listener()
    secret = work / "secret.ts"
    media.run([*media.FF, "-f", "lavfi", "-i", "testsrc2=s=320x240:d=1", "-f", "mpegts", str(secret)])
    if kind == "hls":
        body = (f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile://{secret}\n"
                f"#EXTINF:10,\nhttp://127.0.0.1:{listener.port}/x.ts\n#EXT-X-ENDLIST\n")
    else:
        body = f"ffconcat version 1.0\nfile '{secret}'\nfile 'http://127.0.0.1:{listener.port}/x.ts'\n"
    playlist = work / f"{kind}.mp4"
    playlist.write_text(body)
    before = secret.stat().st_atime_ns
    try:
        verdict = check_with_video(work, kind, playlist)
        assert not_info(verdict) == {"VIDEO_UNREADABLE"}
        # Even forced through ffmpeg with the demuxer we would pick, nothing else is opened.
        with pytest.raises(ffmpeg.FFmpegError):
            ffmpeg.ffprobe(str(playlist), "mov", timeout_s=20)
        with pytest.raises(ValueError):
            ffmpeg.input_args(str(playlist), kind if kind == "hls" else "concat")
    finally:
        listener.close()
    assert listener.hits == 0
    assert secret.stat().st_atime_ns == before
