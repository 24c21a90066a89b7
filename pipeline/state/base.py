"""The interface of the activity-wide state."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass

from ..duplication import DuplicationIndex
from ..reuse import Indexed

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

    # the reuse fingerprints of videos and pictures (pipeline/reuse.py) ----------------------
    @abstractmethod
    def media_holders(self, keys: set[int]) -> dict[int, list[str]]:
        """The media keys ("<submission>/<sha>") indexed under each key (at most max_holders each)."""

    @abstractmethod
    def media_prints(self, media_keys: set[str]) -> dict[str, Indexed]:
        """The stored fingerprints of these media keys."""

    @abstractmethod
    def media_clusters(self, media_keys: set[str]) -> dict[str, str]:
        """Each media key's cluster: the first-seen media it copies, or itself."""

    @abstractmethod
    def register_media(self, media_key: str, submission_id: str, path: str, keys: set[int], print_: dict, now: float,
                       max_holders: int, cluster: str | None = None) -> None:
        """Store (or replace, on a rerun) a video's or a picture's fingerprint and index keys, and
        its cluster (the media it copies; copies of one source count once as common); its
        first-seen time stays the first one."""
