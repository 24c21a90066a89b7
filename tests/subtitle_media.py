"""The labelled subtitle set, made by ffmpeg drawtext with Debian's Noto CJK font at test time.

Each case is (name, expected kind, how it is made). Pictures are textured and moving, with
a school logo in a corner in the subtitled cases too, so that text detection has to tell
subtitles from the rest of the picture.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from pipeline.models import Material

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
FF = ["ffmpeg", "-v", "error", "-y"]
X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "10"]
LINES = ["同学们好今天我们学习分数的初步认识", "请大家打开国家中小学智慧教育平台", "先看一段视频想一想一半怎样表示",
         "把一个蛋糕平均分成两份每份是它的二分之一", "小组合作用纸折出四分之一", "哪个小组愿意来展示一下",
         "说得很好我们再比较两个分数的大小", "平台上的练习可以马上看到结果", "下课前我们一起回顾今天的内容",
         "课后请在平台上完成拓展练习"]
CUE_S = 3.0


@dataclass(frozen=True)
class SubtitleCase:
    name: str
    expected: str            # embedded, sidecar, burned_in, none
    sidecar: str | None = None   # the .srt's text, when the case has one


def _text(text: str, *, x: str, y: str, size: int = 56, color: str = "white", border: str = "black", enable: str | None = None) -> str:
    spec = f"drawtext=fontfile={FONT}:text='{text}':x={x}:y={y}:fontsize={size}:fontcolor={color}:borderw=3:bordercolor={border}"
    return spec + (f":enable='{enable}'" if enable else "")


def _subtitles(color: str = "white", border: str = "black") -> list[str]:
    return [_text(line, x="(w-text_w)/2", y="h-text_h-70", color=color, border=border,
                  enable=f"between(t,{i * CUE_S},{(i + 1) * CUE_S - 0.01})") for i, line in enumerate(LINES)]


LOGO = _text("第一实验小学", x="w-text_w-40", y="h-text_h-30", size=36)


def srt(lines: list[str]) -> str:
    def stamp(t: float) -> str:
        return f"00:00:{int(t):02d},{int(t * 1000) % 1000:03d}"
    return "\n".join(f"{i + 1}\n{stamp(i * CUE_S)} --> {stamp((i + 1) * CUE_S - 0.1)}\n{line}\n" for i, line in enumerate(lines))


CASES = [
    SubtitleCase("changing_subtitles", "burned_in"),
    SubtitleCase("light_text_on_light_background", "burned_in"),
    SubtitleCase("static_logo_only", "none"),
    SubtitleCase("fixed_caption_centre", "none"),
    SubtitleCase("slide_text_upper_half", "none"),
    SubtitleCase("no_text", "none"),
    SubtitleCase("mov_text_track", "embedded"),
    SubtitleCase("sidecar_srt", "sidecar", sidecar=srt(LINES)),
    SubtitleCase("empty_srt", "none", sidecar=""),
    # page text is not captions (issue 22): a screen recording of web pages, slides whose bullets come one by one,
    # a lower-third name caption; captions over slides still are
    SubtitleCase("screen_recording_web_pages", "none"),
    SubtitleCase("slides_changing_bullets", "none"),
    SubtitleCase("lower_third_name_caption", "none"),
    SubtitleCase("captions_over_slides", "burned_in"),
]


# Harder variants for the benchmark: how editing apps style their subtitles, and busier pictures.
VARIANTS = [
    SubtitleCase("yellow_small_text", "burned_in"),
    SubtitleCase("boxed_text", "burned_in"),
    SubtitleCase("two_line_subtitles", "burned_in"),
    SubtitleCase("subtitles_over_busy_picture", "burned_in"),
    SubtitleCase("scrolling_lower_third_name_only", "none"),
    SubtitleCase("corner_clock_changing", "none"),
]


def _variant_filters(name: str, size: str) -> tuple[str, list[str]]:
    width, height = (int(v) for v in size.split("x"))
    scale = height / 1080
    scene = f"testsrc2=s={size}:r=10:d={{d}}"
    timed = lambda i: f"between(t,{i * CUE_S},{(i + 1) * CUE_S - 0.01})"  # noqa: E731
    if name == "yellow_small_text":
        return scene, [_text(line, x="(w-text_w)/2", y="h-text_h-50", size=int(36 * scale), color="yellow", border="black",
                             enable=timed(i)) for i, line in enumerate(LINES)]
    if name == "boxed_text":
        return scene, [_text(line, x="(w-text_w)/2", y="h-text_h-70", size=int(52 * scale), color="white", border="black",
                             enable=timed(i)).replace(":borderw=3", ":borderw=0:box=1:boxcolor=black@0.6:boxborderw=12")
                       for i, line in enumerate(LINES)]
    if name == "two_line_subtitles":
        filters = []
        for i, line in enumerate(LINES):
            half = len(line) // 2
            filters.append(_text(line[:half], x="(w-text_w)/2", y=f"h-{int(150 * scale)}", size=int(48 * scale), enable=timed(i)))
            filters.append(_text(line[half:], x="(w-text_w)/2", y=f"h-{int(90 * scale)}", size=int(48 * scale), enable=timed(i)))
        return scene, filters
    if name == "subtitles_over_busy_picture":
        busy = f"mandelbrot=s={size}:r=10,hue=H=t/3,noise=alls=20:allf=t,trim=duration={{d}}"
        return busy, [_text(line, x="(w-text_w)/2", y="h-text_h-70", size=int(56 * scale), enable=timed(i))
                      for i, line in enumerate(LINES)]
    if name == "scrolling_lower_third_name_only":
        return scene, [_text("主讲教师 张三 第一实验小学", x="w-mod(t*200\\,w+text_w)", y="h-text_h-60", size=int(48 * scale))]
    if name == "corner_clock_changing":
        return scene, [_text("%{pts\\:hms}", x="w-text_w-40", y="h-text_h-40", size=int(40 * scale))]
    raise ValueError(name)


def make_variant(case: SubtitleCase, directory: Path, *, duration: float = 30.0, size: str = "1920x1080") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{case.name}.mp4"
    scene, filters = _variant_filters(case.name, size)
    subprocess.run([*FF, "-f", "lavfi", "-i", scene.format(d=duration), "-vf", ",".join(filters), *X264, "-t", str(duration),
                    str(path)], check=True, timeout=300)
    return path


def _web_pages(duration: float) -> list[str]:
    """The national platform's pages, one every CUE_S, as a screen recorder sees them: a menu, a title, left-aligned
    paragraphs and a grid of cards down to the bottom, a centred footer with the page's number."""
    filters = []
    for page in range(int(duration // CUE_S) + 1):
        when = f"between(t,{page * CUE_S},{(page + 1) * CUE_S - 0.01})"
        filters.append(_text("首页  课程教学  课后服务  教师研修  家庭教育  教改实践", x="60", y="24", size=34, color="0x1a4f9c",
                             border="white", enable=when))
        filters.append(_text(f"专题资源 {LINES[page % len(LINES)][:10]}", x="120", y="120", size=52, color="0x202020",
                             border="white", enable=when))
        for row in range(9):
            line = LINES[(page + row) % len(LINES)] + ("，点击查看详情" if row % 2 else "")
            filters.append(_text(line, x="120", y=str(220 + row * 72), size=38, color="0x333333", border="white", enable=when))
        for column, x in enumerate(("160", "(w-text_w)/2", "w-text_w-160")):
            filters.append(_text(f"第{page * 3 + column + 1}课 {LINES[(page + column) % len(LINES)][:8]}", x=x, y="900", size=36,
                                 color="0x1a4f9c", border="white", enable=when))
        filters.append(_text(f"第 {page + 1} 页  共 {int(duration // CUE_S) + 1} 页", x="(w-text_w)/2", y="1000", size=32,
                             color="0x666666", border="white", enable=when))
    return filters


def _bullets() -> list[str]:
    """A slide's title, then its bullets coming one by one (left-aligned, of different lengths), down into the lower band."""
    filters = [_text("分数的初步认识", x="(w-text_w)/2", y="80", size=72, color="black", border="white")]
    for i in range(8):
        slide, row = divmod(i, 4)
        when = f"between(t,{i * CUE_S},{(slide + 1) * 4 * CUE_S - 0.01})"
        filters.append(_text(f"{row + 1}. {LINES[i]}", x="200", y=str(560 + row * 120), size=68, color="black", border="white",
                             enable=when))
    return filters


def _lower_thirds() -> list[str]:
    """Name captions on the left of the lower third while each speaker talks."""
    names = [("主讲教师 张三 第一实验小学", 0, 8), ("学生代表 李四 四年级二班", 10, 18), ("助教 王五 第二实验小学", 20, 28)]
    return [_text(name, x="80", y="h-190", size=48, enable=f"between(t,{start},{end})").replace(
                ":borderw=3", ":borderw=0:box=1:boxcolor=0x1a4f9c@0.85:boxborderw=16") for name, start, end in names]


def make_case(case: SubtitleCase, directory: Path, *, duration: float = 30.0, size: str = "1920x1080") -> Path:
    """The case's video (and its .srt beside it when it has one)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{case.name}.mp4"
    scene = f"testsrc2=s={size}:r=10:d={duration}"
    filters: list[str] = []
    extra_inputs: list[str] = []
    extra_maps: list[str] = []
    if case.name == "changing_subtitles":
        filters = [LOGO, *_subtitles()]
    elif case.name == "light_text_on_light_background":
        scene = f"color=c=0xE8E4D8:s={size}:r=10:d={duration}"
        filters = ["noise=alls=12:allf=t", *_subtitles(color="white", border="0x707070")]
    elif case.name == "static_logo_only":
        filters = [LOGO, _text("国家中小学智慧教育平台", x="40", y="40", size=40)]
    elif case.name == "fixed_caption_centre":
        filters = [LOGO, _text("第一实验小学 数学公开课 分数的初步认识", x="(w-text_w)/2", y="h-text_h-70")]
    elif case.name == "slide_text_upper_half":
        filters = [_text(line, x="(w-text_w)/2", y="120", size=64, enable=f"between(t,{i * CUE_S},{(i + 1) * CUE_S - 0.01})")
                   for i, line in enumerate(LINES)]
    elif case.name == "screen_recording_web_pages":
        scene = f"color=c=0xf5f6f8:s={size}:r=10:d={duration}"
        filters = _web_pages(duration)
    elif case.name == "slides_changing_bullets":
        scene = f"color=c=white:s={size}:r=10:d={duration}"
        filters = _bullets()
    elif case.name == "lower_third_name_caption":
        filters = [LOGO, *_lower_thirds()]
    elif case.name == "captions_over_slides":
        scene = f"color=c=white:s={size}:r=10:d={duration}"
        filters = [*_bullets()[:1], *[_text(f"{i + 1}. {LINES[i][:9]}", x="160", y=str(240 + i * 100), size=56, color="black",
                                            border="white") for i in range(3)], *_subtitles()]
    elif case.name == "mov_text_track":
        cues = directory / f"{case.name}.cues.srt"
        cues.write_text(srt(LINES), encoding="utf-8")
        extra_inputs = ["-i", str(cues)]
        extra_maps = ["-map", "0:v", "-map", "1:s", "-c:s", "mov_text", "-metadata:s:s:0", "language=chi"]
    cmd = [*FF, "-f", "lavfi", "-i", scene, *extra_inputs]
    if filters:
        cmd += ["-vf", ",".join(filters)]
    cmd += [*(extra_maps or []), *X264, str(path)]
    subprocess.run(cmd, check=True, timeout=300)
    if case.sidecar is not None:
        (directory / f"{case.name}.srt").write_text(case.sidecar, encoding="utf-8")
    return path


def case_members(directory: Path, name: str) -> list[Material]:
    """The case's video and, when there is one, its .srt, as the unpack stage would list them."""
    found = [Material(path=f"{name}.mp4", key=f"{name}.mp4", size=1, sha256="0" * 64, kind="video")]
    srt = directory / f"{name}.srt"
    if srt.exists():
        found.append(Material(path=srt.name, key=srt.name, size=srt.stat().st_size, sha256="1" * 64, kind="subtitle"))
    return found
