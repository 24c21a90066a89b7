"""The distributed flow around the pipeline: load a run's inputs, call a stage, store its part.

Every output has a deterministic key under the run (`parts/<id>/<run>/...`), so a rerun or
a redelivered message overwrites what it wrote before and never adds a second copy.
Messages of a superseded run (a resubmission started a newer one) return quietly.
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
from pathlib import PurePosixPath

import structlog

from config.rules import Rules, cached_rules
from config.settings import Settings, get_settings
from pipeline import ffmpeg, media
from pipeline.classify import analysed_members
from pipeline.errors import EventError, InputVanishedError, PermanentError, TransientError
from pipeline.models import DocumentReport, Finding, Material, UploadEvent, Verdict, VideoReport, parse_event
from pipeline.probe import blame_tool_failure
from pipeline.storage.s3 import S3Store
from pipeline.state.redis import RedisState
from pipeline.submission import (Layout, SubmissionContext, analyse_text, analyse_video, decide_verdict, error_detail,
                                 event_findings, main_work_findings, topic_findings, unpack_object, write_report)

from .state import RunState, new_run_id

log = structlog.get_logger("workers")


@dataclass
class Decided:
    verdict: dict
    callback_url: str | None


@dataclass
class Gathered:
    findings: list[Finding] = field(default_factory=list)
    materials: list[Material] = field(default_factory=list)
    videos: list[VideoReport] = field(default_factory=list)
    documents: list[DocumentReport] = field(default_factory=list)


@dataclass
class Part:
    name: str
    findings: list[Finding]
    timings: dict[str, float]
    video: VideoReport | None = None
    document: DocumentReport | None = None
    materials: list[Material] | None = None
    main_sha256: str | None = None

    def dump(self) -> dict:
        return {"name": self.name, "findings": [f.model_dump(mode="json") for f in self.findings], "timings": self.timings,
                "video": self.video.model_dump(mode="json") if self.video else None,
                "document": self.document.model_dump(mode="json") if self.document else None,
                "materials": [m.model_dump(mode="json") for m in self.materials] if self.materials is not None else None,
                "main_sha256": self.main_sha256}

    @classmethod
    def load(cls, data: dict) -> "Part":
        return cls(name=data["name"], findings=[Finding.model_validate(f) for f in data["findings"]], timings=data["timings"],
                   video=VideoReport.model_validate(data["video"]) if data.get("video") else None,
                   document=DocumentReport.model_validate(data["document"]) if data.get("document") else None,
                   materials=[Material.model_validate(m) for m in data["materials"]] if data.get("materials") is not None else None,
                   main_sha256=data.get("main_sha256"))


class Flow:
    """The runtime's view of stores, Redis state and rules, built once per worker process."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or get_settings()

    @cached_property
    def store(self) -> S3Store:
        store = S3Store.from_settings(self.settings)
        store.ensure_bucket()
        return store

    @cached_property
    def uploads(self) -> S3Store:
        return S3Store.from_settings(self.settings, bucket=self.settings.uploads_bucket)

    @cached_property
    def state(self) -> RunState:
        return RunState.from_url(self.settings.redis_url)

    @cached_property
    def rendition_spec(self) -> media.transcode.RenditionSpec:
        return media.transcode.RenditionSpec(segment_threshold_s=self.settings.segment_threshold_s, segment_s=self.settings.segment_s)

    @property
    def rules(self) -> Rules:
        return cached_rules(str(self.settings.rules))

    # inputs ---------------------------------------------------------------
    def event_key(self, submission_id: str, run_id: str) -> str:
        return f"events/{submission_id}/{run_id}.json"

    def accept_event(self, event: UploadEvent, run_id: str | None = None) -> str:
        """Store the event for this run and make the run current; returns the run id.

        Raises:
            EventError: the archive is not in the uploads bucket.
        """
        if event.archive.bucket != self.settings.uploads_bucket or (event.main_work and event.main_work.bucket != self.settings.uploads_bucket):
            raise EventError(f"archive must be in the uploads bucket {self.settings.uploads_bucket!r}")
        run_id = run_id or new_run_id()
        self.store.put_json(self.event_key(event.submission_id, run_id), event.model_dump(mode="json"))
        self.state.start_run(event.submission_id, run_id)
        return run_id

    def context(self, submission_id: str, run_id: str) -> SubmissionContext | None:
        """The run's context, or None when the run is stale or its event is gone."""
        if not self.state.is_current(submission_id, run_id):
            log.info("stale_run_dropped", run_id=run_id)
            return None
        data = self.store.get_json(self.event_key(submission_id, run_id))
        if data is None:
            log.warning("event_vanished", run_id=run_id)
            return None
        return SubmissionContext(parse_event(data), self.rules, self.store, Layout(submission_id),
                                 ffmpeg_threads=self.settings.ffmpeg_threads, activity=RedisState(self.state.r))

    def save_part(self, ctx: SubmissionContext, run_id: str, part: Part) -> bool:
        """Store a part; True when it was the last one the run waited for."""
        self.store.put_json(ctx.layout.part(run_id, f"{part.name}.json"), part.dump())
        return self.state.part_done(ctx.event.submission_id, run_id, part.name)

    def load_part(self, ctx: SubmissionContext, run_id: str, name: str) -> Part | None:
        data = self.store.get_json(ctx.layout.part(run_id, f"{name}.json"))
        return Part.load(data) if data else None

    # stages ---------------------------------------------------------------
    def unpack(self, submission_id: str, run_id: str) -> list[tuple[str, int]] | None:
        """Unpack the archive; returns the parts to fan out to as (kind, index), or None if stale."""
        ctx = self.context(submission_id, run_id)
        if ctx is None:
            return None
        self.state.set_stage(submission_id, run_id, "unpack")
        started = time.monotonic()
        findings = event_findings(ctx)
        try:
            result = unpack_object(ctx, self.uploads, ctx.event.archive.key)
        except InputVanishedError as exc:
            raise TransientError(f"archive not found yet: {exc}") from exc
        part = Part("unpack", findings + result.findings, {**ctx.timings, "unpack": time.monotonic() - started - ctx.timings.get("classify", 0.0)},
                    materials=result.materials)
        fan_out = fan_out_parts(result.materials, ctx.event, ctx.rules)
        self.store.put_json(ctx.layout.part(run_id, "unpack.json"), part.dump())
        self.state.expect_parts(submission_id, run_id, [f"{kind}-{index}" for kind, index in fan_out])
        self.state.set_stage(submission_id, run_id, "analyse")
        return fan_out

    def _materials(self, ctx: SubmissionContext, run_id: str, index: int) -> list[Material]:
        unpacked = self.load_part(ctx, run_id, "unpack")
        if unpacked is None or unpacked.materials is None or index >= len(unpacked.materials):
            raise TransientError(f"unpack part of run {run_id} not readable yet")
        return unpacked.materials

    def _material(self, ctx: SubmissionContext, run_id: str, index: int) -> Material:
        return self._materials(ctx, run_id, index)[index]

    def video(self, submission_id: str, run_id: str, index: int) -> tuple[bool, bool]:
        """Probe and QC one video; returns (it was the last part, it wants renditions)."""
        ctx = self.context(submission_id, run_id)
        if ctx is None:
            return False, False
        materials = self._materials(ctx, run_id, index)
        started = time.monotonic()
        report, findings = analyse_video(ctx, materials[index], materials=materials)
        timings = {"probe": time.monotonic() - started,
                   **{k: v for k, v in ctx.timings.items() if k in ("qc_cpu", "subtitles", "subtitles_cpu")}}
        wants_media = decodable(report, findings)
        if wants_media:
            # Registered before the part is marked done, so the set is final when the verdict is.
            self.state.expect(submission_id, run_id, "media", [f"media-{index}"], replace=False)
        return self.save_part(ctx, run_id, Part(f"video-{index}", findings, timings, video=report)), wants_media

    def document(self, submission_id: str, run_id: str, index: int) -> bool:
        ctx = self.context(submission_id, run_id)
        if ctx is None:
            return False
        material = self._material(ctx, run_id, index)
        started = time.monotonic()
        report, findings = analyse_text(ctx, material)
        return self.save_part(ctx, run_id, Part(f"document-{index}", findings, {"documents": time.monotonic() - started}, document=report))

    def main_work(self, submission_id: str, run_id: str, index: int = 0) -> bool:
        ctx = self.context(submission_id, run_id)
        if ctx is None:
            return False
        ref = ctx.event.main_work
        started = time.monotonic()
        try:
            digest = self.uploads.sha256(ref.key)
        except InputVanishedError:
            digest = "absent"
        return self.save_part(ctx, run_id, Part("main_work-0", [], {"main_work": time.monotonic() - started}, main_sha256=digest))

    def decide(self, submission_id: str, run_id: str) -> Decided | None:
        """Apply the rules over every part and write the verdict; announce it once per run."""
        ctx = self.context(submission_id, run_id)
        if ctx is None or not self.state.all_done(submission_id, run_id):
            return None
        gathered = self._gather(ctx, run_id, complete=True)
        gathered.findings += topic_findings(ctx)
        verdict = decide_verdict(ctx, gathered.findings, gathered.materials, gathered.videos, gathered.documents, run_id=run_id)
        decided = Decided(self.publish(ctx, run_id, verdict.model_dump(mode="json")), ctx.event.callback_url)
        self.publish_media(submission_id, run_id)   # media may have finished before the rules
        return decided

    def _gather(self, ctx: SubmissionContext, run_id: str, *, complete: bool) -> "Gathered":
        """The stored parts of a run, merged; with `complete`, every part must be there.

        Raises:
            TransientError: `complete` and a part is not readable yet.
        """
        unpacked = self.load_part(ctx, run_id, "unpack")
        gathered = Gathered()
        if unpacked is None:
            if complete:
                raise TransientError("unpack part missing")
            return gathered
        gathered.findings += unpacked.findings
        gathered.materials = unpacked.materials or []
        timings = dict(unpacked.timings)
        for kind, index in fan_out_parts(gathered.materials, ctx.event, ctx.rules):
            part = self.load_part(ctx, run_id, f"{kind}-{index}")
            if part is None:
                if complete:
                    raise TransientError(f"part {kind}-{index} missing")
                continue
            gathered.findings += part.findings
            for key, value in part.timings.items():
                timings[key] = timings.get(key, 0.0) + value
            if part.video:
                gathered.videos.append(part.video)
            if part.document:
                gathered.documents.append(part.document)
            if part.main_sha256 is not None:   # "absent" matches no member: MAIN_WORK_MISMATCH
                name = PurePosixPath(ctx.event.main_work.key).name
                gathered.findings += main_work_findings(ctx, part.main_sha256, name, gathered.materials)
        ctx.timings.update(timings)
        return gathered

    def publish(self, ctx: SubmissionContext, run_id: str, verdict: dict) -> dict:
        sid = ctx.event.submission_id
        key = ctx.layout.verdict()
        self.store.put_json(key, verdict)
        write_report(ctx, Verdict.model_validate(verdict))
        announced = self.state.announce(sid, run_id, "verdict", verdict["status"], key)
        media_pending = bool(self.state.pending(sid, run_id, "media"))
        self.state.finish(sid, run_id, verdict["status"], media_pending=media_pending)
        log.info("verdict_written", status=verdict["status"], key=key, announced=announced,
                 findings=[f["code"] for f in verdict["findings"]])
        return verdict

    def fail_run(self, submission_id: str, run_id: str, stage: str, reason: str) -> dict | None:
        """After a stage gave up: an `error` verdict, so nothing is silently lost."""
        ctx = self.context(submission_id, run_id)
        if ctx is None:
            return None
        exc = RuntimeError(reason)
        gathered = self._gather(ctx, run_id, complete=False)     # what was found before it broke, as the embedded mode keeps
        verdict = decide_verdict(ctx, gathered.findings, gathered.materials, gathered.videos, gathered.documents,
                                 error={**error_detail(stage, exc), "type": "RetriesExhausted"}, run_id=run_id)
        return self.publish(ctx, run_id, verdict.model_dump(mode="json"))

    # media ------------------------------------------------------------------
    def _video(self, ctx: SubmissionContext, run_id: str, index: int) -> tuple[Material, VideoReport]:
        part = self.load_part(ctx, run_id, f"video-{index}")
        if part is None or part.video is None or part.video.probe is None:
            raise TransientError(f"video part {index} of run {run_id} not readable")
        return self._material(ctx, run_id, index), part.video

    def plan_media(self, submission_id: str, run_id: str, index: int) -> list[int]:
        """Thumbnails now; then a short video is encoded in this message (returns []), a long
        one is split and the pieces to encode are returned (segment numbers, -1 for the audio)."""
        ctx = self.context(submission_id, run_id)
        if ctx is None:
            return []
        material, report = self._video(ctx, run_id, index)
        with blamed(self.store, material):
            keys = {"thumbnails": media.make_thumbnails(self.store, ctx.layout, material, report.probe, work_dir=self.settings.work_dir)}
        self.store.put_json(ctx.layout.part(run_id, f"media-{index}-thumbnails.json"), keys)
        spec = self.rendition_spec
        if media.segment_count(report.probe, spec) == 1:
            with blamed(self.store, material):
                renditions = media.make_rendition(self.store, ctx.layout, material, report.probe, work_dir=self.settings.work_dir,
                                                  threads=self.settings.ffmpeg_threads, spec=spec)
            self._media_done(ctx, run_id, index, renditions)
            return []
        with blamed(self.store, material):
            count = media.split_source(self.store, ctx.layout, material, report.probe, work_dir=self.settings.work_dir, spec=spec)
        pieces = [*range(count), *([-1] if report.probe.audio else [])]
        self.state.expect(submission_id, run_id, f"pieces-{index}", [_piece_name(p) for p in pieces])
        return pieces

    def encode_piece(self, submission_id: str, run_id: str, index: int, piece: int) -> bool:
        """Encode one segment (piece >= 0) or the audio (piece == -1); True when it was the last."""
        ctx = self.context(submission_id, run_id)
        if ctx is None:
            return False
        material, report = self._video(ctx, run_id, index)
        with blamed(self.store, material):
            if piece >= 0:
                media.encode_piece(self.store, ctx.layout, material, report.probe, piece, work_dir=self.settings.work_dir,
                                   threads=self.settings.ffmpeg_threads, spec=self.rendition_spec)
            else:
                media.encode_audio_piece(self.store, ctx.layout, material, report.probe, work_dir=self.settings.work_dir,
                                         spec=self.rendition_spec)
        return self.state.mark_done(submission_id, run_id, f"pieces-{index}", _piece_name(piece))

    def join_media(self, submission_id: str, run_id: str, index: int) -> None:
        ctx = self.context(submission_id, run_id)
        if ctx is None or not self.state.complete(submission_id, run_id, f"pieces-{index}"):
            return
        material, report = self._video(ctx, run_id, index)
        count = len([p for p in self.state.expected(submission_id, run_id, f"pieces-{index}") if p.startswith("segment-")])
        with blamed(self.store, material):
            renditions = media.join_pieces(self.store, ctx.layout, material, report.probe, count, work_dir=self.settings.work_dir)
        self._media_done(ctx, run_id, index, renditions)

    def media_failed(self, submission_id: str, run_id: str, index: int, reason: str = "预览生成失败") -> None:
        """A rendition that could not be made: its work objects go, the reason goes into the
        verdict (`videos[].media_error`) and the media notice, and the run still completes."""
        ctx = self.context(submission_id, run_id)
        if ctx is None:
            return
        material, _report = self._video(ctx, run_id, index)
        self.store.delete_prefix(media.work_prefix(ctx.layout, material))
        self.store.put_json(ctx.layout.part(run_id, f"media-{index}-error.json"), {"reason": reason})
        self._media_done(ctx, run_id, index, {})

    def _media_done(self, ctx: SubmissionContext, run_id: str, index: int, renditions: dict[str, str]) -> None:
        self.store.put_json(ctx.layout.part(run_id, f"media-{index}-renditions.json"), renditions)
        if self.state.mark_done(ctx.event.submission_id, run_id, "media", f"media-{index}"):
            self.publish_media(ctx.event.submission_id, run_id)

    def publish_media(self, submission_id: str, run_id: str) -> bool:
        """Merge media keys into this run's verdict (status unchanged) and announce `media` once."""
        ctx = self.context(submission_id, run_id)
        expected = self.state.expected(submission_id, run_id, "media") if ctx else set()
        if ctx is None or not expected or not self.state.complete(submission_id, run_id, "media"):
            return False
        verdict = self.store.get_json(ctx.layout.verdict())
        if verdict is None or verdict.get("run_id") != run_id:
            return False     # the rules are not decided yet: decide() calls this again
        unpacked = self.load_part(ctx, run_id, "unpack")
        paths = {m.path: i for i, m in enumerate(unpacked.materials or [])}
        reasons: list[str] = []
        for video in verdict["videos"]:
            index = paths.get(video["path"])
            if f"media-{index}" in expected:
                video["thumbnails"] = (self.store.get_json(ctx.layout.part(run_id, f"media-{index}-thumbnails.json")) or {}).get("thumbnails", {})
                video["renditions"] = self.store.get_json(ctx.layout.part(run_id, f"media-{index}-renditions.json")) or {}
                failed = self.store.get_json(ctx.layout.part(run_id, f"media-{index}-error.json"))
                if failed:
                    video["media_error"] = failed["reason"]
                    reasons.append(f"{video['path']}: {failed['reason']}")
        self.store.put_json(ctx.layout.verdict(), verdict)
        write_report(ctx, Verdict.model_validate(verdict))
        self.state.announce(submission_id, run_id, "media", verdict["status"], ctx.layout.verdict(), reason="; ".join(reasons))
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


def _piece_name(piece: int) -> str:
    return f"segment-{piece}" if piece >= 0 else "audio"


def decodable(report: VideoReport, findings: list[Finding]) -> bool:
    return report.probe is not None and not any(f.code == "VIDEO_UNREADABLE" for f in findings)


def fan_out_parts(materials: list[Material], event: UploadEvent, rules: Rules) -> list[tuple[str, int]]:
    """The parts a run waits for: one per analysed video and document, one for the main work."""
    videos, documents = analysed_members(materials, rules)
    parts = [("video", i) for i in videos]
    parts += [("document", i) for i in documents]
    if event.main_work is not None:
        parts.append(("main_work", 0))
    return parts


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

