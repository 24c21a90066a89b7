import pytest
import redis

from config.policy import stage_policies
from pipeline.errors import InputVanishedError, PermanentError, TransientError
from workers.broker import retry_when_for


@pytest.mark.parametrize("stage", sorted(stage_policies()))
def test_an_outage_is_retried_long_enough_to_outlast_minutes_a_bug_briefly_a_bad_upload_never(stage):
    policy = stage_policies()[stage]
    retry = retry_when_for(policy)
    backoff = sum(min(policy.min_backoff_s * 2 ** n, policy.max_backoff_s) for n in range(policy.max_retries))
    assert backoff >= 300, f"{stage}: transient retries cover only {backoff:.0f} s"
    for error in (TransientError("S3 transport: reset"), redis.ConnectionError("refused"), ConnectionResetError()):
        assert retry(policy.max_retries - 1, error) and not retry(policy.max_retries, error)
    assert retry(0, KeyError("ours")) and not retry(policy.max_unexpected_retries, KeyError("ours"))
    assert not retry(0, PermanentError("bad upload")) and not retry(0, InputVanishedError("gone"))


def test_a_worker_serving_both_takes_verdict_work_before_previews():
    """Previews queued first, a video part after: one worker thread runs the video part before
    the previews it already holds (the policy's priorities, as dramatiq's worker orders them)."""
    import threading

    import dramatiq
    from dramatiq.brokers.stub import StubBroker

    from workers.broker import actor_options

    broker = StubBroker()
    done: list[str] = []
    gate = threading.Event()

    def options(stage: str) -> dict:
        return {k: v for k, v in actor_options(stage).items() if k in ("queue_name", "priority")}

    @dramatiq.actor(broker=broker, actor_name="preview_step", **options("transcode"))
    def preview_step(n: int) -> None:
        gate.wait(10)
        done.append(f"preview-{n}")

    @dramatiq.actor(broker=broker, actor_name="video_step", **options("video"))
    def video_step() -> None:
        done.append("video")

    for n in range(4):
        preview_step.send(n)
    video_step.send()
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=20)
    worker.start()
    try:
        import time

        time.sleep(0.5)          # both consumers have handed their messages to the worker
        gate.set()
        broker.join("transcode")
        broker.join("video")
    finally:
        worker.stop()
    assert done.index("video") <= 1, done      # at most the preview already running goes first
    assert len(done) == 5
