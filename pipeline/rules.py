"""The notice's rules applied to measured values: pure functions from facts to findings."""

from __future__ import annotations

from datetime import datetime

from .ruleset import Rules

from .classify import missing_roles
from .findings import format_duration, make_finding
from .models import Author, Finding, Material, QcResult, SubtitleReport, UploadEvent, VideoProbe


def check_deadline(uploaded_at: datetime | None, rules: Rules) -> list[Finding]:
    deadline = rules.deadlines.upload
    if uploaded_at is None or uploaded_at <= deadline:
        return []
    return [make_finding("SUBMITTED_AFTER_DEADLINE", None, uploaded_at=uploaded_at.isoformat(), deadline=deadline.isoformat(),
                         uploaded_at_text=_beijing(uploaded_at), deadline_text=_beijing(deadline))]


def _beijing(moment: datetime) -> str:
    """A time as a teacher reads it: Beijing time, to the minute."""
    from datetime import timedelta, timezone

    local = moment.astimezone(timezone(timedelta(hours=8)))
    return f"{local.year}年{local.month}月{local.day}日{local:%H:%M}（北京时间）"


def _unit_key(unit: str) -> str:
    return "".join(ch for ch in unit if not ch.isspace()).replace("（", "(").replace("）", ")")


def check_authors(event: UploadEvent, rules: Rules, authors: list[Author] | None = None, source: str = "上传信息") -> list[Finding]:
    """AUTHORS_TOO_MANY and AUTHORS_DIFFERENT_UNITS on the event's authors (or the form's)."""
    authors = authors if authors is not None else event.authors
    applicant = event.effective_applicant_type
    findings = []
    limit = rules.authors.max.get(event.project, {}).get(applicant)
    if limit is not None and len(authors) > limit:
        findings.append(make_finding("AUTHORS_TOO_MANY", None, count=len(authors), limit=limit, source=source,
                                     names=[a.name for a in authors]))
    if applicant in rules.authors.same_unit.get(event.project, []) and len(authors) > 1:
        units = {_unit_key(a.unit or event.unit or ""): (a.unit or event.unit or "") for a in authors}
        units.pop("", None)
        if len(units) > 1:
            values = sorted(units.values())
            findings.append(make_finding("AUTHORS_DIFFERENT_UNITS", None, count=len(values), units=values,
                                         units_text="、".join(values)))
    return findings


def check_materials(materials: list[Material], rules: Rules, project: str, applicant_type: str, archive_name: str) -> list[Finding]:
    return [make_finding("MATERIAL_MISSING", None, role=role, label=rules.role_label(role), file_text=archive_name)
            for role in missing_roles(materials, rules, project, applicant_type)]


def check_video(path: str, role: str | None, probe: VideoProbe, rules: Rules, *, role_inferred: bool = False) -> list[Finding]:
    """The notice's format rules on one probed video, on its displayed picture.

    The duration limit depends on the role (6 or 45 minutes): when the role was only inferred
    (the only or the largest video, a title match), going over it is a warning, not a fail."""
    v = rules.video
    findings = []
    if not probe.is_mp4 or (probe.container or "") not in v.containers:
        findings.append(make_finding("VIDEO_NOT_MP4", path, container=_container_label(probe), brand=probe.brand))
    dw, dh = probe.display_width or 0, probe.display_height or 0
    geometry = {"display_width": dw, "display_height": dh, "width": probe.width, "height": probe.height,
                "sample_aspect_ratio": probe.sample_aspect_ratio, "rotation": probe.rotation}
    if max(dw, dh) < v.min_long_side or min(dw, dh) < v.min_short_side:
        findings.append(make_finding("VIDEO_RESOLUTION_LOW", path, **geometry,
                                     required_text=f"{v.min_long_side}x{v.min_short_side}"))
    target = v.aspect[0] / v.aspect[1]
    aspect = dw / dh if dh else 0.0
    if abs(aspect / target - 1) > v.aspect_tolerance:
        findings.append(make_finding("VIDEO_ASPECT_NOT_16_9", path, **geometry, display_aspect=round(aspect, 4),
                                     aspect_text=_aspect_text(dw, dh)))
    limit = v.max_duration_s.get(role or "")
    if limit is not None and probe.duration_s is not None and probe.duration_s > limit + v.duration_tolerance_s:
        findings.append(make_finding("VIDEO_TOO_LONG", path, severity="warn" if role_inferred else None,
                                     duration_s=probe.duration_s, limit_s=limit, role=role, role_inferred=role_inferred,
                                     label=rules.role_label(role) + ("（推定）" if role_inferred else ""),
                                     duration_text=format_duration(probe.duration_s), limit_text=f"{limit / 60:g}分钟"))
    if not probe.audio:
        findings.append(make_finding("VIDEO_NO_AUDIO", path))
    return findings


