"""Subtitle files, pairing and the burned-in judgement, without ffmpeg or OCR."""

from __future__ import annotations

import pytest

from pipeline import rules as rulebook
from pipeline.models import Material, SubtitleReport, SubtitleStream, VideoProbe
from pipeline.subtitles import (FrameText, band_size, frame_text, decode_subtitle_bytes, embedded_report, find_sidecars,
                                frames_command, judge_burned_in, parse_cues, sample_interval, showinfo_times)

SRT = "1\n00:00:01,000 --> 00:00:03,500\n同学们好\n\n2\n00:00:04,000 --> 00:00:06,000\n<i>请打开平台</i>\n第二行\n\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "gb18030"])
def test_srt_in_every_encoding_teachers_save(encoding):
    cues = parse_cues(decode_subtitle_bytes(SRT.encode(encoding)), ".srt")
    assert [(c.start_s, c.text) for c in cues] == [(1.0, "同学们好"), (4.0, "<i>请打开平台</i> 第二行")]


def test_srt_with_windows_line_ends_and_dot_milliseconds():
    assert len(parse_cues(SRT.replace("\n", "\r\n").replace(",", "."), ".srt")) == 2


def test_vtt_ass_and_lrc():
    vtt = "WEBVTT\n\n00:01.000 --> 00:03.000\n你好\n\n01:00:04.000 --> 01:00:05.000\n再见\n"
    assert [c.start_s for c in parse_cues(vtt, ".vtt")] == [1.0, 3604.0]
    ass = ("[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
           "Dialogue: 0,0:00:01.50,0:00:03.00,Default,,0,0,0,,{\\an2\\fs40}大家好，\\N今天学习分数\n"
           "Dialogue: 0,0:00:04.00,0:00:05.00,Default,,0,0,0,,{\\pos(1,1)}\n")
    assert [(c.start_s, c.text) for c in parse_cues(ass, ".ass")] == [(1.5, "大家好， 今天学习分数")]
    lrc = "[ti:课堂]\n[00:01.20]第一句\n[00:03.00][00:09.00]第二句\n[00:05.00]\n"
    assert [c.text for c in parse_cues(lrc, ".lrc")] == ["第一句", "第二句"]


@pytest.mark.parametrize("text", ["", "\n\n", "1\n00:00:01,000 --> 00:00:02,000\n\n", "WEBVTT\n\n", "not subtitles at all",
                                  "\x00\x01\x02" * 100])
def test_files_without_cues_have_none(text):
    assert parse_cues(text, ".srt") == [] and parse_cues(text, ".vtt") == []


def test_cue_count_is_bounded():
    huge = "".join(f"{i}\n00:00:01,000 --> 00:00:02,000\n字{i}\n\n" for i in range(120_000))
    assert len(parse_cues(huge, ".srt")) == 100_000


def material(path: str, kind: str) -> Material:
    return Material(path=path, key=path, size=10, sha256="0" * 64, kind=kind)


def test_sidecar_pairing():
    video = material("作品/课堂实录.mp4", "video")
    same = material("作品/课堂实录.srt", "subtitle")
    lang = material("作品/课堂实录.zh-CN.vtt", "subtitle")
    elsewhere = material("其他/课堂实录.srt", "subtitle")
    other_name = material("作品/字幕.srt", "subtitle")
    assert find_sidecars(video, [video, same, lang, elsewhere, other_name]) == [same, lang]
    # The same name in another folder (字幕/) when none is beside the video.
    assert find_sidecars(video, [video, elsewhere, other_name, material("作品/片头.mp4", "video")]) == [elsewhere]
    # The only subtitle beside the only video of a folder is paired whatever its name ...
    assert find_sidecars(video, [video, other_name]) == [other_name]
    # ... but not when the folder holds two videos.
    assert find_sidecars(video, [video, material("作品/片头.mp4", "video"), other_name]) == []


def test_embedded_streams_are_evidence():
    report = embedded_report(VideoProbe(subtitle_streams=[SubtitleStream(codec="mov_text", language="chi")]))
    assert report.kind == "embedded" and report.evidence["streams"] == [{"codec": "mov_text", "language": "chi"}]
    assert embedded_report(VideoProbe()) is None


def box(x0, x1, y=10):
    return [[x0, y], [x1, y], [x1, y + 30], [x0, y + 30]]


def test_only_centred_confident_lines_count(rules):
    results = [(box(300, 660), "同学们好今天学习", 0.95), (box(820, 950), "第一实验小学", 0.99),   # corner logo
               (box(400, 560), "模糊", 0.3), (box(420, 540), "。", 0.99)]
    read = frame_text(results, 960, 190, 5.0, rules.subtitles)
    assert read.lines == ("同学们好今天学习",) and read.spans == ((0.3125, 0.6875),) and not read.page
    assert read.base == round(40 / 190, 4)


def test_a_band_full_of_text_is_a_page(rules):
    """A web page's footer is centred, but four other lines beside it make the band page text."""
    results = [(box(40, 500, y), f"第{y}行课程资源列表文字", 0.95) for y in (10, 50, 90, 130)]
    results.append((box(330, 630, 170), "版权所有 国家中小学智慧教育平台", 0.97))
    read = frame_text(results, 960, 190, 5.0, rules.subtitles)
    assert read.page and read.lines == ()


