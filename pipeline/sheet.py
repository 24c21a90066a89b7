"""The reviewers' sheet: one row per submission, the quotas per district and the award counts.

School and district reviewers compare entries and respect the notice's quotas (县（市）区 40,
开发区 30, 市管学校 6 each; the district bureaus' own regional promotion cases do not count);
the city needs, per project, how many first, second and third prizes its entries allow
(15%, 25%, 35%). All of it is computed from the verdicts, the limits from the rules file.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .ruleset import Rules

MAIN_VIDEO_ROLES = ("application_video", "classroom_recording", "team_video")
MAX_VERDICTS = 200_000
STATUS_LABELS = {"pass": "通过", "warn": "通过（有建议）", "fail": "未通过", "error": "处理出错"}


@dataclass
class EntryRow:
    submission_id: str
    district: str
    unit: str
    project: str
    title: str
    authors: str
    applicant_type: str
    status: str
    fail_codes: str
    warn_codes: str
    main_video_duration_s: float | None
    main_video_resolution: str
    duplication_rate: float | None
    report: str
    created_at: str

    COLUMNS = [("submission_id", "作品编号"), ("district", "区县"), ("unit", "单位"), ("project", "项目"), ("title", "作品名称"),
               ("authors", "作者"), ("applicant_type", "申报类别"), ("status", "检查结果"), ("fail_codes", "必须修改"),
               ("warn_codes", "建议修改"), ("main_video_duration_s", "主视频时长（秒）"), ("main_video_resolution", "主视频分辨率"),
               ("duplication_rate", "案例介绍重复率"), ("report", "检查报告"), ("created_at", "检查时间")]


@dataclass
class QuotaRow:
    group: str
    kind: str
    quota: int
    entries: int = 0               # every submission of the group
    counted: int = 0               # those that can be recommended and take a place (status pass/warn, not exempt)
    exempt: int = 0                # regional promotion cases of the district bureau
    failed: int = 0
    by_project: dict[str, int] = field(default_factory=dict)

    @property
    def over(self) -> int:
        return max(0, self.counted - self.quota)


@dataclass
class AwardRow:
    project: str
    entries: int
    first: int
    second: int
    third: int


MAX_VERDICT_BYTES = 50 * 1024 * 1024


def verdicts_under(directory: Path) -> Iterable[tuple[dict, Path]]:
    """Every `verdict.json` under `directory` (the embedded mode's --out), with its folder;
    an unreadable file is skipped, never fatal."""
    import json

    for count, path in enumerate(sorted(directory.rglob("verdict.json"))):
        if count >= MAX_VERDICTS:
            break
        try:
            if path.stat().st_size > MAX_VERDICT_BYTES:
                continue
            verdict = json.loads(path.read_bytes())
        except (OSError, ValueError):
            continue
        if isinstance(verdict, dict) and isinstance(verdict.get("submission_id"), str):
            yield verdict, path.parent


def _created(verdict: dict) -> str:
    return str(verdict.get("created_at") or "")


def latest_verdicts(verdicts: Iterable[dict]) -> list[dict]:
    """The newest verdict of each submission (a resubmission replaces the earlier one)."""
    latest: dict[str, dict] = {}
    for count, verdict in enumerate(verdicts):
        if count >= MAX_VERDICTS:
            break
        sid = verdict.get("submission_id")
        if not isinstance(sid, str):
            continue
        if sid not in latest or _created(verdict) >= _created(latest[sid]):
            latest[sid] = verdict
    return sorted(latest.values(), key=lambda v: (str((v.get("event") or {}).get("district") or ""), v["submission_id"]))


def _main_video(verdict: dict) -> dict | None:
    videos = [v for v in verdict.get("videos") or [] if isinstance(v, dict)]
    return next((v for v in videos if v.get("role") in MAIN_VIDEO_ROLES), videos[0] if videos else None)


def entry_row(verdict: dict, report_link: str = "") -> EntryRow:
    event = verdict.get("event") or {}
    findings = [f for f in verdict.get("findings") or [] if isinstance(f, dict)]
    video = _main_video(verdict)
    probe = (video or {}).get("probe") or {}
    intro = next((d for d in verdict.get("documents") or [] if d.get("duplication_rate") is not None), None)
    authors = "、".join(a.get("name", "") for a in event.get("authors") or [] if isinstance(a, dict))
    if not authors:
        form = next((d.get("form_fields") for d in verdict.get("documents") or [] if d.get("form_fields")), None) or {}
        authors = "、".join(form.get("authors") or [])
    resolution = f"{probe.get('display_width')}x{probe.get('display_height')}" if probe.get("display_width") else ""
    return EntryRow(
        submission_id=verdict["submission_id"], district=event.get("district") or "", unit=event.get("unit") or "",
        project=verdict.get("project") or event.get("project") or "", title=event.get("title") or "", authors=authors,
        applicant_type=event.get("applicant_type") or ("team" if verdict.get("project") == "team" else "teacher"),
        status=verdict.get("status") or "", created_at=_created(verdict),
        fail_codes=" ".join(sorted({f["code"] for f in findings if f.get("severity") == "fail"})),
        warn_codes=" ".join(sorted({f["code"] for f in findings if f.get("severity") == "warn"})),
        main_video_duration_s=round(probe["duration_s"], 1) if probe.get("duration_s") else None,
        main_video_resolution=resolution, duplication_rate=intro.get("duplication_rate") if intro else None,
        report=report_link)


def filter_rows(rows: list[EntryRow], *, district: str | None = None, project: str | None = None,
                status: str | None = None) -> list[EntryRow]:
    return [r for r in rows if (district is None or r.district == district) and (project is None or r.project == project)
            and (status is None or r.status == status)]


def quota_group(row: EntryRow, rules: Rules) -> tuple[str, str]:
    """(group, kind): a city-managed school's quota is its own, so the group is the school."""
    kind = rules.quotas.kind_of(row.district)
    if kind == "city_school":
        return f"{row.district or '市管学校'}·{row.unit or '未填单位'}", kind
    return row.district or "未填区县", kind


def quota_rows(rows: list[EntryRow], rules: Rules) -> list[QuotaRow]:
    groups: dict[str, QuotaRow] = {}
    for row in rows:
        name, kind = quota_group(row, rules)
        group = groups.setdefault(name, QuotaRow(group=name, kind=kind, quota=rules.quotas.per_kind.get(kind, 0),
                                                  by_project={p: 0 for p in rules.project_labels}))
        group.entries += 1
        if row.applicant_type in rules.quotas.exempt_applicant_types:
            group.exempt += 1
        elif row.status in rules.quotas.counted_statuses:
            group.counted += 1
            group.by_project[row.project] = group.by_project.get(row.project, 0) + 1
        else:
            group.failed += 1
    order = list(rules.quotas.per_kind)
    return sorted(groups.values(), key=lambda g: (order.index(g.kind) if g.kind in order else len(order), g.group))


def award_counts(entries: int, rules: Rules) -> tuple[int, int, int]:
    """First, second and third prizes for `entries`, by the rules file's shares and rounding."""
    rounding = {"floor": math.floor, "ceil": math.ceil, "round": lambda x: int(math.floor(x + 0.5))}[rules.awards.rounding]
    # The epsilon keeps 20 x 0.15 = 3.0000000000000004 from becoming 4 under ceil, or 2.9999 from 2 under floor.
    return tuple(int(rounding(round(entries * share, 9))) for share in (rules.awards.first, rules.awards.second, rules.awards.third))


def award_rows(rows: list[EntryRow], rules: Rules) -> list[AwardRow]:
    """Per project, entries at city level are those that can be recommended (status pass or warn)."""
    counted = Counter(r.project for r in rows if r.status in rules.quotas.counted_statuses)
    return [AwardRow(project, counted.get(project, 0), *award_counts(counted.get(project, 0), rules))
            for project in rules.project_labels]


def _column(name: str) -> int:
    """1-based column of the field `name` in the sheet."""
    return [field for field, _ in EntryRow.COLUMNS].index(name) + 1


def _cell(row: EntryRow, name: str, rules: Rules):
    value = getattr(row, name)
    if name == "project":
        return rules.project_labels.get(value, value)
    if name == "status":
        return STATUS_LABELS.get(value, value)
    if name == "applicant_type":
        return rules.applicant_type_labels.get(value, value)
    return value


def write_csv(path: Path, rows: list[EntryRow], rules: Rules) -> None:
    """UTF-8 with a BOM, so that Excel on a Chinese Windows opens it without garbling."""
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow([label for _, label in EntryRow.COLUMNS])
        for row in rows:
            values = (_cell(row, name, rules) for name, _ in EntryRow.COLUMNS)
            writer.writerow(["" if value is None else value for value in values])


def write_xlsx(path: Path, rows: list[EntryRow], quotas: list[QuotaRow], awards: list[AwardRow], rules: Rules,
               *, generated_at: datetime | None = None) -> None:
    """Three sheets (作品, 名额, 奖项), each with a bold header row, filters and frozen panes."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    book = Workbook()
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    red = Font(color="CF222E", bold=True)

    def sheet(title: str, header: list[str], body: list[list], widths: list[int], first=False):
        ws = book.active if first else book.create_sheet()
        ws.title = title
        ws.append(header)
        for cell in ws[1]:
            cell.font, cell.fill = bold, fill
        for values in body:
            ws.append(values)
        ws.freeze_panes = "B2"
        ws.auto_filter.ref = f"A1:{get_column_letter(len(header))}{max(1, len(body) + 1)}"
        for index, width in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(index)].width = width
        return ws

    entries = sheet("作品", [label for _, label in EntryRow.COLUMNS],
                    [[_cell(r, name, rules) for name, _ in EntryRow.COLUMNS] for r in rows],
                    [22, 12, 24, 22, 36, 18, 10, 14, 34, 34, 14, 14, 12, 40, 26], first=True)
    link_column, rate_column, status_column = _column("report"), _column("duplication_rate"), _column("status")
    for index, row in enumerate(rows, start=2):
        if row.report:
            cell = entries.cell(index, link_column)
            cell.hyperlink, cell.style = row.report, "Hyperlink"
        entries.cell(index, rate_column).number_format = "0.0%"
        if row.status == "fail":
            entries.cell(index, status_column).font = red

    projects = list(rules.project_labels)
    quota_sheet = sheet("名额", ["区县/学校", "类别", "名额", "作品数", "可推优作品", "超出名额", "不占名额（区域推广案例）", "未通过",
                                *[rules.project_labels[p] for p in projects]],
                        [[q.group, rules.quotas.kind_labels.get(q.kind, q.kind), q.quota, q.entries, q.counted, q.over, q.exempt,
                          q.failed, *[q.by_project.get(p, 0) for p in projects]] for q in quotas],
                        [28, 12, 8, 10, 12, 10, 22, 10, 22, 26, 24])
    for index, q in enumerate(quotas, start=2):
        if q.over:
            quota_sheet.cell(index, 6).font = red
    award_sheet = sheet("奖项", ["项目", "参评作品", f"一等奖（{rules.awards.first:.0%}）", f"二等奖（{rules.awards.second:.0%}）",
                                f"三等奖（{rules.awards.third:.0%}）", "取整"],
                        [[rules.project_labels.get(a.project, a.project), a.entries, a.first, a.second, a.third,
                          {"floor": "向下取整", "ceil": "向上取整", "round": "四舍五入"}[rules.awards.rounding]] for a in awards],
                        [26, 10, 14, 14, 14, 10])
    award_sheet.append([])
    award_sheet.append([f"生成时间 {(generated_at or datetime.now()).strftime('%Y-%m-%d %H:%M')}；规则版本 {rules.rules_version}"])
    book.save(path)


def summary_lines(rows: list[EntryRow], quotas: list[QuotaRow], awards: list[AwardRow], rules: Rules) -> list[str]:
    """A few lines for the terminal: totals, districts over quota, award counts."""
    statuses = Counter(r.status for r in rows)
    lines = [f"{len(rows)} submissions: " + ", ".join(f"{k} {statuses[k]}" for k in ("pass", "warn", "fail", "error") if statuses[k])]
    over = [q for q in quotas if q.over]
    lines.append(f"{len(quotas)} quota groups, {len(over)} over quota" + (": " + ", ".join(f"{q.group} +{q.over}" for q in over) if over else ""))
    for award in awards:
        lines.append(f"{award.project}: {award.entries} entries -> first {award.first}, second {award.second}, third {award.third}")
    return lines

