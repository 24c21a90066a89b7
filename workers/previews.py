"""The previews of a run's videos in the workers: thumbnails and a 720p rendition, a long one
in pieces (`pipeline.plan.preview_pieces`) that any transcoding worker takes, joined by the
last; merged into the verdict (status unchanged) with a `media` notice once all are done."""

from __future__ import annotations

import time
from contextlib import contextmanager

import structlog

from pipeline import ffmpeg, media, plan
from pipeline.errors import NotThereYet, PermanentError
from pipeline.layout import Layout
from pipeline.models import Material, Verdict, VideoReport
from pipeline.probe import blame_tool_failure
from pipeline.stages.context import SubmissionContext
from pipeline.verdict import write_verdict

log = structlog.get_logger("workers")


class Previews:
    def __init__(self, flow):
        self.flow = flow

    @property
    def state(self):
        return self.flow.state

    @property
    def store(self):
        return self.flow.store

    def _video(self, ctx: SubmissionContext, run_id: str, index: int) -> tuple[Material, VideoReport]:
        unpacked = self.flow.unpacked(ctx, run_id)
        result = self.flow.result(ctx, run_id, Layout.part_name("video", index))
        if unpacked is None or result is None or result.video is None or result.video.probe is None:
            raise NotThereYet(f"video part {index} of run {run_id} not readable")
        return unpacked.materials[index], result.video

    @contextmanager
    def _timed(self, submission_id: str, run_id: str):
        started = time.monotonic()
        try:
            yield
        finally:
            self.state.add_seconds(submission_id, run_id, "media", time.monotonic() - started)

    def plan(self, submission_id: str, run_id: str, index: int) -> list[int]:
        """Thumbnails now; then a short video is encoded in this message (returns []), a long
        one is split and the pieces to encode are returned (segment numbers, then the audio)."""
        ctx = self.flow.context(submission_id, run_id)
        if ctx is None:
            return []
        material, report = self._video(ctx, run_id, index)
        spec = media.spec_for(report, self.flow.rendition_spec)
        work_dir = self.flow.settings.work_dir
        with self._timed(submission_id, run_id), blamed(self.store, material):
            thumbnails = media.make_thumbnails(self.store, ctx.layout, material, report.probe, work_dir=work_dir, spec=spec)
            self.store.put_json(ctx.layout.media_thumbnails(run_id, index), thumbnails)
            whole = plan.preview_in_one(report, spec)
            if whole:
                renditions = media.make_rendition(self.store, ctx.layout, material, report.probe, work_dir=work_dir,
                                                  threads=self.flow.settings.ffmpeg_threads, spec=spec)
            else:
                count = media.split_source(self.store, ctx.layout, material, report.probe, work_dir=work_dir, spec=spec)
        if whole:       # after the timer: the media notice carries this message's seconds too
            self._done(ctx, run_id, index, plan.MediaResult(thumbnails=thumbnails, renditions=renditions))
            return []
        if not count:
            raise PermanentError(f"splitting {material.path} gave no segments")
        pieces = plan.preview_pieces(count, report)
        self.flow.fanout.start(submission_id, run_id, Layout.pieces_group(index), [Layout.piece_name(p) for p in pieces])
        return pieces

    def encode_piece(self, submission_id: str, run_id: str, index: int, piece: int) -> bool:
        """Encode one segment or the audio (`Layout.AUDIO_PIECE`); True when it was the last piece."""
        ctx = self.flow.context(submission_id, run_id)
        if ctx is None:
            return False
        material, report = self._video(ctx, run_id, index)
        spec = media.spec_for(report, self.flow.rendition_spec)
        work_dir = self.flow.settings.work_dir
        with self._timed(submission_id, run_id), blamed(self.store, material):
            if piece == Layout.AUDIO_PIECE:
                media.encode_audio_piece(self.store, ctx.layout, material, report.probe, work_dir=work_dir, spec=spec)
            else:
                media.encode_piece(self.store, ctx.layout, material, report.probe, piece, work_dir=work_dir,
                                   threads=self.flow.settings.ffmpeg_threads, spec=spec)
        return self.flow.fanout.done(submission_id, run_id, Layout.pieces_group(index), Layout.piece_name(piece))

    def join(self, submission_id: str, run_id: str, index: int) -> None:
        ctx = self.flow.context(submission_id, run_id)
        group = Layout.pieces_group(index)
        if ctx is None or not self.flow.fanout.complete(submission_id, run_id, group):
            return
        material, report = self._video(ctx, run_id, index)
        count = len([p for p in self.flow.fanout.names(submission_id, run_id, group) if p != Layout.piece_name(Layout.AUDIO_PIECE)])
        with self._timed(submission_id, run_id), blamed(self.store, material):
            renditions = media.join_pieces(self.store, ctx.layout, material, report.probe, count, work_dir=self.flow.settings.work_dir)
        self._done(ctx, run_id, index, plan.MediaResult(thumbnails=self._thumbnails(ctx, run_id, index), renditions=renditions))

    def failed(self, submission_id: str, run_id: str, index: int, reason: str = "预览生成失败") -> None:
        """A rendition that could not be made: its work objects go, the reason goes into the
        verdict (`videos[].media_error`) and the media notice, and the run still completes."""
        ctx = self.flow.context(submission_id, run_id)
        if ctx is None:
            return
        material, _report = self._video(ctx, run_id, index)
        self.store.delete_prefix(media.work_prefix(ctx.layout, material))
        self._done(ctx, run_id, index, plan.MediaResult(thumbnails=self._thumbnails(ctx, run_id, index), error=reason))

    def _thumbnails(self, ctx: SubmissionContext, run_id: str, index: int) -> dict[str, str]:
        return self.store.get_json(ctx.layout.media_thumbnails(run_id, index)) or {}

    def _done(self, ctx: SubmissionContext, run_id: str, index: int, result: plan.MediaResult) -> None:
        self.store.put_json(ctx.layout.media_result(run_id, index), result.model_dump(mode="json"))
        if self.state.mark_done(ctx.event.submission_id, run_id, "media", Layout.media_name(index)):
            self.publish(ctx.event.submission_id, run_id)

    def publish(self, submission_id: str, run_id: str) -> bool:
        """Merge the previews into this run's verdict (status unchanged) and announce `media` once."""
        ctx = self.flow.context(submission_id, run_id)
        expected = self.state.expected(submission_id, run_id, "media") if ctx else set()
        if ctx is None or not expected or not self.state.complete(submission_id, run_id, "media"):
            return False
        stored = self.store.get_json(ctx.layout.verdict())
        unpacked = self.flow.unpacked(ctx, run_id)
        if stored is None or stored.get("run_id") != run_id or unpacked is None:
            return False     # the rules are not decided yet: decide() calls this again
        verdict = Verdict.model_validate(stored)
        made = {}
        for index, material in enumerate(unpacked.materials):
            if Layout.media_name(index) in expected:
                result = self.flow.stored(ctx.layout.media_result(run_id, index), plan.MediaResult)
                if result is not None:
                    made[material.path] = result
        reasons = plan.merge_media(verdict, made, self.state.seconds(submission_id, run_id, "media"))
        write_verdict(ctx, verdict)
        self.state.announce(submission_id, run_id, "media", verdict.status, ctx.layout.verdict(), reason="; ".join(reasons))
        self.state.media_finished(submission_id)
        return True


@contextmanager
def blamed(store, material: Material):
    """An encode that fails on its input is not retried; one that failed on the store is."""
    try:
        yield
    except ffmpeg.FFmpegError as exc:
        blame_tool_failure(store, material.key, exc)        # raises TransientError for an outage
        raise PermanentError(f"ffmpeg failed on {material.path}: {exc}") from exc
