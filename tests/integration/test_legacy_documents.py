"""Legacy and misnamed office files: .doc, .ppt, .xls, .rtf, .odt, and files whose name lies.

Fixtures are made at test time: python-docx/python-pptx write the modern file, Debian's
LibreOffice saves it in the old format, as a teacher's Office 2003 or WPS would.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from pipeline.documents import extract_text
from pipeline.sample import make_docx, make_pptx
from tests.helpers import codes, run_check, sample, save_as

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("libreoffice_available")]

INTRO = [f"第{i}段：依托国家中小学智慧教育平台开展探究学习，学生在课堂上使用平台资源完成任务。" for i in range(30)]
FORM_ROWS = [("作品名称", "云端课堂的实践"), ("作者", "张三、李四"), ("单位", "第一中学")]


@pytest.fixture(scope="module")
def legacy(tmp_path_factory, libreoffice_available) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("legacy")
    intro = make_docx(tmp / "案例介绍.docx", "案例介绍", INTRO)
    tiny = make_docx(tmp / "短文.docx", "短文", ["只有一句话的说明。"])
    form = make_docx(tmp / "报名表.docx", "国家平台应用专项活动报名表", [], FORM_ROWS)
    deck = make_pptx(tmp / "课件.pptx", "第一课 认识分数", ["分数的意义与读写", "比较分数大小"])
    from openpyxl import Workbook

    book = Workbook()
    for row in FORM_ROWS:
        book.active.append(list(row))
    book.save(tmp / "报名表表格.xlsx")
    return {"doc": save_as(intro, "doc"), "tiny_doc": save_as(tiny, "doc"), "form_doc": save_as(form, "doc"),
            "ppt": save_as(deck, "ppt"), "xls": save_as(tmp / "报名表表格.xlsx", "xls"), "rtf": save_as(intro, "rtf"),
            "odt": save_as(intro, "odt"), "docx": intro, "pptx": deck}


def test_doc_is_read_by_antiword_exactly(legacy):
    extracted = extract_text(str(legacy["doc"]), ".doc")
    assert extracted.method == "antiword"
    assert all(line in extracted.text for line in INTRO)


def test_doc_antiword_refuses_falls_back_to_libreoffice(legacy):
    extracted = extract_text(str(legacy["tiny_doc"]), ".doc")      # antiword: "text stream too small"
    assert extracted.method == "libreoffice.docx" and "只有一句话的说明" in extracted.text


def test_ppt_slide_text_without_master_placeholders(legacy):
    extracted = extract_text(str(legacy["ppt"]), ".ppt")
    assert extracted.method == "ppt-records"
    assert "第一课 认识分数" in extracted.text and "比较分数大小" in extracted.text
    assert "*" not in extracted.text.split("\n") and "母版" not in extracted.text


@pytest.mark.parametrize("key, suffix, method", [("xls", ".xls", "libreoffice.xlsx"), ("rtf", ".rtf", "libreoffice.docx"),
                                                 ("odt", ".odt", "libreoffice.docx")])
def test_other_formats_through_libreoffice(legacy, key, suffix, method):
    extracted = extract_text(str(legacy[key]), suffix)
    assert extracted.method == method
    assert ("张三、李四" in extracted.text) if key == "xls" else (INTRO[5] in extracted.text)


def test_the_bytes_not_the_name_pick_the_reader(legacy, tmp_path):
    docx_named_doc = tmp_path / "a.doc"
    shutil.copy(legacy["docx"], docx_named_doc)
    assert extract_text(str(docx_named_doc), ".doc").method == "docx"
    doc_named_docx = tmp_path / "b.docx"
    shutil.copy(legacy["doc"], doc_named_docx)
    assert extract_text(str(doc_named_docx), ".docx").method == "antiword"
    ppt_named_pptx = tmp_path / "c.pptx"
    shutil.copy(legacy["ppt"], ppt_named_pptx)
    assert "比较分数大小" in extract_text(str(ppt_named_pptx), ".pptx").text


OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@pytest.mark.parametrize("body", [OLE + b"\x00" * 600, OLE + bytes(range(256)) * 40, bytes(range(256))[::-1] * 40])
@pytest.mark.parametrize("suffix", [".doc", ".ppt", ".xls"])
def test_broken_legacy_files_are_a_reason_not_a_crash(tmp_path, body, suffix):
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(body)
    with pytest.raises(ValueError):
        extract_text(str(path), suffix)


@pytest.mark.parametrize("key, suffix", [("doc", ".doc"), ("ppt", ".ppt")])
def test_truncated_legacy_files_are_a_reason_not_a_crash(legacy, tmp_path, key, suffix):
    path = tmp_path / f"truncated{suffix}"
    path.write_bytes(legacy[key].read_bytes()[:4096])
    with pytest.raises(ValueError):
        extract_text(str(path), suffix)


def test_plain_text_saved_as_doc_is_read(tmp_path):
    path = tmp_path / "说明.doc"
    path.write_text("\n".join(INTRO), encoding="utf-8")
    assert INTRO[3] in extract_text(str(path), ".doc").text


def _swap(archive: Path, match: str, name: str, data: bytes) -> None:
    with zipfile.ZipFile(archive) as source:
        items = [(i.filename, source.read(i)) for i in source.infolist() if match not in i.filename]
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as target:
        for item_name, item_data in items:
            target.writestr(item_name, item_data)
        target.writestr(name, data)


def test_a_submission_of_word_2003_and_powerpoint_2003_files(legacy, tmp_path, ffmpeg_available):
    archive, event = sample(tmp_path, "legacy", project="lesson")
    _swap(archive, "报名表", "附件2 报名表.doc", legacy["form_doc"].read_bytes())
    _swap(archive, "课件", "分数的初步认识课件.ppt", legacy["ppt"].read_bytes())
    code, verdict, stderr = run_check(archive, "--skip-media", out=tmp_path / "out", event=dict(event, authors=[]))
    assert verdict is not None, stderr
    assert "DOCUMENT_UNREADABLE" not in codes(verdict) and "REGISTRATION_FORM_UNPARSED" not in codes(verdict)
    form = next(d for d in verdict["documents"] if d["role"] == "registration_form")
    assert form["form_fields"]["authors"] == ["张三", "李四"] and form["form_fields"]["unit"] == "第一中学"
    deck = next(d for d in verdict["documents"] if d["role"] == "courseware")
    assert deck["extracted_with"] == "ppt-records" and deck["text_length"] > 10


def test_a_field_that_includes_a_local_file_does_not_pull_it_in(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-CONTENT-42", encoding="utf-8")
    rtf = tmp_path / "报名表.rtf"
    rtf.write_text("{\\rtf1\\ansi\\deff0 {\\fonttbl{\\f0 Arial;}}\\f0 before "
                   f"{{\\field{{\\*\\fldinst INCLUDETEXT \"{secret}\"}}{{\\fldrslt shown-result}}}} after.\\par}}", encoding="ascii")
    extracted = extract_text(str(rtf), ".rtf")
    assert "before" in extracted.text and "TOPSECRET" not in extracted.text
