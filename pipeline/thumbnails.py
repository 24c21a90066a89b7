"""A poster and a storyboard for each video.

Poster: ffmpeg's `thumbnail` filter picks the most representative frame of a short run at
several points of the video; among those candidates the one whose small JPEG is largest wins
(black, flat or blurred frames compress to little). Storyboard: a sprite of 160x90 tiles, one
every duration/tiles seconds, with a WebVTT track (#xywh=) that players use for previews while
scrubbing. A long video gets 10x10 tiles from keyframes only; a short one gets as many tiles as
it has seconds (a 4 s clip: 4 tiles, from a full decode), so no tile is left black.
A long video's poster and storyboard usually ride on the verdict path's keyframe decode instead
(`StoryboardSampling`, `PosterSampling`: the poster is then the best coded of the keyframes at
the candidate points), and the previews take them from the store (pipeline/media.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import ffmpeg
from .keyframes import Branch

CANDIDATE_POINTS = (0.15, 0.35, 0.55, 0.75)
POSTER_SIZES = {"poster.jpg": (1280, 720), "poster-small.jpg": (320, 180)}
THUMBNAIL_NAMES = ("poster.jpg", "poster-small.jpg", "storyboard.jpg", "storyboard.vtt")


@dataclass(frozen=True)
class StoryboardSpec:
    columns: int = 10
    rows: int = 10
    tile_width: int = 160
    tile_height: int = 90

    @property
    def tiles(self) -> int:
        return self.columns * self.rows

    @classmethod
    def for_duration(cls, duration_s: float, max_tiles: int = 100, max_columns: int = 10) -> "StoryboardSpec":
        """About one tile per second of a short video (rows filled whole), 10x10 for a long one."""
        tiles = max(1, min(max_tiles, int(duration_s)))
        columns = min(max_columns, tiles)
        return cls(columns=columns, rows=-(-tiles // columns))


KEYFRAMES_FROM_S = 120       # shorter videos are decoded whole for their storyboard (their keyframes are too few)


def candidate_command(source: str, demuxer: str, at_s: float, out: Path, frames: int = 30,
                      sample_aspect: float | None = None) -> list[str]:
    return [ffmpeg.FFMPEG, "-hide_banner", "-nostats", "-v", "error", "-y", "-ss", f"{at_s:.3f}",
            *ffmpeg.input_args(source, demuxer), "-map", "0:V:0",
            "-vf", f"thumbnail={frames},{ffmpeg.fit_filter(320, 180, sample_aspect)}",
            "-frames:v", "1", "-fps_mode", "passthrough", "-q:v", "3", str(out)]


def frame_command(source: str, demuxer: str, at_s: float, out: Path, width: int, height: int,
                  sample_aspect: float | None = None) -> list[str]:
    return [ffmpeg.FFMPEG, "-hide_banner", "-nostats", "-v", "error", "-y", "-ss", f"{at_s:.3f}",
            *ffmpeg.input_args(source, demuxer), "-map", "0:V:0", "-vf", ffmpeg.fit_filter(width, height, sample_aspect),
            "-frames:v", "1",
            "-q:v", "3", str(out)]


def storyboard_chain(duration_s: float, spec: StoryboardSpec, sample_aspect: float | None = None) -> str:
    rate = spec.tiles / max(duration_s, 0.1)
    return (f"fps={rate:.6f},{ffmpeg.fit_filter(spec.tile_width, spec.tile_height, sample_aspect)},"
            f"tile={spec.columns}x{spec.rows}")


def _sprite_output(out: Path) -> list[str]:
    return ["-frames:v", "1", "-fps_mode", "passthrough", "-q:v", "4", str(out)]


def storyboard_command(source: str, demuxer: str, duration_s: float, out: Path, spec: StoryboardSpec, *,
                       keyframes_only: bool = True, sample_aspect: float | None = None) -> list[str]:
    skip = ["-skip_frame", "nokey"] if keyframes_only else []
    return [ffmpeg.FFMPEG, "-hide_banner", "-nostats", "-v", "error", "-y", *skip,
            *ffmpeg.input_args(source, demuxer), "-map", "0:V:0",
            "-vf", storyboard_chain(duration_s, spec, sample_aspect), *_sprite_output(out)]


def _stamp(seconds: float) -> str:
    hours, rest = divmod(max(seconds, 0.0), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{int(hours):02d}:{int(minutes):02d}:{secs:06.3f}"


def storyboard_vtt(duration_s: float, image_name: str, spec: StoryboardSpec) -> str:
    step = duration_s / spec.tiles
    lines = ["WEBVTT", ""]
    for index in range(spec.tiles):
        x = (index % spec.columns) * spec.tile_width
        y = (index // spec.columns) * spec.tile_height
        lines += [f"{_stamp(index * step)} --> {_stamp((index + 1) * step)}",
                  f"{image_name}#xywh={x},{y},{spec.tile_width},{spec.tile_height}", ""]
    return "\n".join(lines)


def make_thumbnails(source: str, demuxer: str, duration_s: float, out_dir: Path, *, timeout_s: float = 120,
                    spec: StoryboardSpec | None = None, sample_aspect: float | None = None) -> dict[str, Path]:
    """Write poster.jpg, poster-small.jpg, storyboard.jpg and storyboard.vtt into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = spec or StoryboardSpec.for_duration(duration_s)
    best: tuple[int, float] | None = None
    for index, point in enumerate(CANDIDATE_POINTS):
        at = duration_s * point
        candidate = out_dir / f"candidate-{index}.jpg"
        try:
            ffmpeg.run(candidate_command(source, demuxer, at, candidate, sample_aspect=sample_aspect), timeout_s=timeout_s,
                       stdout=False)
        except ffmpeg.FFmpegError:
            continue
        if candidate.exists():
            size = candidate.stat().st_size
            if best is None or size > best[0]:
                best = (size, at)
            candidate.unlink()
    chosen = best[1] if best else 0.0
    outputs = {}
    for name, (width, height) in POSTER_SIZES.items():
        _run_for(out_dir / name, frame_command(source, demuxer, chosen, out_dir / name, width, height, sample_aspect), timeout_s)
        outputs[name] = out_dir / name
    sprite = out_dir / "storyboard.jpg"
    # Keyframes only is ~4x cheaper; a short video, or one with too few keyframes, gets a full decode.
    for keyframes_only in ((True, False) if duration_s >= KEYFRAMES_FROM_S else (False,)):
        try:
            _run_for(sprite, storyboard_command(source, demuxer, duration_s, sprite, spec, keyframes_only=keyframes_only,
                                                sample_aspect=sample_aspect), timeout_s * 4)
            break
        except ffmpeg.FFmpegError:
            if not keyframes_only:
                raise
    outputs["storyboard.jpg"] = sprite
    (out_dir / "storyboard.vtt").write_text(storyboard_vtt(duration_s, "storyboard.jpg", spec), encoding="utf-8")
    outputs["storyboard.vtt"] = out_dir / "storyboard.vtt"
    return outputs


