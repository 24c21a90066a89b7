"""The plan of one submission, written once for both executors.

Which parts a submission has (one per analysed video and document, one for a main work
uploaded apart), how one part runs, how the parts' results become the verdict, and how the
previews are merged into it. `pipeline.embedded` runs the plan in one process; the workers'
flow runs each part as a message and stores its result in between. Both get the same
findings in the same order and the same timing keys, because both call these functions.

Adding a stage: write it in `pipeline/`, add a `PartKind` to `PART_KINDS`, and give its
`stage` a line in `config/policy.yaml` (queue, retries, time limit). The workers declare one
actor per kind, the ledger and the reconciler name its messages from it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from . import cost, media
from . import rules as rulebook
from .stages import document as document_stage
from .stages import pictures as pictures_stage
from .stages import unpack as unpack_stage
from .stages import video as video_stage
from .classify import analysed_members
from .errors import InputVanishedError, TransientError
from .layout import Layout
from .models import DocumentReport, Finding, Material, UploadEvent, Verdict, VideoJobResult, VideoReport
from .ruleset import Rules
from .storage import ObjectStore
from .stages.context import SubmissionContext, side_by_side
from .transcode import RenditionSpec
from .verdict import build_verdict


class PartSpec(BaseModel):
    """One part of a run: a kind and the index of its member (0 for the main work)."""

    model_config = ConfigDict(frozen=True)
    kind: str
    index: int = 0

    @property
    def name(self) -> str:
        return Layout.part_name(self.kind, self.index)


class Unpacked(BaseModel):
    """What unpacking gives every part: the members and the findings of the event and the archive."""

    findings: list[Finding] = Field(default_factory=list)
    materials: list[Material] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)


class PartResult(BaseModel):
    part: PartSpec
    findings: list[Finding] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)
    video: VideoReport | None = None
    document: DocumentReport | None = None
    main_sha256: str | None = None
    error: dict | None = None          # the part broke (after its retries): the run's verdict is `error`


class MediaResult(BaseModel):
    """The previews of one video, or why there are none."""

    thumbnails: dict[str, str] = Field(default_factory=dict)
    renditions: dict[str, str] = Field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class Upload:
    """An uploaded file: an object of the uploads bucket, or of the folder `check` was given."""

    store: ObjectStore
    key: str

    @property
    def name(self) -> str:
        return PurePosixPath(self.key).name


@dataclass(frozen=True)
class Inputs:
    archive: Upload
    main_work: Upload | None = None


PartRunner = Callable[[SubmissionContext, int, list[Material], Inputs], dict[str, Any]]


@dataclass(frozen=True)
class FanOut:
    """How a part kind that fans out runs: a head (what every job needs, and the jobs), one job,
    and the merge of the jobs' results into the part. Both executors run these: the embedded
    mode side by side on the machine's cores, the workers as messages when there are several."""

    head: Callable[..., "VideoHead"]
    job: Callable[..., VideoJobResult]
    merge: Callable[..., "PartResult"]


@dataclass(frozen=True)
class PartKind:
    kind: str          # part names are "<kind>-<index>"
    stage: str         # its policy in config/policy.yaml, its log stage and an error verdict's stage
    actor: str         # the workers' actor (a stable name: messages in flight outlive a deploy)
    timing: str        # its key in the verdict's timings
    select: Callable[[list[Material], UploadEvent, Rules], list[int]]
    run: PartRunner | None = None      # a part run in one piece ...
    fans_out: FanOut | None = None     # ... or in jobs
    of_archive: bool = False           # the part looks at the whole archive (its index is 0), not one member


class VideoHead(BaseModel):
    """A video's probe, format findings and the jobs its analysis takes (stored while a long
    video's jobs run on other workers)."""

    report: VideoReport
    findings: list[Finding] = Field(default_factory=list)
    jobs: list[str] = Field(default_factory=list)       # none: the probe already said it cannot be decoded
    seconds: float = 0.0


def video_budget(ctx: SubmissionContext, index: int, materials: list[Material]) -> float:
    """This video's share of the upload's CPU budget (pipeline/cost.py), the same in every executor."""
    return cost.video_budgets(materials, ctx.rules, ctx.project, ctx.applicant_type).get(index, 0.0)


