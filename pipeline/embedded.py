"""The embedded executor (`smartedu check`): the plan's parts one after the other in this process."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from pathlib import Path

import structlog

from . import ffmpeg, plan
from . import media as previews
from .errors import PermanentError
from .layout import Layout
from .models import Material, UploadEvent, Verdict
from .ruleset import Rules
from .state.local import LocalState
from .storage import LocalStore
from .stages.context import SubmissionContext
from .verdict import write_verdict

log = structlog.get_logger("pipeline")
Progress = Callable[[str, str], None]


def check_submission(event: UploadEvent, archive: Path, out_dir: Path, rules: Rules, *, main_work: Path | None = None,
                     progress: Progress | None = None, media: bool = True, state_dir: Path | None = None) -> Verdict:
    """Every part of the plan in this process, outputs under `out_dir`.

    Never raises for bad input; a failure of the pipeline itself gives an `error` verdict
    that keeps what the parts before it found."""
    progress = progress or (lambda stage, text: None)
    store = LocalStore(out_dir)
    ctx = SubmissionContext(event, rules, store, Layout(event.submission_id, embedded=True),
                            activity=LocalState(state_dir) if state_dir is not None else None)
    inputs = plan.Inputs(plan.Upload(LocalStore(archive.parent), archive.name),
                         plan.Upload(LocalStore(main_work.parent), main_work.name) if main_work is not None else None)
    bound = log.bind(submission_id=event.submission_id)
    unpacked: plan.Unpacked | None = None
    results: list[plan.PartResult] = []
    stage = plan.UNPACK_STAGE
    try:
        progress(stage, archive.name)
        unpacked = plan.unpack(ctx, inputs)
        bound.info("unpack_done", stage=stage, members=len(unpacked.materials), findings=len(unpacked.findings))
        for part in plan.parts_of(unpacked, event, rules):
            stage = plan.KINDS[part.kind].stage
            progress(stage, plan.part_label(part, unpacked, inputs))
            results.append(run_part(ctx, part, unpacked, inputs, bound))
        stage = plan.VERDICT_STAGE
        verdict = plan.decide(ctx, unpacked, results)
    except Exception as exc:  # the pipeline broke: the verdict says so instead of a crash
        bound.error("stage_failed", stage=stage, error=type(exc).__name__, reason=str(exc)[:300],
                    trace=traceback.format_exc(limit=5))
        verdict = plan.decide(ctx, unpacked, results, error=plan.error_detail(stage, exc))
    progress("verdict", verdict.status)
    write_verdict(ctx, verdict)
    bound.info("verdict_written", stage="verdict", status=verdict.status, findings=len(verdict.findings))
    if media:      # every video that decoded gets previews, whatever broke elsewhere (as in the workers)
        started = time.monotonic()
        made = {}
        for result in (r for r in results if plan.wants_media(r)):
            material = unpacked.materials[result.part.index]
            progress("media", material.path)
            made[material.path] = make_media(ctx, material, result)
        plan.merge_media(verdict, made, time.monotonic() - started if made else None)
        write_verdict(ctx, verdict)
    return verdict


def run_part(ctx: SubmissionContext, part: plan.PartSpec, unpacked: plan.Unpacked, inputs: plan.Inputs, bound) -> plan.PartResult:
    """One part; one that breaks is kept as a failed part and the others still run, as in the workers."""
    stage = plan.KINDS[part.kind].stage
    try:
        result = plan.run_part(ctx, part, unpacked, inputs)
    except Exception as exc:  # our failure, not the teacher's: the verdict will be `error`
        bound.error("stage_failed", stage=stage, part=part.name, error=type(exc).__name__, reason=str(exc)[:300],
                    trace=traceback.format_exc(limit=5))
        return plan.failed_part(part, plan.error_detail(stage, exc))
    bound.info("part_done", stage=stage, part=part.name, findings=[f.code for f in result.findings])
    return result


def make_media(ctx: SubmissionContext, material: Material, result: plan.PartResult) -> plan.MediaResult:
    """Thumbnails and the rendition in one process; a video ffmpeg cannot encode keeps its
    verdict and gets the reason instead (as the workers do after their retries)."""
    probe = result.video.probe
    spec = previews.spec_for(result.video)
    try:
        return plan.MediaResult(thumbnails=previews.make_thumbnails(ctx.store, ctx.layout, material, probe, spec=spec),
                                renditions=previews.make_rendition(ctx.store, ctx.layout, material, probe,
                                                                   threads=ctx.ffmpeg_threads, spec=spec))
    except (ffmpeg.FFmpegError, PermanentError, OSError) as exc:
        log.warning("media_failed", submission_id=ctx.event.submission_id, stage="media", path=material.path,
                    error=type(exc).__name__, stderr_tail=getattr(exc, "stderr_tail", "")[-500:])
        return plan.MediaResult(error="预览转码失败")
