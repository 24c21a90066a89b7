"""The pure parts of the picture and sound checks: ffmpeg's log lines in, measures out."""

from config.rules import load_rules
from config.settings import DEFAULT_RULES
from pipeline.models import ActivePicture, Interlace, Loudness, QcResult, Segment, Upscale, VideoProbe
from pipeline.qc import active_picture, crop_rects, field_counts, interlace, loudness
from pipeline.rules import check_picture_and_sound
from pipeline.upscale import best_height, judge, knee

RULES = load_rules(DEFAULT_RULES)


def crop_line(w: int, h: int, x: int, y: int, t: float) -> str:
    return f"[Parsed_cropdetect_7 @ 0x1] x1:{x} x2:{x + w - 1} y1:{y} y2:{y + h - 1} w:{w} h:{h} x:{x} y:{y} pts:{t} t:{t:.6f} crop={w}:{h}:{x}:{y}"


def test_a_pillarbox_is_the_active_picture_most_of_the_time_and_dark_samples_do_not_count():
    lines = [crop_line(480, 360, 80, 0, t) for t in range(8)] + [crop_line(-624, -344, 632, 352, 8.0)] + [crop_line(640, 360, 0, 0, 9.0)]
    active = active_picture(crop_rects(lines), 640, 360, RULES.qc)
    assert (active.width, active.height, active.x, active.samples) == (480, 360, 80, 9)
    assert active.area_share == 0.75 and active.time_share == round(8 / 9, 4)


def test_a_dark_edge_on_one_side_is_not_a_bar():
    lines = [crop_line(500, 360, 140, 0, t) for t in range(5)]        # 140 px dark on the left, none on the right
    assert active_picture(crop_rects(lines), 640, 360, RULES.qc).time_share == 0.0


def test_the_last_loudness_summary_counts_and_clipping_is_merged_across_frames():
    first = ["  Integrated loudness:", "    I:         -70.0 LUFS", "  True peak:", "    Peak:       -inf dBFS"]
    last = ["  Integrated loudness:", "    I:         -24.5 LUFS", "  Loudness range:", "    LRA:         6.0 LU",
            "  True peak:", "    Peak:        0.4 dBFS"]
    peaks = []
    for n, level in enumerate([-12.0, -0.05, 0.0, 0.0, -9.0, -0.01, -20.0]):
        peaks += [f"frame:{n}    pts:{n * 4800}    pts_time:{n / 10}", f"lavfi.astats.Overall.Peak_level={level}"]
    sound = loudness(first + last, peaks, RULES.qc)
    assert (sound.integrated_lufs, sound.loudness_range_lu, sound.true_peak_dbtp) == (-24.5, 6.0, 0.4)
    assert [(s.start, s.end) for s in sound.clipped] == [(0.1, 0.4), (0.5, 0.6)]


def test_idet_counts_come_from_its_last_summary():
    lines = ["[Parsed_idet_2 @ 0x1] Multi frame detection: TFF:     0 BFF:     0 Progressive:     0 Undetermined:     0",
             "[Parsed_idet_2 @ 0x2] Multi frame detection: TFF:    48 BFF:     0 Progressive:     2 Undetermined:     0"]
    fields = interlace(field_counts(lines), "tt", RULES.qc)
    assert (fields.tff, fields.progressive, fields.interlaced, fields.confirmed, fields.deinterlace) == (48, 2, True, True, "all")
    assert interlace(field_counts(lines), "progressive", RULES.qc).deinterlace is None        # idet alone: no finding, no filter


def test_the_knee_is_large_at_an_upscales_source_size_and_about_one_for_a_native_picture():
    assert knee((2.37, 0.77, 0.63), 540, 1080) > 5                 # a 540p upscale (measured): nothing gained above c
    assert knee((12.0, 10.0, 6.0), 720, 1080) < 1                  # white noise: the wider step above gains more
    assert knee((0.10, 0.08, 0.01), 720, 1080) < 1                 # blur: detail fading ever faster
    assert knee((88.27, 74.96, 48.38), 720, 1080) < 1              # native 1080p with heavy grain (measured)
    # a native camera frame whose trip through exactly half the lines keeps the codec's block
    # grid (loss 17.40 at 540, 16.51 at 594, 14.66 at 648: measured on the handheld clip)
    assert knee((20.25, 17.40, 14.66), 540, 1080) < RULES.upscale.knee_threshold


def test_the_encoders_noise_floor_is_taken_off_both_steps():
    # a grainy 720p scene scaled up and encoded at 4 Mbit/s (measured): the encoder's noise above
    # 720 lines hid the knee (1.2 without the floor); what the trip through 864 lines still loses
    # is that noise, spread over 864..1080, and taken off both steps it is a clear knee
    assert knee((8.44, 5.58, 3.26), 720, 1080) > RULES.upscale.knee_threshold


def test_exactly_half_the_lines_counts_only_when_no_other_candidate_shows_a_knee():
    assert best_height({720: (6.0, 0.0), 540: (12.0, 0.0), 480: (1.0, 0.0)}, 1080, RULES.upscale) == 720
    assert best_height({720: (1.0, 0.0), 540: (12.0, 0.0), 480: (1.0, 0.0)}, 1080, RULES.upscale) == 540
    assert best_height({720: (1.0, 0.0), 540: (2.0, 0.0), 480: (3.0, 0.0)}, 1080, RULES.upscale) == 480


def test_frames_must_agree_before_anything_is_said():
    agree = [{720: (30.0, 20.0), 540: (1.0, 0.0)}] * 6 + [{720: (1.0, 0.0)}] * 2
    estimate = judge(agree, 1920, 1080, RULES.upscale)
    assert (estimate.native_width, estimate.native_height, estimate.agreeing_share, estimate.frames) == (1280, 720, 0.75, 8)
    split = [{720: (30.0, 20.0)}] * 4 + [{720: (1.0, 0.0)}] * 4
    assert judge(split, 1920, 1080, RULES.upscale).native_height is None
    assert judge(agree[:2], 1920, 1080, RULES.upscale).native_height is None          # too few frames to judge


def test_the_findings_name_the_file_and_the_measured_values():
    probe = VideoProbe(width=1920, height=1080, sample_aspect_ratio=1.0)
    qc = QcResult(active=ActivePicture(width=480, height=360, x=80, y=0, frame_width=640, frame_height=360, area_share=0.75,
                                       time_share=1.0, samples=10),
                  loudness=Loudness(integrated_lufs=-38.2, true_peak_dbtp=-20.0, clipped=[Segment(start=1.0, end=2.5)]),
                  interlace=Interlace(tff=0, progressive=50, field_order="tt"),
                  upscale=Upscale(native_width=1280, native_height=720, agreeing_share=0.9, score=30.0, frames=10))
    findings = {f.code: f for f in check_picture_and_sound("课堂实录.mp4", qc, RULES, probe)}
    assert set(findings) == {"VIDEO_BLACK_BARS", "AUDIO_TOO_QUIET", "AUDIO_CLIPPED", "VIDEO_INTERLACED", "VIDEO_UPSCALED"}
    assert "4:3画面左右加黑边" in findings["VIDEO_BLACK_BARS"].message and "75%" in findings["VIDEO_BLACK_BARS"].message
    assert "-38.2 LUFS" in findings["AUDIO_TOO_QUIET"].message
    assert findings["VIDEO_INTERLACED"].severity == "info"        # flagged, frames progressive
    assert "1280x720" in findings["VIDEO_UPSCALED"].message and "课堂实录.mp4" in findings["VIDEO_UPSCALED"].message
    assert all(f.severity in ("warn", "info") for f in findings.values())
