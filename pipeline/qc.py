"""One decode pass per video: black, frozen and silent stretches, camera shake, black bars,
loudness and clipping, and interlacing.

The pass costs less than a plain decode of the same file (bench/bench_qc_cost.py), and no
measure a finding rests on changes for it: the decoder skips its deblocking filter (`_decoder`
says why no detector can see it); the picture is scaled down first (analysis_width: black,
frozen, bars and shake are shares of the picture, not pixel counts), then blackdetect,
freezedetect and vidstabdetect run on it (the shake at about `shake_fps` frames a second:
`shake_step`), and cropdetect on one frame a second of it; idet reads whole columns of the
first full-size frames (fields do not survive scaling across lines), and only where the
container flags the picture interlaced (`reads_fields`); the audio goes through ebur128
(integrated loudness, true peak), silencedetect and a per-100 ms sample peak for clipping. All
in one ffmpeg process: the video is decoded once.
Shake is measured from vidstabdetect's local motion vectors: the frame's global motion is
their median, and jitter is what remains after a short moving average, so a smooth pan or a
tripod shot scores near zero and a hand-held walk does not.

A long video (over `window_threshold_s`) is analysed in windows that separate workers can
take (`plan_windows`, `analyse_window`), plus one pass over its sound alone
(`analyse_sound`); `merge_windows` makes the same result as the one pass: each window reads
on past its end by the longest stretch a detector needs, stretches that overlap across a
seam become one, and only the first window looks for fields.
"""

from __future__ import annotations

import contextlib
import math
import re
import shutil
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .ruleset import QcRules

from . import ffmpeg
from .reuse import frames_filter, sound_filter
from .models import ActivePicture, Interlace, flagged_interlaced, Loudness, PictureWindow, QcResult, Segment, Soundtrack

_BLACK = re.compile(r"black_start:\s*([\d.]+)\s+black_end:\s*([\d.]+)")
_FREEZE_START = re.compile(r"freeze_start:\s*([\d.]+)")
_FREEZE_END = re.compile(r"freeze_end:\s*([\d.]+)")
_SILENCE_START = re.compile(r"silence_start:\s*(-?[\d.]+)")
_SILENCE_END = re.compile(r"silence_end:\s*([\d.]+)")
_LM = re.compile(r"\(LM (-?\d+) (-?\d+) ")
_DECODE_ERROR = re.compile(r"error while decoding|corrupt|Invalid NAL|concealing", re.I)
_CROP = re.compile(r"x1:(-?\d+) x2:(-?\d+) y1:(-?\d+) y2:(-?\d+) w:(-?\d+) h:(-?\d+) x:(-?\d+) y:(-?\d+) .*?t:([\d.]+)")
_IDET = re.compile(r"Multi frame detection: TFF:\s*(\d+)\s+BFF:\s*(\d+)\s+Progressive:\s*(\d+)\s+Undetermined:\s*(\d+)")
# ebur128's summary lines -> the Loudness field each one gives
_SUMMARY = {"integrated_lufs": r"^\s*I:\s+(-?[\d.]+) LUFS", "loudness_range_lu": r"^\s*LRA:\s+(-?[\d.]+) LU",
            "true_peak_dbtp": r"^\s*Peak:\s+(-?[\d.]+|-inf) dBFS"}
_SUMMARY_LINES = {field: re.compile(pattern) for field, pattern in _SUMMARY.items()}
_PEAK_LEVEL = re.compile(r"Peak_level=(-?[\d.]+|-inf)")
_PTS_TIME = re.compile(r"pts_time:(-?[\d.]+)")
PEAK_FRAME_S = 0.1
MAX_EVENTS = 10_000
MAX_TRF_FRAMES = 400_000
MAX_WINDOWS = 64


@dataclass(frozen=True)
class Taps:
    """Where the pass also writes what the reuse fingerprint reads (pipeline/reuse.py): small
    pictures a second and the sound as 11,025 Hz mono PCM. They ride on the decode the QC does."""

    frames: Path | None = None
    pcm: Path | None = None


def _frame_outputs(taps: Taps | None) -> list[str]:
    return ["-map", "[frames]", "-f", "rawvideo", "-pix_fmt", "gray", str(taps.frames)] if taps and taps.frames else []


def _pcm_outputs(taps: Taps | None) -> list[str]:
    return ["-map", "[pcm]", "-f", "s16le", str(taps.pcm)] if taps and taps.pcm else []


