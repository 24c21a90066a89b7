"""Probe a video: container truth from its bytes, then pymediainfo, then ffprobe's opinion.

Reads by ranges: the head and the top-level box headers of the object, and the tools get
a short-lived URL (or the local path), so a 1 GB file with its moov at the end is never
downloaded whole.
"""

from __future__ import annotations

import contextlib
import struct
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from . import ffmpeg
from .errors import InputVanishedError, PermanentError, TransientError
from .models import AudioStream, SubtitleStream, VideoProbe
from .sandbox import ChildFailed, call_bounded
from .storage import ObjectStore

HEAD_BYTES = 4096
MAX_TOP_BOXES = 4096
MP4_BRANDS = {"isom", "iso2", "iso3", "iso4", "iso5", "iso6", "iso7", "iso8", "iso9", "mp41", "mp42", "mp71",
              "avc1", "M4V ", "M4VH", "M4VP", "f4v ", "dash", "msnv", "MSNV", "XAVC", "mmp4", "hvc1", "NDAS", "nvr1"}
MP4_COMPATIBLE = {"isom", "iso2", "mp41", "mp42"}


@dataclass
class Container:
    """What the first bytes say the file is."""

    name: str                      # mp4, mov, 3gp, matroska, webm, avi, flv, asf, mpegts, mpegps, hls, ffconcat, text, unknown
    brand: str | None = None
    compatible: list[str] = field(default_factory=list)

    @property
    def is_mp4(self) -> bool:
        return self.name == "mp4"

    @property
    def is_video_container(self) -> bool:
        return self.name in ffmpeg.DEMUXERS


def sniff_container(head: bytes) -> Container:
    """The container from magic numbers, never from the file name."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        size = struct.unpack(">I", head[:4])[0]
        brand = head[8:12].decode("latin-1")
        compatible = [head[i:i + 4].decode("latin-1") for i in range(16, min(size, len(head)) - 3, 4)]
        if brand == "qt  ":
            return Container("mov", brand, compatible)
        if brand.startswith("3g"):
            return Container("3gp", brand, compatible)
        if brand in MP4_BRANDS or brand.startswith("mp4") or MP4_COMPATIBLE & set(compatible):
            return Container("mp4", brand, compatible)
        # Another ISO-BMFF family (HEIF, Canon raw ...): neither MP4 nor QuickTime.
        return Container("mov" if "qt  " in compatible else "isobmff", brand, compatible)
    if len(head) >= 8 and head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"):
        return Container("mov")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return Container("webm" if b"webm" in head[:64] else "matroska")
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return Container("avi")
    if head.startswith(b"FLV"):
        return Container("flv")
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return Container("asf")
    if len(head) > 376 and head[0] == 0x47 and head[188] == 0x47 and head[376] == 0x47:
        return Container("mpegts")
    if head.startswith(b"\x00\x00\x01\xba"):
        return Container("mpegps")
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"#EXTM3U") or text.startswith(b"#EXT"):
        return Container("hls")
    if text.startswith(b"ffconcat") or text.startswith(b"file "):
        return Container("ffconcat")
    if head and all(b in b"\t\r\n" or 32 <= b < 127 or b >= 128 for b in head[:512]):
        return Container("text")
    return Container("unknown")


def scan_boxes(reader: BinaryIO, size: int) -> dict[str, Any]:
    """Walk an ISO-BMFF file's top-level boxes by their headers (a few bytes each).

    Returns:
        {"boxes": [...names...], "moov": bool, "truncated": bool, "faststart": bool}
    """
    names: list[str] = []
    offset = 0
    truncated = False
    while offset < size and len(names) < MAX_TOP_BOXES:
        reader.seek(offset)
        header = reader.read(16)
        if len(header) < 8:
            truncated = True
            break
        box_size, name = struct.unpack(">I4s", header[:8])
        if box_size == 1 and len(header) >= 16:
            box_size = struct.unpack(">Q", header[8:16])[0]
        elif box_size == 0:
            box_size = size - offset
        if box_size < 8:
            truncated = True
            break
        names.append(name.decode("latin-1"))
        if offset + box_size > size:
            truncated = True
            break
        offset += box_size
    moov = "moov" in names
    faststart = moov and "mdat" in names and names.index("moov") < names.index("mdat")
    return {"boxes": names[:32], "moov": moov, "truncated": truncated, "faststart": faststart}


def _mediainfo_tracks_unbounded(source: str, parse_speed: float) -> list[dict]:
    from pymediainfo import MediaInfo

    return [track.to_data() for track in MediaInfo.parse(source, parse_speed=parse_speed).tracks]


def mediainfo_tracks(source: str, timeout_s: float, parse_speed: float = 0.5) -> list[dict]:
    """pymediainfo's tracks, parsed in a bounded child so a hostile file can't hang the worker.

    Raises:
        PermanentError: the child timed out, crashed or could not parse the file.
    """
    try:
        return call_bounded(_mediainfo_tracks_unbounded, source, parse_speed, timeout_s=timeout_s)
    except ChildFailed as exc:
        raise PermanentError(f"mediainfo failed: {exc}", code="VIDEO_UNREADABLE") from exc


def _num(value: Any) -> float | None:
    """A number from a tool's field: '30.000', '25/1', '1920 pixels'."""
    if value is None or value == "":
        return None
    text = str(value)
    if "/" in text:
        return _ratio(text)
    try:
        return float(text.split(" ")[0])
    except ValueError:
        return None


