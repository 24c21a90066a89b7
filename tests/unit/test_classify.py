import pytest

from pipeline.classify import classify_materials
from pipeline.models import Material


def materials(rules, names, size=10):
    return [Material(path=n, size=size, sha256=n, kind=rules.kind_of(n)) for n in names]


@pytest.mark.parametrize("name,project,role", [
    ("附件2 国家平台应用专项活动报名表（张三）.docx", "case", "registration_form"),
    ("《分数的初步认识》课堂教学实录.mp4", "lesson", "classroom_recording"),
    ("分数的初步认识-课堂实录.MP4", "lesson", "classroom_recording"),
    ("《分数的初步认识》教学设计.docx", "lesson", "lesson_plan"),
    ("教案.pdf", "lesson", "lesson_plan"),
    ("分数的初步认识.pptx", "lesson", "courseware"),
    ("课件/第一课时.ppt", "lesson", "courseware"),
    ("案例介绍.docx", "case", "case_intro"),
    ("应用视频.mp4", "case", "application_video"),
    ("宣传报道.docx", "case", "publicity_report"),
    ("推广方案.pdf", "case", "promotion_plan"),
    ("新闻报道.docx", "team", "news_report"),
    ("集体应用案例介绍.docx", "team", "case_intro"),
    ("团队专题介绍视频.mp4", "team", "team_video"),
    ("相关素材/活动照片1.jpg", "case", "related"),
])
def test_roles_from_realistic_names(rules, name, project, role):
    applicant = {"case": "school", "lesson": "teacher", "team": "team"}[project]
    items = materials(rules, [name])
    classify_materials(items, rules, project, applicant)
    assert items[0].role == role


def test_unnamed_video_takes_the_project_role_and_others_are_unrecognized(rules):
    items = materials(rules, ["报名表.docx", "VID_20230601.mp4", "notes.bin"])
    items[1].size = 1000
    findings = classify_materials(items, rules, "lesson", "teacher")
    assert [m.role for m in items] == ["registration_form", "classroom_recording", "related"]
    assert [m.role_source for m in items] == ["name", "only_candidate", "unrecognized"]
    assert [(f.code, f.path) for f in findings] == [("ROLE_INFERRED", "VID_20230601.mp4"), ("MATERIAL_UNRECOGNIZED", "notes.bin")]


def test_a_named_video_is_not_overridden_by_the_fallback(rules):
    items = materials(rules, ["应用视频.mp4", "花絮.mp4"])
    classify_materials(items, rules, "case", "teacher")
    assert [m.role for m in items] == ["application_video", "related"]


def test_analysis_is_bounded_and_project_materials_come_first(rules):
    from pipeline.classify import analysed_members, analysis_limited

    bounded = rules.model_copy(update={"archive": rules.archive.model_copy(update={"max_videos_analysed": 2,
                                                                                    "max_documents_analysed": 3})})
    members = [Material(path=f"花絮{i}.mp4", size=1000 + i, sha256="0" * 64, kind="video", role="related") for i in range(5)]
    members += [Material(path="应用视频.mp4", size=10, sha256="1" * 64, kind="video", role="application_video")]
    members += [Material(path=f"照片说明{i}.docx", size=50, sha256="2" * 64, kind="document", role="related") for i in range(5)]
    members += [Material(path="报名表.docx", size=5, sha256="3" * 64, kind="document", role="registration_form")]
    videos, documents = analysed_members(members, bounded)
    assert [members[i].path for i in videos] == ["花絮4.mp4", "应用视频.mp4"]          # the role first, then the largest
    assert members[documents[-1]].path == "报名表.docx" and len(documents) == 3
    assert analysed_members(members, bounded) == (videos, documents)       # deterministic
    finding, = analysis_limited(members, bounded, "作品.zip")
    assert finding.code == "ANALYSIS_LIMITED" and finding.severity == "info" and finding.path is None
    assert finding.detail == {"videos": 6, "documents": 6, "videos_analysed": 2, "documents_analysed": 3, "bound": "members"}
    assert "作品.zip" in finding.message
    assert analysis_limited(members, rules, "作品.zip") == []


from pipeline.classify import attachment_number, common_root, title_matches  # noqa: E402
from pipeline.documents import Content  # noqa: E402