def _tapped_sound(chain: str, taps: Taps | None) -> str:
    """The sound's filters ending in [a], and its PCM branch ending in [pcm] when tapped."""
    if taps is None or taps.pcm is None:
        return f"[0:a:0]{chain}[a]"
    return f"[0:a:0]asplit=2[sq][sp];[sq]{chain}[a];[sp]{sound_filter()}[pcm]"


def qc_command(source: str, demuxer: str | None, rules: QcRules, *, has_audio: bool, trf_path: Path, peaks_path: Path,
               threads: int = 0, picture_and_sound: bool = True, length_s: float | None = None, taps: Taps | None = None,
               fps: float | None = None, fields: bool = True) -> list[str]:
    """The single-pass QC command line (pure: no ffmpeg is run here). Without
    `picture_and_sound` (bars, fields, loudness, clipping) it is the earlier pass, the
    benchmark's baseline. `length_s`: only the first seconds are read (a video analysed in part);
    `taps`: what the pass also writes for the reuse fingerprint; `fps`: the video's rate (shake's
    step); `fields`: idet runs (only a picture flagged interlaced: see `reads_fields`)."""
    if picture_and_sound:
        graph, sound = _picture_graph(rules, trf_path, with_fields=fields, frames=bool(taps and taps.frames), fps=fps), _sound_filters(rules, peaks_path)
    else:
        graph, sound = f"[0:V:0]{_scaled(rules)},{_detectors(rules, trf_path)}", _silence(rules)
    maps = ["-map", "[v]"]
    if has_audio:
        graph += ";" + _tapped_sound(sound, taps)
        maps += ["-map", "[a]"]
    return [ffmpeg.FFMPEG, "-hide_banner", "-nostats", "-v", "info", "-threads", str(threads), *_graph_threads(threads),
            *_length(length_s), *_decoder(rules), *ffmpeg.input_args(source, demuxer), "-filter_complex", graph, *maps, "-f", "null", "-",
            *_frame_outputs(taps), *(_pcm_outputs(taps) if has_audio else [])]


def _decoder(rules: QcRules) -> list[str]:
    """Decoder options (before `-i`). Without the loop filter (H.264's and HEVC's deblocking) a
    sixth of a camera file's decode is saved, and no detector can see it: the filter only evens
    out steps at block edges smaller than its quantiser-set thresholds (real edges are left
    alone by design), by a few levels. Black is a share of pixels under a threshold, which a
    near-black frame's small steps do not cross; a frozen stretch is coded as skipped blocks,
    identical with or without it; bars, shake and the fingerprint read a picture scaled down
    six times, past the block size; idet's comb teeth are steps far larger than the filter
    touches. bench/bench_qc_cost.py compares every labelled case's findings with and without."""
    return ["-skip_loop_filter", "all"] if rules.skip_loop_filter else []


def _length(length_s: float | None) -> list[str]:
    """Read only so much of the input (an option before `-i`: the demuxer stops there)."""
    return ["-t", f"{length_s:.3f}"] if length_s is not None else []


def _scaled(rules: QcRules) -> str:
    return f"scale={rules.analysis_width}:-2:flags=fast_bilinear"


def _detectors(rules: QcRules, trf_path: Path, step: int = 1) -> str:
    """Black, frozen and shake on the scaled picture, ending in [v]."""
    every = f"select='not(mod(n\\,{step}))'," if step > 1 else ""
    return (f"blackdetect=d={rules.black_min_s}:pic_th={rules.black_picture_ratio}:pix_th={rules.black_pixel_threshold},"
            f"freezedetect=n={rules.freeze_noise_db}dB:d={rules.freeze_min_s},{every}"
            f"vidstabdetect=result={trf_path}:shakiness=5:accuracy=9:stepsize=6:show=0[v]")


def _picture_graph(rules: QcRules, trf_path: Path, *, with_fields: bool, frames: bool = False, fps: float | None = None) -> str:
    """The picture's filters: idet on the first frames' sampled columns (`with_fields`),
    cropdetect once a second and the detectors on the scaled picture, vidstabdetect on every
    `shake_step`-th frame; with `frames`, the small pictures of the reuse fingerprint too
    (ending in [frames])."""
    fields = (f"[fields]trim=end_frame={rules.idet_frames},{_field_columns(rules)}idet,nullsink;" if with_fields else "")
    tap = f";[fp]{frames_filter()}[frames]" if frames else ""
    return (f"[0:V:0]split={2 if with_fields else 1}[full]{'[fields]' if with_fields else ''};{fields}"
            f"[full]{_scaled(rules)},split={3 if frames else 2}[picture][crop]{'[fp]' if frames else ''};"
            f"[crop]fps={rules.crop_sample_fps},cropdetect=limit={rules.crop_black_limit}:round=2:reset=1:skip=0,nullsink;"
            f"[picture]{_detectors(rules, trf_path, shake_step(fps, rules))}{tap}")


