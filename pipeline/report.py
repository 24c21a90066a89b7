"""report.html: one page per submission that a teacher reads on a phone to know what to fix.

The verdict is for machines; this page says the same in plain Chinese: the status at the
top, one line per finding with where, the measured value and what the notice asks, the
materials with their roles, and per video the playable 720p preview, poster, storyboard,
probe table and QC time ranges. One file with inline CSS and assets by relative path, no
script (a Content-Security-Policy forbids any), every value escaped by Jinja2's autoescape.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import structlog
from jinja2 import Environment, PackageLoader, select_autoescape

from .ruleset import Rules

from .findings import format_duration, notice_for
from .forms import FORM_LABELS
from .models import Verdict

if TYPE_CHECKING:
    from .stages.context import SubmissionContext

log = structlog.get_logger("pipeline")

STATUS_WORDS = {
    "pass": ("已通过检查", "材料符合活动通知的各项要求。"),
    "warn": ("已通过检查，但有需要注意的地方", "下列建议项不影响参评，修改后效果更好。"),
    "fail": ("未通过检查，请修改后重新上传", "请按下列“必须修改”的提示逐项修改，然后重新打包上传。"),
    "error": ("系统未能完成检查", "这不是您的材料的问题；请稍后重新上传，或联系活动管理员。"),
}
SEVERITY_WORDS = {"fail": "必须修改", "warn": "建议修改", "info": "提示"}
SUBTITLE_WORDS = {"embedded": "有（视频内字幕轨）", "sidecar": "有（字幕文件 {path}）", "burned_in": "有（画面内字幕）", "none": "未检测到"}


@cache
def _environment() -> Environment:
    return Environment(loader=PackageLoader("pipeline", "templates"), autoescape=select_autoescape(["html", "j2"]),
                       trim_blocks=True, lstrip_blocks=True)


def _size(size: int | None) -> str:
    if size is None:
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


def _clock(seconds: float) -> str:
    minutes, rest = divmod(max(0.0, seconds), 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}:{minutes:02d}:{rest:04.1f}" if hours else f"{minutes:02d}:{rest:04.1f}"


def _ranges(ranges: list | None, limit: int = 8) -> str:
    if not ranges:
        return ""
    shown = "，".join(f"{_clock(a)}–{_clock(b)}" for a, b in ranges[:limit])
    return shown + (f" 等共{len(ranges)}段" if len(ranges) > limit else "")


def _probe_rows(probe) -> list[tuple[str, str]]:
    if probe is None:
        return [("读取结果", "无法读取")]
    audio = "、".join(f"{a.codec or '?'} {a.channels or '?'}声道" for a in probe.audio) or "无"
    aspect = f"{probe.display_aspect:.3f}" if probe.display_aspect else "?"
    return [
        ("实际格式", f"{probe.container or '?'}{'（MP4）' if probe.is_mp4 else ''}"),
        ("视频编码", " ".join(x for x in (probe.video_codec, probe.video_profile) if x) or "?"),
        ("显示分辨率", f"{probe.display_width or '?'}×{probe.display_height or '?'}"
                     + (f"（存储 {probe.width}×{probe.height}）" if (probe.width, probe.height) != (probe.display_width, probe.display_height) else "")),
        ("画面比例", aspect + ("（16:9）" if probe.display_aspect and abs(probe.display_aspect - 16 / 9) < 0.02 else "")),
        ("旋转", f"{probe.rotation}°"),
        ("时长", format_duration(probe.duration_s)),
        ("帧率", f"{probe.fps:.2f}" if probe.fps else "?"),
        ("码率", f"{probe.bitrate / 1e6:.2f} Mbit/s" if probe.bitrate else "?"),
        ("音频", audio),
    ]


def _qc_rows(video) -> list[tuple[str, str]]:
    subtitles = video.subtitles
    subtitle_text = "未检查"
    if subtitles is not None:
        subtitle_text = SUBTITLE_WORDS[subtitles.kind].format(path=subtitles.evidence.get("path", ""))
        lines = subtitles.evidence.get("lines") or subtitles.evidence.get("first_lines")
        if lines:
            subtitle_text += "：" + " / ".join(lines[:3])
    qc = video.qc
    if qc is None:
        return [("字幕", subtitle_text), ("画面检查", "未进行（视频无法解码）")]

    def segments(items) -> str:
        return _ranges([[s.start, s.end] for s in items]) or "无"

    shake = "无" if not qc.shaky_share else f"抖动时段占{qc.shaky_share * 100:.0f}%：{segments(qc.shaky)}"
    rows = [("黑屏", segments(qc.black)), ("画面静止", segments(qc.frozen)), ("无声", segments(qc.silent)),
            ("画面抖动", shake), ("字幕", subtitle_text)]
    detail = _detail_words(qc.upscale)
    return rows + ([("画面细节", detail)] if detail else [])


WITHHELD_WORDS = {"half_lines": "恰为画面行数的一半，此尺寸在原生画面上也会出现", "weak_knee": "特征不明显",
                  "disagree": "抽样画面不一致", "few_frames": "可判断的画面太少"}


def _detail_words(upscale) -> str:
    """The native-size estimate in words: a finding when firm, evidence for the reviewer when not."""
    if upscale is None:
        return ""
    if upscale.native_height:
        return f"约{upscale.native_width}×{upscale.native_height}（{upscale.frames}帧中{upscale.agreeing_share * 100:.0f}%一致）"
    if upscale.withheld and upscale.suspected_height:
        why = WITHHELD_WORDS.get(upscale.withheld, upscale.withheld)
        return (f"可能只相当于约{upscale.suspected_width}×{upscale.suspected_height}，证据不足（{why}），"
                f"未作判断，请审核时留意")
    return ""


def _duplication_rows(document) -> list[tuple[str, str]]:
    """The measure as CNKI-style reports show it: the rate, the largest source, the template apart, each source's passages."""
    measure = document.duplication
    if not measure:
        return []
    rows = [("重复率（不含模板）", f"{measure['rate'] * 100:.1f}%"),
            ("单篇最大重复率", f"{measure['largest_source_rate'] * 100:.1f}%"),
            ("模板及通用文字占比（不计入）", f"{measure['template_share'] * 100:.1f}%"),
            ("字数", f"共{measure['total_chars']}字，其中本人文字{measure['own_chars']}字、重复{measure['copied_chars']}字")]
    for match in document.best_matches:
        shown = "；".join(f"“{p}”" for p in match.get("passages") or [])
        rows.append((f"来源 {match['submission_id']}", f"{match['rate'] * 100:.1f}%" + (f"：{shown}" if shown else "")))
    return rows