@pytest.mark.parametrize("stem,number", [("附件2", 2), ("附件 3 案例介绍", 3), ("附件二 报名表", 2), ("附件4：教学设计", 4),
                                         ("附件２", 2), ("附件-3", 3), ("附录2", None), ("2", None), ("作品附件", None)])
def test_the_notices_attachment_numbers(stem, number):
    assert attachment_number(stem) == number


def test_title_matches_whole_titles_not_fragments():
    title = "依托国家平台开展双师课堂的实践"
    assert title_matches(f"《{title}》", title, 0.8)
    assert title_matches(f"张三-{title}-终稿", title, 0.8)
    assert title_matches("依托国家平台开展双师课堂实践", title, 0.8)        # one character dropped
    assert not title_matches("双师课堂", title, 0.8) and not title_matches("案例介绍", title, 0.8)
    assert not title_matches("课堂", "课堂", 0.8)                         # a title too short to tell anything


def test_a_shared_root_folder_is_not_evidence():
    assert common_root(["作品/a.docx", "作品/视频/b.mp4"]) == 1
    assert common_root(["a.docx", "作品/b.docx"]) == 0


def reader(texts: dict[str, str]):
    return lambda material, ocr: Content(text=texts.get(material.path, ""), method="docx")


def test_content_tells_numbered_files_apart(rules):
    items = materials(rules, ["1.docx", "2.docx", "3.mp4"])
    texts = {"1.docx": "报名表\n作品名称\t云端课堂\n作者\t张三\n单位\t一中",
             "2.docx": "云端课堂\n一、案例背景\n" + "正文" * 500 + "\n二、主要做法\n三、应用成效"}
    findings = classify_materials(items, rules, "case", "teacher", read=reader(texts))
    assert [(m.role, m.role_source) for m in items] == [("registration_form", "content"), ("case_intro", "content"),
                                                        ("application_video", "only_candidate")]
    assert [f.code for f in findings] == ["ROLE_INFERRED"]


def test_a_long_case_with_a_header_table_is_not_a_form(rules):
    items = materials(rules, ["报名表.docx", "1.docx"])
    header = "作品名称：云端课堂\n作者：张三\n单位：一中\n"
    classify_materials(items, rules, "case", "teacher", read=reader({"1.docx": header + "正文。" * 3000}))
    assert [m.role for m in items] == ["registration_form", "case_intro"]
    assert items[1].role_source == "only_candidate"


def test_two_members_never_share_a_single_role_and_the_copy_fills_nothing_else(rules):
    items = materials(rules, ["案例介绍.docx", "案例介绍.pdf", "应用视频.mp4"])
    findings = classify_materials(items, rules, "case", "teacher", read=reader({}))
    assert [m.role for m in items] == ["case_intro", "related", "application_video"]
    assert "案例介绍.docx" in items[1].role_evidence
    assert [f.detail["role"] for f in findings if f.code == "ROLE_INFERRED"] == []   # the form stays missing: a copy is no form


def test_a_teachers_label_for_related_material_is_respected(rules):
    items = materials(rules, ["报名表.docx", "应用视频.mp4", "相关素材/说明.docx"])
    classify_materials(items, rules, "case", "teacher", read=reader({}))
    assert items[2].role == "related" and items[2].role_source == "folder"


def test_the_projects_roles_come_before_other_projects_for_the_same_name(rules):
    for project, applicant, role in (("team", "team", "team_video"), ("case", "school", "publicity_report")):
        items = materials(rules, ["宣传片.mp4"])
        classify_materials(items, rules, project, applicant)
        assert items[0].role == role, project


def test_photos_never_fill_a_role_without_evidence(rules):
    items = materials(rules, ["报名表.docx", "案例介绍.docx", "团队视频.mp4", "IMG_0001.jpg"])
    classify_materials(items, rules, "team", "team", read=reader({}), screen=lambda m: 0.1)
    assert items[3].role == "related"