def _ratio(text: str) -> float | None:
    try:
        num, den = text.split("/")[:2]
        return float(num) / float(den) if float(den) else None
    except (ValueError, ZeroDivisionError):
        return None


def _int(value: Any) -> int | None:
    number = _num(value)
    return int(round(number)) if number is not None else None


def from_mediainfo(tracks: list[dict]) -> dict[str, Any]:
    general = next((t for t in tracks if t.get("track_type") == "General"), {})
    video = next((t for t in tracks if t.get("track_type") == "Video"), None)
    audios = [t for t in tracks if t.get("track_type") == "Audio"]
    texts = [t for t in tracks if t.get("track_type") == "Text"]
    out: dict[str, Any] = {
        "format": general.get("format"),
        "duration_s": (_num(general.get("duration")) or 0) / 1000 or None,
        "bitrate": _int(general.get("overall_bit_rate")),
        "has_video": video is not None,
        "audio": [AudioStream(codec=a.get("format"), channels=_int(a.get("channel_s")), sample_rate=_int(a.get("sampling_rate")),
                              bitrate=_int(a.get("bit_rate")), language=a.get("language")) for a in audios],
        "subtitles": [SubtitleStream(codec=t.get("codec_id") or t.get("format"), language=t.get("language")) for t in texts],
    }
    if video:
        out.update(
            video_codec=video.get("format"), video_profile=video.get("format_profile"),
            width=_int(video.get("width")), height=_int(video.get("height")),
            sar=_num(video.get("pixel_aspect_ratio")), rotation=_int(video.get("rotation")) or 0,
            fps=_num(video.get("frame_rate")) or _num(video.get("original_frame_rate")),
            variable_fps=(video.get("frame_rate_mode") == "VFR"), frame_count=_int(video.get("frame_count")),
            video_duration_s=(_num(video.get("duration")) or 0) / 1000 or None,
            pix_fmt=_pix_fmt(video),
            field_order=_MEDIAINFO_SCAN.get(str(video.get("scan_type") or "").lower()),
        )
    return out


# mediainfo's scan type in ffprobe's field_order words (the order itself is ffprobe's to tell)
_MEDIAINFO_SCAN = {"progressive": "progressive", "interlaced": "interlaced", "mbaff": "interlaced"}


def _pix_fmt(video: dict) -> str | None:
    sub, depth = video.get("chroma_subsampling"), video.get("bit_depth")
    if sub == "4:2:0":
        return "yuv420p" if str(depth) in ("8", "None") else f"yuv420p{depth}le"
    return sub


