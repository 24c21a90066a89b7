"""Make conformant sample submissions (and, for tests, deliberately broken ones).

Everything is generated: the video by ffmpeg's lavfi sources, the documents by
python-docx and python-pptx. Nothing binary is committed.
"""

from __future__ import annotations

import json
import random
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from . import ffmpeg

# Fragments for sample prose: short enough, and mixed with numbers, that two samples never
# share long runs of text (so they do not look like copies of each other to the duplication check).
SUBJECTS = ["学校", "教研组", "我们", "班主任", "教师团队", "备课组", "年级组", "课题组", "学科组", "校本研修小组"]
ACTIONS = ["依托国家平台", "借助智慧教育平台", "结合平台资源", "利用平台课程", "围绕平台功能", "通过平台应用"]
VERBS = ["开展了", "组织了", "推进了", "探索了", "完成了", "实施了", "设计了", "优化了"]
OBJECTS = ["课前预习", "双师课堂", "课后服务", "作业设计", "家校交流", "教师研修", "自主学习", "答疑辅导", "集体备课", "分层教学"]
METRICS = ["课堂参与度", "作业完成率", "阅读时长", "家长满意度", "资源使用率", "学习兴趣"]
TITLES = {"case": "依托国家平台开展双师课堂的实践", "lesson": "《分数的初步认识》双师课堂课例", "team": "学科教研群国家平台规模化应用"}


def _sentence(rng: random.Random) -> str:
    """No stretch without a number is longer than 12 characters once punctuation is gone, and
    every number has 3 or 4 digits: two samples share a 13-character run only by a rare draw."""
    return (f"第{rng.randrange(1000, 10000)}号{rng.choice(SUBJECTS)}在{rng.randrange(100, 1000)}次{rng.choice(ACTIONS)}"
            f"{rng.choice(VERBS)}{rng.randrange(1000, 10000)}场{rng.choice(OBJECTS)}活动，参与学生{rng.randrange(1000, 10000)}名，"
            f"{rng.choice(METRICS)}提升{rng.randrange(100, 1000) / 10}个百分点")


@dataclass
class VideoSpec:
    width: int = 1920
    height: int = 1080
    duration_s: float = 4.0
    fps: int = 25
    audio: bool = True
    container: str = "mp4"          # mp4 | mov | matroska
    sar: str | None = None          # e.g. "4/3" for HDV anamorphic
    rotate: int | None = None       # display rotation written as metadata
    preset: str = "ultrafast"
    subtitles: bool = True          # burned-in changing lines, as an editing app makes them
    # Picture and sound as teachers' files have them (the checks of pipeline/qc.py and upscale.py):
    picture: str = "testsrc2"       # testsrc2 | slides | wall | blackboard | screen | walk (see `picture_source`)
    native: tuple[int, int] | None = None   # rendered at this size, then scaled up to width x height
    scale_flags: str = "bicubic"    # how an editing app scaled it up
    soften: float = 0.0             # gaussian blur sigma (an out-of-focus camera)
    grain: int = 0                  # noise strength (a dim room)
    boxed: tuple[int, int] | None = None    # the picture at this size padded with black bars into width x height
    interlaced: bool = False        # 1080i: two fields per frame, top first
    bitrate: str | None = None      # e.g. "6M"; default: x264's quality mode
    gop_s: float = 2.0              # seconds between keyframes (phones: about 1)
    audio_lufs: float | None = None # speech-like sound at this loudness instead of a tone
    audio_clipped: bool = False     # ... driven 20 dB into full scale


SUBTITLE_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
SUBTITLE_LINES = ["同学们好今天我们学习分数", "请打开国家中小学智慧教育平台", "小组合作折出四分之一", "比较两个分数的大小",
                  "平台练习可以马上看到结果", "下课前一起回顾今天的内容", "课后在平台上完成拓展练习", "谢谢大家"]


# Filters that turn the stored picture into its displayed orientation and back, for `rotate`.
_TO_DISPLAY = {90: ("transpose=2", "transpose=1"), 180: ("hflip,vflip", "hflip,vflip"), 270: ("transpose=1", "transpose=2")}


