"""Deterministic object keys of a submission, in the bucket and under `check --out`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import PurePosixPath


@dataclass(frozen=True)
class Layout:
    """Deterministic keys: a rerun overwrites, never duplicates."""

    submission_id: str
    embedded: bool = False

    def _scoped(self, family: str, rest: str) -> str:
        return f"{family}/{rest}" if self.embedded else f"{family}/{self.submission_id}/{rest}"

    def member(self, index: int, path: str) -> str:
        suffix = PurePosixPath(path).suffix.lower()
        suffix = suffix if suffix.isascii() and len(suffix) <= 8 and suffix[1:].isalnum() else ""
        digest = hashlib.sha1(path.encode()).hexdigest()[:8]
        return self._scoped("members", f"{index:04d}-{digest}{suffix}")

    def members_prefix(self) -> str:
        return self._scoped("members", "")

    def content(self, member_sha256: str) -> str:
        """What the classifier and the document stage read from a member (text, OCR rows)."""
        return self._scoped("content", f"{member_sha256[:32]}.json")

    def content_prefix(self) -> str:
        return self._scoped("content", "")

    def verdict(self) -> str:
        return "verdict.json" if self.embedded else f"verdicts/{self.submission_id}.json"

    def report(self) -> str:
        return "report.html" if self.embedded else f"reports/{self.submission_id}.html"

    def rendition(self, member_sha256: str, name: str = "720p.mp4") -> str:
        return self._scoped("renditions", f"{member_sha256[:16]}/{name}")

    def thumbnail(self, member_sha256: str, name: str) -> str:
        return self._scoped("thumbnails", f"{member_sha256[:16]}/{name}")

    def media_work(self, member_sha256: str, name: str = "") -> str:
        """The split source, encoded segments and audio of a rendition made in pieces."""
        return self.rendition(member_sha256, f"work/{name}")

    def media_piece(self, member_sha256: str, step: str, piece: int) -> str:
        """`src` (a cut of the source) or `enc` (its encode) number `piece`."""
        return self.media_work(member_sha256, f"{step}-{piece:04d}.mp4")

    # a run's stored state (distributed mode): the event, each part's result, the previews
    def event(self, run_id: str) -> str:
        return f"{self.events_prefix()}{run_id}.json"

    def events_prefix(self) -> str:
        return f"events/{self.submission_id}/"

    def _part(self, run_id: str, name: str) -> str:
        return self._scoped("parts", f"{run_id}/{name}")

    def unpacked(self, run_id: str) -> str:
        return self._part(run_id, "unpack.json")

    def part_result(self, run_id: str, part_name: str) -> str:
        return self._part(run_id, f"{part_name}.json")

    def part_head(self, run_id: str, kind: str, index: int) -> str:
        """A fanned-out part's head (a long video's probe and format findings) while its jobs run."""
        return self._part(run_id, f"{kind}-{index}-head.json")

    def part_job(self, run_id: str, kind: str, index: int, job: str) -> str:
        return self._part(run_id, f"{kind}-{index}-{job}.json")

    def media_thumbnails(self, run_id: str, index: int) -> str:
        return self._part(run_id, f"{self.media_name(index)}-thumbnails.json")

    def media_result(self, run_id: str, index: int) -> str:
        return self._part(run_id, f"{self.media_name(index)}.json")

    # names of parts and of the completion groups they belong to
    @staticmethod
    def part_name(kind: str, index: int) -> str:
        return f"{kind}-{index}"

    @staticmethod
    def media_name(index: int) -> str:
        return f"media-{index}"

    @staticmethod
    def pieces_group(index: int) -> str:
        return f"pieces-{index}"

    @staticmethod
    def jobs_group(kind: str, index: int) -> str:
        """The jobs of a fanned-out part (a long video's windows, sound, subtitles, upscale)."""
        return f"{kind}-jobs-{index}"

    AUDIO_PIECE = -1        # the preview piece that is the audio track (its ledger name keeps the -1: piece-3--1)

    @staticmethod
    def piece_name(piece: int) -> str:
        """A segment's encode (piece >= 0) or the audio (`AUDIO_PIECE`), in the run state's group."""
        return f"segment-{piece}" if piece != Layout.AUDIO_PIECE else "audio"

    @staticmethod
    def media_index(media_name: str) -> int:
        """The video index of a media name (`media-3` -> 3)."""
        return int(media_name.removeprefix("media-"))
