from datetime import datetime, timedelta

import pytest

from pipeline import rules as rulebook
from pipeline.models import Author, Material, QcResult, Segment, UploadEvent, VideoProbe
from pipeline.probe import display_geometry


def probe(**overrides) -> VideoProbe:
    base = dict(container="mp4", is_mp4=True, width=1920, height=1080, sample_aspect_ratio=1.0, rotation=0,
                display_width=1920, display_height=1080, duration_s=120.0, audio=[{"codec": "AAC"}])
    base.update(overrides)
    return VideoProbe(**base)


def codes(findings):
    return sorted(f.code for f in findings)


def event(**overrides) -> UploadEvent:
    data = dict(submission_id="s1", project="case", applicant_type="teacher", unit="一中",
                archive={"bucket": "u", "key": "k"}, uploaded_at="2023-07-20T10:00:00+08:00")
    data.update(overrides)
    return UploadEvent.model_validate(data)


def test_conformant_video_has_no_findings(rules):
    assert rulebook.check_video("a.mp4", "application_video", probe(), rules) == []


@pytest.mark.parametrize("width,height,sar,rotation,expected", [
    (1280, 720, 1.0, 0, ["VIDEO_RESOLUTION_LOW"]),
    (1920, 1440, 1.0, 0, ["VIDEO_ASPECT_NOT_16_9"]),
    (1440, 1080, 4 / 3, 0, []),                                  # HDV anamorphic displays 1920x1080
    (1920, 1080, 1.0, 90, ["VIDEO_ASPECT_NOT_16_9"]),            # portrait: 1080x1920 displayed
    (3840, 2160, 1.0, 0, []),
    (1920, 1088, 1.0, 0, []),                                    # 1088-line encodes are within 1%
    (1440, 1080, 1.0, 0, ["VIDEO_ASPECT_NOT_16_9", "VIDEO_RESOLUTION_LOW"]),
])
def test_geometry_rules_use_the_displayed_picture(rules, width, height, sar, rotation, expected):
    dw, dh, _ = display_geometry(width, height, sar, rotation)
    found = rulebook.check_video("v.mp4", "application_video",
                                 probe(width=width, height=height, sample_aspect_ratio=sar, rotation=rotation,
                                       display_width=dw, display_height=dh), rules)
    assert codes(found) == expected


@pytest.mark.parametrize("role,duration,too_long", [
    ("application_video", 350.0, False), ("application_video", 360.2, False), ("application_video", 390.0, True),
    ("team_video", 361.0, True), ("classroom_recording", 2640.0, False), ("classroom_recording", 2760.0, True),
    ("related", 5000.0, False),
])
def test_duration_limit_by_role(rules, role, duration, too_long):
    found = rulebook.check_video("v.mp4", role, probe(duration_s=duration), rules)
    assert ("VIDEO_TOO_LONG" in codes(found)) is too_long


def test_container_and_audio(rules):
    found = rulebook.check_video("v.mp4", "application_video", probe(container="mov", is_mp4=False, audio=[]), rules)
    assert codes(found) == ["VIDEO_NOT_MP4", "VIDEO_NO_AUDIO"]
    assert "QuickTime" in found[0].message and "v.mp4" in found[0].message


def test_deadline_is_inclusive_of_the_last_second(rules):
    deadline = rules.deadlines.upload
    assert rulebook.check_deadline(deadline, rules) == []
    late = rulebook.check_deadline(deadline + timedelta(seconds=1), rules)
    assert codes(late) == ["SUBMITTED_AFTER_DEADLINE"]
    assert rulebook.check_deadline(datetime.fromisoformat("2023-07-25T15:59:59+00:00"), rules) == []


def test_authors_limits_per_project(rules):
    three = [Author(name=n, unit="一中") for n in "甲乙丙"]
    assert codes(rulebook.check_authors(event(authors=three), rules)) == ["AUTHORS_TOO_MANY"]
    assert rulebook.check_authors(event(authors=three[:2]), rules) == []
    assert codes(rulebook.check_authors(event(project="lesson", authors=three[:2]), rules)) == ["AUTHORS_TOO_MANY"]
    seven = [Author(name=f"成员{i}") for i in range(7)]
    assert codes(rulebook.check_authors(event(project="team", applicant_type="team", authors=seven), rules)) == ["AUTHORS_TOO_MANY"]
    assert rulebook.check_authors(event(project="team", applicant_type="team", authors=seven[:6]), rules) == []
    assert rulebook.check_authors(event(applicant_type="school", authors=three), rules) == []


