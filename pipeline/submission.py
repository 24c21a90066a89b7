"""The stage bodies of one submission, shared by both executors through `pipeline.plan`.

Each takes the run's context (event, rules, store, layout, activity state) and gives a
report and its findings; bad input is a finding, never an exception.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath

import structlog

from .ruleset import Rules

from . import rules as rulebook
from .classify import WEAK_SOURCES, analysis_limited, classify_materials
from .documents import Content, ContentReader, analyse_document, pdf_form_rows, xlsx_rows
from .errors import InputVanishedError, PermanentError
from .findings import make_finding
from .models import (Author, DocumentReport, Finding, Material, PictureWindow, QcResult, Soundtrack, SubtitleReport, UploadEvent,
                     Upscale, Verdict, VideoJobResult, VideoProbe, VideoReport, VideoScope, flagged_interlaced)
from . import ffmpeg
from .probe import blame_tool_failure, probe_video, tool_source
from .qc import Picture, analyse_sound, analyse_window, merge_windows, run_qc
from .upscale import estimate_native_size
from .subtitles import detect_subtitles
from .storage import ObjectStore
from .unpack import UnpackResult, unpack_archive
from .duplication import duplication_rate
from .layout import Layout
from .state import ActivityState
from .topics import check_topics, normalise_name, normalise_title, similar
from . import cost, forms
from .sandbox import ChildFailed, call_bounded

log = structlog.get_logger("pipeline")


@dataclass
class SubmissionContext:
    event: UploadEvent
    rules: Rules
    store: ObjectStore
    layout: Layout
    timings: dict[str, float] = field(default_factory=dict)
    ffmpeg_threads: int = 0          # 0: ffmpeg decides; workers running one process per core use 1
    activity: ActivityState | None = None   # duplication index and topic register, when kept

    @property
    def project(self) -> str:
        return self.event.project

    @property
    def applicant_type(self) -> str:
        return self.event.effective_applicant_type

    def timed(self, stage: str):
        return _Timer(self.timings, stage)

    @property
    def content(self) -> ContentReader:
        return ContentReader(self.store, self.layout, self.rules.ocr, self.rules.cost.documents)


class _Timer:
    def __init__(self, timings: dict[str, float], stage: str):
        self.timings, self.stage = timings, stage

    def __enter__(self):
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc):
        self.timings[self.stage] = self.timings.get(self.stage, 0.0) + time.monotonic() - self.started
        return False


def event_findings(ctx: SubmissionContext) -> list[Finding]:
    """Rules that need only the event: deadline and authors."""
    return rulebook.check_deadline(ctx.event.uploaded_at, ctx.rules) + rulebook.check_authors(ctx.event, ctx.rules)


def read_registration_form(ctx: SubmissionContext, material: Material, report: DocumentReport, content: Content) -> list[Finding]:
    """The form's fields: from its table (Word, Excel, a PDF's columns, a scan's OCR rows), checked against the event."""
    suffix = PurePosixPath(material.path).suffix.lower()
    rows: list[list[str]] = list(content.rows)
    try:
        if content.method != "ocr" and suffix in (".docx", ".xlsx"):
            reader = forms.docx_rows if suffix == ".docx" else xlsx_rows
            with ctx.store.local_path(material.key) as path:
                rows += call_bounded(reader, str(path), timeout_s=60)
        elif content.method == "pdf":
            with ctx.store.local_path(material.key) as path:
                rows += pdf_form_rows(str(path))
        rows += forms.text_rows(content.text)
    except (ChildFailed, ValueError) as exc:
        return [make_finding("REGISTRATION_FORM_UNPARSED", material.path, reason=str(exc)[:200])]
    fields = forms.parse_rows(rows)
    report.form_fields = fields.as_dict()
    if not (fields.title or fields.authors):
        reason = "扫描件中未能识别出作品名称和作者栏目" if content.method == "ocr" else "未找到作品名称和作者栏目"
        if material.kind == "image" and not content.text.strip():
            reason = "图片中未能识别出文字"
        return [make_finding("REGISTRATION_FORM_UNPARSED", material.path, reason=reason)]
    findings = []
    event = ctx.event
    if fields.title and event.title and similar(normalise_title(fields.title), normalise_title(event.title)) < ctx.rules.topics.title_similarity:
        findings.append(make_finding("REGISTRATION_FORM_MISMATCH", material.path, field="title", label=forms.FORM_LABELS["title"],
                                     form_value=fields.title, event_value=event.title))
    form_project = forms.project_code(fields.project)
    if form_project and form_project != event.project:
        findings.append(make_finding("REGISTRATION_FORM_MISMATCH", material.path, field="project", label=forms.FORM_LABELS["project"],
                                     form_value=fields.project, event_value=event.project))
    event_names = {normalise_name(a.name) for a in event.authors}
    form_names = {normalise_name(a) for a in fields.authors}
    if event_names and form_names and event_names != form_names:
        findings.append(make_finding("REGISTRATION_FORM_MISMATCH", material.path, field="authors", label=forms.FORM_LABELS["authors"],
                                     form_value="、".join(fields.authors), event_value="、".join(a.name for a in event.authors)))
    if not event.authors and fields.authors:
        # The event names no authors: the author rules apply to the form's.
        form_authors = [Author(name=name, unit=fields.unit) for name in fields.authors]
        findings += rulebook.check_authors(event, ctx.rules, form_authors, source="报名表")
    return findings