def _field_columns(rules: QcRules) -> str:
    """Every `idet_column_step`-th column, all lines: idet sums its comb measures down each
    column, so a sample of whole columns keeps every column's measure exact (scaling across
    lines would blend the fields away)."""
    step = rules.idet_column_step
    return f"scale=trunc(iw/{step}/2)*2:ih:flags=neighbor," if step > 1 else ""


def reads_fields(field_order: str | None) -> bool:
    """idet runs only on a picture the container flags interlaced: its counts decide between
    a warning and information there, and nothing anywhere else (idet alone says nothing, fast
    motion fools it; the preview deinterlaces on the flag), so on any other picture they could
    not change a finding."""
    return flagged_interlaced(field_order)


def shake_step(fps: float | None, rules: QcRules) -> int:
    """Shake is measured at about `shake_fps` frames a second: every k-th frame of a faster
    video (a 50 fps camera's motion from one frame to the next is half a 25 fps one's, so a
    fixed rate also makes the measure the same for both)."""
    return max(1, int((fps or 25.0) / rules.shake_fps + 1e-6))


def shake_rate(fps: float | None, rules: QcRules) -> float:
    """The frame rate vidstabdetect sees."""
    return (fps or 25.0) / shake_step(fps, rules)


def _silence(rules: QcRules) -> str:
    return f"silencedetect=n={rules.silence_noise_db}dB:d={rules.silence_min_s}"


def _sound_filters(rules: QcRules, peaks_path: Path) -> str:
    """Loudness and true peak, silence, and a sample peak per 100 ms into `peaks_path` (astats
    measures only the peak: its other dozen statistics cost twice the sound's decode)."""
    return (f"ebur128=peak=true:framelog=verbose,{_silence(rules)},"
            f"aresample=48000,asetnsamples=n={int(48000 * PEAK_FRAME_S)}:p=0,"
            f"astats=metadata=1:reset=1:measure_perchannel=none:measure_overall=Peak_level,"
            f"ametadata=mode=print:key=lavfi.astats.Overall.Peak_level:file={peaks_path}")


def _graph_threads(threads: int) -> list[str]:
    """The filter graph's own threads follow `-threads` (0: ffmpeg decides, as for decoding)."""
    return ["-filter_complex_threads", str(threads)] if threads > 0 else []


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


def crop_rects(lines: list[str], *, offset: float = 0.0, until: float | None = None) -> list[tuple[int, int, int, int]]:
    """cropdetect's (w, h, x, y) per sampled second, at times offset + t before `until`."""
    rects = []
    for line in lines:
        if len(rects) >= MAX_EVENTS:
            break
        if (match := _CROP.search(line)) and (until is None or offset + float(match[9]) < until):
            rects.append(tuple(int(v) for v in match.groups()[4:8]))
    return rects


def active_picture(rects: list[tuple[int, int, int, int]], frame_width: int, frame_height: int,
                   rules: QcRules) -> ActivePicture | None:
    """The picture inside black bars, from cropdetect's once-a-second rectangles.

    Dark samples (no picture found) do not count. Bars must be even on both sides, as
    padding makes them: a dark blackboard along one edge is not a bar."""
    rects = [r for r in rects if r[0] >= frame_width * 0.1 and r[1] >= frame_height * 0.1]
    if not rects or frame_width <= 0 or frame_height <= 0:
        return None
    w, h, x, y = (int(statistics.median(r[i] for r in rects)) for i in range(4))
    w, h = min(w, frame_width), min(h, frame_height)
    area = frame_width * frame_height

    def barred(rect) -> bool:
        rw, rh, rx, ry = rect
        return rw * rh / area < rules.bars_max_area_share and _centred(rw, rx, frame_width) and _centred(rh, ry, frame_height)

    return ActivePicture(width=w, height=h, x=x, y=y, frame_width=frame_width, frame_height=frame_height,
                         area_share=round(w * h / area, 4), time_share=round(sum(map(barred, rects)) / len(rects), 4),
                         samples=len(rects))


