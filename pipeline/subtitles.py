"""Does a video carry subtitles? A track in the container, a subtitle file beside it, or text burned into the picture.

Most teachers burn subtitles in with their editing app, so the picture is read too: frames
sampled across the whole video (keyframes only, so a 45-minute recording costs seconds),
the lower band cropped and read by PP-OCR (rapidocr-onnxruntime, models inside the wheel,
no network). Text counts as subtitles only when centred lines appear in enough samples and
change over time: a school logo in a corner, a fixed caption or a watermark does not.
Page text is not either: a band full of text (a screen recording of web pages, a document)
says nothing, and captions sit as an editing app sets them, centred on one baseline from cue to
cue, where a slide's bullets come one below the other.
"""

from __future__ import annotations

import difflib
import re
import statistics
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import structlog

from .ruleset import SubtitleRules

from .keyframes import Branch, sample_video, sampling_command
from .models import Material, SubtitleReport, VideoProbe
from .ocr import ocr_engine
from .storage import ObjectStore

log = structlog.get_logger("pipeline.subtitles")

MAX_SIDECAR_BYTES = 5 * 1024 * 1024
MAX_CUES = 100_000
MAX_LINES_REPORTED = 5
MIN_OCR_SCORE = 0.6
SAME_LINE_RATIO = 0.7             # OCR variants of one line are at least this similar
OCR_WIDTH = 960
_MEANINGFUL = re.compile(r"[\w\u4e00-\u9fff]")
_SRT_TIME = re.compile(r"(\d{1,2}):(\d{2}):(\d{2})[,.](\d{1,3})\s*-->\s*(\d{1,2}):(\d{2}):(\d{2})[,.](\d{1,3})")
_VTT_TIME = re.compile(r"(?:(\d{1,2}):)?(\d{2}):(\d{2})\.(\d{3})\s*-->\s*(?:(\d{1,2}):)?(\d{2}):(\d{2})\.(\d{3})")
_LRC_TIME = re.compile(r"\[(\d{1,3}):(\d{2})(?:[.:](\d{1,3}))?\]")
_ASS_TAGS = re.compile(r"\{[^}]*\}")


@dataclass(frozen=True)
class Cue:
    start_s: float
    text: str


# --- sidecar files ---------------------------------------------------------------------------