def topic_findings(ctx: SubmissionContext) -> list[Finding]:
    """同一课题不得重复参加: compare with the activity's register, then register this run."""
    if ctx.activity is None:
        return []
    return check_topics(ctx.event.submission_id, ctx.project, ctx.event.title, [a.name for a in ctx.event.authors],
                        ctx.activity, ctx.rules.topics.title_similarity)


def unpack_submission(ctx: SubmissionContext, source, size: int, archive_name: str) -> UnpackResult:
    """Unpack and classify; members from an earlier run of this submission are removed first."""
    ctx.store.delete_prefix(ctx.layout.members_prefix())
    ctx.store.delete_prefix(ctx.layout.content_prefix())
    result = unpack_archive(source, size, archive_name, ctx.store, ctx.rules, ctx.layout.member)
    with ctx.timed("classify"):
        result.findings += classify_materials(result.materials, ctx.rules, ctx.project, ctx.applicant_type, title=ctx.event.title,
                                              read=ctx.content.read_for_roles, screen=ctx.content.paper_share)
    if not result.stopped:
        result.findings += rulebook.check_materials(result.materials, ctx.rules, ctx.project, ctx.applicant_type, archive_name)
    result.findings += analysis_limited(result.materials, ctx.rules, archive_name)
    return result


def unpack_object(ctx: SubmissionContext, uploads: ObjectStore, key: str) -> UnpackResult:
    """Unpack the archive object `key` of `uploads`; its size is judged before any byte is read.

    Raises:
        InputVanishedError: the upload is gone (the job returns quietly).
    """
    archive_name = PurePosixPath(key).name
    stat = uploads.stat(key)
    if stat is None:
        raise InputVanishedError(f"no archive {key}")
    if stat.size > ctx.rules.archive.max_bytes:
        return unpack_submission(ctx, None, stat.size, archive_name)
    with uploads.open(key) as source:
        return unpack_submission(ctx, source, stat.size, archive_name)


def analyse_video(ctx: SubmissionContext, material: Material, *, materials: list[Material] | None = None,
                  budget_s: float | None = None) -> tuple[VideoReport, list[Finding]]:
    """Probe one video, apply the format rules, then the QC pass and the subtitle search
    (`materials`: the archive's members, for subtitle files beside it); bad video is a finding.
    A long video's jobs run side by side here, as they do on separate workers. `budget_s`:
    its share of the upload's CPU budget (the whole video budget when it is alone)."""
    materials = materials or [material]
    report, findings, jobs = start_video(ctx, material, budget_s)
    if not jobs:
        return report, findings
    if len(jobs) == 1:
        results = [run_video_job(ctx, material, report, jobs[0], materials)]
    else:
        side_by_side = replace(ctx, ffmpeg_threads=ctx.ffmpeg_threads or 1)
        with ThreadPoolExecutor(max_workers=min(len(jobs), os.cpu_count() or 1)) as pool:
            results = list(pool.map(lambda job: run_video_job(side_by_side, material, report, job, materials), jobs))
    return finish_video(ctx, material, report, findings, results, materials)


