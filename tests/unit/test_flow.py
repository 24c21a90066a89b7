"""The distributed flow without Redis or S3: the real actors on dramatiq's StubBroker, objects
in a local folder, the run state and the activity state in SQLite, media made by ffmpeg."""

from __future__ import annotations

import importlib
import shutil
import sys

import dramatiq
import pytest

from config.settings import Settings, get_settings
from pipeline.stages import document as document_stage
from pipeline.embedded import check_submission
from pipeline.models import parse_event
from pipeline.state.local import LocalState
from pipeline.storage import LocalStore
from tests.helpers import comparable_verdict, sample
from workers.state_local import LocalRunState



@pytest.fixture(scope="module")
def actors():
    """workers.actors declared on a StubBroker (the settings say `broker: stub`)."""
    patch = pytest.MonkeyPatch()
    patch.setenv("SMARTEDU_BROKER", "stub")
    patch.setenv("SMARTEDU_PROMETHEUS", "0")
    get_settings.cache_clear()
    module = sys.modules.get("workers.actors")
    module = importlib.reload(module) if module is not None else importlib.import_module("workers.actors")
    assert type(module.broker).__name__ == "StubBroker"
    yield module
    patch.undo()
    get_settings.cache_clear()


@pytest.fixture
def deployment(actors, tmp_path, monkeypatch):
    """A fresh flow for each test: its bucket, uploads and state under tmp_path; one worker."""
    from workers.flow import Flow

    runs = LocalRunState(tmp_path / "runs.sqlite3")
    flow = Flow(Settings(broker="stub", work_dir=tmp_path / "scratch", segment_threshold_s=120),
                store=LocalStore(tmp_path / "bucket"), uploads=LocalStore(tmp_path / "uploads"), state=runs,
                activity=LocalState(tmp_path / "activity"))
    monkeypatch.setattr(actors, "flow", flow)
    actors.broker.flush_all()
    worker = dramatiq.Worker(actors.broker, worker_threads=2, worker_timeout=50)
    worker.start()
    yield flow
    worker.stop()
    actors.broker.flush_all()


def drain(broker) -> None:
    """Wait until every queue (and its delay queue) is empty: messages cascade across queues."""
    for _ in range(50):
        for queue in list(broker.queues):
            broker.join(queue, timeout=120_000, fail_fast=False)
        if all(broker.queues[q].unfinished_tasks == 0 for q in broker.queues):
            return
    raise AssertionError("queues never drained")


def submit(actors, flow, tmp_path, name: str, **spec) -> tuple[dict, str]:
    archive, event = sample(tmp_path, name, submission_id=name, **spec)
    (tmp_path / "uploads").mkdir(exist_ok=True)
    shutil.copy(archive, tmp_path / "uploads" / archive.name)
    event["archive"] = {"bucket": flow.settings.uploads_bucket, "key": archive.name}
    run_id = actors.start_submission(parse_event(event))
    return event, run_id


def stored_verdict(flow, sid: str) -> dict:
    return flow.store.get_json(f"verdicts/{sid}.json")


def test_a_submission_through_the_actors_gets_the_embedded_verdict(actors, deployment, tmp_path):
    event, run_id = submit(actors, deployment, tmp_path, "flow-pass")
    drain(actors.broker)
    verdict = stored_verdict(deployment, "flow-pass")
    assert verdict["status"] == "pass" and verdict["run_id"] == run_id
    notices = deployment.state.notices("flow-pass")
    assert [(n["kind"], n["status"]) for n in notices] == [("verdict", "pass"), ("media", "pass")]
    assert verdict["videos"][0]["renditions"]["720p"] and verdict["videos"][0]["thumbnails"]
    assert deployment.store.exists(verdict["videos"][0]["renditions"]["720p"])

    embedded = check_submission(parse_event(event), tmp_path / "uploads" / "flow-pass.zip", tmp_path / "embedded",
                                deployment.rules, state_dir=tmp_path / "embedded-activity")
    assert comparable_verdict(verdict) == comparable_verdict(embedded.model_dump(mode="json"))
    assert sorted(verdict["timings"]) == sorted(embedded.timings)
    assert deployment.state.inflight("verdict") == [] and deployment.state.inflight("media") == []


