"""A labelled set of submissions named and packed the way teachers, schools and district offices do.

Each case lists every member with the role a reviewer would give it, and whether the
submission is valid (no fail) or misses a material (MATERIAL_MISSING). Everything is made
here: documents by python-docx/python-pptx (Word 97, PDF and WPS exports by LibreOffice),
scans drawn with Pillow in a CJK font, videos by ffmpeg. Used by the tests and by
bench/bench_roles.py.
"""

from __future__ import annotations

import io
import shutil
import zipfile
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from pipeline.sample import VideoSpec, _paragraphs, make_docx, make_pptx, make_video

FONT = Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc")
CASE_TITLE = "依托国家平台开展双师课堂的实践"
LESSON_TITLE = "分数的初步认识"
TEAM_TITLE = "学科教研群国家平台规模化应用"
TITLES = {"case": CASE_TITLE, "lesson": LESSON_TITLE, "team": TEAM_TITLE}
PROJECT_LABELS = {"case": "国家平台应用案例", "lesson": "“双师课堂”应用模式课例", "team": "国家平台应用优秀团队"}


@dataclass
class Member:
    path: str
    make: str                 # a key of Factory.MAKERS
    role: str                 # the role a reviewer gives it
    raw_name: bytes | None = None


@dataclass
class Case:
    name: str
    project: str
    applicant_type: str
    members: list[Member]
    valid: bool = True                                   # False: a material is really missing
    missing: list[str] = field(default_factory=list)      # the roles MATERIAL_MISSING must name
    inner_zip: str | None = None                          # members under this prefix go into an inner zip

    @property
    def title(self) -> str:
        return TITLES[self.project]


def m(path: str, make: str, role: str) -> Member:
    return Member(path, make, role)


