"""The reuse fingerprint's pure parts: its compact form, the stretch on one line (offset and
speed), what is never a match (a short bumper, a still slide, flat frames, silence)."""

from __future__ import annotations

import random

import numpy as np

from pipeline import reuse


def _walk(rng: random.Random, seconds: float, shot_s: float = 4.0) -> list[tuple[float, bytes, int]]:
    frames, digest = [], rng.randbytes(32)
    for n in range(int(seconds * reuse.FRAME_RATE)):
        t = n / reuse.FRAME_RATE
        if n % int(shot_s * reuse.FRAME_RATE) == 0:
            digest = rng.randbytes(32)
        frames.append((t, digest, 90))
    return frames


def _noisy(rng: random.Random, digest: bytes, bits: int) -> bytes:
    value = int.from_bytes(digest, "big")
    for bit in rng.sample(range(256), bits):
        value ^= 1 << bit
    return value.to_bytes(32, "big")


KW = dict(max_distance=31, min_quality=50, max_gap_s=6, distinct_distance=40)


def test_the_compact_form_round_trips():
    rng = random.Random(1)
    print_ = reuse.Fingerprint(_walk(rng, 20), [rng.getrandbits(32) for _ in range(100)], 0.5, 20.0,
                               [rng.randbytes(32) for _ in range(40)])
    back = reuse.Fingerprint.from_json(print_.to_json())
    assert back.frames == print_.frames and back.audio == print_.audio and back.mirrors == print_.mirrors
    assert (back.audio_start_s, back.duration_s) == (0.5, 20.0)
    assert reuse.Fingerprint.from_json(reuse.Fingerprint().to_json()).frames == []


def test_a_copy_with_a_title_card_in_front_is_one_stretch_at_its_offset():
    rng = random.Random(2)
    source = _walk(rng, 60)
    query = _walk(rng, 10) + [(t + 10, _noisy(rng, d, 12), q) for t, d, q in source]
    stretch = reuse.picture_stretch(query, source, **KW)
    assert abs(stretch.query[0] - 10) <= 0.5 and abs(stretch.query[1] - 70) <= 1
    assert abs(stretch.source[0]) <= 0.5 and abs(stretch.source[1] - 60) <= 1 and stretch.speed == 1.0


def test_a_copy_sped_up_five_percent_lies_on_its_own_line():
    rng = random.Random(3)
    source = _walk(rng, 60)
    by_time = {round(t * 2) / 2: d for t, d, _ in source}
    query = [(n / reuse.FRAME_RATE, by_time[round(n / reuse.FRAME_RATE * 1.05 * 2) / 2], 90) for n in range(int(56 * reuse.FRAME_RATE))]
    stretch = reuse.picture_stretch(query, source, **KW)
    assert stretch.speed == 1.05 and stretch.query[1] - stretch.query[0] > 50


def test_flat_frames_and_other_scenes_never_match():
    rng = random.Random(4)
    flat = [(n / 2, bytes(32), 10) for n in range(120)]
    assert reuse.picture_stretch(flat, flat, **KW) is None
    assert reuse.picture_stretch(_walk(rng, 60), _walk(rng, 60), **KW) is None


def test_a_still_slide_is_one_distinct_picture():
    digest = random.Random(5).randbytes(32)
    assert reuse.distinct_count([digest] * 60, 40) == 1


def test_judge_pair_drops_a_bumper_shorter_than_the_stretch(rules):
    rng = random.Random(6)
    bumper = _walk(rng, 5, shot_s=1)
    a = reuse.Fingerprint(bumper + [(t + 5, d, q) for t, d, q in _walk(rng, 60)], [], 0.0, 65.0)
    b = reuse.Fingerprint(bumper + [(t + 5, d, q) for t, d, q in _walk(rng, 60)], [], 0.0, 65.0)
    picture, sound = reuse.judge_pair(a, b, rules.reuse, set())
    assert picture is None and sound is None


def test_the_sound_is_found_at_its_offset_and_silence_never_agrees(rules):
    rng = random.Random(7)
    source = [rng.getrandbits(32) | 1 for _ in range(600)]
    query = [rng.getrandbits(32) | 1 for _ in range(80)] + [v ^ (1 << rng.randrange(32)) if rng.random() < 0.2 else v for v in source]
    stretch = reuse.sound_stretch(query, source, max_bits=6, min_share=0.5, max_gap_s=6)
    offset = 80 / reuse.ITEMS_PER_S
    assert abs(stretch.query[0] - offset) <= 1.5 and abs(stretch.source[0]) <= 1.5
    assert stretch.query[1] - stretch.query[0] > 600 / reuse.ITEMS_PER_S - 2
    assert reuse.sound_stretch([0] * 600, [0] * 600, max_bits=6, min_share=0.5, max_gap_s=6) is None


def test_the_content_box_drops_pillar_bars():
    frame = np.zeros((reuse.FRAME_H, reuse.FRAME_W), dtype=np.uint8)
    frame[:, 16:112] = 128
    assert reuse.content_box(frame).shape == (reuse.FRAME_H, 96)


def test_picture_keys_find_a_copy_within_fifteen_bits():
    rng = random.Random(8)
    digest = rng.randbytes(32)
    for _ in range(50):
        assert set(reuse.picture_keys(digest)) & set(reuse.picture_keys(_noisy(rng, digest, 15)))


def test_a_missing_fpcalc_is_a_tool_error_not_a_crash(tmp_path, monkeypatch):
    import pytest

    from pipeline.errors import ToolError

    pcm = tmp_path / "sound.pcm"
    pcm.write_bytes(b"\x01\x00" * reuse.AUDIO_RATE * 4)
    monkeypatch.setattr(reuse, "FPCALC", str(tmp_path / "no-such-fpcalc"))
    with pytest.raises(ToolError):
        reuse.audio_items(pcm, timeout_s=5)