def video_head(ctx: SubmissionContext, index: int, materials: list[Material]) -> VideoHead:
    started = time.monotonic()
    report, findings, jobs = video_stage.start_video(ctx, materials[index], video_budget(ctx, index, materials))
    return VideoHead(report=report, findings=findings, jobs=jobs, seconds=time.monotonic() - started)


def video_job(ctx: SubmissionContext, head: VideoHead, index: int, materials: list[Material], job: str) -> VideoJobResult:
    return video_stage.run_video_job(ctx, materials[index], head.report, job, materials)


def video_result(ctx: SubmissionContext, part: PartSpec, head: VideoHead, results: list[VideoJobResult],
                 materials: list[Material]) -> PartResult:
    """The video part from its head and its jobs' results, with the timings the one message would have."""
    own = replace(ctx, timings={})
    started = time.monotonic()
    report, findings = head.report, head.findings
    if head.jobs:
        report, findings = video_stage.finish_video(own, materials[part.index], head.report, head.findings, results, materials)
    timing = KINDS[part.kind].timing
    spent = head.seconds + time.monotonic() - started       # the jobs' own time is in their keys (qc_cpu ...)
    return PartResult(part=part, video=report, findings=findings, timings={**own.timings, timing: spent})


def _document_part(ctx: SubmissionContext, index: int, materials: list[Material], inputs: Inputs) -> dict[str, Any]:
    report, findings = document_stage.analyse_text(ctx, materials[index])
    return {"document": report, "findings": findings}


def _main_work_part(ctx: SubmissionContext, index: int, materials: list[Material], inputs: Inputs) -> dict[str, Any]:
    """The main work uploaded apart must be one of the archive's members, the one of the project's main role."""
    upload = inputs.main_work
    if upload is None:
        raise TransientError("the run has a main work part but no main work upload")
    try:
        digest = upload.store.sha256(upload.key)
    except InputVanishedError:
        digest = "absent"          # matches no member: MAIN_WORK_MISMATCH
    findings = rulebook.check_main_work(digest, upload.name, materials, ctx.rules, ctx.project)
    return {"main_sha256": digest, "findings": findings}


def _pictures_part(ctx: SubmissionContext, index: int, materials: list[Material], inputs: Inputs) -> dict[str, Any]:
    return {"findings": pictures_stage.reused_pictures(ctx, materials)}


PART_KINDS: tuple[PartKind, ...] = (
    PartKind("video", "video", "analyse_video_part", "probe",
             lambda materials, event, rules: analysed_members(materials, rules)[0],
             fans_out=FanOut(head=video_head, job=video_job, merge=video_result)),
    PartKind("document", "document", "analyse_document_part", "documents",
             lambda materials, event, rules: analysed_members(materials, rules)[1], run=_document_part),
    PartKind("main_work", "main_work", "hash_main_work", "main_work",
             lambda materials, event, rules: [0] if event.main_work is not None else [], run=_main_work_part),
    # one part for all the archive's pictures: they are matched against the activity, bounded per archive
    PartKind("pictures", "pictures", "match_pictures", "pictures",
             lambda materials, event, rules: [0] if pictures_stage.picture_members(materials) else [], run=_pictures_part,
             of_archive=True),
)
KINDS = {kind.kind: kind for kind in PART_KINDS}
UNPACK_STAGE, VERDICT_STAGE = "unpack", "verdict"


def unpack(ctx: SubmissionContext, inputs: Inputs) -> Unpacked:
    """The event's own findings, then the archive unpacked and classified.

    Raises:
        NotThereYet: the archive is not (yet) there.
    """
    own = replace(ctx, timings={})
    started = time.monotonic()
    findings = unpack_stage.event_findings(own)
    result = unpack_stage.unpack_object(own, inputs.archive.store, inputs.archive.key)
    timings = {**own.timings, "unpack": time.monotonic() - started - own.timings.get("classify", 0.0)}
    return Unpacked(findings=findings + result.findings, materials=result.materials, timings=timings)


def parts_of(unpacked: Unpacked, event: UploadEvent, rules: Rules) -> list[PartSpec]:
    """The parts a run waits for, in the order their findings go into the verdict."""
    return [PartSpec(kind=kind.kind, index=index) for kind in PART_KINDS
            for index in kind.select(unpacked.materials, event, rules)]


def part_label(part: PartSpec, unpacked: Unpacked, inputs: Inputs) -> str:
    """What a part works on, for progress lines: a member's path, the main work's or the archive's name."""
    if part.kind == "main_work" and inputs.main_work is not None:
        return inputs.main_work.name
    return inputs.archive.name if KINDS[part.kind].of_archive else unpacked.materials[part.index].path