def _tile(sprite: str | None, duration_s: float | None, at_s: float) -> dict | None:
    """The storyboard tile showing second `at_s` (the sprite's grid as pipeline/thumbnails.py makes it)."""
    from .thumbnails import StoryboardSpec

    if not sprite or not duration_s:
        return None
    spec = StoryboardSpec.for_duration(duration_s)
    index = min(spec.tiles - 1, max(0, int(at_s / (duration_s / spec.tiles))))
    return {"src": sprite, "x": (index % spec.columns) * spec.tile_width, "y": (index // spec.columns) * spec.tile_height,
            "w": spec.tile_width, "h": spec.tile_height}


def _reuse_rows(v, storyboard: str | None, asset_prefix: str, embedded: bool) -> list[dict]:
    """Each stretch shared with another submission: both ranges, with a storyboard tile of each
    (the other's only where both submissions' keys share one root: the workers' bucket)."""
    from .layout import Layout

    rows = []
    for m in (v.reuse.matches if v.reuse else []):
        other = None
        if m.source_media and not embedded:
            sid, sha = m.source_media.split("/", 1)
            other = asset_prefix + Layout(sid).thumbnail(sha, "storyboard.jpg")
        what = "、".join({"picture": "画面", "sound": "声音"}.get(b, b) for b in m.by)
        rows.append({"submission_id": m.submission_id, "path": m.path, "what": what,
                     "query": f"{format_duration(m.query[0])}至{format_duration(m.query[1])}",
                     "source": f"{format_duration(m.source[0])}至{format_duration(m.source[1])}",
                     "shares": f"本片{m.query_share * 100:.0f}%，对方{m.source_share * 100:.0f}%",
                     "author": "同一作者" + (f"（{m.other_project}项目）" if m.other_project else "") if m.same_author else "",
                     "report": f"{asset_prefix}reports/{m.submission_id}.html" if not embedded else None,
                     "query_tile": _tile(storyboard, v.reuse.duration_s or (v.probe.duration_s if v.probe else None), m.query[0]),
                     "source_tile": _tile(other, m.source_duration_s, m.source[0])})
    return rows


def page_context(verdict: Verdict, rules: Rules, asset_prefix: str = "") -> dict[str, Any]:
    """What the template shows, already in words; `asset_prefix` leads from the page to the keys."""
    event = verdict.event or {}
    words, hint = STATUS_WORDS[verdict.status]
    findings = []
    for f in verdict.findings:
        findings.append({"severity": f.severity, "severity_words": SEVERITY_WORDS.get(f.severity, f.severity),
                         "message": f.message, "where": f.path or "", "notice": notice_for(f.code, rules),
                         "ranges": _ranges(f.detail.get("ranges"))})
    videos = []
    for v in verdict.videos:
        def asset(key: str | None) -> str | None:
            return asset_prefix + key if key else None
        videos.append({"path": v.path, "role": rules.role_label(v.role), "rendition": asset(v.renditions.get("720p")),
                       "poster": asset(v.thumbnails.get("poster.jpg")), "storyboard": asset(v.thumbnails.get("storyboard.jpg")),
                       "probe": _probe_rows(v.probe), "qc": _qc_rows(v),
                       "reuse": _reuse_rows(v, asset(v.thumbnails.get("storyboard.jpg")), asset_prefix, asset_prefix == "")})
    documents = []
    for d in verdict.documents:
        documents.append({"path": d.path, "role": rules.role_label(d.role), "text_length": d.text_length,
                          "duplication": f"{d.duplication_rate * 100:.1f}%" if d.duplication_rate is not None else "",
                          "duplication_rows": _duplication_rows(d),
                          "form_fields": [(FORM_LABELS.get(k, k), "、".join(v) if isinstance(v, list) else rules.applicant_type_labels.get(str(v), str(v)))
                                          for k, v in (d.form_fields or {}).items()]})
    authors = "、".join(a.get("name", "") for a in event.get("authors") or [] if isinstance(a, dict))
    return {
        "title": event.get("title") or verdict.submission_id,
        "project_label": rules.project_labels.get(verdict.project, verdict.project),
        "district": event.get("district"), "unit": event.get("unit"), "authors": authors,
        "status_words": words, "status_hint": hint, "findings": findings,
        "counts": {s: sum(f.severity == s for f in verdict.findings) for s in ("fail", "warn", "info")},
        "materials": [{"path": m.path, "role": rules.role_label(m.role), "size": _size(m.size),
                       "evidence": _role_evidence(m)} for m in verdict.materials],
        "videos": videos, "documents": documents, "activity": rules.activity,
        "created_at": verdict.created_at.astimezone().strftime("%Y-%m-%d %H:%M"),
    }


INFERRED_SOURCES = ("title", "only_candidate", "best_candidate")


def _role_evidence(material) -> str:
    """识别依据: what was seen (the evidence names its source), flagged when the role is only inferred."""
    evidence = material.role_evidence or ""
    return f"{evidence}（推定，请核对）" if material.role_source in INFERRED_SOURCES else evidence


def render_report(verdict: Verdict, rules: Rules, *, asset_prefix: str = "") -> str:
    """The page's HTML. `asset_prefix`: "" when the page sits beside the keys' root (embedded
    `--out`), "../" for `reports/<id>.html` in the bucket."""
    return _environment().get_template("report.html.j2").render(verdict=verdict, page=page_context(verdict, rules, asset_prefix))


def write_report(ctx: "SubmissionContext", verdict: Verdict) -> str | None:
    """report.html beside the verdict; a page that cannot be rendered is logged, never fatal.

    Returns the page's key, or None."""
    key = ctx.layout.report()
    try:
        html = render_report(verdict, ctx.rules, asset_prefix="" if ctx.layout.embedded else "../")
        ctx.store.put_bytes(key, html.encode("utf-8"), content_type="text/html; charset=utf-8")
    except Exception as exc:  # the verdict stands without its page
        log.error("report_failed", submission_id=ctx.event.submission_id, stage="report", error=type(exc).__name__,
                  reason=str(exc)[:300])
        return None
    return key
