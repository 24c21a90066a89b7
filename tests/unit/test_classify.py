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
    assert finding.detail == {"videos": 6, "documents": 6, "videos_analysed": 2, "documents_analysed": 3}
    assert "作品.zip" in finding.message
    assert analysis_limited(members, rules, "作品.zip") == []
