"""What every stage of one run carries: the event, the rules, the stores and the timings."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TypeVar

from ..documents import ContentReader
from ..layout import Layout
from ..models import UploadEvent
from ..ruleset import Rules
from ..state import ActivityState
from ..storage import ObjectStore


@dataclass
class SubmissionContext:
    event: UploadEvent
    rules: Rules
    store: ObjectStore
    layout: Layout
    timings: dict[str, float] = field(default_factory=dict)
    ffmpeg_threads: int = 0          # 0: ffmpeg decides; workers running one process per core use 1
    activity: ActivityState | None = None   # duplication index and topic register, when kept

    @property
    def project(self) -> str:
        return self.event.project

    @property
    def applicant_type(self) -> str:
        return self.event.effective_applicant_type

    def timed(self, stage: str):
        return _Timer(self.timings, stage)

    @property
    def content(self) -> ContentReader:
        return ContentReader(self.store, self.layout, self.rules.ocr, self.rules.cost.documents)


class _Timer:
    def __init__(self, timings: dict[str, float], stage: str):
        self.timings, self.stage = timings, stage

    def __enter__(self):
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc):
        self.timings[self.stage] = self.timings.get(self.stage, 0.0) + time.monotonic() - self.started
        return False


T = TypeVar("T")


def side_by_side(ctx: SubmissionContext, jobs: list[str], run: Callable[[SubmissionContext, str], T]) -> list[T]:
    """Run a part's jobs on the machine's cores, each ffmpeg on one thread (as separate workers
    would take them); one job runs here, with the context's own threads."""
    if len(jobs) <= 1:
        return [run(ctx, job) for job in jobs]
    own = replace(ctx, ffmpeg_threads=ctx.ffmpeg_threads or 1)
    with ThreadPoolExecutor(max_workers=min(len(jobs), os.cpu_count() or 1)) as pool:
        return list(pool.map(lambda job: run(own, job), jobs))
