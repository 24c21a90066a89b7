"""The labelled set of picture and sound cases, made by ffmpeg at test time (and by
bench/bench_picture.py): native 1080p scenes (sharp, soft, noisy, slides, and as classrooms
are filmed: a plain wall, a blackboard, a projector screen, a figure walking, light grain, a
1 fps slideshow, sparse keyframes, anamorphic 1440x1080), the same scenes shot at 720p, 540p,
480p, 360p and in anamorphic SD (720x576, 720x480) and scaled up by an editing app (bilinear,
bicubic, lanczos) at 4-10 Mbit/s, boxed pictures, speech-like sound at several loudnesses,
clipped sound, 1080i."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from itertools import cycle

from pipeline.sample import VideoSpec

# 8 s with a keyframe a second, as phones write them (the estimate samples keyframes first)
SCENES = {
    "sharp": VideoSpec(duration_s=8.0, gop_s=1.0, subtitles=False, bitrate="8M"),
    "soft": VideoSpec(duration_s=8.0, gop_s=1.0, subtitles=False, bitrate="6M", soften=2.0),
    "blurred": VideoSpec(duration_s=8.0, gop_s=1.0, subtitles=False, bitrate="6M", soften=4.0),
    "noisy": VideoSpec(duration_s=8.0, gop_s=1.0, subtitles=False, bitrate="10M", grain=25),
    "slides": VideoSpec(duration_s=8.0, gop_s=1.0, subtitles=False, bitrate="4M", picture="slides"),
}
# Filmed as classrooms are, natively at 1920x1080 (pipeline/sample.py draws them)
CLASSROOM = {name: VideoSpec(duration_s=8.0, gop_s=1.0, subtitles=False, bitrate="6M", picture=name)
             for name in ("wall", "blackboard", "screen", "walk")}
OTHER_NATIVES = {
    "grain-light": replace(SCENES["sharp"], grain=8),
    "anamorphic-1440": VideoSpec(width=1440, height=1080, sar="4/3", duration_s=8.0, gop_s=1.0, subtitles=False, bitrate="8M"),
    "slideshow-1fps": VideoSpec(duration_s=120.0, fps=1, gop_s=60.0, subtitles=False, bitrate="2M", picture="screen"),
    "sparse-keyframes": VideoSpec(duration_s=20.0, gop_s=10.0, subtitles=False, bitrate="4M", picture="screen"),
}
SOURCES = {"720p": (1280, 720), "540p": (960, 540), "480p": (854, 480)}
# Old phones, downloaded clips and DV archives: 640x360, and anamorphic PAL and NTSC (720 wide for 16:9)
SMALL_SOURCES = {"360p": (640, 360), "576a": (720, 576), "480a": (720, 480)}
FLAGS = ("bilinear", "bicubic", "lanczos")
SMALL = {"width": 640, "height": 360, "duration_s": 6.0, "subtitles": False}


@dataclass(frozen=True)
class Case:
    name: str
    spec: VideoSpec
    codes: frozenset[str] = field(default_factory=frozenset)    # what the verdict must say (warn)
    native_height: int | None = None                             # for VIDEO_UPSCALED

    @property
    def upscaled(self) -> bool:
        return self.native_height is not None

    @property
    def half_lines(self) -> bool:
        """Scaled up from exactly half the frame's lines: a 2:1 round trip lands on the frame's
        own grid in any picture, so this is never said on its own (evidence only)."""
        return self.native_height is not None and 2 * self.native_height == self.spec.height


def upscale_cases(scenes=("sharp", "noisy", "slides"), flags=FLAGS) -> list[Case]:
    rates = cycle(("4M", "6M", "10M"))
    return [Case(f"{scene}-{source}-{flag}", replace(SCENES[scene], native=size, scale_flags=flag, bitrate=next(rates)),
                 frozenset({"VIDEO_UPSCALED"}), size[1])
            for scene in scenes for source, size in SOURCES.items() for flag in flags]


def small_source_cases() -> list[Case]:
    """360p in every scaler, anamorphic SD with bicubic, on three scenes (the grainy scene too for SD)."""
    scenes = {"sharp": SCENES["sharp"], "slides": SCENES["slides"], "blackboard": CLASSROOM["blackboard"]}
    cases = [Case(f"{scene}-360p-{flag}", replace(spec, native=SMALL_SOURCES["360p"], scale_flags=flag),
                  frozenset({"VIDEO_UPSCALED"}), 360) for scene, spec in scenes.items() for flag in FLAGS]
    scenes["noisy"] = SCENES["noisy"]
    cases += [Case(f"{scene}-{source}-bicubic", replace(spec, native=SMALL_SOURCES[source], scale_flags="bicubic"),
                   frozenset({"VIDEO_UPSCALED"}), SMALL_SOURCES[source][1]) for scene, spec in scenes.items() for source in ("576a", "480a")]
    return cases


def native_cases() -> list[Case]:
    natives = [Case(f"{scene}-native", spec) for scene, spec in {**SCENES, **CLASSROOM, **OTHER_NATIVES}.items()]
    # captions burned in by the editing app, as most teachers' videos have them
    return natives + [Case("captions-native", replace(SCENES["sharp"], subtitles=True))]


def caption_cases() -> list[Case]:
    """Upscales whose captions were drawn at 1080 lines after the upscale: the caption stripe keeps its detail."""
    return [Case(f"captions-{source}-bicubic", replace(SCENES["sharp"], native=size, subtitles=True, bitrate="6M"),
                 frozenset({"VIDEO_UPSCALED"}), size[1]) for source, size in (("720p", (1280, 720)), ("360p", (640, 360)))]


def other_cases() -> list[Case]:
    return [
        Case("pillarboxed-4x3", VideoSpec(duration_s=3.0, subtitles=False, boxed=(1440, 1080)), frozenset({"VIDEO_BLACK_BARS"})),
        Case("letterboxed-2.35", VideoSpec(duration_s=3.0, subtitles=False, boxed=(1920, 816)), frozenset({"VIDEO_BLACK_BARS"})),
        Case("interlaced-1080i", VideoSpec(duration_s=2.0, subtitles=False, interlaced=True), frozenset({"VIDEO_INTERLACED"})),
        Case("speech-16", VideoSpec(**SMALL, audio_lufs=-16.0)),
        Case("speech-23", VideoSpec(**SMALL, audio_lufs=-23.0)),
        Case("speech-35", VideoSpec(**SMALL, audio_lufs=-35.0), frozenset({"AUDIO_TOO_QUIET"})),
        Case("speech-45", VideoSpec(**SMALL, audio_lufs=-45.0), frozenset({"AUDIO_TOO_QUIET"})),
        Case("speech-clipped", VideoSpec(**SMALL, audio_clipped=True), frozenset({"AUDIO_CLIPPED"})),
    ]


def full_set() -> list[Case]:
    return native_cases() + upscale_cases() + small_source_cases() + caption_cases() + other_cases()


def suite_subset() -> list[Case]:
    """What the test suite runs: every native scene, each source size and each scaler once."""
    ups = upscale_cases()
    chosen = [c for c in ups if (c.name.split("-")[1], c.name.split("-")[2]) in
              {("720p", "bilinear"), ("540p", "bicubic"), ("480p", "lanczos")} or c.name in ("slides-720p-lanczos",)]
    small = [c for c in small_source_cases() if c.name in ("sharp-360p-bicubic", "slides-360p-bilinear", "blackboard-360p-lanczos",
                                                          "blackboard-576a-bicubic", "sharp-480a-bicubic")]
    return native_cases() + chosen + small + caption_cases() + other_cases()


CHECKED = frozenset({"VIDEO_UPSCALED", "VIDEO_BLACK_BARS", "VIDEO_INTERLACED", "AUDIO_TOO_QUIET", "AUDIO_CLIPPED"})
