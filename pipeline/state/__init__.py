"""What outlives one submission (the duplication index and the topic register), swappable:
SQLite under `--state` for the embedded mode, Redis for the distributed one."""

from .base import ActivityState, TopicEntry

__all__ = ["ActivityState", "TopicEntry"]
