"""The actors: each decodes its message, calls the flow (which runs the plan), and sends the
next message. One actor per kind of part in `pipeline.plan`; policies (queue, retries, time
limit, age) come from config/policy.yaml under the kind's stage."""

from __future__ import annotations

import dramatiq

from config.logging import configure_logging
from config.settings import get_settings
from pipeline import plan

from .broker import actor_options, build_broker
from .flow import Flow

settings = get_settings()
configure_logging(settings.log_level or "INFO", json=True)
flow = Flow(settings)

# actor name -> its stage (policy, log lines, an error verdict's stage)
STAGES = {"unpack_submission": plan.UNPACK_STAGE, **{kind.actor: kind.stage for kind in plan.PART_KINDS},
          "decide_verdict": plan.VERDICT_STAGE, "deliver_callback": "callback", "stage_gave_up": "failed",
          "analyse_video_job": "video", "finish_video_part": "video", "plan_media": "transcode", "encode_media_piece": "transcode", "join_media": "transcode", "media_gave_up": "failed"}

broker = build_broker(settings, STAGES, timings=lambda: flow.state)


def _options(stage: str) -> dict:
    return {**actor_options(stage), "on_retry_exhausted": "stage_gave_up"}


@dramatiq.actor(**_options(plan.UNPACK_STAGE))
def unpack_submission(submission_id: str, run_id: str) -> None:
    parts = flow.unpack(submission_id, run_id)
    if parts is None:
        return
    for part in parts:
        PART_ACTORS[part.kind].send(submission_id, run_id, part.index)
    if not parts:
        decide_verdict.send(submission_id, run_id)


def _part_actor(kind: plan.PartKind) -> dramatiq.Actor:
    def run_part(submission_id: str, run_id: str, index: int = 0) -> None:
        outcome = flow.run_part(submission_id, run_id, kind.kind, index)
        for job in outcome.jobs:
            analyse_video_job.send(submission_id, run_id, index, job)
        _after_part(submission_id, run_id, index, outcome)

    run_part.__doc__ = f"The plan's {kind.kind} part of a run."
    return dramatiq.actor(run_part, actor_name=kind.actor, **_options(kind.stage))


def _after_part(submission_id: str, run_id: str, index: int, outcome) -> None:
    if outcome.wants_media:
        plan_media.send(submission_id, run_id, index)
    if outcome.last:
        decide_verdict.send(submission_id, run_id)


@dramatiq.actor(**_options("video"))
def analyse_video_job(submission_id: str, run_id: str, index: int, job: str) -> None:
    """One window, the sound, the subtitle search or the upscale estimate of a long video."""
    if flow.run_video_job(submission_id, run_id, index, job):
        finish_video_part.send(submission_id, run_id, index)


@dramatiq.actor(**_options("video"))
def finish_video_part(submission_id: str, run_id: str, index: int) -> None:
    _after_part(submission_id, run_id, index, flow.finish_video(submission_id, run_id, index))


PART_ACTORS = {kind.kind: _part_actor(kind) for kind in plan.PART_KINDS}
# a failed message of these actors is its part failing (args: submission_id, run_id, index, ...)
PART_OF_ACTOR = {**{kind.actor: kind.kind for kind in plan.PART_KINDS}, "analyse_video_job": "video", "finish_video_part": "video"}


@dramatiq.actor(**_options(plan.VERDICT_STAGE))
def decide_verdict(submission_id: str, run_id: str) -> None:
    decided = flow.decide(submission_id, run_id)
    if decided is not None and decided.callback_url:
        deliver_callback.send(submission_id, run_id)


@dramatiq.actor(**actor_options("callback"))
def deliver_callback(submission_id: str, run_id: str) -> None:
    flow.deliver_callback(submission_id, run_id)


@dramatiq.actor(**actor_options("failed"))
def stage_gave_up(message: dict, retry_info: dict) -> None:
    """Retries exhausted: a part is kept as failed (the run still decides, `error`); the
    unpack or the verdict stage gets its `error` verdict now. Both say what broke."""
    args = message.get("args") or []
    if len(args) < 2:
        return
    actor_name = message.get("actor_name", "")
    stage = STAGES.get(actor_name, actor_name or "?")
    error_type, reason = last_exception(message.get("options", {}).get("traceback", ""))
    retries = retry_info.get("retries", 0)
    error = plan.error_detail(stage, error_type=error_type or "RetriesExhausted",
                              reason=reason or f"{stage} gave up after {retries} retries",
                              retryable=retries >= (retry_info.get("max_retries") or 0))
    kind = PART_OF_ACTOR.get(actor_name)
    if kind is not None and len(args) >= 3:
        if flow.part_gave_up(args[0], args[1], kind, args[2], error):
            decide_verdict.send(args[0], args[1])
    else:
        flow.fail_run(args[0], args[1], stage, error["reason"], error_type=error["type"], retryable=error["retryable"])


def _media_options() -> dict:
    return {**actor_options("transcode"), "on_retry_exhausted": "media_gave_up"}


@dramatiq.actor(**_media_options())
def plan_media(submission_id: str, run_id: str, index: int) -> None:
    for piece in flow.plan_media(submission_id, run_id, index):
        encode_media_piece.send(submission_id, run_id, index, piece)


@dramatiq.actor(**_media_options())
def encode_media_piece(submission_id: str, run_id: str, index: int, piece: int) -> None:
    if flow.encode_piece(submission_id, run_id, index, piece):
        join_media.send(submission_id, run_id, index)


@dramatiq.actor(**_media_options())
def join_media(submission_id: str, run_id: str, index: int) -> None:
    flow.join_media(submission_id, run_id, index)


@dramatiq.actor(**actor_options("failed"))
def media_gave_up(message: dict, retry_info: dict) -> None:
    """A rendition step failed for good: clean its work objects; the run still completes."""
    args = message.get("args") or []
    if len(args) >= 3:
        flow.media_failed(args[0], args[1], args[2], f"预览转码失败（{retry_info.get('retries', 0)}次重试后放弃）")


def last_exception(trace: str) -> tuple[str | None, str | None]:
    """The exception's class name and message from the last line of a traceback that dramatiq
    keeps on a failed message, so the error verdict says what the embedded mode would."""
    lines = [line for line in trace.strip().splitlines() if line and not line.startswith(" ")]
    if not lines or lines[-1].startswith("Traceback"):
        return None, None
    name, _, reason = lines[-1].partition(": ")
    return name.rsplit(".", 1)[-1] or None, reason.strip()[:500] or None


def start_submission(event, run_id: str | None = None) -> str:
    """Accept an event and enqueue its first stage; returns the run id."""
    run_id = flow.accept_event(event, run_id)
    unpack_submission.send(event.submission_id, run_id)
    return run_id


def build_reconciler():
    """The reconciler of this deployment, re-sending through this process's broker."""
    from .reconcile import ReconcilePolicy, Reconciler

    policy = ReconcilePolicy(grace_s=settings.reconcile_grace_s, max_attempts=settings.reconcile_attempts)
    return Reconciler(flow.state, lambda actor, args: broker.get_actor(actor).send(*args), flow.fail_run, flow.media_failed,
                      policy)
