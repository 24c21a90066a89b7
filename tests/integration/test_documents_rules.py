"""Duplication, topics and the registration form through `smartedu check` with a shared --state."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import codes, run_check, sample

pytestmark = pytest.mark.integration


@pytest.fixture
def work(tmp_path, ffmpeg_available) -> Path:
    return tmp_path


def check(work: Path, archive: Path, event: dict, name: str) -> dict:
    code, verdict, stderr = run_check(archive, "--skip-media", out=work / "runs" / name, event=event, state=work / "activity")
    assert verdict is not None, stderr
    return verdict


def test_a_copied_case_introduction_fails_and_names_its_source(work):
    archive, event = sample(work, "first", project="case")
    first = check(work, archive, event, "first")
    assert "DUPLICATION_HIGH" not in codes(first)
    copy = work / "copy.zip"
    shutil.copy(archive, copy)
    second_event = dict(event, submission_id="copy", title="另一个课题名称完全不同的案例")
    second = check(work, copy, second_event, "copy")
    finding = next(f for f in second["findings"] if f["code"] == "DUPLICATION_HIGH")
    assert finding["severity"] == "fail" and finding["detail"]["sources"] == ["first"]
    intro = next(d for d in second["documents"] if d["role"] == "case_intro")
    assert intro["duplication_rate"] == 1.0 and intro["best_matches"][0]["submission_id"] == "first"
    again = check(work, archive, event, "first-again")   # the original resubmitted: not its own source, nor its copy's
    assert "DUPLICATION_HIGH" not in codes(again)


def test_distinct_samples_are_not_copies(work):
    verdicts = [check(work, *sample(work, f"s{i}", project="case"), f"s{i}") for i in range(3)]
    rates = [d["duplication_rate"] for v in verdicts for d in v["documents"] if d["role"] == "case_intro"]
    assert max(rates) < 0.1 and all("DUPLICATION_HIGH" not in codes(v) for v in verdicts)


def test_same_topic_in_another_project(work):
    title = "依托国家平台开展双师课堂的实践"
    lesson = check(work, *sample(work, "t-lesson", project="lesson", title=title), "t-lesson")
    assert "TOPIC_IN_MULTIPLE_PROJECTS" not in codes(lesson)
    case = check(work, *sample(work, "t-case", project="case", title=title + "。"), "t-case")
    finding = next(f for f in case["findings"] if f["code"] == "TOPIC_IN_MULTIPLE_PROJECTS")
    assert finding["detail"]["other_submission"] == "t-lesson" and "张三" in finding["message"]
    other = check(work, *sample(work, "t-other", project="team", title="学科教研群国家平台规模化应用"), "t-other")
    assert "TOPIC_IN_MULTIPLE_PROJECTS" not in codes(other)


def test_registration_form_is_read_and_checked_against_the_event(work):
    three = [{"name": "张三", "unit": "一中"}, {"name": "李四", "unit": "一中"}, {"name": "王五", "unit": "一中"}]
    archive, event = sample(work, "form", project="case", authors=three)
    verdict = check(work, archive, dict(event, authors=[], title="事件里写的是别的题目"), "form")
    form = next(d for d in verdict["documents"] if d["role"] == "registration_form")
    assert form["form_fields"]["authors"] == ["张三", "李四", "王五"]
    assert {"AUTHORS_TOO_MANY", "REGISTRATION_FORM_MISMATCH"} <= codes(verdict)
    mismatch = next(f for f in verdict["findings"] if f["code"] == "REGISTRATION_FORM_MISMATCH")
    assert mismatch["detail"]["field"] == "title"


def test_a_form_with_an_unhelpful_name_is_told_from_its_content(work):
    import zipfile

    archive, event = sample(work, "renamed", project="case")
    renamed = work / "renamed-form.zip"
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(renamed, "w") as target:
        for info in source.infolist():
            name = "IMG_2023_0601.docx" if "报名表" in info.filename else info.filename
            target.writestr(name, source.read(info))
    verdict = check(work, renamed, event, "renamed")
    assert "MATERIAL_MISSING" not in codes(verdict) and "MATERIAL_UNRECOGNIZED" not in codes(verdict)
    form = next(m for m in verdict["materials"] if m["path"] == "IMG_2023_0601.docx")
    assert form["role"] == "registration_form"
    assert next(d for d in verdict["documents"] if d["path"] == form["path"])["form_fields"]["authors"] == ["张三"]


def test_xlsx_registration_form(work):
    import io
    import zipfile

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in (["作品名称", "依托国家平台开展双师课堂的实践"], ["作者", "张三、李四、王五"], ["单位", "一中"]):
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    archive, event = sample(work, "xlsx", project="case")
    with zipfile.ZipFile(archive) as source:
        items = [(i.filename, source.read(i)) for i in source.infolist() if "报名表" not in i.filename]
    with zipfile.ZipFile(archive, "w") as target:
        for name, data in items:
            target.writestr(name, data)
        target.writestr("报名表.xlsx", buffer.getvalue())
    verdict = check(work, archive, dict(event, authors=[]), "xlsx")
    form = next(d for d in verdict["documents"] if d["role"] == "registration_form")
    assert form["form_fields"]["authors"] == ["张三", "李四", "王五"] and "AUTHORS_TOO_MANY" in codes(verdict)


def test_a_truncated_registration_form_is_unparsed_as_well_as_unreadable(work):
    """Found by its name, not readable at all: the form's fields are unread too (the contract's table)."""
    import zipfile

    archive, event = sample(work, "truncated-form", project="case")
    with zipfile.ZipFile(archive) as source:
        items = [(i.filename, source.read(i)) for i in source.infolist()]
    with zipfile.ZipFile(archive, "w") as target:
        for name, data in items:
            target.writestr(name, data[: len(data) // 2] if "报名表" in name else data)
    verdict = check(work, archive, event, "truncated-form")
    form = next(m for m in verdict["materials"] if "报名表" in m["path"])
    assert form["role"] == "registration_form"
    unparsed = [f for f in verdict["findings"] if f["code"] == "REGISTRATION_FORM_UNPARSED"]
    assert [f["path"] for f in unparsed] == [form["path"]] and unparsed[0]["severity"] == "warn"
    assert "DOCUMENT_UNREADABLE" in codes(verdict) and "MATERIAL_MISSING" not in codes(verdict)
