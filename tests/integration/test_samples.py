"""The sampling decode is shared: the subtitle search, the upscale estimate and the thumbnails
read one video's keyframes once, and give what each gives alone."""

from __future__ import annotations

from pathlib import Path

import pytest

import hashlib
from dataclasses import replace

from pipeline import ffmpeg, keyframes, media, thumbnails
from pipeline.layout import Layout
from pipeline.models import Material, UploadEvent
from pipeline.probe import probe_video
from pipeline.sample import VideoSpec, make_video
from pipeline.stages.context import SubmissionContext
from pipeline.stages.video import analyse_video
from pipeline.storage import LocalStore
from pipeline.subtitles import detect_subtitles
from pipeline.upscale import estimate_native_size

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def work(tmp_path_factory, ffmpeg_available) -> Path:
    return tmp_path_factory.mktemp("samples")


@pytest.fixture
def sampling_decodes(monkeypatch):
    """Every ffmpeg command the sampling decode runs (it still runs: a spy, not a fake)."""
    seen: list[list[str]] = []
    real = ffmpeg.run

    def spy(cmd, **kwargs):
        seen.append(cmd)
        return real(cmd, **kwargs)

    monkeypatch.setattr(keyframes.ffmpeg, "run", spy)
    return seen


def _analysed(work: Path, rules, name: str, spec: VideoSpec):
    make_video(work / f"{name}.mp4", spec)
    store = LocalStore(work)
    ctx = SubmissionContext(UploadEvent(submission_id=name, project="case", archive={"bucket": "local", "key": "x.zip"}),
                            rules, store, Layout(name, embedded=True), ffmpeg_threads=1)
    material = Material(path=f"{name}.mp4", role="application_video", role_source="name", size=1,
                        sha256=hashlib.sha256(name.encode()).hexdigest(), kind="video", key=f"{name}.mp4")
    report, _findings = analyse_video(ctx, material)
    return store, material, report


def test_subtitles_and_the_upscale_estimate_share_one_keyframe_decode(work, rules, sampling_decodes):
    spec = VideoSpec(duration_s=8.0, gop_s=1.0, native=(1280, 720), bitrate="6M")
    store, material, report = _analysed(work, rules, "shared", spec)
    keyframe_decodes = [cmd for cmd in sampling_decodes if "-skip_frame" in cmd]
    assert len(keyframe_decodes) == 1, keyframe_decodes
    assert "split=2" in keyframe_decodes[0][keyframe_decodes[0].index("-filter_complex") + 1]
    assert report.subtitles.kind == "burned_in" and report.qc.upscale is not None
    # each alone gives the same
    probe = probe_video(store, material.key)
    source = str(work / material.key)
    alone, _ = detect_subtitles(store, material, [material], probe, source, "mov", rules.subtitles, threads=1)
    estimate, _ = estimate_native_size(source, "mov", width=1920, height=1080, duration_s=probe.duration_s, rules=rules.upscale)
    assert report.subtitles == alone
    assert report.qc.upscale == estimate and estimate.frames >= rules.upscale.min_samples


def test_a_rotated_picture_is_sampled_as_stored_for_the_estimate_and_as_shown_for_subtitles(work, rules, sampling_decodes):
    spec = VideoSpec(duration_s=8.0, gop_s=1.0, rotate=90, bitrate="6M")
    _store, _material, report = _analysed(work, rules, "rotated", spec)
    keyframe_decodes = [cmd for cmd in sampling_decodes if "-skip_frame" in cmd]
    assert len(keyframe_decodes) == 2 and sum("-noautorotate" in cmd for cmd in keyframe_decodes) == 1, keyframe_decodes
    assert report.subtitles.kind == "burned_in" and report.qc.upscale is not None and report.qc.upscale.frames > 0


def _size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        return image.size


def test_the_thumbnails_ride_on_the_keyframe_decode_and_the_previews_decode_nothing_for_them(work, rules, sampling_decodes,
                                                                                           monkeypatch):
    spec = VideoSpec(width=640, height=360, duration_s=130.0, gop_s=2.0)
    store, material, report = _analysed(work, rules, "riders", spec)
    keyframe_decodes = [cmd for cmd in sampling_decodes if "-skip_frame" in cmd]
    assert len(keyframe_decodes) == 1, keyframe_decodes
    assert "tile=10x10" in keyframe_decodes[0][keyframe_decodes[0].index("-filter_complex") + 1]
    assert report.subtitles.kind == "burned_in"
    layout = Layout("riders", embedded=True)
    keys = {name: layout.thumbnail(material.sha256, name) for name in thumbnails.THUMBNAIL_NAMES}
    assert all(store.exists(key) for key in keys.values())
    assert _size(store.path(keys["poster.jpg"])) == (1280, 720) and _size(store.path(keys["poster-small.jpg"])) == (320, 180)
    assert _size(store.path(keys["storyboard.jpg"])) == (1600, 900)
    assert store.get_bytes(keys["storyboard.vtt"]).decode().count("storyboard.jpg#xywh=") == 100

    decodes: list[list[str]] = []
    real = ffmpeg.run
    monkeypatch.setattr(thumbnails.ffmpeg, "run", lambda cmd, **kw: decodes.append(cmd) or real(cmd, **kw))
    assert media.make_thumbnails(store, layout, material, report.probe, spec=media.spec_for(report)) == keys
    assert decodes == []
    # a preview of another stretch does not take them: its storyboard is made for it
    shorter = replace(media.spec_for(report), until_s=125.0)
    made = media.make_thumbnails(store, layout, material, report.probe, spec=shorter)
    assert decodes and made == keys
    assert "00:01:15.000" in store.get_bytes(keys["storyboard.vtt"]).decode()       # 1.25 s a tile


def test_a_short_videos_thumbnails_are_left_to_the_previews(work, rules, sampling_decodes):
    """Under two minutes the storyboard wants every frame (no black tiles): not a keyframe rider."""
    spec = VideoSpec(width=640, height=360, duration_s=8.0, gop_s=1.0)
    store, material, _report = _analysed(work, rules, "short-riders", spec)
    keyframe_decodes = [cmd for cmd in sampling_decodes if "-skip_frame" in cmd]
    assert keyframe_decodes and not any("tile=" in cmd[cmd.index("-filter_complex") + 1] for cmd in keyframe_decodes)
    assert not store.exists(Layout("short-riders", embedded=True).thumbnail(material.sha256, "storyboard.vtt"))
