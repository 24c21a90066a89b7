"""The labelled activity (tests/introgen.py) through the whole embedded check: each introduction a
.docx in its own zip, one shared --state, at 20, 100 and 300 introductions. Every planted copy of
30% or more gets DUPLICATION_HIGH naming its first-seen source, no independent introduction does,
each rate is within 3 points of its planted share, and the page shows the measure."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from pipeline.embedded import check_submission
from pipeline.models import parse_event
from pipeline.sample import make_docx
from tests.introgen import activity

pytestmark = pytest.mark.integration


def submit(work: Path, intro, rules, state: Path):
    lines = intro.text.split("\n")
    docx = make_docx(work / f"{intro.sid}.docx", lines[0], lines[1:])
    archive = work / f"{intro.sid}.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.write(docx, "案例介绍.docx")
    event = parse_event({"submission_id": intro.sid, "project": "case", "applicant_type": "teacher", "title": intro.title,
                         "archive": {"bucket": "uploads", "key": f"{intro.sid}/materials.zip"},
                         "uploaded_at": "2023-07-20T10:00:00+08:00"})
    return check_submission(event, archive, work / "out" / intro.sid, rules, media=False, state_dir=state)


@pytest.mark.parametrize("size", [20, 100, 300])
def test_the_activity_at_every_size(tmp_path, rules, size):
    wrong = []
    for intro in activity(size, seed=size + 1):
        verdict = submit(tmp_path, intro, rules, tmp_path / "state")
        document = next(d for d in verdict.documents if d.role == "case_intro")
        flagged = [f for f in verdict.findings if f.code == "DUPLICATION_HIGH"]
        if bool(flagged) != intro.copied or abs(document.duplication_rate - intro.truth) > 0.03 or \
                (flagged and flagged[0].detail["sources"][0] != intro.source):
            wrong.append((intro.sid, intro.kind, intro.truth, document.duplication_rate, intro.source,
                          flagged[0].detail["sources"] if flagged else None))
    assert wrong == []


def test_the_page_shows_the_measure_as_cnki_reports_do(tmp_path, rules):
    from pipeline.report import render_report

    intros = activity(20, seed=21)
    copy = next(i for i in intros if i.copied)
    for intro in intros[:intros.index(copy) + 1]:
        verdict = submit(tmp_path, intro, rules, tmp_path / "state")
    document = next(d for d in verdict.documents if d.role == "case_intro")
    assert document.duplication["template_share"] > 0.02 and document.duplication["largest_source_rate"] >= 0.3
    page = render_report(verdict, rules)
    for words in ("重复率（不含模板）", "单篇最大重复率", "模板及通用文字占比（不计入）", f"来源 {copy.source}"):
        assert words in page
    assert document.best_matches[0]["passages"][0][:20] in page
