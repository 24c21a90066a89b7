"""The verdict path of a run in the workers: unpack, the parts (a part that fans out sends
its jobs and is merged by the last of them), the verdict, and the run's `error` verdict when a
stage gave up."""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog

from pipeline import plan
from pipeline.errors import NotThereYet
from pipeline.layout import Layout
from pipeline.models import Verdict, VideoJobResult
from pipeline.stages.context import SubmissionContext
from pipeline.verdict import write_verdict

log = structlog.get_logger("workers")


@dataclass
class PartOutcome:
    last: bool = False               # the run waited for nothing else: decide
    wants_media: bool = False        # a decodable video: make its previews
    jobs: list[str] = field(default_factory=list)    # the jobs of a part that fans out, to send


@dataclass
class Decided:
    verdict: dict
    callback_url: str | None


class VerdictPath:
    def __init__(self, flow):
        self.flow = flow

    @property
    def state(self):
        return self.flow.state

    def unpack(self, submission_id: str, run_id: str) -> list[plan.PartSpec] | None:
        """Unpack the archive; returns the parts to send, or None if the run is stale.

        Raises:
            NotThereYet: the archive is not in the uploads bucket yet.
        """
        ctx = self.flow.context(submission_id, run_id)
        if ctx is None:
            return None
        self.state.set_stage(submission_id, run_id, plan.UNPACK_STAGE)
        unpacked = plan.unpack(ctx, self.flow.inputs(ctx.event))
        parts = plan.parts_of(unpacked, ctx.event, ctx.rules)
        self.flow.store.put_json(ctx.layout.unpacked(run_id), unpacked.model_dump(mode="json"))
        self.state.expect_parts(submission_id, run_id, [part.name for part in parts])
        self.state.set_stage(submission_id, run_id, "analyse")
        return parts

    def run_part(self, submission_id: str, run_id: str, kind: str, index: int) -> PartOutcome:
        """One part of the plan. A part that fans out with several jobs only runs its head here
        and returns the jobs to send; the last of them merges the part (`finish_part`)."""
        ctx = self.flow.context(submission_id, run_id)
        if ctx is None:
            return PartOutcome()
        unpacked = self.flow.unpacked(ctx, run_id)
        part = plan.PartSpec(kind=kind, index=index)
        if unpacked is None or part not in plan.parts_of(unpacked, ctx.event, ctx.rules):
            raise NotThereYet(f"part {part.name} is not (yet) among the parts of run {run_id}")
        hooks = plan.KINDS[kind].fans_out
        if hooks is None:
            return self._part_finished(ctx, run_id, plan.run_part(ctx, part, unpacked, self.flow.inputs(ctx.event)))
        head = hooks.head(ctx, index, unpacked.materials)
        if len(head.jobs) > 1:
            self.flow.store.put_json(ctx.layout.part_head(run_id, kind, index), head.model_dump(mode="json"))
            self.flow.fanout.start(submission_id, run_id, Layout.jobs_group(kind, index), head.jobs)
            return PartOutcome(jobs=head.jobs)
        results = [hooks.job(ctx, head, index, unpacked.materials, job) for job in head.jobs]
        return self._part_finished(ctx, run_id, hooks.merge(ctx, part, head, results, unpacked.materials))

    def run_job(self, submission_id: str, run_id: str, kind: str, index: int, job: str) -> bool:
        """One job of a part that fans out; True when it was the last of them."""
        ctx = self.flow.context(submission_id, run_id)
        if ctx is None:
            return False
        unpacked, head = self._head(ctx, run_id, kind, index)
        result = plan.KINDS[kind].fans_out.job(ctx, head, index, unpacked.materials, job)
        self.flow.store.put_json(ctx.layout.part_job(run_id, kind, index, job), result.model_dump(mode="json"))
        return self.flow.fanout.done(submission_id, run_id, Layout.jobs_group(kind, index), job)

    def finish_part(self, submission_id: str, run_id: str, kind: str, index: int) -> PartOutcome:
        """Merge a fanned-out part's jobs into the part, as the one message would have made it."""
        ctx = self.flow.context(submission_id, run_id)
        if ctx is None or not self.flow.fanout.complete(submission_id, run_id, Layout.jobs_group(kind, index)):
            return PartOutcome()
        unpacked, head = self._head(ctx, run_id, kind, index)
        results = [self.flow.needed(ctx.layout.part_job(run_id, kind, index, job), VideoJobResult, f"job {job} of {kind} {index}")
                   for job in head.jobs]
        part = plan.PartSpec(kind=kind, index=index)
        return self._part_finished(ctx, run_id, plan.KINDS[kind].fans_out.merge(ctx, part, head, results, unpacked.materials))

    def _head(self, ctx: SubmissionContext, run_id: str, kind: str, index: int) -> tuple[plan.Unpacked, plan.VideoHead]:
        unpacked = self.flow.needed(ctx.layout.unpacked(run_id), plan.Unpacked, f"unpack of run {run_id}")
        return unpacked, self.flow.needed(ctx.layout.part_head(run_id, kind, index), plan.VideoHead, f"head of {kind} {index}")

    def _part_finished(self, ctx: SubmissionContext, run_id: str, result: plan.PartResult) -> PartOutcome:
        submission_id = ctx.event.submission_id
        wants_media = plan.wants_media(result)
        if wants_media:
            # Registered before the part is marked done, so the set is final when the verdict is.
            self.state.expect(submission_id, run_id, "media", [Layout.media_name(result.part.index)], replace=False)
        self.flow.store.put_json(ctx.layout.part_result(run_id, result.part.name), result.model_dump(mode="json"))
        return PartOutcome(last=self.state.part_done(submission_id, run_id, result.part.name), wants_media=wants_media)

    def part_gave_up(self, submission_id: str, run_id: str, kind: str, index: int, error: dict) -> bool:
        """A part out of retries is stored as failed and counts as done: the run still decides,
        with an `error` verdict that keeps the other parts. True when it was the last part."""
        ctx = self.flow.context(submission_id, run_id)
        if ctx is None:
            return False
        part = plan.PartSpec(kind=kind, index=index)
        stored = self.flow.result(ctx, run_id, part.name)
        if stored is None or stored.error is not None:     # a copy that succeeded stands
            self.flow.store.put_json(ctx.layout.part_result(run_id, part.name), plan.failed_part(part, error).model_dump(mode="json"))
        return self.state.part_done(submission_id, run_id, part.name)

    def decide(self, submission_id: str, run_id: str) -> Decided | None:
        """Apply the rules over every part and write the verdict; announce it once per run."""
        ctx = self.flow.context(submission_id, run_id)
        if ctx is None or not self.state.all_done(submission_id, run_id):
            return None
        unpacked, results = self.flow.gather(ctx, run_id, complete=True)
        verdict = plan.decide(ctx, unpacked, results, run_id=run_id)
        decided = Decided(self.publish(ctx, run_id, verdict), ctx.event.callback_url)
        self.flow.previews.publish(submission_id, run_id)   # media may have finished before the rules
        return decided

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
        ctx = self.flow.context(submission_id, run_id)
        if ctx is None:
            return None
        unpacked, results = self.flow.gather(ctx, run_id, complete=False)
        error = plan.error_detail(stage, error_type=error_type, reason=reason, retryable=retryable)
        return self.publish(ctx, run_id, plan.decide(ctx, unpacked, results, error=error, run_id=run_id))