def from_ffprobe(data: dict) -> dict[str, Any]:
    streams = data.get("streams", [])
    fmt = data.get("format", {})
    video = next((s for s in streams if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")), None)
    out: dict[str, Any] = {
        "format": fmt.get("format_name"),
        "duration_s": _num(fmt.get("duration")),
        "bitrate": _int(fmt.get("bit_rate")),
        "has_video": video is not None,
        "audio": [AudioStream(codec=s.get("codec_name"), channels=s.get("channels"), sample_rate=_int(s.get("sample_rate")),
                              bitrate=_int(s.get("bit_rate")), language=s.get("tags", {}).get("language"))
                  for s in streams if s.get("codec_type") == "audio"],
        "subtitles": [SubtitleStream(codec=s.get("codec_name"), language=s.get("tags", {}).get("language"))
                      for s in streams if s.get("codec_type") == "subtitle"],
    }
    if video:
        rotation = 0
        for side in video.get("side_data_list", []) or []:
            if "rotation" in side:
                rotation = -int(round(float(side["rotation"])))
        if not rotation and "rotate" in video.get("tags", {}):
            rotation = _int(video["tags"]["rotate"]) or 0
        sar_text = video.get("sample_aspect_ratio") or ""
        sar = _ratio(sar_text.replace(":", "/")) if ":" in sar_text and sar_text != "0:1" else None
        avg, real = _ratio(video.get("avg_frame_rate", "")), _ratio(video.get("r_frame_rate", ""))
        out.update(
            video_codec=video.get("codec_name"), video_profile=video.get("profile"),
            width=video.get("width"), height=video.get("height"), sar=sar, rotation=rotation,
            fps=avg or real, variable_fps=bool(avg and real and abs(avg - real) > 0.01 * real),
            frame_count=_int(video.get("nb_frames")), video_duration_s=_num(video.get("duration")),
            pix_fmt=video.get("pix_fmt"),
            field_order=video.get("field_order") if video.get("field_order") not in (None, "unknown") else None,
        )
    return out


def display_geometry(width: int, height: int, sar: float | None, rotation: int) -> tuple[int, int, float]:
    """Displayed width, height and aspect: sample aspect applied, then rotation."""
    sar = sar if sar and sar > 0 else 1.0
    display_w, display_h = int(round(width * sar)), height
    if rotation % 180 == 90:
        display_w, display_h = display_h, display_w
    return display_w, display_h, display_w / display_h if display_h else 0.0


_COMPARED = ("width", "height", "rotation", "duration_s", "sar")


def merge_opinions(primary: dict, second: dict) -> tuple[dict, dict]:
    """Take mediainfo's values, fill gaps from ffprobe, and record where they disagree.

    Rotation and sample aspect are taken from ffprobe when it reports them: they are what
    ffmpeg itself applies when it renders the picture.
    """
    merged = dict(second)
    merged.update({k: v for k, v in primary.items() if v not in (None, [], "")})
    disagreements = {}
    for key in _COMPARED:
        a, b = primary.get(key), second.get(key)
        if a is None or b is None:
            continue
        if key == "duration_s" and abs(a - b) <= max(0.5, 0.01 * b):
            continue
        if key == "sar" and abs(a - b) <= 0.01:
            continue
        if key == "rotation" and a % 360 == b % 360:
            continue
        if a != b:
            disagreements[key] = {"mediainfo": a, "ffprobe": b}
    for key in ("rotation", "sar"):
        if second.get(key):
            merged[key] = second[key]
    if not primary.get("audio") and second.get("audio"):
        merged["audio"] = second["audio"]
    return merged, disagreements


@contextlib.contextmanager
def tool_source(store: ObjectStore, key: str) -> Iterator[str]:
    """What the tools read: a short-lived URL where the store has one, else a local path."""
    url = store.url(key, expires_s=900)
    if url:
        yield url
        return
    with store.local_path(key) as path:
        yield str(path)


def blame_tool_failure(store: ObjectStore, key: str, error: ffmpeg.FFmpegError) -> None:
    """A tool failed on `key`: raise TransientError when the store, not the upload, is at fault.

    The stderr says so for transport failures; otherwise the store is asked for the object,
    which raises TransientError while it is down. Returns quietly when the upload is to blame.

    Raises:
        TransientError: the store is unreachable or failed the tool's reads.
    """
    if ffmpeg.transport_failed(error):
        raise TransientError(f"S3 unreachable while reading {key}: {error.stderr_tail[-200:]}")
    if store.stat(key) is None:
        raise InputVanishedError(f"{key} vanished while it was read")


def probe_video(store: ObjectStore, key: str, *, timeout_s: float = 60) -> VideoProbe:
    """Measure one video.

    Raises:
        PermanentError(code="VIDEO_UNREADABLE"): not a video, truncated, no moov, zero length.
    """
    stat = store.stat(key)
    if stat is None or stat.size == 0:
        raise PermanentError("empty file", code="VIDEO_UNREADABLE", detail={"reason": "文件为空"})
    with store.open(key) as reader:
        head = reader.read(HEAD_BYTES)
        container = sniff_container(head)
        boxes = scan_boxes(reader, stat.size) if ffmpeg.DEMUXERS.get(container.name) == "mov" else None
    if not container.is_video_container:
        raise PermanentError(f"not a video container ({container.name})", code="VIDEO_UNREADABLE",
                             detail={"reason": "不是视频文件", "container": container.name})
    if boxes is not None:
        if not boxes["moov"]:
            raise PermanentError("no moov box", code="VIDEO_UNREADABLE", detail={"reason": "缺少moov索引，文件不完整", "boxes": boxes["boxes"]})
        if boxes["truncated"]:
            raise PermanentError("truncated ISO-BMFF", code="VIDEO_UNREADABLE", detail={"reason": "文件被截断", "boxes": boxes["boxes"]})
    demuxer = ffmpeg.DEMUXERS[container.name]
    probed_with = []
    primary: dict = {}
    second: dict = {}
    with tool_source(store, key) as source, ThreadPoolExecutor(max_workers=1) as pool:
        # The two opinions are independent processes: ffprobe runs while mediainfo parses.
        second_opinion = pool.submit(ffmpeg.ffprobe, source, demuxer, timeout_s=timeout_s)
        try:
            # ISO-BMFF keeps every parameter in the moov: a light parse reads ~0.1 MB of it.
            speed = 0.1 if demuxer == "mov" else 0.5
            primary = from_mediainfo(mediainfo_tracks(source, timeout_s, speed))
            probed_with.append("mediainfo")
        except PermanentError:
            primary = {}
        try:
            second = from_ffprobe(second_opinion.result())
            probed_with.append("ffprobe")
        except ffmpeg.FFmpegError as exc:
            second = {}
            if not primary:       # neither opinion: a store outage must not read as a broken video
                blame_tool_failure(store, key, exc)
    merged, disagreements = merge_opinions(primary, second)
    if not merged.get("has_video") or not merged.get("width") or not merged.get("height"):
        raise PermanentError("no decodable video stream", code="VIDEO_UNREADABLE", detail={"reason": "没有可读取的视频画面"})
    duration = merged.get("duration_s") or merged.get("video_duration_s")
    if not duration or duration <= 0:
        raise PermanentError("zero duration", code="VIDEO_UNREADABLE", detail={"reason": "时长为0"})
    display_w, display_h, aspect = display_geometry(merged["width"], merged["height"], merged.get("sar"), merged.get("rotation") or 0)
    return VideoProbe(
        container=container.name, brand=container.brand, compatible_brands=container.compatible, is_mp4=container.is_mp4,
        video_codec=merged.get("video_codec"), video_profile=merged.get("video_profile"),
        width=merged["width"], height=merged["height"], sample_aspect_ratio=merged.get("sar") or 1.0,
        rotation=(merged.get("rotation") or 0) % 360, display_width=display_w, display_height=display_h,
        display_aspect=round(aspect, 4), duration_s=round(duration, 3), fps=round(merged["fps"], 3) if merged.get("fps") else None,
        variable_fps=bool(merged.get("variable_fps")), frame_count=merged.get("frame_count"), bitrate=merged.get("bitrate"),
        pix_fmt=merged.get("pix_fmt"), audio=merged.get("audio") or [], subtitle_streams=merged.get("subtitles") or [],
        probed_with=probed_with, disagreements=disagreements,
        faststart=bool(boxes and boxes["faststart"]),
        field_order=second.get("field_order") or primary.get("field_order"),
    )
