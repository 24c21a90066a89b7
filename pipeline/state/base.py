"""The interface of the activity-wide state."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass

from ..duplication import DuplicationIndex

KEY_PREFIX = "smartedu:"          # the contract's prefix of every Redis key and stream, here only


@dataclass(frozen=True)
class TopicEntry:
    submission_id: str
    project: str
    author: str
    title: str          # normalised


class ActivityState(DuplicationIndex):
    @abstractmethod
    def topics_of(self, author: str) -> list[TopicEntry]:
        """Every registered (submission, project, title) of one author."""

    @abstractmethod
    def register_topics(self, submission_id: str, entries: list[TopicEntry]) -> None:
        """Replace a submission's topic entries (a resubmission replaces, never adds)."""