def test_a_redelivered_part_gives_the_same_verdict_and_no_second_notice(actors, deployment, tmp_path):
    _event, run_id = submit(actors, deployment, tmp_path, "flow-again")
    drain(actors.broker)
    first = stored_verdict(deployment, "flow-again")
    document = next(i for i, m in enumerate(first["materials"]) if m["kind"] == "document" and m["role"])
    actors.PART_ACTORS["document"].send("flow-again", run_id, document)
    actors.PART_ACTORS["video"].send("flow-again", run_id, 0 if first["materials"][0]["kind"] == "video" else
                                     next(i for i, m in enumerate(first["materials"]) if m["kind"] == "video"))
    drain(actors.broker)
    again = stored_verdict(deployment, "flow-again")
    assert [n["kind"] for n in deployment.state.notices("flow-again")] == ["verdict", "media"]
    assert comparable_verdict(again) == comparable_verdict(first)


def test_a_message_of_a_superseded_run_is_dropped(actors, deployment, tmp_path):
    """A redelivered video part and verdict of the old run do nothing once a resubmission started a
    newer one: the old run's video result, removed here, is not written again."""
    from pipeline.layout import Layout

    event, old_run = submit(actors, deployment, tmp_path, "flow-stale")
    drain(actors.broker)
    video = next(i for i, m in enumerate(stored_verdict(deployment, "flow-stale")["materials"]) if m["kind"] == "video")
    result_key = Layout("flow-stale").part_result(old_run, Layout.part_name("video", video))
    assert deployment.store.exists(result_key)
    deployment.store.delete(result_key)
    new_run = deployment.accept_event(parse_event(event))       # a resubmission, not yet processed
    actors.PART_ACTORS["video"].send("flow-stale", old_run, video)
    actors.decide_verdict.send("flow-stale", old_run)
    drain(actors.broker)
    assert not deployment.store.exists(result_key)
    assert stored_verdict(deployment, "flow-stale")["run_id"] == old_run
    assert [n["run_id"] for n in deployment.state.notices("flow-stale")] == [old_run, old_run]
    assert deployment.state.current_run("flow-stale") == new_run


def test_a_stage_that_breaks_gives_an_error_verdict_that_says_what_broke(actors, deployment, tmp_path, monkeypatch):
    def broken(ctx, material):
        raise KeyError("form_fields")

    monkeypatch.setattr(document_stage, "analyse_text", broken)
    monkeypatch.setitem(actors.PART_ACTORS["document"].options, "min_backoff", 10)
    submit(actors, deployment, tmp_path, "flow-broken")
    drain(actors.broker)
    verdict = stored_verdict(deployment, "flow-broken")
    assert verdict["status"] == "error"
    assert verdict["error"] == {"stage": "document", "type": "KeyError", "reason": "'form_fields'", "retryable": False}
    assert len(verdict["materials"]) == 3 and verdict["videos"][0]["probe"], "the parts that worked stay in the error verdict"
    assert verdict["videos"][0]["renditions"], "a video that worked gets its previews, as in the embedded mode"
    assert [n["status"] for n in deployment.state.notices("flow-broken") if n["kind"] == "verdict"] == ["error"]


def test_last_exception_reads_dramatiqs_traceback():
    from workers.actors import last_exception

    trace = ('Traceback (most recent call last):\n  File "x.py", line 1, in f\n    raise E\n'
             'pipeline.errors.TransientError: store unreachable: 503\n')
    assert last_exception(trace) == ("TransientError", "store unreachable: 503")
    assert last_exception("") == (None, None)