def _run_for(output: Path, cmd: list[str], timeout_s: float) -> None:
    """Run ffmpeg for one image; an exit of 0 with no image is a failure too."""
    output.unlink(missing_ok=True)
    result = ffmpeg.run(cmd, timeout_s=timeout_s, stdout=False)
    if not output.exists() or output.stat().st_size == 0:
        raise ffmpeg.FFmpegError(f"ffmpeg wrote no {output.name}", cmd=cmd, returncode=0, stderr_tail=result.stderr_tail)


# riding on the verdict path's sampling decode -------------------------------------------------
def keyframes_at(points: list[float]) -> str:
    """select: the first frame at or after each point (one frame for points that share it)."""
    terms = "+".join(f"gte(t\\,{p:.3f})*(isnan(prev_selected_t)+lt(prev_selected_t\\,{p:.3f}))" for p in points)
    return f"select='{terms}'"


class _Rider:
    """A branch that rides on a decode its consumers asked for: it never asks for one of its own."""

    def collect(self, stderr_lines: list[str], keyframes_only: bool) -> bool:
        return True


class StoryboardSampling(_Rider):
    """The storyboard as a rider on the verdict path's keyframe decode (pipeline/keyframes.py):
    the same sprite the previews would make from keyframes, for the cost of scaling 100 frames."""

    def __init__(self, duration_s: float, folder: Path, sample_aspect: float | None = None):
        self.duration_s, self.spec, self.sample_aspect = duration_s, StoryboardSpec.for_duration(duration_s), sample_aspect
        self.sprite = folder / "storyboard.jpg"

    def branch(self, keyframes_only: bool) -> Branch:
        self.sprite.unlink(missing_ok=True)
        return Branch(storyboard_chain(self.duration_s, self.spec, self.sample_aspect), _sprite_output(self.sprite))


