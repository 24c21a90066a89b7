"""Renditions and thumbnails for one video, under the submission's deterministic keys.

The embedded mode encodes in one process; the distributed mode calls the segment steps from
separate messages (split, one per segment, audio, join). Scratch files live in a temporary
folder that is removed whatever happens; segment objects live under the rendition's `work/`
prefix, which the join (or a failed run's clean-up) removes.
"""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from . import ffmpeg, thumbnails, transcode
from .errors import PermanentError
from .models import Material, VideoProbe, VideoReport, VideoScope
from .probe import tool_source
from .storage import ObjectStore
from .layout import Layout

SPEC = transcode.RenditionSpec()
CONTENT_TYPES = {".mp4": "video/mp4", ".m4a": "audio/mp4", ".jpg": "image/jpeg", ".vtt": "text/vtt"}


@contextmanager
def scratch(work_dir: Path | None):
    """A private folder under `work_dir`, which is made when missing (a reboot empties /tmp)."""
    if work_dir is not None:
        Path(work_dir).mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="media-", dir=work_dir))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _put(store: ObjectStore, key: str, path: Path) -> str:
    store.put_file(key, path, CONTENT_TYPES.get(path.suffix, "application/octet-stream"))
    return key


def _demuxer(probe: VideoProbe) -> str:
    demuxer = ffmpeg.DEMUXERS.get(probe.container or "")
    if demuxer is None:
        raise PermanentError(f"no demuxer for {probe.container}", code="VIDEO_UNREADABLE")
    return demuxer


def work_prefix(layout: Layout, material: Material) -> str:
    return layout.media_work(material.sha256)


def make_thumbnails(store: ObjectStore, layout: Layout, material: Material, probe: VideoProbe, *,
                    work_dir: Path | None = None, spec: transcode.RenditionSpec = SPEC) -> dict[str, str]:
    """The poster and the storyboard, over what the preview covers: those the verdict path's
    sampling decode made when they cover it (`sampled_thumbnails`), else from a decode of their own."""
    duration_s = spec.duration_of(probe.duration_s or 0.0)
    shared = sampled_thumbnails(store, layout, material, duration_s)
    if shared is not None:
        return shared
    with scratch(work_dir) as folder, tool_source(store, material.key) as source:
        made = thumbnails.make_thumbnails(source, _demuxer(probe), duration_s, folder, sample_aspect=probe.sample_aspect_ratio)
        return _put_thumbnails(store, layout, material, made)


def _put_thumbnails(store: ObjectStore, layout: Layout, material: Material, made: dict[str, Path]) -> dict[str, str]:
    """The WebVTT last: its presence says the images are there (`sampled_thumbnails`)."""
    return {name: _put(store, layout.thumbnail(material.sha256, name), made[name])
            for name in sorted(made, key=lambda name: name == "storyboard.vtt")}


def keep_sampled_thumbnails(store: ObjectStore, layout: Layout, material: Material,
                            riders: tuple[thumbnails.StoryboardSampling, thumbnails.PosterSampling], folder: Path) -> dict[str, str] | None:
    """What the thumbnails' riders on the sampling decode got, under the thumbnails' keys (None:
    they got too little, and the previews make the thumbnails)."""
    made = thumbnails.thumbnails_from(riders, folder)
    return _put_thumbnails(store, layout, material, made) if made is not None else None


def sampled_thumbnails(store: ObjectStore, layout: Layout, material: Material, duration_s: float) -> dict[str, str] | None:
    """The thumbnails already stored for a preview of `duration_s` (their WebVTT is the one this
    duration gives: a storyboard of another stretch is not taken), or None."""
    keys = {name: layout.thumbnail(material.sha256, name) for name in thumbnails.THUMBNAIL_NAMES}
    expected = thumbnails.storyboard_vtt(duration_s, "storyboard.jpg", thumbnails.StoryboardSpec.for_duration(duration_s))
    stored = store.stat(keys["storyboard.vtt"])
    if stored is None or stored.size != len(expected.encode()) or store.get_bytes(keys["storyboard.vtt"]) != expected.encode():
        return None
    return keys if all(store.exists(key) for name, key in keys.items() if name != "storyboard.vtt") else None


def preview_seconds(probe: VideoProbe, scope: VideoScope | None) -> float:
    """How much of the video the previews cover (what `spec_for` gives the rendition)."""
    return replace(SPEC, until_s=_preview_until(scope)).duration_of(probe.duration_s or 0.0)