def run_part(ctx: SubmissionContext, part: PartSpec, unpacked: Unpacked, inputs: Inputs) -> PartResult:
    """One part, with its own timings (the stage's total under the kind's key); a kind that
    fans out runs its jobs side by side here, as separate workers take them."""
    kind = KINDS[part.kind]
    if kind.fans_out is not None:
        hooks, materials = kind.fans_out, unpacked.materials
        head = hooks.head(ctx, part.index, materials)
        results = side_by_side(ctx, head.jobs, lambda own, job: hooks.job(own, head, part.index, materials, job))
        return hooks.merge(ctx, part, head, results, materials)
    own = replace(ctx, timings={})
    started = time.monotonic()
    fields = kind.run(own, part.index, unpacked.materials, inputs)
    timings = {**own.timings, kind.timing: own.timings.get(kind.timing, 0.0) + time.monotonic() - started}
    return PartResult(part=part, timings=timings, **fields)


def failed_part(part: PartSpec, error: dict) -> PartResult:
    """A part that broke: the other parts still count, the verdict says what broke."""
    return PartResult(part=part, error=error)


def preview_in_one(report: VideoReport, spec: RenditionSpec) -> bool:
    """A short preview is encoded in one message; a long one is split at keyframes into pieces
    that any transcoding worker takes (pipeline/transcode.py)."""
    return media.segment_count(report.probe, spec) == 1


def preview_pieces(segments: int, report: VideoReport) -> list[int]:
    """The pieces of a preview cut into `segments`: each segment's encode, then the audio once."""
    return [*range(segments), *([Layout.AUDIO_PIECE] if report.probe.audio else [])]


def wants_media(result: PartResult) -> bool:
    """Previews only for a video ffmpeg could probe and decode."""
    return result.video is not None and result.video.probe is not None and not video_stage.findings_stop(result.findings)


def decide(ctx: SubmissionContext, unpacked: Unpacked | None, results: Iterable[PartResult], *,
           error: dict | None = None, run_id: str | None = None) -> Verdict:
    """The verdict from the parts, in plan order; `error` (or the first part that broke) makes
    it an `error` verdict that keeps whatever the other parts found.

    The topic register is consulted (and this run registered) only when the run completed."""
    unpacked = unpacked or Unpacked()
    results = list(results)
    error = error or next((result.error for result in results if result.error is not None), None)
    findings = list(unpacked.findings)
    timings = dict(unpacked.timings)
    videos: list[VideoReport] = []
    documents: list[DocumentReport] = []
    for result in results:
        findings += result.findings
        for key, seconds in result.timings.items():
            timings[key] = timings.get(key, 0.0) + seconds
        if result.video is not None:
            videos.append(result.video)
        if result.document is not None:
            documents.append(result.document)
    if error is None:
        findings += document_stage.topic_findings(ctx, videos)
    ctx.timings.update(timings)
    return build_verdict(ctx.event, rules_version=ctx.rules.rules_version, findings=findings, materials=unpacked.materials,
                         videos=videos, documents=documents, timings=ctx.timings, error=error, run_id=run_id)


def merge_media(verdict: Verdict, media: dict[str, MediaResult], seconds: float | None) -> list[str]:
    """Put each video's previews (by path) into the verdict in place; returns the reasons of
    the videos that have none. The status never changes: previews are not a rule."""
    reasons = []
    for video in verdict.videos:
        result = media.get(video.path)
        if result is None:
            continue
        video.thumbnails, video.renditions, video.media_error = result.thumbnails, result.renditions, result.error
        if result.error:
            reasons.append(f"{video.path}: {result.error}")
    if seconds is not None:
        verdict.timings["media"] = round(seconds, 3)
    return reasons


def error_detail(stage: str, exc: BaseException | None = None, *, error_type: str | None = None, reason: str = "",
                 retryable: bool | None = None) -> dict:
    """What an `error` verdict says about the failure: the stage, the exception's class and
    message (from `exc`, or as the workers read them off a failed message), no traceback."""
    if exc is not None:
        error_type, reason = type(exc).__name__, str(exc)
        retryable = isinstance(exc, TransientError) if retryable is None else retryable
    return {"stage": stage, "type": error_type or "Error", "reason": reason[:500], "retryable": bool(retryable)}
