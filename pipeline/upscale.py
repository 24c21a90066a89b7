"""Is a "1080p" picture 1080 lines of detail, or 720 lines scaled up by an editing app?

Method: the rescale knee. For each sampled frame and each candidate source height c, the
frame goes down to 0.9c, c and 1.2c lines and back up (Lanczos both ways), and we measure what
each round trip loses (mean squared error). A picture scaled up from c lines holds nothing a
trip through c lines removes, so the loss at c and at 1.2c is only the encoder's noise, while
0.9c cuts real detail: the loss jumps just below c (a knee). A native picture, sharp or soft,
loses smoothly as the size shrinks: no knee at any candidate. The score is
(loss(0.9c) - loss(c)) / (loss(c) - loss(1.2c)), each step less the encoder's noise floor
(what the trip through 1.2c still loses, spread over the frequencies above it): at most about
1 for native pictures (well below for blurred ones, whose detail fades ever faster), 5 to 90
at the source height of an upscale, grainy ones included. The vertical axis decides; the
horizontal one (at the matching width) must agree. A candidate at exactly half the frame's
lines comes last: a 2:1 round trip lands on the frame's own grid and loses less than its
neighbours in any picture.

Why not the spectrum's cut-off: a bilinear upscale leaves mirrored images above the source's
Nyquist frequency, so the spectrum has no cliff there, and a blurred native picture has a
steep fall of its own; on the labelled set the cut-off measure overlapped, the knee did not
(see bench/bench_picture.py). When fewer than `min_frames` frames have detail to judge, or
the frames do not agree, nothing is said.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from . import ffmpeg
from .models import Upscale
from .ruleset import UpscaleRules

STEPS = (0.9, 1.0, 1.2)
DETAIL_STEP = 0.5       # detail is what a trip through half the smallest candidate loses
BANDS = 5               # stripes a frame's losses are measured in (the worst one is left out)


def sample_count(duration_s: float, rules: UpscaleRules) -> int:
    """As many frames as `cpu_share` of the duration pays for (at `frame_cost_s` each), within bounds."""
    return max(rules.min_samples, min(rules.max_samples, int(duration_s * rules.cpu_share / rules.frame_cost_s)))


def sample_command(source: str, demuxer: str | None, out: Path, *, duration_s: float, rules: UpscaleRules,
                   threads: int = 1, keyframes_only: bool = True) -> list[str]:
    """Frames spread over the video, as 8-bit luma at the stored size. Keyframes first: they
    are cheap to reach (a few percent of the frames to decode) and carry the encoder's best
    picture, where a predicted frame of a noisy video smears the detail a knee needs."""
    samples = sample_count(duration_s, rules)
    interval = max(duration_s / samples, 0.04)
    skip = ["-skip_frame", "nokey"] if keyframes_only else []
    pick = f"select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,{interval:.3f})',format=gray"
    return [ffmpeg.FFMPEG, "-hide_banner", "-nostats", "-v", "error", "-threads", str(threads), *skip, "-noautorotate",
            *ffmpeg.input_args(source, demuxer), "-map", "0:V:0", "-vf", pick, "-fps_mode", "passthrough",
            "-frames:v", str(samples), "-f", "rawvideo", "-y", str(out)]


def rescale_loss(frame: np.ndarray, size: tuple[int, int], bands: int = 1, axis: int = 0) -> np.ndarray:
    """Mean squared error of a round trip through `size` (width, height), borders left out, in
    `bands` stripes along `axis` (0: stripes of rows)."""
    image = Image.fromarray(frame)
    back = image.resize(size, Image.LANCZOS).resize((frame.shape[1], frame.shape[0]), Image.LANCZOS)
    diff = (np.asarray(back, dtype=np.float32) - frame.astype(np.float32))[8:-8, 8:-8] ** 2
    return np.array([float(np.mean(part)) for part in np.array_split(diff, bands, axis=axis)])


def band_knee(losses: list[np.ndarray], candidate: int, frame: int) -> float:
    """The knee of the frame without its worst stripe: burned-in subtitles, a logo or a clock
    added at 1080 lines after the upscale keep detail through every trip and sit in one stripe,
    the one that loses most through c."""
    keep = np.ones(len(losses[1]), dtype=bool)
    keep[int(np.argmax(losses[1]))] = False
    return knee(tuple(float(loss[keep].mean()) for loss in losses), candidate, frame)


def knee(losses: tuple[float, float, float], candidate: int, frame: int) -> float:
    """What the trip just below c loses more than the trip through c, against what going up
    from c to 1.2c still gains, both less the encoder's noise floor. An upscale's detail ends
    at c: what the trip through 1.2c still loses is the encoder's noise, spread evenly over
    the frequencies from 1.2c to the frame's own size, so that density (per line) times each
    step's width is taken off both steps. A native picture's detail goes on above c, sharp,
    soft or noisy: the step above (twice as wide) gains at least as much, a ratio of about 1 or
    less. An upscale's gains nothing beyond its noise: the ratio is large. The step above skips
    1.1c on purpose: a trip through exactly c keeps a resampling grid (the upscaler's, or the
    codec's blocks at half the lines) and loses less than its neighbours."""
    lower, at, far = losses
    density = far / max(frame - STEPS[2] * candidate, 1.0)
    below = lower - at - density * (STEPS[1] - STEPS[0]) * candidate
    above = at - far - density * (STEPS[2] - STEPS[1]) * candidate
    return max(below, 0.0) / (max(above, 0.0) + 0.02 * at + 0.01)


def frame_knees(frame: np.ndarray, rules: UpscaleRules) -> dict[int, tuple[float, float]] | None:
    """Per candidate source height: (vertical knee, horizontal knee at its width; 0 where the
    vertical one saw none); None when the frame is too flat to judge. Each axis is measured on the middle half of the
    other one: a resize along one axis never mixes the other, so the crop changes nothing."""
    height, width = frame.shape
    columns = frame[:, width // 4: width - width // 4]
    rows = frame[height // 4: height - height // 4, :]
    candidates = [(w, h) for w, h in rules.candidate_sizes if h < 0.9 * height and w < 0.9 * width]
    smallest = min((h for _, h in candidates), default=0)
    if not candidates or rescale_loss(columns, (columns.shape[1], int(round(smallest * DETAIL_STEP))))[0] < rules.min_detail:
        return None         # flat, dark or very soft: no detail for a knee to show in
    out = {}
    for candidate_w, candidate_h in candidates:
        vertical = [rescale_loss(columns, (columns.shape[1], int(round(candidate_h * s))), BANDS, axis=0) for s in STEPS]
        out[candidate_h] = (band_knee(vertical, candidate_h, height), 0.0)
    best_h = best_height(out, height, rules)
    best_w = next(w for w, h in candidates if h == best_h)
    if out[best_h][0] >= rules.knee_threshold:      # the horizontal guard only where the vertical axis saw a knee
        horizontal = [rescale_loss(rows, (int(round(best_w * s)), rows.shape[0]), BANDS, axis=1) for s in STEPS]
        out[best_h] = (out[best_h][0], band_knee(horizontal, best_w, width))
    return out


def best_height(knees: dict[int, tuple[float, float]], height: int, rules: UpscaleRules) -> int:
    """The candidate height with the largest vertical knee, except that exactly half the
    frame's lines comes last: a 2:1 round trip lands on the frame's own grid and loses less
    than its neighbours in any picture (natives included), so its knee stands only when no
    other candidate shows one."""
    ranked = sorted(knees, key=lambda c: knees[c][0], reverse=True)
    whole = [c for c in ranked if 2 * c != height and knees[c][0] >= rules.knee_threshold]
    return whole[0] if whole else ranked[0]


def judge(per_frame: list[dict[int, tuple[float, float]]], width: int, height: int, rules: UpscaleRules) -> Upscale:
    """The native size the frames agree on, or none."""
    votes: list[tuple[int | None, float]] = []
    for knees in per_frame:
        best = best_height(knees, height, rules)
        vertical, horizontal = knees[best]
        found = vertical >= rules.knee_threshold and horizontal >= rules.cross_threshold
        votes.append((best if found else None, vertical))
    if len(votes) < rules.min_frames:
        return Upscale(frames=len(votes))
    counted = Counter(c for c, _ in votes if c is not None)
    if not counted:
        return Upscale(frames=len(votes), score=round(statistics.median(v for _, v in votes), 3))
    candidate, agreeing = counted.most_common(1)[0]
    share = agreeing / len(votes)
    score = round(statistics.median(v for c, v in votes if c == candidate), 3)
    if share < rules.min_agreeing_share:
        return Upscale(frames=len(votes), agreeing_share=round(share, 3), score=score)
    native_width = next(w for w, h in rules.candidate_sizes if h == candidate)
    return Upscale(native_width=native_width, native_height=candidate, agreeing_share=round(share, 3), score=score,
                   frames=len(votes))


def estimate_native_size(source: str, demuxer: str | None, *, width: int, height: int, duration_s: float,
                         rules: UpscaleRules, work_dir: Path | None = None, threads: int = 1) -> tuple[Upscale, float]:
    """Sample frames, measure the knees, judge. Returns the estimate and ffmpeg's CPU seconds.

    Raises:
        ffmpeg.FFmpegError: the frames could not be decoded, or not in time.
    """
    folder = Path(tempfile.mkdtemp(prefix="upscale-", dir=work_dir))
    try:
        raw = folder / "frames.gray"
        size = width * height
        cpu_s = 0.0
        for keyframes_only in (True, False):      # a short clip with few keyframes: every frame
            result = ffmpeg.run(sample_command(source, demuxer, raw, duration_s=duration_s, rules=rules, threads=threads,
                                               keyframes_only=keyframes_only), timeout_s=rules.timeout_s, stdout=False)
            cpu_s += result.cpu_s
            if raw.stat().st_size // size >= rules.min_samples:
                break
        per_frame = []
        budget_s = max(duration_s * rules.cpu_share - cpu_s, 0.0)
        started = time.thread_time()
        with open(raw, "rb") as frames:
            for index in range(sample_count(duration_s, rules)):     # one frame in memory at a time
                spent = time.thread_time() - started
                if index >= rules.min_samples and spent * (index + 1) / index > budget_s:
                    break       # the next frame would overrun (a slower machine than frame_cost_s says)
                data = frames.read(size)
                if len(data) < size:
                    break
                knees = frame_knees(np.frombuffer(data, dtype=np.uint8).reshape(height, width), rules)
                if knees:
                    per_frame.append(knees)
        return judge(per_frame, width, height, rules), cpu_s
    finally:
        shutil.rmtree(folder, ignore_errors=True)