class Factory:
    """Makes (and caches) the bytes of each kind of member, once per session."""

    def __init__(self, work: Path, video: VideoSpec | None = None):
        self.work = work
        self.work.mkdir(parents=True, exist_ok=True)
        self.video_spec = video or VideoSpec(duration_s=1.0, fps=10)
        self._cache: dict[str, bytes] = {}

    def bytes_of(self, key: str, project: str) -> bytes:
        cache_key = f"{project}:{key}"
        if cache_key not in self._cache:
            make = partial(self._export, key) if key in self.EXPORTS else getattr(self, f"_{key}")
            self._cache[cache_key] = make(project)
        return self._cache[cache_key]

    # documents ---------------------------------------------------------------------------------
    def _docx(self, name: str, title: str, paragraphs: list[str], table=None) -> bytes:
        return make_docx(self.work / f"{name}.docx", title, paragraphs, table).read_bytes()

    def form_rows(self, project: str) -> list[tuple[str, str]]:
        authors = {"case": "张三、李四", "lesson": "王芳", "team": "赵一、钱二、孙三"}[project]
        return [("作品名称", TITLES[project]), ("项目类别", PROJECT_LABELS[project]), ("作者", authors),
                ("工作单位", "高新区实验小学"), ("所属区县", "高新区"), ("联系电话", "13800000000")]

    def _form(self, project: str) -> bytes:
        return self._docx(f"form-{project}", "国家平台应用专项活动报名表", [], self.form_rows(project))

    def _form_untitled(self, project: str) -> bytes:
        """A form whose heading was deleted: only the table tells what it is."""
        return self._docx(f"form-untitled-{project}", "基本信息", [], self.form_rows(project))

    def _form_xlsx(self, project: str) -> bytes:
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        sheet.append(["国家平台应用专项活动报名表"])
        for label, value in self.form_rows(project):
            sheet.append([label, value])
        buffer = io.BytesIO()
        book.save(buffer)
        return buffer.getvalue()

    def _case_intro(self, project: str) -> bytes:
        body = ["一、案例背景", *_paragraphs(f"intro-{project}", 3), "二、主要做法", *_paragraphs(f"intro2-{project}", 3),
                "三、应用成效", *_paragraphs(f"intro3-{project}", 2)]
        return self._docx(f"intro-{project}", f"{TITLES[project]}——国家平台应用案例介绍", body)

    def _case_intro_titled(self, project: str) -> bytes:
        """A case introduction whose first line is its title alone and whose sections have other names."""
        return self._docx(f"intro-titled-{project}", TITLES[project], _paragraphs(f"titled-{project}", 8))

    def _case_intro_plain(self, project: str) -> bytes:
        """Long prose under a title of its own: nothing but its length says what it is."""
        return self._docx(f"intro-plain-{project}", "用平台点亮课堂", _paragraphs(f"plain-{project}", 10))

    def _lesson_plan(self, project: str) -> bytes:
        body = ["一、教材分析", *_paragraphs("plan1", 1), "二、教学目标", *_paragraphs("plan2", 1), "三、教学重难点",
                *_paragraphs("plan3", 1), "四、教学过程", *_paragraphs("plan4", 2), "五、板书设计"]
        return self._docx("lesson-plan", f"《{LESSON_TITLE}》教学设计", body)

    def _lesson_plan_untitled(self, project: str) -> bytes:
        body = ["教学目标", *_paragraphs("planu1", 1), "教学重点", "教学过程", *_paragraphs("planu2", 2)]
        return self._docx("lesson-plan-untitled", "第三单元 第一课时", body)

    def _talk(self, project: str) -> bytes:
        return self._docx("talk", "说课稿", _paragraphs("talk", 3))

    def _reflection(self, project: str) -> bytes:
        body = ["教学反思", *_paragraphs("refl", 2), "教学过程中的不足", "改进措施"]
        return self._docx("reflection", "课后反思", body)

    def _news(self, project: str) -> bytes:
        body = ["本报讯（通讯员 李明）" + _paragraphs(f"news-{project}", 1)[0], *_paragraphs(f"news2-{project}", 2),
                "供稿：高新区实验小学", "审核：王校长"]
        return self._docx(f"news-{project}", "高新区实验小学开展国家中小学智慧教育平台应用培训", body)

    def _news2(self, project: str) -> bytes:
        body = ["（通讯员 周红）" + _paragraphs(f"news3-{project}", 1)[0], "供稿：名师工作室", "审核：刘主任"]
        return self._docx(f"news2-{project}", "工作室成员走进乡村课堂", body)

    def _promotion(self, project: str) -> bytes:
        body = ["一、推广目标", *_paragraphs("promo1", 1), "二、推广范围", *_paragraphs("promo2", 1), "三、推广措施",
                *_paragraphs("promo3", 1), "四、保障措施"]
        return self._docx("promotion", "国家平台应用推广方案", body)

    def _notes(self, project: str) -> bytes:
        return self._docx("notes", "活动花絮说明", _paragraphs("notes", 1))

    def _courseware(self, project: str) -> bytes:
        return make_pptx(self.work / "courseware.pptx", LESSON_TITLE, ["认识几分之一", "比较分数大小"]).read_bytes()

    def _intro_slides(self, project: str) -> bytes:
        return make_pptx(self.work / f"intro-slides-{project}.pptx", f"{TITLES[project]}案例介绍",
                         ["案例背景", "主要做法", "应用成效"]).read_bytes()

    def _lock(self, project: str) -> bytes:
        """An Office owner file: 162 bytes of the user's name, not a document."""
        return (b"\x0czhangsan" + b"\x00" * 40 + b"\x0c\x00z\x00h\x00a\x00n\x00g").ljust(162, b"\x00")

    # exports by LibreOffice: (made from, format) --------------------------------------------------
    EXPORTS = {"form_pdf": ("form", "pdf"), "form_doc": ("form", "doc"), "case_intro_doc": ("case_intro", "doc"),
               "case_intro_pdf": ("case_intro", "pdf"), "lesson_plan_pdf": ("lesson_plan", "pdf"),
               "news_doc": ("news", "doc"), "courseware_pdf": ("courseware", "pdf")}

    def _export(self, key: str, project: str) -> bytes:
        from tests.helpers import save_as

        made_from, ext = self.EXPORTS[key]
        suffix = ".pptx" if made_from == "courseware" else ".docx"
        source = self.work / f"export-{key}-{project}" / f"{made_from}{suffix}"
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_bytes(self.bytes_of(made_from, project))
        return save_as(source, ext).read_bytes()

    # pictures ------------------------------------------------------------------------------------
    def _form_scan(self, project: str) -> bytes:
        return scanned_form(self.form_rows(project), seed=1)

    def _form_photo(self, project: str) -> bytes:
        return scanned_form(self.form_rows(project), seed=2, tilt=1.5, tint=(236, 232, 222))

    def _form_scan_png(self, project: str) -> bytes:
        """The scan as WeChat saves a picture from a chat: a PNG."""
        from PIL import Image

        buffer = io.BytesIO()
        Image.open(io.BytesIO(self.bytes_of("form_scan", project))).save(buffer, format="PNG")
        return buffer.getvalue()

    def _form_scan_pdf(self, project: str) -> bytes:
        from PIL import Image

        buffer = io.BytesIO()
        Image.open(io.BytesIO(self.bytes_of("form_scan", project))).save(buffer, format="PDF", resolution=200)
        return buffer.getvalue()

    def _news_scan_pdf(self, project: str) -> bytes:
        from PIL import Image

        page = scanned_page(["工作室成员走进乡村课堂", "（通讯员 周红）近日，工作室成员", "供稿：名师工作室", "审核：刘主任"], seed=3)
        buffer = io.BytesIO()
        Image.open(io.BytesIO(page)).save(buffer, format="PDF", resolution=200)
        return buffer.getvalue()

    def _photo(self, project: str) -> bytes:
        return classroom_photo(seed=4)

    def _photo2(self, project: str) -> bytes:
        return classroom_photo(seed=5)

    # videos --------------------------------------------------------------------------------------
    def _video(self, project: str) -> bytes:
        return make_video(self.work / "v.mp4", self.video_spec).read_bytes()

    def _video_long(self, project: str) -> bytes:
        spec = VideoSpec(**{**self.video_spec.__dict__, "duration_s": self.video_spec.duration_s * 2})
        return make_video(self.work / "v2.mp4", spec).read_bytes()


