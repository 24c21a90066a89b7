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
horizontal one (at the matching widths: 720x576 is anamorphic PAL, 1024x576 square pixels)
must agree, and so must the frame's stripes: an upscale lost its detail everywhere, while a
native picture's sharp edges (a projector screen's border, drawn text) ring into a knee at
some candidate in the stripes that hold them only. A candidate at exactly half the frame's
lines comes last, and never makes a warning on its own: a 2:1 round trip lands on the frame's
own grid and loses less than its neighbours in any picture. A warning is an accusation: it
needs enough judged frames, most of them agreeing, and a median knee clear of the threshold;
short of that the estimate is kept as evidence (`withheld` says why) and nothing is said.

Why not the spectrum's cut-off: a bilinear upscale leaves mirrored images above the source's
Nyquist frequency, so the spectrum has no cliff there, and a blurred native picture has a
steep fall of its own; on the labelled set the cut-off measure overlapped, the knee did not
(see bench/bench_picture.py). When fewer than `min_frames` frames have detail to judge, or
the frames do not agree, nothing is said.
"""

from __future__ import annotations

import io
import shutil
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .keyframes import Branch, sample_video, sampling_command
from .models import Upscale
from .ruleset import UpscaleRules

STEPS = (0.9, 1.0, 1.2)
DETAIL_STEP = 0.5       # detail is what a trip through half the smallest candidate loses
BANDS = 5               # stripes a frame's losses are measured in (the worst one is left out)


def sample_count(duration_s: float, rules: UpscaleRules) -> int:
    """As many frames as `cpu_share` of the duration pays for (at `frame_cost_s` each), within bounds."""
    return max(rules.min_samples, min(rules.max_samples, int(duration_s * rules.cpu_share / rules.frame_cost_s)))


JUDGED_HEIGHT = 1080     # what the notice asks for: a taller picture is judged scaled down to it


def judged_size(width: int, height: int) -> tuple[int, int]:
    """The size frames are judged at: the stored size, or 1080 lines for a taller picture (a 4K or
    8K frame scaled up from 720p still shows its knee at 1080 lines, at a sixteenth of the cost)."""
    if height <= JUDGED_HEIGHT:
        return width, height
    return max(2, int(round(width * JUDGED_HEIGHT / height / 2)) * 2), JUDGED_HEIGHT


def luma_chain(duration_s: float, rules: UpscaleRules, size: tuple[int, int] | None = None) -> str:
    """Frames spread over the video, as 8-bit luma (scaled to `size` when given)."""
    interval = max(duration_s / sample_count(duration_s, rules), 0.04)
    pick = f"select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,{interval:.3f})',format=gray"
    return pick + (f",scale={size[0]}:{size[1]}:flags=lanczos" if size is not None else "")


def _luma_output(duration_s: float, rules: UpscaleRules, out: Path) -> list[str]:
    return ["-fps_mode", "passthrough", "-frames:v", str(sample_count(duration_s, rules)), "-f", "rawvideo", "-y", str(out)]


def sample_command(source: str, demuxer: str | None, out: Path, *, duration_s: float, rules: UpscaleRules,
                   threads: int = 1, keyframes_only: bool = True, size: tuple[int, int] | None = None) -> list[str]:
    """Frames spread over the video, as 8-bit luma at the stored size, alone (the verdict path
    shares the decode with the subtitle search: `LumaSampling`). Keyframes first: they are
    cheap to reach (a few percent of the frames to decode) and carry the encoder's best
    picture, where a predicted frame of a noisy video smears the detail a knee needs."""
    branch = Branch(luma_chain(duration_s, rules, size), _luma_output(duration_s, rules, out))
    return sampling_command(source, demuxer, [branch], keyframes_only=keyframes_only, threads=threads, autorotate=False)


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


@dataclass(frozen=True)
class FrameKnees:
    """One judged frame: per candidate height its vertical knee, and where the vertical knee
    stood, the horizontal one (best of the candidate's widths), that width, and the share of
    the frame's stripes with detail that show the knee too."""

    vertical: dict[int, float]
    best: int
    horizontal: float = 0.0
    width: int = 0
    stripes: float = 0.0


def candidate_widths(rules: UpscaleRules) -> dict[int, list[int]]:
    """Candidate heights and the widths each is stored at (576: 1024 square, 720 anamorphic)."""
    widths: dict[int, list[int]] = {}
    for width, height in rules.candidate_sizes:
        widths.setdefault(height, []).append(width)
    return widths


OVERLAY_FACTOR = 4.0     # a stripe losing this many times the others' median through c holds an overlay


def stripe_share(losses: list[np.ndarray], candidate: int, frame: int, rules: UpscaleRules) -> float:
    """The share of stripes with detail (the round trip below c loses at least `min_detail` / 4 and
    a tenth of the busiest stripe's loss) whose own knee reaches `stripe_threshold`. A stripe
    that loses far more than the others through c holds what was added at 1080 lines after the
    upscale (burned-in subtitles, a caption bar, a clock) and is left out when it shows no knee of
    its own, as `band_knee` does; a native picture's busiest stripe (a page of text) is not that
    far above the rest."""
    lower, at, far = losses
    knees = [knee((float(lower[i]), float(at[i]), float(far[i])), candidate, frame) for i in range(len(lower))]
    stripes = list(range(len(lower)))
    worst = int(np.argmax(at))
    others = [float(at[i]) for i in stripes if i != worst]
    if others and at[worst] > OVERLAY_FACTOR * max(float(np.median(others)), 0.01) and knees[worst] < rules.stripe_threshold:
        stripes.remove(worst)
    floor = max(rules.min_detail / 4, 0.1 * max(float(lower[i]) for i in stripes))
    judged = [i for i in stripes if lower[i] >= floor]
    if not judged:
        return 0.0
    return sum(knees[i] >= rules.stripe_threshold for i in judged) / len(judged)


def frame_knees(frame: np.ndarray, rules: UpscaleRules) -> FrameKnees | None:
    """The knees of one frame; None when it is too flat to judge. Each axis is measured on the
    middle half of the other one: a resize along one axis never mixes the other, so the crop
    changes nothing."""
    height, width = frame.shape
    columns = frame[:, width // 4: width - width // 4]
    rows = frame[height // 4: height - height // 4, :]
    widths = {h: [w for w in ws if w < 0.9 * width] for h, ws in candidate_widths(rules).items() if h < 0.9 * height}
    widths = {h: ws for h, ws in widths.items() if ws}
    if not widths or rescale_loss(columns, (columns.shape[1], int(round(min(widths) * DETAIL_STEP))))[0] < rules.min_detail:
        return None         # flat, dark or very soft: no detail for a knee to show in
    losses = {h: [rescale_loss(columns, (columns.shape[1], int(round(h * s))), BANDS, axis=0) for s in STEPS] for h in widths}
    vertical = {h: band_knee(losses[h], h, height) for h in widths}
    best = best_height(vertical, height, rules)
    if vertical[best] < rules.knee_threshold:      # the guards only where the vertical axis saw a knee
        return FrameKnees(vertical, best)
    across = {w: band_knee([rescale_loss(rows, (int(round(w * s)), rows.shape[0]), BANDS, axis=1) for s in STEPS], w, width)
              for w in widths[best]}
    best_w = max(across, key=across.get)
    return FrameKnees(vertical, best, across[best_w], best_w, stripe_share(losses[best], best, height, rules))


def best_height(knees: dict[int, float], height: int, rules: UpscaleRules) -> int:
    """The candidate height with the largest vertical knee, except that exactly half the
    frame's lines comes last: a 2:1 round trip lands on the frame's own grid and loses less
    than its neighbours in any picture (natives included), so its knee stands only when no
    other candidate shows one."""
    ranked = sorted(knees, key=lambda c: knees[c], reverse=True)
    whole = [c for c in ranked if 2 * c != height and knees[c] >= rules.knee_threshold]
    return whole[0] if whole else ranked[0]


def votes_for(frame: FrameKnees, rules: UpscaleRules) -> bool:
    """The frame says "scaled up from its best candidate": the knee, the other axis and the stripes agree."""
    return (frame.vertical[frame.best] >= rules.knee_threshold and frame.horizontal >= rules.cross_threshold
            and frame.stripes >= rules.min_stripe_share)


def judge(per_frame: list[FrameKnees], width: int, height: int, rules: UpscaleRules) -> Upscale:
    """The native size the frames agree on, firmly enough to say so; else the estimate is kept
    with the reason it was withheld (too few frames, no agreement, a weak knee, half the lines)."""
    votes = [(f.best if votes_for(f, rules) else None, f) for f in per_frame]
    if len(votes) < rules.min_frames:
        return Upscale(frames=len(votes), withheld="few_frames" if votes else None)
    counted = Counter(c for c, _ in votes if c is not None)
    if not counted:
        return Upscale(frames=len(votes), score=round(statistics.median(f.vertical[f.best] for _, f in votes), 3))
    candidate, agreeing = counted.most_common(1)[0]
    share = agreeing / len(votes)
    chosen = [f for c, f in votes if c == candidate]
    score = round(statistics.median(f.vertical[candidate] for f in chosen), 3)
    native_width = Counter(f.width for f in chosen).most_common(1)[0][0]
    found = Upscale(native_width=native_width, native_height=candidate, agreeing_share=round(share, 3), score=score,
                    frames=len(votes))
    if share < rules.min_agreeing_share:
        reason = "disagree"
    elif 2 * candidate == height:
        reason = "half_lines"
    elif score < rules.firm_score:
        reason = "weak_knee"
    else:
        return found
    return found.model_copy(update={"native_width": None, "native_height": None, "suspected_width": native_width,
                                    "suspected_height": candidate, "withheld": reason})


class LumaSampling:
    """The upscale estimate's share of the sampling decode (pipeline/keyframes.py): luma frames
    spread over the video at the judged size, keyframes first (a short clip with few keyframes:
    every frame). The knees are measured after, within the CPU the rules give."""

    def __init__(self, width: int, height: int, duration_s: float, rules: UpscaleRules, folder: Path):
        self.stored = (width, height)
        self.judged = judged_size(width, height)
        self.duration_s, self.rules = duration_s, rules
        self.raw = folder / "frames.gray"

    def branch(self, keyframes_only: bool) -> Branch:
        return Branch(luma_chain(self.duration_s, self.rules, self.judged if self.judged != self.stored else None),
                      _luma_output(self.duration_s, self.rules, self.raw))

    def collect(self, stderr_lines: list[str], keyframes_only: bool) -> bool:
        frames = self.raw.stat().st_size // (self.judged[0] * self.judged[1]) if self.raw.exists() else 0
        return frames >= self.rules.min_samples

    def estimate(self, sampling_cpu_s: float) -> Upscale:
        """The knees of the sampled frames, one in memory at a time, within `cpu_share` of the
        duration less what the sampling took; then the judgement."""
        width, height = self.judged
        size, rules = width * height, self.rules
        per_frame = []
        budget_s = max(self.duration_s * rules.cpu_share - sampling_cpu_s, 0.0)
        started = time.thread_time()
        with (open(self.raw, "rb") if self.raw.exists() else io.BytesIO()) as frames:
            for index in range(sample_count(self.duration_s, rules)):
                spent = time.thread_time() - started
                if index >= rules.min_samples and spent * (index + 1) / index > budget_s:
                    break       # the next frame would overrun (a slower machine than frame_cost_s says)
                data = frames.read(size)
                if len(data) < size:
                    break
                knees = frame_knees(np.frombuffer(data, dtype=np.uint8).reshape(height, width), rules)
                if knees:
                    per_frame.append(knees)
        return judge(per_frame, width, height, rules)


def estimate_native_size(source: str, demuxer: str | None, *, width: int, height: int, duration_s: float,
                         rules: UpscaleRules, work_dir: Path | None = None, threads: int = 1) -> tuple[Upscale, float]:
    """Sample frames (alone, the frames as stored), measure the knees, judge. Returns the
    estimate and ffmpeg's CPU seconds.

    Raises:
        ffmpeg.FFmpegError: the frames could not be decoded, or not in time.
    """
    folder = Path(tempfile.mkdtemp(prefix="upscale-", dir=work_dir))
    try:
        sampling = LumaSampling(width, height, duration_s, rules, folder)
        cpu_s = sample_video(source, demuxer, [sampling], timeout_s=rules.timeout_s, threads=threads, autorotate=False)
        return sampling.estimate(cpu_s), cpu_s
    finally:
        shutil.rmtree(folder, ignore_errors=True)
