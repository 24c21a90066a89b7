"""The per-stage job policy table (`policy.yaml`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

POLICY_FILE = Path(__file__).parent / "policy.yaml"


class StagePolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    queue: str
    max_retries: int                 # for infrastructure errors (Redis, S3, timeouts): outlast an outage
    max_unexpected_retries: int = 1  # for anything else (a bug of ours): fail soon, with an error verdict
    time_limit_s: float
    max_age_s: float
    min_backoff_s: float
    max_backoff_s: float
    priority: int = 0                # a worker serving several queues takes lower numbers first


@lru_cache(maxsize=1)
def stage_policies() -> dict[str, StagePolicy]:
    data = yaml.safe_load(POLICY_FILE.read_text())
    return {name: StagePolicy.model_validate(value) for name, value in data["stages"].items()}


def all_queues() -> list[str]:
    return sorted({policy.queue for policy in stage_policies().values()})