def scanned_page(lines: list[str], *, seed: int, tilt: float = 0.6, tint=(250, 250, 246)) -> bytes:
    """A page of text as a scanner or a phone sees it: off-white, slightly turned, noisy, JPEG."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(FONT), 34, index=2)
    width, height = 1654, 2339
    page = Image.new("RGB", (width, height), tint)
    draw = ImageDraw.Draw(page)
    y = 160
    for line in lines:
        draw.text((140, y), line, font=font, fill=(15, 15, 15))
        y += 80
    return _age(page, seed, tilt, tint)


def scanned_form(rows: list[tuple[str, str]], *, seed: int, tilt: float = 0.6, tint=(250, 250, 246)) -> bytes:
    """The registration form printed, filled, stamped and scanned."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(FONT), 34, index=2)
    heading = ImageFont.truetype(str(FONT), 48, index=2)
    width, height = 1654, 2339
    page = Image.new("RGB", (width, height), tint)
    draw = ImageDraw.Draw(page)
    draw.text((width // 2, 150), "国家平台应用专项活动报名表", font=heading, fill=(10, 10, 10), anchor="mm")
    y = 260
    for label, value in rows:
        draw.rectangle((120, y, width - 120, y + 110), outline=(0, 0, 0), width=3)
        draw.line((480, y, 480, y + 110), fill=(0, 0, 0), width=3)
        draw.text((140, y + 35), label, font=font, fill=(0, 0, 0))
        draw.text((510, y + 35), value, font=font, fill=(25, 25, 60))
        y += 110
    draw.ellipse((1100, y + 60, 1400, y + 360), outline=(200, 30, 30), width=8)      # the unit's stamp
    return _age(page, seed, tilt, tint)


def _age(page, seed: int, tilt: float, tint) -> bytes:
    import numpy as np
    from PIL import Image, ImageFilter

    page = page.rotate(tilt, expand=False, fillcolor=tint).filter(ImageFilter.GaussianBlur(0.6))
    noisy = np.asarray(page).astype(np.int16) + np.random.default_rng(seed).normal(0, 6, (page.height, page.width, 3)).astype(np.int16)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()


def classroom_photo(seed: int) -> bytes:
    """Not paper: a colourful, busy picture the size of a phone photo."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)
    picture = Image.fromarray(small).resize((2000, 1500), Image.BICUBIC)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def gbk(name: str) -> bytes:
    return name.encode("gbk")


def build_case_zip(case: Case, factory: Factory, out: Path) -> Path:
    """The case's zip (an inner zip where the case asks for one; GBK names without the UTF-8 flag when given)."""
    from tests.archives import with_raw_names

    entries = [(member, factory.bytes_of(member.make, case.project)) for member in case.members]
    if any(member.raw_name for member in case.members):
        out.write_bytes(with_raw_names([(member.raw_name or member.path.encode(), data) for member, data in entries]))
        return out
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        inner_entries = []
        for member, data in entries:
            if case.inner_zip and member.path.startswith(case.inner_zip + "/"):
                inner_entries.append((member.path[len(case.inner_zip) + 1:], data))
            else:
                archive.writestr(member.path, data)
        if inner_entries:
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as inner:
                for name, data in inner_entries:
                    inner.writestr(name, data)
            archive.writestr(case.inner_zip, buffer.getvalue())
    return out


def event_for(case: Case) -> dict:
    authors = {"case": [{"name": "张三", "unit": "高新区实验小学"}, {"name": "李四", "unit": "高新区实验小学"}],
               "lesson": [{"name": "王芳", "unit": "高新区实验小学"}],
               "team": [{"name": n, "unit": "高新区实验小学"} for n in ("赵一", "钱二", "孙三")]}[case.project]
    if case.applicant_type in ("school", "district"):
        authors = []
    return {"submission_id": f"naming-{case.name}", "project": case.project, "applicant_type": case.applicant_type,
            "district": "高新区", "unit": "高新区实验小学", "title": case.title, "authors": authors,
            "archive": {"bucket": "uploads", "key": f"naming-{case.name}/materials.zip"},
            "uploaded_at": "2023-07-20T10:00:00+08:00"}


def _case_teacher(name: str, *members: Member, **kw) -> Case:
    return Case(name, "case", "teacher", list(members), **kw)


def _case_school(name: str, *members: Member, applicant: str = "school", **kw) -> Case:
    return Case(name, "case", applicant, list(members), **kw)


def _lesson(name: str, *members: Member, **kw) -> Case:
    return Case(name, "lesson", "teacher", list(members), **kw)


def _team(name: str, *members: Member, **kw) -> Case:
    return Case(name, "team", "team", list(members), **kw)


F, CI, AV = "registration_form", "case_intro", "application_video"
CR, CW, LP = "classroom_recording", "courseware", "lesson_plan"
NR, PR, PP, TV = "news_report", "publicity_report", "promotion_plan", "team_video"
REL, IGN = "related", "ignored"


def cases() -> list[Case]:
    """The labelled set: valid submissions first, then ones that really miss a material."""
    return [
        # --- case, teacher ------------------------------------------------------------------------
        _case_teacher("canonical", m("附件2 国家平台应用专项活动报名表（张三）.docx", "form", F),
                      m("案例介绍.docx", "case_intro", CI), m("应用视频.mp4", "video", AV)),
        _case_teacher("attachment-numbers", m("附件2.docx", "form", F), m("附件3.docx", "case_intro_titled", CI),
                      m("应用视频.mp4", "video", AV)),
        _case_teacher("attachment-chinese-numbers", m("附件二 报名表.docx", "form", F), m("附件 三.docx", "case_intro_plain", CI),
                      m("视频.mp4", "video", AV)),
        _case_teacher("title-only", m("报名表.docx", "form", F), m(f"《{CASE_TITLE}》.docx", "case_intro_titled", CI),
                      m("VID_20230601_101010.mp4", "video", AV)),
        _case_teacher("numbered", m("1.docx", "form_untitled", F), m("2.docx", "case_intro", CI), m("3.mp4", "video", AV)),
        _case_teacher("numbered-plain-prose", m("1.docx", "form", F), m("2.docx", "case_intro_plain", CI), m("视频.mp4", "video", AV)),
        _case_teacher("lock-file-beside", m("~$案例介绍.docx", "lock", IGN), m("案例介绍.docx", "case_intro", CI),
                      m("报名表.docx", "form", F), m("应用视频.mp4", "video", AV)),
        _case_teacher("english-names", m("registration form.docx", "form", F), m("case introduction.docx", "case_intro", CI),
                      m("application video.mp4", "video", AV)),
        _case_teacher("category-folders", m("01报名表/张三.docx", "form", F), m("02案例介绍/张三.docx", "case_intro", CI),
                      m("03应用视频/DJI_0001.MP4", "video", AV)),
        _case_teacher("root-folder-named-after-work", m("张三-国家平台应用案例/报名表.docx", "form", F),
                      m("张三-国家平台应用案例/双师课堂实践.docx", "case_intro", CI),
                      m("张三-国家平台应用案例/微信视频.mp4", "video", AV)),
        _case_teacher("scanned-form-named", m("报名表（盖章）.jpg", "form_scan", F), m("案例介绍.docx", "case_intro", CI),
                      m("应用视频.mp4", "video", AV)),
        _case_teacher("scanned-form-unnamed", m("IMG_20230601_1203.jpg", "form_photo", F), m("mmexport1687.jpg", "photo", REL),
                      m("案例介绍.docx", "case_intro", CI), m("应用视频.mp4", "video", AV)),
        _case_teacher("scanned-form-pdf", m("扫描件.pdf", "form_scan_pdf", F), m("案例介绍.docx", "case_intro", CI),
                      m("应用视频.mp4", "video", AV)),
        _case_teacher("form-pdf-from-word", m("报名表.pdf", "form_pdf", F), m("案例介绍.docx", "case_intro", CI),
                      m("应用视频.mp4", "video", AV)),
        _case_teacher("word97", m("报名表.doc", "form_doc", F), m("案例介绍.doc", "case_intro_doc", CI), m("应用视频.mp4", "video", AV)),
        _case_teacher("wps-names", m("报名表.docx", "form", F), m("案例介绍.wps", "case_intro_doc", CI), m("应用视频.mp4", "video", AV)),
        _case_teacher("intro-pdf-only", m("报名表.docx", "form", F), m("案例介绍.pdf", "case_intro_pdf", CI), m("应用视频.mp4", "video", AV)),
        _case_teacher("intro-docx-and-pdf", m("报名表.docx", "form", F), m("案例介绍.docx", "case_intro", CI),
                      m("案例介绍.pdf", "case_intro_pdf", REL), m("应用视频.mp4", "video", AV)),
        _case_teacher("form-xlsx", m("报名信息.xlsx", "form_xlsx", F), m("高新区实验小学国家平台应用案例.docx", "case_intro", CI),
                      m("应用视频.mp4", "video", AV)),
        _case_teacher("intro-video-name", m("报名表.docx", "form", F), m("案例介绍.docx", "case_intro", CI),
                      m("案例介绍视频.mp4", "video", AV)),
        _case_teacher("photos-and-materials", m("报名表.docx", "form", F), m("案例介绍.docx", "case_intro", CI),
                      m("应用视频.mp4", "video", AV), m("相关素材/微信图片_20230601.jpg", "photo", REL),
                      m("相关素材/活动照片2.jpg", "photo2", REL), m("相关素材/活动说明.docx", "notes", REL)),
        _case_teacher("publicity-film-only-video", m("报名表.docx", "form", F), m("案例介绍.docx", "case_intro", CI),
                      m("宣传片.mp4", "video", AV)),
        _case_teacher("template-name", m("附件2：国家平台应用专项活动报名表.docx", "form", F),
                      m("附件3：案例介绍（撰写格式）.docx", "case_intro", CI), m("应用视频.mp4", "video", AV)),
        _case_teacher("names-with-authors", m("报名表-张三-高新区实验小学.docx", "form", F),
                      m("案例介绍-张三-高新区实验小学.docx", "case_intro", CI), m("张三应用视频.mp4", "video", AV)),
        _case_teacher("generic-english", m("form.docx", "form_untitled", F), m("document.docx", "case_intro", CI),
                      m("video.mp4", "video", AV)),
        _case_teacher("inner-zip", m("材料.zip/报名表.docx", "form", F), m("材料.zip/案例介绍.docx", "case_intro", CI),
                      m("应用视频.mp4", "video", AV), inner_zip="材料.zip"),
        Case("gbk-names", "case", "teacher", [Member("报名表.docx", "form", F, gbk("报名表.docx")),
                                              Member("案例介绍.docx", "case_intro", CI, gbk("案例介绍.docx")),
                                              Member("应用视频.mp4", "video", AV, gbk("应用视频.mp4"))]),
        _case_teacher("intro-slides", m("报名表.docx", "form", F), m("案例介绍.pptx", "intro_slides", CI), m("应用视频.mp4", "video", AV)),
        _case_teacher("title-in-head", m("报名表.docx", "form", F), m("终稿.docx", "case_intro_titled", CI),
                      m("定稿视频.mp4", "video", AV), m("活动照片.jpg", "photo", REL)),
        _case_teacher("full-title-names", m("国家平台应用专项活动报名表.docx", "form", F),
                      m(f"{CASE_TITLE}（案例介绍）.docx", "case_intro", CI), m(f"{CASE_TITLE}.mp4", "video", AV)),
        # --- case, school and district ------------------------------------------------------------
        _case_school("school-canonical", m("报名表.docx", "form", F), m("案例介绍.docx", "case_intro", CI),
                     m("应用视频.mp4", "video", AV), m("宣传报道.docx", "news", PR), m("推广方案.docx", "promotion", PP)),
        _case_school("school-synonyms", m("报名表.docx", "form", F), m("案例介绍.docx", "case_intro", CI),
                     m("应用视频.mp4", "video", AV), m("新闻稿.docx", "news", PR), m("推广计划.docx", "promotion", PP),
                     m("学校宣传片.mp4", "video_long", PR)),
        _case_school("school-screenshots", m("报名表.docx", "form", F), m("案例介绍.docx", "case_intro", CI),
                     m("应用视频.mp4", "video", AV), m("公众号报道截图.jpg", "photo", PR), m("推广方案.pdf", "case_intro_pdf", PP)),
        _case_school("school-attachments", m("附件2.docx", "form", F), m("附件3.docx", "case_intro", CI), m("应用视频.mp4", "video", AV),
                     m("宣传报道.docx", "news", PR), m("推广方案.docx", "promotion", PP)),
        _case_school("district", m("报名表.docx", "form", F), m("高新区区域推广应用案例.docx", "case_intro", CI),
                     m("应用视频.mp4", "video", AV), m("媒体报道.docx", "news", PR), m("推广方案.docx", "promotion", PP),
                     applicant="district"),
        _case_school("school-content-only", m("1.docx", "form", F), m("2.docx", "case_intro", CI), m("3.docx", "news", PR),
                     m("4.docx", "promotion", PP), m("5.mp4", "video", AV)),
        _case_school("school-publicity-film-only-video", m("报名表.docx", "form", F), m("案例介绍.docx", "case_intro", CI),
                     m("宣传报道.docx", "news", PR), m("推广方案.docx", "promotion", PP), m("宣传片.mp4", "video", AV)),
        # --- lesson ---------------------------------------------------------------------------------
        _lesson("lesson-canonical", m("报名表.docx", "form", F), m(f"《{LESSON_TITLE}》课堂教学实录.mp4", "video", CR),
                m(f"{LESSON_TITLE}课件.pptx", "courseware", CW), m(f"《{LESSON_TITLE}》教学设计.docx", "lesson_plan", LP)),
        _lesson("lesson-attachments", m("附件2.docx", "form", F), m("附件4.docx", "lesson_plan_untitled", LP),
                m("课件.pptx", "courseware", CW), m("课堂实录.mp4", "video", CR)),
        _lesson("lesson-synonyms", m("报名表.docx", "form", F), m("教案.docx", "lesson_plan", LP), m("PPT.pptx", "courseware", CW),
                m("实录.mp4", "video", CR)),
        _lesson("lesson-title-names", m("报名表.docx", "form", F), m(f"{LESSON_TITLE}.docx", "lesson_plan", LP),
                m(f"{LESSON_TITLE}.pptx", "courseware", CW), m(f"{LESSON_TITLE}.mp4", "video", CR)),
        _lesson("lesson-more-synonyms", m("报名表.docx", "form", F), m("导学案.docx", "lesson_plan", LP),
                m("演示文稿1.pptx", "courseware", CW), m("录像课.mp4", "video", CR)),
        _lesson("lesson-phone-names", m("报名表.docx", "form", F), m("1.docx", "lesson_plan_untitled", LP), m("2.pptx", "courseware", CW),
                m("VID_20230915_093012.mp4", "video", CR)),
        _lesson("lesson-plan-pdf", m("报名表.docx", "form", F), m("教学设计.pdf", "lesson_plan_pdf", LP), m("课件.pptx", "courseware", CW),
                m("实录.mp4", "video", CR)),
        _lesson("lesson-courseware-pdf", m("报名表.docx", "form", F), m("教学设计.docx", "lesson_plan", LP),
                m("课件.pdf", "courseware_pdf", CW), m("实录.mp4", "video", CR)),
        _lesson("lesson-extra-clip", m("报名表.docx", "form", F), m("教学设计.docx", "lesson_plan", LP), m("课件.pptx", "courseware", CW),
                m("课堂实录.mp4", "video_long", CR), m("课堂花絮.mp4", "video", REL)),
        _lesson("lesson-two-unnamed-videos", m("报名表.docx", "form", F), m("教学设计.docx", "lesson_plan", LP),
                m("课件.pptx", "courseware", CW), m("VID_0001.mp4", "video_long", CR), m("VID_0002.mp4", "video", REL)),
        _lesson("lesson-folders", m("报名表/报名表.docx", "form", F), m("教学设计/王芳.docx", "lesson_plan", LP),
                m("课件/第一课时.pptx", "courseware", CW), m("课堂实录/lesson.mp4", "video", CR)),
        _lesson("lesson-english", m("registration.docx", "form", F), m("lesson plan.docx", "lesson_plan", LP),
                m("slides.pptx", "courseware", CW), m("classroom recording.mp4", "video", CR)),
        _lesson("lesson-junk", m(".~lock.教学设计.docx#", "lock", IGN), m("~WRL0001.tmp", "lock", IGN), m("Thumbs.db", "lock", IGN),
                m("__MACOSX/._课件.pptx", "lock", IGN), m("报名表.docx", "form", F), m("教学设计.docx", "lesson_plan", LP),
                m("课件.pptx", "courseware", CW), m("课堂实录.mp4", "video", CR)),
        _lesson("lesson-talk-as-plan", m("报名表.docx", "form", F), m("说课稿.docx", "talk", LP), m("课件.pptx", "courseware", CW),
                m("课堂实录.mp4", "video", CR)),
        _lesson("lesson-scanned-form", m("报名表.png", "form_scan", F), m("教学设计.docx", "lesson_plan", LP),
                m("课件.pptx", "courseware", CW), m("课堂实录.mp4", "video", CR)),
        _lesson("lesson-reflection-beside-plan", m("报名表.docx", "form", F), m("教学设计.docx", "lesson_plan", LP),
                m("教学反思.docx", "reflection", REL), m("课件.pptx", "courseware", CW), m("课堂实录.mp4", "video", CR)),
        _lesson("lesson-word97-form", m("附件2 报名表.doc", "form_doc", F), m("教学设计.docx", "lesson_plan", LP),
                m("课件.pptx", "courseware", CW), m("课堂实录.mp4", "video", CR)),
        # --- team -----------------------------------------------------------------------------------
        _team("team-canonical", m("报名表.docx", "form", F), m("集体应用案例介绍.docx", "case_intro", CI),
              m("新闻报道.docx", "news", NR), m("团队专题介绍视频.mp4", "video", TV)),
        _team("team-publicity-film", m("报名表.docx", "form", F), m("集体应用案例介绍.docx", "case_intro", CI),
              m("新闻报道.docx", "news", NR), m("宣传片.mp4", "video", TV)),
        _team("team-synonyms", m("报名表.docx", "form", F), m("集体案例介绍.docx", "case_intro", CI), m("新闻稿.docx", "news", NR),
              m("专题片.mp4", "video", TV)),
        _team("team-attachments", m("附件2.docx", "form", F), m("附件3.docx", "case_intro", CI), m("新闻报道.docx", "news", NR),
              m("专题介绍视频.mp4", "video", TV)),
        _team("team-news-screenshots", m("报名表.docx", "form", F), m("集体应用案例介绍.docx", "case_intro", CI),
              m("新闻报道截图.jpg", "photo", NR), m("公众号推文.jpg", "photo2", NR), m("团队视频.mp4", "video", TV)),
        _team("team-content-only", m("1.docx", "form_untitled", F), m("2.docx", "case_intro", CI), m("3.docx", "news", NR),
              m("4.mp4", "video", TV)),
        _team("team-news-scan-pdf", m("报名表.docx", "form", F), m("集体应用案例介绍.docx", "case_intro", CI),
              m("媒体报道.pdf", "news_scan_pdf", NR), m("团队介绍.mp4", "video", TV)),
        _team("team-two-news", m("报名表.docx", "form", F), m("集体应用案例介绍.docx", "case_intro", CI),
              m("名师工作室-新闻报道（一）.docx", "news", NR), m("名师工作室-新闻报道（二）.docx", "news2", NR),
              m("专题介绍视频.mp4", "video", TV)),
        _team("team-news-word97", m("报名表.docx", "form", F), m("集体应用案例介绍.docx", "case_intro", CI),
              m("新闻报道.doc", "news_doc", NR), m("专题视频.mp4", "video", TV)),
        _team("team-unnamed-news", m("报名表.docx", "form", F), m("集体应用案例介绍.docx", "case_intro", CI),
              m("工作室成员走进乡村课堂.docx", "news2", NR), m("专题介绍视频.mp4", "video", TV)),
        # --- names a device or an app gave: no word of the teacher's, the role comes from the content ---
        _case_teacher("wechat-form-photo", m("微信图片_20230701101010.png", "form_scan_png", F), m("案例介绍.docx", "case_intro", CI),
                      m("应用视频.mp4", "video", AV)),
        _case_teacher("app-names-case", m("扫描全能王 2023-07-01 10.10.pdf", "form_scan_pdf", F),
                      m("新建 Microsoft Word 文档.docx", "case_intro", CI), m("VID_20230701_101010.mp4", "video", AV),
                      m("微信图片_20230701101532.jpg", "photo", REL)),
        _case_teacher("app-names-qq-and-copies", m("QQ图片20230701101010.jpg", "form_photo", F),
                      m("新建 Microsoft Word 文档 (2).docx", "case_intro_titled", CI), m("wx_camera_1688123456789.mp4", "video", AV),
                      m("Screenshot_2023-07-01-10-10-10-123_com.tencent.mm.png", "photo2", REL)),
        _case_teacher("wechat-folders", m("WeChat Files/wxid_abc123/FileStorage/File/2023-07/报名表.docx", "form", F),
                      m("WeChat Files/wxid_abc123/FileStorage/File/2023-07/文档1.docx", "case_intro", CI),
                      m("WeChat Files/wxid_abc123/FileStorage/Video/2023-07/1688123456789.mp4", "video", AV),
                      m("WeChat Files/wxid_abc123/FileStorage/Image/2023-07/微信图片_20230701.jpg", "photo", REL)),
        _case_school("app-names-school", m("屏幕截图 2023-07-01 101010.png", "form_scan_png", F), m("文档1.docx", "case_intro", CI),
                     m("文档2.docx", "news", PR), m("文档3.docx", "promotion", PP), m("mmexport1688123456789.mp4", "video", AV)),
        _case_school("app-names-district", m("全能扫描王 2023-07-02 09.30.pdf", "form_scan_pdf", F),
                     m("新建 DOCX 文档.docx", "case_intro", CI), m("宣传报道.docx", "news", PR),
                     m("新建 Microsoft Word 文档 (2).docx", "promotion", PP), m("DJI_0001.MP4", "video", AV), applicant="district"),
        _lesson("app-names-lesson", m("微信图片_20230915093012.jpg", "form_photo", F), m("文档1.docx", "lesson_plan", LP),
                m("新建 Microsoft PowerPoint 演示文稿.pptx", "courseware", CW), m("wx_camera_1694741412345.mp4", "video", CR)),
        _lesson("phone-folders", m("DCIM/Camera/IMG_20230915_093012.jpg", "form_photo", F),
                m("DCIM/Camera/VID_20230915_093500.mp4", "video_long", CR), m("Documents/文档1.docx", "lesson_plan_untitled", LP),
                m("Documents/演示文稿1.pptx", "courseware", CW), m("Pictures/Screenshots/Screenshot_20230915-101010.png", "photo2", REL)),
        _team("app-names-team", m("mmexport1688123456789.jpg", "form_photo", F), m("新建 Microsoft Word 文档.docx", "case_intro", CI),
              m("文档2.docx", "news", NR), m("VID20230701101010.mp4", "video", TV), m("IMG_20230701_101500.jpg", "photo2", REL)),
        # --- really missing a material: these must still fail --------------------------------------
        _case_teacher("missing-intro", m("报名表.docx", "form", F), m("应用视频.mp4", "video", AV),
                      m("活动照片1.jpg", "photo", REL), valid=False, missing=[CI]),
        _case_teacher("missing-intro-and-form", m("应用视频.mp4", "video", AV), m("相关素材/照片.jpg", "photo", REL),
                      valid=False, missing=[F, CI]),
        _lesson("missing-recording", m("报名表.docx", "form", F), m("教学设计.docx", "lesson_plan", LP), m("课件.pptx", "courseware", CW),
                valid=False, missing=[CR]),
        _team("missing-news", m("报名表.docx", "form", F), m("集体应用案例介绍.docx", "case_intro", CI),
              m("专题介绍视频.mp4", "video", TV), m("相关素材/照片.jpg", "photo", REL), m("IMG_0001.jpg", "photo2", REL),
              valid=False, missing=[NR]),
        _case_teacher("app-names-missing-form", m("微信图片_20230701101010.jpg", "photo", REL),
                      m("新建 Microsoft Word 文档.docx", "case_intro", CI), m("VID_20230701_101010.mp4", "video", AV),
                      valid=False, missing=[F]),
        _case_school("school-missing-promotion", m("报名表.docx", "form", F), m("案例介绍.docx", "case_intro", CI),
                     m("应用视频.mp4", "video", AV), m("宣传报道.docx", "news", PR), valid=False, missing=[PP]),
    ]


def needs_libreoffice(case: Case) -> bool:
    return any(member.make.endswith(("_pdf", "_doc")) and member.make not in ("form_scan_pdf", "news_scan_pdf")
               for member in case.members)


def have_libreoffice() -> bool:
    return bool(shutil.which("soffice"))
