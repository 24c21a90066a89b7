"""The actors: each decodes its message, calls the flow (which runs the plan), and sends the
next message. Their names, stages, gave-up handlers and ledger names are one table,
`workers/messages.py`; policies (queue, retries, time limit, age) come from
config/policy.yaml under each one's stage."""

from __future__ import annotations

import dramatiq

from config.logging import configure_logging
from config.settings import get_settings
from pipeline import plan

from . import messages
from .broker import actor_options, build_broker
from .flow import Flow

settings = get_settings()
configure_logging(settings.log_level or "INFO", json=True)
flow = Flow(settings)
broker = build_broker(settings, messages.STAGES, timings=lambda: flow.state)


def _actor(fn, name: str | None = None) -> dramatiq.Actor:
    """Declare `fn` under its name in the message table, with its stage's policy and its gave-up handler."""
    kind = messages.BY_ACTOR[name or fn.__name__]
    options = {**actor_options(kind.stage), **({"on_retry_exhausted": kind.gave_up} if kind.gave_up else {})}
    return dramatiq.actor(fn, actor_name=kind.actor, **options)


def unpack_submission(submission_id: str, run_id: str) -> None:
    parts = flow.verdicts.unpack(submission_id, run_id)
    if parts is None:
        return
    for part in parts:
        PART_ACTORS[part.kind].send(submission_id, run_id, part.index)
    if not parts:
        decide_verdict.send(submission_id, run_id)


def _part_actors(kind: plan.PartKind) -> dramatiq.Actor:
    """The actor of a part kind, and for a kind that fans out the actors of its jobs and merge."""
    def run_part(submission_id: str, run_id: str, index: int = 0) -> None:
        outcome = flow.verdicts.run_part(submission_id, run_id, kind.kind, index)
        for job in outcome.jobs:
            JOB_ACTORS[kind.kind].send(submission_id, run_id, index, job)
        _after_part(submission_id, run_id, index, outcome)

    def run_job(submission_id: str, run_id: str, index: int, job: str) -> None:
        if flow.verdicts.run_job(submission_id, run_id, kind.kind, index, job):
            FINISH_ACTORS[kind.kind].send(submission_id, run_id, index)

    def finish_part(submission_id: str, run_id: str, index: int) -> None:
        _after_part(submission_id, run_id, index, flow.verdicts.finish_part(submission_id, run_id, kind.kind, index))

    run_part.__doc__ = f"The plan's {kind.kind} part of a run."
    run_job.__doc__ = f"One job of a {kind.kind} part that fans out (a long video's window, sound, subtitles, upscale)."
    finish_part.__doc__ = f"The merge of a {kind.kind} part's jobs, sent by the last of them."
    if kind.fans_out is not None:
        JOB_ACTORS[kind.kind] = _actor(run_job, messages.job_actor(kind.kind))
        FINISH_ACTORS[kind.kind] = _actor(finish_part, messages.finish_actor(kind.kind))
    return _actor(run_part, kind.actor)


def _after_part(submission_id: str, run_id: str, index: int, outcome) -> None:
    if outcome.wants_media:
        plan_media.send(submission_id, run_id, index)
    if outcome.last:
        decide_verdict.send(submission_id, run_id)


def decide_verdict(submission_id: str, run_id: str) -> None:
    decided = flow.verdicts.decide(submission_id, run_id)
    if decided is not None and decided.callback_url:
        deliver_callback.send(submission_id, run_id)


def deliver_callback(submission_id: str, run_id: str) -> None:
    flow.callbacks.deliver(submission_id, run_id)


def stage_gave_up(message: dict, retry_info: dict) -> None:
    """Retries exhausted: a part is kept as failed (the run still decides, `error`); the
    unpack or the verdict stage gets its `error` verdict now. Both say what broke."""
    args = message.get("args") or []
    if len(args) < 2:
        return
    actor_name = message.get("actor_name", "")
    kind = messages.BY_ACTOR.get(actor_name)
    stage = kind.stage if kind else (actor_name or "?")
    error_type, reason = last_exception(message.get("options", {}).get("traceback", ""))
    retries = retry_info.get("retries", 0)
    error = plan.error_detail(stage, error_type=error_type or "RetriesExhausted",
                              reason=reason or f"{stage} gave up after {retries} retries",
                              retryable=retries >= (retry_info.get("max_retries") or 0))
    if kind is not None and kind.part is not None and len(args) >= 3:
        if flow.verdicts.part_gave_up(args[0], args[1], kind.part, args[2], error):
            decide_verdict.send(args[0], args[1])
    else:
        flow.verdicts.fail_run(args[0], args[1], stage, error["reason"], error_type=error["type"], retryable=error["retryable"])


def plan_media(submission_id: str, run_id: str, index: int) -> None:
    for piece in flow.previews.plan(submission_id, run_id, index):
        encode_media_piece.send(submission_id, run_id, index, piece)


def encode_media_piece(submission_id: str, run_id: str, index: int, piece: int) -> None:
    if flow.previews.encode_piece(submission_id, run_id, index, piece):
        join_media.send(submission_id, run_id, index)


def join_media(submission_id: str, run_id: str, index: int) -> None:
    flow.previews.join(submission_id, run_id, index)


def media_gave_up(message: dict, retry_info: dict) -> None:
    """A rendition step failed for good: clean its work objects; the run still completes."""
    args = message.get("args") or []
    if len(args) >= 3:
        flow.previews.failed(args[0], args[1], args[2], f"预览转码失败（{retry_info.get('retries', 0)}次重试后放弃）")


# declared in the message table's order of paths: the verdict path, the callback, the previews, the handlers
unpack_submission = _actor(unpack_submission)
JOB_ACTORS: dict[str, dramatiq.Actor] = {}
FINISH_ACTORS: dict[str, dramatiq.Actor] = {}
PART_ACTORS = {kind.kind: _part_actors(kind) for kind in plan.PART_KINDS}
decide_verdict = _actor(decide_verdict)
deliver_callback = _actor(deliver_callback)
stage_gave_up = _actor(stage_gave_up)
plan_media = _actor(plan_media)
encode_media_piece = _actor(encode_media_piece)
join_media = _actor(join_media)
media_gave_up = _actor(media_gave_up)
if set(messages.BY_ACTOR) - set(broker.actors):       # every kind of message has its actor
    raise RuntimeError(f"no actor for {sorted(set(messages.BY_ACTOR) - set(broker.actors))}")


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
    return Reconciler(flow.state, lambda actor, args: broker.get_actor(actor).send(*args), flow.verdicts.fail_run,
                      flow.previews.failed, policy)
