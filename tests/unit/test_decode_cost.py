"""What the QC pass and the sampling decode ask of ffmpeg to cost less than a plain decode."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import keyframes, qc

TRF, PEAKS = Path("/t/motion.trf"), Path("/t/peaks.txt")


def _graph(cmd: list[str]) -> str:
    return cmd[cmd.index("-filter_complex") + 1]


def test_the_qc_pass_decodes_without_the_loop_filter(rules):
    cmd = qc.qc_command("/x/a.mp4", "mov", rules.qc, has_audio=True, trf_path=TRF, peaks_path=PEAKS, threads=1, fps=25)
    assert cmd[cmd.index("-skip_loop_filter") + 1] == "all" and cmd.index("-skip_loop_filter") < cmd.index("-i")
    window = qc.picture_command("/x/a.mp4", "mov", rules.qc, start=10, length=20, trf_path=TRF, with_fields=False, fps=25)
    assert window.index("-skip_loop_filter") < window.index("-i")
    off = rules.qc.model_copy(update={"skip_loop_filter": False})
    assert "-skip_loop_filter" not in qc.qc_command("/x/a.mp4", "mov", off, has_audio=True, trf_path=TRF, peaks_path=PEAKS)


@pytest.mark.parametrize("fps,step", [(25, 1), (29.97, 1), (30, 1), (50, 2), (59.94, 2), (60, 2), (120, 4), (None, 1), (10, 1)])
def test_shake_is_measured_at_about_25_frames_a_second(rules, fps, step):
    assert qc.shake_step(fps, rules.qc) == step
    graph = _graph(qc.qc_command("/x/a.mp4", "mov", rules.qc, has_audio=False, trf_path=TRF, peaks_path=PEAKS, fps=fps))
    detectors = graph[graph.index("blackdetect"):]
    if step > 1:
        assert f"select='not(mod(n\\,{step}))',vidstabdetect" in detectors
    else:
        assert "select" not in detectors


def test_a_50_fps_shake_is_judged_at_the_rate_vidstab_saw(rules):
    """25 measures a second of a 50 fps video: the windows are 2 s of them, not 1 s."""
    jolt = [(0.0, 0.0), (9.0, 0.0)] * 50               # 4 s of shaking at 25 measures a second
    picture = qc.Picture(duration_s=4.0, fps=50.0, frame_size=(1920, 1080))
    result = qc.assemble(picture, rules.qc, black=[], frozen=[], silent=[], motions=jolt, crops=[], fields=None, loudness=None,
                         decode_errors=0)
    assert result.shaky and result.shaky[0].start == 0.0 and result.shaky[-1].end == pytest.approx(4.0)


def test_fields_are_read_on_every_line_of_sampled_columns(rules):
    graph = _graph(qc.qc_command("/x/a.mp4", "mov", rules.qc, has_audio=False, trf_path=TRF, peaks_path=PEAKS, fps=25))
    fields = graph[graph.index("[fields]"):graph.index("idet")]
    assert f"scale=trunc(iw/{rules.qc.idet_column_step}/2)*2:ih:flags=neighbor" in fields
    assert f"trim=end_frame={rules.qc.idet_frames}" in fields


def test_the_sampling_decode_splits_one_keyframe_decode_into_every_branch():
    branches = [keyframes.Branch("select=1,format=gray", ["-f", "rawvideo", "-y", "/t/a.gray"]),
                keyframes.Branch("select=1,format=bgr24", ["-f", "image2", "/t/%05d.bmp"])]
    cmd = keyframes.sampling_command("/x/a.mp4", "mov", branches, threads=1)
    assert cmd[cmd.index("-skip_frame") + 1] == "nokey" and cmd.index("-skip_frame") < cmd.index("-i")
    assert "-protocol_whitelist" in cmd and "-enable_drefs" in cmd and "-noautorotate" not in cmd
    assert _graph(cmd) == "[0:V:0]split=2[b0][b1];[b0]select=1,format=gray[o0];[b1]select=1,format=bgr24[o1]"
    assert cmd[cmd.index("-filter_complex") + 2:] == ["-map", "[o0]", "-f", "rawvideo", "-y", "/t/a.gray",
                                                      "-map", "[o1]", "-f", "image2", "/t/%05d.bmp"]
    alone = keyframes.sampling_command("/x/a.mp4", "mov", branches[:1], keyframes_only=False, autorotate=False)
    assert _graph(alone) == "[0:V:0]select=1,format=gray[o0]" and "-skip_frame" not in alone
    assert alone.index("-noautorotate") < alone.index("-i")
    with pytest.raises(ValueError):
        keyframes.sampling_command("/x/a.mp4", "mov", [])


@pytest.mark.parametrize("field_order,reads", [("tt", True), ("bb", True), ("tb", True), ("progressive", False), (None, False)])
def test_fields_are_read_only_where_the_container_flags_them(rules, field_order, reads):
    """idet's counts decide warn or info for a flagged picture and nothing elsewhere."""
    assert qc.reads_fields(field_order) is reads
    graph = _graph(qc.qc_command("/x/a.mp4", "mov", rules.qc, has_audio=False, trf_path=TRF, peaks_path=PEAKS, fps=25,
                                 fields=qc.reads_fields(field_order)))
    assert ("idet" in graph) is reads and graph.startswith("[0:V:0]split=2[full][fields];" if reads else "[0:V:0]split=1[full];")


