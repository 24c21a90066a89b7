"""The sampling decode is shared: the subtitle search and the upscale estimate read one video's
keyframes once, and give what each gives alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import ffmpeg, keyframes
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
    material = Material(path=f"{name}.mp4", role="application_video", role_source="name", size=1, sha256="0" * 64, kind="video",
                        key=f"{name}.mp4")
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
