"""Quotas, awards and rows of the reviewers' sheet, from verdict dicts."""

from __future__ import annotations

import pytest

from pipeline import sheet


def verdict(sid: str, *, district="历城区", unit="一中", project="case", status="pass", applicant_type="teacher",
            created="2023-07-20T10:00:00Z", findings=(), videos=(), documents=()) -> dict:
    return {"submission_id": sid, "project": project, "status": status, "created_at": created, "findings": list(findings),
            "videos": list(videos), "documents": list(documents),
            "event": {"district": district, "unit": unit, "applicant_type": applicant_type, "title": f"题目{sid}",
                      "authors": [{"name": "张三"}, {"name": "李四"}]}}


def rows(verdicts):
    return [sheet.entry_row(v) for v in sheet.latest_verdicts(verdicts)]


@pytest.mark.parametrize("name, kind", [("历城区", "county"), ("平阴县", "county"), ("章丘市", "county"), ("高新区", "development_zone"),
                                        ("南部山区度假区", "development_zone"), ("市直", "city_school"), ("市管学校", "city_school"),
                                        ("", "county"), (None, "county")])
def test_district_kinds(rules, name, kind):
    assert rules.quotas.kind_of(name) == kind


def test_quota_counts_recommendable_entries_and_not_the_bureaus_own_cases(rules):
    vs = [verdict(f"a{i}", project=["case", "lesson", "team"][i % 3]) for i in range(42)]
    vs += [verdict("f1", status="fail"), verdict("e1", status="error"), verdict("w1", status="warn", project="lesson")]
    vs += [verdict(f"d{i}", applicant_type="district") for i in range(3)]       # 区域推广应用案例
    group, = sheet.quota_rows(rows(vs), rules)
    assert (group.group, group.kind, group.quota) == ("历城区", "county", 40)
    assert (group.entries, group.counted, group.exempt, group.failed, group.over) == (48, 43, 3, 2, 3)
    assert group.by_project == {"case": 14, "lesson": 15, "team": 14}


def test_city_schools_have_a_quota_each(rules):
    vs = [verdict(f"s{i}", district="市直", unit="市实验中学") for i in range(7)] + [verdict("t1", district="市直", unit="市第一中学")]
    groups = {g.group: g for g in sheet.quota_rows(rows(vs), rules)}
    assert groups["市直·市实验中学"].quota == 6 and groups["市直·市实验中学"].over == 1
    assert groups["市直·市第一中学"].counted == 1 and groups["市直·市第一中学"].over == 0


@pytest.mark.parametrize("entries, expected", [(0, (0, 0, 0)), (7, (1, 1, 2)), (20, (3, 5, 7)), (100, (15, 25, 35)),
                                               (33, (4, 8, 11)), (1, (0, 0, 0))])
def test_award_counts_floor(rules, entries, expected):
    assert sheet.award_counts(entries, rules) == expected


def test_award_rounding_rule_is_the_rules_files(rules):
    ceil = rules.model_copy(update={"awards": rules.awards.model_copy(update={"rounding": "ceil"})})
    assert sheet.award_counts(20, ceil) == (3, 5, 7)          # 20 x 0.15 = 3.0000000000000004 stays 3
    assert sheet.award_counts(7, ceil) == (2, 2, 3)


def test_awards_per_project_count_passing_entries(rules):
    vs = [verdict(f"c{i}") for i in range(20)] + [verdict(f"x{i}", status="fail") for i in range(5)]
    vs += [verdict(f"l{i}", project="lesson", status="warn") for i in range(7)]
    awards = {a.project: a for a in sheet.award_rows(rows(vs), rules)}
    assert (awards["case"].entries, awards["case"].first, awards["case"].second, awards["case"].third) == (20, 3, 5, 7)
    assert (awards["lesson"].entries, awards["lesson"].third) == (7, 2) and awards["team"].entries == 0


def test_a_resubmission_replaces_the_earlier_row(rules):
    older = verdict("s1", status="fail", created="2023-07-20T10:00:00Z")
    newer = verdict("s1", status="pass", created="2023-07-21T10:00:00Z")
    assert [r.status for r in rows([newer, older])] == ["pass"]


def test_row_has_main_video_and_duplication(rules):
    videos = [{"path": "花絮.mp4", "role": "related", "probe": {"duration_s": 10.0, "display_width": 1280, "display_height": 720}},
              {"path": "应用视频.mp4", "role": "application_video",
               "probe": {"duration_s": 301.26, "display_width": 1920, "display_height": 1080}}]
    findings = [{"code": "VIDEO_TOO_LONG", "severity": "fail"}, {"code": "SUBTITLES_ABSENT", "severity": "warn"}]
    row = sheet.entry_row(verdict("s1", status="fail", videos=videos, findings=findings,
                                  documents=[{"path": "案例介绍.docx", "duplication_rate": 0.123}]), "out/s1/report.html")
    assert (row.main_video_duration_s, row.main_video_resolution, row.duplication_rate) == (301.3, "1920x1080", 0.123)
    assert (row.fail_codes, row.warn_codes, row.authors, row.report) == ("VIDEO_TOO_LONG", "SUBTITLES_ABSENT", "张三、李四",
                                                                        "out/s1/report.html")


def test_filters(rules):
    rs = rows([verdict("a", district="高新区"), verdict("b", project="lesson"), verdict("c", status="fail")])
    assert [r.submission_id for r in sheet.filter_rows(rs, district="高新区")] == ["a"]
    assert [r.submission_id for r in sheet.filter_rows(rs, project="lesson")] == ["b"]
    assert [r.submission_id for r in sheet.filter_rows(rs, status="fail")] == ["c"]


def test_the_page_shows_where_each_role_came_from(rules):
    """识别依据: the evidence of each material, flagged when the role was only inferred."""
    from datetime import datetime, timezone

    from pipeline.models import Material, Verdict
    from pipeline.report import render_report

    materials = [Material(path="附件3.docx", role="case_intro", role_source="attachment", role_evidence="文件名为通知的附件3（案例介绍）",
                          size=1, sha256="a" * 64, kind="document"),
                 Material(path="VID_0001.mp4", role="application_video", role_source="only_candidate",
                          role_evidence="压缩包中唯一可作为应用视频的视频", size=1, sha256="b" * 64, kind="video")]
    verdict = Verdict(submission_id="s", project="case", status="pass", materials=materials, pipeline_version="t",
                      rules_version="t", created_at=datetime.now(timezone.utc))
    page = render_report(verdict, rules)
    assert "识别依据" in page and "文件名为通知的附件3（案例介绍）" in page
    assert "压缩包中唯一可作为应用视频的视频（推定，请核对）" in page


def test_the_page_shows_a_withheld_upscale_estimate_as_evidence(rules):
    """Too weak for a finding, still worth a reviewer's look: the page says what was suspected and why nothing was said."""
    from datetime import datetime, timezone

    from pipeline.models import QcResult, Upscale, Verdict, VideoReport
    from pipeline.report import render_report

    held = Upscale(suspected_width=960, suspected_height=540, withheld="half_lines", agreeing_share=1.0, score=8.6, frames=15)
    verdict = Verdict(submission_id="s", project="case", status="pass", pipeline_version="t", rules_version="t",
                      created_at=datetime.now(timezone.utc),
                      videos=[VideoReport(path="应用视频.mp4", role="application_video", sha256="c" * 64, qc=QcResult(upscale=held))])
    page = render_report(verdict, rules)
    assert "可能只相当于约960×540，证据不足（恰为画面行数的一半" in page and "未作判断" in page
