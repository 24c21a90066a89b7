"""One video: its head (the probe, the format rules and what the budget lets the verdict path
analyse), its typed jobs (the one pass of a short video; windows of a long one's picture, its
sound, the subtitle search and the upscale estimate), and their merge: every measurement is
gathered first, then the video is judged once.
"""

from __future__ import annotations

import resource
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import structlog

from .. import cost, ffmpeg, media, reuse, thumbnails
from .. import rules as rulebook
from ..classify import WEAK_SOURCES
from ..errors import PermanentError, ToolError
from ..findings import make_finding
from ..models import (Finding, Material, QcResult, ReuseMatch, ReuseReport, SubtitleReport, VideoJobResult, VideoProbe,
                      VideoReport, VideoScope, flagged_interlaced)
from ..probe import blame_tool_failure, probe_video, tool_source
from ..qc import Picture, Taps, analyse_sound, analyse_window, merge_windows, run_qc
from ..ruleset import Rules
from ..keyframes import sample_video
from ..subtitles import BandSampling, judge_sampled, picture_deadline, without_picture
from ..upscale import LumaSampling
from .context import SubmissionContext, side_by_side

log = structlog.get_logger("pipeline")


@dataclass(frozen=True)
class VideoJob:
    """One job of a video's analysis. Its `name` is what the run stores and the messages carry
    ("whole", "window-3", "sound", "samples"; "subtitles" and "upscale" from before): stable across a deploy."""

    kind: str                     # whole | window | sound | samples (subtitles, upscale: before samples shared their decode)
    index: int = 0                # the window's number

    KINDS = ("whole", "window", "sound", "samples", "subtitles", "upscale")

    @property
    def name(self) -> str:
        return f"window-{self.index}" if self.kind == "window" else self.kind

    @classmethod
    def parse(cls, name: str) -> "VideoJob":
        """Raises:
            ValueError: not a job's name."""
        kind, _, index = name.partition("-")
        if kind not in cls.KINDS or (kind == "window") != index.isdigit():
            raise ValueError(f"no video job {name!r}")
        return cls(kind, int(index) if index else 0)


WHOLE = VideoJob("whole").name


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
    results = side_by_side(ctx, jobs, lambda own, job: run_video_job(own, material, report, job, materials))
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


def _scope(report: VideoReport) -> VideoScope:
    return report.scope or cost.whole_scope(report.probe)


def video_jobs(rules: Rules, probe: VideoProbe, scope: VideoScope | None = None) -> list[str]:
    """How a video's analysis is cut: one job for a short video; for a long one (or one
    analysed in part, with samples of its rest) a job per window of its picture, one for its
    sound and one for the sampled frames (the subtitle search and the upscale estimate, one
    decode), which workers take side by side (the slowest verdicts scale with them)."""
    windows = cost.analysis_windows(scope or cost.whole_scope(probe), rules.qc)
    if not windows:
        return [WHOLE]
    # longest first (workers take them in this order): the subtitle search of a lesson costs
    # more than a window, the sound less
    jobs = [VideoJob("samples"), *(VideoJob("window", i) for i in range(len(windows))), *([VideoJob("sound")] if probe.audio else [])]
    return [job.name for job in jobs]


def run_video_job(ctx: SubmissionContext, material: Material, report: VideoReport, job: str,
                  materials: list[Material]) -> VideoJobResult:
    """One job (by name) of the video the head (`report`: probe and scope) describes; a video
    ffmpeg cannot decode is the result's error, an outage is raised.

    Raises:
        TransientError: the store failed ffmpeg's reads.
        ValueError: `job` names no job.
    """
    typed = VideoJob.parse(job)
    own = replace(ctx, timings={})
    result = VideoJobResult(job=job)
    probe, scope = report.probe, _scope(report)
    try:
        for name, value in _JOBS[typed.kind](own, material, probe, scope, typed, materials).items():
            setattr(result, name, value)
    except PermanentError as exc:
        result.error = {"code": exc.code, "reason": str(exc), "detail": exc.detail}
    result.timings = own.timings
    return result


# job kind -> the result's fields it measures (the QC jobs also give their part of the reuse fingerprint)
_JOBS = {
    "whole": lambda ctx, material, probe, scope, job, materials: quality_check(ctx, material, probe, scope),
    "window": lambda ctx, material, probe, scope, job, materials: picture_window(ctx, material, probe, scope, job.index),
    "sound": lambda ctx, material, probe, scope, job, materials: soundtrack(ctx, material, probe, scope),
    # a boxed picture's estimate is dropped at the merge, when the QC has seen the bars
    "samples": lambda ctx, material, probe, scope, job, materials: sampled(ctx, material, analysed(probe, scope), materials, None,
                                                                          preview_s=media.preview_seconds(probe, scope)),
    "subtitles": lambda ctx, material, probe, scope, job, materials: sampled(ctx, material, analysed(probe, scope), materials, None,
                                                                            upscale=False),
    "upscale": lambda ctx, material, probe, scope, job, materials: sampled(ctx, material, analysed(probe, scope), materials, None,
                                                                          subtitles=False),
}