def findings_stop(findings: list[Finding]) -> bool:
    """The video cannot be decoded: no QC, no previews."""
    return any(f.code == "VIDEO_UNREADABLE" for f in findings)


def start_video(ctx: SubmissionContext, material: Material, budget_s: float | None = None) -> tuple[VideoReport, list[Finding], list[str]]:
    """The probe, the format rules and what of the video the budget lets the verdict path
    analyse: what every later job of the video needs, and those jobs (none for a video the
    probe already found undecodable)."""
    report = VideoReport(path=material.path, role=material.role, sha256=material.sha256)
    try:
        report.probe = probe_video(ctx.store, material.key, timeout_s=ctx.rules.video.probe_timeout_s)
    except PermanentError as exc:
        return report, [_unreadable(material, exc)], []
    findings = rulebook.check_video(material.path, material.role, report.probe, ctx.rules,
                                    role_inferred=material.role_source in WEAK_SOURCES)
    if findings_stop(findings):
        return report, findings, []
    pool = ctx.rules.cost.verdict_cpu_s - ctx.rules.cost.documents_cpu_s
    report.scope = cost.video_scope(report.probe, material.role, pool if budget_s is None else budget_s, ctx.rules)
    if report.scope.limited:
        findings.append(cost.limited_video(material.path, report.scope))
    return report, findings, video_jobs(ctx.rules, report.probe, report.scope)


WHOLE = "whole"


def _scope(report: VideoReport) -> VideoScope:
    return report.scope or cost.whole_scope(report.probe)


def video_jobs(rules: Rules, probe: VideoProbe, scope: VideoScope | None = None) -> list[str]:
    """How a video's analysis is cut: one job for a short video; for a long one (or one
    analysed in part, with samples of its rest) a job per window of its picture, one for its
    sound, one for the subtitle search and one for the upscale estimate, which workers take
    side by side (the slowest verdicts scale with them)."""
    windows = cost.analysis_windows(scope or cost.whole_scope(probe), rules.qc)
    if not windows:
        return [WHOLE]
    # longest first (workers take them in this order): the subtitle search of a lesson costs
    # more than a window, the sound and the upscale estimate less
    return ["subtitles", *(f"window-{i}" for i in range(len(windows))), *(["sound"] if probe.audio else []), "upscale"]


def run_video_job(ctx: SubmissionContext, material: Material, report: VideoReport, job: str,
                  materials: list[Material]) -> VideoJobResult:
    """One job of the video the head (`report`: probe and scope) describes; a video ffmpeg
    cannot decode is the result's error, an outage is raised.

    Raises:
        TransientError: the store failed ffmpeg's reads.
    """
    own = replace(ctx, timings={})
    result = VideoJobResult(job=job)
    probe, scope = report.probe, _scope(report)
    try:
        if job == WHOLE:
            result.qc = quality_check(own, material, probe, scope)
        elif job.startswith("window-"):
            result.window = picture_window(own, material, probe, scope, int(job.removeprefix("window-")))
        elif job == "sound":
            result.sound = soundtrack(own, material, probe, scope)
        elif job == "subtitles":
            result.subtitles = find_subtitles(own, material, analysed(probe, scope), materials)
        elif job == "upscale":
            # a boxed picture's estimate is dropped at the merge
            result.upscale = native_size(own, material, analysed(probe, scope), None)
        else:
            raise ValueError(f"no video job {job!r}")
    except PermanentError as exc:
        result.error = {"code": exc.code, "reason": str(exc), "detail": exc.detail}
    result.timings = own.timings
    return result