def _container_label(probe: VideoProbe) -> str:
    names = {"mov": "QuickTime（MOV）", "matroska": "MKV", "webm": "WebM", "avi": "AVI", "flv": "FLV",
             "asf": "WMV/ASF", "mpegts": "MPEG-TS", "mpegps": "MPEG-PS", "3gp": "3GP",
             "isobmff": f"ISO媒体文件（{(probe.brand or '').strip() or '未知品牌'}）"}
    return names.get(probe.container or "", probe.container or "未知")


def _aspect_text(width: int, height: int) -> str:
    if not width or not height:
        return "未知"
    from math import gcd

    g = gcd(width, height)
    ratio = f"{width // g}:{height // g}"
    return ratio if len(ratio) <= 7 else f"{width / height:.2f}:1"


_NAMED_ASPECTS = ((4 / 3, "4:3"), (16 / 9, "16:9"), (1.85, "1.85:1"), (2.35, "2.35:1"), (2.39, "2.39:1"), (1.0, "1:1"),
                  (9 / 16, "9:16"), (3 / 4, "3:4"), (5 / 4, "5:4"), (16 / 10, "16:10"))


def _named_aspect(ratio: float) -> str:
    """The aspect a reviewer would name (4:3, 2.35:1 ...), within 3%; else the ratio itself."""
    nearest, name = min(_NAMED_ASPECTS, key=lambda item: abs(item[0] - ratio))
    return name if abs(nearest - ratio) <= 0.03 * nearest else f"{ratio:.2f}:1"


def check_picture_and_sound(path: str, qc: QcResult, rules: Rules, probe: VideoProbe | None) -> list[Finding]:
    """What metadata cannot tell: black bars, loudness and clipping, interlacing, upscaling."""
    findings = []
    active = qc.active
    if active and active.area_share < rules.qc.bars_max_area_share and active.time_share >= rules.qc.bars_min_time_share:
        sar = (probe.sample_aspect_ratio if probe and probe.sample_aspect_ratio else 1.0)
        aspect = _named_aspect(active.width * sar / active.height) if active.height else "未知"
        kind = "左右" if active.width < active.frame_width * 0.98 else "上下"
        findings.append(make_finding("VIDEO_BLACK_BARS", path, area_pct=active.area_share * 100, time_pct=active.time_share * 100,
                                     aspect_text=aspect, sides=kind, active=[active.x, active.y, active.width, active.height],
                                     frame=[active.frame_width, active.frame_height]))
    sound = qc.loudness
    if sound and sound.integrated_lufs is not None and -70 < sound.integrated_lufs < rules.qc.quiet_lufs:
        findings.append(make_finding("AUDIO_TOO_QUIET", path, lufs=sound.integrated_lufs, limit_lufs=rules.qc.quiet_lufs,
                                     true_peak_dbtp=sound.true_peak_dbtp))
    if sound and sum(s.duration for s in sound.clipped) >= rules.qc.clip_min_s:
        ranges = [[round(s.start, 2), round(s.end, 2)] for s in sound.clipped]
        findings.append(make_finding("AUDIO_CLIPPED", path, count=len(ranges), total_s=round(sum(s.duration for s in sound.clipped), 2),
                                     ranges=ranges[:50], true_peak_dbtp=sound.true_peak_dbtp, lufs=sound.integrated_lufs,
                                     first_text=f"{format_duration(sound.clipped[0].start)}至{format_duration(sound.clipped[0].end)}"))
    fields = qc.interlace
    if fields and fields.flagged:
        # Flagged interlaced and the frames agree: not the 1080p (progressive) the notice asks for,
        # a warning. Flagged only (progressive frames in an interlaced wrapper): information.
        # idet alone says nothing: fast motion in progressive video fools it.
        decided = fields.tff + fields.bff + fields.progressive
        evidence = (f"为隔行扫描（{fields.field_order}，抽查{decided}帧中{fields.tff + fields.bff}帧为隔行）" if fields.confirmed
                    else f"标记为隔行扫描（{fields.field_order}），但抽查的{decided}帧中只有{fields.tff + fields.bff}帧呈隔行")
        findings.append(make_finding("VIDEO_INTERLACED", path, severity="warn" if fields.confirmed else "info",
                                     evidence_text=evidence, field_order=fields.field_order, tff=fields.tff, bff=fields.bff,
                                     progressive=fields.progressive, share=round(fields.interlaced_share, 3)))
    upscale = qc.upscale
    if upscale and upscale.native_height and probe is not None:
        findings.append(make_finding("VIDEO_UPSCALED", path, width=probe.width, height=probe.height,
                                     native_width=upscale.native_width, native_height=upscale.native_height,
                                     share_pct=upscale.agreeing_share * 100, score=upscale.score, frames=upscale.frames,
                                     method=upscale.method))
    return findings