def finish_video(ctx: SubmissionContext, material: Material, report: VideoReport, findings: list[Finding],
                 results: list[VideoJobResult], materials: list[Material]) -> tuple[VideoReport, list[Finding]]:
    """The jobs' measurements into the report, then the video judged once."""
    for result in results:
        for key, seconds in result.timings.items():
            ctx.timings[key] = ctx.timings.get(key, 0.0) + seconds
    broken = next((result.error for result in results if result.error is not None), None)
    if broken is not None:
        return report, findings + [_unreadable(material, PermanentError(broken["reason"], code=broken["code"], detail=broken["detail"]))]
    measure_video(ctx, material, report, results, materials)
    return report, findings + judge_video(ctx, material, report)


def measure_video(ctx: SubmissionContext, material: Material, report: VideoReport, results: list[VideoJobResult],
                  materials: list[Material]) -> None:
    """QC, the native-size estimate and the subtitles into the report, from the jobs' results
    (and what only the merged QC can tell: the estimate of a boxed picture is dropped)."""
    jobs = {result.job: result for result in results}
    probe, scope = report.probe, _scope(report)
    seen = analysed(probe, scope)
    if WHOLE in jobs:
        report.qc = jobs[WHOLE].qc
        measured = sampled(ctx, material, seen, materials, report.qc, preview_s=media.preview_seconds(probe, scope))
        report.qc.upscale, report.subtitles = measured["upscale"], measured["subtitles"]
    else:
        sound = jobs["sound"].sound if "sound" in jobs else None
        report.qc = merge_windows([r.window for r in results if r.window is not None], sound, qc_picture(seen), ctx.rules.qc)
        upscale = next((r.upscale for r in results if r.upscale is not None), None)
        report.qc.upscale = upscale if upscale_wanted(ctx.rules, probe, report.qc) else None
        report.subtitles = next((r.subtitles for r in results if r.subtitles is not None), None)
    parts = [reuse.Fingerprint.from_json(r.fingerprint) for r in results if r.fingerprint]
    if parts:
        report.reuse = reused(ctx, material, reuse.Fingerprint.merged(parts, scope.analysed_s))


def reused(ctx: SubmissionContext, material: Material, fingerprint: reuse.Fingerprint) -> ReuseReport:
    """The video's stretches shared with earlier submissions, then its fingerprint indexed
    (replacing this submission's earlier run's: a resubmission never matches itself)."""
    report = ReuseReport(frames=len(fingerprint.frames), sound_items=sum(1 for item in fingerprint.audio if item),
                         duration_s=fingerprint.duration_s)
    if ctx.activity is None:
        return report
    rules = ctx.rules.reuse
    with ctx.timed("reuse"):
        key = reuse.media_key(ctx.event.submission_id, material.sha256)
        earlier = ctx.activity.media_prints({key}).get(key)
        first_seen = earlier.first_seen if earlier else time.time()
        matches = reuse.find_reuse(fingerprint, ctx.event.submission_id, first_seen, ctx.activity, rules)
        report.matches = [ReuseMatch(**{k: v for k, v in match.items() if k not in ("cluster", "first_seen")}) for match in matches]
        ctx.activity.register_media(key, ctx.event.submission_id, material.path, reuse.index_keys(fingerprint, rules),
                                    fingerprint.to_json(with_mirrors=False), first_seen, rules.max_holders,
                                    cluster=reuse.cluster_of(matches, key))
    return report


def judge_video(ctx: SubmissionContext, material: Material, report: VideoReport) -> list[Finding]:
    """The rules on what was measured: picture and sound, then subtitles."""
    return (rulebook.check_qc(material.path, report.qc, ctx.rules, report.probe)
            + rulebook.check_subtitles(material.path, material.role, report.subtitles, ctx.rules)
            + rulebook.check_reuse(material.path, report.reuse))


