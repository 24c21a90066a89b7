"""The actors: each decodes its message, calls the flow (which calls `pipeline`), and sends
the next message. Policies (queue, retries, time limit, age) come from config/policy.yaml."""

from __future__ import annotations


import dramatiq

from config.logging import configure_logging
from config.settings import get_settings

from .broker import actor_options, build_broker
from .flow import Flow

STAGES = {"unpack_submission": "unpack", "analyse_video_part": "video", "analyse_document_part": "document",
          "hash_main_work": "main_work", "decide_verdict": "verdict", "deliver_callback": "callback",
          "stage_gave_up": "failed", "plan_media": "transcode", "encode_media_piece": "transcode", "join_media": "transcode",
          "media_gave_up": "failed"}

configure_logging(get_settings().log_level or "INFO", json=True)
broker = build_broker(STAGES)
flow = Flow()


def _options(stage: str) -> dict:
    return {**actor_options(stage), "on_retry_exhausted": "stage_gave_up"}


@dramatiq.actor(**_options("unpack"))
def unpack_submission(submission_id: str, run_id: str) -> None:
    fan_out = flow.unpack(submission_id, run_id)
    if fan_out is None:
        return
    senders = {"video": analyse_video_part, "document": analyse_document_part, "main_work": hash_main_work}
    for kind, index in fan_out:
        senders[kind].send(submission_id, run_id, index)
    if not fan_out:
        decide_verdict.send(submission_id, run_id)


@dramatiq.actor(**_options("video"))
def analyse_video_part(submission_id: str, run_id: str, index: int) -> None:
    last, wants_media = flow.video(submission_id, run_id, index)
    if wants_media:
        plan_media.send(submission_id, run_id, index)
    if last:
        decide_verdict.send(submission_id, run_id)


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


@dramatiq.actor(**_options("document"))
def analyse_document_part(submission_id: str, run_id: str, index: int) -> None:
    if flow.document(submission_id, run_id, index):
        decide_verdict.send(submission_id, run_id)


@dramatiq.actor(**_options("main_work"))
def hash_main_work(submission_id: str, run_id: str, index: int = 0) -> None:
    if flow.main_work(submission_id, run_id, index):
        decide_verdict.send(submission_id, run_id)


@dramatiq.actor(**_options("verdict"))
def decide_verdict(submission_id: str, run_id: str) -> None:
    decided = flow.decide(submission_id, run_id)
    if decided is not None and decided.callback_url:
        deliver_callback.send(submission_id, run_id)


@dramatiq.actor(**actor_options("callback"))
def deliver_callback(submission_id: str, run_id: str) -> None:
    flow.deliver_callback(submission_id, run_id)


@dramatiq.actor(**actor_options("failed"))
def stage_gave_up(message: dict, retry_info: dict) -> None:
    """Retries exhausted on a stage: write an `error` verdict for that run."""
    args = message.get("args") or []
    if len(args) >= 2:
        stage = STAGES.get(message.get("actor_name", ""), message.get("actor_name", "?"))
        flow.fail_run(args[0], args[1], stage, f"{stage} gave up after {retry_info.get('retries', '?')} retries")


def start_submission(event, run_id: str | None = None) -> str:
    """Accept an event and enqueue its first stage; returns the run id."""
    run_id = flow.accept_event(event, run_id)
    unpack_submission.send(event.submission_id, run_id)
    return run_id


def build_reconciler():
    """The reconciler of this deployment, re-sending through this process's broker."""
    from .reconcile import ReconcilePolicy, Reconciler

    settings = flow.settings
    policy = ReconcilePolicy(grace_s=settings.reconcile_grace_s, max_attempts=settings.reconcile_attempts)
    return Reconciler(flow.state, lambda actor, args: broker.get_actor(actor).send(*args), flow.fail_run, flow.media_failed,
                      policy)