def _centred(size: int, offset: int, frame: int) -> bool:
    """Padding puts the picture in the middle: the two bars differ by a few pixels at most."""
    return abs(offset - (frame - offset - size)) <= 0.02 * frame + 4


def loudness(lines: list[str], peak_lines, rules: QcRules) -> Loudness:
    """ebur128's summary (the last one ffmpeg printed) and the stretches whose sample peak is
    at full scale (clipping), merged across 100 ms frames."""
    result = Loudness()
    for line in lines:
        for field, pattern in _SUMMARY_LINES.items():
            if match := pattern.search(line):
                setattr(result, field, None if match[1] == "-inf" else float(match[1]))
    clipped: list[Segment] = []
    when = None
    for line in peak_lines:
        if match := _PTS_TIME.search(line):
            when = max(0.0, float(match[1]))
        elif (match := _PEAK_LEVEL.search(line)) and when is not None:
            if match[1] != "-inf" and float(match[1]) >= rules.clip_peak_dbfs:
                if clipped and when - clipped[-1].end <= PEAK_FRAME_S * 0.5:     # the next frame: one stretch
                    clipped[-1] = Segment(start=clipped[-1].start, end=round(when + PEAK_FRAME_S, 3))
                elif len(clipped) < MAX_EVENTS:
                    clipped.append(Segment(start=round(when, 3), end=round(when + PEAK_FRAME_S, 3)))
            when = None
    result.clipped = clipped
    return result


def field_counts(lines: list[str]) -> tuple[int, int, int, int] | None:
    """idet's multi-frame counts (its last summary: ffmpeg prints one per graph it built)."""
    counts = None
    for line in lines:
        if match := _IDET.search(line):
            counts = tuple(int(v) for v in match.groups())
    return counts


def interlace(counts: tuple[int, int, int, int] | None, field_order: str | None, rules: QcRules) -> Interlace:
    tff, bff, progressive, undetermined = counts or (0, 0, 0, 0)
    result = Interlace(tff=tff, bff=bff, progressive=progressive, undetermined=undetermined, field_order=field_order)
    result.interlaced = result.interlaced_share >= rules.interlaced_min_share
    return result


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


@dataclass(frozen=True)
class Picture:
    """What the QC needs of the probe: the stored frame, the displayed aspect, the rate, the fields."""

    duration_s: float
    fps: float | None = None
    frame_size: tuple[int, int] | None = None      # stored width, height (cropdetect sees them scaled)
    aspect: float = 16 / 9                          # displayed (shake is measured on the displayed diagonal)
    field_order: str | None = None

    @property
    def load(self) -> float:
        """One second of this picture against one of 1080p25 (timeouts grow with it: 8K, 120 fps)."""
        width, height = self.frame_size or (1920, 1080)
        return max(1.0, width * height / (1920 * 1080)) * max(1.0, (self.fps or 25.0) / 25.0)

    def analysis_size(self, rules: QcRules) -> tuple[int, int]:
        """The analysed picture: the displayed shape, and the stored one that cropdetect sees."""
        width = rules.analysis_width
        height = int(round(width / self.aspect)) if self.aspect > 0 else width
        stored_w, stored_h = self.frame_size or (width, height)
        scaled_h = 2 * int(round(width * stored_h / stored_w / 2)) if stored_w else height
        return height, scaled_h


def assemble(picture: Picture, rules: QcRules, *, black: list[Segment], frozen: list[Segment], silent: list[Segment],
             motions: list, crops: list, fields, loudness: Loudness | None, decode_errors: int) -> QcResult:
    """The result from what one pass, or the merged windows, gave."""
    width = rules.analysis_width
    height, scaled_h = picture.analysis_size(rules)
    score, share, shaky = shake_measure(motions, shake_rate(picture.fps, rules), width, height, rules)
    return QcResult(black=black, frozen=drop_frozen_inside_black(frozen, black), silent=silent, shaky=shaky,
                    shake_score=score, shaky_share=share, analysed_s=round(picture.duration_s, 3), decode_errors=decode_errors,
                    active=active_picture(crops, width, scaled_h, rules), loudness=loudness,
                    interlace=interlace(fields, picture.field_order, rules))


def _read_trf(path: Path) -> list[tuple[float, float] | None]:
    if not path.exists():
        return []
    with path.open(encoding="ascii", errors="replace") as lines:
        return parse_trf(lines)