def test_ocr_is_asked_only_for_pictures_that_could_fill_an_open_role(rules):
    asked = []

    def read(material, ocr):
        asked.append((material.path, ocr))
        if material.path == "IMG_2.jpg":
            return Content(text="报名表\n作品名称\t云端课堂\n作者\t张三\n单位\t一中", method="ocr", ocr_tried=True)
        return Content(ocr_tried=ocr)

    items = materials(rules, ["案例介绍.docx", "应用视频.mp4", "IMG_1.jpg", "IMG_2.jpg", "IMG_3.jpg"])
    classify_materials(items, rules, "case", "teacher", read=read, screen=lambda m: {"IMG_2.jpg": 0.9, "IMG_3.jpg": 0.5}.get(m.path, 0.1))
    assert asked == [("IMG_2.jpg", True), ("IMG_3.jpg", True)]            # paper-like first; the photo is never read
    assert items[3].role == "registration_form" and items[3].role_source == "ocr"
    asked.clear()
    named = materials(rules, ["报名表.docx", "案例介绍.docx", "应用视频.mp4", "IMG_1.jpg"])
    classify_materials(named, rules, "case", "teacher", read=read, screen=lambda m: 0.9)
    assert asked == []                                                     # nothing open: no OCR at all


@pytest.mark.parametrize("name,project,role", [
    ("报 名 表.docx", "case", "registration_form"), ("Case_Intro.docx", "case", "case_intro"),
    ("ＰＰＴ.pptx", "lesson", "courseware"), ("lesson-plan.docx", "lesson", "lesson_plan"),
    ("baomingbiao.docx", "case", "registration_form"), ("jiaoan.docx", "lesson", "lesson_plan"),
    ("ketangshilu.mp4", "lesson", "classroom_recording"), ("anlijieshao.docx", "team", "case_intro"),
])
def test_spaced_separated_full_width_and_pinyin_names(rules, name, project, role):
    applicant = {"case": "teacher", "lesson": "teacher", "team": "team"}[project]
    items = materials(rules, [name])
    classify_materials(items, rules, project, applicant)
    assert (items[0].role, items[0].role_source) == (role, "name")


@pytest.mark.parametrize("stem,words", [
    ("微信图片_20230701101010", ""), ("mmexport1687123456789", ""), ("wx_camera_1688123456789", ""), ("QQ图片20230701101010", ""),
    ("IMG_20230601_1203", ""), ("IMG20230701101010", ""), ("DSC_0001", ""), ("VID_20230601_101010", ""),
    ("Screenshot_2023-07-01-10-10-10-123_com.tencent.mm", ""), ("屏幕截图 2023-07-01 101010", ""), ("截屏2023-07-01 10.10.10", ""),
    ("扫描全能王 2023-07-01 10.10", ""), ("全能扫描王 2023-07-01 10.10", ""), ("新建 Microsoft Word 文档", ""),
    ("新建 Microsoft Word 文档 (2)", ""), ("文档1", ""), ("IMG_0001 - 副本", ""), ("微信图片_报名表", "报名表"),
])
def test_names_a_device_or_an_app_gave(rules, stem, words):
    from pipeline.classify import app_name

    found = app_name(stem, rules.classify)
    assert found is not None and found.words == words


@pytest.mark.parametrize("stem", ["报名表", "案例介绍", "公众号报道截图", "相关素材图片", "video", "imagine", "documentation", "活动照片1"])
def test_names_a_teacher_gave_are_not_app_names(rules, stem):
    from pipeline.classify import app_name

    assert app_name(stem, rules.classify) is None


def test_an_app_name_is_no_evidence_and_says_so(rules):
    """微信图片 names no role: the picture is unrecognized (not 相关素材 by name), and a teacher's word left in it still counts."""
    items = materials(rules, ["报名表.docx", "微信图片_20230701101010.png", "微信图片_案例介绍.docx", "WeChat Files/wxid_a1/FileStorage/Video/应用视频.mp4"])
    classify_materials(items, rules, "case", "teacher")
    assert [(m.role, m.role_source) for m in items] == [("registration_form", "name"), ("related", "unrecognized"),
                                                         ("case_intro", "name"), ("application_video", "name")]
    assert "微信自动命名" in items[1].role_evidence and "未作为依据" in items[1].role_evidence
    assert "只按其余文字" in items[2].role_evidence


def test_app_folders_are_no_evidence(rules):
    """Windows files screenshots under 屏幕截图/ (截图 is a 相关素材 keyword): that folder is the app's, not the teacher's."""
    items = materials(rules, ["报名表.docx", "案例介绍.docx", "DCIM/Camera/VID_20230601_101010.mp4", "屏幕截图/x.png",
                              "活动截图/y.png"])
    classify_materials(items, rules, "case", "teacher")
    assert [(m.role, m.role_source) for m in items[2:]] == [("application_video", "only_candidate"), ("related", "unrecognized"),
                                                             ("related", "folder")]