def decode_subtitle_bytes(data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with a BOM, then GB18030 (Chinese .srt files are often GBK)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")


def _seconds(h: str | None, m: str, s: str, frac: str | None) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + (int(frac) / 10 ** len(frac) if frac else 0.0)


def parse_cues(text: str, suffix: str) -> list[Cue]:
    """Cues with visible text from an .srt, .vtt, .ass/.ssa or .lrc; malformed blocks are skipped."""
    cues: list[Cue] = []
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if suffix in (".ass", ".ssa"):
        for line in lines:
            if line.startswith("Dialogue:"):
                fields = line.split(",", 9)
                if len(fields) == 10:
                    body = _ASS_TAGS.sub("", fields[9]).replace("\\N", " ").replace("\\n", " ").strip()
                    times = re.match(r"(\d+):(\d{2}):(\d{2})\.(\d+)", fields[1].strip())
                    if body and times:
                        cues.append(Cue(_seconds(*times.groups()), body))
            if len(cues) >= MAX_CUES:
                break
        return cues
    if suffix == ".lrc":
        for line in lines:
            stamps = list(_LRC_TIME.finditer(line))
            body = _LRC_TIME.sub("", line).strip()
            if stamps and body:
                m = stamps[0]
                cues.append(Cue(_seconds(None, m.group(1), m.group(2), m.group(3)), body))
            if len(cues) >= MAX_CUES:
                break
        return cues
    pattern = _VTT_TIME if suffix == ".vtt" else _SRT_TIME
    start: float | None = None
    body_lines: list[str] = []
    for line in [*lines, ""]:
        match = pattern.search(line)
        if match:
            start = _seconds(*match.groups()[:4])
            body_lines = []
        elif line.strip() == "":
            body = " ".join(body_lines).strip()
            if start is not None and _MEANINGFUL.search(re.sub(r"<[^>]+>", "", body)):
                cues.append(Cue(start, body))
            start, body_lines = None, []
        elif start is not None:
            body_lines.append(line.strip())
        if len(cues) >= MAX_CUES:
            break
    return cues


def _stem_key(path: str) -> tuple[str, str]:
    pure = PurePosixPath(path)
    return str(pure.parent), unicodedata.normalize("NFKC", pure.stem).casefold()


def find_sidecars(video: Material, materials: list[Material]) -> list[Material]:
    """Subtitle files paired with the video: the same base name (课堂实录.srt, 课堂实录.zh-CN.srt)
    beside it, else anywhere in the archive (a 字幕/ folder), else the only subtitle file beside
    the only video of a folder."""
    folder, stem = _stem_key(video.path)

    def same_name(m: Material) -> bool:
        other = _stem_key(m.path)[1]
        return other == stem or other.startswith(stem + ".")

    every = [m for m in materials if m.kind == "subtitle"]
    here = [m for m in every if _stem_key(m.path)[0] == folder]
    named = [m for m in here if same_name(m)] or [m for m in every if same_name(m)]
    if named:
        return named
    videos_here = [m for m in materials if m.kind == "video" and _stem_key(m.path)[0] == folder]
    return here if len(here) == 1 and len(videos_here) == 1 else []


def sidecar_report(store: ObjectStore, video: Material, materials: list[Material]) -> tuple[SubtitleReport | None, list[dict]]:
    """The first paired subtitle file that parses and holds cues; the rejected ones with their reason."""
    rejected = []
    for candidate in find_sidecars(video, materials):
        suffix = PurePosixPath(candidate.path).suffix.lower()
        if candidate.size > MAX_SIDECAR_BYTES:
            rejected.append({"path": candidate.path, "reason": "too_large"})
            continue
        with store.open(candidate.key) as handle:
            cues = parse_cues(decode_subtitle_bytes(handle.read(MAX_SIDECAR_BYTES)), suffix)
        if not cues:
            rejected.append({"path": candidate.path, "reason": "no_cues"})
            continue
        return SubtitleReport(kind="sidecar", evidence={
            "path": candidate.path, "format": suffix.lstrip("."), "cues": len(cues),
            "first_lines": [c.text[:80] for c in cues[:3]]}), rejected
    return None, rejected


def embedded_report(probe: VideoProbe) -> SubtitleReport | None:
    if not probe.subtitle_streams:
        return None
    return SubtitleReport(kind="embedded", evidence={
        "streams": [{"codec": s.codec, "language": s.language} for s in probe.subtitle_streams]})


# --- burned-in text --------------------------------------------------------------------------

@dataclass(frozen=True)
class FrameText:
    time_s: float
    lines: tuple[str, ...]        # the caption-like lines of the lower band, top to bottom
    spans: tuple[tuple[float, float], ...] = ()   # each line's left and right edge, shares of the width
    base: float = 1.0             # the lowest line's bottom edge, share of the band's height
    page: bool = False            # the band is full of other text: nothing in it is read as captions


def sample_interval(duration_s: float, rules: SubtitleRules) -> float:
    """Every `sample_every_s`, stretched so that a long video gives at most `max_samples` and
    shrunk so that a short one still gives `min_samples`."""
    if duration_s and duration_s < rules.sample_every_s * rules.min_samples:
        return max(0.2, duration_s / rules.min_samples)
    return max(rules.sample_every_s, duration_s / max(rules.max_samples, 1))


def band_size(probe: VideoProbe, band: float) -> tuple[int, int]:
    """Width and height (even) of the scaled lower band, in displayed proportions."""
    width = probe.display_width or probe.width or 1920
    height = probe.display_height or probe.height or 1080
    out_w = min(OCR_WIDTH, width - width % 2)
    out_h = max(2, round(height * band * out_w / width / 2) * 2)
    return out_w, out_h


def band_chain(interval_s: float, band: float, size: tuple[int, int]) -> str:
    """One lower-band image per `interval_s` (showinfo logs each one's time)."""
    select = f"select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,{interval_s:.3f})'"
    crop = f"crop=iw:trunc(ih*{band:.3f}/2)*2:0:ih-trunc(ih*{band:.3f}/2)*2"
    return f"{select},showinfo,{crop},scale={size[0]}:{size[1]},format=bgr24"


def frames_command(source: str, demuxer: str | None, *, interval_s: float, max_frames: int, band: float,
                   size: tuple[int, int], out_pattern: str, keyframes_only: bool = True, threads: int = 0) -> list[str]:
    """ffmpeg writing one lower-band image per `interval_s`, alone (the verdict path shares the
    decode with the upscale estimate: `BandSampling`).

    Keyframes only: decoding a 45-minute 1080p recording's keyframes costs a few CPU seconds
    where decoding every frame costs minutes; the tool call is otherwise hardened as QC's."""
    branch = Branch(band_chain(interval_s, band, size), _band_output(max_frames, out_pattern))
    return sampling_command(source, demuxer, [branch], keyframes_only=keyframes_only, threads=threads)


def _band_output(max_frames: int, out_pattern: str) -> list[str]:
    return ["-fps_mode", "passthrough", "-frames:v", str(max_frames), "-f", "image2", out_pattern]


_SHOWINFO_TIME = re.compile(r"Parsed_showinfo.*?\bn:\s*(\d+).*?\bpts_time:\s*(-?[\d.]+)")


def showinfo_times(lines: list[str]) -> list[float]:
    return [float(m.group(2)) for m in map(_SHOWINFO_TIME.search, lines) if m]


def frame_text(results, width: int, height: int, time_s: float, rules: SubtitleRules) -> FrameText:
    """The lines of one sampled band that sit like captions: confident, meaningful, centred
    horizontally, at most `max_lines` of them (the lowest); a band with `page_min_lines` other
    lines or more is page text (a web page, a document, a slide's body), and says nothing."""
    centred, others = [], 0
    for box, text, score in results or []:
        if float(score) < MIN_OCR_SCORE or len(_MEANINGFUL.findall(text)) < 2:
            continue
        xs, ys = [point[0] for point in box], [point[1] for point in box]
        left, right = min(xs) / width, max(xs) / width
        if abs((left + right) / 2 - 0.5) <= rules.centre_tolerance:
            centred.append((min(ys), max(ys) / height, text.strip(), (round(left, 4), round(right, 4))))
        else:
            others += 1
    centred.sort()
    if others >= rules.page_min_lines or len(centred) > rules.max_lines + 1:
        return FrameText(time_s, (), page=True)
    kept = centred[-rules.max_lines:]
    if not kept:
        return FrameText(time_s, ())
    return FrameText(time_s, tuple(text for _, _, text, _ in kept), tuple(span for *_, span in kept),
                     base=round(max(bottom for _, bottom, _, _ in kept), 4))


def read_frame(path: str, time_s: float, rules: SubtitleRules) -> FrameText:
    import cv2

    image = cv2.imread(path)
    if image is None:
        return FrameText(time_s, ())
    results, _ = ocr_engine()(image, use_cls=False)
    return frame_text(results, image.shape[1], image.shape[0], time_s, rules)


def distinct_lines(texts: list[str]) -> list[str]:
    """Texts that differ from every earlier one (OCR variants of one line count once); bounded input."""
    kept: list[str] = []
    for text in texts:
        if all(difflib.SequenceMatcher(None, text, seen).ratio() < SAME_LINE_RATIO for seen in kept):
            kept.append(text)
    return kept


def on_baseline(frames: list[FrameText], tolerance: float) -> list[FrameText]:
    """The samples whose lowest line sits on the baseline most of them share: an editing app sets
    every caption on one line of the picture, a slide's bullets come one below the other."""
    if not frames:
        return []
    base = statistics.median(f.base for f in frames)
    return [f for f in frames if abs(f.base - base) <= tolerance]


def centre_spread(frames: list[FrameText]) -> float:
    """How far apart the lines' centres lie (share of the width): captions of any length share it."""
    centres = [(left + right) / 2 for frame in frames for left, right in frame.spans]
    return round(max(centres) - min(centres), 4) if centres else 0.0


def judge_burned_in(frames: list[FrameText], samples: int, rules: SubtitleRules) -> SubtitleReport:
    """Subtitles when enough samples carry centred lower-band lines on one baseline, those lines
    change over time, and their centres agree as captions' do (not a page's or a slide's text)."""
    with_text = on_baseline([f for f in frames if f.lines], rules.base_tolerance)
    share = len(with_text) / samples if samples else 0.0
    distinct = distinct_lines(["".join(f.lines) for f in with_text][:rules.max_samples])
    spread = centre_spread(with_text)
    evidence = {
        "samples": samples, "samples_with_text": len(with_text), "text_share": round(share, 3),
        "distinct_lines": len(distinct), "timestamps_s": [round(f.time_s, 2) for f in with_text][:50],
        "lines": distinct[:MAX_LINES_REPORTED], "page_samples": sum(f.page for f in frames),
        "off_baseline_samples": sum(bool(f.lines) for f in frames) - len(with_text), "centre_spread": spread,
    }
    # A short video has few samples: half of its text samples must differ, at most min_distinct_lines.
    needed = max(2, min(rules.min_distinct_lines, len(with_text) // 2))
    found = share >= rules.min_text_share and len(distinct) >= needed and spread <= rules.max_centre_spread
    return SubtitleReport(kind="burned_in" if found else "none", evidence={"burned_in": evidence} if not found else evidence)


class BandSampling:
    """The subtitle search's share of the sampling decode (pipeline/keyframes.py): lower-band
    images across the video, keyframes first; a short video whose keyframes are too sparse is
    sampled again decoding every frame (up to `full_decode_max_s`)."""

    def __init__(self, probe: VideoProbe, rules: SubtitleRules, folder: Path):
        self.duration = probe.duration_s or 0.0
        self.interval = sample_interval(self.duration, rules)
        self.size = band_size(probe, rules.band)
        self.rules, self.folder = rules, folder
        self.times: list[float] = []
        self.images: list[Path] = []

    def branch(self, keyframes_only: bool) -> Branch:
        for old in self.folder.glob("*.bmp"):
            old.unlink()
        return Branch(band_chain(self.interval, self.rules.band, self.size),
                      _band_output(self.rules.max_samples, str(self.folder / "%05d.bmp")))

    def collect(self, stderr_lines: list[str], keyframes_only: bool) -> bool:
        self.times = showinfo_times(stderr_lines)
        self.images = sorted(self.folder.glob("*.bmp"))
        wanted = min(self.rules.max_samples, max(1, int(self.duration / self.interval)))
        return (not keyframes_only or len(self.images) >= min(wanted, self.rules.min_samples)
                or self.duration > self.rules.full_decode_max_s)

    def read(self, deadline: float) -> list[FrameText]:
        """The sampled bands' centred lines, read until `deadline` (monotonic)."""
        frames = []
        for number, image in enumerate(self.images):
            if time.monotonic() > deadline:
                break
            frames.append(read_frame(str(image), self.times[number] if number < len(self.times) else number * self.interval,
                                     self.rules))
        return frames


def picture_deadline(probe: VideoProbe, rules: SubtitleRules) -> float:
    """When the burned-in search stops (monotonic): `cpu_share` of the duration plus `base_s`, at most `hard_cap_s`."""
    return time.monotonic() + min(rules.hard_cap_s, rules.cpu_share * (probe.duration_s or 0.0) + rules.base_s)


def without_picture(store: ObjectStore, video: Material, materials: list[Material],
                    probe: VideoProbe) -> tuple[SubtitleReport | None, list[dict]]:
    """Embedded, then sidecar: the report when either is found (the picture is not read), and
    the sidecars rejected on the way."""
    embedded = embedded_report(probe)
    if embedded is not None:
        return embedded, []
    return sidecar_report(store, video, materials)


def judge_sampled(sampling: BandSampling, deadline: float, rejected: list[dict]) -> SubtitleReport:
    """The burned-in verdict on what the sampling decode gave."""
    frames = sampling.read(deadline)
    report = judge_burned_in(frames, len(frames), sampling.rules)
    if rejected:
        report.evidence["sidecars_rejected"] = rejected
    return report


def detect_subtitles(store: ObjectStore, video: Material, materials: list[Material], probe: VideoProbe, source: str | None,
                     demuxer: str | None, rules: SubtitleRules, *, threads: int = 0) -> tuple[SubtitleReport, float]:
    """Embedded, then sidecar, then burned-in; the first found wins. Returns the report and CPU
    seconds. The search alone; the verdict path shares its decode (pipeline/stages/video.py).

    `source` is what ffmpeg reads (a local path or a presigned URL); None skips the picture."""
    started_cpu = time.process_time()
    found, rejected = without_picture(store, video, materials, probe)
    if found is not None:
        return found, 0.0
    if source is None:
        return SubtitleReport(kind="none", evidence={"sidecars_rejected": rejected} if rejected else {}), 0.0
    deadline = picture_deadline(probe, rules)
    with tempfile.TemporaryDirectory(prefix="smartedu-subs-") as tmp:
        sampling = BandSampling(probe, rules, Path(tmp))
        ffmpeg_cpu = sample_video(source, demuxer, [sampling], timeout_s=max(10.0, deadline - time.monotonic()), threads=threads,
                                  keep_stderr_lines=rules.max_samples * 4 + 50)
        report = judge_sampled(sampling, deadline, rejected)
    # CPU goes to the verdict's timings, not into the evidence: a rerun must give the same verdict.
    return report, ffmpeg_cpu + time.process_time() - started_cpu