def sampled(ctx: SubmissionContext, material: Material, probe: VideoProbe, materials: list[Material], qc: QcResult | None, *,
            subtitles: bool = True, upscale: bool = True, preview_s: float | None = None) -> dict:
    """The subtitle search (embedded, sidecar, then burned in) and the upscale estimate (where
    `upscale_wanted`) from one sampling decode of the picture (pipeline/keyframes.py); a rotated
    picture is sampled twice (the estimate reads the frames as stored, the search as shown).
    Both are evidence: a picture ffmpeg cannot sample is reported, never raised. The thumbnails
    of a preview of `preview_s` ride on the same decode when it reads that far (`_riders`),
    so the previews decode nothing for them."""
    found, rejected = without_picture(ctx.store, material, materials, probe) if subtitles else (None, [])
    wants_upscale = upscale and upscale_wanted(ctx.rules, probe, qc)
    measured = {**({"subtitles": found} if subtitles else {}), **({"upscale": None} if upscale else {})}
    if (found is not None or not subtitles) and not wants_upscale:
        return measured
    folder = Path(tempfile.mkdtemp(prefix="samples-"))
    try:
        with ctx.timed("samples"), tool_source(ctx.store, material.key) as source:
            bands = BandSampling(probe, ctx.rules.subtitles, _made(folder / "bands")) if subtitles and found is None else None
            luma = (LumaSampling(probe.width, probe.height, probe.duration_s or 0.0, ctx.rules.upscale, _made(folder / "luma"))
                    if wants_upscale else None)
            deadline = picture_deadline(probe, ctx.rules.subtitles)
            riders = _riders(probe, preview_s, folder)
            cpu, failed = _sample(ctx, material, probe, source, [s for s in (bands, luma) if s is not None], deadline,
                                  riders=riders or ())
            if riders is not None and riders[0] not in failed:
                media.keep_sampled_thumbnails(ctx.store, ctx.layout, material, riders, _made(folder / "thumbnails"))
        ctx.timings["samples_cpu"] = ctx.timings.get("samples_cpu", 0.0) + cpu
        if bands is not None:
            with ctx.timed("subtitles"):
                measured["subtitles"] = (SubtitleReport(kind="none", evidence={"error": failed[bands]}) if bands in failed
                                         else _cpu_of(ctx, "subtitles_cpu", judge_sampled, bands, deadline, rejected))
        if luma is not None:
            with ctx.timed("upscale"):
                measured["upscale"] = None if luma in failed else _cpu_of(ctx, "upscale_cpu", luma.estimate, cpu)
        return measured
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _riders(probe: VideoProbe, preview_s: float | None, folder: Path):
    """The thumbnails' riders, where the sampling decode reads as far as the preview covers (a
    video analysed in part whose preview covers more: the previews make its thumbnails)."""
    if preview_s is None or preview_s > (probe.duration_s or 0.0) + 1.0:
        return None
    return thumbnails.sampled_riders(preview_s, _made(folder / "riders"), probe.sample_aspect_ratio)


def _made(folder: Path) -> Path:
    folder.mkdir()
    return folder


def _cpu_of(ctx: SubmissionContext, key: str, work, *args):
    started = time.thread_time()
    try:
        return work(*args)
    finally:
        ctx.timings[key] = ctx.timings.get(key, 0.0) + time.thread_time() - started


def _sample(ctx: SubmissionContext, material: Material, probe: VideoProbe, source: str, samplings: list,
            deadline: float, riders=()) -> tuple[float, dict]:
    """The sampling decodes: one for both consumers, or one each for a rotated picture (the
    estimate without autorotation); `riders` join the decode of the displayed picture (none:
    they are dropped). Returns ffmpeg's CPU seconds and the consumers whose decode failed, with
    the reason the report gives."""
    demuxer = ffmpeg.DEMUXERS.get(probe.container or "")
    rotated = (probe.rotation or 0) % 360 != 0
    groups = [[s] for s in samplings] if rotated else [list(samplings)]
    displayed = next((group for group in groups if not all(isinstance(s, LumaSampling) for s in group)),
                     None if rotated else groups[0])
    if displayed is not None:
        displayed.extend(riders)
    cpu, failed = 0.0, {}
    for group in groups:
        estimate_only = all(isinstance(s, LumaSampling) for s in group)
        # the longest that any consumer in the group allows: the search's deadline, the estimate's timeout
        timeout = max(ctx.rules.upscale.timeout_s if isinstance(s, LumaSampling) else max(10.0, deadline - time.monotonic())
                      for s in group)
        try:
            cpu += sample_video(source, demuxer, group, timeout_s=timeout, threads=ctx.ffmpeg_threads or 1,
                                keep_stderr_lines=ctx.rules.subtitles.max_samples * 4 + 50, autorotate=not estimate_only)
        except ffmpeg.FFmpegError as exc:
            blame_tool_failure(ctx.store, material.key, exc)
            log.warning("samples_failed", path=material.path, timed_out=exc.timed_out, stderr_tail=exc.stderr_tail[-500:])
            failed.update({s: "解码超时" if exc.timed_out else "画面无法抽帧" for s in group})
    return cpu, failed


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