def _read_loudness(lines: list[str], peaks: Path, rules: QcRules) -> Loudness:
    with peaks.open(encoding="ascii", errors="replace") if peaks.exists() else contextlib.nullcontext([]) as peak_lines:
        return loudness(lines, peak_lines, rules)


def _timeout(duration_s: float, rules: QcRules) -> float:
    return duration_s * rules.timeout_factor + 60


def run_qc(source: str, demuxer: str | None, *, duration_s: float, fps: float | None, has_audio: bool, rules: QcRules,
           aspect: float = 16 / 9, frame_size: tuple[int, int] | None = None, field_order: str | None = None,
           work_dir: Path | None = None, threads: int = 0, partial: bool = False, taps: Taps | None = None) -> tuple[QcResult, float]:
    """Run the QC pass on a video the probe has already accepted.

    Args:
        duration_s: what is analysed, from the start (the whole video unless `partial`).
        aspect: the displayed aspect (shake is measured on the displayed diagonal).
        frame_size: the stored width and height (cropdetect sees the picture scaled from them).
        partial: only the first `duration_s` seconds are read.

    Returns:
        The result and the CPU seconds the pass took (a timing, kept out of the result).

    Raises:
        ffmpeg.FFmpegError: the video could not be decoded, or the pass ran out of time.
    """
    picture = Picture(duration_s, fps, frame_size, aspect, field_order)
    with _scratch(work_dir) as tmp:
        trf, peaks = tmp / "motion.trf", tmp / "peaks.txt"
        cmd = qc_command(source, demuxer, rules, has_audio=has_audio, trf_path=trf, peaks_path=peaks, threads=threads,
                         length_s=duration_s if partial else None, taps=taps, fps=fps, fields=reads_fields(field_order))
        result = ffmpeg.run(cmd, timeout_s=_timeout(duration_s * picture.load, rules), keep_stderr_lines=MAX_EVENTS * 3, stdout=False)
        lines = result.stderr_lines
        black, frozen, silent, errors = parse_events(lines, duration_s)
        qc = assemble(picture, rules, black=black, frozen=frozen, silent=silent, motions=_read_trf(trf),
                      crops=crop_rects(lines), fields=field_counts(lines),
                      loudness=_read_loudness(lines, peaks, rules) if has_audio else None, decode_errors=errors)
        return qc, result.cpu_s


@contextlib.contextmanager
def _scratch(work_dir: Path | None):
    tmp = Path(tempfile.mkdtemp(prefix="qc-", dir=work_dir))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# a long video in windows ------------------------------------------------------------------
def overlap_s(rules: QcRules) -> float:
    """How far a window reads past its end: the longest stretch a picture detector needs, and a second."""
    return max(rules.black_min_s, rules.freeze_min_s) + 1.0