def finish_video(ctx: SubmissionContext, material: Material, report: VideoReport, findings: list[Finding],
                 results: list[VideoJobResult], materials: list[Material]) -> tuple[VideoReport, list[Finding]]:
    """The jobs' results into the report, then the QC and subtitle rules."""
    for result in results:
        for key, seconds in result.timings.items():
            ctx.timings[key] = ctx.timings.get(key, 0.0) + seconds
    broken = next((result.error for result in results if result.error is not None), None)
    if broken is not None:
        return report, findings + [_unreadable(material, PermanentError(broken["reason"], code=broken["code"], detail=broken["detail"]))]
    jobs = {result.job: result for result in results}
    probe, scope = report.probe, _scope(report)
    seen = analysed(probe, scope)
    if WHOLE in jobs:
        report.qc = jobs[WHOLE].qc
        report.qc.upscale = native_size(ctx, material, seen, report.qc)
    else:
        sound = jobs["sound"].sound if "sound" in jobs else None
        report.qc = merge_windows([r.window for r in results if r.window is not None], sound, qc_picture(seen), ctx.rules.qc)
        report.qc.upscale = jobs["upscale"].upscale if upscale_wanted(ctx.rules, probe, report.qc) else None
    findings = findings + rulebook.check_qc(material.path, report.qc, ctx.rules, probe)
    report.subtitles = jobs["subtitles"].subtitles if "subtitles" in jobs else find_subtitles(ctx, material, seen, materials)
    findings += rulebook.check_subtitles(material.path, material.role, report.subtitles, ctx.rules)
    return report, findings


def find_subtitles(ctx: SubmissionContext, material: Material, probe: VideoProbe, materials: list[Material]) -> SubtitleReport:
    """Embedded, sidecar or burned-in; a picture ffmpeg cannot sample is reported, never raised."""
    demuxer = ffmpeg.DEMUXERS.get(probe.container or "")
    with ctx.timed("subtitles"), tool_source(ctx.store, material.key) as source:
        try:
            report, cpu_s = detect_subtitles(ctx.store, material, materials, probe, source, demuxer, ctx.rules.subtitles,
                                             threads=ctx.ffmpeg_threads)
        except ffmpeg.FFmpegError as exc:
            blame_tool_failure(ctx.store, material.key, exc)
            log.warning("subtitles_failed", path=material.path, timed_out=exc.timed_out, stderr_tail=exc.stderr_tail[-500:])
            return SubtitleReport(kind="none", evidence={"error": "解码超时" if exc.timed_out else "画面无法抽帧"})
    ctx.timings["subtitles_cpu"] = ctx.timings.get("subtitles_cpu", 0.0) + cpu_s
    return report


def _unreadable(material: Material, exc: PermanentError) -> Finding:
    reason = exc.detail.get("reason") or str(exc)
    return make_finding(exc.code or "VIDEO_UNREADABLE", material.path, reason=reason,
                        **{k: v for k, v in exc.detail.items() if k != "reason"})


def analysed(probe: VideoProbe, scope: VideoScope) -> VideoProbe:
    """The probe as the sampling steps see a video analysed in part: only its analysed seconds."""
    if scope.analysed_s >= (probe.duration_s or 0.0):
        return probe
    return probe.model_copy(update={"duration_s": scope.analysed_s})


def qc_picture(probe: VideoProbe) -> Picture:
    return Picture(duration_s=probe.duration_s or 0.0, fps=probe.fps, frame_size=(probe.width or 0, probe.height or 0),
                   aspect=(probe.display_width or 16) / (probe.display_height or 9), field_order=probe.field_order)


