"""PICTURE_REUSED: a photo of another submission, handed in again resized and re-saved, or put
inside a .docx or .pptx, is found and its source named; other photos, icons and the registration
form never are; a resubmission never matches itself; the pictures read per archive are bounded."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from pipeline.layout import Layout
from pipeline.models import Material, UploadEvent
from pipeline.stages.context import SubmissionContext
from pipeline.stages.pictures import reused_pictures
from pipeline.state.local import LocalState
from pipeline.storage import LocalStore

pytestmark = pytest.mark.integration


def _photo(out: Path, x: float, y: float, size: str = "1024x768", extra: str = "") -> Path:
    subprocess.run(["ffmpeg", "-hide_banner", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"mandelbrot=size={size}:maxiter=150:start_x={x}:start_y={y}:start_scale=0.8",
                    "-frames:v", "1", *(["-vf", extra] if extra else []), "-q:v", "4", str(out)], check=True, timeout=60)
    return out


def _material(folder: Path, name: str, role: str = "related") -> Material:
    data = (folder / name).read_bytes()
    return Material(path=name, role=role, role_source="name", size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                    kind="image" if name.endswith((".jpg", ".png")) else "document", key=name)


def _check(folder: Path, state, rules, sid: str, names: list[str], roles: dict | None = None):
    event = UploadEvent(submission_id=sid, project="case", archive={"bucket": "local", "key": "x.zip"})
    ctx = SubmissionContext(event, rules, LocalStore(folder), Layout(sid, embedded=True), activity=state)
    return reused_pictures(ctx, [_material(folder, n, (roles or {}).get(n, "related")) for n in names])


@pytest.fixture(scope="module")
def photos(tmp_path_factory, ffmpeg_available):
    from docx import Document
    from docx.shared import Cm
    from pptx import Presentation
    from pptx.util import Inches

    folder = tmp_path_factory.mktemp("pictures")
    _photo(folder / "课堂照片1.jpg", -0.7436, 0.1318)
    _photo(folder / "活动照片.jpg", -0.7436, 0.1318, "1024x768", "scale=640:480")          # the same, smaller and re-saved
    _photo(folder / "其他照片.jpg", 0.2501, 0.0, "1024x768")
    _photo(folder / "图标.png", -0.7436, 0.1318, "64x48")
    _photo(folder / "表格扫描.jpg", -1.25, 0.02)
    document = Document()
    document.add_paragraph("案例介绍")
    document.add_picture(str(folder / "课堂照片1.jpg"), width=Cm(12))
    document.save(folder / "案例介绍.docx")
    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[6])
    slide.shapes.add_picture(str(folder / "表格扫描.jpg"), Inches(1), Inches(1))
    deck.save(folder / "课件.pptx")
    return folder


def test_a_photo_used_again_is_found_with_its_source(photos, rules, tmp_path):
    state = LocalState(tmp_path / "state")
    assert _check(photos, state, rules, "s1", ["课堂照片1.jpg", "图标.png", "表格扫描.jpg"]) == []
    found = _check(photos, state, rules, "s2", ["活动照片.jpg", "其他照片.jpg", "案例介绍.docx", "课件.pptx"])
    by_path = {f.path: f for f in found}
    assert set(by_path) == {"活动照片.jpg", "案例介绍.docx", "课件.pptx"}, [f.message for f in found]
    assert all(f.code == "PICTURE_REUSED" and f.severity == "info" and f.detail["other_submission"] == "s1" for f in found)
    assert "word/media/" in by_path["案例介绍.docx"].detail["where"] and "s1" in by_path["活动照片.jpg"].message
    # handed in again: never its own source, its matches the same
    again = _check(photos, state, rules, "s2", ["活动照片.jpg", "其他照片.jpg", "案例介绍.docx", "课件.pptx"])
    assert [(f.path, f.detail["other_submission"]) for f in again] == [(f.path, f.detail["other_submission"]) for f in found]


def test_the_registration_form_and_icons_are_not_evidence(photos, rules, tmp_path):
    state = LocalState(tmp_path / "state")
    _check(photos, state, rules, "s1", ["表格扫描.jpg"], roles={"表格扫描.jpg": "registration_form"})
    _check(photos, state, rules, "s2", ["图标.png"])
    assert _check(photos, state, rules, "s3", ["表格扫描.jpg", "图标.png"], roles={"表格扫描.jpg": "registration_form"}) == []


def test_a_picture_many_submissions_hold_is_common(photos, rules, tmp_path):
    """The platform's screenshot or a district's logo in every entry: common, never reported."""
    state = LocalState(tmp_path / "state")
    for n in range(rules.reuse.common_min_submissions):
        _check(photos, state, rules, f"c{n}", ["课堂照片1.jpg"])
    assert _check(photos, state, rules, "late", ["活动照片.jpg"]) == []


def test_pictures_read_per_archive_are_bounded(photos, rules, tmp_path):
    state = LocalState(tmp_path / "state")
    bounded = rules.model_copy(update={"reuse": rules.reuse.model_copy(update={"pictures_per_archive": 1})})
    _check(photos, state, rules, "s1", ["课堂照片1.jpg", "表格扫描.jpg"])
    found = _check(photos, state, bounded, "s2", ["其他照片.jpg", "活动照片.jpg", "课件.pptx"])
    assert found == []           # only the first picture was read