def frames(texts: list[str | None], bases=None) -> list[FrameText]:
    def span_of(text: str) -> tuple[float, float]:
        half = len(text) * 0.02
        return (round(0.5 - half, 4), round(0.5 + half, 4))
    return [FrameText(i * 5.0, (t,) if t else (), (span_of(t),) if t else (), base=bases[i] if bases else 0.8)
            for i, t in enumerate(texts)]


def test_changing_lines_are_subtitles(rules):
    report = judge_burned_in(frames(["同学们好", "请打开平台", None, "比较分数大小", "课后练习"]), 5, rules.subtitles)
    assert report.kind == "burned_in"
    assert report.evidence["timestamps_s"] == [0.0, 5.0, 15.0, 20.0] and report.evidence["text_share"] == 0.8


def test_a_fixed_caption_with_ocr_noise_is_not(rules):
    noisy = ["第一实验小学数学公开课", "第一实验小学数学公开课", "第一实验小学数字公开课", "第一实验小学数学公开", "第一实验小学数学公开课"]
    report = judge_burned_in(frames(noisy), 5, rules.subtitles)
    assert report.kind == "none" and report.evidence["burned_in"]["distinct_lines"] == 1


def test_lines_one_below_the_other_are_a_slides_bullets_not_captions(rules):
    """Bullets coming one by one sit lower and lower in the band; captions keep one baseline."""
    texts = ["一、课程资源的检索与筛选方法", "二、课堂互动的组织", "三、课后拓展与家校协同", "四、评价反馈"]
    report = judge_burned_in(frames(texts, bases=[0.2, 0.45, 0.7, 0.95]), 4, rules.subtitles)
    assert report.kind == "none" and report.evidence["burned_in"]["off_baseline_samples"] >= 3
    captions = judge_burned_in(frames(texts, bases=[0.9, 0.91, 0.9, 0.89]), 4, rules.subtitles)
    assert captions.kind == "burned_in" and captions.evidence["centre_spread"] == 0.0


def test_lines_whose_centres_disagree_are_not_captions(rules):
    texts = ["一、课程资源的检索与筛选方法", "二、课堂互动的组织", "三、课后拓展与家校协同", "四、评价反馈"]
    report = judge_burned_in([FrameText(i * 5.0, (t,), ((0.1, 0.1 + 0.05 * len(t)),), base=0.9) for i, t in enumerate(texts)],
                             4, rules.subtitles)
    assert report.kind == "none" and report.evidence["burned_in"]["centre_spread"] > rules.subtitles.max_centre_spread


def test_text_in_too_few_samples_is_not(rules):
    report = judge_burned_in(frames(["一", "二三四", "五六七"] + [None] * 27), 30, rules.subtitles)
    assert report.kind == "none"


def test_sampling_is_bounded_both_ways(rules):
    assert sample_interval(45 * 60, rules.subtitles) == pytest.approx(22.5)      # 120 samples over 45 minutes
    assert sample_interval(60, rules.subtitles) == 5
    assert sample_interval(2, rules.subtitles) == pytest.approx(0.4)            # 5 samples of a 2 s clip


def test_band_keeps_displayed_proportions():
    assert band_size(VideoProbe(width=1920, height=1080, display_width=1920, display_height=1080), 0.35) == (960, 188)
    assert band_size(VideoProbe(width=1080, height=1920, display_width=1080, display_height=1920), 0.35) == (960, 598)
    assert band_size(VideoProbe(width=1440, height=1080, display_width=1920, display_height=1080), 0.35) == (960, 188)


def test_frames_command_is_hardened():
    cmd = frames_command("/x/a.mp4", "mov", interval_s=5, max_frames=120, band=0.35, size=(960, 190), out_pattern="/t/%05d.bmp")
    joined = " ".join(cmd)
    assert "-protocol_whitelist file" in joined and "-f mov" in joined and "-enable_drefs 0" in joined
    assert cmd[cmd.index("-skip_frame") + 1] == "nokey" and cmd.index("-skip_frame") < cmd.index("-i")
    assert cmd[cmd.index("-frames:v") + 1] == "120"


def test_showinfo_times():
    lines = ["[Parsed_showinfo_1 @ 0x1] n:   0 pts:      0 pts_time:0       duration:512",
             "[Parsed_showinfo_1 @ 0x1] n:   1 pts: 128000 pts_time:10.0    duration:512", "frame=    2 fps=0.0"]
    assert showinfo_times(lines) == [0.0, 10.0]


def test_absent_subtitles_warn_only_for_project_videos(rules):
    none = SubtitleReport(kind="none", evidence={"burned_in": {"samples": 12, "samples_with_text": 1, "distinct_lines": 1}})
    finding, = rulebook.check_subtitles("作品/课堂实录.mp4", "classroom_recording", none, rules)
    assert finding.code == "SUBTITLES_ABSENT" and finding.severity == "warn"
    assert "课堂实录.mp4" in finding.message and "抽查12帧" in finding.message
    assert rulebook.check_subtitles("花絮.mp4", "related", none, rules) == []
    assert rulebook.check_subtitles("a.mp4", "classroom_recording", SubtitleReport(kind="burned_in"), rules) == []
