"""The pure parts of the picture and sound checks: ffmpeg's log lines in, measures out."""

from config.rules import load_rules
from config.settings import DEFAULT_RULES
from pipeline.models import ActivePicture, Interlace, Loudness, QcResult, Segment, Upscale, VideoProbe
from pipeline.qc import active_picture, crop_rects, field_counts, interlace, loudness
from pipeline.rules import check_picture_and_sound
from pipeline.upscale import FrameKnees, best_height, judge, knee, stripe_share

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
    assert best_height({720: 6.0, 540: 12.0, 480: 1.0}, 1080, RULES.upscale) == 720
    assert best_height({720: 1.0, 540: 12.0, 480: 1.0}, 1080, RULES.upscale) == 540
    assert best_height({720: 1.0, 540: 2.0, 480: 3.0}, 1080, RULES.upscale) == 480


def upscaled(height: int, knee_: float = 30.0, width: int = 1280, stripes: float = 1.0) -> FrameKnees:
    return FrameKnees({720: 1.0, 540: 1.0, 480: 1.0, 360: 1.0, height: knee_}, height, 20.0, width, stripes)


NATIVE = FrameKnees({720: 1.0, 540: 1.0, 480: 1.0}, 720)


def test_frames_must_agree_before_anything_is_said():
    agree = [upscaled(720)] * 6 + [NATIVE] * 2
    estimate = judge(agree, 1920, 1080, RULES.upscale)
    assert (estimate.native_width, estimate.native_height, estimate.agreeing_share, estimate.frames) == (1280, 720, 0.75, 8)
    split = [upscaled(720)] * 4 + [NATIVE] * 4
    assert judge(split, 1920, 1080, RULES.upscale).withheld == "disagree"
    few = judge(agree[:4], 1920, 1080, RULES.upscale)         # too few frames to judge
    assert few.native_height is None and few.withheld == "few_frames"


def test_marginal_evidence_is_kept_but_says_nothing():
    """A knee just over the threshold, or exactly half the lines however firm: evidence, never an accusation."""
    weak = judge([upscaled(720, knee_=4.3)] * 8, 1920, 1080, RULES.upscale)
    assert (weak.native_height, weak.suspected_height, weak.withheld) == (None, 720, "weak_knee")
    half = judge([upscaled(540, knee_=8.6, width=960)] * 15, 1920, 1080, RULES.upscale)
    assert (half.native_height, half.suspected_width, half.suspected_height, half.withheld) == (None, 960, 540, "half_lines")
    assert check_picture_and_sound("a.mp4", QcResult(upscale=half), RULES, VideoProbe(width=1920, height=1080)) == []


def test_a_frame_votes_only_when_its_stripes_agree():
    """A projector screen's border rings into a knee in its own stripes (measured: 14, 1.1, 1.4, flat, 10 at 480 lines)."""
    import numpy as np

    screen_losses = [np.array(v) for v in ([36.69, 92.67, 43.08, 1.61, 24.86], [26.36, 72.3, 32.15, 1.51, 18.75],
                                           [28.45, 49.5, 22.15, 1.3, 21.79])]          # native screen, 480 lines (measured)
    share = stripe_share(screen_losses, 480, 1080, RULES.upscale)
    assert share < RULES.upscale.min_stripe_share
    upscale_losses = [np.array(v) for v in ([4.0, 10.08, 3.73, 1.02, 1.01], [1.9, 4.25, 1.81, 0.78, 0.78],
                                            [1.52, 3.44, 1.53, 0.63, 0.63])]         # 720x480 blackboard upscaled (measured)
    assert stripe_share(upscale_losses, 480, 1080, RULES.upscale) >= RULES.upscale.min_stripe_share
    screen = FrameKnees({720: 1.0, 480: 9.0}, 480, 3.0, 854, share)
    assert judge([screen] * 8, 1920, 1080, RULES.upscale).suspected_height is None


def test_sd_and_360p_sources_are_named_with_their_stored_width():
    estimate = judge([upscaled(576, width=720)] * 8, 1920, 1080, RULES.upscale)
    assert (estimate.native_width, estimate.native_height) == (720, 576)
    assert judge([upscaled(360, width=640)] * 8, 1920, 1080, RULES.upscale).native_height == 360


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


def test_subtitles_burned_in_after_the_upscale_do_not_hide_the_stripes_knee():
    """A 720p upscale with captions drawn at 1080 lines in its bottom stripe (measured): the caption
    stripe loses seventy times the others and is left out; the other stripes show the knee."""
    import numpy as np

    losses = [np.array(v) for v in ([0.48, 1.32, 0.0, 6.41, 96.42], [0.15, 0.39, 0.0, 1.91, 70.37], [0.14, 0.35, 0.0, 1.49, 31.62])]
    assert stripe_share(losses, 720, 1080, RULES.upscale) == 1.0
