"""The web preview rendition: H.264 High / AAC-LC / MP4 +faststart at 720p, capped bitrate.

Long videos are encoded in segments that any transcoding worker may take: the source is
split at keyframes by stream copy, each segment's video is encoded alone with its frame
timing passed through, the audio is encoded once over the whole file (so no seam can gap or
click), and the pieces are joined by the concat demuxer with stream copy. Command lines are
built by pure functions here and unit-tested without ffmpeg.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from . import ffmpeg


@dataclass(frozen=True)
class RenditionSpec:
    width: int = 1280
    height: int = 720
    max_fps: float = 30.0
    crf: int = 23
    maxrate_kbps: int = 3000
    bufsize_kbps: int = 6000
    preset: str = "veryfast"
    audio_kbps: int = 128
    audio_rate: int = 48000
    gop_s: float = 2.0
    segment_s: float = 30.0
    segment_threshold_s: float = 120.0
    deinterlace: str | None = None      # "all" (the picture is interlaced) | "interlaced" (frames flagged so) | None
    until_s: float | None = None        # the preview covers [0, until_s) only (a video analysed in part, pipeline/cost.py)

    def duration_of(self, duration_s: float) -> float:
        """How much of a video of `duration_s` the preview covers."""
        return min(duration_s, self.until_s) if self.until_s is not None else duration_s

    def reading(self) -> list[str]:
        """Options before `-i`: read no further than the preview covers."""
        return ["-t", f"{self.until_s:.3f}"] if self.until_s is not None else []


def video_filter(spec: RenditionSpec, sample_aspect: float | None, fps: float | None) -> str:
    """The rendition's picture: deinterlaced when it must be, fitted and padded (never
    stretched), rate capped, 4:2:0."""
    steps = [f"bwdif=mode=send_frame:parity=auto:deint={spec.deinterlace}"] if spec.deinterlace else []
    steps.append(ffmpeg.fit_filter(spec.width, spec.height, sample_aspect))
    if fps and fps > spec.max_fps + 0.01:
        steps.append(f"fps={spec.max_fps:g}")
    steps.append("format=yuv420p")
    return ",".join(steps)


def _x264(spec: RenditionSpec, fps: float | None, threads: int) -> list[str]:
    gop = max(1, int(round(min(fps or spec.max_fps, spec.max_fps) * spec.gop_s)))
    return ["-c:v", "libx264", "-preset", spec.preset, "-profile:v", "high", "-crf", str(spec.crf),
            "-maxrate", f"{spec.maxrate_kbps}k", "-bufsize", f"{spec.bufsize_kbps}k", "-g", str(gop),
            "-threads", str(threads)]


def _aac(spec: RenditionSpec) -> list[str]:
    return ["-c:a", "aac", "-profile:a", "aac_low", "-b:a", f"{spec.audio_kbps}k", "-ac", "2", "-ar", str(spec.audio_rate)]


def _thread_limits(threads: int) -> list[str]:
    """Before `-i`: decoder and filter threads too, or a '1-thread' encode still fills every core."""
    return ["-threads", str(threads), "-filter_threads", str(threads)] if threads > 0 else []


def _timing(spec: RenditionSpec, fps: float | None) -> list[str]:
    # Pass frame timing through unless the rate must be capped (the fps filter then rules).
    return [] if fps and fps > spec.max_fps + 0.01 else ["-fps_mode", "passthrough"]


def single_pass_command(source: str, demuxer: str, out: Path, spec: RenditionSpec, *, sample_aspect: float | None,
                        fps: float | None, has_audio: bool, threads: int = 0) -> list[str]:
    cmd = [ffmpeg.FFMPEG, "-hide_banner", "-nostats", "-v", "error", "-y", *_thread_limits(threads),
           *spec.reading(), *ffmpeg.input_args(source, demuxer),
           "-map", "0:V:0", "-vf", video_filter(spec, sample_aspect, fps), *_x264(spec, fps, threads), *_timing(spec, fps)]
    if has_audio:
        cmd += ["-map", "0:a:0", *_aac(spec)]
    return cmd + ["-map_metadata", "-1", "-movflags", "+faststart", "-f", "mp4", str(out)]


def split_command(source: str, demuxer: str, pattern: Path, spec: RenditionSpec) -> list[str]:
    """Cut the video stream at keyframes near every `segment_s` seconds, without re-encoding."""
    return [ffmpeg.FFMPEG, "-hide_banner", "-nostats", "-v", "error", "-y", *spec.reading(), *ffmpeg.input_args(source, demuxer),
            "-map", "0:V:0", "-c", "copy", "-f", "segment", "-segment_time", f"{spec.segment_s:g}",
            "-segment_format", "mp4", "-reset_timestamps", "1", "-segment_list_type", "flat", str(pattern)]


def segment_command(segment: Path, out: Path, spec: RenditionSpec, *, sample_aspect: float | None, fps: float | None,
                    threads: int = 1) -> list[str]:
    """Encode one segment's video (our own file from the split, still read as mp4 only)."""
    return [ffmpeg.FFMPEG, "-hide_banner", "-nostats", "-v", "error", "-y", *_thread_limits(threads),
            *ffmpeg.input_args(str(segment), "mov"), "-map", "0:V:0", "-vf", video_filter(spec, sample_aspect, fps), *_x264(spec, fps, threads), *_timing(spec, fps),
            "-an", "-f", "mp4", str(out)]


