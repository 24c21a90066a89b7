"""Command lines for renditions and thumbnails, built without running ffmpeg."""

from pathlib import Path

import pytest

from pipeline import thumbnails, transcode

SPEC = transcode.RenditionSpec()


def test_single_pass_is_h264_high_aac_faststart_720p_from_a_whitelisted_forced_input():
    cmd = transcode.single_pass_command("/in/v.mp4", "mov", Path("/out/720p.mp4"), SPEC, sample_aspect=1.0, fps=25,
                                        has_audio=True)
    joined = " ".join(cmd)
    for part in ("-protocol_whitelist file", "-f mov", "-c:v libx264", "-profile:v high", "-preset veryfast",
                 "-maxrate 3000k", "-bufsize 6000k", "-c:a aac", "-profile:a aac_low", "-ac 2", "+faststart",
                 "-fps_mode passthrough", "file:/in/v.mp4"):
        assert part in joined, part
    vf = cmd[cmd.index("-vf") + 1]
    assert "force_original_aspect_ratio=decrease" in vf and "pad=1280:720" in vf and "format=yuv420p" in vf


def test_filter_applies_sample_aspect_first_and_caps_the_frame_rate():
    vf = transcode.video_filter(SPEC, 4 / 3, 59.94)
    assert vf.startswith("scale=trunc(iw*sar/2)*2:ih,") and "fps=30" in vf
    assert "sar" not in transcode.video_filter(SPEC, 1.0, 25).split(",")[0]
    assert "-fps_mode" not in transcode.single_pass_command("a", "mov", Path("b"), SPEC, sample_aspect=1, fps=60, has_audio=False)


def test_segment_steps():
    split = transcode.split_command("https://s3/x?sig", "mov", Path("/w/src-%04d.mp4"), SPEC)
    assert ["-c", "copy"] == split[split.index("-c"):split.index("-c") + 2] and "segment" in split
    assert split[split.index("-protocol_whitelist") + 1] == "https,tls,tcp"
    seg = transcode.segment_command(Path("/w/src-0001.mp4"), Path("/w/enc-0001.mp4"), SPEC, sample_aspect=1, fps=25)
    assert "-an" in seg and "passthrough" in seg
    audio = transcode.audio_command("/in/v.mp4", "mov", Path("/w/a.m4a"), SPEC)
    assert "-vn" in audio and "0:a:0" in audio
    join = transcode.join_command(Path("/w/list"), Path("/w/a.m4a"), Path("/w/o.mp4"))
    assert join[join.index("-f") + 1] == "concat" and join[join.index("-safe") + 1] == "1" and "copy" in join


def test_concat_list_takes_plain_names_only():
    assert transcode.concat_list(["enc-0000.mp4", "enc-0001.mp4"]).splitlines()[1:] == ["file 'enc-0000.mp4'", "file 'enc-0001.mp4'"]
    for bad in ("../x.mp4", "a'b.mp4", "/etc/passwd", ""):
        with pytest.raises(ValueError):
            transcode.concat_list([bad])


@pytest.mark.parametrize("duration,pieces", [(30, 1), (120, 1), (121, 5), (2700, 90)])
def test_plan_segments(duration, pieces):
    assert transcode.plan_segments(duration, SPEC) == pieces


def test_storyboard_vtt_tiles():
    spec = thumbnails.StoryboardSpec()
    vtt = thumbnails.storyboard_vtt(200.0, "storyboard.jpg", spec)
    lines = vtt.splitlines()
    assert lines[0] == "WEBVTT"
    cues = [line for line in lines if "#xywh=" in line]
    assert len(cues) == 100 and cues[0] == "storyboard.jpg#xywh=0,0,160,90" and cues[-1] == "storyboard.jpg#xywh=1440,810,160,90"
    assert "00:00:02.000 --> 00:00:04.000" in lines
    cmd = thumbnails.storyboard_command("/v.mp4", "mov", 200.0, Path("/o.jpg"), spec)
    assert "tile=10x10" in " ".join(cmd) and "nokey" in cmd


def test_a_video_analysed_in_part_gets_previews_of_that_part_only():
    """An over-long video's preview covers what the verdict judged (its limit and the margin): the
    source is read no further, by the single pass, the split and the audio alike."""
    from pipeline.media import spec_for
    from pipeline.models import VideoReport, VideoScope

    report = VideoReport(path="a.mp4", sha256="0" * 64, scope=VideoScope(duration_s=10_800, analysed_s=396, preview_s=396,
                                                                         reason="over_limit"))
    spec = spec_for(report)
    assert spec.until_s == 396 and spec.duration_of(10_800) == 396
    for cmd in (transcode.single_pass_command("a.mp4", "mov", Path("o.mp4"), spec, sample_aspect=None, fps=25, has_audio=True),
                transcode.split_command("a.mp4", "mov", Path("p%04d.mp4"), spec), transcode.audio_command("a.mp4", "mov", Path("a.m4a"), spec)):
        assert cmd[cmd.index("-t") + 1] == "396.000" and cmd.index("-t") < cmd.index("-i")
    whole = spec_for(VideoReport(path="a.mp4", sha256="0" * 64, scope=VideoScope(duration_s=60, analysed_s=60, preview_s=60)))
    assert whole.until_s is None and "-t" not in transcode.split_command("a.mp4", "mov", Path("p.mp4"), whole)