def plan_windows(duration_s: float, rules: QcRules) -> list[tuple[float, float]]:
    """The stretches a long video's picture is analysed in; [] for a video the one pass takes."""
    if duration_s <= rules.window_threshold_s:
        return []
    count = min(math.ceil(duration_s / rules.window_s), MAX_WINDOWS)
    bounds = [round(duration_s * i / count, 3) for i in range(count + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def picture_command(source: str, demuxer: str | None, rules: QcRules, *, start: float, length: float, trf_path: Path,
                    with_fields: bool, threads: int = 1, taps: Taps | None = None, fps: float | None = None) -> list[str]:
    """The picture half of the one pass over [start, start + length): the same filters; the
    seek is exact (frames before `start` are decoded and dropped), so times are offset by `start`."""
    return [ffmpeg.FFMPEG, "-hide_banner", "-nostats", "-v", "info", "-threads", str(threads), *_graph_threads(threads),
            "-ss", f"{start:.3f}", "-t", f"{length:.3f}", *_decoder(rules), *ffmpeg.input_args(source, demuxer),
            "-filter_complex", _picture_graph(rules, trf_path, with_fields=with_fields, frames=bool(taps and taps.frames), fps=fps),
            "-map", "[v]", "-an", "-f", "null", "-", *_frame_outputs(taps)]


def sound_command(source: str, demuxer: str | None, rules: QcRules, *, peaks_path: Path, threads: int = 1,
                  length_s: float | None = None, taps: Taps | None = None) -> list[str]:
    """The sound half of the one pass, over the whole soundtrack (or its first `length_s`), the picture not decoded."""
    return [ffmpeg.FFMPEG, "-hide_banner", "-nostats", "-v", "info", "-threads", str(threads), *_graph_threads(threads),
            *_length(length_s), *ffmpeg.input_args(source, demuxer), "-vn", "-sn", "-dn", "-filter_complex",
            _tapped_sound(_sound_filters(rules, peaks_path), taps), "-map", "[a]", "-f", "null", "-", *_pcm_outputs(taps)]


def _shifted(stretches: list[Segment], offset: float) -> list[Segment]:
    return [Segment(start=round(s.start + offset, 6), end=round(s.end + offset, 6)) for s in stretches]


def analyse_window(source: str, demuxer: str | None, window: tuple[float, float], picture: Picture, rules: QcRules, *,
                   first: bool, work_dir: Path | None = None, threads: int = 1, taps: Taps | None = None) -> tuple[PictureWindow, float]:
    """One window of a long video's picture. Returns it and ffmpeg's CPU seconds.

    Raises:
        ffmpeg.FFmpegError: the stretch could not be decoded, or not in time.
    """
    start, end = window
    reach = end + overlap_s(rules)
    first = first and reads_fields(picture.field_order)
    if first:       # idet sees as many frames as in the one pass
        reach = max(reach, start + rules.idet_frames / (picture.fps or 25.0) + 1.0)
    length = min(reach, picture.duration_s) - start
    with _scratch(work_dir) as tmp:
        trf = tmp / "motion.trf"
        cmd = picture_command(source, demuxer, rules, start=start, length=length, trf_path=trf, with_fields=first, threads=threads,
                              taps=taps, fps=picture.fps)
        result = ffmpeg.run(cmd, timeout_s=_timeout(length * picture.load, rules), keep_stderr_lines=MAX_EVENTS * 3, stdout=False)
        lines = result.stderr_lines
        black, frozen, _silent, errors = parse_events(lines, length)
        owned_frames = int(round((end - start) * shake_rate(picture.fps, rules)))
        return PictureWindow(start=start, end=end, black=_shifted(black, start), frozen=_shifted(frozen, start),
                             motions=_read_trf(trf)[:owned_frames], crops=crop_rects(lines, offset=start, until=end),
                             fields=field_counts(lines) if first else None, decode_errors=errors), result.cpu_s


def analyse_sound(source: str, demuxer: str | None, duration_s: float, rules: QcRules, *, work_dir: Path | None = None,
                  threads: int = 1, partial: bool = False, taps: Taps | None = None) -> tuple[Soundtrack, float]:
    """The whole soundtrack of a long video (its first `duration_s` when `partial`). Returns it
    and ffmpeg's CPU seconds.

    Raises:
        ffmpeg.FFmpegError: the sound could not be decoded, or not in time.
    """
    with _scratch(work_dir) as tmp:
        peaks = tmp / "peaks.txt"
        result = ffmpeg.run(sound_command(source, demuxer, rules, peaks_path=peaks, threads=threads,
                                          length_s=duration_s if partial else None, taps=taps),
                            timeout_s=_timeout(duration_s, rules), keep_stderr_lines=MAX_EVENTS * 3, stdout=False)
        lines = result.stderr_lines
        _black, _frozen, silent, errors = parse_events(lines, duration_s)
        return Soundtrack(silent=silent, loudness=_read_loudness(lines, peaks, rules), decode_errors=errors), result.cpu_s


def joined(stretches: list[Segment]) -> list[Segment]:
    """Stretches that overlap (one seen from both sides of a seam) become one."""
    out: list[Segment] = []
    for stretch in sorted(stretches, key=lambda s: (s.start, s.end)):
        if out and stretch.start <= out[-1].end + 1e-3:
            out[-1] = Segment(start=out[-1].start, end=max(out[-1].end, stretch.end))
        else:
            out.append(stretch)
    return out


def merge_windows(windows: list[PictureWindow], sound: Soundtrack | None, picture: Picture, rules: QcRules) -> QcResult:
    """The windows (any order) and the soundtrack as the one pass would have found them."""
    windows = sorted(windows, key=lambda w: w.start)
    return assemble(picture, rules, black=joined([s for w in windows for s in w.black]),
                    frozen=joined([s for w in windows for s in w.frozen]), silent=sound.silent if sound else [],
                    motions=[m for w in windows for m in w.motions], crops=[c for w in windows for c in w.crops],
                    fields=next((w.fields for w in windows if w.fields is not None), None),
                    loudness=sound.loudness if sound else None,
                    decode_errors=sum(w.decode_errors for w in windows) + (sound.decode_errors if sound else 0))
