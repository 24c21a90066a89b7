"""The distributed executor of the plan: each part a message, its result an object, the
run's completion a set in the run state.

`pipeline.plan` says which parts a run has, how one runs and how they become the verdict;
this module only stores part results, tracks completion and announces. Every output has a
deterministic key under the run (`Layout`), so a rerun or a redelivered message overwrites
what it wrote before and never adds a second copy. Messages of a superseded run (a
resubmission started a newer one) return quietly. Store, uploads, run state and activity
state are passed in (or built from the settings), so the flow runs on a local folder and
SQLite as well as on S3 and Redis.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property

import structlog

from config.rules import cached_rules
from config.settings import Settings
from pipeline import ffmpeg, media, plan
from pipeline.errors import EventError, InputVanishedError, PermanentError, TransientError
from pipeline.layout import Layout
from pipeline.models import Material, UploadEvent, Verdict, VideoJobResult, VideoReport, parse_event
from pipeline.probe import blame_tool_failure
from pipeline.ruleset import Rules
from pipeline.state import ActivityState
from pipeline.storage import ObjectStore
from pipeline.submission import SubmissionContext, write_verdict

from .state import FlowState, new_run_id

log = structlog.get_logger("workers")


@dataclass
class PartOutcome:
    last: bool = False               # the run waited for nothing else: decide
    wants_media: bool = False        # a decodable video: make its previews
    jobs: list[str] = field(default_factory=list)    # a long video's jobs to send


@dataclass
class Decided:
    verdict: dict
    callback_url: str | None


class Flow:
    """The runtime's view of stores, run state and rules, built once per worker process."""

    def __init__(self, settings: Settings, *, store: ObjectStore | None = None, uploads: ObjectStore | None = None,
                 state: FlowState | None = None, activity: ActivityState | None = None):
        self.settings = settings
        for name, given in (("store", store), ("uploads", uploads), ("state", state), ("activity", activity)):
            if given is not None:
                setattr(self, name, given)      # takes the place of the cached property below

    @cached_property
    def store(self) -> ObjectStore:
        from pipeline.storage.s3 import S3Store

        store = S3Store.from_settings(self.settings)
        store.ensure_bucket()
        return store

    @cached_property
    def uploads(self) -> ObjectStore:
        from pipeline.storage.s3 import S3Store

        return S3Store.from_settings(self.settings, bucket=self.settings.uploads_bucket)

    @cached_property
    def state(self) -> FlowState:
        from .state import RunState

        return RunState.from_url(self.settings.redis_url)

    @cached_property
    def activity(self) -> ActivityState:
        from pipeline.state.redis import RedisState

        return RedisState(self.state.r)

    @cached_property
    def rendition_spec(self) -> media.transcode.RenditionSpec:
        return media.transcode.RenditionSpec(segment_threshold_s=self.settings.segment_threshold_s, segment_s=self.settings.segment_s)

    @property
    def rules(self) -> Rules:
        return cached_rules(str(self.settings.rules))

    # inputs ---------------------------------------------------------------
    def accept_event(self, event: UploadEvent, run_id: str | None = None) -> str:
        """Store the event for this run and make the run current; returns the run id.

        Raises:
            EventError: the archive is not in the uploads bucket.
        """
        if event.archive.bucket != self.settings.uploads_bucket or (event.main_work and event.main_work.bucket != self.settings.uploads_bucket):
            raise EventError(f"archive must be in the uploads bucket {self.settings.uploads_bucket!r}")
        run_id = run_id or new_run_id()
        self.store.put_json(Layout(event.submission_id).event(run_id), event.model_dump(mode="json"))
        self.state.start_run(event.submission_id, run_id)
        return run_id

    def context(self, submission_id: str, run_id: str) -> SubmissionContext | None:
        """The run's context, or None when the run is stale or its event is gone."""
        if not self.state.is_current(submission_id, run_id):
            log.info("stale_run_dropped", run_id=run_id)
            return None
        data = self.store.get_json(Layout(submission_id).event(run_id))
        if data is None:
            log.warning("event_vanished", run_id=run_id)
            return None
        return SubmissionContext(parse_event(data), self.rules, self.store, Layout(submission_id),
                                 ffmpeg_threads=self.settings.ffmpeg_threads, activity=self.activity)

    def inputs(self, event: UploadEvent) -> plan.Inputs:
        main_work = plan.Upload(self.uploads, event.main_work.key) if event.main_work is not None else None
        return plan.Inputs(plan.Upload(self.uploads, event.archive.key), main_work)

    def _unpacked(self, ctx: SubmissionContext, run_id: str) -> plan.Unpacked | None:
        data = self.store.get_json(ctx.layout.unpacked(run_id))
        return plan.Unpacked.model_validate(data) if data else None

    def _result(self, ctx: SubmissionContext, run_id: str, name: str) -> plan.PartResult | None:
        data = self.store.get_json(ctx.layout.part_result(run_id, name))
        return plan.PartResult.model_validate(data) if data else None

    # the plan's parts --------------------------------------------------------
    def unpack(self, submission_id: str, run_id: str) -> list[plan.PartSpec] | None:
        """Unpack the archive; returns the parts to send, or None if the run is stale."""
        ctx = self.context(submission_id, run_id)
        if ctx is None:
            return None
        self.state.set_stage(submission_id, run_id, plan.UNPACK_STAGE)
        try:
            unpacked = plan.unpack(ctx, self.inputs(ctx.event))
        except InputVanishedError as exc:
            raise TransientError(f"archive not found yet: {exc}") from exc
        parts = plan.parts_of(unpacked, ctx.event, ctx.rules)
        self.store.put_json(ctx.layout.unpacked(run_id), unpacked.model_dump(mode="json"))
        self.state.expect_parts(submission_id, run_id, [part.name for part in parts])
        self.state.set_stage(submission_id, run_id, "analyse")
        return parts

    def run_part(self, submission_id: str, run_id: str, kind: str, index: int) -> PartOutcome:
        """One part of the plan. A long video's part only probes it and returns the jobs to
        send (windows, sound, subtitles, upscale); `finish_video` completes it."""
        ctx = self.context(submission_id, run_id)
        if ctx is None:
            return PartOutcome()
        unpacked = self._unpacked(ctx, run_id)
        part = plan.PartSpec(kind=kind, index=index)
        if unpacked is None or part not in plan.parts_of(unpacked, ctx.event, ctx.rules):
            raise TransientError(f"part {part.name} is not (yet) among the parts of run {run_id}")
        if kind != "video":
            return self._part_finished(ctx, run_id, plan.run_part(ctx, part, unpacked, self.inputs(ctx.event)))
        head = plan.video_head(ctx, index, unpacked.materials)
        if len(head.jobs) > 1:
            self.store.put_json(ctx.layout.video_head(run_id, index), head.model_dump(mode="json"))
            self.state.expect(submission_id, run_id, Layout.jobs_group(index), head.jobs)
            return PartOutcome(jobs=head.jobs)
        results = [plan.video_job(ctx, head, index, unpacked.materials, job) for job in head.jobs]
        return self._part_finished(ctx, run_id, plan.video_result(ctx, part, head, results, unpacked.materials))

    def run_video_job(self, submission_id: str, run_id: str, index: int, job: str) -> bool:
        """One job of a long video's analysis; True when it was the last of them."""
        ctx = self.context(submission_id, run_id)
        if ctx is None:
            return False
        unpacked, head = self._video_head(ctx, run_id, index)
        result = plan.video_job(ctx, head, index, unpacked.materials, job)
        self.store.put_json(ctx.layout.video_job(run_id, index, job), result.model_dump(mode="json"))
        return self.state.mark_done(submission_id, run_id, Layout.jobs_group(index), job)

    def finish_video(self, submission_id: str, run_id: str, index: int) -> PartOutcome:
        """Merge a long video's jobs into its part, as the one message would have made it."""
        ctx = self.context(submission_id, run_id)
        if ctx is None or not self.state.complete(submission_id, run_id, Layout.jobs_group(index)):
            return PartOutcome()
        unpacked, head = self._video_head(ctx, run_id, index)
        results = []
        for job in head.jobs:
            data = self.store.get_json(ctx.layout.video_job(run_id, index, job))
            if data is None:
                raise TransientError(f"job {job} of video {index} not readable")
            results.append(VideoJobResult.model_validate(data))
        part = plan.PartSpec(kind="video", index=index)
        return self._part_finished(ctx, run_id, plan.video_result(ctx, part, head, results, unpacked.materials))

    def _video_head(self, ctx: SubmissionContext, run_id: str, index: int) -> tuple[plan.Unpacked, plan.VideoHead]:
        unpacked = self._unpacked(ctx, run_id)
        data = self.store.get_json(ctx.layout.video_head(run_id, index))
        if unpacked is None or data is None:
            raise TransientError(f"video {index} of run {run_id} has no stored head")
        return unpacked, plan.VideoHead.model_validate(data)

    def _part_finished(self, ctx: SubmissionContext, run_id: str, result: plan.PartResult) -> PartOutcome:
        submission_id = ctx.event.submission_id
        wants_media = plan.wants_media(result)
        if wants_media:
            # Registered before the part is marked done, so the set is final when the verdict is.
            self.state.expect(submission_id, run_id, "media", [Layout.media_name(result.part.index)], replace=False)
        self.store.put_json(ctx.layout.part_result(run_id, result.part.name), result.model_dump(mode="json"))
        return PartOutcome(last=self.state.part_done(submission_id, run_id, result.part.name), wants_media=wants_media)

    def part_gave_up(self, submission_id: str, run_id: str, kind: str, index: int, error: dict) -> bool:
        """A part out of retries is stored as failed and counts as done: the run still decides,
        with an `error` verdict that keeps the other parts. True when it was the last part."""
        ctx = self.context(submission_id, run_id)
        if ctx is None:
            return False
        part = plan.PartSpec(kind=kind, index=index)
        stored = self._result(ctx, run_id, part.name)
        if stored is None or stored.error is not None:     # a copy that succeeded stands
            self.store.put_json(ctx.layout.part_result(run_id, part.name), plan.failed_part(part, error).model_dump(mode="json"))
        return self.state.part_done(submission_id, run_id, part.name)

    def decide(self, submission_id: str, run_id: str) -> Decided | None:
        """Apply the rules over every part and write the verdict; announce it once per run."""
        ctx = self.context(submission_id, run_id)
        if ctx is None or not self.state.all_done(submission_id, run_id):
            return None
        unpacked, results = self._gather(ctx, run_id, complete=True)
        verdict = plan.decide(ctx, unpacked, results, run_id=run_id)
        decided = Decided(self.publish(ctx, run_id, verdict), ctx.event.callback_url)
        self.publish_media(submission_id, run_id)   # media may have finished before the rules
        return decided

    def _gather(self, ctx: SubmissionContext, run_id: str, *, complete: bool) -> tuple[plan.Unpacked | None, list[plan.PartResult]]:
        """The stored parts of a run in plan order; with `complete`, every part must be there.

        Raises:
            TransientError: `complete` and a part is not readable yet.
        """
        unpacked = self._unpacked(ctx, run_id)
        if unpacked is None:
            if complete:
                raise TransientError("unpack part missing")
            return None, []
        results = []
        for part in plan.parts_of(unpacked, ctx.event, ctx.rules):
            result = self._result(ctx, run_id, part.name)
            if result is None and complete:
                raise TransientError(f"part {part.name} missing")
            if result is not None:
                results.append(result)
        return unpacked, results

    def publish(self, ctx: SubmissionContext, run_id: str, verdict: Verdict) -> dict:
        sid = ctx.event.submission_id
        key = ctx.layout.verdict()
        document = write_verdict(ctx, verdict)
        announced = self.state.announce(sid, run_id, "verdict", verdict.status, key)
        if announced:
            self.state.record_verdict(sid, run_id, verdict.status)
        media_pending = bool(self.state.pending(sid, run_id, "media"))
        self.state.finish(sid, run_id, verdict.status, media_pending=media_pending)
        log.info("verdict_written", status=verdict.status, key=key, announced=announced,
                 findings=[f.code for f in verdict.findings])
        return document

    def fail_run(self, submission_id: str, run_id: str, stage: str, reason: str, *, error_type: str = "RetriesExhausted",
                 retryable: bool = False) -> dict | None:
        """After the unpack or the verdict stage gave up, or the reconciler gave up on a lost
        message: an `error` verdict now, with what the parts stored so far found."""
        ctx = self.context(submission_id, run_id)
        if ctx is None:
            return None
        unpacked, results = self._gather(ctx, run_id, complete=False)
        error = plan.error_detail(stage, error_type=error_type, reason=reason, retryable=retryable)
        return self.publish(ctx, run_id, plan.decide(ctx, unpacked, results, error=error, run_id=run_id))

    # previews ---------------------------------------------------------------
    def _video(self, ctx: SubmissionContext, run_id: str, index: int) -> tuple[Material, VideoReport]:
        unpacked = self._unpacked(ctx, run_id)
        result = self._result(ctx, run_id, Layout.part_name("video", index))
        if unpacked is None or result is None or result.video is None or result.video.probe is None:
            raise TransientError(f"video part {index} of run {run_id} not readable")
        return unpacked.materials[index], result.video

    @contextmanager
    def _timed_media(self, submission_id: str, run_id: str):
        started = time.monotonic()
        try:
            yield
        finally:
            self.state.add_seconds(submission_id, run_id, "media", time.monotonic() - started)

    def plan_media(self, submission_id: str, run_id: str, index: int) -> list[int]:
        """Thumbnails now; then a short video is encoded in this message (returns []), a long
        one is split and the pieces to encode are returned (segment numbers, -1 for the audio)."""
        ctx = self.context(submission_id, run_id)
        if ctx is None:
            return []
        material, report = self._video(ctx, run_id, index)
        spec = media.spec_for(report, self.rendition_spec)
        with self._timed_media(submission_id, run_id), blamed(self.store, material):
            thumbnails = media.make_thumbnails(self.store, ctx.layout, material, report.probe, work_dir=self.settings.work_dir,
                                               spec=spec)
            self.store.put_json(ctx.layout.media_thumbnails(run_id, index), thumbnails)
            whole = media.segment_count(report.probe, spec) == 1
            if whole:
                renditions = media.make_rendition(self.store, ctx.layout, material, report.probe, work_dir=self.settings.work_dir,
                                                  threads=self.settings.ffmpeg_threads, spec=spec)
            else:
                count = media.split_source(self.store, ctx.layout, material, report.probe, work_dir=self.settings.work_dir, spec=spec)
        if whole:
            self._media_done(ctx, run_id, index, plan.MediaResult(thumbnails=thumbnails, renditions=renditions))
            return []
        if not count:
            raise PermanentError(f"splitting {material.path} gave no segments")
        pieces = [*range(count), *([-1] if report.probe.audio else [])]
        self.state.expect(submission_id, run_id, Layout.pieces_group(index), [Layout.piece_name(p) for p in pieces])
        return pieces

    def encode_piece(self, submission_id: str, run_id: str, index: int, piece: int) -> bool:
        """Encode one segment (piece >= 0) or the audio (piece == -1); True when it was the last."""
        ctx = self.context(submission_id, run_id)
        if ctx is None:
            return False
        material, report = self._video(ctx, run_id, index)
        spec = media.spec_for(report, self.rendition_spec)
        with self._timed_media(submission_id, run_id), blamed(self.store, material):
            if piece >= 0:
                media.encode_piece(self.store, ctx.layout, material, report.probe, piece, work_dir=self.settings.work_dir,
                                   threads=self.settings.ffmpeg_threads, spec=spec)
            else:
                media.encode_audio_piece(self.store, ctx.layout, material, report.probe, work_dir=self.settings.work_dir,
                                         spec=spec)
        return self.state.mark_done(submission_id, run_id, Layout.pieces_group(index), Layout.piece_name(piece))

    def join_media(self, submission_id: str, run_id: str, index: int) -> None:
        ctx = self.context(submission_id, run_id)
        group = Layout.pieces_group(index)
        if ctx is None or not self.state.complete(submission_id, run_id, group):
            return
        material, report = self._video(ctx, run_id, index)
        count = len([p for p in self.state.expected(submission_id, run_id, group) if p != Layout.piece_name(-1)])
        with self._timed_media(submission_id, run_id), blamed(self.store, material):
            renditions = media.join_pieces(self.store, ctx.layout, material, report.probe, count, work_dir=self.settings.work_dir)
        self._media_done(ctx, run_id, index, plan.MediaResult(thumbnails=self._thumbnails(ctx, run_id, index), renditions=renditions))

    def media_failed(self, submission_id: str, run_id: str, index: int, reason: str = "预览生成失败") -> None:
        """A rendition that could not be made: its work objects go, the reason goes into the
        verdict (`videos[].media_error`) and the media notice, and the run still completes."""
        ctx = self.context(submission_id, run_id)
        if ctx is None:
            return
        material, _report = self._video(ctx, run_id, index)
        self.store.delete_prefix(media.work_prefix(ctx.layout, material))
        self._media_done(ctx, run_id, index, plan.MediaResult(thumbnails=self._thumbnails(ctx, run_id, index), error=reason))

    def _thumbnails(self, ctx: SubmissionContext, run_id: str, index: int) -> dict[str, str]:
        return self.store.get_json(ctx.layout.media_thumbnails(run_id, index)) or {}

    def _media_done(self, ctx: SubmissionContext, run_id: str, index: int, result: plan.MediaResult) -> None:
        self.store.put_json(ctx.layout.media_result(run_id, index), result.model_dump(mode="json"))
        if self.state.mark_done(ctx.event.submission_id, run_id, "media", Layout.media_name(index)):
            self.publish_media(ctx.event.submission_id, run_id)

    def publish_media(self, submission_id: str, run_id: str) -> bool:
        """Merge the previews into this run's verdict (status unchanged) and announce `media` once."""
        ctx = self.context(submission_id, run_id)
        expected = self.state.expected(submission_id, run_id, "media") if ctx else set()
        if ctx is None or not expected or not self.state.complete(submission_id, run_id, "media"):
            return False
        stored = self.store.get_json(ctx.layout.verdict())
        unpacked = self._unpacked(ctx, run_id)
        if stored is None or stored.get("run_id") != run_id or unpacked is None:
            return False     # the rules are not decided yet: decide() calls this again
        verdict = Verdict.model_validate(stored)
        made = {}
        for index, material in enumerate(unpacked.materials):
            data = self.store.get_json(ctx.layout.media_result(run_id, index)) if Layout.media_name(index) in expected else None
            if data is not None:
                made[material.path] = plan.MediaResult.model_validate(data)
        reasons = plan.merge_media(verdict, made, self.state.seconds(submission_id, run_id, "media"))
        write_verdict(ctx, verdict)
        self.state.announce(submission_id, run_id, "media", verdict.status, ctx.layout.verdict(), reason="; ".join(reasons))
        self.state.media_finished(submission_id)
        return True

    # write-back -----------------------------------------------------------
    def deliver_callback(self, submission_id: str, run_id: str) -> int | None:
        """POST the verdict to the event's callback URL, signed; raises TransientError to retry."""
        ctx = self.context(submission_id, run_id)
        if ctx is None or not ctx.event.callback_url:
            return None
        body = self.store.get_bytes(ctx.layout.verdict())
        status = post_signed(ctx.event.callback_url, body, self.settings.callback_secret.get_secret_value())
        log.info("callback_delivered", http_status=status)
        return status


@contextmanager
def blamed(store, material: Material):
    """An encode that fails on its input is not retried; one that failed on the store is."""
    try:
        yield
    except ffmpeg.FFmpegError as exc:
        blame_tool_failure(store, material.key, exc)        # raises TransientError for an outage
        raise PermanentError(f"ffmpeg failed on {material.path}: {exc}") from exc


def sign(body: bytes, secret: str) -> str:
    """The `X-Smartedu-Signature` header value: HMAC-SHA256 of the exact body bytes."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_signed(url: str, body: bytes, secret: str, timeout_s: float = 10) -> int:
    if not url.startswith(("http://", "https://")):
        raise EventError(f"callback URL scheme not allowed: {url[:40]}")
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "X-Smartedu-Signature": sign(body, secret), "User-Agent": "smartedu-pipeline"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 (scheme checked above)
            return response.status
    except urllib.error.HTTPError as exc:
        if 400 <= exc.code < 500 and exc.code not in (408, 429):
            raise EventError(f"callback refused with HTTP {exc.code}") from exc
        raise TransientError(f"callback answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise TransientError(f"callback unreachable: {exc}") from exc