def audio_command(source: str, demuxer: str, out: Path, spec: RenditionSpec) -> list[str]:
    """The whole audio track once: encoding it per segment would leave gaps at the seams."""
    return [ffmpeg.FFMPEG, "-hide_banner", "-nostats", "-v", "error", "-y", *spec.reading(), *ffmpeg.input_args(source, demuxer),
            "-map", "0:a:0", "-vn", *_aac(spec), "-f", "mp4", str(out)]


def concat_list(segment_names: list[str]) -> str:
    """The concat demuxer's list: plain relative names only (read with -safe 1)."""
    lines = ["ffconcat version 1.0"]
    for name in segment_names:
        if "/" in name or "'" in name or not name:
            raise ValueError(f"unsafe segment name {name!r}")
        lines.append(f"file '{name}'")
    return "\n".join(lines) + "\n"


def join_command(list_file: Path, audio: Path | None, out: Path) -> list[str]:
    cmd = [ffmpeg.FFMPEG, "-hide_banner", "-nostats", "-v", "error", "-y", "-protocol_whitelist", "file",
           "-f", "concat", "-safe", "1", "-i", str(list_file)]
    if audio is not None:
        cmd += [*ffmpeg.input_args(str(audio), "mov")]
    cmd += ["-map", "0:V:0"]
    if audio is not None:
        cmd += ["-map", "1:a:0"]
    return cmd + ["-c", "copy", "-map_metadata", "-1", "-movflags", "+faststart", "-f", "mp4", str(out)]


def plan_segments(duration_s: float, spec: RenditionSpec) -> int:
    """How many pieces a video is encoded in: one below the threshold."""
    if duration_s <= spec.segment_threshold_s:
        return 1
    return max(1, math.ceil(duration_s / spec.segment_s))


def transcode_timeout(duration_s: float) -> float:
    """A generous wall-clock bound: x264 veryfast at 720p runs near 1x realtime here."""
    return max(120.0, duration_s * 6 + 60)


def encode_single(source: str, demuxer: str, out: Path, spec: RenditionSpec, *, sample_aspect: float | None, fps: float | None,
                  has_audio: bool, duration_s: float, threads: int = 0) -> float:
    """Encode in one process; returns CPU seconds."""
    cmd = single_pass_command(source, demuxer, out, spec, sample_aspect=sample_aspect, fps=fps, has_audio=has_audio, threads=threads)
    return ffmpeg.run(cmd, timeout_s=transcode_timeout(duration_s), stdout=False).cpu_s


def split(source: str, demuxer: str, work: Path, spec: RenditionSpec, duration_s: float) -> list[Path]:
    ffmpeg.run(split_command(source, demuxer, work / "src-%04d.mp4", spec), timeout_s=transcode_timeout(duration_s) / 4,
               stdout=False)
    return sorted(work.glob("src-*.mp4"))


def encode_segment(segment: Path, out: Path, spec: RenditionSpec, *, sample_aspect: float | None, fps: float | None,
                   threads: int = 1) -> float:
    cmd = segment_command(segment, out, spec, sample_aspect=sample_aspect, fps=fps, threads=threads)
    return ffmpeg.run(cmd, timeout_s=transcode_timeout(spec.segment_s * 4), stdout=False).cpu_s


def encode_audio(source: str, demuxer: str, out: Path, spec: RenditionSpec, duration_s: float) -> float:
    return ffmpeg.run(audio_command(source, demuxer, out, spec), timeout_s=transcode_timeout(duration_s) / 2, stdout=False).cpu_s


def join(segments: list[Path], audio: Path | None, out: Path, duration_s: float) -> float:
    """Join encoded segments (all in one folder) and the audio into the rendition."""
    folder = segments[0].parent
    list_file = folder / "segments.ffconcat"
    list_file.write_text(concat_list([s.name for s in segments]))
    return ffmpeg.run(join_command(list_file, audio, out), timeout_s=transcode_timeout(duration_s) / 4, stdout=False).cpu_s