@contextmanager
def decoded(ctx: SubmissionContext, material: Material, probe: VideoProbe, what: str):
    """The source for ffmpeg, and its failure as a finding's error.

    Raises:
        PermanentError(code="VIDEO_UNREADABLE"): ffmpeg cannot decode it, or not in time.
        TransientError: the store failed ffmpeg's reads (an outage is not the teacher's fault).
    """
    if (probe.width or 0) * (probe.height or 0) > ctx.rules.video.max_decode_pixels:
        raise PermanentError("frame too large to decode", code="VIDEO_UNREADABLE",
                             detail={"reason": f"画面尺寸{probe.width}x{probe.height}过大，无法解码"})
    with tool_source(ctx.store, material.key) as source:
        try:
            yield source, ffmpeg.DEMUXERS.get(probe.container or "")
        except ffmpeg.FFmpegError as exc:
            log.warning(f"{what}_failed", path=material.path, returncode=exc.returncode, timed_out=exc.timed_out,
                        cmd=ffmpeg.redact(exc.cmd)[-12:], stderr_tail=exc.stderr_tail[-800:])
            blame_tool_failure(ctx.store, material.key, exc)
            reason = "解码超时" if exc.timed_out else "视频数据无法解码"
            raise PermanentError(f"{what} failed: {exc}", code="VIDEO_UNREADABLE", detail={"reason": reason}) from exc


def _add_cpu(ctx: SubmissionContext, cpu_s: float) -> None:
    ctx.timings["qc_cpu"] = ctx.timings.get("qc_cpu", 0.0) + cpu_s


def quality_check(ctx: SubmissionContext, material: Material, probe: VideoProbe, scope: VideoScope) -> QcResult:
    """The one-pass QC of a probed video, over its analysed part.

    Raises:
        PermanentError(code="VIDEO_UNREADABLE"): ffmpeg cannot decode it, or not in time.
        TransientError: the store failed ffmpeg's reads (an outage is not the teacher's fault).
    """
    picture = qc_picture(analysed(probe, scope))
    with decoded(ctx, material, probe, "qc") as (source, demuxer):
        qc, cpu_s = run_qc(source, demuxer, duration_s=picture.duration_s, fps=picture.fps, has_audio=bool(probe.audio),
                           rules=ctx.rules.qc, aspect=picture.aspect, frame_size=picture.frame_size,
                           field_order=picture.field_order, threads=ctx.ffmpeg_threads, partial=scope.limited)
    _add_cpu(ctx, cpu_s)
    return qc


def picture_window(ctx: SubmissionContext, material: Material, probe: VideoProbe, scope: VideoScope, index: int) -> PictureWindow:
    """Window `index` of a long video's picture, or of the samples of its rest (raises as `quality_check` does)."""
    windows = cost.analysis_windows(scope, ctx.rules.qc)
    if not 0 <= index < len(windows):
        raise ValueError(f"no window {index} of {len(windows)}")
    with decoded(ctx, material, probe, "qc_window") as (source, demuxer):
        window, cpu_s = analyse_window(source, demuxer, windows[index], qc_picture(probe), ctx.rules.qc, first=index == 0,
                                       threads=ctx.ffmpeg_threads or 1)
    _add_cpu(ctx, cpu_s)
    return window


def soundtrack(ctx: SubmissionContext, material: Material, probe: VideoProbe, scope: VideoScope) -> Soundtrack:
    """The sound of a long video in one pass, over its analysed part (raises as `quality_check` does)."""
    with decoded(ctx, material, probe, "qc_sound") as (source, demuxer):
        sound, cpu_s = analyse_sound(source, demuxer, scope.analysed_s, ctx.rules.qc, threads=ctx.ffmpeg_threads or 1,
                                     partial=scope.limited)
    _add_cpu(ctx, cpu_s)
    return sound


def upscale_wanted(rules: Rules, probe: VideoProbe, qc: QcResult | None) -> bool:
    """Only a picture that claims 1080 lines; interlaced pictures are left alone (their fields
    are not a picture's lines), and so are boxed ones (the bars are their finding, and their
    edges are no picture detail). Without the QC yet, only what the probe tells."""
    if (probe.height or 0) < rules.upscale.min_height or flagged_interlaced(probe.field_order):
        return False
    return qc is None or qc.active is None or qc.active.area_share >= rules.qc.bars_max_area_share


