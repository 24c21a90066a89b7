"""One decode pass per video: black, frozen and silent stretches, and camera shake.

The picture is scaled down first (analysis_width), then blackdetect, freezedetect and
vidstabdetect run on it while silencedetect runs on the audio, all in one ffmpeg process.
Shake is measured from vidstabdetect's local motion vectors: the frame's global motion is
their median, and jitter is what remains after a short moving average, so a smooth pan or a
tripod shot scores near zero and a hand-held walk does not.
"""

from __future__ import annotations

import re
import shutil
import statistics
import tempfile
from pathlib import Path

from .ruleset import QcRules

from . import ffmpeg
from .models import QcResult, Segment

_BLACK = re.compile(r"black_start:\s*([\d.]+)\s+black_end:\s*([\d.]+)")
_FREEZE_START = re.compile(r"freeze_start:\s*([\d.]+)")
_FREEZE_END = re.compile(r"freeze_end:\s*([\d.]+)")
_SILENCE_START = re.compile(r"silence_start:\s*(-?[\d.]+)")
_SILENCE_END = re.compile(r"silence_end:\s*([\d.]+)")
_LM = re.compile(r"\(LM (-?\d+) (-?\d+) ")
_DECODE_ERROR = re.compile(r"error while decoding|corrupt|Invalid NAL|concealing", re.I)
MAX_EVENTS = 10_000
MAX_TRF_FRAMES = 400_000


def qc_command(source: str, demuxer: str | None, rules: QcRules, *, has_audio: bool, trf_path: Path, threads: int = 0) -> list[str]:
    """The single-pass QC command line (pure: no ffmpeg is run here)."""
    video = (f"[0:V:0]scale={rules.analysis_width}:-2:flags=fast_bilinear,"
             f"blackdetect=d={rules.black_min_s}:pic_th={rules.black_picture_ratio}:pix_th={rules.black_pixel_threshold},"
             f"freezedetect=n={rules.freeze_noise_db}dB:d={rules.freeze_min_s},"
             f"vidstabdetect=result={trf_path}:shakiness=5:accuracy=9:stepsize=6:show=0[v]")
    graph = video
    maps = ["-map", "[v]"]
    if has_audio:
        graph += f";[0:a:0]silencedetect=n={rules.silence_noise_db}dB:d={rules.silence_min_s}[a]"
        maps += ["-map", "[a]"]
    return [ffmpeg.FFMPEG, "-hide_banner", "-nostats", "-v", "info", "-threads", str(threads),
            *ffmpeg.input_args(source, demuxer), "-filter_complex", graph, *maps, "-f", "null", "-"]


def parse_events(lines: list[str], duration_s: float) -> tuple[list[Segment], list[Segment], list[Segment], int]:
    """Black, frozen and silent segments, and the count of decode errors, from ffmpeg's log."""
    black: list[Segment] = []
    frozen: list[Segment] = []
    silent: list[Segment] = []
    freeze_open = silence_open = None
    errors = 0
    for line in lines:
        if len(black) + len(frozen) + len(silent) > MAX_EVENTS:
            break
        if match := _BLACK.search(line):
            black.append(Segment(start=float(match[1]), end=float(match[2])))
        elif match := _FREEZE_START.search(line):
            freeze_open = float(match[1])
        elif (match := _FREEZE_END.search(line)) and freeze_open is not None:
            frozen.append(Segment(start=freeze_open, end=float(match[1])))
            freeze_open = None
        elif match := _SILENCE_START.search(line):
            silence_open = max(0.0, float(match[1]))
        elif (match := _SILENCE_END.search(line)) and silence_open is not None:
            silent.append(Segment(start=silence_open, end=float(match[1])))
            silence_open = None
        elif _DECODE_ERROR.search(line):
            errors += 1
    # A stretch still open at the end runs to the end of the video.
    if freeze_open is not None and duration_s > freeze_open:
        frozen.append(Segment(start=freeze_open, end=duration_s))
    if silence_open is not None and duration_s > silence_open:
        silent.append(Segment(start=silence_open, end=duration_s))
    return black, frozen, silent, errors