def test_teacher_case_authors_must_share_a_unit(rules):
    mixed = [Author(name="甲", unit="一中"), Author(name="乙", unit="二中")]
    found = rulebook.check_authors(event(authors=mixed), rules)
    assert codes(found) == ["AUTHORS_DIFFERENT_UNITS"]
    assert "一中" in found[0].message and "二中" in found[0].message
    same = [Author(name="甲", unit="一中 "), Author(name="乙")]   # missing unit falls back to the event's
    assert rulebook.check_authors(event(authors=same), rules) == []


def test_missing_materials_name_the_role(rules):
    materials = [Material(path="报名表.docx", role="registration_form", size=1, sha256="a", kind="document")]
    found = rulebook.check_materials(materials, rules, "lesson", "teacher", "x.zip")
    assert sorted(f.detail["role"] for f in found) == ["classroom_recording", "courseware", "lesson_plan"]
    assert all(f.path is None and "x.zip" in f.message for f in found)


def test_qc_findings_carry_time_ranges(rules):
    qc = QcResult(black=[Segment(start=0, end=3.5)], shaky_share=0.6, shake_score=0.05)
    found = rulebook.check_qc("v.mp4", qc, rules)
    assert codes(found) == ["VIDEO_BLACK_SEGMENTS", "VIDEO_SHAKY"]
    assert found[0].detail["ranges"] == [[0, 3.5]]


def test_main_work_must_match_the_projects_main_member(rules):
    materials = [Material(path="实录.mp4", size=1, sha256="abc", kind="video", role="classroom_recording"),
                 Material(path="课件.pptx", size=1, sha256="def", kind="presentation", role="courseware")]
    assert rulebook.check_main_work("abc", "main.mp4", materials, rules, "lesson") == []
    assert codes(rulebook.check_main_work("zzz", "main.mp4", materials, rules, "lesson")) == ["MAIN_WORK_MISMATCH"]
    wrong, = rulebook.check_main_work("def", "main.pptx", materials, rules, "lesson")
    assert wrong.code == "MAIN_WORK_MISMATCH" and wrong.severity == "warn"
    assert wrong.detail["member"] == "课件.pptx" and "课堂教学实录" in wrong.message


def test_container_truth_from_brands():
    from pipeline.probe import sniff_container

    def ftyp(major: bytes, *compatible: bytes) -> bytes:
        body = major + b"\0\0\0\0" + b"".join(compatible)
        return (8 + len(body)).to_bytes(4, "big") + b"ftyp" + body + b"\0\0\0\x08free"

    assert sniff_container(ftyp(b"isom", b"isom", b"avc1")).name == "mp4"
    assert sniff_container(ftyp(b"mp42", b"mp41")).name == "mp4"
    assert sniff_container(ftyp(b"qt  ", b"qt  ")).name == "mov"
    assert sniff_container(ftyp(b"3gp4", b"isom")).name == "3gp"
    assert sniff_container(ftyp(b"heic", b"mif1")).name == "isobmff"
    assert sniff_container(b"\x1a\x45\xdf\xa3" + b"\0" * 40).name == "matroska"
    assert sniff_container(b"RIFF\0\0\0\0AVI LIST").name == "avi"
    assert sniff_container(b"#EXTM3U\n#EXTINF:10,\nx.ts\n").name == "hls"
    assert sniff_container(b"ffconcat version 1.0\nfile 'a.mp4'\n").name == "ffconcat"


def test_a_duration_limit_that_rests_on_an_inferred_role_is_a_warning(rules):
    """A 40-minute video that is the case's only video: too long for an application video, but the
    role is a guess (it may be a misfiled recording), so a reviewer decides, not the pipeline."""
    known, = [f for f in rulebook.check_video("课堂实录.mp4", "application_video", probe(duration_s=2400), rules)
              if f.code == "VIDEO_TOO_LONG"]
    guessed, = [f for f in rulebook.check_video("VID_1.mp4", "application_video", probe(duration_s=2400), rules,
                                                role_inferred=True) if f.code == "VIDEO_TOO_LONG"]
    assert (known.severity, guessed.severity) == ("fail", "warn")
    assert "推定" in guessed.message and guessed.detail["role_inferred"] is True
