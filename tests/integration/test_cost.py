"""Bounded cost (issue 24), through the whole embedded check: a 3-hour application video gets
VIDEO_TOO_LONG from its probe and is analysed only to the limit plus the margin and in samples of
the rest, within the verdict budget; documents past their bounds are read in part and named."""

from __future__ import annotations

import resource
import zipfile
from pathlib import Path

import pytest

from pipeline.embedded import check_submission
from pipeline.models import parse_event
from pipeline.sample import SampleSpec, VideoSpec, build_sample
from tests import cost_corpus

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("ffmpeg_available")]


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def case_with(tmp_path: Path, name: str, members: dict[str, Path], *, drop_video: bool = False) -> tuple[Path, dict]:
    archive = tmp_path / f"{name}.zip"
    event = build_sample(archive, SampleSpec(project="case", submission_id=name, video=VideoSpec(duration_s=2.0)))
    with zipfile.ZipFile(archive) as source:
        items = [(i, source.read(i)) for i in source.infolist() if not (drop_video and i.filename.endswith(".mp4"))]
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as target:
        for info, data in items:
            target.writestr(info, data)
        for member, path in members.items():
            target.write(path, member, compress_type=zipfile.ZIP_STORED)
    return archive, event


def test_a_three_hour_case_video_costs_what_its_limit_needs(tmp_path, rules):
    long = cost_corpus.long_video(tmp_path, 3)
    archive, event = case_with(tmp_path, "three-hours", {"应用视频.mp4": long}, drop_video=True)
    before = cpu_seconds()
    verdict = check_submission(parse_event(event), archive, tmp_path / "out", rules, media=False)
    spent = cpu_seconds() - before
    codes = {f.code: f for f in verdict.findings}
    assert "VIDEO_TOO_LONG" in codes and verdict.status == "fail"
    limited = codes["ANALYSIS_LIMITED"]
    assert limited.path == "应用视频.mp4" and limited.detail["bound"] == "over_limit"
    assert limited.detail["analysed_s"] == pytest.approx(360 * (1 + rules.cost.over_limit_margin))
    assert len(limited.detail["samples"]) == rules.cost.rest_samples and "只检查了前6分36.0秒" in limited.message
    video, = verdict.videos
    assert video.scope.preview_s == video.scope.analysed_s < video.scope.duration_s > 10_000
    assert video.qc.analysed_s == pytest.approx(video.scope.analysed_s)
    assert spent < rules.cost.verdict_cpu_s / 5, spent          # about 70 CPU s here, against 30 CPU minutes before


def test_documents_past_their_bounds_are_read_in_part_and_named(tmp_path, rules):
    members = {"相关素材/政策汇编.pdf": cost_corpus.many_pages_pdf(tmp_path),
               "相关素材/活动记录.docx": cost_corpus.many_paragraphs_docx(tmp_path),
               "相关素材/课件合集.pptx": cost_corpus.many_slides_pptx(tmp_path),
               "相关素材/学生数据.xlsx": cost_corpus.many_rows_xlsx(tmp_path),
               "扫描件.png": cost_corpus.giant_png(tmp_path)}
    archive, event = case_with(tmp_path, "huge-documents", members)
    before = cpu_seconds()
    verdict = check_submission(parse_event(event), archive, tmp_path / "out", rules, media=False)
    spent = cpu_seconds() - before
    bounds = {f.path: f.detail["bound"] for f in verdict.findings if f.code == "ANALYSIS_LIMITED"}
    assert bounds == {"相关素材/政策汇编.pdf": "pages", "相关素材/活动记录.docx": "paragraphs", "相关素材/课件合集.pptx": "slides",
                      "相关素材/学生数据.xlsx": "rows"}
    pdf = next(f for f in verdict.findings if f.code == "ANALYSIS_LIMITED" and f.path.endswith(".pdf"))
    assert "共20000页，只读取了前300页" in pdf.message and pdf.severity == "info"
    assert verdict.status != "error" and "MATERIAL_MISSING" not in {f.code for f in verdict.findings}
    assert spent < rules.cost.documents_cpu_s, spent
