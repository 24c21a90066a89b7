"""The labelled naming set through the whole embedded pipeline: every member's role, and no false fail."""

from __future__ import annotations

import pytest

from pipeline.models import parse_event
from pipeline.embedded import check_submission
from tests.naming_set import Factory, build_case_zip, cases, event_for, needs_libreoffice

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("ffmpeg_available")]
CASES = cases()


@pytest.fixture(scope="module")
def factory(tmp_path_factory):
    return Factory(tmp_path_factory.mktemp("naming-factory"))


def test_the_set_is_large_and_covers_every_project_and_applicant_type():
    valid = [c for c in CASES if c.valid]
    assert len(valid) >= 60
    assert {(c.project, c.applicant_type) for c in valid} == {("case", "teacher"), ("case", "school"), ("case", "district"),
                                                             ("lesson", "teacher"), ("team", "team")}
    assert all(c.missing for c in CASES if not c.valid)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_roles_and_status(case, factory, rules, tmp_path, request):
    if needs_libreoffice(case):
        request.getfixturevalue("libreoffice_available")
    archive = build_case_zip(case, factory, tmp_path / "materials.zip")
    verdict = check_submission(parse_event(event_for(case)), archive, tmp_path / "out", rules, media=False)
    roles = {m.path: m.role for m in verdict.materials}
    assert roles == {member.path: member.role for member in case.members}
    assert all(m.role_source and m.role_evidence for m in verdict.materials)
    missing = sorted(f.detail["role"] for f in verdict.findings if f.code == "MATERIAL_MISSING")
    assert missing == sorted(case.missing)
    if case.valid:
        assert verdict.status in ("pass", "warn"), [(f.code, f.message) for f in verdict.findings if f.severity == "fail"]
    else:
        assert verdict.status == "fail"
    inferred = [f for f in verdict.findings if f.code == "ROLE_INFERRED"]
    assert all(f.severity == "info" and f.path in roles and f.detail["reason"] in f.message for f in inferred)


@pytest.mark.parametrize("name", ["scanned-form-named", "scanned-form-unnamed", "scanned-form-pdf", "form-pdf-from-word",
                                  "lesson-scanned-form", "form-xlsx", "word97"])
def test_forms_in_every_format_are_read_into_their_fields(name, factory, rules, tmp_path, request):
    case = next(c for c in CASES if c.name == name)
    if needs_libreoffice(case):
        request.getfixturevalue("libreoffice_available")
    archive = build_case_zip(case, factory, tmp_path / "materials.zip")
    verdict = check_submission(parse_event(event_for(case)), archive, tmp_path / "out", rules, media=False)
    form, = [d for d in verdict.documents if d.role == "registration_form"]
    assert form.form_fields["title"] == case.title
    assert form.form_fields["authors"] == [a["name"] for a in event_for(case)["authors"]]
    assert not {"REGISTRATION_FORM_UNPARSED", "REGISTRATION_FORM_MISMATCH"} & {f.code for f in verdict.findings}
    if form.extracted_with == "ocr":
        assert form.ocr_pages == 1


def test_ocr_is_bounded_in_an_archive_of_classroom_photos(factory, rules, tmp_path, monkeypatch):
    """200 photos and no form: a few pictures screened, none OCR'd, a clear MATERIAL_MISSING."""
    import zipfile

    from pipeline import ocr

    calls = {"screened": 0, "read": 0}

    def counting(name, real):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return real(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(ocr, "paper_share", counting("screened", ocr.paper_share))
    monkeypatch.setattr(ocr, "read_page", counting("read", ocr.read_page))
    photos = [factory.bytes_of("photo", "case"), factory.bytes_of("photo2", "case")]
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("案例介绍.docx", factory.bytes_of("case_intro", "case"))
        out.writestr("应用视频.mp4", factory.bytes_of("video", "case"))
        for i in range(200):
            out.writestr(f"活动/IMG_{i:04d}.jpg", photos[i % 2])
        out.writestr("活动/IMG_9999.jpg", factory.bytes_of("form_photo", "case"))      # the form, 201st
    event = parse_event({**event_for(CASES[0]), "submission_id": "naming-photos"})
    verdict = check_submission(event, archive, tmp_path / "out", rules, media=False)
    assert calls["screened"] == rules.ocr.max_screened and calls["read"] == 0
    assert [f.detail["role"] for f in verdict.findings if f.code == "MATERIAL_MISSING"] == ["registration_form"]


def test_a_scanned_form_among_few_photos_is_found_by_ocr(factory, rules, tmp_path, monkeypatch):
    import zipfile

    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("案例介绍.docx", factory.bytes_of("case_intro", "case"))
        out.writestr("应用视频.mp4", factory.bytes_of("video", "case"))
        for i in range(10):
            out.writestr(f"活动/IMG_{i:04d}.jpg", factory.bytes_of("photo", "case"))
        out.writestr("活动/IMG_9999.jpg", factory.bytes_of("form_photo", "case"))
    verdict = check_submission(parse_event(event_for(CASES[0])), archive, tmp_path / "out", rules, media=False)
    form, = [m for m in verdict.materials if m.role == "registration_form"]
    assert (form.path, form.role_source) == ("活动/IMG_9999.jpg", "ocr")
    assert verdict.status != "fail"