def make_rendition(store: ObjectStore, layout: Layout, material: Material, probe: VideoProbe, *,
                   work_dir: Path | None = None, threads: int = 0, spec: transcode.RenditionSpec = SPEC) -> dict[str, str]:
    """The 720p rendition in one ffmpeg process."""
    with scratch(work_dir) as folder, tool_source(store, material.key) as source:
        out = folder / "720p.mp4"
        transcode.encode_single(source, _demuxer(probe), out, spec, sample_aspect=probe.sample_aspect_ratio, fps=probe.fps,
                                has_audio=bool(probe.audio), duration_s=spec.duration_of(probe.duration_s or 0.0) * _load(probe),
                                threads=threads)
        return {"720p": _put(store, layout.rendition(material.sha256), out)}


def spec_for(report: VideoReport, spec: transcode.RenditionSpec = SPEC) -> transcode.RenditionSpec:
    """The rendition of this video: deinterlaced when the QC pass found it interlaced, and
    covering only what the verdict path analysed when that is not all of it (the part of an
    over-long video that counts, or what the previews budget pays for)."""
    fields = report.qc.interlace if report.qc else None
    return replace(spec, deinterlace=fields.deinterlace if fields else None, until_s=_preview_until(report.scope))


def _preview_until(scope: VideoScope | None) -> float | None:
    return scope.preview_s if scope is not None and scope.preview_s < scope.duration_s else None


def _load(probe: VideoProbe) -> float:
    """One second of this source against one of 1080p25 (the transcode's timeouts grow with it)."""
    return max(1.0, (probe.width or 0) * (probe.height or 0) / (1920 * 1080)) * max(1.0, (probe.fps or 25.0) / 25.0)


def segment_count(probe: VideoProbe, spec: transcode.RenditionSpec = SPEC) -> int:
    return transcode.plan_segments(spec.duration_of(probe.duration_s or 0.0), spec)


def split_source(store: ObjectStore, layout: Layout, material: Material, probe: VideoProbe, *,
                 work_dir: Path | None = None, spec: transcode.RenditionSpec = SPEC) -> int:
    """Cut the source's video at keyframes into `work/src-NNNN.mp4` objects; returns the count."""
    prefix = work_prefix(layout, material)
    store.delete_prefix(prefix)
    with scratch(work_dir) as folder, tool_source(store, material.key) as source:
        pieces = transcode.split(source, _demuxer(probe), folder, spec, spec.duration_of(probe.duration_s or 0.0))
        for index, piece in enumerate(pieces):
            _put(store, layout.media_piece(material.sha256, "src", index), piece)
    return len(pieces)


def encode_piece(store: ObjectStore, layout: Layout, material: Material, probe: VideoProbe, index: int, *,
                 work_dir: Path | None = None, threads: int = 1, spec: transcode.RenditionSpec = SPEC) -> str:
    with scratch(work_dir) as folder, store.local_path(layout.media_piece(material.sha256, "src", index)) as piece:
        out = folder / f"enc-{index:04d}.mp4"
        transcode.encode_segment(piece, out, spec, sample_aspect=probe.sample_aspect_ratio, fps=probe.fps, threads=threads)
        return _put(store, layout.media_piece(material.sha256, "enc", index), out)


def encode_audio_piece(store: ObjectStore, layout: Layout, material: Material, probe: VideoProbe, *,
                       work_dir: Path | None = None, spec: transcode.RenditionSpec = SPEC) -> str | None:
    if not probe.audio:
        return None
    with scratch(work_dir) as folder, tool_source(store, material.key) as source:
        out = folder / "audio.m4a"
        transcode.encode_audio(source, _demuxer(probe), out, spec, spec.duration_of(probe.duration_s or 0.0))
        return _put(store, layout.media_work(material.sha256, "audio.m4a"), out)


def join_pieces(store: ObjectStore, layout: Layout, material: Material, probe: VideoProbe, count: int, *,
                work_dir: Path | None = None) -> dict[str, str]:
    """Join the encoded segments and the audio into the rendition, then drop the work objects."""
    prefix = work_prefix(layout, material)
    with scratch(work_dir) as folder:
        pieces = []
        for index in range(count):
            local = folder / f"enc-{index:04d}.mp4"
            with store.open(layout.media_piece(material.sha256, "enc", index)) as source, open(local, "wb") as target:
                shutil.copyfileobj(source, target, 1 << 20)
            pieces.append(local)
        audio = None
        if probe.audio:
            audio = folder / "audio.m4a"
            with store.open(layout.media_work(material.sha256, "audio.m4a")) as source, open(audio, "wb") as target:
                shutil.copyfileobj(source, target, 1 << 20)
        out = folder / "720p.mp4"
        transcode.join(pieces, audio, out, probe.duration_s or 0.0)      # a stream copy: its timeout never binds
        key = _put(store, layout.rendition(material.sha256), out)
    store.delete_prefix(prefix)
    return {"720p": key}