def subtitle_filters(spec: VideoSpec) -> list[str]:
    """drawtext filters that burn changing centred lines into the lower band (eight cues over the
    video), upright in the displayed picture as an editing app would, whatever the rotation."""
    if not spec.subtitles or not SUBTITLE_FONT.is_file():
        return []
    cue = max(0.5, spec.duration_s / len(SUBTITLE_LINES))
    rotated = (spec.rotate or 0) % 360
    size = max(16, min(spec.width, spec.height) // 20)
    lines = [f"drawtext=fontfile={SUBTITLE_FONT}:text='{line}':x=(w-text_w)/2:y=h-text_h-{size}:fontsize={size}:"
             f"fontcolor=white:borderw=2:bordercolor=black:enable='between(t,{i * cue:.2f},{(i + 1) * cue - 0.01:.2f})'"
             for i, line in enumerate(SUBTITLE_LINES)]
    if rotated in _TO_DISPLAY:
        to_display, back = _TO_DISPLAY[rotated]
        return [to_display, *lines, back]
    return lines


@dataclass
class SampleSpec:
    project: str = "case"
    applicant_type: str | None = None
    submission_id: str | None = None
    title: str | None = None       # default: a title per project
    district: str = "高新区"
    unit: str = "高新区实验小学"
    authors: list[dict] = field(default_factory=lambda: [{"name": "张三", "unit": "高新区实验小学"}])
    uploaded_at: str = "2023-07-20T10:00:00+08:00"
    video: VideoSpec = field(default_factory=VideoSpec)
    drop_roles: tuple[str, ...] = ()
    seed: int = 0                  # with the submission id, seeds the generated prose


def picture_source(spec: VideoSpec) -> str:
    """The lavfi source of the picture at the size it is shot (native or boxed), at twice the
    rate for an interlaced file (each field is its own moment)."""
    width, height = spec.native or spec.boxed or (spec.width, spec.height)
    rate = spec.fps * 2 if spec.interlaced else spec.fps
    if spec.picture in _DRAWN:
        return _DRAWN[spec.picture](width, height, rate, spec.duration_s)
    return f"testsrc2=size={width}x{height}:rate={rate}:duration={spec.duration_s}"


def _lines(lines: list[str], *, x: str, y0: int, step: int, size: int, colour: str) -> str:
    return ",".join(f"drawtext=fontfile={SUBTITLE_FONT}:text='{line}':x={x}:y={y0 + i * step}:fontsize={size}:fontcolor={colour}"
                    for i, line in enumerate(lines))


_SLIDE_LINES = ["国家中小学智慧教育平台应用", "一、课程资源的检索与筛选", "二、课堂互动：平台练习即时反馈", "三、课后拓展与家校协同"]


def _slides(width: int, height: int, rate: float, duration: float) -> str:
    """A screen recording of slides: black text on white."""
    size = max(12, height // 14)
    texts = ",".join(f"drawtext=fontfile={SUBTITLE_FONT}:text='{line}':x={size}:y={size + i * size * 2}:"
                     f"fontsize={int(size * 1.3) if i == 0 else size}:fontcolor=black" for i, line in enumerate(_SLIDE_LINES))
    return f"color=c=white:size={width}x{height}:rate={rate}:duration={duration},{texts}"


def _wall(width: int, height: int, rate: float, duration: float) -> str:
    """A classroom wall filmed on a tripod: slow light gradients, a notice board, light grain."""
    size = max(12, height // 30)
    return (f"gradients=s={width}x{height}:r={rate}:d={duration}:c0=0xd8d0c2:c1=0xa9a397:x0=0:y0=0:x1={width}:y1={height}:speed=0.002,"
            f"drawbox=x={width * 0.62:.0f}:y={height * 0.2:.0f}:w={width * 0.25:.0f}:h={height * 0.3:.0f}:color=0x8a6a4a:t=fill,"
            f"{_lines(['班级公约', '文明守纪 勤学善思'], x=f'{width * 0.64:.0f}', y0=int(height * 0.24), step=size * 2, size=size, colour='0xf0f0e0')},"
            f"noise=alls=4:allf=t")


def _blackboard(width: int, height: int, rate: float, duration: float) -> str:
    """A blackboard written in chalk at the camera's own size, the camera panning slowly."""
    size = max(12, height // 16)
    lines = ["分数的初步认识", "把一个物体平均分成两份", "每份是它的二分之一", "1/2  1/4  3/4"]
    return (f"color=c=0x2a4a36:size={width}x{height}:rate={rate}:duration={duration},"
            f"{_lines(lines, x=f'{width * 0.08:.0f}+t*12', y0=int(height * 0.12), step=int(size * 1.9), size=size, colour='0xe8e8dc')},"
            f"noise=alls=6:allf=t")


def _screen(width: int, height: int, rate: float, duration: float) -> str:
    """A projector screen filmed in a classroom: a bright page of text in a darker room, the page changing."""
    size = max(12, height // 24)
    pages = [_SLIDE_LINES, ["课堂练习", "1. 涂色表示四分之一", "2. 比较二分之一和三分之一", "3. 在平台上完成练习"]]
    cue = max(duration / len(pages), 0.5)
    texts = ",".join(f"drawtext=fontfile={SUBTITLE_FONT}:text='{line}':x={width * 0.2:.0f}:y={height * 0.18 + i * size * 2:.0f}:"
                     f"fontsize={size}:fontcolor=0x202020:enable='between(t,{p * cue:.2f},{(p + 1) * cue - 0.01:.2f})'"
                     for p, page in enumerate(pages) for i, line in enumerate(page))
    return (f"gradients=s={width}x{height}:r={rate}:d={duration}:c0=0x4a4038:c1=0x6a6058:speed=0.001,"
            f"drawbox=x={width * 0.15:.0f}:y={height * 0.1:.0f}:w={width * 0.7:.0f}:h={height * 0.75:.0f}:color=0xf4f4ee:t=fill,"
            f"{texts},noise=alls=5:allf=t")


def _walk(width: int, height: int, rate: float, duration: float) -> str:
    """A teacher walking past the board: a figure crossing a plain room, light grain."""
    return (f"gradients=s={width}x{height}:r={rate}:d={duration}:c0=0xcfc8bb:c1=0x9c968a:speed=0.002,"
            f"drawbox=x={width * 0.1:.0f}:y={height * 0.15:.0f}:w={width * 0.5:.0f}:h={height * 0.35:.0f}:color=0x2a4a36:t=fill,"
            f"drawtext=fontfile={SUBTITLE_FONT}:text='█':fontsize={height * 0.5:.0f}:fontcolor=0x34405a:"
            f"x={width * 0.1:.0f}+t*{width * 0.08:.0f}:y={height * 0.35:.0f},"
            f"drawtext=fontfile={SUBTITLE_FONT}:text='●':fontsize={height * 0.16:.0f}:fontcolor=0xc89a7a:"
            f"x={width * 0.12:.0f}+t*{width * 0.08:.0f}:y={height * 0.2:.0f},"
            f"noise=alls=8:allf=t")


_DRAWN = {"slides": _slides, "wall": _wall, "blackboard": _blackboard, "screen": _screen, "walk": _walk}


def picture_filters(spec: VideoSpec) -> list[str]:
    steps = []
    if spec.soften:
        steps.append(f"gblur=sigma={spec.soften}")
    if spec.grain:
        steps.append(f"noise=alls={spec.grain}:allf=t")
    if spec.native:
        steps.append(f"scale={spec.width}:{spec.height}:flags={spec.scale_flags}")
    if spec.boxed:
        steps.append(f"pad={spec.width}:{spec.height}:(ow-iw)/2:(oh-ih)/2:black")
    if spec.interlaced:
        steps.append("interlace=scan=tff:lowpass=0")
    return steps


def sound_source(spec: VideoSpec) -> str:
    """A tone, or speech-like sound: pink noise shaped into syllables and phrases with pauses,
    brought to `audio_lufs` (EBU R128), and for `audio_clipped` driven into full scale."""
    if spec.audio_lufs is None and not spec.audio_clipped:
        return f"sine=frequency=440:sample_rate=48000:duration={spec.duration_s}"
    target = spec.audio_lufs if spec.audio_lufs is not None else -16.0
    chain = (f"anoisesrc=color=pink:sample_rate=48000:amplitude=0.5:duration={spec.duration_s}:seed=7,"
             f"highpass=f=150,lowpass=f=3800,"
             f"volume='0.08+0.92*gt(sin(2*PI*3.3*t)*sin(2*PI*0.45*t+1)\\,0.05)':eval=frame,"
             f"loudnorm=I={target}:TP=-1.5:LRA=11,aresample=48000")
    if spec.audio_clipped:
        chain += ",volume=20dB,aformat=sample_fmts=s16,aformat=sample_fmts=fltp"
    return chain


def make_video(path: Path, spec: VideoSpec, *, timeout_s: float = 300) -> Path:
    """A test-pattern video (with a tone, or speech-like sound) made by ffmpeg from lavfi sources."""
    cmd = [ffmpeg.FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", picture_source(spec)]
    if spec.audio:
        cmd += ["-f", "lavfi", "-i", sound_source(spec)]
    vf = picture_filters(spec)
    vf += [f"setsar={spec.sar}"] if spec.sar else []
    vf += subtitle_filters(spec)
    if vf:
        cmd += ["-vf", ",".join(vf)]
    cmd += ["-c:v", "libx264", "-preset", spec.preset, "-pix_fmt", "yuv420p", "-g", str(max(1, int(spec.fps * spec.gop_s)))]
    if spec.bitrate:
        cmd += ["-b:v", spec.bitrate, "-maxrate", spec.bitrate, "-bufsize", spec.bitrate]
    if spec.interlaced:
        cmd += ["-flags", "+ildct+ilme", "-field_order", "tt"]
    if spec.audio:
        cmd += ["-c:a", "aac", "-b:a", "96k", "-shortest"]
    muxer = {"mp4": ["-f", "mp4", "-movflags", "+faststart"], "mov": ["-f", "mov"], "matroska": ["-f", "matroska"]}[spec.container]
    if spec.rotate is None:
        ffmpeg.run(cmd + muxer + [str(path)], timeout_s=timeout_s, stdout=False)
        return path
    # ffmpeg 5.1 writes a display matrix from the rotate tag only when copying streams.
    unrotated = path.with_name(path.stem + ".unrotated" + path.suffix)
    ffmpeg.run(cmd + muxer + [str(unrotated)], timeout_s=timeout_s, stdout=False)
    ffmpeg.run([ffmpeg.FFMPEG, "-v", "error", "-y", "-i", str(unrotated), "-map", "0", "-c", "copy",
                "-metadata:s:v:0", f"rotate={spec.rotate}", *muxer, str(path)], timeout_s=timeout_s, stdout=False)
    unrotated.unlink()
    return path


def _paragraphs(seed: str, count: int) -> list[str]:
    rng = random.Random(seed)
    return ["。".join(_sentence(rng) for _ in range(5)) + "。" for _ in range(count)]


def make_docx(path: Path, title: str, paragraphs: list[str], table: list[tuple[str, str]] | None = None) -> Path:
    import docx

    document = docx.Document()
    document.add_heading(title, level=1)
    if table:
        grid = document.add_table(rows=0, cols=2)
        for label, value in table:
            cells = grid.add_row().cells
            cells[0].text, cells[1].text = label, value
    for text in paragraphs:
        document.add_paragraph(text)
    document.save(path)
    return path


def make_pptx(path: Path, title: str, bullets: list[str]) -> Path:
    from pptx import Presentation

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[0])
    slide.shapes.title.text = title
    for text in bullets:
        page = deck.slides.add_slide(deck.slide_layouts[1])
        page.shapes.title.text = title
        page.placeholders[1].text = text
    deck.save(path)
    return path


def _sample_id(spec: SampleSpec, out_zip: Path) -> str:
    if spec.submission_id:
        return spec.submission_id
    return re.sub(r"[^A-Za-z0-9._-]", "-", out_zip.stem)[:64] or "sample"


def build_sample(out_zip: Path, spec: SampleSpec, event_path: Path | None = None) -> dict:
    """Write a sample submission zip (and its event JSON) for `spec.project`.

    Returns:
        The upload event as a dict; its archive key is the zip's file name.
    """
    applicant = spec.applicant_type or ("team" if spec.project == "team" else "teacher")
    sid = _sample_id(spec, out_zip)
    title = spec.title or TITLES[spec.project]
    seed = f"{sid}:{spec.seed}"
    first_author = spec.authors[0]["name"] if spec.authors else "张三"
    project_label = {"case": "国家平台应用案例", "lesson": "“双师课堂”应用模式课例", "team": "国家平台应用优秀团队"}[spec.project]
    files: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="smartedu-sample-") as tmp:
        work = Path(tmp)

        def add(role: str, name: str, maker) -> None:
            if role not in spec.drop_roles:
                files[name] = maker(work / f"{len(files)}{Path(name).suffix}")

        form_rows = [("作品名称", title), ("项目类别", project_label), ("申报类型", applicant),
                     ("作者", "、".join(a["name"] for a in spec.authors)), ("单位", spec.unit),
                     ("所属区县", spec.district), ("联系电话", "13800000000")]
        add("registration_form", f"附件2 国家平台应用专项活动报名表（{first_author}）.docx",
            lambda p: make_docx(p, "国家平台应用专项活动报名表", [], form_rows))
        video_ext = {"mp4": ".mp4", "mov": ".mp4", "matroska": ".mp4"}[spec.video.container]
        if spec.project == "case":
            add("case_intro", f"《{title}》案例介绍.docx", lambda p: make_docx(p, title, _paragraphs(seed, 6)))
            add("application_video", f"应用视频{video_ext}", lambda p: make_video(p, spec.video))
            if applicant in ("school", "district"):
                add("publicity_report", "宣传报道.docx", lambda p: make_docx(p, "宣传报道", _paragraphs(seed + ":1", 2)))
                add("promotion_plan", "推广方案.docx", lambda p: make_docx(p, "推广方案", _paragraphs(seed + ":2", 2)))
        elif spec.project == "lesson":
            add("classroom_recording", f"《分数的初步认识》课堂教学实录{video_ext}", lambda p: make_video(p, spec.video))
            add("courseware", "分数的初步认识课件.pptx", lambda p: make_pptx(p, "分数的初步认识", ["认识几分之一", "比较分数大小"]))
            add("lesson_plan", "《分数的初步认识》教学设计.docx", lambda p: make_docx(p, "教学设计", _paragraphs(seed + ":3", 3)))
        else:
            add("case_intro", "集体应用案例介绍.docx", lambda p: make_docx(p, title, _paragraphs(seed, 6)))
            add("news_report", "新闻报道.docx", lambda p: make_docx(p, "新闻报道", _paragraphs(seed + ":4", 2)))
            add("team_video", f"团队专题介绍视频{video_ext}", lambda p: make_video(p, spec.video))
        out_zip.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out_zip, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, path in files.items():
                archive.write(path, name, compress_type=zipfile.ZIP_STORED if name.endswith(".mp4") else zipfile.ZIP_DEFLATED)
    event = {
        "submission_id": sid, "project": spec.project, "applicant_type": applicant, "district": spec.district,
        "unit": spec.unit, "title": title, "authors": spec.authors,
        "archive": {"bucket": "uploads", "key": f"{sid}/{out_zip.name}"}, "uploaded_at": spec.uploaded_at,
    }
    if event_path is not None:
        event_path.write_text(json.dumps(event, ensure_ascii=False, indent=2), encoding="utf-8")
    return event
