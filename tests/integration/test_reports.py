"""report.html in headless Chromium (Debian's), and the reviewers' sheet from `smartedu report`."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.sample import VideoSpec
from tests.helpers import SMARTEDU, codes, run_check, sample

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("chromium_available")]
ARTIFACTS = Path(__file__).resolve().parents[2] / "out" / "test-artifacts"


@pytest.fixture(scope="module")
def browser(chromium_available):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=shutil.which("chromium"),
                                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                                    "--disable-dev-shm-usage"])
        yield chromium
        chromium.close()


def open_page(browser, path: Path, screenshot: Path) -> dict:
    """Load the page as a phone would; returns what the test checks. The screenshot goes to the
    test's folder and to out/test-artifacts/ (kept for people to look at)."""
    page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    # Chromium aborts a media request once preload="metadata" has what it needs: not a failure.
    page.on("requestfailed", lambda r: None if (r.resource_type == "media" and r.failure == "net::ERR_ABORTED")
            else problems.append(f"request failed: {r.url} {r.failure}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.goto(path.as_uri(), wait_until="load")
    video = page.evaluate("""() => new Promise(done => {
        const v = document.querySelector('video');
        if (!v) return done(null);
        const report = () => done({readyState: v.readyState, duration: v.duration, error: v.error && v.error.code,
                                   width: v.videoWidth, src: v.currentSrc});
        if (v.readyState >= 1) return report();
        v.addEventListener('loadedmetadata', report);
        v.addEventListener('error', report, true);
        setTimeout(report, 15000);
    })""")
    facts = page.evaluate("""() => ({scripts: document.querySelectorAll('script').length,
        overflow: document.documentElement.scrollWidth - window.innerWidth,
        status: document.querySelector('.status').innerText, findings: document.querySelectorAll('ol.findings li').length,
        images: [...document.images].map(i => [i.currentSrc, i.naturalWidth]), title: document.querySelector('h1').innerText})""")
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshot), full_page=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(screenshot, ARTIFACTS / screenshot.name)
    page.close()
    return {"video": video, "problems": problems, **facts}


@pytest.mark.parametrize("kind", ["pass", "warn", "fail"])
def test_page_for_each_outcome_renders_and_plays(browser, tmp_path, kind):
    spec = {"pass": {}, "warn": {"video": VideoSpec(duration_s=2.0, subtitles=False)},
            "fail": {"uploaded_at": "2023-08-01T10:00:00+08:00"}}[kind]
    archive, event = sample(tmp_path, f"page-{kind}", project="case", **spec)
    out = tmp_path / "out"
    _, verdict, stderr = run_check(archive, out=out, event=event)
    assert verdict is not None and verdict["status"] == kind, stderr
    page = open_page(browser, out / "report.html", tmp_path / f"report-{kind}.png")
    assert page["problems"] == [] and page["scripts"] == 0 and page["overflow"] <= 0
    words = {"pass": "已通过检查", "warn": "需要注意", "fail": "未通过检查"}[kind]
    assert words in page["status"]
    assert page["findings"] == len(verdict["findings"])
    video = page["video"]
    assert video["error"] is None and video["readyState"] >= 1 and video["duration"] == pytest.approx(verdict["videos"][0]["probe"]["duration_s"], abs=0.2)
    assert video["src"].endswith("/720p.mp4") and video["width"] == 1280
    assert page["images"] and all(width > 0 for _, width in page["images"])   # poster and storyboard load
    html = (out / "report.html").read_text(encoding="utf-8")
    if kind == "warn":
        assert "SUBTITLES_ABSENT" in codes(verdict) and "建议关键事件配有字幕" in html
    if kind == "fail":
        assert "作品上传7月25日前完成" in html and "必须修改" in html


def test_hostile_names_are_shown_not_run(browser, tmp_path):
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    archive, event = sample(tmp_path, "hostile", project="case", title=hostile)
    out = tmp_path / "out"
    run_check(archive, "--skip-media", out=out, event=dict(event, unit=hostile))
    page = open_page(browser, out / "report.html", tmp_path / "report-hostile.png")
    assert page["problems"] == [] and page["scripts"] == 0 and page["title"] == hostile


def make_verdicts(template: dict, root: Path) -> None:
    """Verdicts for three districts and two city schools, nested as `check --out` leaves them."""
    plan = ([("历城区", "teacher", "pass")] * 38 + [("历城区", "teacher", "fail")] * 2 + [("历城区", "district", "pass")] * 3
            + [("历城区", "teacher", "warn")] * 4
            + [("高新区", "teacher", "pass")] * 31 + [("市直", "teacher", "pass")] * 7)
    projects = ["case", "lesson", "team"]
    for index, (district, applicant, status) in enumerate(plan):
        verdict = json.loads(json.dumps(template))
        sid = f"s{index:03d}"
        verdict.update(submission_id=sid, status=status, project=projects[index % 3] if applicant != "district" else "case")
        verdict["event"].update(submission_id=sid, district=district, applicant_type=applicant,
                                unit="市实验中学" if district == "市直" else f"{district}第{index % 5}小学")
        folder = root / district / sid
        folder.mkdir(parents=True)
        (folder / "verdict.json").write_text(json.dumps(verdict, ensure_ascii=False), encoding="utf-8")
        (folder / "report.html").write_text("<!DOCTYPE html><title>x</title>", encoding="utf-8")


def test_the_sheet_counts_quotas_and_awards(tmp_path):
    from openpyxl import load_workbook

    archive, event = sample(tmp_path, "template", project="case")
    _, template, _ = run_check(archive, "--skip-media", out=tmp_path / "template", event=event)
    make_verdicts(template, tmp_path / "all")
    output = tmp_path / "sheets" / "汇总.xlsx"
    done = subprocess.run([SMARTEDU, "report", "--out", str(tmp_path / "all"), "--format", "xlsx", "--output", str(output)],
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    book = load_workbook(output)
    entries, quotas, awards = book["作品"], book["名额"], book["奖项"]
    header = [c.value for c in entries[1]]
    assert header[:8] == ["作品编号", "区县", "单位", "项目", "作品名称", "作者", "申报类别", "检查结果"]
    assert entries.freeze_panes == "B2" and entries.auto_filter.ref == f"A1:O{85 + 1}" and entries.max_row == 86
    link = entries.cell(2, header.index("检查报告") + 1)
    assert link.hyperlink is not None and (output.parent / link.value).resolve().is_file()
    by_group = {row[0]: row for row in quotas.iter_rows(min_row=2, values_only=True)}
    # group, kind, quota, entries, counted, over, exempt, failed, case, lesson, team
    assert by_group["历城区"][:8] == ("历城区", "县（市）区", 40, 47, 42, 2, 3, 2)
    assert sum(by_group["历城区"][8:]) == 42
    assert by_group["高新区"][1:6] == ("开发区", 30, 31, 31, 1)
    assert by_group["市直·市实验中学"][1:6] == ("市管学校", 6, 7, 7, 1)
    rows = {row[0]: row for row in awards.iter_rows(min_row=2, max_row=4, values_only=True)}
    case_label, lesson_label, team_label = "国家平台应用案例", "“双师课堂”应用模式课例", "国家平台应用优秀团队"
    total = sum(rows[label][1] for label in (case_label, lesson_label, team_label))
    assert total == 85 - 2                                     # every pass/warn entry, bureaus' cases included
    for label in (case_label, lesson_label, team_label):
        n = rows[label][1]
        assert rows[label][2:5] == (int(n * 0.15), int(n * 0.25), int(n * 0.35))


def test_sheet_filters_and_csv(tmp_path):
    archive, event = sample(tmp_path, "template", project="case")
    _, template, _ = run_check(archive, "--skip-media", out=tmp_path / "template", event=event)
    make_verdicts(template, tmp_path / "all")
    output = tmp_path / "gx.csv"
    done = subprocess.run([SMARTEDU, "report", "--out", str(tmp_path / "all"), "--format", "csv", "--output", str(output),
                           "--district", "历城区", "--status", "fail"], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = output.read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 1 + 2 and all(",历城区," in line and ",未通过," in line for line in lines[1:])
    bad = subprocess.run([SMARTEDU, "report", "--format", "pdf", "--output", str(output)], capture_output=True, timeout=60)
    assert bad.returncode == 2
