"""The distributed executor of the plan: each part a message, its result an object, the
run's completion a set in the run state.

`pipeline.plan` says which parts a run has, how one runs and how they become the verdict;
the flow only stores part results, tracks completion and announces. Every output has a
deterministic key under the run (`Layout`), so a rerun or a redelivered message overwrites
what it wrote before and never adds a second copy. Messages of a superseded run (a
resubmission started a newer one) return quietly. Store, uploads, run state and activity
state are passed in (or built from the settings), so the flow runs on a local folder and
SQLite as well as on S3 and Redis.

`Flow` is the wiring; its three rooms are the verdict path (`workers/verdicts.py`), the
previews (`workers/previews.py`) and the callback (`workers/callbacks.py`).
"""

from __future__ import annotations

from functools import cached_property
from typing import TypeVar

import structlog
from pydantic import BaseModel

from config.rules import cached_rules
from config.settings import Settings
from pipeline import media, plan
from pipeline.errors import EventError, NotThereYet
from pipeline.layout import Layout
from pipeline.models import UploadEvent, parse_event
from pipeline.ruleset import Rules
from pipeline.stages.context import SubmissionContext
from pipeline.state import ActivityState
from pipeline.storage import ObjectStore

from .fanout import FanOut
from .state import FlowState, new_run_id

log = structlog.get_logger("workers")
Stored = TypeVar("Stored", bound=BaseModel)


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
        from .redis_conn import connect
        from .state import RunState

        return RunState(connect(self.settings))

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

    @property
    def fanout(self) -> FanOut:
        return FanOut(self.state)

    # the three rooms --------------------------------------------------------
    @cached_property
    def verdicts(self):
        from .verdicts import VerdictPath

        return VerdictPath(self)

    @cached_property
    def previews(self):
        from .previews import Previews

        return Previews(self)

    @cached_property
    def callbacks(self):
        from .callbacks import Callbacks

        return Callbacks(self)

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

    # what a run stored ----------------------------------------------------------
    def stored(self, key: str, model: type[Stored]) -> Stored | None:
        data = self.store.get_json(key)
        return model.model_validate(data) if data else None

    def needed(self, key: str, model: type[Stored], what: str) -> Stored:
        """An object an earlier message of the run wrote.

        Raises:
            NotThereYet: it is not (yet) there: the message is retried.
        """
        found = self.stored(key, model)
        if found is None:
            raise NotThereYet(f"{what} not stored (yet)")
        return found

    def unpacked(self, ctx: SubmissionContext, run_id: str) -> plan.Unpacked | None:
        return self.stored(ctx.layout.unpacked(run_id), plan.Unpacked)

    def result(self, ctx: SubmissionContext, run_id: str, name: str) -> plan.PartResult | None:
        return self.stored(ctx.layout.part_result(run_id, name), plan.PartResult)

    def gather(self, ctx: SubmissionContext, run_id: str, *, complete: bool) -> tuple[plan.Unpacked | None, list[plan.PartResult]]:
        """The stored parts of a run in plan order; with `complete`, every part must be there.

        Raises:
            NotThereYet: `complete` and a part is not readable yet.
        """
        unpacked = self.unpacked(ctx, run_id)
        if unpacked is None:
            if complete:
                raise NotThereYet("unpack part missing")
            return None, []
        results = []
        for part in plan.parts_of(unpacked, ctx.event, ctx.rules):
            result = self.result(ctx, run_id, part.name)
            if result is None and complete:
                raise NotThereYet(f"part {part.name} missing")
            if result is not None:
                results.append(result)
        return unpacked, results