def check_qc(path: str, qc: QcResult, rules: Rules, probe: VideoProbe | None = None) -> list[Finding]:
    """QC findings with their time ranges in `detail`."""
    findings = check_picture_and_sound(path, qc, rules, probe)
    for code, segments in (("VIDEO_BLACK_SEGMENTS", qc.black), ("VIDEO_FROZEN_SEGMENTS", qc.frozen),
                           ("AUDIO_SILENT_SEGMENTS", qc.silent)):
        if segments:
            ranges = [[round(s.start, 2), round(s.end, 2)] for s in segments]
            findings.append(make_finding(code, path, count=len(segments), total_s=round(sum(s.duration for s in segments), 2),
                                         ranges=ranges, first_text=f"{format_duration(segments[0].start)}至{format_duration(segments[0].end)}"))
    if qc.shaky_share is not None and qc.shaky_share >= rules.qc.shake_min_share:
        findings.append(make_finding("VIDEO_SHAKY", path, share_pct=qc.shaky_share * 100, shake_score=qc.shake_score,
                                     ranges=[[round(s.start, 2), round(s.end, 2)] for s in qc.shaky]))
    return findings


def check_subtitles(path: str, role: str | None, report: SubtitleReport | None, rules: Rules) -> list[Finding]:
    """建议关键事件配有字幕: a warning for a project video in which none was found."""
    if report is None or report.kind != "none" or role not in rules.subtitles.roles:
        return []
    seen = report.evidence.get("burned_in") or {}
    samples = seen.get("samples", 0)
    checked = (f"抽查{samples}帧中{seen.get('samples_with_text', 0)}帧有居中文字、{seen.get('distinct_lines', 0)}种不同文字"
               if samples else "未检查")
    return [make_finding("SUBTITLES_ABSENT", path, samples=samples, text_share=seen.get("text_share"),
                         sidecars_rejected=report.evidence.get("sidecars_rejected", []), checked_text=checked)]


def check_main_work(main_sha256: str | None, main_name: str, materials: list[Material], rules: Rules, project: str) -> list[Finding]:
    """The separately uploaded 主作品 must be byte-identical to the archive's main work (四.6(1)):
    the case introduction for cases and teams, the classroom recording for lessons."""
    if main_sha256 is None:
        return []
    main_role = rules.classify.main_roles.get(project)
    same = [m for m in materials if m.sha256 == main_sha256 and m.role != "ignored"]
    if not same:
        return [make_finding("MAIN_WORK_MISMATCH", main_name, reason="与压缩包中的文件不一致或未包含在压缩包中", sha256=main_sha256)]
    if main_role is None or any(m.role == main_role for m in same):
        return []
    member = same[0]
    return [make_finding("MAIN_WORK_MISMATCH", main_name, sha256=main_sha256, member=member.path, member_role=member.role,
                         reason=f"与压缩包中的“{member.path}”（{rules.role_label(member.role)}）相同，"
                                f"而本项目的主作品应为{rules.role_label(main_role)}")]


def check_reuse(path: str, report) -> list[Finding]:
    """VIDEO_REUSED: a stretch of the video agrees with another submission's footage or sound;
    one finding per video, naming the largest match (the earliest source among equals) and the others."""
    if report is None or not report.matches:
        return []
    match, others = report.matches[0], report.matches[1:]
    ranges = f"{format_duration(match.query[0])}至{format_duration(match.query[1])}"
    what = "、".join({"picture": "画面", "sound": "声音"}[b] for b in match.by)
    return [make_finding("VIDEO_REUSED", path, other_submission=match.submission_id, other_path=match.path, by=match.by,
                         query=list(match.query), source=list(match.source), share_pct=match.query_share * 100,
                         source_share_pct=match.source_share * 100, matched=match.matched, speed=match.speed,
                         also=[m.submission_id for m in others], ranges_text=ranges, what_text=what,
                         source_text=f"{format_duration(match.source[0])}至{format_duration(match.source[1])}")]
