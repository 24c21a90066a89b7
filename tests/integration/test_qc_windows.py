"""A long video's QC in windows (separate workers in the distributed mode) merges into what
the one pass finds: black, frozen and silent stretches that cross a seam come out whole."""

from __future__ import annotations

import pytest

from pipeline.models import Material, UploadEvent, VideoProbe
from pipeline.qc import Picture, analyse_sound, analyse_window, merge_windows, plan_windows, run_qc
from pipeline.layout import Layout
from pipeline.storage import LocalStore
from pipeline.stages.context import SubmissionContext
from pipeline.stages.video import analyse_video, video_jobs
from tests import media

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def seamed(tmp_path_factory, ffmpeg_available):
    return media.across_seams(tmp_path_factory.mktemp("seams") / "lesson.mp4")


def windowed(rules):
    """The rules with 16 s windows from 30 s on: the 64 s video has seams at 16, 32 and 48 s."""
    qc = rules.qc.model_copy(update={"window_threshold_s": 30, "window_s": 16})
    return rules.model_copy(update={"qc": qc})


def spans(stretches) -> list[tuple[float, float]]:
    return [(round(s.start, 2), round(s.end, 2)) for s in stretches]


def test_windows_merge_into_the_one_pass_result(seamed, rules):
    picture = Picture(duration_s=64.0, fps=10, frame_size=(640, 360))
    one_pass, _ = run_qc(str(seamed), "mov", duration_s=64.0, fps=10, has_audio=True, rules=rules.qc, frame_size=(640, 360),
                         threads=1)
    assert spans(one_pass.black) == [(13.0, 19.0), (47.0, 50.0)] and spans(one_pass.silent) == [(44.0, 62.0)]
    assert spans(one_pass.frozen) == [(26.0, 40.1)]
    qc = windowed(rules).qc
    windows = plan_windows(64.0, qc)
    assert windows == [(0.0, 16.0), (16.0, 32.0), (32.0, 48.0), (48.0, 64.0)]
    parts = [analyse_window(str(seamed), "mov", window, picture, qc, first=index == 0)[0] for index, window in enumerate(windows)]
    sound, _ = analyse_sound(str(seamed), "mov", 64.0, qc)
    merged = merge_windows(list(reversed(parts)), sound, picture, qc)     # in any order
    assert merged == one_pass
    # neither side of the 32 s seam holds the frozen stretch's 10 s: the window before it reads on and sees it whole
    assert spans(parts[1].frozen) == [(26.0, 40.1)] and parts[2].frozen == []


def test_a_long_video_is_cut_into_jobs_and_a_short_one_is_not(rules):
    probe = VideoProbe(duration_s=2678.0, audio=[{"codec": "aac"}])
    jobs = video_jobs(rules, probe)
    assert jobs[:3] == ["samples", "window-0", "window-1"] and jobs[-1:] == ["sound"]
    assert len(jobs) == 9 + 2                                   # 44:38 in windows of about 300 s, samples and sound
    assert video_jobs(rules, VideoProbe(duration_s=rules.qc.window_threshold_s)) == ["whole"]
    assert "sound" not in video_jobs(rules, VideoProbe(duration_s=2678.0))      # no soundtrack, no sound job


def test_the_embedded_mode_runs_the_jobs_side_by_side_and_finds_what_one_pass_finds(seamed, rules, tmp_path):
    store = LocalStore(tmp_path)
    store.put_file("lesson.mp4", seamed, "video/mp4")
    material = Material(path="课堂实录.mp4", role="classroom_recording", role_source="name", size=seamed.stat().st_size,
                        sha256="0" * 64, kind="video", key="lesson.mp4")
    event = UploadEvent(submission_id="seams", project="case", archive={"bucket": "local", "key": "x.zip"})

    def analysed(ruleset):
        ctx = SubmissionContext(event, ruleset, store, Layout("seams", embedded=True))
        report, findings = analyse_video(ctx, material)
        return report, findings, ctx.timings

    whole, whole_findings, _ = analysed(rules)
    parts, part_findings, timings = analysed(windowed(rules))
    codes = {f.code for f in part_findings}
    assert {"VIDEO_BLACK_SEGMENTS", "VIDEO_FROZEN_SEGMENTS", "AUDIO_SILENT_SEGMENTS"} <= codes
    assert [f.model_dump() for f in part_findings] == [f.model_dump() for f in whole_findings]
    assert parts.qc.model_dump(exclude={"upscale"}) == whole.qc.model_dump(exclude={"upscale"})
    assert parts.subtitles == whole.subtitles and timings["qc_cpu"] > 0
