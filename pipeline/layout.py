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

    def part(self, run_id: str, name: str) -> str:
        return self._scoped("parts", f"{run_id}/{name}")