def native_size(ctx: SubmissionContext, material: Material, probe: VideoProbe, qc: QcResult | None) -> Upscale | None:
    """The upscale estimate, where `upscale_wanted`. Evidence only: a failure is logged, never raised."""
    rules = ctx.rules.upscale
    if not upscale_wanted(ctx.rules, probe, qc):
        return None
    with ctx.timed("upscale"), tool_source(ctx.store, material.key) as source:
        try:
            estimate, cpu_s = estimate_native_size(source, ffmpeg.DEMUXERS.get(probe.container or ""), width=probe.width,
                                                   height=probe.height, duration_s=probe.duration_s or 0.0, rules=rules,
                                                   threads=ctx.ffmpeg_threads or 1)
        except ffmpeg.FFmpegError as exc:
            blame_tool_failure(ctx.store, material.key, exc)
            log.warning("upscale_failed", path=material.path, timed_out=exc.timed_out, stderr_tail=exc.stderr_tail[-300:])
            return None
    ctx.timings["upscale_cpu"] = ctx.timings.get("upscale_cpu", 0.0) + cpu_s
    return estimate


def analyse_text(ctx: SubmissionContext, material: Material) -> tuple[DocumentReport, list[Finding]]:
    """Extract a document's text; a case introduction is also measured for duplication and
    a registration form is read into its fields and checked against the event."""
    wanted = material.role in ctx.rules.required_roles(ctx.project, ctx.applicant_type)
    report, findings, content = analyse_document(ctx.content, material, ocr=wanted)
    text = content.text
    if report.role == "registration_form":
        if content.error:       # found, but nothing of it can be read: its fields are unread too
            findings.append(make_finding("REGISTRATION_FORM_UNPARSED", material.path, reason=f"文件无法读取：{content.error}"))
        else:
            findings += read_registration_form(ctx, material, report, content)
    rules = ctx.rules.duplication
    if ctx.activity is not None and material.role in rules.roles and text.strip():
        result = duplication_rate(text, ctx.event.submission_id, ctx.activity, rules.settings(), rules.base(), now=time.time())
        report.duplication_rate = result.rate
        report.duplication = {"rate": result.rate, "largest_source_rate": result.largest_source_rate,
                              "template_share": result.template_share, "own_chars": result.own_chars,
                              "copied_chars": result.copied_chars, "total_chars": result.total_chars}
        report.best_matches = [{"submission_id": m.submission_id, "rate": m.rate, "passages": m.passages} for m in result.matches]
        if result.rate >= rules.threshold:
            findings.append(make_finding("DUPLICATION_HIGH", material.path, rate=result.rate, rate_pct=result.rate * 100,
                                         limit_pct=rules.threshold * 100, largest_source_rate=result.largest_source_rate,
                                         template_share=result.template_share, sources=[m.submission_id for m in result.matches]))
    return report, findings


def write_verdict(ctx: SubmissionContext, verdict: Verdict) -> dict:
    """The verdict document under the layout's key, then its page; returns the document."""
    document = verdict.model_dump(mode="json")
    ctx.store.put_json(ctx.layout.verdict(), document)
    write_report(ctx, verdict)
    return document


def write_report(ctx: SubmissionContext, verdict: Verdict) -> str | None:
    """report.html beside the verdict; a page that cannot be rendered is logged, never fatal.

    Returns the page's key, or None."""
    from .report import render_report

    key = ctx.layout.report()
    try:
        html = render_report(verdict, ctx.rules, asset_prefix="" if ctx.layout.embedded else "../")
        ctx.store.put_bytes(key, html.encode("utf-8"), content_type="text/html; charset=utf-8")
    except Exception as exc:  # the verdict stands without its page
        log.error("report_failed", submission_id=ctx.event.submission_id, stage="report", error=type(exc).__name__,
                  reason=str(exc)[:300])
        return None
    return key