def test_the_clipping_peaks_measure_the_peak_alone(rules):
    """astats' other statistics (RMS, entropy, DC offset ...) cost twice the sound's decode."""
    one_pass = _graph(qc.qc_command("/x/a.mp4", "mov", rules.qc, has_audio=True, trf_path=TRF, peaks_path=PEAKS, fps=25))
    sound = _graph(qc.sound_command("/x/a.mp4", "mov", rules.qc, peaks_path=PEAKS))
    for graph in (one_pass, sound):
        stats = graph[graph.index("astats="):].split(",")[0]
        assert "measure_overall=Peak_level" in stats and "measure_perchannel=none" in stats


def test_the_poster_rider_selects_the_first_keyframe_at_or_after_each_point():
    from pipeline import thumbnails

    expr = thumbnails.keyframes_at([15.0, 35.0])
    assert expr.startswith("select='") and expr.endswith("'")
    assert expr[len("select='"):-1].replace("\\,", ",") == ("gte(t,15.000)*(isnan(prev_selected_t)+lt(prev_selected_t,15.000))+"
                                                             "gte(t,35.000)*(isnan(prev_selected_t)+lt(prev_selected_t,35.000))")


def test_the_thumbnails_ride_only_on_a_video_whose_storyboard_comes_from_keyframes(tmp_path):
    from pipeline import thumbnails

    assert thumbnails.sampled_riders(thumbnails.KEYFRAMES_FROM_S - 1, tmp_path) is None
    storyboard, poster = thumbnails.sampled_riders(2700.0, tmp_path)
    cmd = keyframes.sampling_command("/x/a.mp4", "mov", [storyboard.branch(True), poster.branch(True)])
    assert "tile=10x10" in _graph(cmd) and str(tmp_path / "candidate-%d.jpg") in cmd
    assert storyboard.collect([], True) and poster.collect([], True)      # riders never ask for a decode of their own


def test_a_poster_candidate_that_cannot_be_read_leaves_the_thumbnails_to_the_previews(tmp_path):
    from pipeline import thumbnails

    storyboard, poster = thumbnails.sampled_riders(300.0, tmp_path)
    storyboard.sprite.write_bytes(b"\xff\xd8 not a whole jpeg")
    (tmp_path / "candidate-1.jpg").write_bytes(b"\xff\xd8 not a whole jpeg either")
    assert thumbnails.thumbnails_from((storyboard, poster), tmp_path / "out") is None