@contextmanager
def tapped(ctx: SubmissionContext, frames: bool, sound: bool):
    """Where a QC pass writes the reuse fingerprint's pictures and sound, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="reuse-"))
    try:
        yield Taps(frames=folder / "frames.gray" if frames else None, pcm=folder / "sound.pcm" if sound else None)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def fingerprint_part(ctx: SubmissionContext, taps: Taps, *, start_s: float = 0.0, until_s: float | None = None) -> dict:
    """This job's part of the reuse fingerprint, from what the pass wrote (its CPU under `reuse_cpu`)."""
    started = time.thread_time()
    part = reuse.Fingerprint()
    if taps.frames is not None:
        part.frames, part.mirrors = reuse.frame_hashes(taps.frames, start_s, until_s=until_s)
    cpu = time.thread_time() - started
    if taps.pcm is not None:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        try:
            part.audio = reuse.drop_silence(reuse.audio_items(taps.pcm, timeout_s=ctx.rules.reuse.fpcalc_timeout_s), taps.pcm)
        except ToolError as exc:            # evidence only: a sound that cannot be fingerprinted is left out
            log.warning("fingerprint_failed", reason=str(exc), stderr_tail=exc.stderr_tail[-300:])
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu += (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    ctx.timings["reuse_cpu"] = ctx.timings.get("reuse_cpu", 0.0) + cpu
    return part.to_json()


def quality_check(ctx: SubmissionContext, material: Material, probe: VideoProbe, scope: VideoScope) -> dict:
    """The one-pass QC of a probed video, over its analysed part, and the reuse fingerprint it feeds.

    Raises:
        PermanentError(code="VIDEO_UNREADABLE"): ffmpeg cannot decode it, or not in time.
        TransientError: the store failed ffmpeg's reads (an outage is not the teacher's fault).
    """
    picture = qc_picture(analysed(probe, scope))
    with decoded(ctx, material, probe, "qc") as (source, demuxer), tapped(ctx, True, bool(probe.audio)) as taps:
        qc, cpu_s = run_qc(source, demuxer, duration_s=picture.duration_s, fps=picture.fps, has_audio=bool(probe.audio),
                           rules=ctx.rules.qc, aspect=picture.aspect, frame_size=picture.frame_size,
                           field_order=picture.field_order, threads=ctx.ffmpeg_threads, partial=scope.limited, taps=taps)
        fingerprint = fingerprint_part(ctx, taps)
    _add_cpu(ctx, cpu_s)
    return {"qc": qc, "fingerprint": fingerprint}


def picture_window(ctx: SubmissionContext, material: Material, probe: VideoProbe, scope: VideoScope, index: int) -> dict:
    """Window `index` of a long video's picture, or of the samples of its rest, and its frames
    of the reuse fingerprint (raises as `quality_check` does)."""
    windows = cost.analysis_windows(scope, ctx.rules.qc)
    if not 0 <= index < len(windows):
        raise ValueError(f"no window {index} of {len(windows)}")
    with decoded(ctx, material, probe, "qc_window") as (source, demuxer), tapped(ctx, True, False) as taps:
        window, cpu_s = analyse_window(source, demuxer, windows[index], qc_picture(probe), ctx.rules.qc, first=index == 0,
                                       threads=ctx.ffmpeg_threads or 1, taps=taps)
        fingerprint = fingerprint_part(ctx, taps, start_s=windows[index][0], until_s=windows[index][1])
    _add_cpu(ctx, cpu_s)
    return {"window": window, "fingerprint": fingerprint}


def soundtrack(ctx: SubmissionContext, material: Material, probe: VideoProbe, scope: VideoScope) -> dict:
    """The sound of a long video in one pass, over its analysed part, and its fingerprint
    (raises as `quality_check` does)."""
    with decoded(ctx, material, probe, "qc_sound") as (source, demuxer), tapped(ctx, False, True) as taps:
        sound, cpu_s = analyse_sound(source, demuxer, scope.analysed_s, ctx.rules.qc, threads=ctx.ffmpeg_threads or 1,
                                     partial=scope.limited, taps=taps)
        fingerprint = fingerprint_part(ctx, taps)
    _add_cpu(ctx, cpu_s)
    return {"sound": sound, "fingerprint": fingerprint}


def upscale_wanted(rules: Rules, probe: VideoProbe, qc: QcResult | None) -> bool:
    """Only a picture that claims 1080 lines; interlaced pictures are left alone (their fields
    are not a picture's lines), and so are boxed ones (the bars are their finding, and their
    edges are no picture detail). Without the QC yet, only what the probe tells."""
    if (probe.height or 0) < rules.upscale.min_height or flagged_interlaced(probe.field_order):
        return False
    return qc is None or qc.active is None or qc.active.area_share >= rules.qc.bars_max_area_share