def drop_frozen_inside_black(frozen: list[Segment], black: list[Segment], slack: float = 0.5) -> list[Segment]:
    """A black stretch is also a frozen one; report it once, as black."""
    return [f for f in frozen if not any(b.start - slack <= f.start and f.end <= b.end + slack for b in black)]


def parse_trf(text_lines) -> list[tuple[float, float] | None]:
    """Per frame, the median local motion (dx, dy) in analysis pixels, or None without vectors."""
    motions: list[tuple[float, float] | None] = []
    for line in text_lines:
        if not line.startswith("Frame "):
            continue
        if len(motions) >= MAX_TRF_FRAMES:
            break
        vectors = _LM.findall(line)
        if not vectors:
            motions.append(None)
            continue
        motions.append((statistics.median(int(v[0]) for v in vectors), statistics.median(int(v[1]) for v in vectors)))
    return motions


def shake_measure(motions: list[tuple[float, float] | None], fps: float, width: int, height: int,
                  rules: QcRules) -> tuple[float, float, list[Segment]]:
    """(score, share of shaky windows, shaky segments) from per-frame global motion.

    Jitter per frame = |motion - its moving average over ~0.5 s| / frame diagonal; a window
    of `shake_window_s` is shaky when its median jitter passes `shake_threshold`.
    """
    fps = fps if fps and fps > 0 else 25.0
    diagonal = (width ** 2 + height ** 2) ** 0.5 or 1.0
    filled = [m if m is not None else (0.0, 0.0) for m in motions]
    half = max(1, int(round(fps * 0.25)))
    jitter = []
    for i, (dx, dy) in enumerate(filled):
        window = filled[max(0, i - half): i + half + 1]
        mx = sum(w[0] for w in window) / len(window)
        my = sum(w[1] for w in window) / len(window)
        jitter.append(((dx - mx) ** 2 + (dy - my) ** 2) ** 0.5 / diagonal)
    step = max(1, int(round(fps * rules.shake_window_s)))
    windows = [jitter[i:i + step] for i in range(0, len(jitter), step) if len(jitter[i:i + step]) >= step // 2]
    if not windows:
        return 0.0, 0.0, []
    medians = [statistics.median(w) for w in windows]
    shaky = []
    for index, value in enumerate(medians):
        if value > rules.shake_threshold:
            start, end = index * step / fps, min(len(jitter), (index + 1) * step) / fps
            if shaky and abs(shaky[-1].end - start) < 1e-6:
                shaky[-1] = Segment(start=shaky[-1].start, end=end)
            else:
                shaky.append(Segment(start=start, end=end))
    return round(statistics.median(medians), 5), round(sum(v > rules.shake_threshold for v in medians) / len(medians), 4), shaky


def run_qc(source: str, demuxer: str | None, *, duration_s: float, fps: float | None, has_audio: bool, rules: QcRules,
           aspect: float = 16 / 9, work_dir: Path | None = None, threads: int = 0) -> tuple[QcResult, float]:
    """Run the QC pass on a video the probe has already accepted.

    Returns:
        The result and the CPU seconds the pass took (a timing, kept out of the result).

    Raises:
        ffmpeg.FFmpegError: the video could not be decoded, or the pass ran out of time.
    """
    tmp = Path(tempfile.mkdtemp(prefix="qc-", dir=work_dir))
    try:
        trf = tmp / "motion.trf"
        cmd = qc_command(source, demuxer, rules, has_audio=has_audio, trf_path=trf, threads=threads)
        timeout = duration_s * rules.timeout_factor + 60
        result = ffmpeg.run(cmd, timeout_s=timeout, keep_stderr_lines=MAX_EVENTS * 3, stdout=False)
        black, frozen, silent, errors = parse_events(result.stderr_lines, duration_s)
        motions = parse_trf(trf.open(encoding="ascii", errors="replace")) if trf.exists() else []
        width = rules.analysis_width
        height = int(round(width / aspect)) if aspect > 0 else width
        score, share, shaky = shake_measure(motions, fps or 25.0, width, height, rules)
        qc = QcResult(black=black, frozen=drop_frozen_inside_black(frozen, black), silent=silent, shaky=shaky,
                      shake_score=score, shaky_share=share, analysed_s=round(duration_s, 3), decode_errors=errors)
        return qc, result.cpu_s
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
