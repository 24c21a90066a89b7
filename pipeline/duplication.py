"""The case introduction's duplication rate against earlier submissions, CNKI-style.

Text is normalised (NFKC folds full width to half width; punctuation and white space go;
letters lower-cased). A character counts as copied when it lies in a run of at least
`run_length` consecutive characters that also occurs in another submission; each character
counts once however many sources share it, so a copied sentence is counted once, and the
rate is copied characters over all characters.

Finding sources: every document's k-grams are hashed and winnowed (window w) into a few
fingerprints stored in an index; any run of k + w - 1 shared characters shares at least one
fingerprint, so candidates are complete for runs of that length and longer. Each candidate is
then checked exactly against its stored text. Fingerprints that occur in many documents
(the form's headings, the notice's phrases) are boilerplate and never count as copying.
"""

from __future__ import annotations

import hashlib
import unicodedata
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

MAX_CHARS = 200_000
MAX_CANDIDATES = 20


def normalise(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text[: MAX_CHARS * 2]).lower()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")[:MAX_CHARS]


def kgram_hashes(text: str, k: int) -> list[int]:
    """A stable 64-bit hash of every k-gram (stable across processes, unlike hash())."""
    return [int.from_bytes(hashlib.blake2b(text[i:i + k].encode(), digest_size=8).digest(), "big") >> 1
            for i in range(len(text) - k + 1)]


def winnow(hashes: list[int], window: int) -> set[int]:
    """The minimum of every window of consecutive hashes (Schleimer et al., 2003)."""
    if len(hashes) <= window:
        return set(hashes)
    return {min(hashes[i:i + window]) for i in range(len(hashes) - window + 1)}


@dataclass
class Match:
    submission_id: str
    rate: float
    copied_chars: int
    passages: list[str] = field(default_factory=list)


@dataclass
class DuplicationResult:
    rate: float
    total_chars: int
    copied_chars: int
    largest_source_rate: float
    matches: list[Match]


def coverage(query: str, query_hashes: list[int], source_hashes: set[int], k: int, skip: set[int]) -> list[bool]:
    """Which query characters lie in a run shared with the source.

    A shared run holding any boilerplate fingerprint is template text as a whole: only
    winnowed fingerprints have known document frequencies, and every run of k + w - 1
    characters or more holds at least one of them."""
    covered = [False] * len(query)
    for i, h in enumerate(query_hashes):
        if h in source_hashes:
            for j in range(i, i + k):
                covered[j] = True
    if skip:
        start = None
        for i, flag in enumerate([*covered, False]):
            if flag and start is None:
                start = i
            elif not flag and start is not None:
                if any(query_hashes[p] in skip for p in range(start, i - k + 1)):
                    covered[start:i] = [False] * (i - start)
                start = None
    return covered


def passages(text: str, covered: list[bool], limit: int = 3, max_len: int = 80) -> list[str]:
    runs, start = [], None
    for i, flag in enumerate([*covered, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append(text[start:i])
            start = None
    runs.sort(key=len, reverse=True)
    return [run[:max_len] for run in runs[:limit]]


class DuplicationIndex(ABC):
    """Where earlier submissions' texts and fingerprints live: --state or Redis."""

    @abstractmethod
    def candidates(self, fingerprints: set[int], exclude: str, limit: int) -> list[str]:
        """Submission ids first seen before `exclude` was, sharing most fingerprints with the
        query, best first: an original resubmitted after it was copied is not the copy's copy."""

    @abstractmethod
    def document_frequency(self, fingerprints: set[int]) -> dict[int, int]:
        """In how many documents each fingerprint occurs."""

    @abstractmethod
    def text(self, submission_id: str) -> str | None:
        """The normalised text stored for a submission."""

    @abstractmethod
    def size(self) -> int:
        """How many documents the index holds."""

    @abstractmethod
    def replace(self, submission_id: str, text: str, fingerprints: set[int]) -> None:
        """Store (or replace, for a resubmission) a submission's text and fingerprints."""


def duplication_rate(text: str, submission_id: str, index: DuplicationIndex, *, run_length: int, window: int,
                     boilerplate_share: float, top: int) -> DuplicationResult:
    """Measure `text` against every other submission in `index`, then add it to the index."""
    normal = normalise(text)
    hashes = kgram_hashes(normal, run_length)
    fingerprints = winnow(hashes, window)
    result = _measure(normal, hashes, fingerprints, submission_id, index, run_length, boilerplate_share, top)
    index.replace(submission_id, normal, fingerprints)
    return result


def _measure(normal: str, hashes: list[int], fingerprints: set[int], submission_id: str, index: DuplicationIndex,
             k: int, boilerplate_share: float, top: int) -> DuplicationResult:
    total = len(normal)
    if total < k or not fingerprints:
        return DuplicationResult(0.0, total, 0, 0.0, [])
    documents = index.size()
    skip: set[int] = set()
    if documents >= 20:
        # Boilerplate: a k-gram present in many documents is a template, not copying.
        threshold = max(5, int(boilerplate_share * documents))
        frequency = index.document_frequency(set(hashes))
        skip = {h for h, count in frequency.items() if count >= threshold}
    union = [False] * total
    matches = []
    for source in index.candidates(fingerprints, submission_id, MAX_CANDIDATES):
        source_text = index.text(source)
        if not source_text:
            continue
        covered = coverage(normal, hashes, set(kgram_hashes(source_text, k)), k, skip)
        copied = sum(covered)
        if copied:
            matches.append(Match(source, round(copied / total, 4), copied, passages(normal, covered)))
            union = [a or b for a, b in zip(union, covered)]
    matches.sort(key=lambda m: (-m.copied_chars, m.submission_id))    # ties by id: the same list from any index
    copied = sum(union)
    return DuplicationResult(round(copied / total, 4), total, copied, matches[0].rate if matches else 0.0, matches[:top])