class PosterSampling(_Rider):
    """The poster candidates as a rider on the keyframe decode: the first keyframe at or after
    each candidate point, at the poster's size (a keyframe is the best-coded frame around it).
    The largest JPEG wins, as in `make_thumbnails` (black, flat or blurred frames compress to little)."""

    def __init__(self, duration_s: float, folder: Path, sample_aspect: float | None = None):
        self.points = [duration_s * point for point in CANDIDATE_POINTS]
        self.folder, self.sample_aspect = folder, sample_aspect

    def branch(self, keyframes_only: bool) -> Branch:
        for old in self.folder.glob("candidate-*.jpg"):
            old.unlink()
        width, height = POSTER_SIZES["poster.jpg"]
        return Branch(f"{keyframes_at(self.points)},{ffmpeg.fit_filter(width, height, self.sample_aspect)}",
                      ["-frames:v", str(len(self.points)), "-fps_mode", "passthrough", "-q:v", "3",
                       str(self.folder / "candidate-%d.jpg")])

    def best(self) -> Path | None:
        candidates = [path for path in self.folder.glob("candidate-*.jpg") if path.stat().st_size > 0]
        return max(candidates, key=lambda path: path.stat().st_size) if candidates else None


def sampled_riders(duration_s: float, folder: Path, sample_aspect: float | None = None) -> tuple[StoryboardSampling, PosterSampling] | None:
    """The thumbnails' riders for a video whose storyboard comes from keyframes (long enough,
    `KEYFRAMES_FROM_S`); None for a shorter one (its storyboard needs every frame: the previews make it)."""
    if duration_s < KEYFRAMES_FROM_S:
        return None
    return StoryboardSampling(duration_s, folder, sample_aspect), PosterSampling(duration_s, folder, sample_aspect)


def thumbnails_from(riders: tuple[StoryboardSampling, PosterSampling], out_dir: Path) -> dict[str, Path] | None:
    """poster.jpg, poster-small.jpg, storyboard.jpg and storyboard.vtt from what the riders got
    (the best candidate and the sprite as they are; the small poster and the WebVTT written to
    `out_dir`), or None when any is missing (the previews then make them all)."""
    storyboard, poster = riders
    best = poster.best()
    if best is None or not storyboard.sprite.exists() or storyboard.sprite.stat().st_size == 0:
        return None
    from PIL import Image       # only here: the verdict path's other stages never need it

    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = {"poster.jpg": best, "poster-small.jpg": out_dir / "poster-small.jpg", "storyboard.jpg": storyboard.sprite,
               "storyboard.vtt": out_dir / "storyboard.vtt"}
    try:
        with Image.open(best) as big:
            big.convert("RGB").resize(POSTER_SIZES["poster-small.jpg"], Image.Resampling.LANCZOS).save(outputs["poster-small.jpg"],
                                                                                                        quality=85)
    except (OSError, ValueError):       # a candidate Pillow cannot read: the previews make them all, the verdict is not touched
        return None
    outputs["storyboard.vtt"].write_text(storyboard_vtt(storyboard.duration_s, "storyboard.jpg", storyboard.spec), encoding="utf-8")
    return outputs
